/* SPDX-License-Identifier: Apache-2.0 */
/* The gate policy: which findings fail or warn, per-detector thresholds and severities, the
 * flagged-fraction and per-class budgets, accepted rows (the allowlist) and the scan settings,
 * read from a YAML policy file, environment variables and command-line flags with one key set
 * (docs/policy.md). A policy is applied to a finished scan result to give its verdict.
 *
 * Typical use:
 *   assay_policy *p; assay_policy_create(ctx, &p);
 *   assay_policy_load_file(ctx, p, "assay.yml");   // source: file
 *   assay_policy_load_env(ctx, p);                 // ASSAY_* variables override the file
 *   assay_policy_set_option(ctx, p, "fail-on", "medium", ASSAY_SRC_FLAG);  // flags override both
 *   assay_scan_opts o = ASSAY_SCAN_OPTS_INIT; assay_policy_scan_opts(p, &o);
 *   assay_scan(ctx, ds, &o, &res); assay_policy_apply(ctx, ds, res, p, &verdict);
 *
 * Thread-safety: a policy is not shared between threads while it is being changed. */
#ifndef ASSAY_POLICY_H
#define ASSAY_POLICY_H

#include <stddef.h>
#include "assay_api.h"
#include "assay_status.h"
#include "assay_ctx.h"
#include "assay_dataset.h"
#include "assay_scan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_policy assay_policy;

/* Where a policy value came from, in increasing precedence: a value is only replaced by one
 * from the same or a higher source, so the order of the calls does not matter. */
typedef enum assay_policy_source {
    ASSAY_SRC_DEFAULT = 0,
    ASSAY_SRC_FILE = 1,
    ASSAY_SRC_ENV = 2,
    ASSAY_SRC_FLAG = 3
} assay_policy_source;

/* The gate's verdict: pass and warn exit 0, fail exits 1 (0 with gate.exit-zero). */
typedef enum assay_verdict {
    ASSAY_VERDICT_PASS = 0,
    ASSAY_VERDICT_WARN = 1,
    ASSAY_VERDICT_FAIL = 2
} assay_verdict;

/* A policy holding the defaults (the gate of a scan without a policy). ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_policy_create(assay_ctx *ctx, assay_policy **out);
ASSAY_API void assay_policy_destroy(assay_policy *p);

/* Reads a YAML policy file (source: file) and records its path and SHA-256. Returns
 * ASSAY_E_NOTFOUND, ASSAY_E_IO, or ASSAY_E_FORMAT for any mistake, the message naming the file,
 * line, column and dotted key: "assay.yml:12:5: gate.fail-on: expected one of low, medium, high,
 * critical, none, got 'hgh'". */
ASSAY_API assay_status assay_policy_load_file(assay_ctx *ctx, assay_policy *p, const char *path);

/* Sets one dotted key ("gate.fail-on", "detectors.knn-label.threshold",
 * "gate.class-budgets.Coat", "allowlist" = a YAML allowlist file) from its text, unless a
 * higher-precedence source already set it (the value is still checked). `where` names the
 * value's origin in messages (may be NULL). ASSAY_E_INVAL for an unknown key or a bad value. */
ASSAY_API assay_status assay_policy_set(assay_ctx *ctx, assay_policy *p, const char *key,
                                        const char *value, assay_policy_source src,
                                        const char *where);

/* The command-line options and environment variables of the policy (one table): option "fail-on"
 * is flag --fail-on and variable ASSAY_FAIL_ON. Options of form "DET=VALUE" (threshold,
 * severity, enabled, class-budget) take comma-separated pairs. */
typedef struct assay_policy_option {
    const char *name; /* "fail-on" */
    const char *env;  /* "ASSAY_FAIL_ON" */
    const char *key;  /* "gate.fail-on"; "detectors.%s.threshold" for DET=VALUE options */
    int takes_value;  /* 0: a switch (--exit-zero), the value "true" */
    const char *arg;  /* placeholder in help ("SEVERITY"), NULL for switches */
    const char *help; /* one line */
    const char *def;  /* the default as text ("10", "high", "none"), from the defaults the
                       * library applies (so written once); NULL when there is none */
} assay_policy_option;

ASSAY_API size_t assay_policy_option_count(void);
ASSAY_API const assay_policy_option *assay_policy_option_at(size_t i);

/* Sets the key(s) of option `name` from its text (--threshold knn-label=0.7,spectral=0.8).
 * "policy" loads the file. ASSAY_E_INVAL (message names the flag or variable). */
ASSAY_API assay_status assay_policy_set_option(assay_ctx *ctx, assay_policy *p, const char *name,
                                               const char *value, assay_policy_source src);

/* Applies every ASSAY_* variable of the option table that is set and not empty (ASSAY_POLICY
 * included: it loads that file). */
ASSAY_API assay_status assay_policy_load_env(assay_ctx *ctx, assay_policy *p);

/* Sets the context's input limits (assay_ctx_set_limits) from the policy's `limits:` keys that a
 * file, variable or flag set (--max-rows ...; docs/limits.md); limits the policy leaves at their
 * default keep the context's value. Call it before loading the dataset. ASSAY_E_INVAL. */
ASSAY_API assay_status assay_policy_apply_limits(assay_ctx *ctx, const assay_policy *p);

/* Copies the policy's scan settings (k, metric, skip, parameters, fail-on, ...) into *o, leaving
 * the fields the policy does not hold (graph_path) as they are. */
ASSAY_API void assay_policy_scan_opts(const assay_policy *p, assay_scan_opts *o);

/* The effective policy as canonical JSON (keys sorted; indented if `indent`), a valid policy
 * file itself; *out is the caller's to free(). ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_policy_effective_json(assay_ctx *ctx, const assay_policy *p,
                                                   int indent, char **out);

/* The JSON Schema (draft 2020-12) of a policy file, generated from the same tables the policy
 * is read with (keys, types, ranges, defaults, detectors, finding kinds): what
 * schemas/assay-policy-1.schema.json holds. *out is the caller's to free(). ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_policy_schema_json(assay_ctx *ctx, char **out);

/* Applies the policy to a finished scan result, once: per-detector thresholds and severities,
 * the allowlist, then the gate. The result keeps the verdict, its reasons, per-detector verdicts,
 * the exit code and the policy block that report.json records. `verdict` may be NULL.
 * ASSAY_E_INVAL (applied twice), ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_policy_apply(assay_ctx *ctx, const assay_dataset *ds,
                                          assay_result *res, const assay_policy *p,
                                          assay_verdict *verdict);

/* The result's verdict and the exit code it maps to (0 pass/warn, 1 fail, 0 with exit-zero). */
ASSAY_API assay_verdict assay_result_verdict(const assay_result *res);
ASSAY_API int assay_result_exit_code(const assay_result *res);
ASSAY_API const char *assay_verdict_name(assay_verdict v);

/* The gate's reasons, one sentence each (failures, then warnings, then what passed), as
 * report.json's "gate.reasons": the count, and reason i (NULL if out of range), borrowed from the
 * result. */
ASSAY_API size_t assay_result_reason_count(const assay_result *res);
ASSAY_API const char *assay_result_reason(const assay_result *res, size_t i);

/* The policy the verdict was reached under, as report.json's "policy" block (JSON text, indented
 * if `indent`; the caller frees it): the effective settings with their sources and the
 * allowlist. "null" when no policy was applied (assay_scan's default gate). ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_result_policy_json(assay_ctx *ctx, const assay_result *res, int indent,
                                                char **out);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The policy model shared by the key table (policy.c), the YAML reader (policy_yaml.c), the
 * JSON views (policy_json.c) and the gate (gate.c). Every value lives in one "slot" with the
 * source that set it, so precedence is decided per key. */
#ifndef ASSAY_POLICY_INTERNAL_H
#define ASSAY_POLICY_INTERNAL_H

#include <jansson.h>

#include "decide/result.h"
#include "detect/params.h"

#define ASSAY__POLICY_VERSION 1

/* The finding kinds a gate can fail on (fail-kinds) are bits of a mask: 1 << assay__kind
 * (src/detect/detector.h). */

/* The fixed keys (class budgets are a list of their own). */
enum {
    ASSAY__SLOT_K,
    ASSAY__SLOT_METRIC,
    ASSAY__SLOT_WEIGHTED,
    ASSAY__SLOT_LABEL_THRESHOLD,
    ASSAY__SLOT_OUTLIER_IQR,
    ASSAY__SLOT_SKIP,
    ASSAY__SLOT_PARAM0,
    ASSAY__SLOT_DET0 = ASSAY__SLOT_PARAM0 + ASSAY__P_COUNT, /* + 3 * det + field */
    ASSAY__SLOT_FAIL_ON = ASSAY__SLOT_DET0 + 3 * ASSAY_DET_COUNT,
    ASSAY__SLOT_WARN_ON,
    ASSAY__SLOT_MAX_FLAGGED,
    ASSAY__SLOT_FAIL_KINDS,
    ASSAY__SLOT_EXIT_ZERO,
    ASSAY__SLOT_ALLOWLIST,
    ASSAY__SLOT_LIMIT0, /* + index into assay__limit_keys (limits.*, docs/limits.md) */
    ASSAY__SLOT_COUNT = ASSAY__SLOT_LIMIT0 + 7
};

/* The `limits:` keys, in slot order (ASSAY__SLOT_LIMIT0 + i). */
#define ASSAY__LIMIT_COUNT 7
extern const char *const assay__limit_keys[ASSAY__LIMIT_COUNT];
/* The value of limits key i (the default when no source set it). */
uint64_t assay__policy_limit(const assay_policy *p, int i);
enum { ASSAY__DET_ENABLED = 0, ASSAY__DET_THRESHOLD = 1, ASSAY__DET_SEVERITY = 2 };

typedef struct assay__allow_entry {
    char *id;      /* matches the row id as text; NULL when matched by digest */
    int by_digest; /* 1: matches the row digest (row-sha256) */
    unsigned char digest[32];
    char *reason, *owner;
    char expires[11]; /* YYYY-MM-DD: the first day the entry no longer counts */
    char *where;      /* "assay.yml:20:5" */
} assay__allow_entry;

typedef struct assay__class_budget {
    char *cls; /* class name or label text, or "*" for every other class */
    double budget;
    assay_policy_source src;
} assay__class_budget;

struct assay_policy {
    assay_scan_opts scan; /* k, metric, weighted, thresholds, skip, parameters, fail-on, budget */
    int det_enabled[ASSAY_DET_COUNT];
    double det_threshold[ASSAY_DET_COUNT]; /* minimum calibrated evidence, 0.5 = own rule */
    int det_severity[ASSAY_DET_COUNT];     /* assay_severity override, 0 = the detector's own */
    assay_severity warn_on;
    uint32_t fail_kinds; /* bit per assay__kind */
    int exit_zero;
    assay__class_budget *budgets;
    size_t n_budgets;
    assay__allow_entry *allow;
    size_t n_allow;
    assay_policy_source src[ASSAY__SLOT_COUNT];
    assay_limits limits; /* limits.*: bounds on the input (applied to the context before loading) */
    char *file;          /* the policy file as given, NULL without one */
    unsigned char file_sha256[32];
};

/* The types of policy values. */
typedef enum assay__vtype {
    ASSAY__V_INT,
    ASSAY__V_NUM,
    ASSAY__V_BOOL,
    ASSAY__V_METRIC,
    ASSAY__V_SEV,      /* low..critical or none */
    ASSAY__V_SEV_SOME, /* low..critical */
    ASSAY__V_DETLIST,
    ASSAY__V_KINDLIST,
    ASSAY__V_ALLOWFILE,
    ASSAY__V_SIZE /* a byte count: an integer with an optional K, M, G or T suffix (1024^n) */
} assay__vtype;

/* What a dotted key holds: its type and, for numbers, the inclusive range [lo, hi] ((lo, hi]
 * when lo_open). -1 for an unknown key. */
int assay__policy_key_type(const char *key, assay__vtype *type, double *lo, double *hi,
                           int *lo_open);

/* Frees an allowlist. */
void assay__allow_free(assay__allow_entry *a, size_t n);

/* assay_policy_set with how the value was written: `quoted` = a quoted YAML scalar (never a
 * number or a boolean in a file). */
assay_status assay__policy_set(assay_ctx *ctx, assay_policy *p, const char *key, const char *value,
                               assay_policy_source src, const char *where, int quoted);

/* Reads an allowlist (a YAML sequence of entries, or a mapping whose only key is allowlist)
 * from `path`; *out/n receive the entries. ASSAY_E_FORMAT naming line and key. */
assay_status assay__allowlist_load(assay_ctx *ctx, const char *path, assay__allow_entry **out,
                                   size_t *n);

/* The same from text in memory (`path` names it in messages; the fuzzing harnesses' entry). */
assay_status assay__allowlist_load_buf(assay_ctx *ctx, const char *path, const char *text,
                                       size_t len, assay__allow_entry **out, size_t *n);
/* assay_policy_load_file from text in memory (NUL-terminated or not); `path` names it. */
assay_status assay__policy_load_buf(assay_ctx *ctx, assay_policy *p, const char *path,
                                    const char *text, size_t len);

/* The kind of a detector's findings (the report's "kind"). */
assay__kind assay__detector_kind_id(assay_detector det);

/* JSON views: the effective policy (a valid policy file) and the per-key sources. */
json_t *assay__policy_effective(const assay_policy *p);
json_t *assay__policy_sources(const assay_policy *p);
/* The JSON Schema of a policy file, from the option and detector tables (policy_schema.c). */
json_t *assay__policy_schema(void);
/* SHA-256 hex of the canonical compact JSON (keys sorted) of the effective policy. */
int assay__policy_sha256(const assay_policy *p, char hex[65]);

/* Name of a source ("flag", ...). */
const char *assay__source_name(assay_policy_source s);

#endif

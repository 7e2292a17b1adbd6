/* SPDX-License-Identifier: Apache-2.0 */
/* JSON views of a policy: the effective policy (itself a valid policy file, so `assay policy
 * show` output can be committed as a policy), the source of every key, and the SHA-256 of the
 * canonical form that report.json records. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/json_text.h"
#include "decide/policy_internal.h"

static json_t *names_json(uint32_t mask, int count, const char *(*name)(int)) {
    json_t *a = json_array();
    for (int i = 0; i < count; i++)
        if (mask >> i & 1u) json_array_append_new(a, json_string(name(i)));
    return a;
}

static const char *det_name(int d) {
    return assay_detector_name((assay_detector)d);
}

static const char *kind_name(int k) {
    return assay__kind_names[k];
}

json_t *assay__policy_effective(const assay_policy *p) {
    const assay_scan_opts *o = &p->scan;
    json_t *scan = json_pack("{s:I, s:s, s:b, s:f, s:f, s:o}", "k", (json_int_t)o->k, "metric",
                             assay_metric_name(o->metric), "weighted", o->weighted,
                             "label-threshold", o->label_threshold, "outlier-iqr", o->outlier_iqr,
                             "skip", names_json(o->skip, ASSAY_DET_COUNT, det_name));
    for (size_t i = 0; i < ASSAY__P_COUNT; i++) {
        const assay_param_info *pi = assay_param_info_at(i);
        double v = assay_param_value(o, i);
        json_object_set_new(scan, pi->name,
                            pi->integer ? json_integer((json_int_t)v) : json_real(v));
    }
    json_t *dets = json_object();
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        json_t *e =
            json_pack("{s:b, s:f}", "enabled", p->det_enabled[d], "threshold", p->det_threshold[d]);
        if (p->det_severity[d] != ASSAY_SEV_NONE)
            json_object_set_new(e, "severity",
                                json_string(assay_severity_name(p->det_severity[d])));
        json_object_set_new(dets, det_name(d), e);
    }
    json_t *budgets = json_object();
    for (size_t i = 0; i < p->n_budgets; i++)
        json_object_set_new(budgets, p->budgets[i].cls, json_real(p->budgets[i].budget));
    json_t *gate = json_pack(
        "{s:s, s:s, s:f, s:o, s:o, s:b}", "fail-on", assay_severity_name(o->fail_on), "warn-on",
        assay_severity_name(p->warn_on), "max-flagged-fraction", o->max_flagged_fraction,
        "class-budgets", budgets, "fail-kinds",
        names_json(p->fail_kinds, ASSAY__KIND_COUNT, kind_name), "exit-zero", p->exit_zero);
    json_t *allow = json_array();
    for (size_t i = 0; i < p->n_allow; i++) {
        const assay__allow_entry *a = &p->allow[i];
        char hex[65];
        json_t *e = json_pack("{s:s, s:s, s:s}", "reason", a->reason, "owner", a->owner, "expires",
                              a->expires);
        if (a->by_digest) {
            assay__hex32(a->digest, hex);
            json_object_set_new(e, "row-sha256", json_string(hex));
        } else {
            json_object_set_new(e, "id", json_string(a->id));
        }
        json_array_append_new(allow, e);
    }
    json_t *limits = json_object();
    for (int i = 0; i < ASSAY__LIMIT_COUNT; i++)
        json_object_set_new(limits, assay__limit_keys[i],
                            json_integer((json_int_t)assay__policy_limit(p, i)));
    return json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "version", ASSAY__POLICY_VERSION, "scan",
                     scan, "detectors", dets, "gate", gate, "allowlist", allow, "limits", limits);
}

json_t *assay__policy_sources(const assay_policy *p) {
    static const char *const scan_keys[] = {"scan.k",           "scan.metric",
                                            "scan.weighted",    "scan.label-threshold",
                                            "scan.outlier-iqr", "scan.skip"};
    static const char *const gate_keys[] = {
        "gate.fail-on",    "gate.warn-on",   "gate.max-flagged-fraction",
        "gate.fail-kinds", "gate.exit-zero", "allowlist"};
    static const char *const det_fields[] = {"enabled", "threshold", "severity"};
    json_t *s = json_object();
    char key[300];
    for (int i = 0; i < ASSAY__SLOT_COUNT; i++) {
        const char *k = key;
        if (i < ASSAY__SLOT_PARAM0)
            k = scan_keys[i];
        else if (i < ASSAY__SLOT_DET0)
            snprintf(key, sizeof key, "scan.%s",
                     assay_param_info_at((size_t)(i - ASSAY__SLOT_PARAM0))->name);
        else if (i < ASSAY__SLOT_FAIL_ON)
            snprintf(key, sizeof key, "detectors.%s.%s", det_name((i - ASSAY__SLOT_DET0) / 3),
                     det_fields[(i - ASSAY__SLOT_DET0) % 3]);
        else if (i < ASSAY__SLOT_LIMIT0)
            k = gate_keys[i - ASSAY__SLOT_FAIL_ON];
        else
            snprintf(key, sizeof key, "limits.%s", assay__limit_keys[i - ASSAY__SLOT_LIMIT0]);
        json_object_set_new(s, k, json_string(assay__source_name(p->src[i])));
    }
    for (size_t i = 0; i < p->n_budgets; i++) {
        snprintf(key, sizeof key, "gate.class-budgets.%s", p->budgets[i].cls);
        json_object_set_new(s, key, json_string(assay__source_name(p->budgets[i].src)));
    }
    return s;
}

/* The effective policy as JSON text. The hash's form keeps jansson's 17-digit reals, so a
 * policy's SHA-256 stays what earlier reports recorded; what is shown has shortest reals. */
static char *canonical(const assay_policy *p, size_t flags, int shortest) {
    json_t *eff = assay__policy_effective(p);
    flags |= JSON_SORT_KEYS | JSON_ENSURE_ASCII;
    char *text = eff == NULL ? NULL
                 : shortest  ? assay__json_dumps(eff, flags)
                             : json_dumps(eff, flags);
    json_decref(eff);
    return text;
}

int assay__policy_sha256(const assay_policy *p, char hex[65]) {
    char *text = canonical(p, JSON_COMPACT, 0);
    unsigned char d[32];
    unsigned int len = 0;
    int ok = text != NULL && EVP_Digest(text, strlen(text), d, &len, EVP_sha256(), NULL);
    free(text);
    if (ok) assay__hex32(d, hex);
    return ok ? 0 : -1;
}

assay_status assay_policy_effective_json(assay_ctx *ctx, const assay_policy *p, int indent,
                                         char **out) {
    if (p == NULL || out == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_policy_effective_json: NULL argument");
    *out = canonical(p, indent ? JSON_INDENT(2) : JSON_COMPACT, 1);
    if (*out == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (policy JSON)");
    return ASSAY_OK;
}

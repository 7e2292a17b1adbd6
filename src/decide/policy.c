/* SPDX-License-Identifier: Apache-2.0 */
/* The policy keys: one resolver from a dotted key to its slot and type, one setter that checks
 * the text of a value the same way whether it came from the file, the environment or a flag, and
 * the option table that gives every key its flag and ASSAY_* variable. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/numfmt.h"
#include "decide/policy_internal.h"

assay__kind assay__detector_kind_id(assay_detector det) {
    const assay__detector *d = assay__detector_get(det);
    return d != NULL ? d->desc->kind : ASSAY__KIND_INTEGRITY;
}

const char *assay__source_name(assay_policy_source s) {
    switch (s) {
    case ASSAY_SRC_FILE:
        return "file";
    case ASSAY_SRC_ENV:
        return "env";
    case ASSAY_SRC_FLAG:
        return "flag";
    default:
        return "default";
    }
}

/* ---- the option table: flag --<name>, variable ASSAY_<NAME> ---- */

static const assay_policy_option k_options[] = {
    {"policy", "ASSAY_POLICY", "", 1, "FILE", "the YAML policy file (docs/policy.md)", NULL},
    {"k", "ASSAY_K", "scan.k", 1, "N", "neighbours per row", NULL},
    {"metric", "ASSAY_METRIC", "scan.metric", 1, "cosine|l2", "distance", NULL},
    {"weighted", "ASSAY_WEIGHTED", "scan.weighted", 0, NULL,
     "knn-label: weight neighbours by inverse distance", NULL},
    {"label-threshold", "ASSAY_LABEL_THRESHOLD", "scan.label-threshold", 1, "X",
     "knn-label flags rows with score >= X", NULL},
    {"outlier-iqr", "ASSAY_OUTLIER_IQR", "scan.outlier-iqr", 1, "X", "knn-outlier fence Q3 + X*IQR",
     NULL},
    {"skip", "ASSAY_SKIP", "scan.skip", 1, "DET,...", "detectors not to run (names below)", NULL},
    {"fail-on", "ASSAY_FAIL_ON", "gate.fail-on", 1, "SEVERITY",
     "low|medium|high|critical|none: counted findings at or above fail", NULL},
    {"warn-on", "ASSAY_WARN_ON", "gate.warn-on", 1, "SEVERITY",
     "counted findings at or above warn without failing", NULL},
    {"max-flagged-fraction", "ASSAY_MAX_FLAGGED_FRACTION", "gate.max-flagged-fraction", 1, "F",
     "fail when more than F of the rows are flagged, allowlisted rows excluded (1 = off)", NULL},
    {"class-budget", "ASSAY_CLASS_BUDGET", "gate.class-budgets.%s", 1, "CLASS=F,...",
     "fail when more than F of a class's rows are flagged (CLASS * = every other class)", NULL},
    {"fail-kinds", "ASSAY_FAIL_KINDS", "gate.fail-kinds", 1, "KIND,...",
     "finding kinds that can fail the gate; others only warn", NULL},
    {"exit-zero", "ASSAY_EXIT_ZERO", "gate.exit-zero", 0, NULL,
     "exit 0 even when the gate fails (report.json gate.exit_code keeps the real code)", NULL},
    {"threshold", "ASSAY_THRESHOLD", "detectors.%s.threshold", 1, "DET=X,...",
     "minimum calibrated evidence in [0.5, 1] for a detector's findings (0.5 = its own rule)",
     NULL},
    {"severity", "ASSAY_SEVERITY", "detectors.%s.severity", 1, "DET=SEVERITY,...",
     "severity of a detector's findings (a detector's own: docs/detectors.md)", NULL},
    {"enabled", "ASSAY_ENABLED", "detectors.%s.enabled", 1, "DET=true|false,...",
     "run a detector or not (false = --skip DET)", NULL},
    {"allowlist", "ASSAY_ALLOWLIST", "allowlist", 1, "FILE",
     "accepted rows: a YAML list of {id | row-sha256, reason, owner, expires}", NULL},
    /* Bounds on the input (docs/limits.md); a larger input exits 2 naming the limit. */
    {"max-file-size", "ASSAY_MAX_FILE_SIZE", "limits.max-file-size", 1, "SIZE",
     "largest input file, in bytes (K, M, G, T suffixes: powers of 1024)", NULL},
    {"max-rows", "ASSAY_MAX_ROWS", "limits.max-rows", 1, "N",
     "most rows a dataset, side file or id list may have", NULL},
    {"max-dims", "ASSAY_MAX_DIMS", "limits.max-dims", 1, "N",
     "most feature columns (embedding width) an input may have", NULL},
    {"max-field-bytes", "ASSAY_MAX_FIELD_BYTES", "limits.max-field-bytes", 1, "SIZE",
     "longest CSV field, in bytes", NULL},
    {"max-line-bytes", "ASSAY_MAX_LINE_BYTES", "limits.max-line-bytes", 1, "SIZE",
     "longest CSV or id-list line, in bytes", NULL},
    {"max-label-bytes", "ASSAY_MAX_LABEL_BYTES", "limits.max-label-bytes", 1, "SIZE",
     "longest label, id or column name, in bytes", NULL},
    {"max-depth", "ASSAY_MAX_DEPTH", "limits.max-depth", 1, "N",
     "deepest nesting of a JSON or YAML document (policy, allowlist, report, manifest)", NULL},
};
#define N_FIXED_OPTIONS (sizeof k_options / sizeof k_options[0])

/* One option per detector parameter, from the parameter table, and every option's default
 * (built once, read-only after). */
static assay_policy_option g_options[N_FIXED_OPTIONS + ASSAY__P_COUNT];
static char g_param_env[ASSAY__P_COUNT][48], g_param_key[ASSAY__P_COUNT][48];
static char g_defaults[N_FIXED_OPTIONS + ASSAY__P_COUNT][96];
static pthread_once_t g_options_once = PTHREAD_ONCE_INIT;

static void set_defaults(assay_policy *p);

/* The text of a default value as the policy file writes it: numbers as their shortest
 * round-trip text, lists comma-separated ("none" when empty). */
static void value_text(const json_t *v, char *buf, size_t len) {
    buf[0] = '\0';
    if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_number(v)) {
        char num[ASSAY__NUM_BUF];
        assay__fmt_double(num, json_number_value(v));
        snprintf(buf, len, "%s", num);
    } else if (json_is_array(v)) {
        size_t i, u = 0;
        const json_t *e;
        json_array_foreach(v, i, e) {
            u += (size_t)snprintf(buf + u, u < len ? len - u : 0, "%s%s", i ? "," : "",
                                  json_string_value(e) ? json_string_value(e) : "?");
        }
        if (json_array_size(v) == 0) snprintf(buf, len, "none");
    }
}

/* The default of option `o` (its key in the default policy's effective view; for a
 * per-detector key, the value when it is the same for every detector), or NULL. */
static const char *option_default(const assay_policy_option *o, const json_t *eff, char *buf,
                                  size_t len) {
    char key[96];
    const char *k = o->key;
    if (k[0] == '\0' || strchr(k, '.') == NULL) return NULL; /* --policy, --allowlist */
    const char *dot = strchr(k, '.');
    snprintf(key, sizeof key, "%.*s", (int)(dot - k), k);
    const json_t *v = json_object_get(eff, key);
    const char *rest = dot + 1;
    if (strncmp(rest, "%s.", 3) == 0) { /* detectors.%s.field: one value for every detector */
        const char *field = rest + 3;
        const char *name;
        const json_t *det, *first = NULL;
        json_object_foreach((json_t *)v, name, det) {
            const json_t *f = json_object_get(det, field);
            if (f == NULL || (first != NULL && !json_equal(f, first))) return NULL;
            first = f;
        }
        v = first;
    } else {
        v = json_object_get(v, rest);
    }
    if (v == NULL) return NULL;
    value_text(v, buf, len);
    return buf[0] ? buf : NULL;
}

static void build_options(void) {
    for (size_t i = 0; i < N_FIXED_OPTIONS; i++) g_options[i] = k_options[i];
    for (size_t i = 0; i < ASSAY__P_COUNT; i++) {
        const assay_param_info *pi = assay_param_info_at(i);
        size_t j = 0;
        j += (size_t)snprintf(g_param_env[i], sizeof g_param_env[i], "ASSAY_");
        for (const char *c = pi->name; *c && j + 1 < sizeof g_param_env[i]; c++)
            g_param_env[i][j++] = *c == '-' ? '_' : (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        g_param_env[i][j] = '\0';
        snprintf(g_param_key[i], sizeof g_param_key[i], "scan.%s", pi->name);
        g_options[N_FIXED_OPTIONS + i] =
            (assay_policy_option){pi->name, g_param_env[i], g_param_key[i], 1, "X", pi->help, NULL};
    }
    /* The defaults, read off a policy holding them: what `assay policy show` prints. */
    assay_policy p;
    memset(&p, 0, sizeof p);
    set_defaults(&p);
    json_t *eff = assay__policy_effective(&p);
    for (size_t i = 0; eff != NULL && i < N_FIXED_OPTIONS + ASSAY__P_COUNT; i++)
        g_options[i].def = option_default(&g_options[i], eff, g_defaults[i], sizeof g_defaults[i]);
    json_decref(eff);
}

size_t assay_policy_option_count(void) {
    return N_FIXED_OPTIONS + ASSAY__P_COUNT;
}

const assay_policy_option *assay_policy_option_at(size_t i) {
    if (i >= N_FIXED_OPTIONS + ASSAY__P_COUNT) return NULL;
    pthread_once(&g_options_once, build_options);
    return &g_options[i];
}

/* ---- the policy ---- */

const char *const assay__limit_keys[ASSAY__LIMIT_COUNT] = {
    "max-file-size",  "max-rows",        "max-dims", "max-field-bytes",
    "max-line-bytes", "max-label-bytes", "max-depth"};

/* The limits.* value number i (0 .. ASSAY__LIMIT_COUNT - 1, in assay__limit_keys order). */
static uint64_t limit_get(const assay_limits *l, int i) {
    const uint64_t v[ASSAY__LIMIT_COUNT] = {
        l->max_file_bytes, l->max_rows,        l->max_dims, l->max_field_bytes,
        l->max_line_bytes, l->max_label_bytes, l->max_depth};
    return v[i];
}

static void limit_set(assay_limits *l, int i, uint64_t v) {
    switch (i) {
    case 0:
        l->max_file_bytes = v;
        break;
    case 1:
        l->max_rows = v;
        break;
    case 2:
        l->max_dims = v;
        break;
    case 3:
        l->max_field_bytes = v;
        break;
    case 4:
        l->max_line_bytes = v;
        break;
    case 5:
        l->max_label_bytes = v;
        break;
    default:
        l->max_depth = (uint32_t)v;
        break;
    }
}

uint64_t assay__policy_limit(const assay_policy *p, int i) {
    return limit_get(&p->limits, i);
}

assay_status assay_policy_apply_limits(assay_ctx *ctx, const assay_policy *p) {
    if (ctx == NULL || p == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_policy_apply_limits: NULL argument");
    assay_limits l = *assay_ctx_limits(ctx);
    for (int i = 0; i < ASSAY__LIMIT_COUNT; i++)
        if (p->src[ASSAY__SLOT_LIMIT0 + i] != ASSAY_SRC_DEFAULT)
            limit_set(&l, i, limit_get(&p->limits, i));
    return assay_ctx_set_limits(ctx, &l);
}

static void set_defaults(assay_policy *p) {
    const assay_scan_opts init = ASSAY_SCAN_OPTS_INIT;
    p->scan = init;
    assay_limits_default(&p->limits);
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        p->det_enabled[d] = 1;
        p->det_threshold[d] = 0.5;
        p->det_severity[d] = ASSAY_SEV_NONE;
    }
    p->warn_on = ASSAY_SEV_NONE;
    p->fail_kinds = (1u << ASSAY__KIND_COUNT) - 1u;
    p->exit_zero = 0;
}

assay_status assay_policy_create(assay_ctx *ctx, assay_policy **out) {
    if (out == NULL) return assay__fail(ctx, ASSAY_E_INVAL, "assay_policy_create: NULL argument");
    *out = calloc(1, sizeof **out);
    if (*out == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (policy)");
    set_defaults(*out);
    return ASSAY_OK;
}

void assay__allow_free(assay__allow_entry *a, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(a[i].id);
        free(a[i].reason);
        free(a[i].owner);
        free(a[i].where);
    }
    free(a);
}

void assay_policy_destroy(assay_policy *p) {
    if (p == NULL) return;
    for (size_t i = 0; i < p->n_budgets; i++) free(p->budgets[i].cls);
    free(p->budgets);
    assay__allow_free(p->allow, p->n_allow);
    free(p->file);
    free(p);
}

void assay_policy_scan_opts(const assay_policy *p, assay_scan_opts *o) {
    if (p == NULL || o == NULL) return;
    /* field by field: *o holds more than the policy (graph and baseline paths) */
    o->k = p->scan.k;
    o->metric = p->scan.metric;
    o->weighted = p->scan.weighted;
    o->label_threshold = p->scan.label_threshold;
    o->outlier_iqr = p->scan.outlier_iqr;
    o->fail_on = p->scan.fail_on;
    o->max_flagged_fraction = p->scan.max_flagged_fraction;
    o->skip = p->scan.skip;
    o->param_set = p->scan.param_set;
    memcpy(o->param, p->scan.param, sizeof o->param);
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        if (!p->det_enabled[d]) o->skip |= 1u << d;
}

/* ---- value parsing ---- */

typedef struct keyref {
    assay__vtype type;
    int slot;        /* -1 for a class budget */
    double lo, hi;   /* numbers: inclusive range */
    int lo_open;     /* (lo, hi] */
    const char *cls; /* class budget: the class (points into the key) */
} keyref;

/* Largest value of a limit: sizes up to 2^60 bytes, counts exact in a double. */
#define LIMIT_MAX_SIZE  1152921504606846976.0 /* 2^60 */
#define LIMIT_MAX_COUNT 9007199254740992.0    /* 2^53 */

static const char *const k_scan_fixed[] = {"k",           "metric", "weighted", "label-threshold",
                                           "outlier-iqr", "skip"};
static const char *const k_det_fields[] = {"enabled", "threshold", "severity"};

/* Resolves a dotted key; 0 on success. */
static int resolve(const char *key, keyref *r) {
    memset(r, 0, sizeof *r);
    if (strncmp(key, "scan.", 5) == 0) {
        const char *k = key + 5;
        static const keyref fixed[] = {{ASSAY__V_INT, ASSAY__SLOT_K, 1, 100000, 0, NULL},
                                       {ASSAY__V_METRIC, ASSAY__SLOT_METRIC, 0, 0, 0, NULL},
                                       {ASSAY__V_BOOL, ASSAY__SLOT_WEIGHTED, 0, 0, 0, NULL},
                                       {ASSAY__V_NUM, ASSAY__SLOT_LABEL_THRESHOLD, 0, 1, 1, NULL},
                                       {ASSAY__V_NUM, ASSAY__SLOT_OUTLIER_IQR, 0, 1e6, 0, NULL},
                                       {ASSAY__V_DETLIST, ASSAY__SLOT_SKIP, 0, 0, 0, NULL}};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            if (strcmp(k, k_scan_fixed[i]) == 0) {
                *r = fixed[i];
                return 0;
            }
        for (size_t i = 0; i < ASSAY__P_COUNT; i++) {
            const assay_param_info *pi = assay_param_info_at(i);
            if (strcmp(k, pi->name) == 0) {
                *r = (keyref){pi->integer ? ASSAY__V_INT : ASSAY__V_NUM,
                              ASSAY__SLOT_PARAM0 + (int)i,
                              pi->min,
                              pi->max,
                              0,
                              NULL};
                return 0;
            }
        }
        return -1;
    }
    if (strncmp(key, "detectors.", 10) == 0) {
        const char *dot = strrchr(key + 10, '.');
        if (dot == NULL) return -1;
        char name[64];
        size_t l = (size_t)(dot - (key + 10));
        if (l == 0 || l >= sizeof name) return -1;
        memcpy(name, key + 10, l);
        name[l] = '\0';
        assay_detector det;
        if (assay_detector_parse(name, &det) != ASSAY_OK) return -1;
        for (int f = 0; f < 3; f++)
            if (strcmp(dot + 1, k_det_fields[f]) == 0) {
                static const assay__vtype types[] = {ASSAY__V_BOOL, ASSAY__V_NUM,
                                                     ASSAY__V_SEV_SOME};
                *r = (keyref){types[f], ASSAY__SLOT_DET0 + 3 * (int)det + f, 0.5, 1, 0, NULL};
                return 0;
            }
        return -1;
    }
    if (strncmp(key, "limits.", 7) == 0) {
        for (int i = 0; i < ASSAY__LIMIT_COUNT; i++)
            if (strcmp(key + 7, assay__limit_keys[i]) == 0) {
                int size = i == 0 || i == 3 || i == 4 || i == 5;
                double hi = i == 2   ? 2147483646.0 /* feature indices are int32 */
                            : i == 6 ? 100000.0
                            : size   ? LIMIT_MAX_SIZE
                                     : LIMIT_MAX_COUNT;
                *r = (keyref){
                    size ? ASSAY__V_SIZE : ASSAY__V_INT, ASSAY__SLOT_LIMIT0 + i, 1, hi, 0, NULL};
                return 0;
            }
        return -1;
    }
    if (strncmp(key, "gate.class-budgets.", 19) == 0 && key[19] != '\0') {
        *r = (keyref){ASSAY__V_NUM, -1, 0, 1, 0, key + 19};
        return 0;
    }
    static const struct {
        const char *name;
        keyref ref;
    } gate[] = {
        {"gate.fail-on", {ASSAY__V_SEV, ASSAY__SLOT_FAIL_ON, 0, 0, 0, NULL}},
        {"gate.warn-on", {ASSAY__V_SEV, ASSAY__SLOT_WARN_ON, 0, 0, 0, NULL}},
        {"gate.max-flagged-fraction", {ASSAY__V_NUM, ASSAY__SLOT_MAX_FLAGGED, 0, 1, 0, NULL}},
        {"gate.fail-kinds", {ASSAY__V_KINDLIST, ASSAY__SLOT_FAIL_KINDS, 0, 0, 0, NULL}},
        {"gate.exit-zero", {ASSAY__V_BOOL, ASSAY__SLOT_EXIT_ZERO, 0, 0, 0, NULL}},
        {"allowlist", {ASSAY__V_ALLOWFILE, ASSAY__SLOT_ALLOWLIST, 0, 0, 0, NULL}}};
    for (size_t i = 0; i < sizeof gate / sizeof gate[0]; i++)
        if (strcmp(key, gate[i].name) == 0) {
            *r = gate[i].ref;
            return 0;
        }
    return -1;
}

int assay__policy_key_type(const char *key, assay__vtype *type, double *lo, double *hi,
                           int *lo_open) {
    keyref r;
    if (resolve(key, &r) != 0) return -1;
    *type = r.type;
    *lo = r.lo;
    *hi = r.hi;
    *lo_open = r.lo_open;
    return 0;
}

static int parse_number(const char *s, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || errno != 0 || *end != '\0' || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* A size as assay_size_parse reads it, as a double for the range check. */
static int parse_size(const char *s, double *out) {
    uint64_t v;
    if (assay_size_parse(s, &v) != ASSAY_OK) return -1;
    *out = (double)v;
    return 0;
}

static int parse_bool(const char *s, int strict, int *out) {
    static const char *const yes[] = {"true", "True", "TRUE", "1", "yes", "on"};
    static const char *const no[] = {"false", "False", "FALSE", "0", "no", "off"};
    size_t n = strict ? 3 : 6; /* a file is YAML 1.2: only true/false are booleans */
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, yes[i]) == 0) return *out = 1, 0;
        if (strcmp(s, no[i]) == 0) return *out = 0, 0;
    }
    return -1;
}

/* Applies fn to each comma-separated item of list; -1 (with the bad item in bad) on failure. */
static int parse_names(const char *list, int (*fn)(const char *), uint32_t *mask, char *bad,
                       size_t len) {
    *mask = 0;
    char item[64];
    const char *s = list;
    while (*s) {
        size_t l = strcspn(s, ",");
        while (l > 0 && *s == ' ') s++, l--;
        size_t t = l;
        while (t > 0 && s[t - 1] == ' ') t--;
        if (t >= sizeof item) t = sizeof item - 1;
        memcpy(item, s, t);
        item[t] = '\0';
        int v = t ? fn(item) : -1;
        if (v < 0) {
            snprintf(bad, len, "%s", item);
            return -1;
        }
        *mask |= 1u << v;
        s += l;
        if (*s == ',') s++;
    }
    return 0;
}

static int det_index(const char *name) {
    assay_detector d;
    return assay_detector_parse(name, &d) == ASSAY_OK ? (int)d : -1;
}

/* " (did you mean 'spectral'?)" for a mistyped detector name, else "". */
static const char *det_hint(const char *name, char *buf, size_t len) {
    assay__suggest s;
    assay__suggest_init(&s, name);
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        assay__suggest_offer(&s, assay_detector_name((assay_detector)d));
    if (s.best == NULL) return "";
    snprintf(buf, len, " (did you mean '%s'?)", s.best);
    return buf;
}

static const char *expected_text(const keyref *r, char *buf, size_t len) {
    switch (r->type) {
    case ASSAY__V_INT:
        snprintf(buf, len, "an integer from %.0f to %.0f", r->lo, r->hi);
        break;
    case ASSAY__V_NUM: {
        char lo[ASSAY__NUM_BUF], hi[ASSAY__NUM_BUF];
        assay__fmt_double(lo, r->lo);
        assay__fmt_double(hi, r->hi);
        snprintf(buf, len, "a number %s%s, %s]", r->lo_open ? "in (" : "in [", lo, hi);
        break;
    }
    case ASSAY__V_BOOL:
        snprintf(buf, len, "true or false");
        break;
    case ASSAY__V_METRIC:
        snprintf(buf, len, "cosine or l2");
        break;
    case ASSAY__V_SEV:
        snprintf(buf, len, "one of low, medium, high, critical, none");
        break;
    case ASSAY__V_SEV_SOME:
        snprintf(buf, len, "one of low, medium, high, critical");
        break;
    case ASSAY__V_DETLIST: {
        size_t u = (size_t)snprintf(buf, len, "detector names (");
        for (int d = 0; d < ASSAY_DET_COUNT && u < len; d++)
            u += (size_t)snprintf(buf + u, len - u, "%s%s", d ? ", " : "",
                                  assay_detector_name((assay_detector)d));
        if (u < len) snprintf(buf + u, len - u, ")");
        break;
    }
    case ASSAY__V_KINDLIST: {
        size_t u = (size_t)snprintf(buf, len, "finding kinds (");
        for (int k = 0; k < ASSAY__KIND_COUNT && u < len; k++)
            u += (size_t)snprintf(buf + u, len - u, "%s%s", k ? ", " : "", assay__kind_names[k]);
        if (u < len) snprintf(buf + u, len - u, ")");
        break;
    }
    case ASSAY__V_ALLOWFILE:
        snprintf(buf, len, "an allowlist file");
        break;
    case ASSAY__V_SIZE:
        snprintf(buf, len,
                 "a byte count from %.0f to %.0f, optionally with a K, M, G or T suffix "
                 "(powers of 1024)",
                 r->lo, r->hi);
        break;
    }
    return buf;
}

/* "--fail-on expects ..." for a flag; "WHERE: KEY: expected ..." otherwise. */
static assay_status bad_value(assay_ctx *ctx, const char *where, const char *key, const keyref *r,
                              const char *value, const char *detail) {
    char exp[400];
    expected_text(r, exp, sizeof exp);
    if (where != NULL && where[0] == '-' && where[1] == '-')
        return assay__fail(ctx, ASSAY_E_INVAL, "%s expects %s, got '%s'%s%s (policy key %s)", where,
                           exp, value, detail ? ": " : "", detail ? detail : "", key);
    return assay__fail(ctx, ASSAY_E_INVAL, "%s%s%s: expected %s, got '%s'%s%s", where ? where : "",
                       where ? ": " : "", key, exp, value, detail ? ": " : "",
                       detail ? detail : "");
}

static int is_number_type(assay__vtype t) {
    return t == ASSAY__V_INT || t == ASSAY__V_NUM || t == ASSAY__V_BOOL;
}

/* Records a class budget (replacing one from a lower or equal source). */
static assay_status set_budget(assay_ctx *ctx, assay_policy *p, const char *cls, double v,
                               assay_policy_source src) {
    for (size_t i = 0; i < p->n_budgets; i++)
        if (strcmp(p->budgets[i].cls, cls) == 0) {
            if (src >= p->budgets[i].src) {
                p->budgets[i].budget = v;
                p->budgets[i].src = src;
            }
            return ASSAY_OK;
        }
    assay__class_budget *nb = realloc(p->budgets, (p->n_budgets + 1) * sizeof *nb);
    if (nb == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (policy)");
    p->budgets = nb;
    char *c = strdup(cls);
    if (c == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (policy)");
    p->budgets[p->n_budgets++] = (assay__class_budget){c, v, src};
    return ASSAY_OK;
}

assay_status assay__policy_set(assay_ctx *ctx, assay_policy *p, const char *key, const char *value,
                               assay_policy_source src, const char *where, int quoted) {
    if (p == NULL || key == NULL || value == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_policy_set: NULL argument");
    keyref r;
    if (resolve(key, &r) != 0) {
        /* detectors.NAME.field: a mistyped NAME is the likely cause */
        char name[64], hint[240] = "";
        const char *dot = strncmp(key, "detectors.", 10) == 0 ? strchr(key + 10, '.') : NULL;
        if (dot != NULL && (size_t)(dot - key - 10) < sizeof name) {
            snprintf(name, sizeof name, "%.*s", (int)(dot - key - 10), key + 10);
            char h[80];
            if (det_index(name) < 0)
                snprintf(hint, sizeof hint, ": unknown detector '%s'%s", name,
                         det_hint(name, h, sizeof h));
        }
        return assay__fail(ctx, ASSAY_E_INVAL, "%s%sunknown policy key '%s'%s", where ? where : "",
                           where ? ": " : "", key, hint);
    }
    if (quoted && is_number_type(r.type))
        return bad_value(ctx, where, key, &r, value, "write it without quotes");
    double num = 0;
    int b = 0;
    uint32_t mask = 0;
    char bad[64];
    switch (r.type) {
    case ASSAY__V_INT:
        if (parse_number(value, &num) != 0 || num != floor(num) || num < r.lo || num > r.hi)
            return bad_value(ctx, where, key, &r, value, NULL);
        break;
    case ASSAY__V_NUM:
        if (parse_number(value, &num) != 0 || num > r.hi || (r.lo_open ? num <= r.lo : num < r.lo))
            return bad_value(ctx, where, key, &r, value, NULL);
        break;
    case ASSAY__V_SIZE:
        if (parse_size(value, &num) != 0 || num < r.lo || num > r.hi)
            return bad_value(ctx, where, key, &r, value, NULL);
        break;
    case ASSAY__V_BOOL:
        if (parse_bool(value, src == ASSAY_SRC_FILE, &b) != 0)
            return bad_value(ctx, where, key, &r, value, NULL);
        break;
    case ASSAY__V_METRIC: {
        assay_metric m;
        if (assay_metric_parse(value, &m) != ASSAY_OK)
            return bad_value(ctx, where, key, &r, value, NULL);
        b = (int)m;
        break;
    }
    case ASSAY__V_SEV:
    case ASSAY__V_SEV_SOME: {
        assay_severity s;
        if (assay_severity_parse(value, &s) != ASSAY_OK ||
            (r.type == ASSAY__V_SEV_SOME && s == ASSAY_SEV_NONE))
            return bad_value(ctx, where, key, &r, value, NULL);
        b = (int)s;
        break;
    }
    case ASSAY__V_DETLIST:
        if (parse_names(value, det_index, &mask, bad, sizeof bad) != 0) {
            char d[200], h[100];
            snprintf(d, sizeof d, "unknown detector '%s'%s", bad, det_hint(bad, h, sizeof h));
            return bad_value(ctx, where, key, &r, value, d);
        }
        break;
    case ASSAY__V_KINDLIST:
        if (parse_names(value, assay__kind_parse, &mask, bad, sizeof bad) != 0) {
            char d[200], h[100] = "";
            const char *best = assay__suggest_pick(bad, assay__kind_names, ASSAY__KIND_COUNT);
            if (best != NULL) snprintf(h, sizeof h, " (did you mean '%s'?)", best);
            snprintf(d, sizeof d, "unknown kind '%s'%s", bad, h);
            return bad_value(ctx, where, key, &r, value, d);
        }
        break;
    case ASSAY__V_ALLOWFILE: {
        if (value[0] == '\0') return bad_value(ctx, where, key, &r, value, NULL);
        assay__allow_entry *a = NULL;
        size_t n = 0;
        assay_status s = assay__allowlist_load(ctx, value, &a, &n);
        if (s != ASSAY_OK) return s;
        if (src < p->src[r.slot]) {
            assay__allow_free(a, n);
            return ASSAY_OK;
        }
        assay__allow_free(p->allow, p->n_allow);
        p->allow = a;
        p->n_allow = n;
        p->src[r.slot] = src;
        return ASSAY_OK;
    }
    }
    if (r.slot < 0) return set_budget(ctx, p, r.cls, num, src);
    if (src < p->src[r.slot]) return ASSAY_OK; /* checked, but a higher source set it */
    p->src[r.slot] = src;
    assay_scan_opts *o = &p->scan;
    switch (r.slot) {
    case ASSAY__SLOT_K:
        o->k = (uint32_t)num;
        break;
    case ASSAY__SLOT_METRIC:
        o->metric = (assay_metric)b;
        break;
    case ASSAY__SLOT_WEIGHTED:
        o->weighted = b;
        break;
    case ASSAY__SLOT_LABEL_THRESHOLD:
        o->label_threshold = num;
        break;
    case ASSAY__SLOT_OUTLIER_IQR:
        o->outlier_iqr = num;
        break;
    case ASSAY__SLOT_SKIP:
        o->skip = mask;
        break;
    case ASSAY__SLOT_FAIL_ON:
        o->fail_on = (assay_severity)b;
        break;
    case ASSAY__SLOT_WARN_ON:
        p->warn_on = (assay_severity)b;
        break;
    case ASSAY__SLOT_MAX_FLAGGED:
        o->max_flagged_fraction = num;
        break;
    case ASSAY__SLOT_FAIL_KINDS:
        p->fail_kinds = mask;
        break;
    case ASSAY__SLOT_EXIT_ZERO:
        p->exit_zero = b;
        break;
    default:
        if (r.slot >= ASSAY__SLOT_LIMIT0) {
            limit_set(&p->limits, r.slot - ASSAY__SLOT_LIMIT0, (uint64_t)num);
            break;
        }
        if (r.slot >= ASSAY__SLOT_PARAM0 && r.slot < ASSAY__SLOT_DET0) {
            size_t i = (size_t)(r.slot - ASSAY__SLOT_PARAM0);
            o->param[i] = num;
            o->param_set |= (uint64_t)1 << i;
        } else {
            int det = (r.slot - ASSAY__SLOT_DET0) / 3, field = (r.slot - ASSAY__SLOT_DET0) % 3;
            if (field == ASSAY__DET_ENABLED)
                p->det_enabled[det] = b;
            else if (field == ASSAY__DET_THRESHOLD)
                p->det_threshold[det] = num;
            else
                p->det_severity[det] = b;
        }
    }
    return ASSAY_OK;
}

assay_status assay_policy_set(assay_ctx *ctx, assay_policy *p, const char *key, const char *value,
                              assay_policy_source src, const char *where) {
    return assay__policy_set(ctx, p, key, value, src, where, 0);
}

/* DET=VALUE,... into one key per pair. */
static assay_status set_pairs(assay_ctx *ctx, assay_policy *p, const assay_policy_option *opt,
                              const char *value, assay_policy_source src, const char *where) {
    const char *s = value;
    if (*s == '\0')
        return assay__fail(ctx, ASSAY_E_INVAL, "%s expects %s, got ''", where, opt->arg);
    while (*s) {
        size_t l = strcspn(s, ",");
        const char *eq = memchr(s, '=', l);
        if (eq == NULL || eq == s || (size_t)(eq - s) + 1 >= l)
            return assay__fail(ctx, ASSAY_E_INVAL, "%s expects %s, got '%.*s'", where, opt->arg,
                               (int)l, s);
        char name[256], val[128], key[400];
        snprintf(name, sizeof name, "%.*s", (int)(eq - s), s);
        snprintf(val, sizeof val, "%.*s", (int)(l - (size_t)(eq - s) - 1), eq + 1);
        char hint[100];
        if (strstr(opt->key, "detectors.") == opt->key && det_index(name) < 0)
            return assay__fail(ctx, ASSAY_E_INVAL, "%s: unknown detector '%s'%s", where, name,
                               det_hint(name, hint, sizeof hint)[0] ? hint
                                                                    : " (see 'assay scan --help')");
        const char *hole = strstr(opt->key, "%s"); /* "detectors.%s.threshold" */
        snprintf(key, sizeof key, "%.*s%s%s", (int)(hole - opt->key), opt->key, name, hole + 2);
        ASSAY_TRY(assay__policy_set(ctx, p, key, val, src, where, 0));
        s += l;
        if (*s == ',') s++;
    }
    return ASSAY_OK;
}

assay_status assay_policy_set_option(assay_ctx *ctx, assay_policy *p, const char *name,
                                     const char *value, assay_policy_source src) {
    const assay_policy_option *opt = NULL;
    for (size_t i = 0; i < assay_policy_option_count() && opt == NULL; i++)
        if (strcmp(assay_policy_option_at(i)->name, name) == 0) opt = assay_policy_option_at(i);
    if (opt == NULL || p == NULL || value == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown policy option '%s'", name ? name : "");
    char where[80];
    if (src == ASSAY_SRC_ENV)
        snprintf(where, sizeof where, "%s", opt->env);
    else
        snprintf(where, sizeof where, "--%s", opt->name);
    if (strcmp(opt->name, "policy") == 0) {
        if (value[0] == '\0')
            return assay__fail(ctx, ASSAY_E_INVAL, "%s expects a policy file, got ''", where);
        return assay_policy_load_file(ctx, p, value);
    }
    if (strstr(opt->key, "%s") != NULL) return set_pairs(ctx, p, opt, value, src, where);
    return assay__policy_set(ctx, p, opt->key, value, src, where, 0);
}

assay_status assay_policy_load_env(assay_ctx *ctx, assay_policy *p) {
    for (size_t i = 0; i < assay_policy_option_count(); i++) {
        const assay_policy_option *opt = assay_policy_option_at(i);
        const char *v = getenv(opt->env);
        if (v == NULL || v[0] == '\0') continue; /* an empty variable is unset (CI templates) */
        if (strcmp(opt->name, "policy") == 0 && p->file != NULL) continue; /* --policy won */
        ASSAY_TRY(assay_policy_set_option(ctx, p, opt->name, v, ASSAY_SRC_ENV));
    }
    return ASSAY_OK;
}

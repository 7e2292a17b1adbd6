/* SPDX-License-Identifier: Apache-2.0 */
/* The policy in the library: the YAML reader and its messages (file, line, column, dotted key),
 * precedence between file, environment and flags key by key, the effective policy and its
 * digest, and the gate on real scan results: the default policy gives exactly the scan's own
 * verdict, thresholds and severity overrides change what counts, the allowlist excuses rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "test_data.h"

#include "decide/policy_internal.h"

static assay_ctx *g_ctx;

static int setup(void **state) {
    (void)state;
    g_ctx = tu_ctx(2);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    assay_ctx_destroy(g_ctx);
    return 0;
}

/* Writes text to a policy file named after tag; returns its path (static buffer per call). */
static const char *policy_file(const char *tag, const char *text) {
    static char path[8][1024];
    static int next;
    char *p = path[next++ % 8];
    tu_path(p, 1024, "policy_%s.yml", tag);
    tu_write_text(p, text);
    return p;
}

static assay_policy *new_policy(void) {
    assay_policy *p = NULL;
    assert_int_equal(assay_policy_create(g_ctx, &p), ASSAY_OK);
    return p;
}

/* Loading `text` fails with ASSAY_E_FORMAT and a message containing each of `want` (NULL
 * terminated). */
static void expect_load_error(const char *tag, const char *text, const char *const *want) {
    assay_policy *p = new_policy();
    const char *path = policy_file(tag, text);
    assert_int_equal(assay_policy_load_file(g_ctx, p, path), ASSAY_E_FORMAT);
    const char *msg = assay_ctx_errmsg(g_ctx);
    assert_non_null(strstr(msg, path));
    for (size_t i = 0; want[i] != NULL; i++)
        if (strstr(msg, want[i]) == NULL) fail_msg("'%s' not in the message '%s'", want[i], msg);
    assay_policy_destroy(p);
}

static void test_policy_reads_every_section(void **state) {
    (void)state;
    assay_policy *p = new_policy();
    const char *path = policy_file("full", "version: 1\n"
                                           "scan:\n"
                                           "  k: 7\n"
                                           "  metric: l2\n"
                                           "  weighted: true\n"
                                           "  skip: [ecod, valuation]\n"
                                           "  fdr: 0.05\n"
                                           "  seed: 3\n"
                                           "detectors:\n"
                                           "  knn-label: {enabled: true, threshold: 0.7, "
                                           "severity: critical}\n"
                                           "  spectral: {enabled: false}\n"
                                           "gate:\n"
                                           "  fail-on: medium\n"
                                           "  warn-on: low\n"
                                           "  max-flagged-fraction: 0.05\n"
                                           "  class-budgets: {Coat: 0.02, \"*\": 0.1}\n"
                                           "  fail-kinds: [label, duplicate]\n"
                                           "  exit-zero: true\n"
                                           "allowlist:\n"
                                           "  - id: img_17\n"
                                           "    reason: relabelled upstream\n"
                                           "    owner: ml-platform\n"
                                           "    expires: 2999-03-01\n");
    assert_int_equal(assay_policy_load_file(g_ctx, p, path), ASSAY_OK);
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    assay_policy_scan_opts(p, &o);
    assert_int_equal(o.k, 7);
    assert_int_equal(o.metric, ASSAY_METRIC_L2);
    assert_int_equal(o.weighted, 1);
    assert_int_equal(o.fail_on, ASSAY_SEV_MEDIUM);
    assert_true(o.max_flagged_fraction == 0.05);
    /* skip list plus the disabled detector */
    assert_int_equal(o.skip, (1u << ASSAY_DET_ECOD) | (1u << ASSAY_DET_VALUATION) |
                                 (1u << ASSAY_DET_SPECTRAL));
    assert_true(assay_param_value(&o, ASSAY__P_FDR) == 0.05);
    assert_true(assay_param_value(&o, ASSAY__P_SEED) == 3);
    assert_true(p->det_threshold[ASSAY_DET_KNN_LABEL] == 0.7);
    assert_int_equal(p->det_severity[ASSAY_DET_KNN_LABEL], ASSAY_SEV_CRITICAL);
    assert_int_equal(p->warn_on, ASSAY_SEV_LOW);
    assert_int_equal(p->fail_kinds, (1u << ASSAY__KIND_LABEL) | (1u << ASSAY__KIND_DUPLICATE));
    assert_int_equal(p->exit_zero, 1);
    assert_int_equal(p->n_budgets, 2);
    assert_int_equal(p->n_allow, 1);
    assert_string_equal(p->allow[0].id, "img_17");
    assert_string_equal(p->allow[0].expires, "2999-03-01");
    assert_non_null(strstr(p->allow[0].where, ":20:5"));

    /* the effective policy is itself a policy: reading it back gives the same digest */
    char *text = NULL;
    assert_int_equal(assay_policy_effective_json(g_ctx, p, 1, &text), ASSAY_OK);
    assay_policy *q = new_policy();
    assert_int_equal(assay_policy_load_file(g_ctx, q, policy_file("roundtrip", text)), ASSAY_OK);
    char a[65], b[65];
    assert_int_equal(assay__policy_sha256(p, a), 0);
    assert_int_equal(assay__policy_sha256(q, b), 0);
    assert_string_equal(a, b);
    /* and a different policy has a different digest */
    assert_int_equal(assay_policy_set(g_ctx, q, "gate.fail-on", "high", ASSAY_SRC_FLAG, NULL),
                     ASSAY_OK);
    assert_int_equal(assay__policy_sha256(q, b), 0);
    assert_string_not_equal(a, b);
    free(text);
    assay_policy_destroy(q);
    assay_policy_destroy(p);
}

static void test_policy_mistakes_name_line_and_key(void **state) {
    (void)state;
    expect_load_error("badval", "version: 1\ngate:\n  fail-on: hgh\n",
                      (const char *const[]){":3:12: gate.fail-on: expected one of low, medium, "
                                            "high, critical, none, got 'hgh'",
                                            NULL});
    expect_load_error(
        "unknown", "version: 1\ngate:\n  fail-onn: high\n",
        (const char *const[]){":3:3: gate.fail-onn: unknown key", "did you mean 'fail-on'?", NULL});
    expect_load_error("toplevel", "version: 1\nallowlst: []\n",
                      (const char *const[]){":2:1: allowlst: unknown key", "'allowlist'", NULL});
    expect_load_error(
        "type", "version: 1\nscan:\n  k: [1, 2]\n",
        (const char *const[]){":3:6: scan.k: expected a single value, got a list", NULL});
    expect_load_error("quoted", "version: 1\ngate:\n  max-flagged-fraction: \"0.1\"\n",
                      (const char *const[]){":3:25: gate.max-flagged-fraction", NULL});
    expect_load_error("range", "version: 1\ndetectors:\n  spectral:\n    threshold: 0.2\n",
                      (const char *const[]){":4:16: detectors.spectral.threshold: expected a "
                                            "number in [0.5, 1], got '0.2'",
                                            NULL});
    expect_load_error("det", "version: 1\ndetectors:\n  spectrall: {enabled: false}\n",
                      (const char *const[]){"detectors.spectrall: unknown key",
                                            "did you mean 'spectral'?", NULL});
    expect_load_error("date",
                      "version: 1\nallowlist:\n  - id: a\n    reason: r\n    owner: o\n"
                      "    expires: 2027-02-30\n",
                      (const char *const[]){":6:14: allowlist[0].expires: expected a date "
                                            "YYYY-MM-DD, got '2027-02-30'",
                                            NULL});
    expect_load_error("reason",
                      "version: 1\nallowlist:\n  - id: a\n    owner: o\n    expires: 2027-01-01\n",
                      (const char *const[]){":3:5: allowlist[0]: missing 'reason'", NULL});
    expect_load_error("both",
                      "version: 1\nallowlist:\n  - id: a\n    row-sha256: ab\n    reason: r\n"
                      "    owner: o\n    expires: 2027-01-01\n",
                      (const char *const[]){"allowlist[0]: an entry names exactly one row", NULL});
    expect_load_error("noversion", "gate: {fail-on: high}\n",
                      (const char *const[]){":1:1: version: missing", NULL});
    expect_load_error(
        "version2", "version: 2\n",
        (const char *const[]){":1:10: version: unsupported policy version '2'", NULL});
    expect_load_error("dupkey", "version: 1\ngate:\n  fail-on: high\n  fail-on: low\n",
                      (const char *const[]){":4:3: gate.fail-on: duplicate key", NULL});
    expect_load_error("kinds", "version: 1\ngate:\n  fail-kinds: [label, poison]\n",
                      (const char *const[]){"gate.fail-kinds", "unknown kind 'poison'", NULL});
    expect_load_error("syntax", "version: 1\ngate: [1\n",
                      (const char *const[]){"not valid YAML", NULL});
    expect_load_error("bool", "version: 1\nscan:\n  weighted: yes\n",
                      (const char *const[]){":3:13: scan.weighted: expected true or false", NULL});
}

static void test_policy_precedence_is_per_key(void **state) {
    (void)state;
    assay_policy *p = new_policy();
    /* flags first, then the environment, then the file: the order of the calls does not matter */
    assert_int_equal(assay_policy_set_option(g_ctx, p, "fail-on", "low", ASSAY_SRC_FLAG), ASSAY_OK);
    assert_int_equal(assay_policy_set_option(g_ctx, p, "threshold", "knn-label=0.8,spectral=0.9",
                                             ASSAY_SRC_FLAG),
                     ASSAY_OK);
    assert_int_equal(assay_policy_set_option(g_ctx, p, "fail-on", "critical", ASSAY_SRC_ENV),
                     ASSAY_OK);
    assert_int_equal(assay_policy_set_option(g_ctx, p, "warn-on", "medium", ASSAY_SRC_ENV),
                     ASSAY_OK);
    const char *path = policy_file("prec", "version: 1\n"
                                           "gate: {fail-on: high, warn-on: low, "
                                           "max-flagged-fraction: 0.2}\n"
                                           "detectors: {knn-label: {threshold: 0.6}}\n");
    assert_int_equal(assay_policy_load_file(g_ctx, p, path), ASSAY_OK);
    assert_int_equal(p->scan.fail_on, ASSAY_SEV_LOW);
    assert_int_equal(p->warn_on, ASSAY_SEV_MEDIUM);
    assert_true(p->scan.max_flagged_fraction == 0.2);
    assert_true(p->det_threshold[ASSAY_DET_KNN_LABEL] == 0.8);
    assert_true(p->det_threshold[ASSAY_DET_SPECTRAL] == 0.9);
    json_t *src = assay__policy_sources(p);
    assert_string_equal(json_string_value(json_object_get(src, "gate.fail-on")), "flag");
    assert_string_equal(json_string_value(json_object_get(src, "gate.warn-on")), "env");
    assert_string_equal(json_string_value(json_object_get(src, "gate.max-flagged-fraction")),
                        "file");
    assert_string_equal(json_string_value(json_object_get(src, "detectors.knn-label.threshold")),
                        "flag");
    assert_string_equal(json_string_value(json_object_get(src, "scan.k")), "default");
    json_decref(src);
    /* a lower source's value is still checked */
    assert_int_equal(assay_policy_set_option(g_ctx, p, "fail-on", "hgh", ASSAY_SRC_ENV),
                     ASSAY_E_INVAL);
    assert_non_null(strstr(assay_ctx_errmsg(g_ctx), "ASSAY_FAIL_ON: gate.fail-on: expected"));
    /* flags are named as flags; pairs are checked */
    assert_int_equal(assay_policy_set_option(g_ctx, p, "metric", "manhattan", ASSAY_SRC_FLAG),
                     ASSAY_E_INVAL);
    assert_non_null(strstr(assay_ctx_errmsg(g_ctx), "--metric expects cosine or l2"));
    assert_int_equal(assay_policy_set_option(g_ctx, p, "severity", "knn-label", ASSAY_SRC_FLAG),
                     ASSAY_E_INVAL);
    assert_int_equal(assay_policy_set_option(g_ctx, p, "severity", "nobody=high", ASSAY_SRC_FLAG),
                     ASSAY_E_INVAL);
    assert_non_null(strstr(assay_ctx_errmsg(g_ctx), "unknown detector 'nobody'"));
    assert_int_equal(assay_policy_set_option(g_ctx, p, "class-budget", "Coat=2", ASSAY_SRC_FLAG),
                     ASSAY_E_INVAL);
    assert_int_equal(assay_policy_set(g_ctx, p, "gate.nothing", "1", ASSAY_SRC_FLAG, NULL),
                     ASSAY_E_INVAL);
    /* a mistyped detector name is answered with the nearest one, wherever it is parsed */
    assert_int_equal(
        assay_policy_set(g_ctx, p, "detectors.spectrl.threshold", "0.5", ASSAY_SRC_FLAG, NULL),
        ASSAY_E_INVAL);
    assert_non_null(
        strstr(assay_ctx_errmsg(g_ctx), "unknown detector 'spectrl' (did you mean 'spectral'?)"));
    assert_int_equal(assay_policy_set_option(g_ctx, p, "skip", "duplicat", ASSAY_SRC_FLAG),
                     ASSAY_E_INVAL);
    assert_non_null(strstr(assay_ctx_errmsg(g_ctx), "did you mean 'duplicate'?"));
    assert_int_equal(
        assay_policy_set_option(g_ctx, p, "severity", "mahalanobs=high", ASSAY_SRC_FLAG),
        ASSAY_E_INVAL);
    assert_non_null(strstr(assay_ctx_errmsg(g_ctx), "did you mean 'mahalanobis'?"));
    /* every parameter of the scan table is a policy key, a flag and a variable */
    assert_int_equal(assay_policy_set_option(g_ctx, p, "fdr", "0.05", ASSAY_SRC_ENV), ASSAY_OK);
    assert_true(assay_param_value(&p->scan, ASSAY__P_FDR) == 0.05);
    size_t params = 0;
    for (size_t i = 0; i < assay_policy_option_count(); i++) {
        const assay_policy_option *opt = assay_policy_option_at(i);
        assert_non_null(strstr(opt->env, "ASSAY_"));
        for (size_t j = 0; j < assay_param_count(); j++)
            params += strcmp(opt->name, assay_param_info_at(j)->name) == 0;
    }
    assert_int_equal(params, assay_param_count());
    assay_policy_destroy(p);
}

/* ---- the gate on real results ---- */

typedef struct scanned {
    assay_dataset *ds;
    assay_result *res;
} scanned;

/* 600 rows in 4 separated blobs with conflicting duplicates (dups > 0) planted. */
static scanned scan_data(const char *tag, double dups, const assay_scan_opts *o) {
    char path[1024];
    tu_path(path, sizeof path, "policy_%s.h5", tag);
    datagen_synth_opts g = DATAGEN_SYNTH_OPTS_INIT;
    g.n = 600;
    g.d = 16;
    g.classes = 4;
    g.separation = 12.0;
    g.plant.duplicates = dups;
    tu_write_synth(&g, DATAGEN_FORMAT_H5, path, NULL, NULL);
    scanned s = {0};
    assert_int_equal(assay_dataset_load(g_ctx, path, NULL, &s.ds), ASSAY_OK);
    assert_int_equal(assay_scan(g_ctx, s.ds, o, &s.res), ASSAY_OK);
    return s;
}

static void scanned_free(scanned *s) {
    assay_result_destroy(s->res);
    assay_dataset_destroy(s->ds);
}

static void test_policy_default_gate_is_the_scan_gate(void **state) {
    (void)state;
    static const double dups[] = {0.0, 0.01};
    for (int i = 0; i < 2; i++) {
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        scanned s = scan_data(i ? "dups" : "clean", dups[i], &o);
        int passed = s.res->gate_passed;
        char reason[512];
        snprintf(reason, sizeof reason, "%s", s.res->gate_reason);
        assert_int_equal(passed, !i); /* clean passes, conflicting duplicates fail */
        assay_policy *p = new_policy();
        assay_verdict v;
        assert_int_equal(assay_policy_apply(g_ctx, s.ds, s.res, p, &v), ASSAY_OK);
        assert_int_equal(s.res->gate_passed, passed);
        assert_string_equal(s.res->gate_reason, reason);
        assert_int_equal(v, passed ? ASSAY_VERDICT_PASS : ASSAY_VERDICT_FAIL);
        assert_int_equal(assay_result_exit_code(s.res), passed ? 0 : 1);
        if (!passed) {
            assert_non_null(strstr(reason, "at or above severity high (duplicate: "));
            assert_int_equal(s.res->det_verdict[ASSAY_DET_DUPLICATE], ASSAY__DV_FAIL);
        }
        /* once only */
        assert_int_equal(assay_policy_apply(g_ctx, s.ds, s.res, p, &v), ASSAY_E_INVAL);
        assay_policy_destroy(p);
        scanned_free(&s);
    }
}

static void test_policy_threshold_and_severity_change_what_counts(void **state) {
    (void)state;
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    scanned s = scan_data("thr", 0.01, &o);
    assay_result *r = s.res;
    /* what the threshold 0.9 must keep: knn-label findings with evidence >= 0.9 */
    size_t label_before = 0, label_strong = 0, dup_before = 0;
    for (size_t i = 0; i < r->n_findings; i++) {
        const assay__finding *f = &r->findings[i];
        if (f->det == ASSAY_DET_KNN_LABEL) {
            label_before++;
            label_strong += r->det[ASSAY_DET_KNN_LABEL].evidence[f->row] >= 0.9f;
        }
        dup_before += f->det == ASSAY_DET_DUPLICATE;
    }
    assert_true(dup_before > 0);
    assay_policy *p = new_policy();
    assert_int_equal(
        assay_policy_set_option(g_ctx, p, "threshold", "knn-label=0.9", ASSAY_SRC_FLAG), ASSAY_OK);
    assert_int_equal(
        assay_policy_set_option(g_ctx, p, "severity", "duplicate=medium", ASSAY_SRC_FLAG),
        ASSAY_OK);
    assert_int_equal(assay_policy_apply(g_ctx, s.ds, r, p, NULL), ASSAY_OK);
    size_t label_after = 0, dup_after = 0;
    for (size_t i = 0; i < r->n_findings; i++) {
        const assay__finding *f = &r->findings[i];
        if (f->det == ASSAY_DET_KNN_LABEL) {
            label_after++;
            assert_true(r->det[ASSAY_DET_KNN_LABEL].evidence[f->row] >= 0.5f);
        }
        if (f->det == ASSAY_DET_DUPLICATE) {
            dup_after++;
            assert_int_equal(f->sev, ASSAY_SEV_MEDIUM);
        }
    }
    assert_int_equal(label_after, label_strong);
    assert_int_equal(r->det[ASSAY_DET_KNN_LABEL].flagged, label_after);
    assert_int_equal(dup_after, dup_before);
    /* flags follow the remaining evidence */
    for (size_t row = 0; row < r->n; row++) {
        float best = 0.0f;
        for (int d = 0; d < ASSAY_DET_COUNT; d++)
            if (r->det[d].evidence[row] > best) best = r->det[d].evidence[row];
        assert_int_equal(r->flagged[row], best >= 0.5f);
    }
    (void)label_before;
    assay_policy_destroy(p);
    scanned_free(&s);
}

static void test_policy_allowlist_by_digest_and_budgets(void **state) {
    (void)state;
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    o.fail_on = ASSAY_SEV_NONE;
    scanned s = scan_data("allow", 0.01, &o);
    assay_result *r = s.res;
    assert_true(r->n_flagged > 0);
    /* allowlist every flagged row by its digest, in a separate allowlist file */
    char path[1024], hex[65];
    tu_path(path, sizeof path, "policy_allow_list.yml");
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("- row-sha256: 0000000000000000000000000000000000000000000000000000000000000000\n"
          "  reason: matches nothing\n  owner: qa\n  expires: 2999-01-01\n",
          fp);
    for (size_t i = 0; i < r->n_flagged; i++) {
        assay__hex32(s.ds->row_digest[r->order[i]], hex);
        fprintf(fp, "- row-sha256: %s\n  reason: reviewed\n  owner: qa\n  expires: 2999-01-01\n",
                hex);
    }
    /* the most suspicious row a second time, by an entry that expired: it reports the row, the
     * active entry still accepts it */
    assay__hex32(s.ds->row_digest[r->order[0]], hex);
    fprintf(fp, "- row-sha256: %s\n  reason: old review\n  owner: qa\n  expires: 2000-01-01\n",
            hex);
    fclose(fp);
    assay_policy *p = new_policy();
    assert_int_equal(assay_policy_set_option(g_ctx, p, "allowlist", path, ASSAY_SRC_FLAG),
                     ASSAY_OK);
    assert_int_equal(assay_policy_set_option(g_ctx, p, "class-budget", "*=0", ASSAY_SRC_FLAG),
                     ASSAY_OK);
    assert_int_equal(assay_policy_set_option(g_ctx, p, "max-flagged-fraction", "0", ASSAY_SRC_FLAG),
                     ASSAY_OK);
    assert_int_equal(assay_policy_set_option(g_ctx, p, "fail-on", "none", ASSAY_SRC_FLAG),
                     ASSAY_OK);
    assay_verdict v;
    assert_int_equal(assay_policy_apply(g_ctx, s.ds, r, p, &v), ASSAY_OK);
    /* every flagged row accepted: no budget is exceeded; the significant tests of the
     * duplicates (if any) are excused too */
    assert_int_equal(r->allowlisted_flagged, r->n_flagged);
    assert_int_equal(v, ASSAY_VERDICT_WARN); /* only the expired entry's warning */
    assert_non_null(strstr(r->gate_reason, "expired on 2000-01-01"));
    json_t *allow = json_object_get(r->policy_doc, "allowlist");
    assert_int_equal(json_array_size(allow), r->n_flagged + 2);
    const json_t *old_entry = json_array_get(allow, r->n_flagged + 1);
    assert_string_equal(json_string_value(json_object_get(old_entry, "status")), "expired");
    assert_int_equal(json_array_size(json_object_get(old_entry, "rows")), 1);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(old_entry, "rows"), 0)),
                     (json_int_t)r->order[0]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(allow, 0), "status")),
                        "unused");
    assert_string_equal(json_string_value(json_object_get(json_array_get(allow, 1), "status")),
                        "active");
    assay_policy_destroy(p);
    scanned_free(&s);

    /* the same budgets without the allowlist fail, naming the class and the budget */
    s = scan_data("budget", 0.01, &o);
    p = new_policy();
    assert_int_equal(
        assay_policy_set_option(g_ctx, p, "class-budget", "*=0,nosuchclass=0.5", ASSAY_SRC_FLAG),
        ASSAY_OK);
    assert_int_equal(assay_policy_set_option(g_ctx, p, "fail-on", "none", ASSAY_SRC_FLAG),
                     ASSAY_OK);
    assert_int_equal(assay_policy_apply(g_ctx, s.ds, s.res, p, &v), ASSAY_OK);
    assert_int_equal(v, ASSAY_VERDICT_FAIL);
    assert_non_null(strstr(s.res->gate_reason, "exceeds its budget 0"));
    assert_non_null(strstr(s.res->gate_reason, "class '"));
    assert_non_null(strstr(s.res->gate_reason, "names class 'nosuchclass'"));
    assay_policy_destroy(p);
    scanned_free(&s);
}

/* A class-distribution shift against the baseline (the tampering detector stores its chi-square
 * p-value) warns, never fails: drift is evidence for review (EN 304 223 5.4.2-2, a "should"). */
static void test_policy_class_shift_warns(void **state) {
    (void)state;
    static const double p_values[] = {0.2, 1e-6};
    for (int i = 0; i < 2; i++) {
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        scanned s = scan_data("shift", 0.0, &o);
        s.res->class_shift_p = p_values[i];
        assay_policy *p = new_policy();
        assay_verdict v;
        assert_int_equal(assay_policy_apply(g_ctx, s.ds, s.res, p, &v), ASSAY_OK);
        assert_int_equal(v, i ? ASSAY_VERDICT_WARN : ASSAY_VERDICT_PASS);
        assert_int_equal(assay_result_exit_code(s.res), 0);
        assert_true((strstr(s.res->gate_reason, "class distribution changed") != NULL) == i);
        assay_policy_destroy(p);
        scanned_free(&s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_reads_every_section),
        cmocka_unit_test(test_policy_mistakes_name_line_and_key),
        cmocka_unit_test(test_policy_precedence_is_per_key),
        cmocka_unit_test(test_policy_default_gate_is_the_scan_gate),
        cmocka_unit_test(test_policy_threshold_and_severity_change_what_counts),
        cmocka_unit_test(test_policy_allowlist_by_digest_and_budgets),
        cmocka_unit_test(test_policy_class_shift_warns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The verdict step: tests of all detectors adjusted together by Benjamini-Hochberg, row flags
 * kept only where their class's test is significant, the gate failing on significant evidence,
 * and the shared statistics it uses. Tests are added by hand so each rule is pinned. */
#include "test_detect_util.h"

#include "core/stats.h"

/* 40 rows in two classes on a line; no detector runs: tests and findings are planted in the
 * detectors' outputs, as their sinks would add them. */
static void setup(td_fixture *f, const assay_scan_opts *o) {
    float x[40 * 2];
    int32_t y[40];
    for (size_t r = 0; r < 40; r++) {
        x[2 * r] = (float)r;
        x[2 * r + 1] = (float)(r % 7);
        y[r] = (int32_t)(r / 20);
    }
    td_init(f, x, 40, 2, y, 2, 3, ASSAY_METRIC_L2, o, NULL);
}

static int32_t add_test(td_fixture *f, assay_detector det, int32_t cls, double p) {
    assay__test t = {.det = det,
                     .cls = cls,
                     .stat_name = "stat",
                     .stat = 1.0,
                     .p = p,
                     .null = "planted",
                     .detail = "planted test"};
    int32_t idx = -1;
    assert_int_equal(assay__out_test(&f->res.det[det], &t, &idx), ASSAY_OK);
    return idx;
}

static void flag_row(td_fixture *f, assay_detector det, size_t row, int32_t test, float ev) {
    f->res.det[det].evidence[row] = ev;
    f->res.det[det].score[row] = ev;
    if (test >= 0) assay__out_row_tests(&f->res.det[det])[row] = test;
    if (ev >= 0.5f) {
        assay__finding fd = {row, det, ASSAY_SEV_MEDIUM, 0, ev, 0, 0, 0, -1, test};
        assert_int_equal(assay__out_finding(&f->res.det[det], &fd), ASSAY_OK);
    }
}

/* A test that weighs `sev` at the gate (an observation: low), as ordering's own test does. */
static int32_t add_test_sev(td_fixture *f, assay_detector det, double p, assay_severity sev) {
    assay__test t = {.det = det,
                     .cls = -1,
                     .stat_name = "stat",
                     .stat = 1.0,
                     .p = p,
                     .null = "planted",
                     .detail = "planted test",
                     .sev = sev};
    int32_t idx = -1;
    assert_int_equal(assay__out_test(&f->res.det[det], &t, &idx), ASSAY_OK);
    return idx;
}

/* The second-stage ordering test: 6 rows (34..39, class 1) form the ordered block; `evidence`
 * rows carry a knn-label flag resting on a significant label test. */
static const assay__test *run_block_case(td_fixture *f, const size_t *evidence, size_t m) {
    setup(f, NULL);
    f->res.det[ASSAY_DET_ORDERING].ran = 1;
    int32_t ord = add_test_sev(f, ASSAY_DET_ORDERING, 1e-9, ASSAY_SEV_LOW);
    for (size_t r = 34; r < 40; r++) flag_row(f, ASSAY_DET_ORDERING, r, ord, 0.7f);
    if (m > 0) {
        int32_t lab = add_test_sev(f, ASSAY_DET_KNN_LABEL, 1e-6, ASSAY_SEV_NONE);
        for (size_t i = 0; i < m; i++) flag_row(f, ASSAY_DET_KNN_LABEL, evidence[i], lab, 0.8f);
    }
    td_combine(f);
    const assay__test *t = td_test(f, ASSAY_DET_ORDERING, -1);
    assert_non_null(t);
    assert_true(t->significant);
    /* the first stage is an observation: it warns */
    assert_int_equal(t->effect, ASSAY__EFFECT_WARN);
    const assay__det_out *o = &f->res.det[ASSAY_DET_ORDERING];
    return o->n_tests > 1 ? &o->tests[1] : NULL;
}

/* A sorted file alone only warns; its block holding the 6 label flags fails the gate: within
 * class 1 (20 rows, 6 in the block, 6 flagged) 1.8 are expected, variance
 * 6*6*14*14 / (20^2 * 19), so z = (6 - 1.8 - 0.5) / sqrt(that); 1 of 6 is not corroboration. */
static void test_ordering_needs_corroboration(void **state) {
    (void)state;
    td_fixture f;
    assert_null(run_block_case(&f, NULL, 0));
    assert_true(f.res.gate_passed);
    assert_non_null(strstr(f.res.gate_reason, "only warn"));
    td_free(&f);

    const size_t inside[6] = {34, 35, 36, 37, 38, 39};
    const assay__test *t2 = run_block_case(&f, inside, 6);
    assert_non_null(t2);
    assert_string_equal(t2->stat_name, "evidence_rows_in_ordered_block");
    assert_close(assay__norm_sf(3.7 / sqrt(7056.0 / 7600.0)), t2->p, 1e-12);
    assert_true(t2->significant);
    assert_int_equal(t2->effect, ASSAY__EFFECT_FAIL);
    assert_contains(t2->detail, "6 of the 6 rows of the ordered block");
    assert_contains(t2->detail, "3.3 times the 1.8 expected within their classes");
    assert_false(f.res.gate_passed);
    td_free(&f);

    const size_t spread[6] = {0, 5, 10, 15, 20, 35};
    t2 = run_block_case(&f, spread, 6);
    assert_non_null(t2);
    assert_close(1.0, t2->p, 0.0); /* one row: below the effect size */
    assert_false(t2->significant);
    assert_int_equal(t2->effect, ASSAY__EFFECT_NONE);
    td_free(&f);
}

/* A detector flagging more than flag-cap (0.3) of the rows it scored is capped: no flags, its
 * evidence far below the line in the same order, a note; another detector's flag is not buried.
 * With --flag-cap 1 nothing is capped. */
static void test_flag_cap(void **state) {
    (void)state;
    for (int lift = 0; lift < 2; lift++) {
        td_fixture f;
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        if (lift) assert_int_equal(assay_param_set(&o, "flag-cap", 1.0), ASSAY_OK);
        setup(&f, &o);
        f.res.det[ASSAY_DET_ECOD].rows_scored = 40;
        for (size_t r = 0; r < 13; r++) flag_row(&f, ASSAY_DET_ECOD, r, -1, 0.6f + 0.01f * r);
        flag_row(&f, ASSAY_DET_SPECTRAL, 30, -1, 0.55f);
        td_combine(&f);
        const assay__det_out *e = &f.res.det[ASSAY_DET_ECOD];
        assert_int_equal(e->capped, !lift);
        assert_true(f.res.flagged[30]);
        if (!lift) {
            assert_non_null(strstr(e->note, "capped"));
            assert_int_equal(td_findings(&f, ASSAY_DET_ECOD), 0);
            assert_int_equal(f.res.n_flagged, 1);
            assert_int_equal(f.res.order[0], 30);
            assert_true(f.res.score[12] > f.res.score[0]);
            /* far below the line: 0.1 x the evidence (0.072 for 0.72) */
            assert_close(0.1 * 0.72, f.res.score[12], 1e-6);
        } else {
            assert_int_equal(td_findings(&f, ASSAY_DET_ECOD), 13);
            assert_int_equal(f.res.n_flagged, 14);
        }
        td_free(&f);
    }
}

/* p-values 0.001, 0.02, 0.03, 0.5 (m = 4) at FDR 0.05: BH q = 0.004, 0.04, 0.04, 0.5, so the
 * first three are significant; at FDR 0.01 only the first. */
static void test_bh_decides_tests_and_gate(void **state) {
    (void)state;
    td_fixture f;
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    assert_int_equal(assay_param_set(&o, "fdr", 0.05), ASSAY_OK);
    setup(&f, &o);
    add_test(&f, ASSAY_DET_SPECTRAL, 0, 0.001);
    add_test(&f, ASSAY_DET_SPECTRAL, 1, 0.02);
    add_test(&f, ASSAY_DET_CLUSTER, 0, 0.03);
    add_test(&f, ASSAY_DET_CLUSTER, 1, 0.5);
    add_test(&f, ASSAY_DET_ORDERING, -1, NAN); /* informational: not adjusted, never significant */
    td_combine(&f);
    assert_close(0.004, f.res.tests[0].q, 1e-12);
    assert_close(0.04, f.res.tests[1].q, 1e-12);
    assert_close(0.04, f.res.tests[2].q, 1e-12);
    assert_close(0.5, f.res.tests[3].q, 1e-12);
    assert_true(isnan(f.res.tests[4].q));
    assert_int_equal(f.res.n_significant, 3);
    assert_false(f.res.tests[3].significant);
    assert_false(f.res.tests[4].significant);
    assert_false(f.res.gate_passed);
    assert_non_null(strstr(f.res.gate_reason, "3 significant tests at FDR 0.05"));
    assert_non_null(strstr(f.res.gate_reason, "spectral in class 0"));
    td_free(&f);

    setup(&f, NULL); /* default FDR 0.01 */
    add_test(&f, ASSAY_DET_SPECTRAL, 0, 0.02);
    add_test(&f, ASSAY_DET_SPECTRAL, 1, 0.03);
    td_combine(&f);
    assert_int_equal(f.res.n_significant, 0);
    assert_true(f.res.gate_passed);
    assert_non_null(strstr(f.res.gate_reason, "no significant test at FDR 0.01"));
    td_free(&f);
}

/* Rows flagged in a class whose test is not significant lose the flag and the finding; their
 * evidence is scaled below 0.5 keeping its order; rows of a significant class keep both. */
static void test_flags_need_a_significant_test(void **state) {
    (void)state;
    td_fixture f;
    setup(&f, NULL);
    int32_t sig = add_test(&f, ASSAY_DET_SPECTRAL, 0, 1e-9);
    int32_t quiet = add_test(&f, ASSAY_DET_SPECTRAL, 1, 0.4);
    flag_row(&f, ASSAY_DET_SPECTRAL, 3, sig, 0.9f);
    flag_row(&f, ASSAY_DET_SPECTRAL, 25, quiet, 0.9f);
    flag_row(&f, ASSAY_DET_SPECTRAL, 26, quiet, 0.7f);
    flag_row(&f, ASSAY_DET_SPECTRAL, 27, quiet, 0.3f);
    td_combine(&f);
    assert_int_equal(f.res.det[ASSAY_DET_SPECTRAL].flagged, 1);
    assert_int_equal(td_findings(&f, ASSAY_DET_SPECTRAL), 1);
    assert_true(f.res.flagged[3]);
    assert_false(f.res.flagged[25]);
    assert_false(f.res.flagged[26]);
    assert_true(f.res.score[25] < 0.5f && f.res.score[25] > f.res.score[26]);
    assert_true(f.res.score[26] > f.res.score[27]);
    assert_close(0.9, f.res.score[3], 1e-6);
    assert_false(f.res.gate_passed); /* the significant test fails the gate */
    td_free(&f);
}

/* Rows whose flag stands alone (test -1) are kept; the combined score is the maximum of the
 * detectors' evidence, so it is monotone in each and >= 0.5 iff some rule fired. */
static void test_combined_score_is_the_maximum(void **state) {
    (void)state;
    td_fixture f;
    setup(&f, NULL);
    flag_row(&f, ASSAY_DET_KNN_OUTLIER, 5, -1, 0.6f);
    flag_row(&f, ASSAY_DET_ECOD, 5, -1, 0.3f);
    flag_row(&f, ASSAY_DET_ECOD, 6, -1, 0.45f);
    td_combine(&f);
    assert_close(0.6, f.res.score[5], 1e-7);
    assert_close(0.45, f.res.score[6], 1e-7);
    assert_true(f.res.flagged[5]);
    assert_false(f.res.flagged[6]);
    assert_int_equal(f.res.n_flagged, 1);
    assert_int_equal(f.res.order[0], 5);
    assert_true(f.res.gate_passed); /* a medium finding and no test: passes at --fail-on high */
    td_free(&f);
}

/* A low-severity ("for review") flag stays a flag but its evidence is compressed into
 * [0.5, 0.55], a medium one resting on a test that only warns into [0.55, 0.6], both below a
 * flag a significant test supports; order among review flags is kept. */
static void test_review_flags_rank_below_supported_ones(void **state) {
    (void)state;
    td_fixture f;
    setup(&f, NULL);
    int32_t sig = add_test(&f, ASSAY_DET_SPECTRAL, 0, 1e-9);
    flag_row(&f, ASSAY_DET_SPECTRAL, 2, sig, 0.7f);
    for (size_t r = 8; r <= 9; r++) {
        float ev = r == 8 ? 1.0f : 0.75f;
        f.res.det[ASSAY_DET_KNN_OUTLIER].evidence[r] = ev;
        assay__finding fd = {r, ASSAY_DET_KNN_OUTLIER, ASSAY_SEV_LOW, 0, ev, 0, 0, 0, -1, -1};
        assert_int_equal(assay__out_finding(&f.res.det[ASSAY_DET_KNN_OUTLIER], &fd), ASSAY_OK);
    }
    int32_t warn = add_test_sev(&f, ASSAY_DET_MAHALANOBIS, 1e-9, ASSAY_SEV_LOW);
    flag_row(&f, ASSAY_DET_MAHALANOBIS, 11, warn, 0.6f); /* medium, on a test that warns */
    td_combine(&f);
    assert_true(f.res.flagged[8] && f.res.flagged[9] && f.res.flagged[11]);
    assert_close(0.55, f.res.score[8], 1e-6);
    assert_close(0.525, f.res.score[9], 1e-6);
    assert_close(0.56, f.res.score[11], 1e-6);
    assert_close(0.7, f.res.score[2], 1e-6);
    assert_int_equal(f.res.order[0], 2);
    assert_int_equal(f.res.order[1], 11);
    assert_int_equal(f.res.order[2], 8);
    assert_int_equal(f.res.order[3], 9);
    td_free(&f);
}

/* All detectors on the 8-row case plus a conflicting duplicate (rows 1, 5): the combined score
 * is the maximum evidence, flagged rows are 1 and 5 (knn-label rejects no label: row 4 keeps 2
 * of its 5 votes, and its label-noise test is not significant on 8 rows); the gate fails on the
 * high duplicate findings, and (the gate again, with other options) passes with --fail-on
 * critical. */
static void test_combine_and_gate_hand_case(void **state) {
    (void)state;
    td_fixture f;
    td_init_case8(&f);
    /* row 5 a copy of row 1 relabelled: same digest, and its nearest rows are row 1 and row 1's
     * (label 1 is foreign there: not a natural collision) */
    memcpy(f.ds.content_digest[5], f.ds.content_digest[1], 32);
    const int64_t near1[3] = {1, 2, 3};
    memcpy(f.res.graph.ids + 5 * 3, near1, sizeof near1);
    assert_int_equal(td_run(&f, ASSAY_DET_INTEGRITY), ASSAY_OK);
    assert_int_equal(td_run(&f, ASSAY_DET_DUPLICATE), ASSAY_OK);
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_OUTLIER), ASSAY_OK);
    assert_int_equal(assay__combine(f.ctx, &f.ds, &f.res), ASSAY_OK);
    assay_result *r = &f.res;
    for (size_t i = 0; i < 8; i++) {
        float mx = 0;
        for (int d = 0; d < ASSAY_DET_COUNT; d++)
            if (r->det[d].evidence[i] > mx) mx = r->det[d].evidence[i];
        assert_close(mx, r->score[i], 0);
        assert_int_equal(r->flagged[i], mx >= 0.5f);
    }
    assert_int_equal(r->n_flagged, 2);
    assert_true(r->flagged[1] && r->flagged[5] && !r->flagged[4]);
    /* rows 1 and 5 (score 1, high): row 5, the copy whose label its neighbours reject, has
     * more evidence in all */
    assert_int_equal(r->order[0], 5);
    assert_int_equal(r->order[1], 1);
    assert_int_equal(r->severity[1], ASSAY_SEV_HIGH);
    assert_int_equal(r->severity[4], ASSAY_SEV_NONE);
    assert_false(r->gate_passed);
    assert_contains(r->gate_reason, "2 findings at or above severity high");
    /* findings are indexed by row */
    assert_int_equal(r->finding_start[1 + 1] - r->finding_start[1], 1);
    assert_int_equal(r->finding_start[4 + 1] - r->finding_start[4], 0);

    r->opts.fail_on = ASSAY_SEV_CRITICAL;
    assert_int_equal(assay__gate_default(f.ctx, &f.ds, r), ASSAY_OK);
    assert_true(r->gate_passed);
    r->opts.max_flagged_fraction = 0.2; /* 2 of 8 = 0.25 */
    assert_int_equal(assay__gate_default(f.ctx, &f.ds, r), ASSAY_OK);
    assert_false(r->gate_passed);
    assert_contains(r->gate_reason, "flagged fraction 0.2500 exceeds the maximum 0.2 ");
    r->opts.fail_on = ASSAY_SEV_NONE;
    r->opts.max_flagged_fraction = 1.0;
    assert_int_equal(assay__gate_default(f.ctx, &f.ds, r), ASSAY_OK);
    assert_true(r->gate_passed);
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combine_and_gate_hand_case),
        cmocka_unit_test(test_bh_decides_tests_and_gate),
        cmocka_unit_test(test_flags_need_a_significant_test),
        cmocka_unit_test(test_ordering_needs_corroboration),
        cmocka_unit_test(test_flag_cap),
        cmocka_unit_test(test_combined_score_is_the_maximum),
        cmocka_unit_test(test_review_flags_rank_below_supported_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

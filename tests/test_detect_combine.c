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
    assay__test t = {det, cls, "stat", 1.0, p, "planted", "planted test", 0.0, 0};
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

/* A low-severity ("for review") flag stays a flag but its evidence is compressed into [0.5, 0.6],
 * below a flag a significant test supports; order among review flags is kept. */
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
    td_combine(&f);
    assert_true(f.res.flagged[8] && f.res.flagged[9]);
    assert_close(0.6, f.res.score[8], 1e-6);
    assert_close(0.55, f.res.score[9], 1e-6);
    assert_close(0.7, f.res.score[2], 1e-6);
    assert_int_equal(f.res.order[0], 2);
    td_free(&f);
}

static void test_stats_evidence_from_p(void **state) {
    (void)state;
    assert_true(assay__evidence_from_p(1e-4, 1e-4) == 0.5f);
    assert_true(assay__evidence_from_p(1.01e-4, 1e-4) < 0.5f);
    assert_true(assay__evidence_from_p(1e-9, 1e-4) > assay__evidence_from_p(1e-5, 1e-4));
    assert_close(0.0, assay__evidence_from_p(1.0, 1e-4), 1e-7);
    assert_close(0.25, assay__evidence_from_p(1e-2, 1e-4), 1e-6); /* s/s0 = 2/4 */
    assert_close(0.75, assay__evidence_from_p(1e-8, 1e-4), 1e-6); /* 0.5 + 0.5 (1 - 4/8) */
    assert_close(0.0, assay__evidence_from_p(NAN, 1e-4), 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bh_decides_tests_and_gate),
        cmocka_unit_test(test_flags_need_a_significant_test),
        cmocka_unit_test(test_combined_score_is_the_maximum),
        cmocka_unit_test(test_review_flags_rank_below_supported_ones),
        cmocka_unit_test(test_stats_evidence_from_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

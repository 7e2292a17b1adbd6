/* SPDX-License-Identifier: Apache-2.0 */
/* valuation: kNN-Shapley values on a hand-worked 6-row graph (k = 2), the sign-test flags on
 * planted label flips and a clean case whose flags stay off. */
#include "test_detect_util.h"

#include "detect/label.h"

/* Six rows on a line (squared L2): 0 at 0 (class 0), 1 at 1 (class 1: a flip inside class 0),
 * 2 at 2 (0), 3 at 3.2 (0), 4 at 10 (1), 5 at 11 (1). k = 2 neighbours, nearest first (ties to
 * the lower row): 0: [1, 2]; 1: [0, 2]; 2: [1, 3]; 3: [2, 1]; 4: [5, 3]; 5: [4, 3].
 * Each row a is a test point; its neighbours a1, a2 get s(a2) = 0 and s(a1) = (m1 - m2) / K,
 * m = 1 where the neighbour carries a's label:
 *   a = 0: 1 (no), 2 (yes)  -> s(1) = -1/2     a = 1: 0 (no), 2 (no)   -> s(0) = 0
 *   a = 2: 1 (no), 3 (yes)  -> s(1) = -1/2     a = 3: 2 (yes), 1 (no)  -> s(2) = +1/2
 *   a = 4: 5 (yes), 3 (no)  -> s(5) = +1/2     a = 5: 4 (yes), 3 (no)  -> s(4) = +1/2
 * Sums: row 1: -1, rows 2, 4, 5: +1/2, rows 0, 3: 0. cleanlab's value 0.5 (sum / N + 1), N = 6:
 * row 1: 0.5 (1 - 1/6) = 0.416667; rows 2, 4, 5: 0.541667; rows 0, 3: 0.5. The detector score
 * is -sum: row 1 ranks first. Row 1 loses in both of its 2 decisive comparisons: sign test
 * p = 1/4. */
static void test_valuation_hand_worked_6_rows(void **state) {
    (void)state;
    const float x[6 * 2] = {0, 0, 1, 0, 2, 0, 3.2f, 0, 10, 0, 11, 0};
    const int32_t y[6] = {0, 1, 0, 0, 1, 1};
    td_fixture f;
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    o.skip = 1u << ASSAY_DET_KNN_LABEL; /* as a scan with --skip knn-label: no test to borrow */
    td_init(&f, x, 6, 2, y, 2, 2, ASSAY_METRIC_L2, &o, NULL);
    const int64_t want_ids[6 * 2] = {1, 2, 0, 2, 1, 3, 2, 1, 5, 3, 4, 3};
    for (size_t i = 0; i < 12; i++) assert_int_equal(f.res.graph.ids[i], want_ids[i]);
    assert_int_equal(td_run(&f, ASSAY_DET_VALUATION), ASSAY_OK);
    const float *s = f.res.det[ASSAY_DET_VALUATION].score;
    const double want[6] = {0.0, 1.0, -0.5, 0.0, -0.5, -0.5};
    for (size_t r = 0; r < 6; r++) assert_close(want[r], s[r], 1e-7);
    const assay__det_out *sum = &f.res.det[ASSAY_DET_VALUATION];
    assert_close(0.5 * (1.0 - 1.0 / 6.0), sum->stat[1], 1e-9); /* min value */
    assert_close((0.5 * (1.0 - 1.0 / 6.0) + 3 * 0.5 * (1.0 + 0.5 / 6.0) + 2 * 0.5) / 6.0,
                 sum->stat[0], 1e-9);
    assert_close(1.0, sum->stat[2], 0); /* negative-value rows: row 1 */
    /* p = 1/4 is no discovery among the class's 3 rows at FDR 0.01: nothing flagged */
    assert_close(0.0, sum->stat[3], 0);
    assert_true(f.res.det[ASSAY_DET_VALUATION].evidence[1] < 0.5f);
    /* without knn-label's test, valuation makes the label-noise test itself */
    const assay__test *t = td_test(&f, ASSAY_DET_VALUATION, -1);
    assert_non_null(t);
    assert_int_equal(f.res.det[ASSAY_DET_VALUATION].row_test[1], 0);
    td_free(&f);
}

/* Blobs (4 classes, 2000 rows) with 15% of labels flipped: the flipped rows have the lowest
 * values, the sign test flags them with few false alarms, and it shares knn-label's dataset
 * test. A row's test has as many comparisons as rows list it (about k), so k = 30 gives it the
 * power a 2000-row case lacks at k = 10. Clean, overlapping blobs: nothing is flagged. */
static void run_blobs(double flip, double sd, int planted) {
    enum { N = 2000, K = 4 };
    float *x = malloc(N * 2 * sizeof *x);
    int32_t y[N];
    uint8_t truth[N];
    uint64_t s = 5;
    for (size_t r = 0; r < N; r++) {
        size_t c = r % K;
        double a = 2.0 * 3.14159265358979 * (double)c / K;
        x[2 * r] = (float)(cos(a) + sd * tu_normal(&s));
        x[2 * r + 1] = (float)(sin(a) + sd * tu_normal(&s));
        y[r] = (int32_t)c;
        truth[r] = tu_uniform(&s) < flip;
        if (truth[r]) y[r] = (int32_t)((c + 1 + (size_t)(tu_uniform(&s) * (K - 1))) % K);
    }
    td_fixture f;
    td_init(&f, x, N, 2, y, K, 30, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    assert_int_equal(td_run(&f, ASSAY_DET_VALUATION), ASSAY_OK);
    assert_null(td_test(&f, ASSAY_DET_VALUATION, -1)); /* knn-label's test is used */
    const assay__test *t = td_test(&f, ASSAY_DET_KNN_LABEL, -1);
    size_t flagged_before = td_findings(&f, ASSAY_DET_VALUATION);
    td_combine(&f);
    size_t tp = 0, fl = 0, np = 0;
    for (size_t r = 0; r < N; r++) {
        int flagged = f.res.det[ASSAY_DET_VALUATION].evidence[r] >= 0.5f;
        tp += flagged && truth[r];
        fl += (size_t)flagged;
        np += truth[r];
    }
    if (planted) {
        assert_true(t->significant);
        assert_true(td_auroc(&f, ASSAY_DET_VALUATION, truth) > 0.95);
        assert_true(fl > np / 10);
        assert_true(tp >= fl * 9 / 10);
        assert_int_equal(td_findings(&f, ASSAY_DET_VALUATION), flagged_before);
        char buf[400];
        for (size_t i = 0; i < f.res.n_findings; i++)
            if (f.res.findings[i].det == ASSAY_DET_VALUATION) {
                assay__explain(&f.ds, &f.res, &f.res.findings[i], buf, sizeof buf);
                assert_contains(buf, "below 0.5");
                assert_contains(buf, "sign test");
                break;
            }
    } else {
        assert_false(t->significant);
        assert_int_equal(fl, 0);
        assert_int_equal(td_findings(&f, ASSAY_DET_VALUATION), 0);
    }
    td_free(&f);
    free(x);
}

static void test_valuation_planted_flips_found(void **state) {
    (void)state;
    run_blobs(0.15, 0.25, 1);
}

static void test_valuation_clean_is_quiet(void **state) {
    (void)state;
    run_blobs(0.0, 0.45, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valuation_hand_worked_6_rows),
        cmocka_unit_test(test_valuation_planted_flips_found),
        cmocka_unit_test(test_valuation_clean_is_quiet),
    };
    return cmocka_run_group_tests_name("detect_valuation", tests, NULL, NULL);
}

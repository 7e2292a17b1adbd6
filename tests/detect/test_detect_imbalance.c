/* SPDX-License-Identifier: Apache-2.0 */
/* imbalance: cleanlab's rule (a class below imbalance-ratio x 1/K) on hand-counted classes,
 * both sides of the boundary, the informational chi-square, rows without a declared label, and
 * the gate (low, data-quality findings never fail it by themselves). */
#include "test_detect_util.h"

/* ---- helpers ---- */

/* counts[c] rows of class c (then `unlabelled` rows with label -1), 2-d points on a spread grid
 * (the fixture builds a graph; imbalance does not use it). */
static void init_counts(td_fixture *f, const size_t *counts, size_t nc, size_t unlabelled,
                        const assay_scan_opts *o) {
    size_t n = unlabelled;
    for (size_t c = 0; c < nc; c++) n += counts[c];
    float *x = malloc(n * 2 * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    size_t r = 0;
    for (size_t c = 0; c < nc; c++)
        for (size_t i = 0; i < counts[c]; i++, r++) y[r] = (int32_t)c;
    for (; r < n; r++) y[r] = -1;
    for (r = 0; r < n; r++) {
        x[2 * r] = (float)(r % 37) + 0.5f;
        x[2 * r + 1] = (float)(r / 37) + 0.25f;
    }
    td_init(f, x, n, 2, y, nc, 3, ASSAY_METRIC_L2, o, NULL);
    free(x);
    free(y);
}

/* ---- tests ---- */

/* Counts 100, 100, 5 (205 rows, K = 3): class 2's share 5/205 = 0.0244 is 0.0732 x 1/3, below
 * 0.1: its 5 rows are flagged low, score 1 - 0.0732 = 0.9268; classes 0 and 1 are above 1/3:
 * score 0. Chi-square against uniform: E = 205/3 per class,
 * X2 = 2 (100 - E)^2 / E + (5 - E)^2 / E = 88.07..., reported with p = NaN. */
static void test_imbalance_hand_case(void **state) {
    (void)state;
    const size_t counts[3] = {100, 100, 5};
    td_fixture f;
    init_counts(&f, counts, 3, 0, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_IMBALANCE), ASSAY_OK);
    const assay__test *t = td_test(&f, ASSAY_DET_IMBALANCE, -1);
    assert_non_null(t);
    double e = 205.0 / 3.0;
    double x2 = 2.0 * (100.0 - e) * (100.0 - e) / e + (5.0 - e) * (5.0 - e) / e;
    assert_close(x2, t->stat, 1e-9);
    assert_true(isnan(t->p));
    assert_contains(t->detail, "smallest 2 2.44%");
    assert_contains(t->detail, "1 class below 0.1");
    const double rel = (5.0 / 205.0) * 3.0;
    for (size_t r = 0; r < 205; r++) {
        float s = f.res.det[ASSAY_DET_IMBALANCE].score[r];
        float ev = f.res.det[ASSAY_DET_IMBALANCE].evidence[r];
        if (r < 200) {
            assert_close(0.0, s, 0.0);
            assert_true(ev < 0.5f);
        } else {
            assert_close(1.0 - rel, s, 1e-6);
            assert_true(ev >= 0.5f);
        }
    }
    assert_int_equal(td_findings(&f, ASSAY_DET_IMBALANCE), 5);
    const assay__finding *fd = NULL;
    for (size_t i = 0; i < f.res.n_findings; i++)
        if (f.res.findings[i].det == ASSAY_DET_IMBALANCE) fd = &f.res.findings[i];
    assert_non_null(fd);
    assert_int_equal(fd->sev, ASSAY_SEV_LOW);
    assert_int_equal(fd->test, -1);
    assert_close(5.0 / 205.0, fd->a, 1e-12);
    assert_close(1.0 / 3.0, fd->b, 1e-12);
    char buf[256];
    assay__explain(&f.ds, &f.res, fd, buf, sizeof buf);
    assert_contains(buf, "class 2 holds 2.44% of the labelled rows");
    /* the gate: low findings and an informational test pass */
    td_combine(&f);
    assert_int_equal(td_findings(&f, ASSAY_DET_IMBALANCE), 5);
    assert_true(f.res.gate_passed);
    assert_int_equal(f.res.det[ASSAY_DET_IMBALANCE].flagged, 5);
    td_free(&f);
}

/* The boundary: 7 of 207 is 0.1014 x 1/3 (not flagged), 6 of 206 is 0.0874 x 1/3 (flagged);
 * with imbalance-ratio 0.05 neither is, with 0.11 both are. */
static void test_imbalance_boundary_and_ratio(void **state) {
    (void)state;
    const struct {
        size_t small;
        double ratio;
        size_t want;
    } cases[] = {{7, 0.1, 0}, {6, 0.1, 6}, {6, 0.05, 0}, {7, 0.11, 7}, {0, 0.1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const size_t counts[3] = {100, 100, cases[i].small};
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        assert_int_equal(assay_param_set(&o, "imbalance-ratio", cases[i].ratio), ASSAY_OK);
        td_fixture f;
        init_counts(&f, counts, 3, 0, &o);
        assert_int_equal(td_run(&f, ASSAY_DET_IMBALANCE), ASSAY_OK);
        assert_int_equal(td_findings(&f, ASSAY_DET_IMBALANCE), cases[i].want);
        size_t ev_flags = 0;
        for (size_t r = 0; r < f.ds.n; r++)
            ev_flags += f.res.det[ASSAY_DET_IMBALANCE].evidence[r] >= 0.5f;
        assert_int_equal(ev_flags, cases[i].want);
        /* an empty class is still counted below the ratio (it has no rows to flag) */
        if (cases[i].small == 0) assert_close(1.0, f.res.det[ASSAY_DET_IMBALANCE].stat[0], 0.0);
        td_free(&f);
    }
}

/* Balanced classes: chi-square 0, no findings; rows with an undeclared label are not scored and
 * do not count. */
static void test_imbalance_balanced_and_unlabelled(void **state) {
    (void)state;
    const size_t counts[4] = {50, 50, 50, 50};
    td_fixture f;
    init_counts(&f, counts, 4, 30, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_IMBALANCE), ASSAY_OK);
    const assay__test *t = td_test(&f, ASSAY_DET_IMBALANCE, -1);
    assert_close(0.0, t->stat, 1e-12);
    assert_int_equal(td_findings(&f, ASSAY_DET_IMBALANCE), 0);
    assert_int_equal(f.res.det[ASSAY_DET_IMBALANCE].rows_scored, 200);
    for (size_t r = 200; r < 230; r++) assert_true(isnan(f.res.det[ASSAY_DET_IMBALANCE].score[r]));
    assert_close(0.25, f.res.det[ASSAY_DET_IMBALANCE].stat[1], 1e-12); /* smallest share */
    td_free(&f);
}

/* Fewer than 2 classes: nothing to compare, the detector says so. */
static void test_imbalance_single_class(void **state) {
    (void)state;
    const size_t counts[1] = {40};
    td_fixture f;
    init_counts(&f, counts, 1, 0, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_IMBALANCE), ASSAY_OK);
    assert_int_equal(f.res.det[ASSAY_DET_IMBALANCE].ran, 0);
    assert_non_null(f.res.det[ASSAY_DET_IMBALANCE].note);
    assert_int_equal(f.res.n_tests, 0);
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imbalance_hand_case),
        cmocka_unit_test(test_imbalance_boundary_and_ratio),
        cmocka_unit_test(test_imbalance_balanced_and_unlabelled),
        cmocka_unit_test(test_imbalance_single_class),
    };
    return cmocka_run_group_tests_name("detect_imbalance", tests, NULL, NULL);
}

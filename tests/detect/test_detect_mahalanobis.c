/* SPDX-License-Identifier: Apache-2.0 */
/* mahalanobis: distances worked out by hand on a symmetric class, a class with fewer rows than
 * dimensions (the shrinkage keeps the covariance positive definite), a robust estimate that a
 * planted group cannot hide from, and a class test that is quiet on clean Gaussian classes and
 * fires on a class with many far rows. */
#include "test_detect_util.h"

static void run(td_fixture *f) {
    assert_int_equal(td_run(f, ASSAY_DET_MAHALANOBIS), ASSAY_OK);
    assert_true(f->res.det[ASSAY_DET_MAHALANOBIS].ran);
}

/* Gaussian rows of class cls: sd 1 / (1 + j) per coordinate, centred at (5 cls, 0, ...). */
static void gauss_rows(float *x, int32_t *y, size_t r0, size_t n, size_t d, int32_t cls,
                       uint64_t *seed) {
    for (size_t i = r0; i < r0 + n; i++) {
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float)(tu_normal(seed) / (1.0 + (double)j) + (j == 0 ? 5.0 * cls : 0));
        y[i] = cls;
    }
}

/* By hand: 12 rows at the corners (+-1, +-1) (3 copies) and 12 at (+-3, 0), (0, +-3). The
 * coordinatewise median is the origin, so the central half are the corners (distance sqrt 2
 * against 3), and again under their model; their mean is 0 and covariance I, so with any
 * shrinkage towards m I (m = tr / d = 1) Sigma = I: D^2 = 2 for the corners, 9 for the others.
 * log D^2: median (ln 2 + ln 9) / 2, MAD 1.4826 * (ln 9 - ln 2) / 2, so the robust z is
 * -/+ 1 / 1.4826 = -/+ 0.6745. */
static void test_detect_mahalanobis_distances_by_hand(void **state) {
    (void)state;
    static const float pts[8][2] = {{1, 1}, {1, -1}, {-1, 1}, {-1, -1},
                                    {3, 0}, {-3, 0}, {0, 3},  {0, -3}};
    enum { N = 24 };
    float x[N * 2];
    int32_t y[N];
    for (size_t i = 0; i < N; i++) {
        const float *p = pts[(i % 4) + (i >= 12 ? 4 : 0)];
        x[2 * i] = p[0];
        x[2 * i + 1] = p[1];
        y[i] = 0;
    }
    const double shrink[2] = {-1.0, 0.5}; /* Ledoit-Wolf, and a given intensity */
    for (int k = 0; k < 2; k++) {
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        assert_int_equal(assay_param_set(&o, "mahalanobis-shrinkage", shrink[k]), ASSAY_OK);
        td_fixture f;
        td_init(&f, x, N, 2, y, 1, 3, ASSAY_METRIC_L2, &o, NULL);
        run(&f);
        for (size_t i = 0; i < N; i++) {
            double want = (i < 12 ? -1.0 : 1.0) / 1.4826;
            assert_close(want, f.res.det[ASSAY_DET_MAHALANOBIS].score[i], 1e-5);
        }
        /* one class: no other classes to compare with, the test is not applicable */
        const assay__test *t = td_test(&f, ASSAY_DET_MAHALANOBIS, 0);
        assert_non_null(t);
        assert_true(isnan(t->p));
        td_free(&f);
    }
}

/* 20 rows in 50 dimensions (fewer rows than dimensions: the sample covariance is singular) plus
 * one row far away: every distance is finite and the far row ranks first. */
static void test_detect_mahalanobis_fewer_rows_than_dims(void **state) {
    (void)state;
    enum { N = 21, D = 50 };
    float x[N * D];
    int32_t y[N];
    uint64_t seed = 21;
    gauss_rows(x, y, 0, N, D, 0, &seed);
    for (size_t j = 0; j < D; j++) x[20 * D + j] += 4.0f;
    td_fixture f;
    td_init(&f, x, N, D, y, 1, 3, ASSAY_METRIC_L2, NULL, NULL);
    run(&f);
    const float *s = f.res.det[ASSAY_DET_MAHALANOBIS].score;
    for (size_t i = 0; i < N; i++) {
        assert_true(isfinite(s[i]));
        if (i < 20) assert_true(s[i] < s[20]);
    }
    assert_true(f.res.det[ASSAY_DET_MAHALANOBIS].stat[1] > 0.0); /* shrinkage was needed */
    td_free(&f);
}

/* Eight clean Gaussian classes: no class test is significant and nothing is flagged. */
static void test_detect_mahalanobis_clean_quiet(void **state) {
    (void)state;
    enum { C = 8, M = 300, D = 10, N = C * M };
    float *x = malloc(N * D * sizeof *x);
    int32_t y[N];
    uint64_t seed = 77;
    for (int c = 0; c < C; c++) gauss_rows(x, y, (size_t)c * M, M, D, c, &seed);
    td_fixture f;
    td_init(&f, x, N, D, y, C, 5, ASSAY_METRIC_L2, NULL, NULL);
    run(&f);
    td_combine(&f);
    for (int c = 0; c < C; c++) {
        const assay__test *t = td_test(&f, ASSAY_DET_MAHALANOBIS, c);
        assert_non_null(t);
        assert_false(t->significant);
    }
    assert_int_equal(td_findings(&f, ASSAY_DET_MAHALANOBIS), 0);
    for (size_t r = 0; r < N; r++) assert_true(f.res.det[ASSAY_DET_MAHALANOBIS].evidence[r] < 0.5f);
    td_free(&f);
    free(x);
}

/* A small clean class beside larger clean ones (30 rows against 100, 8 dimensions): its share
 * of far rows carries more sampling noise, and with no far row anywhere its continuity-corrected
 * share is still larger than theirs. Its class test must stay quiet for any seed (it fired at
 * q ~ 1e-5 when the test ignored the class's own binomial variance). */
static void test_detect_mahalanobis_small_clean_class_quiet(void **state) {
    (void)state;
    enum { C = 4, SMALL = 30, M = 100, D = 8, N = SMALL + (C - 1) * M };
    float *x = malloc(N * D * sizeof *x);
    int32_t y[N];
    for (uint64_t s0 = 1; s0 <= 12; s0++) {
        uint64_t seed = s0;
        gauss_rows(x, y, 0, SMALL, D, 0, &seed);
        for (int c = 1; c < C; c++) gauss_rows(x, y, SMALL + (size_t)(c - 1) * M, M, D, c, &seed);
        td_fixture f;
        td_init(&f, x, N, D, y, C, 5, ASSAY_METRIC_L2, NULL, NULL);
        run(&f);
        const assay__test *t = td_test(&f, ASSAY_DET_MAHALANOBIS, 0);
        assert_non_null(t);
        if (!(t->p > 0.01))
            fail_msg("seed %llu: small clean class p = %g (t = %g)", (unsigned long long)s0, t->p,
                     t->stat);
        td_free(&f);
    }
    free(x);
}

/* Class 0 gets 30% of its rows shifted together by 3 along every coordinate (a coherent group
 * large enough to pull a classical mean and covariance towards itself): the robust estimate
 * still ranks them first (AUROC), its class test fires, and the flagged rows are the planted
 * ones, with severity medium. */
static void test_detect_mahalanobis_planted_group_found(void **state) {
    (void)state;
    enum { C = 8, M = 300, D = 10, N = C * M, P = 90 };
    float *x = malloc(N * D * sizeof *x);
    int32_t y[N];
    uint8_t truth[N] = {0};
    uint64_t seed = 123;
    for (int c = 0; c < C; c++) gauss_rows(x, y, (size_t)c * M, M, D, c, &seed);
    for (size_t i = 0; i < P; i++) {
        for (size_t j = 0; j < D; j++) x[i * D + j] += 3.0f;
        truth[i] = 1;
    }
    td_fixture f;
    td_init(&f, x, N, D, y, C, 5, ASSAY_METRIC_L2, NULL, NULL);
    run(&f);
    td_combine(&f);
    assert_true(td_auroc(&f, ASSAY_DET_MAHALANOBIS, truth) > 0.99);
    const assay__test *t0 = td_test(&f, ASSAY_DET_MAHALANOBIS, 0);
    assert_non_null(t0);
    assert_true(t0->significant);
    for (int c = 1; c < C; c++) assert_false(td_test(&f, ASSAY_DET_MAHALANOBIS, c)->significant);
    size_t tp = 0, fp = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *g = &f.res.findings[i];
        if (g->det != ASSAY_DET_MAHALANOBIS) continue;
        assert_int_equal(g->sev, ASSAY_SEV_MEDIUM);
        if (truth[g->row])
            tp++;
        else
            fp++;
    }
    assert_true(tp >= 80);
    assert_true(fp <= 5);
    char buf[512];
    for (size_t i = 0; i < f.res.n_findings; i++)
        if (f.res.findings[i].det == ASSAY_DET_MAHALANOBIS) {
            assay__explain(&f.ds, &f.res, &f.res.findings[i], buf, sizeof buf);
            assert_non_null(strstr(buf, "class 0"));
            break;
        }
    td_free(&f);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_mahalanobis_distances_by_hand),
        cmocka_unit_test(test_detect_mahalanobis_fewer_rows_than_dims),
        cmocka_unit_test(test_detect_mahalanobis_clean_quiet),
        cmocka_unit_test(test_detect_mahalanobis_small_clean_class_quiet),
        cmocka_unit_test(test_detect_mahalanobis_planted_group_found),
    };
    return cmocka_run_group_tests_name("detect_mahalanobis", tests, NULL, NULL);
}

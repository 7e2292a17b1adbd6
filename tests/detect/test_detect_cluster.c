/* SPDX-License-Identifier: Apache-2.0 */
/* cluster (activation clustering): a clean Gaussian class gets no flags and no significant test
 * (the smaller 2-means cluster is never poison by construction), balanced and continuous splits
 * stay quiet, a planted small cluster with a gap is found, and the gap test's p-value is checked
 * by hand on a two-level class. */
#include "test_detect_util.h"

/* Rows of class `cls` from a Gaussian with standard deviations sd[0..d) (sd[j] = 1 / (1 + j)
 * when sd is NULL) around centre (cls * 10, 0, ...). */
static void gauss_rows(float *x, int32_t *y, size_t r0, size_t n, size_t d, int32_t cls,
                       const double *sd, uint64_t *seed) {
    for (size_t i = r0; i < r0 + n; i++) {
        for (size_t j = 0; j < d; j++) {
            double s = sd ? sd[j] : 1.0 / (1.0 + (double)j);
            x[i * d + j] = (float)(s * tu_normal(seed) + (j == 0 ? 10.0 * cls : 0.0));
        }
        y[i] = cls;
    }
}

static void run(td_fixture *f) {
    assert_int_equal(td_run(f, ASSAY_DET_CLUSTER), ASSAY_OK);
    assert_true(f->res.det[ASSAY_DET_CLUSTER].ran);
}

/* Three single-Gaussian classes: every test is not significant, nothing is flagged, every row
 * has a finite score and evidence below the flag line. */
static void test_detect_cluster_clean_gaussian_quiet(void **state) {
    (void)state;
    enum { N = 1800, D = 12 };
    float *x = malloc(N * D * sizeof *x);
    int32_t y[N];
    uint64_t seed = 11;
    for (int c = 0; c < 3; c++) gauss_rows(x, y, (size_t)c * 600, 600, D, c, NULL, &seed);
    td_fixture f;
    td_init(&f, x, N, D, y, 3, 5, ASSAY_METRIC_L2, NULL, NULL);
    run(&f);
    td_combine(&f);
    for (int c = 0; c < 3; c++) {
        const assay__test *t = td_test(&f, ASSAY_DET_CLUSTER, c);
        assert_non_null(t);
        assert_false(t->significant);
        assert_true(t->p > 0.05);
    }
    assert_int_equal(td_findings(&f, ASSAY_DET_CLUSTER), 0);
    for (size_t r = 0; r < N; r++) {
        assert_true(isfinite(f.res.det[ASSAY_DET_CLUSTER].score[r]));
        assert_true(f.res.det[ASSAY_DET_CLUSTER].evidence[r] < 0.5f);
    }
    td_free(&f);
    free(x);
}

/* A class made of two equal, well separated halves (a balanced split) and a class with a long
 * continuous tail (exponential along one axis): natural structure, not a backdoor. */
static void test_detect_cluster_balanced_and_continuum_quiet(void **state) {
    (void)state;
    enum { N = 1200, D = 6 };
    float *x = malloc(N * D * sizeof *x);
    int32_t y[N];
    uint64_t seed = 5;
    gauss_rows(x, y, 0, 600, D, 0, NULL, &seed);
    for (size_t i = 0; i < 300; i++) x[i * D + 1] += 8.0f; /* halves 8 sd apart along axis 1 */
    gauss_rows(x, y, 600, 600, D, 1, NULL, &seed);
    for (size_t i = 600; i < N; i++) x[i * D + 2] += (float)(-2.0 * log(1.0 - tu_uniform(&seed)));
    td_fixture f;
    td_init(&f, x, N, D, y, 2, 5, ASSAY_METRIC_L2, NULL, NULL);
    run(&f);
    td_combine(&f);
    const assay__test *t0 = td_test(&f, ASSAY_DET_CLUSTER, 0);
    const assay__test *t1 = td_test(&f, ASSAY_DET_CLUSTER, 1);
    assert_non_null(t0);
    assert_non_null(t1);
    assert_true(t0->p == 1.0); /* the smaller half holds 50% > cluster-max-share */
    assert_false(t1->significant);
    assert_int_equal(td_findings(&f, ASSAY_DET_CLUSTER), 0);
    td_free(&f);
    free(x);
}

/* Class 0: 900 Gaussian rows plus 100 rows (10%) carrying a "trigger", +1.5 on a coordinate
 * whose clean spread is 0.05 (a feature the clean rows lack, small next to the class's large
 * directions). The gap test of class 0 fires, the planted rows are the ones flagged, the other
 * classes stay quiet. (With 60 planted rows an empty gap gives p ~ 3e-3 only: the test needs
 * the cluster's rows to show the gap is emptier than cluster-gap x its density.) */
static void test_detect_cluster_planted_cluster_found(void **state) {
    (void)state;
    enum { N = 3000, D = 16, P = 100 };
    double sd[D];
    for (size_t j = 0; j < D; j++) sd[j] = 2.0 / (1.0 + (double)j);
    sd[D - 1] = 0.05;
    float *x = malloc(N * D * sizeof *x);
    int32_t *y = malloc(N * sizeof *y);
    uint8_t *truth = calloc(N, 1);
    uint64_t seed = 99;
    for (int c = 0; c < 3; c++) gauss_rows(x, y, (size_t)c * 1000, 1000, D, c, sd, &seed);
    for (size_t i = 0; i < P; i++) {
        x[i * D + D - 1] += 1.5f;
        truth[i] = 1;
    }
    td_fixture f;
    td_init(&f, x, N, D, y, 3, 5, ASSAY_METRIC_L2, NULL, NULL);
    run(&f);
    td_combine(&f);
    const assay__test *t0 = td_test(&f, ASSAY_DET_CLUSTER, 0);
    assert_non_null(t0);
    if (!t0->significant) fail_msg("class 0: p %g, %s", t0->p, t0->detail);
    assert_true(t0->p < 1e-4);
    for (int c = 1; c < 3; c++) assert_false(td_test(&f, ASSAY_DET_CLUSTER, c)->significant);
    size_t tp = 0, fp = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *g = &f.res.findings[i];
        if (g->det != ASSAY_DET_CLUSTER) continue;
        assert_int_equal(g->sev, ASSAY_SEV_HIGH);
        if (truth[g->row])
            tp++;
        else
            fp++;
    }
    assert_true(tp >= 95); /* recall >= 95% */
    assert_true(fp <= 3);
    assert_true(td_auroc(&f, ASSAY_DET_CLUSTER, truth) > 0.99);
    char buf[512];
    for (size_t i = 0; i < f.res.n_findings; i++)
        if (f.res.findings[i].det == ASSAY_DET_CLUSTER) {
            assay__explain(&f.ds, &f.res, &f.res.findings[i], buf, sizeof buf);
            assert_non_null(strstr(buf, "class 0"));
            break;
        }
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* Five classes of 600 rows; the first `styled` of them hold 100 rows (17%) with +1.5 on a
 * coordinate of clean spread 0.05: a gapped group. With one such class the gap stands out from
 * the other classes' and the test fires; when every class has one (natural sub-styles, as in the
 * suite's syn_substyles) no class stands out from the others: the index across classes keeps
 * every test quiet though each gap alone is empty. */
static void run_styled(td_fixture *f, float *x, int32_t *y, int styled) {
    enum { C = 5, M = 600, D = 16, P = 100 };
    double sd[D];
    for (size_t j = 0; j < D; j++) sd[j] = 2.0 / (1.0 + (double)j);
    sd[D - 1] = 0.05;
    uint64_t seed = 4242;
    for (int c = 0; c < C; c++) {
        gauss_rows(x, y, (size_t)c * M, M, D, c, sd, &seed);
        for (size_t i = 0; i < P && c < styled; i++) x[((size_t)c * M + i) * D + D - 1] += 1.5f;
    }
    td_init(f, x, C * M, D, y, C, 5, ASSAY_METRIC_L2, NULL, NULL);
    run(f);
    td_combine(f);
}

static void test_detect_cluster_index_across_classes(void **state) {
    (void)state;
    float *x = malloc(5 * 600 * 16 * sizeof *x);
    int32_t *y = malloc(5 * 600 * sizeof *y);
    td_fixture f;
    run_styled(&f, x, y, 1);
    const assay__test *t0 = td_test(&f, ASSAY_DET_CLUSTER, 0);
    if (!t0->significant) fail_msg("one gapped class: p %g, %s", t0->p, t0->detail);
    assert_contains(t0->null, "across the other classes");
    for (int c = 1; c < 5; c++) assert_false(td_test(&f, ASSAY_DET_CLUSTER, c)->significant);
    assert_true(td_findings(&f, ASSAY_DET_CLUSTER) >= 95);
    td_free(&f);

    run_styled(&f, x, y, 5);
    for (int c = 0; c < 5; c++) {
        const assay__test *t = td_test(&f, ASSAY_DET_CLUSTER, c);
        assert_contains(t->detail, "0 rows in the gap");
        if (t->significant) fail_msg("class %d of five gapped: p %g, %s", c, t->p, t->detail);
    }
    assert_int_equal(td_findings(&f, ASSAY_DET_CLUSTER), 0);
    assert_true(f.res.gate_passed);
    td_free(&f);
    free(x);
    free(y);
}

/* Worked by hand: class 0 has 500 rows at x0 = 0 and 100 at x0 = 10, with independent noise on
 * x1. Whitened, the split along x0 puts every row exactly at t = 0 or t = 1 (the noise is
 * orthogonal to the discriminant in the whitened metric): no row in the gap [0.25, 0.75], all
 * 100 in the peak window [0.9, 1.1]. With cluster-gap g = 0.1 (the default) the null puts a row in
 * the gap with probability q0 = 0.5 g / (0.5 g + 0.2) = 1/5 at g = 0.1, so p = K * P(Bin(100, 1/5)
 * <= 0) = K * (4/5)^100 = K * 2.04e-10, K the number of 2-means candidates tested. Share 100/600,
 * density ratio 0. */
static void test_detect_cluster_gap_pvalue_by_hand(void **state) {
    (void)state;
    enum { N = 600, D = 2 };
    float x[N * D];
    int32_t y[N];
    uint64_t seed = 3;
    for (size_t i = 0; i < N; i++) {
        x[i * D] = i < 100 ? 10.0f : 0.0f;
        x[i * D + 1] = (float)tu_normal(&seed);
        y[i] = 0;
    }
    td_fixture f;
    td_init(&f, x, N, D, y, 1, 5, ASSAY_METRIC_L2, NULL, NULL);
    run(&f);
    const assay__test *t = td_test(&f, ASSAY_DET_CLUSTER, 0);
    assert_non_null(t);
    int k = 0;
    size_t small = 0;
    double gap = -1, peak = -1;
    assert_int_equal(sscanf(t->detail,
                            "smaller 2-means cluster %zu rows (%*f%%); %lf rows in the gap, %lf at "
                            "its centre (density ratio %*f); silhouette %*f; best of %d splits",
                            &small, &gap, &peak, &k),
                     4);
    assert_int_equal(small, 100);
    assert_true(gap == 0.0 && peak == 100.0);
    assert_true(t->stat == 0.0);
    double want = fmin(1.0, (double)k * pow(4.0 / 5.0, 100.0));
    assert_true(k >= 1 && k <= 4);
    assert_close(want, t->p, 1e-9 * want);
    /* the small cluster's rows score far above the large cluster's */
    for (size_t i = 0; i < N; i++) {
        float s = f.res.det[ASSAY_DET_CLUSTER].score[i];
        if (i < 100)
            assert_true(s > 10.0f);
        else
            assert_true(s < 5.0f);
    }
    td_free(&f);
}

/* Same seed, same result; classes under 50 rows are not scored. */
static void test_detect_cluster_deterministic_and_small_class(void **state) {
    (void)state;
    enum { N = 630, D = 5 };
    float x[N * D];
    int32_t y[N];
    uint64_t seed = 8;
    gauss_rows(x, y, 0, 600, D, 0, NULL, &seed);
    gauss_rows(x, y, 600, 30, D, 1, NULL, &seed);
    float s1[N];
    for (int rep = 0; rep < 2; rep++) {
        td_fixture f;
        td_init(&f, x, N, D, y, 2, 5, ASSAY_METRIC_L2, NULL, NULL);
        run(&f);
        for (size_t i = 0; i < N; i++) {
            float s = f.res.det[ASSAY_DET_CLUSTER].score[i];
            if (i >= 600) {
                assert_true(isnan(s));
                continue;
            }
            if (rep == 0)
                s1[i] = s;
            else
                assert_true(s == s1[i]);
        }
        assert_null(td_test(&f, ASSAY_DET_CLUSTER, 1));
        td_free(&f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_cluster_clean_gaussian_quiet),
        cmocka_unit_test(test_detect_cluster_balanced_and_continuum_quiet),
        cmocka_unit_test(test_detect_cluster_planted_cluster_found),
        cmocka_unit_test(test_detect_cluster_index_across_classes),
        cmocka_unit_test(test_detect_cluster_gap_pvalue_by_hand),
        cmocka_unit_test(test_detect_cluster_deterministic_and_small_class),
    };
    return cmocka_run_group_tests_name("detect_cluster", tests, NULL, NULL);
}

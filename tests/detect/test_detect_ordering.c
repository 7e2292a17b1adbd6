/* SPDX-License-Identifier: Apache-2.0 */
/* ordering: the index-gap statistic on a hand case, a tight cluster appended as a block at the
 * end of the file (found: the test is significant and the block's rows are flagged), the same
 * rows in random order (quiet), and the same answer for any seed-free thread count. */
#include "test_detect_util.h"

/* ---- helpers ---- */

/* n rows in d dims: `classes` Gaussian blobs (unit spread, centres 6 apart on the axes). The
 * last `block` rows form a tight cluster of class 0 far from the blobs (poison appended as a
 * block); with `shuffle` all rows are put in random order. truth marks the cluster rows. */
static void make_data(float *x, int32_t *y, uint8_t *truth, size_t n, size_t d, size_t classes,
                      size_t block, int shuffle, uint64_t seed) {
    uint64_t s = seed;
    for (size_t r = 0; r < n; r++) {
        int poison = r >= n - block;
        y[r] = poison ? 0 : (int32_t)(r % classes);
        truth[r] = (uint8_t)poison;
        for (size_t c = 0; c < d; c++) {
            double centre = poison ? (c == 0 ? 3.0 : 0.0) + (c == 1 ? 3.0 : 0.0)
                                   : (c == (size_t)y[r] ? 6.0 : 0.0);
            double spread = poison ? 0.05 : 1.0;
            x[r * d + c] = (float)(centre + spread * tu_normal(&s));
        }
    }
    if (!shuffle) return;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(tu_next(&s) % i);
        for (size_t c = 0; c < d; c++) {
            float t = x[(i - 1) * d + c];
            x[(i - 1) * d + c] = x[j * d + c];
            x[j * d + c] = t;
        }
        int32_t ty = y[i - 1];
        y[i - 1] = y[j];
        y[j] = ty;
        uint8_t tt = truth[i - 1];
        truth[i - 1] = truth[j];
        truth[j] = tt;
    }
}

/* ---- tests ---- */

/* Six rows on a line in pairs (0,1), (10,11), (20,21) with k = 1: three unordered pairs, each
 * of gap 1. Random distinct pairs of 6 positions have P(gap <= 1) = (2*6*1 - 1*2)/(6*5) = 1/3,
 * so D+ = 1 - 1/3 = 2/3 at the window 1. Every row has its one neighbour within the window:
 * score 1; the chance of that is 1/5 at the ends of the file and 2/5 inside. */
static void test_ordering_hand_case(void **state) {
    (void)state;
    const float x[6] = {0, 1, 10, 11, 20, 21};
    const int32_t y[6] = {0, 0, 1, 1, 0, 1};
    td_fixture f;
    td_init(&f, x, 6, 1, y, 2, 1, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_ORDERING), ASSAY_OK);
    const assay__test *t = td_test(&f, ASSAY_DET_ORDERING, -1);
    assert_non_null(t);
    assert_close(2.0 / 3.0, t->stat, 1e-12);
    assert_true(t->p >= 0.0 && t->p <= 1.0);
    assert_close(1.0, f.res.det[ASSAY_DET_ORDERING].stat[1], 0.0); /* window */
    /* mutual pairs count once: 3 pairs, not 6 */
    assert_contains(t->detail, "100.00% of the 3 neighbour pairs are within 1 rows");
    assert_contains(t->detail, "random order gives 33.33%");
    for (size_t r = 0; r < 6; r++) assert_close(1.0, f.res.det[ASSAY_DET_ORDERING].score[r], 0.0);
    /* evidence follows the binomial p: 0.2 at the ends, 0.4 inside, so the ends score more */
    assert_true(f.res.det[ASSAY_DET_ORDERING].evidence[0] >
                f.res.det[ASSAY_DET_ORDERING].evidence[2]);
    assert_close(f.res.det[ASSAY_DET_ORDERING].evidence[0],
                 f.res.det[ASSAY_DET_ORDERING].evidence[5], 0.0);
    /* every row's evidence depends on the dataset test */
    for (size_t r = 0; r < 6; r++)
        assert_int_equal(f.res.det[ASSAY_DET_ORDERING].row_test[r],
                         (int32_t)(t - f.res.det[ASSAY_DET_ORDERING].tests));
    td_free(&f);
}

/* Poison appended as a block: 60 tight rows at the end of 1500. */
static void test_ordering_appended_block_found(void **state) {
    (void)state;
    const size_t n = 1500, d = 8, block = 60;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    make_data(x, y, truth, n, d, 5, block, 0, 11);
    td_fixture f;
    td_init(&f, x, n, d, y, 5, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_ORDERING), ASSAY_OK);
    const assay__test *t = td_test(&f, ASSAY_DET_ORDERING, -1);
    assert_non_null(t);
    assert_true(t->p < 1e-6);
    /* the window is about the block's length */
    double w = f.res.det[ASSAY_DET_ORDERING].stat[1];
    if (!(w >= block / 2 && w <= 2 * block)) fail_msg("window %g for a block of %zu", w, block);
    assert_true(td_auroc(&f, ASSAY_DET_ORDERING, truth) > 0.99);
    /* the detector flags the block's rows, few others */
    size_t tp = 0, fp = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *fd = &f.res.findings[i];
        if (fd->det != ASSAY_DET_ORDERING) continue;
        assert_int_equal(fd->sev, ASSAY_SEV_LOW);
        if (truth[fd->row])
            tp++;
        else
            fp++;
    }
    assert_true(tp >= block - 2);
    assert_true(fp <= 5);
    char buf[512];
    for (size_t i = 0; i < f.res.n_findings; i++)
        if (f.res.findings[i].det == ASSAY_DET_ORDERING) {
            assay__explain(&f.ds, &f.res, &f.res.findings[i], buf, sizeof buf);
            assert_contains(buf, "rows of it in the file");
            break;
        }
    td_combine(&f);
    t = td_test(&f, ASSAY_DET_ORDERING, -1);
    assert_true(t->significant);
    /* an order effect alone is an observation (files are sorted by class or time): it warns,
     * and with no other detector's flags in its block the rows are not flagged; they keep their
     * order below the flag line */
    assert_int_equal(t->effect, ASSAY__EFFECT_WARN);
    assert_true(f.res.gate_passed);
    for (size_t i = 0; i < f.res.n_findings; i++)
        assert_int_not_equal(f.res.findings[i].det, ASSAY_DET_ORDERING);
    for (size_t r = 0; r < n; r++) assert_false(f.res.flagged[r]);
    assert_true(td_auroc(&f, ASSAY_DET_ORDERING, truth) > 0.99);
    assert_contains(f.res.det[ASSAY_DET_ORDERING].note, "observation");
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* The same kind of data in random order: the test is not significant, nothing is flagged. */
static void test_ordering_random_order_quiet(void **state) {
    (void)state;
    const size_t n = 1500, d = 8;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        make_data(x, y, truth, n, d, 5, 60, 1, 100 + seed);
        td_fixture f;
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        assert_int_equal(assay_param_set(&o, "seed", (double)seed), ASSAY_OK);
        td_init(&f, x, n, d, y, 5, 10, ASSAY_METRIC_L2, &o, NULL);
        assert_int_equal(td_run(&f, ASSAY_DET_ORDERING), ASSAY_OK);
        const assay__test *t = td_test(&f, ASSAY_DET_ORDERING, -1);
        assert_non_null(t);
        if (!(t->p > 0.01)) fail_msg("seed %llu: p = %g", (unsigned long long)seed, t->p);
        td_combine(&f);
        assert_false(td_test(&f, ASSAY_DET_ORDERING, -1)->significant);
        assert_int_equal(td_findings(&f, ASSAY_DET_ORDERING), 0);
        for (size_t r = 0; r < n; r++)
            assert_true(f.res.det[ASSAY_DET_ORDERING].evidence[r] < 0.5f);
        assert_true(f.res.gate_passed);
        td_free(&f);
    }
    free(x);
    free(y);
    free(truth);
}

/* Permutations use one random stream each: the same p-value for 1 and 2 threads, and a
 * different seed gives a (slightly) different p-value. */
static void test_ordering_threads_and_seed(void **state) {
    (void)state;
    const size_t n = 800, d = 4;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    make_data(x, y, truth, n, d, 4, 0, 1, 5);
    double p[3];
    for (int run = 0; run < 3; run++) {
        td_fixture f;
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        assert_int_equal(assay_param_set(&o, "seed", run == 2 ? 9 : 1), ASSAY_OK);
        td_init(&f, x, n, d, y, 4, 10, ASSAY_METRIC_L2, &o, NULL);
        f.ctx->n_threads = run == 0 ? 1 : 2;
        assert_int_equal(td_run(&f, ASSAY_DET_ORDERING), ASSAY_OK);
        p[run] = td_test(&f, ASSAY_DET_ORDERING, -1)->p;
        td_free(&f);
    }
    assert_true(p[0] == p[1]);
    assert_true(p[0] != p[2]);
    free(x);
    free(y);
    free(truth);
}

/* A file sorted by class is not in random order either: the test fires. */
static void test_ordering_sorted_by_class_fires(void **state) {
    (void)state;
    const size_t n = 1000, d = 6;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint64_t s = 3;
    for (size_t r = 0; r < n; r++) {
        y[r] = (int32_t)(r * 4 / n);
        for (size_t c = 0; c < d; c++)
            x[r * d + c] = (float)((c == (size_t)y[r] ? 8.0 : 0.0) + tu_normal(&s));
    }
    td_fixture f;
    td_init(&f, x, n, d, y, 4, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_ORDERING), ASSAY_OK);
    assert_true(td_test(&f, ASSAY_DET_ORDERING, -1)->p < 1e-6);
    td_free(&f);
    free(x);
    free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordering_hand_case),
        cmocka_unit_test(test_ordering_appended_block_found),
        cmocka_unit_test(test_ordering_random_order_quiet),
        cmocka_unit_test(test_ordering_threads_and_seed),
        cmocka_unit_test(test_ordering_sorted_by_class_fires),
    };
    return cmocka_run_group_tests_name("detect_ordering", tests, NULL, NULL);
}

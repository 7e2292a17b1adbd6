/* SPDX-License-Identifier: Apache-2.0 */
/* ecod: the three tail sums on a hand-worked case with ties, the scores against a brute-force
 * ECDF over many column blocks (and for 1 and 2 threads), planted outliers in one class found
 * with its class test significant, and clean data left alone. */
#include "test_detect_util.h"

/* ---- helpers ---- */

/* Brute-force ECOD score of row i (double precision, O(n d) per row). */
static double brute_ecod(const float *x, size_t n, size_t d, size_t i) {
    double ol = 0.0, orr = 0.0, os = 0.0;
    for (size_t c = 0; c < d; c++) {
        double mean = 0.0, m2 = 0.0, m3 = 0.0;
        for (size_t r = 0; r < n; r++) mean += x[r * d + c];
        mean /= (double)n;
        for (size_t r = 0; r < n; r++) {
            double e = x[r * d + c] - mean;
            m2 += e * e;
            m3 += e * e * e;
        }
        size_t le = 0, ge = 0;
        for (size_t r = 0; r < n; r++) {
            le += x[r * d + c] <= x[i * d + c];
            ge += x[r * d + c] >= x[i * d + c];
        }
        double l = -log((double)le / (double)n), g = -log((double)ge / (double)n);
        ol += l;
        orr += g;
        os += (m3 < 0.0 && m2 > 0.0) ? l : g;
    }
    double best = ol > orr ? ol : orr;
    return os > best ? os : best;
}

/* Gaussian blobs, `classes` classes of n / classes rows in d dims; with `planted` > 0 the first
 * `planted` rows of class 0 get +7 in dims 0..2 (truth marks them). */
static void make_blobs(float *x, int32_t *y, uint8_t *truth, size_t n, size_t d, size_t classes,
                       size_t planted, uint64_t seed) {
    uint64_t s = seed;
    size_t done = 0;
    for (size_t r = 0; r < n; r++) {
        y[r] = (int32_t)(r % classes);
        int poison = y[r] == 0 && done < planted;
        done += (size_t)poison;
        truth[r] = (uint8_t)poison;
        for (size_t c = 0; c < d; c++) {
            double v = (c == (size_t)y[r] ? 4.0 : 0.0) + tu_normal(&s);
            if (poison && c < 3) v += 7.0;
            x[r * d + c] = (float)v;
        }
    }
}

/* ---- tests ---- */

/* Columns A = {1,2,3,4,10} and B = {0,0,1,1,1}.
 * A: F_left = 1/5..4/5, 1; F_right = 1, 4/5..1/5; third central moment (mean 4, deviations
 *    -3,-2,-1,0,6): 180 > 0, so its skew side is the right tail.
 * B: ties: F_left(0) = 2/5, F_left(1) = 1; F_right(0) = 1, F_right(1) = 3/5; deviations
 *    (mean 0.6) give 2 (-0.6)^3 + 3 (0.4)^3 = -0.24 < 0: the left tail.
 * O_left  = -log FA_l - log FB_l: row 0: log 5 + log 2.5, row 1: log 2.5 + log 2.5,
 *           row 2: log(5/3), row 3: log(5/4), row 4: 0.
 * O_right: row 0: 0, row 1: log(5/4), row 2: 2 log(5/3), row 3: log 2.5 + log(5/3),
 *          row 4: log 5 + log(5/3).
 * O_skew (A right, B left): row 0: log 2.5, row 1: log(5/4) + log 2.5, row 2: log(5/3),
 *          row 3: log 2.5, row 4: log 5.
 * Score = the largest: log 12.5, 2 log 2.5, 2 log(5/3), log(25/6), log(25/3). */
static void test_ecod_hand_case(void **state) {
    (void)state;
    const float x[10] = {1, 0, 2, -0.0f, 3, 1, 4, 1, 10, 1};
    const int32_t y[5] = {0, 0, 1, 1, 1};
    td_fixture f;
    td_init(&f, x, 5, 2, y, 2, 2, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_ECOD), ASSAY_OK);
    const float *s = f.res.det[ASSAY_DET_ECOD].score;
    assert_close(log(12.5), s[0], 1e-5);
    assert_close(2.0 * log(2.5), s[1], 1e-5);
    assert_close(2.0 * log(5.0 / 3.0), s[2], 1e-5);
    assert_close(log(25.0 / 6.0), s[3], 1e-5);
    assert_close(log(25.0 / 3.0), s[4], 1e-5);
    assert_int_equal(f.res.det[ASSAY_DET_ECOD].rows_scored, 5);
    /* with 2 classes there is no spread across classes to test against: no tests, no flags */
    assert_int_equal(td_test(&f, ASSAY_DET_ECOD, 0) == NULL, 1);
    assert_int_equal(td_findings(&f, ASSAY_DET_ECOD), 0);
    td_free(&f);
}

/* 300 rows x 150 dims (three column blocks, the last partial), values rounded to tenths so that
 * ties are everywhere, some columns negatively skewed: every score equals the brute force, and
 * 1 and 2 threads give bit-identical scores. A non-finite row is left out. */
static void test_ecod_matches_brute_force(void **state) {
    (void)state;
    const size_t n = 300, d = 150;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint64_t s = 77;
    for (size_t r = 0; r < n; r++) {
        y[r] = (int32_t)(r % 3);
        for (size_t c = 0; c < d; c++) {
            double v = tu_normal(&s);
            if (c % 3 == 1) v = -exp(v); /* negatively skewed */
            if (c % 3 == 2) v = exp(v);  /* positively skewed */
            if (c == 5) v = 0.0;         /* constant */
            x[r * d + c] = (float)(round(v * 10.0) / 10.0);
        }
    }
    float *scores[2];
    for (int run = 0; run < 2; run++) {
        td_fixture f;
        td_init(&f, x, n, d, y, 3, 5, ASSAY_METRIC_L2, NULL, NULL);
        f.ctx->n_threads = run + 1;
        assert_int_equal(td_run(&f, ASSAY_DET_ECOD), ASSAY_OK);
        scores[run] = malloc(n * sizeof(float));
        memcpy(scores[run], f.res.det[ASSAY_DET_ECOD].score, n * sizeof(float));
        td_free(&f);
    }
    for (size_t r = 0; r < n; r++) {
        double want = brute_ecod(x, n, d, r);
        assert_close(want, scores[0][r], 1e-4 * (1.0 + want));
        assert_true(scores[0][r] == scores[1][r]);
    }
    /* a non-finite row: not scored, and the others are scored over the finite rows only */
    {
        td_fixture f;
        td_init(&f, x, n, d, y, 3, 5, ASSAY_METRIC_L2, NULL, NULL);
        f.ds.row_flags[7] |= ASSAY__ROW_NONFINITE;
        assert_int_equal(td_run(&f, ASSAY_DET_ECOD), ASSAY_OK);
        assert_true(isnan(f.res.det[ASSAY_DET_ECOD].score[7]));
        assert_int_equal(f.res.det[ASSAY_DET_ECOD].rows_scored, n - 1);
        float *x2 = malloc((n - 1) * d * sizeof *x2);
        for (size_t r = 0, o = 0; r < n; r++)
            if (r != 7) memcpy(x2 + (o++) * d, x + r * d, d * sizeof *x2);
        assert_close(brute_ecod(x2, n - 1, d, 0), f.res.det[ASSAY_DET_ECOD].score[0], 1e-3);
        assert_close(brute_ecod(x2, n - 1, d, 10), f.res.det[ASSAY_DET_ECOD].score[11], 1e-3);
        free(x2);
        td_free(&f);
    }
    free(scores[0]);
    free(scores[1]);
    free(x);
    free(y);
}

/* 30 rows of class 0 (of 2000 rows in 5 classes) shifted far out in three dims: they score
 * highest, class 0's test is significant, most of them are flagged (low) and few others are. */
static void test_ecod_planted_outliers_found(void **state) {
    (void)state;
    const size_t n = 2000, d = 10, classes = 5, planted = 30;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    make_blobs(x, y, truth, n, d, classes, planted, 21);
    td_fixture f;
    td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_ECOD), ASSAY_OK);
    assert_true(td_auroc(&f, ASSAY_DET_ECOD, truth) > 0.99);
    td_combine(&f);
    const assay__test *t0 = td_test(&f, ASSAY_DET_ECOD, 0);
    assert_non_null(t0);
    assert_true(t0->significant);
    for (size_t c = 1; c < classes; c++)
        assert_false(td_test(&f, ASSAY_DET_ECOD, (int32_t)c)->significant);
    size_t tp = 0, fp = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *fd = &f.res.findings[i];
        if (fd->det != ASSAY_DET_ECOD) continue;
        assert_int_equal(fd->sev, ASSAY_SEV_LOW);
        assert_int_equal(y[fd->row], 0);
        tp += truth[fd->row];
        fp += !truth[fd->row];
    }
    if (!(tp >= planted * 4 / 5 && fp <= 10))
        fail_msg("%zu of %zu planted rows flagged, %zu others", tp, planted, fp);
    /* outliers are an observation about the data: the significant test warns, the default
     * gate passes */
    assert_true(f.res.gate_passed);
    const assay__test *t = td_test(&f, ASSAY_DET_ECOD, 0);
    assert_non_null(t);
    assert_true(t->significant);
    assert_int_equal(t->effect, ASSAY__EFFECT_WARN);
    char buf[512];
    for (size_t i = 0; i < f.res.n_findings; i++)
        if (f.res.findings[i].det == ASSAY_DET_ECOD) {
            assay__explain(&f.ds, &f.res, &f.res.findings[i], buf, sizeof buf);
            assert_contains(buf, "ECOD score");
            assert_contains(buf, "class 0");
            break;
        }
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* Clean blobs (several seeds): no class test is significant and nothing stays flagged. */
static void test_ecod_clean_quiet(void **state) {
    (void)state;
    const size_t n = 2000, d = 10, classes = 5;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        make_blobs(x, y, truth, n, d, classes, 0, 300 + seed);
        td_fixture f;
        td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
        assert_int_equal(td_run(&f, ASSAY_DET_ECOD), ASSAY_OK);
        td_combine(&f);
        for (size_t c = 0; c < classes; c++) {
            const assay__test *t = td_test(&f, ASSAY_DET_ECOD, (int32_t)c);
            assert_non_null(t);
            if (t->significant)
                fail_msg("seed %llu class %zu: %s", (unsigned long long)seed, c, t->detail);
        }
        assert_int_equal(td_findings(&f, ASSAY_DET_ECOD), 0);
        for (size_t r = 0; r < n; r++) assert_true(f.res.det[ASSAY_DET_ECOD].evidence[r] < 0.5f);
        assert_true(f.res.gate_passed);
        td_free(&f);
    }
    free(x);
    free(y);
    free(truth);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecod_hand_case),
        cmocka_unit_test(test_ecod_matches_brute_force),
        cmocka_unit_test(test_ecod_planted_outliers_found),
        cmocka_unit_test(test_ecod_clean_quiet),
    };
    return cmocka_run_group_tests_name("detect_ecod", tests, NULL, NULL);
}

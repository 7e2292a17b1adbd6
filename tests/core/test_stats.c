/* SPDX-License-Identifier: Apache-2.0 */
/* The shared statistics of the detectors (src/detect/stats.c): tail probabilities against
 * values from tables and closed forms, Benjamini-Hochberg on a hand-worked case, the p-value to
 * evidence map's promises, median/MAD and the random generator. */
#include <float.h>

#include "test_util.h"

#include "core/stats.h"

/* ---- tails ---- */

static void test_stats_normal_tail(void **state) {
    (void)state;
    assert_close(0.5, assay__norm_sf(0.0), 1e-15);
    assert_close(0.025, assay__norm_sf(1.959963984540054), 1e-12);
    assert_close(0.0013498980316301, assay__norm_sf(3.0), 1e-15);
    assert_close(0.8413447460685429, assay__norm_sf(-1.0), 1e-13);
    /* far tail: relative accuracy, not just absolute */
    double p = assay__norm_sf(10.0);
    assert_close(7.619853024160527e-24, p, 1e-30);
    assert_true(assay__norm_sf(40.0) >= 0.0);
}

static void test_stats_chi2_tail(void **state) {
    (void)state;
    assert_close(0.05, assay__chi2_sf(3.841458820694124, 1.0), 1e-10);
    assert_close(0.05, assay__chi2_sf(18.307038053275146, 10.0), 1e-10);
    assert_close(0.01, assay__chi2_sf(23.209251158954356, 10.0), 1e-10);
    /* 2 degrees of freedom: exp(-x / 2) */
    assert_close(exp(-1.0), assay__chi2_sf(2.0, 2.0), 1e-13);
    assert_close(exp(-25.0), assay__chi2_sf(50.0, 2.0), 1e-20);
    assert_close(1.0, assay__chi2_sf(0.0, 3.0), 0.0);
    assert_close(0.0, assay__chi2_sf(INFINITY, 3.0), 0.0);
}

static void test_stats_binomial_tail(void **state) {
    (void)state;
    /* P(X >= 3), X ~ Bin(10, 1/2) = 1 - (1 + 10 + 45) / 1024 */
    assert_close(968.0 / 1024.0, assay__binom_sf(3, 10, 0.5), 1e-13);
    assert_close(1.0 / 1024.0, assay__binom_sf(10, 10, 0.5), 1e-15);
    /* P(X >= 1), X ~ Bin(5, 0.2) = 1 - 0.8^5 */
    assert_close(1.0 - pow(0.8, 5), assay__binom_sf(1, 5, 0.2), 1e-13);
    /* P(X >= 2), X ~ Bin(20, 0.01): 1 - 0.99^20 - 20 * 0.01 * 0.99^19 */
    assert_close(1.0 - pow(0.99, 20) - 20 * 0.01 * pow(0.99, 19), assay__binom_sf(2, 20, 0.01),
                 1e-14);
    assert_close(1.0, assay__binom_sf(0, 10, 0.3), 0.0);
    assert_close(0.0, assay__binom_sf(11, 10, 0.3), 0.0);
    assert_close(0.0, assay__binom_sf(1, 10, 0.0), 0.0);
    assert_close(1.0, assay__binom_sf(10, 10, 1.0), 0.0);
}

static void test_stats_incomplete_functions(void **state) {
    (void)state;
    /* Q(1, x) = exp(-x); Q(3, x) = exp(-x) (1 + x + x^2 / 2) */
    assert_close(exp(-0.7), assay__gamma_q(1.0, 0.7), 1e-13);
    assert_close(exp(-5.0) * (1 + 5 + 12.5), assay__gamma_q(3.0, 5.0), 1e-13);
    /* I_x(1, 1) = x; I_0.4(2, 3) = sum_{j=2..4} C(4, j) 0.4^j 0.6^(4-j) = 0.5248 */
    assert_close(0.3, assay__beta_inc(1.0, 1.0, 0.3), 1e-13);
    assert_close(0.5248, assay__beta_inc(2.0, 3.0, 0.4), 1e-13);
    assert_close(1.0 - 0.5248, assay__beta_inc(3.0, 2.0, 0.6), 1e-13);
    assert_close(0.0, assay__beta_inc(2.0, 3.0, 0.0), 0.0);
    assert_close(1.0, assay__beta_inc(2.0, 3.0, 1.0), 0.0);
}

/* ---- Benjamini-Hochberg ---- */

/* The textbook case: m = 10, alpha = 0.05, thresholds i * 0.005. p(1) = 0.001 <= 0.005,
 * p(2) = 0.008 <= 0.010, and no later p(i) is under its threshold (0.039 > 0.015, ...,
 * 0.216 > 0.05), so the cutoff is 0.008: two discoveries. Given out of order. */
static const double k_bh_p[10] = {0.205, 0.039, 0.001, 0.216, 0.041,
                                  0.06,  0.008, 0.212, 0.074, 0.042};

static void test_stats_bh_cutoff_hand_case(void **state) {
    (void)state;
    double work[10];
    assert_close(0.008, assay__bh_cutoff(k_bh_p, 10, 0.05, work), 0.0);
    /* at alpha = 0.3 thresholds are 0.03 i: 0.216 <= 0.3 at i = 10, so everything */
    assert_close(0.216, assay__bh_cutoff(k_bh_p, 10, 0.3, work), 0.0);
    /* nothing reaches alpha = 0.005 (0.001 > 0.0005): the cutoff is below every p */
    double c = assay__bh_cutoff(k_bh_p, 10, 0.005, work);
    assert_close(0.5 * 0.005 / 10.0, c, 0.0);
    assert_true(c < 0.001);
    /* the input is not reordered */
    assert_close(0.205, k_bh_p[0], 0.0);
}

/* q_(i) = min_{j >= i} p_(j) m / j: in sorted order p m / i = 0.01, 0.04, 0.13, 0.1025, 0.084,
 * 0.1, 0.10571, 0.25625, 0.23556, 0.216, then the running minimum from the top. */
static void test_stats_bh_adjust_hand_case(void **state) {
    (void)state;
    static const double sorted_q[10] = {0.01, 0.04,       0.084, 0.084, 0.084,
                                        0.1,  0.74 / 7.0, 0.216, 0.216, 0.216};
    static const double sorted_p[10] = {0.001, 0.008, 0.039, 0.041, 0.042,
                                        0.06,  0.074, 0.205, 0.212, 0.216};
    double q[10];
    unsigned char work[10 * ASSAY__BH_WORK];
    assay__bh_adjust(k_bh_p, 10, q, work);
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++)
            if (k_bh_p[i] == sorted_p[j]) assert_close(sorted_q[j], q[i], 1e-15);
    /* the rows with q <= alpha are exactly those with p <= the cutoff */
    double w[10];
    double cut = assay__bh_cutoff(k_bh_p, 10, 0.05, w);
    for (int i = 0; i < 10; i++) assert_int_equal(q[i] <= 0.05, k_bh_p[i] <= cut);
}

/* ---- evidence from p ---- */

static void test_stats_evidence_from_p(void **state) {
    (void)state;
    const double cuts[] = {1e-6, 1e-3, 0.01, 0.2};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        double cut = cuts[c];
        /* 0.5 exactly at the cutoff, below it just above, 0 at p = 1 */
        assert_true(assay__evidence_from_p(cut, cut) >= 0.5f);
        assert_close(0.5, assay__evidence_from_p(cut, cut), 1e-6);
        assert_true(assay__evidence_from_p(nextafter(cut, 1.0), cut) < 0.5f);
        assert_true(assay__evidence_from_p(cut * 1.0001, cut) < 0.5f);
        assert_close(0.0, assay__evidence_from_p(1.0, cut), 1e-7);
        /* monotone and in [0, 1] over a sweep of p from 1 down to 1e-320 */
        float prev = -1.0f;
        for (double p = 1.0; p > 1e-320; p *= 0.37) {
            float e = assay__evidence_from_p(p, cut);
            assert_true(e >= 0.0f && e <= 1.0f);
            assert_true(e >= prev);
            assert_int_equal(e >= 0.5f, p <= cut);
            prev = e;
        }
        assert_true(assay__evidence_from_p(0.0, cut) <= 1.0f);
        assert_true(assay__evidence_from_p(0.0, cut) >= prev);
    }
    /* NaN p: no evidence */
    assert_close(0.0, assay__evidence_from_p(NAN, 0.01), 0.0);
    /* the linear part: half-way in -log10 p gives 0.25 */
    assert_close(0.25, assay__evidence_from_p(0.1, 0.01), 1e-6);
    /* above the cutoff: p = cutoff^2 gives 0.5 + 0.5 (1 - 1/2) = 0.75 */
    assert_close(0.75, assay__evidence_from_p(1e-4, 0.01), 1e-6);
}

/* ---- median / MAD ---- */

static void test_stats_median(void **state) {
    (void)state;
    double odd[] = {5, 1, 4, 2, 3};
    assert_close(3.0, assay__median(odd, 5), 0.0);
    double even[] = {10, 1, 4, 2};
    assert_close(3.0, assay__median(even, 4), 0.0);
    double ties[] = {7, 7, 7, 1, 7, 9};
    assert_close(7.0, assay__median(ties, 6), 0.0);
    double one[] = {-2.5};
    assert_close(-2.5, assay__median(one, 1), 0.0);
    /* larger cases with many ties against a sorted copy, odd and even lengths */
    uint64_t s = 42;
    for (int len = 1000; len <= 1001; len++) {
        double v[1001], w[1001];
        for (int i = 0; i < len; i++) v[i] = w[i] = floor(tu_uniform(&s) * 50.0);
        for (int i = 1; i < len; i++) /* insertion sort of w */
            for (int j = i; j > 0 && w[j - 1] > w[j]; j--) {
                double t = w[j];
                w[j] = w[j - 1];
                w[j - 1] = t;
            }
        double want = len % 2 ? w[len / 2] : 0.5 * (w[len / 2 - 1] + w[len / 2]);
        assert_close(want, assay__median(v, (size_t)len), 0.0);
    }
}

static void test_stats_median_mad(void **state) {
    (void)state;
    double work[8], med, mad;
    /* {1,2,3,4,100}: median 3, deviations {2,1,0,1,97}, their median 1 -> 1.4826 */
    const double x[] = {1, 2, 3, 4, 100};
    assay__median_mad(x, 5, work, &med, &mad);
    assert_close(3.0, med, 0.0);
    assert_close(1.4826, mad, 1e-12);
    assert_close(100.0, x[4], 0.0); /* x is not touched */
    /* MAD 0 but some spread: the smallest positive deviation */
    const double y[] = {1, 1, 1, 1, 5};
    assay__median_mad(y, 5, work, &med, &mad);
    assert_close(1.0, med, 0.0);
    assert_close(4.0, mad, 0.0);
    /* all equal: DBL_MIN, so robust z stays finite */
    const double z[] = {2, 2, 2};
    assay__median_mad(z, 3, work, &med, &mad);
    assert_close(2.0, med, 0.0);
    assert_true(mad > 0.0 && mad <= DBL_MIN);
    assert_true(isfinite((3.0 - med) / mad) || (3.0 - med) / mad == INFINITY);
}

/* ---- random generator ---- */

static void test_stats_rng(void **state) {
    (void)state;
    assay__rng a = assay__rng_seed(7, 3), b = assay__rng_seed(7, 3), c = assay__rng_seed(7, 4);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = assay__rng_next(&a), y = assay__rng_next(&b), z = assay__rng_next(&c);
        assert_true(x == y);
        differ += x != z;
    }
    assert_true(differ > 90);
    double sum = 0.0;
    size_t hits[7] = {0};
    for (int i = 0; i < 70000; i++) {
        double u = assay__rng_uniform(&a);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        uint64_t r = assay__rng_below(&a, 7);
        assert_true(r < 7);
        hits[r]++;
    }
    assert_close(0.5, sum / 70000.0, 0.01);
    for (int i = 0; i < 7; i++) assert_close(10000.0, (double)hits[i], 500.0);
    double m2 = 0.0;
    for (int i = 0; i < 20000; i++) {
        double z = assay__rng_normal(&a);
        m2 += z * z;
    }
    assert_close(1.0, m2 / 20000.0, 0.05);
}

static void test_stats_evidence_from_threshold(void **state) {
    (void)state;
    assert_close(0.5, assay__evidence_from_threshold(0.8f, 0.8f), 1e-7);
    assert_close(1.0, assay__evidence_from_threshold(1.0f, 0.8f), 1e-7);
    assert_close(0.25, assay__evidence_from_threshold(0.4f, 0.8f), 1e-7);
    assert_close(0.75, assay__evidence_from_threshold(0.9f, 0.8f), 1e-6);
    assert_close(0.0, assay__evidence_from_threshold(NAN, 0.8f), 0);
    assert_close(1.0, assay__evidence_from_threshold(1.0f, 1.0f), 0);
    assert_close(0.45, assay__evidence_from_threshold(0.9f, 1.0f), 1e-7);
}

/* Worked values: s = -log10 p against s0 = -log10 cutoff = 4. */
static void test_stats_evidence_from_p_hand_values(void **state) {
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
        cmocka_unit_test(test_stats_normal_tail),
        cmocka_unit_test(test_stats_chi2_tail),
        cmocka_unit_test(test_stats_binomial_tail),
        cmocka_unit_test(test_stats_incomplete_functions),
        cmocka_unit_test(test_stats_bh_cutoff_hand_case),
        cmocka_unit_test(test_stats_bh_adjust_hand_case),
        cmocka_unit_test(test_stats_evidence_from_p),
        cmocka_unit_test(test_stats_evidence_from_p_hand_values),
        cmocka_unit_test(test_stats_evidence_from_threshold),
        cmocka_unit_test(test_stats_median),
        cmocka_unit_test(test_stats_median_mad),
        cmocka_unit_test(test_stats_rng),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}

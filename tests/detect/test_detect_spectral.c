/* SPDX-License-Identifier: Apache-2.0 */
/* spectral: tau on a hand-worked class (and NaN for small classes and unlabelled rows), the
 * power iteration against a double-precision eigenvector, translation invariance (IBM ART
 * projects un-centred rows), a planted backdoor group found with its class test significant, and
 * clean Gaussian and heavy-tailed classes left alone. */
#include "test_detect_util.h"

#include "core/stats.h"

/* Class 0 of `n0` rows in d dims with standard deviations sd[c]; the first `planted` rows are
 * shifted by `shift` along coordinate `dir` (truth marks them). Classes 1.. have n1 rows each,
 * centred at 10 * class in coordinate 0. With heavy = 1 the noise is Student-t with 5 degrees of
 * freedom (scaled to unit variance) instead of Gaussian. */
static void make_classes(float *x, int32_t *y, uint8_t *truth, size_t n0, size_t n1, size_t classes,
                         size_t d, const double *sd, size_t planted, size_t dir, double shift,
                         int heavy, uint64_t seed) {
    uint64_t s = seed;
    size_t n = n0 + (classes - 1) * n1;
    for (size_t r = 0; r < n; r++) {
        int32_t c = r < n0 ? 0 : (int32_t)(1 + (r - n0) / n1);
        y[r] = c;
        truth[r] = (uint8_t)(c == 0 && r < planted);
        for (size_t j = 0; j < d; j++) {
            double e = tu_normal(&s);
            if (heavy) {
                double chi = 0.0;
                for (int k = 0; k < 5; k++) {
                    double g = tu_normal(&s);
                    chi += g * g;
                }
                e = e / sqrt(chi / 5.0) * sqrt(3.0 / 5.0);
            }
            double v = sd[j] * e + (j == 0 ? 10.0 * c : 0.0);
            if (truth[r] && j == dir) v += shift;
            x[r * d + j] = (float)v;
        }
    }
}

/* ---- tests ---- */

/* Class 0: a in {-5,-3,-2,-1,1,2,3,5} each with b = +1 and b = -1, shifted by (7, -3): mean
 * (7, -3), covariance diag(9.75, 1) (the cross terms cancel), so the top direction is e1 and
 * tau = a^2 exactly. The tail test: median 0, MAD 1.4826 * 2.5, largest |z| = 5 / 3.7 < 4, so no
 * row is beyond the cutoff and p = 1 (capped). Class 1 has 6 rows (< 2 d + 10 = 14): no test,
 * NaN. One more row has no label: NaN. */
static void test_spectral_hand_case(void **state) {
    (void)state;
    const double a[8] = {-5, -3, -2, -1, 1, 2, 3, 5};
    float x[23 * 2];
    int32_t y[23];
    size_t r = 0;
    for (size_t i = 0; i < 8; i++)
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            x[2 * r] = (float)(a[i] + 7.0);
            x[2 * r + 1] = (float)(sgn - 3.0);
            y[r++] = 0;
        }
    for (size_t i = 0; i < 6; i++) {
        x[2 * r] = (float)(100.0 + (double)i);
        x[2 * r + 1] = (float)(i % 2);
        y[r++] = 1;
    }
    x[2 * r] = 1.0f;
    x[2 * r + 1] = 2.0f;
    y[r++] = -1;
    td_fixture f;
    td_init(&f, x, r, 2, y, 2, 3, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRAL), ASSAY_OK);
    const float *s = f.res.det[ASSAY_DET_SPECTRAL].score;
    for (size_t i = 0; i < 16; i++) assert_close(a[i / 2] * a[i / 2], s[i], 1e-4);
    for (size_t i = 16; i < r; i++) assert_true(isnan(s[i]));
    const assay__test *t = td_test(&f, ASSAY_DET_SPECTRAL, 0);
    assert_non_null(t);
    assert_close(0.0, t->stat, 0.0);
    assert_close(1.0, t->p, 0.0);
    assert_null(td_test(&f, ASSAY_DET_SPECTRAL, 1));
    assert_non_null(f.res.det[ASSAY_DET_SPECTRAL].note);
    assert_int_equal(f.res.det[ASSAY_DET_SPECTRAL].rows_scored, 16);
    td_free(&f);
}

/* Top eigenvector of the class covariance in double by plain power iteration on the d x d
 * matrix (many steps; the test data have a clear gap). */
static void brute_top(const float *x, const int32_t *y, size_t n, size_t d, int32_t cls,
                      double *mean, double *v) {
    double *cov = calloc(d * d, sizeof *cov);
    size_t m = 0;
    memset(mean, 0, d * sizeof *mean);
    for (size_t r = 0; r < n; r++)
        if (y[r] == cls) {
            m++;
            for (size_t j = 0; j < d; j++) mean[j] += x[r * d + j];
        }
    for (size_t j = 0; j < d; j++) mean[j] /= (double)m;
    for (size_t r = 0; r < n; r++)
        if (y[r] == cls)
            for (size_t i = 0; i < d; i++)
                for (size_t j = 0; j < d; j++)
                    cov[i * d + j] += (x[r * d + i] - mean[i]) * (x[r * d + j] - mean[j]);
    for (size_t j = 0; j < d; j++) v[j] = 1.0 / sqrt((double)d);
    double *w = malloc(d * sizeof *w);
    for (int it = 0; it < 2000; it++) {
        double nn = 0.0;
        for (size_t i = 0; i < d; i++) {
            w[i] = 0.0;
            for (size_t j = 0; j < d; j++) w[i] += cov[i * d + j] * v[j];
            nn += w[i] * w[i];
        }
        for (size_t i = 0; i < d; i++) v[i] = w[i] / sqrt(nn);
    }
    free(w);
    free(cov);
}

/* A clean Gaussian class with a clear top direction (a random rotation of decreasing standard
 * deviations): no direction has rows beyond the cutoff, so the signature direction is the top
 * one, and tau must match the double-precision eigenvector. */
static void test_spectral_power_matches_eigenvector(void **state) {
    (void)state;
    const size_t n = 600, d = 12;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint64_t s = 0x5EC7;
    /* random orthogonal-ish mixing: rows = z diag(sd) A with A a fixed random matrix */
    double A[12 * 12];
    for (size_t i = 0; i < d * d; i++) A[i] = tu_normal(&s) / sqrt((double)d);
    for (size_t r = 0; r < n; r++) {
        double z[12];
        for (size_t j = 0; j < d; j++) z[j] = tu_normal(&s) * (j == 0 ? 5.0 : 2.0 / (1.0 + j));
        for (size_t j = 0; j < d; j++) {
            double v = 3.0;
            for (size_t i = 0; i < d; i++) v += z[i] * A[i * d + j];
            x[r * d + j] = (float)v;
        }
        y[r] = 0;
    }
    td_fixture f;
    td_init(&f, x, n, d, y, 1, 5, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRAL), ASSAY_OK);
    double mean[12], v[12];
    brute_top(x, y, n, d, 0, mean, v);
    const float *sc = f.res.det[ASSAY_DET_SPECTRAL].score;
    double big = 0.0;
    for (size_t r = 0; r < n; r++) {
        double u = 0.0;
        for (size_t j = 0; j < d; j++) u += (x[r * d + j] - mean[j]) * v[j];
        if (u * u > big) big = u * u;
    }
    for (size_t r = 0; r < n; r++) {
        double u = 0.0;
        for (size_t j = 0; j < d; j++) u += (x[r * d + j] - mean[j]) * v[j];
        assert_close(u * u, sc[r], 1e-4 * big);
    }
    td_free(&f);
    free(x);
    free(y);
}

/* Adding a constant vector to every row changes no score and no test (the rows are centred;
 * IBM ART projects un-centred rows, which adds mean . v to every projection). */
static void test_spectral_translation_invariant(void **state) {
    (void)state;
    const size_t n0 = 800, n1 = 300, classes = 3, d = 10, n = n0 + 2 * n1;
    double sd[10];
    for (size_t j = 0; j < d; j++) sd[j] = 3.0 / (1.0 + 0.5 * (double)j);
    float *x = malloc(n * d * sizeof *x), *x2 = malloc(n * d * sizeof *x2);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    make_classes(x, y, truth, n0, n1, classes, d, sd, 80, 4, 9.0, 0, 77);
    for (size_t i = 0; i < n * d; i++) x2[i] = x[i] + 40.0f + (float)(i % d);
    td_fixture f, g;
    td_init(&f, x, n, d, y, classes, 5, ASSAY_METRIC_L2, NULL, NULL);
    td_init(&g, x2, n, d, y, classes, 5, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRAL), ASSAY_OK);
    assert_int_equal(td_run(&g, ASSAY_DET_SPECTRAL), ASSAY_OK);
    const float *a = f.res.det[ASSAY_DET_SPECTRAL].score, *b = g.res.det[ASSAY_DET_SPECTRAL].score;
    for (size_t r = 0; r < n; r++) assert_close(a[r], b[r], 2e-3 * (1.0 + fabs(a[r])));
    assert_int_equal(f.res.n_tests, g.res.n_tests);
    for (size_t i = 0; i < f.res.n_tests; i++)
        assert_close(f.res.tests[i].stat, g.res.tests[i].stat, 0.0);
    td_free(&f);
    td_free(&g);
    free(x);
    free(x2);
    free(y);
    free(truth);
}

/* 10% of class 0 shifted by `shift` SDs along a coordinate that is not the top natural
 * direction (truth marks them), scanned by spectral alone and combined. */
static void run_shifted(td_fixture *f, double shift, float **x, int32_t **y, uint8_t **truth) {
    const size_t n0 = 2000, n1 = 800, classes = 3, d = 16, n = n0 + 2 * n1;
    double sd[16];
    for (size_t j = 0; j < d; j++) sd[j] = j < 3 ? 4.0 - (double)j : 1.0;
    *x = malloc(n * d * sizeof **x);
    *y = malloc(n * sizeof **y);
    *truth = malloc(n);
    make_classes(*x, *y, *truth, n0, n1, classes, d, sd, 200, 6, shift, 0, 2024);
    td_init(f, *x, n, d, *y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(f, ASSAY_DET_SPECTRAL), ASSAY_OK);
    td_combine(f);
}

/* Shifted by 20 SDs (a trigger the features encode strongly: the group lies a median of more than
 * twice the 4-SD cutoff out): the class test is significant, the other classes' are not, and the
 * flags are the poison. */
static void test_spectral_planted_found(void **state) {
    (void)state;
    float *x;
    int32_t *y;
    uint8_t *truth;
    td_fixture f;
    run_shifted(&f, 20.0, &x, &y, &truth);
    const assay__test *t0 = td_test(&f, ASSAY_DET_SPECTRAL, 0);
    assert_non_null(t0);
    assert_true(t0->significant);
    assert_int_equal(t0->sev, ASSAY_SEV_HIGH);
    assert_int_equal(t0->effect, ASSAY__EFFECT_FAIL);
    assert_true(t0->stat > 0.08);
    for (int32_t c = 1; c < 3; c++) assert_false(td_test(&f, ASSAY_DET_SPECTRAL, c)->significant);
    assert_true(td_class_auroc(&f, ASSAY_DET_SPECTRAL, truth, 0) > 0.97);
    size_t tp = 0, fl = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *fi = &f.res.findings[i];
        if (fi->det != ASSAY_DET_SPECTRAL) continue;
        assert_int_equal(fi->sev, ASSAY_SEV_HIGH);
        fl++;
        tp += truth[fi->row];
    }
    assert_true(tp >= 180);      /* recall >= 0.9 */
    assert_true(tp >= 0.9 * fl); /* precision >= 0.9 */
    char buf[512];
    assay__explain(&f.ds, &f.res, &f.res.findings[0], buf, sizeof buf);
    assert_non_null(strstr(buf, "robust standard deviations"));
    assert_non_null(strstr(buf, "significant"));
    assert_false(f.res.gate_passed);
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* Shifted by 9 SDs of that coordinate, the group is a mode of its own class: 5 robust SDs out
 * along the class's 3rd direction, and its rows' neighbours carry their label. The tail test is
 * significant, but that is what a natural sub-style (a serif 1) looks like: the test warns (low),
 * says why, and no row is flagged; the rows keep their scores, below the flag line. */
static void test_spectral_substyle_warns(void **state) {
    (void)state;
    float *x;
    int32_t *y;
    uint8_t *truth;
    td_fixture f;
    run_shifted(&f, 9.0, &x, &y, &truth);
    const assay__test *t0 = td_test(&f, ASSAY_DET_SPECTRAL, 0);
    assert_non_null(t0);
    assert_true(t0->significant);
    assert_int_equal(t0->sev, ASSAY_SEV_LOW);
    assert_int_equal(t0->effect, ASSAY__EFFECT_WARN);
    assert_contains(t0->detail, "sub-style");
    assert_contains(t0->detail, "0% of their neighbours have another label");
    for (size_t i = 0; i < f.res.n_findings; i++)
        assert_int_not_equal(f.res.findings[i].det, ASSAY_DET_SPECTRAL);
    const assay__det_out *o = &f.res.det[ASSAY_DET_SPECTRAL];
    for (size_t r = 0; r < f.ds.n; r++) assert_true(o->evidence[r] < 0.5f);
    assert_true(td_class_auroc(&f, ASSAY_DET_SPECTRAL, truth, 0) > 0.97); /* still ranked */
    assert_true(f.res.gate_passed);
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* The same 5-SD distance from a group taken from another class: 200 rows of class 2 (centred 20
 * away on the top direction) relabelled 0. Their neighbours are class 2's rows: foreign, so the
 * group is evidence (dirty-label poison in input-like features) and its rows are flagged. */
static void test_spectral_foreign_group_found(void **state) {
    (void)state;
    const size_t n0 = 2000, n1 = 800, classes = 3, d = 16, n = n0 + 2 * n1;
    double sd[16];
    for (size_t j = 0; j < d; j++) sd[j] = j < 3 ? 4.0 - (double)j : 1.0;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    make_classes(x, y, truth, n0, n1, classes, d, sd, 0, 6, 0.0, 0, 2024);
    for (size_t r = n0 + n1; r < n0 + n1 + 200; r++) {
        y[r] = 0;
        truth[r] = 1;
    }
    td_fixture f;
    td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRAL), ASSAY_OK);
    td_combine(&f);
    const assay__test *t0 = td_test(&f, ASSAY_DET_SPECTRAL, 0);
    assert_true(t0->significant);
    assert_int_equal(t0->sev, ASSAY_SEV_HIGH);
    assert_int_equal(t0->effect, ASSAY__EFFECT_FAIL);
    const size_t tp = td_true_findings(&f, ASSAY_DET_SPECTRAL, truth);
    assert_true(tp >= 180);
    assert_true(tp >= 0.9 * td_findings(&f, ASSAY_DET_SPECTRAL));
    assert_false(f.res.gate_passed);
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* Clean classes, Gaussian and heavy-tailed (Student-t, 5 df: about 0.8% of a class lies beyond
 * 4 robust SDs, under the 3% natural-tail tolerance): no test is significant and nothing is
 * flagged. With a tolerance below the t tail the binomial alone would be significant; the
 * sign-flip test of a dataset under 4 classes keeps the symmetric tails quiet (the planted tests
 * above show the one-sided groups it does not). */
static void test_spectral_clean_quiet(void **state) {
    (void)state;
    const size_t n0 = 1500, n1 = 1500, classes = 3, d = 16, n = n0 + 2 * n1;
    double sd[16];
    for (size_t j = 0; j < d; j++) sd[j] = 3.0 / (1.0 + 0.3 * (double)j);
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    for (int heavy = 0; heavy <= 1; heavy++) {
        make_classes(x, y, truth, n0, n1, classes, d, sd, 0, 0, 0.0, heavy, 99 + (uint64_t)heavy);
        td_fixture f;
        td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
        assert_int_equal(td_run(&f, ASSAY_DET_SPECTRAL), ASSAY_OK);
        td_combine(&f);
        for (int32_t c = 0; c < 3; c++) {
            const assay__test *t = td_test(&f, ASSAY_DET_SPECTRAL, c);
            assert_non_null(t);
            assert_false(t->significant);
            assert_true(t->p > 0.5);
        }
        assert_int_equal(td_findings(&f, ASSAY_DET_SPECTRAL), 0);
        assert_true(f.res.gate_passed);
        td_free(&f);
        if (heavy) {
            /* a tolerance below the t tail: the binomial alone fires (p < 0.01 / 3: significant
             * under Benjamini-Hochberg over the three tests), but with three
             * classes the sign-flip test also asks the far rows to be one-sided, and the t
             * tails are symmetric: quiet */
            assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
            assert_int_equal(assay_param_set(&o, "spectral-tolerance", 0.002), ASSAY_OK);
            td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, &o, NULL);
            assert_int_equal(td_run(&f, ASSAY_DET_SPECTRAL), ASSAY_OK);
            const assay__test *t0 = td_test(&f, ASSAY_DET_SPECTRAL, 0);
            const double p_binomial = 16.0 * assay__binom_sf((double)t0->stat * 1500.0, 1500.0,
                                                             0.002); /* 2 x 8 directions */
            if (!(p_binomial < 0.01 / 3.0))
                fail_msg("binomial p %g, share %g", p_binomial, t0->stat);
            assert_contains(t0->null, "sign-flip");
            td_combine(&f);
            assert_false(t0->significant);
            td_free(&f);
        }
    }
    free(x);
    free(y);
    free(truth);
}

/* Degenerate classes: every row identical (zero variance), and a class with two distinct rows
 * repeated: finite scores, no finding, no failure. */
static void test_spectral_degenerate(void **state) {
    (void)state;
    const size_t n = 120, d = 4;
    float x[120 * 4];
    int32_t y[120];
    for (size_t r = 0; r < n; r++) {
        y[r] = r < 60 ? 0 : 1;
        for (size_t j = 0; j < d; j++)
            x[r * d + j] = r < 60 ? 1.5f : (float)((r % 2) * 3.0 + (double)j);
    }
    td_fixture f;
    td_init(&f, x, n, d, y, 2, 3, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRAL), ASSAY_OK);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRE), ASSAY_OK);
    for (size_t r = 0; r < n; r++) {
        assert_true(isfinite(f.res.det[ASSAY_DET_SPECTRAL].score[r]));
        assert_true(isfinite(f.res.det[ASSAY_DET_SPECTRE].score[r]));
    }
    for (size_t r = 0; r < 60; r++) assert_close(0.0, f.res.det[ASSAY_DET_SPECTRAL].score[r], 0.0);
    td_combine(&f);
    assert_int_equal(td_findings(&f, ASSAY_DET_SPECTRAL), 0);
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spectral_hand_case),
        cmocka_unit_test(test_spectral_power_matches_eigenvector),
        cmocka_unit_test(test_spectral_translation_invariant),
        cmocka_unit_test(test_spectral_planted_found),
        cmocka_unit_test(test_spectral_substyle_warns),
        cmocka_unit_test(test_spectral_foreign_group_found),
        cmocka_unit_test(test_spectral_clean_quiet),
        cmocka_unit_test(test_spectral_degenerate),
    };
    return cmocka_run_group_tests_name("detect_spectral", tests, NULL, NULL);
}

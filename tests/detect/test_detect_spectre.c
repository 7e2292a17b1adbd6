/* SPDX-License-Identifier: Apache-2.0 */
/* spectre: QUE on a hand-worked one-dimensional class, invariance under translation and scaling,
 * a 1% poison hidden along a low-variance direction that spectre ranks and spectral does not
 * (both AUROCs computed here), a planted backdoor group found with its class test significant,
 * clean classes left alone, and --expected-poison setting the assumed share. */
#include "test_detect_util.h"

#include "core/stats.h"
#include "detect/class_cov.h"

/* A test's data set: rows, labels and which rows are planted. */
typedef struct spectre_data {
    float *x;
    int32_t *y;
    uint8_t *truth;
} spectre_data;

/* Gaussian class 0 (n0 rows) and classes 1.. (n1 rows each, centred at 12 * class in
 * coordinate 0), standard deviations sd; the first `planted` rows of class 0 are shifted by
 * `shift` along the unit vector dir (truth marks them). Free with free_data. */
static spectre_data make_data(size_t n0, size_t n1, size_t classes, size_t d, const double *sd,
                              size_t planted, const double *dir, double shift, uint64_t seed) {
    uint64_t s = seed;
    size_t n = n0 + (classes - 1) * n1;
    spectre_data data = {malloc(n * d * sizeof(float)), malloc(n * sizeof(int32_t)), malloc(n)};
    assert_true(data.x != NULL && data.y != NULL && data.truth != NULL);
    float *x = data.x;
    int32_t *y = data.y;
    uint8_t *truth = data.truth;
    for (size_t r = 0; r < n; r++) {
        int32_t c = r < n0 ? 0 : (int32_t)(1 + (r - n0) / n1);
        y[r] = c;
        truth[r] = (uint8_t)(c == 0 && r < planted);
        for (size_t j = 0; j < d; j++) {
            double v = sd[j] * tu_normal(&s) + (j == 0 ? 12.0 * c : 0.0);
            if (truth[r]) v += shift * dir[j];
            x[r * d + j] = (float)v;
        }
    }
    return data;
}

static void free_data(spectre_data *data) {
    free(data->x);
    free(data->y);
    free(data->truth);
}

/* ---- tests ---- */

/* d = 1, class 0 holds 1..30: K = 1, nothing is extreme (the largest whitened |x| is
 * 14.5 / sqrt(74.92) = 1.68, below the Bonferroni cutoff z(0.5 / 30) = 2.94, and its
 * Wilson-Hilferty norm z is smaller), so the robust covariance is the plain one, M = 1 and
 * QUE = (x - 15.5)^2 / 74.9167 (population variance (30^2 - 1) / 12). Scaling by 3 and shifting
 * by 100 leaves QUE unchanged. Class 1 has 8 rows (< 2 k + 10 = 12): no test, NaN. */
static void test_spectre_hand_case(void **state) {
    (void)state;
    float x[38], x2[38];
    int32_t y[38];
    for (size_t i = 0; i < 30; i++) {
        x[i] = (float)(i + 1);
        y[i] = 0;
    }
    for (size_t i = 30; i < 38; i++) {
        x[i] = (float)(500 + i);
        y[i] = 1;
    }
    for (size_t i = 0; i < 38; i++) x2[i] = 3.0f * x[i] + 100.0f;
    for (int pass = 0; pass < 2; pass++) {
        td_fixture f;
        td_init(&f, pass ? x2 : x, 38, 1, y, 2, 3, ASSAY_METRIC_L2, NULL, NULL);
        assert_int_equal(td_run(&f, ASSAY_DET_SPECTRE), ASSAY_OK);
        const float *s = f.res.det[ASSAY_DET_SPECTRE].score;
        for (size_t i = 0; i < 30; i++) {
            double e = ((double)i + 1.0 - 15.5) * ((double)i + 1.0 - 15.5) / (899.0 / 12.0);
            assert_close(e, s[i], 1e-5);
        }
        for (size_t i = 30; i < 38; i++) assert_true(isnan(s[i]));
        assert_non_null(td_test(&f, ASSAY_DET_SPECTRE, 0));
        assert_null(td_test(&f, ASSAY_DET_SPECTRE, 1));
        assert_close(1.0, f.res.det[ASSAY_DET_SPECTRE].stat[1], 0.0); /* k = 1 */
        td_free(&f);
    }
}

/* One class of 2000 rows in 48 dims: 12 dominant natural directions (SDs 6 down to 3), 36 of SD
 * 1, and 20 rows (1%) shifted by 8 along a random direction inside the low-variance ones. The
 * poison adds 0.64 to the variance of a direction with variance 1, so it is not among the top
 * 8 directions spectral searches, but robust whitening makes it the largest excess: spectre
 * ranks the poison first, spectral near chance. */
static void test_spectre_beats_spectral_at_one_percent(void **state) {
    (void)state;
    const size_t n0 = 2000, n1 = 300, classes = 2, d = 48, n = n0 + n1;
    double sd[48], dir[48], nn = 0.0;
    uint64_t s = 4242;
    for (size_t j = 0; j < d; j++) {
        sd[j] = j < 12 ? 6.0 - 3.0 * (double)j / 11.0 : 1.0;
        dir[j] = j < 12 ? 0.0 : tu_normal(&s);
        nn += dir[j] * dir[j];
    }
    for (size_t j = 0; j < d; j++) dir[j] /= sqrt(nn);
    spectre_data data = make_data(n0, n1, classes, d, sd, 20, dir, 8.0, 7);
    float *x = data.x;
    int32_t *y = data.y;
    uint8_t *truth = data.truth;
    td_fixture f;
    td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRAL), ASSAY_OK);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRE), ASSAY_OK);
    double a_spectral = td_class_auroc(&f, ASSAY_DET_SPECTRAL, truth, 0);
    double a_spectre = td_class_auroc(&f, ASSAY_DET_SPECTRE, truth, 0);
    print_message("AUROC class 0: spectral %.4f, spectre %.4f\n", a_spectral, a_spectre);
    assert_true(a_spectre > a_spectral);
    assert_true(a_spectre > 0.98);
    assert_true(a_spectral < 0.8);
    td_free(&f);
    free_data(&data);
}

/* 10% of class 0 shifted by 20 along a low-variance coordinate (a trigger the features encode
 * strongly: far beyond twice the 4-SD cutoff): the class test is significant, the flags (high
 * severity) are mostly the poison, and the other classes pass. Translating all rows by a
 * constant changes no QUE score. */
static void test_spectre_planted_found(void **state) {
    (void)state;
    const size_t n0 = 1500, n1 = 600, classes = 3, d = 12, n = n0 + 2 * n1;
    double sd[12], dir[12] = {0};
    for (size_t j = 0; j < d; j++) sd[j] = j < 3 ? 4.0 - (double)j : 1.0;
    dir[7] = 1.0;
    spectre_data data = make_data(n0, n1, classes, d, sd, 150, dir, 20.0, 31);
    float *x = data.x, *x2 = malloc(n * d * sizeof *x2);
    int32_t *y = data.y;
    uint8_t *truth = data.truth;
    for (size_t i = 0; i < n * d; i++) x2[i] = x[i] - 25.0f;
    td_fixture f, g;
    td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    td_init(&g, x2, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRE), ASSAY_OK);
    assert_int_equal(td_run(&g, ASSAY_DET_SPECTRE), ASSAY_OK);
    const float *a = f.res.det[ASSAY_DET_SPECTRE].score, *b = g.res.det[ASSAY_DET_SPECTRE].score;
    for (size_t r = 0; r < n; r++) assert_close(a[r], b[r], 1e-3 * (1.0 + fabs(a[r])));
    td_combine(&f);
    assert_true(td_test(&f, ASSAY_DET_SPECTRE, 0)->significant);
    for (int32_t c = 1; c < 3; c++) assert_false(td_test(&f, ASSAY_DET_SPECTRE, c)->significant);
    assert_true(td_class_auroc(&f, ASSAY_DET_SPECTRE, truth, 0) > 0.99);
    size_t tp = 0, fl = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *fi = &f.res.findings[i];
        if (fi->det != ASSAY_DET_SPECTRE) continue;
        assert_int_equal(fi->sev, ASSAY_SEV_HIGH);
        fl++;
        tp += truth[fi->row];
    }
    /* The row null is a log-normal fitted to the bulk of log QUE (real classes' QUE spans
     * decades); for a Gaussian bulk it is conservative, so recall is 0.8+, not 1. */
    assert_true(tp >= 120);
    assert_true(tp >= 0.95 * fl);
    char buf[512];
    assay__explain(&f.ds, &f.res, &f.res.findings[0], buf, sizeof buf);
    assert_non_null(strstr(buf, "quantum-entropy"));
    assert_non_null(strstr(buf, "significant"));
    td_free(&f);
    td_free(&g);
    free(x2);
    free_data(&data);
}

/* Shifted by 9 instead, the group is a mode of its own class a few robust SDs out whose rows
 * neighbour rows of their label: a natural sub-style to the shared tail-group check
 * (detect/linalg.h), so the significant test only warns and no row is flagged. */
static void test_spectre_substyle_warns(void **state) {
    (void)state;
    const size_t n0 = 1500, n1 = 600, classes = 3, d = 12, n = n0 + 2 * n1;
    double sd[12], dir[12] = {0};
    for (size_t j = 0; j < d; j++) sd[j] = j < 3 ? 4.0 - (double)j : 1.0;
    dir[7] = 1.0;
    spectre_data data = make_data(n0, n1, classes, d, sd, 150, dir, 9.0, 31);
    float *x = data.x;
    int32_t *y = data.y;
    uint8_t *truth = data.truth;
    td_fixture f;
    td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_SPECTRE), ASSAY_OK);
    td_combine(&f);
    const assay__test *t0 = td_test(&f, ASSAY_DET_SPECTRE, 0);
    assert_true(t0->significant);
    assert_int_equal(t0->sev, ASSAY_SEV_LOW);
    assert_int_equal(t0->effect, ASSAY__EFFECT_WARN);
    assert_contains(t0->detail, "sub-style");
    for (size_t i = 0; i < f.res.n_findings; i++)
        assert_int_not_equal(f.res.findings[i].det, ASSAY_DET_SPECTRE);
    assert_true(td_class_auroc(&f, ASSAY_DET_SPECTRE, truth, 0) > 0.99);
    assert_true(f.res.gate_passed);
    td_free(&f);
    free_data(&data);
}

/* Clean Gaussian classes: no test is significant, nothing is flagged, the gate passes; with
 * --expected-poison the assumed share of each class is the share of the class the expected
 * poison would fill if it all went there. */
static void test_spectre_clean_quiet(void **state) {
    (void)state;
    const size_t n0 = 1200, n1 = 1200, classes = 3, d = 20, n = n0 + 2 * n1;
    double sd[20], dir[20] = {0};
    for (size_t j = 0; j < d; j++) sd[j] = 3.0 / (1.0 + 0.2 * (double)j);
    spectre_data data = make_data(n0, n1, classes, d, sd, 0, dir, 0.0, 5);
    float *x = data.x;
    int32_t *y = data.y;
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    for (int pass = 0; pass < 2; pass++) {
        if (pass) assert_int_equal(assay_param_set(&o, "expected-poison", 0.02), ASSAY_OK);
        td_fixture f;
        td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_L2, &o, NULL);
        assert_int_equal(td_run(&f, ASSAY_DET_SPECTRE), ASSAY_OK);
        td_combine(&f);
        for (int32_t c = 0; c < 3; c++) {
            const assay__test *t = td_test(&f, ASSAY_DET_SPECTRE, c);
            assert_non_null(t);
            assert_false(t->significant);
        }
        assert_int_equal(td_findings(&f, ASSAY_DET_SPECTRE), 0);
        assert_true(f.res.gate_passed);
        /* 0.02 of 3600 rows could all sit in one class of 1200: 6% of it */
        assert_close(pass ? 0.06 : 0.25, f.res.det[ASSAY_DET_SPECTRE].stat[3], 1e-12);
        td_free(&f);
    }
    free_data(&data);
}

/* spectral then spectre on one dataset, as a scan runs them: with the class covariances kept
 * from one to the other (every class, or only class 0 within a budget of one class) or each
 * computing its own, every score, evidence and test p-value is the same bytes. Fails if a kept
 * covariance differs from a fresh one or reaches the wrong class (the classes have equal sizes,
 * so a wrong slot is not refused by its row count). */
static void test_shared_class_covs_change_nothing(void **state) {
    (void)state;
    const size_t n0 = 800, n1 = 800, classes = 3, d = 24, n = n0 + 2 * n1;
    double sd[24], dir[24] = {0};
    for (size_t j = 0; j < d; j++) sd[j] = j < 4 ? 5.0 - (double)j : 1.0;
    dir[9] = 1.0;
    spectre_data data = make_data(n0, n1, classes, d, sd, 60, dir, 12.0, 77);
    float *x = data.x;
    int32_t *y = data.y;
    uint8_t *truth = data.truth;
    const size_t one_class = (d * d + d) * sizeof(double);
    const size_t budgets[3] = {0, ASSAY__CLASS_COV_BUDGET, one_class}; /* 0: no cache */
    td_fixture f[3];
    for (int v = 0; v < 3; v++) {
        td_init(&f[v], x, n, d, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
        assay__det_input in = assay__result_input(f[v].ctx, &f[v].ds, &f[v].res);
        in.class_covs = budgets[v] ? assay__class_covs_new(classes, d, budgets[v]) : NULL;
        assert_true(budgets[v] == 0 || in.class_covs != NULL);
        const assay_detector dets[2] = {ASSAY_DET_SPECTRAL, ASSAY_DET_SPECTRE};
        for (int k = 0; k < 2; k++)
            assert_int_equal(assay__detector_get(dets[k])->desc->run(&in, &f[v].res.det[dets[k]]),
                             ASSAY_OK);
        assay__class_covs_free(in.class_covs);
    }
    for (int v = 1; v < 3; v++) {
        const assay_detector dets[2] = {ASSAY_DET_SPECTRAL, ASSAY_DET_SPECTRE};
        for (int k = 0; k < 2; k++) {
            const assay__det_out *a = &f[0].res.det[dets[k]], *b = &f[v].res.det[dets[k]];
            assert_memory_equal(a->score, b->score, n * sizeof *a->score);
            assert_memory_equal(a->evidence, b->evidence, n * sizeof *a->evidence);
            assert_int_equal(a->n_tests, b->n_tests);
            for (size_t t = 0; t < a->n_tests; t++)
                assert_memory_equal(&a->tests[t].p, &b->tests[t].p, sizeof a->tests[t].p);
        }
    }
    /* and the poison is found, so the comparison is of working detectors */
    assert_true(td_class_auroc(&f[1], ASSAY_DET_SPECTRE, truth, 0) > 0.95);
    for (int v = 0; v < 3; v++) td_free(&f[v]);
    free_data(&data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spectre_hand_case),
        cmocka_unit_test(test_spectre_beats_spectral_at_one_percent),
        cmocka_unit_test(test_spectre_planted_found),
        cmocka_unit_test(test_spectre_substyle_warns),
        cmocka_unit_test(test_spectre_clean_quiet),
        cmocka_unit_test(test_shared_class_covs_change_nothing),
    };
    return cmocka_run_group_tests_name("detect_spectre", tests, NULL, NULL);
}

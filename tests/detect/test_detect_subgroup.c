/* SPDX-License-Identifier: Apache-2.0 */
/* subgroup (SCAn) on constructed classes with known answers: classes sharing one within-class
 * covariance, one of them carrying a planted group at a known offset. The planted class's test is
 * significant and its flags are the group; clean classes, classes that are all made of two natural
 * styles, and a handful of shifted rows (below the minimum group) are left alone; the global model
 * can be fitted on trusted rows; fewer than 4 classes is not run. */
#include "test_detect_util.h"

#include "core/stats.h"

#define SG_D 8

/* `classes` classes of n rows in SG_D dims: class c is centred at 25 c along coordinate 0 and
 * varies with the shared covariance A A^T (A a fixed random mixing with unit-scale columns).
 * The first `planted` rows of class 0 are moved by `shift` within-class SDs along the direction
 * A e_5 (truth marks them). With styles, every class is an even mix of two styles `styles` SDs
 * apart along A e_3. */
static void make_data(float *x, int32_t *y, uint8_t *truth, size_t classes, size_t n,
                      size_t planted, double shift, double styles, uint64_t seed) {
    uint64_t s = seed;
    double A[SG_D * SG_D];
    for (size_t i = 0; i < SG_D * SG_D; i++) A[i] = (i % (SG_D + 1) == 0 ? 1.0 : 0.0);
    for (size_t i = 0; i < SG_D * SG_D; i++) A[i] += 0.3 * tu_normal(&s);
    for (size_t c = 0; c < classes; c++)
        for (size_t i = 0; i < n; i++) {
            const size_t r = c * n + i;
            double z[SG_D];
            for (size_t j = 0; j < SG_D; j++) z[j] = tu_normal(&s);
            truth[r] = (uint8_t)(c == 0 && i < planted);
            if (truth[r]) z[5] += shift;
            if (styles > 0.0 && i % 2) z[3] += styles;
            y[r] = (int32_t)c;
            for (size_t j = 0; j < SG_D; j++) {
                double v = j == 0 ? 25.0 * (double)c : 0.0;
                for (size_t k = 0; k < SG_D; k++) v += A[j * SG_D + k] * z[k];
                x[r * SG_D + j] = (float)v;
            }
        }
}

typedef struct sg_case {
    td_fixture f;
    float *x;
    int32_t *y;
    uint8_t *truth;
    size_t n;
} sg_case;

static void run_case(sg_case *k, size_t classes, size_t n, size_t planted, double shift,
                     double styles, const uint8_t *trusted) {
    k->n = classes * n;
    k->x = malloc(k->n * SG_D * sizeof *k->x);
    k->y = malloc(k->n * sizeof *k->y);
    k->truth = malloc(k->n);
    make_data(k->x, k->y, k->truth, classes, n, planted, shift, styles, 0x5CA7);
    td_init(&k->f, k->x, k->n, SG_D, k->y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    if (trusted != NULL) {
        k->f.res.trusted.row = trusted;
        k->f.res.trusted.n_rows = k->n;
    }
    assert_int_equal(td_run(&k->f, ASSAY_DET_SUBGROUP), ASSAY_OK);
    td_combine(&k->f);
    k->f.res.trusted.row = NULL; /* the caller's */
}

static void free_case(sg_case *k) {
    td_free(&k->f);
    free(k->x);
    free(k->y);
    free(k->truth);
}

static size_t sig_classes(const td_fixture *f) {
    size_t m = 0;
    const assay__det_out *o = &f->res.det[ASSAY_DET_SUBGROUP];
    for (size_t i = 0; i < o->n_tests; i++) m += o->tests[i].significant;
    return m;
}

/* 3% of class 0 (60 of 2,000 rows, 0.5% of the data) moved by 10 within-class SDs: the class's
 * test is significant at high severity, no other is, and the flags are the planted rows. */
static void test_subgroup_planted_found(void **state) {
    (void)state;
    sg_case k;
    run_case(&k, 6, 2000, 60, 10.0, 0.0, NULL);
    const assay__test *t0 = td_test(&k.f, ASSAY_DET_SUBGROUP, 0);
    assert_non_null(t0);
    assert_true(t0->significant);
    assert_int_equal(t0->sev, ASSAY_SEV_HIGH);
    assert_true(t0->stat > 1.5); /* the separation over the other classes' median */
    assert_int_equal(sig_classes(&k.f), 1);
    const size_t tp = td_true_findings(&k.f, ASSAY_DET_SUBGROUP, k.truth);
    assert_true(tp >= 57);                                                     /* recall >= 0.95 */
    assert_true(tp >= 0.95 * (double)k.f.res.det[ASSAY_DET_SUBGROUP].flagged); /* precision */
    assert_true(td_class_auroc(&k.f, ASSAY_DET_SUBGROUP, k.truth, 0) > 0.99);
    /* the EM's global model is in the summary: it converged, in all 8 dimensions */
    const assay__det_out *o = &k.f.res.det[ASSAY_DET_SUBGROUP];
    assert_true(o->stat[3] >= 1 && o->stat[3] < 50);
    assert_close(8.0, o->stat[4], 0.0);
    char buf[512];
    assay__explain(&k.f.ds, &k.f.res, &k.f.res.findings[0], buf, sizeof buf);
    assert_non_null(strstr(buf, "subgroup"));
    assert_false(k.f.res.gate_passed);
    free_case(&k);
}

/* The same data without the group: nothing is significant, nothing flagged. */
static void test_subgroup_clean_classes_pass(void **state) {
    (void)state;
    sg_case k;
    run_case(&k, 6, 2000, 0, 0.0, 0.0, NULL);
    assert_int_equal(sig_classes(&k.f), 0);
    assert_int_equal(k.f.res.det[ASSAY_DET_SUBGROUP].flagged, 0);
    assert_true(k.f.res.det[ASSAY_DET_SUBGROUP].stat[1] < 1.3);
    free_case(&k);
}

/* Every class an even mix of two natural styles 6 SDs apart: each class splits, and cleanly,
 * but no class more than the others: the index across classes holds the false-alarm rate. */
static void test_subgroup_natural_styles_pass(void **state) {
    (void)state;
    sg_case k;
    run_case(&k, 6, 2000, 0, 0.0, 6.0, NULL);
    assert_int_equal(sig_classes(&k.f), 0);
    assert_int_equal(k.f.res.det[ASSAY_DET_SUBGROUP].flagged, 0);
    /* each class was split along its styles: the smaller subgroup holds about half of it */
    for (size_t i = 0; i < k.f.res.det[ASSAY_DET_SUBGROUP].n_tests; i++) {
        const char *detail = k.f.res.det[ASSAY_DET_SUBGROUP].tests[i].detail;
        if (strstr(detail, "sub-style") != NULL) continue; /* judged as one, also right */
        const char *of = strstr(detail, "subgroup of ");
        assert_non_null(of);
        assert_true(atoi(of + strlen("subgroup of ")) > 800);
    }
    free_case(&k);
}

/* Five shifted rows are below the minimum group (subgroup-min-rows 10, 0.5% of the class): they
 * are an outlier detector's business and do not make a subgroup test significant. */
static void test_subgroup_handful_is_not_a_group(void **state) {
    (void)state;
    sg_case k;
    run_case(&k, 6, 2000, 5, 10.0, 0.0, NULL);
    assert_int_equal(sig_classes(&k.f), 0);
    free_case(&k);
}

/* The global model fitted on trusted rows (every clean row of the data, as --trusted-ids would
 * mark them) finds the same group, and says where its model came from. */
static void test_subgroup_trusted_rows(void **state) {
    (void)state;
    const size_t n = 6 * 2000;
    uint8_t *trusted = malloc(n);
    for (size_t r = 0; r < n; r++) trusted[r] = (uint8_t)(r % 2000 >= 60 || r >= 2000);
    sg_case k;
    run_case(&k, 6, 2000, 60, 10.0, 0.0, trusted);
    const assay__det_out *o = &k.f.res.det[ASSAY_DET_SUBGROUP];
    assert_non_null(o->note);
    assert_non_null(strstr(o->note, "trusted rows"));
    assert_close((double)(n - 60), o->stat[5], 0.0); /* rows of the model */
    assert_true(td_test(&k.f, ASSAY_DET_SUBGROUP, 0)->significant);
    assert_int_equal(sig_classes(&k.f), 1);
    assert_true(td_true_findings(&k.f, ASSAY_DET_SUBGROUP, k.truth) >= 57);
    free_case(&k);
    free(trusted);
}

/* Three classes: there is no index across classes, so the detector does not run (a note). */
static void test_subgroup_needs_four_classes(void **state) {
    (void)state;
    sg_case k;
    run_case(&k, 3, 500, 30, 10.0, 0.0, NULL);
    const assay__det_out *o = &k.f.res.det[ASSAY_DET_SUBGROUP];
    assert_int_equal(o->ran, 0);
    assert_non_null(o->note);
    assert_int_equal(o->n_tests, 0);
    free_case(&k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subgroup_planted_found),
        cmocka_unit_test(test_subgroup_clean_classes_pass),
        cmocka_unit_test(test_subgroup_natural_styles_pass),
        cmocka_unit_test(test_subgroup_handful_is_not_a_group),
        cmocka_unit_test(test_subgroup_trusted_rows),
        cmocka_unit_test(test_subgroup_needs_four_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

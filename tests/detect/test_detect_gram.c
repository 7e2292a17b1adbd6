/* SPDX-License-Identifier: Apache-2.0 */
/* gram on constructed classes: a planted group whose features keep the class's mean and
 * per-feature spread but co-activate (features 2 and 3 move together, sign and all, 8 SDs at a
 * time) is found through the second-order sketch with its class test significant; clean classes
 * are left alone; trusted rows become the class reference. */
#include "test_detect_util.h"

#include "core/stats.h"

#define GR_D 12

/* `classes` classes of n rows, class c centred at 20 c along coordinate 0, unit Gaussian noise.
 * The first `planted` rows of class 0 get features 2 and 3 replaced by the same value a and -a
 * per row, a = +-8 (so their means stay 0 and their product is -64 where the class has ~0). */
static void make_data(float *x, int32_t *y, uint8_t *truth, size_t classes, size_t n,
                      size_t planted, uint64_t seed) {
    uint64_t s = seed;
    for (size_t c = 0; c < classes; c++)
        for (size_t i = 0; i < n; i++) {
            const size_t r = c * n + i;
            y[r] = (int32_t)c;
            truth[r] = (uint8_t)(c == 0 && i < planted);
            for (size_t j = 0; j < GR_D; j++)
                x[r * GR_D + j] = (float)(tu_normal(&s) + (j == 0 ? 20.0 * (double)c : 0.0));
            if (truth[r]) {
                const float a = (i % 2) ? 8.0f : -8.0f;
                x[r * GR_D + 2] = a;
                x[r * GR_D + 3] = -a;
            }
        }
}

static void run(td_fixture *f, float **x, int32_t **y, uint8_t **truth, size_t planted,
                const uint8_t *trusted) {
    const size_t classes = 8, n = 1500, rows = classes * n;
    *x = malloc(rows * GR_D * sizeof **x);
    *y = malloc(rows * sizeof **y);
    *truth = malloc(rows);
    make_data(*x, *y, *truth, classes, n, planted, 0x6A4);
    td_init(f, *x, rows, GR_D, *y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
    f->res.trusted.row = trusted;
    assert_int_equal(td_run(f, ASSAY_DET_GRAM), ASSAY_OK);
    td_combine(f);
    f->res.trusted.row = NULL;
}

static size_t significant(const td_fixture *f) {
    size_t m = 0;
    for (size_t i = 0; i < f->res.det[ASSAY_DET_GRAM].n_tests; i++)
        m += f->res.det[ASSAY_DET_GRAM].tests[i].significant;
    return m;
}

static void test_gram_coactivation_found(void **state) {
    (void)state;
    td_fixture f;
    float *x;
    int32_t *y;
    uint8_t *truth;
    run(&f, &x, &y, &truth, 90, NULL);
    const assay__test *t0 = td_test(&f, ASSAY_DET_GRAM, 0);
    assert_non_null(t0);

    assert_true(t0->significant);
    assert_int_equal(significant(&f), 1);
    const size_t tp = td_true_findings(&f, ASSAY_DET_GRAM, truth);
    assert_true(tp >= 81); /* recall >= 0.9 */
    assert_true(tp >= 0.9 * (double)f.res.det[ASSAY_DET_GRAM].flagged);
    assert_true(td_class_auroc(&f, ASSAY_DET_GRAM, truth, 0) > 0.98);
    char buf[512];
    assay__explain(&f.ds, &f.res, &f.res.findings[0], buf, sizeof buf);
    assert_non_null(strstr(buf, "second-order"));
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

static void test_gram_clean_quiet(void **state) {
    (void)state;
    td_fixture f;
    float *x;
    int32_t *y;
    uint8_t *truth;
    run(&f, &x, &y, &truth, 0, NULL);
    assert_int_equal(significant(&f), 0);
    assert_int_equal(f.res.det[ASSAY_DET_GRAM].flagged, 0);
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* Every clean row trusted: each class's reference comes from its trusted rows (the summary
 * counts them) and the group is still found. */
static void test_gram_trusted_reference(void **state) {
    (void)state;
    const size_t rows = 8 * 1500;
    uint8_t *trusted = malloc(rows);
    for (size_t r = 0; r < rows; r++) trusted[r] = (uint8_t)(r >= 90);
    td_fixture f;
    float *x;
    int32_t *y;
    uint8_t *truth;
    run(&f, &x, &y, &truth, 90, trusted);
    assert_close(8.0, f.res.det[ASSAY_DET_GRAM].stat[4], 0.0);
    assert_true(td_test(&f, ASSAY_DET_GRAM, 0)->significant);
    assert_true(td_true_findings(&f, ASSAY_DET_GRAM, truth) >= 81);
    td_free(&f);
    free(x);
    free(y);
    free(truth);
    free(trusted);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gram_coactivation_found),
        cmocka_unit_test(test_gram_clean_quiet),
        cmocka_unit_test(test_gram_trusted_reference),
    };
    return cmocka_run_group_tests_name("detect_gram", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* near-duplicate: the radius and score on a hand-made lattice, exact copies left to the
 * duplicate detector, planted same-label near copies (found, the share test significant),
 * planted conflicting near copies (high findings that stand), and clean data (quiet). */
#include "test_detect_util.h"

/* ---- helpers ---- */

/* Gaussian blobs: n rows, d dims, `classes` classes (centre 5 on the class's axis). */
static void make_blobs(float *x, int32_t *y, size_t n, size_t d, size_t classes, uint64_t seed) {
    uint64_t s = seed;
    for (size_t r = 0; r < n; r++) {
        y[r] = (int32_t)(r % classes);
        for (size_t c = 0; c < d; c++)
            x[r * d + c] = (float)((c == (size_t)y[r] ? 5.0 : 0.0) + tu_normal(&s));
    }
}

/* Overwrites `count` rows (every 37th from row 5) with a copy of the row 500 rows later plus
 * noise of size eps; with `conflict` the copy takes the next class's label, else the source's.
 * truth marks the copies. */
static void plant_near_copies(float *x, int32_t *y, uint8_t *truth, size_t n, size_t d,
                              size_t classes, size_t count, double eps, int conflict,
                              uint64_t seed) {
    uint64_t s = seed;
    memset(truth, 0, n);
    for (size_t i = 0; i < count; i++) {
        size_t r = 5 + 37 * i, src = (r + 500) % n;
        for (size_t c = 0; c < d; c++) x[r * d + c] = x[src * d + c] + (float)(eps * tu_normal(&s));
        y[r] = conflict ? (y[src] + 1) % (int32_t)classes : y[src];
        truth[r] = 1;
    }
}

/* ---- tests ---- */

/* 12 points on a line, 10 apart, plus row 12 at 20.5 (0.5 from row 2), squared L2, k = 2.
 * Nearest-neighbour distances: 100 for every lattice row but row 2 (0.25) and row 3 (90.25, to
 * row 12), 0.25 for row 12: the median of the positive ones is 100, so the radius is
 * 0.13 x 100 = 13. Rows 2 and 12 are a near-duplicate pair (0.25 <= 13), nothing else is.
 * Scores exp(-d1 / 100). Labels differ (0 vs 1): each gets a low and a high finding; the high
 * one hangs on the conflict test. Its reference: the kNN lists (ties to the lower row) hold 15
 * unordered pairs, {0,1} {0,2} {1,2} {2,12} {2,3} {3,12} {3,4} ... {10,11} {9,11}; the 14
 * beyond the radius include one conflict ({3,12}), so with 1 of 1 near pair conflicting
 * p = P(X >= 1) = (1 + 1) / (1 + 14) = 2/15: not significant. */
static void test_near_duplicate_hand_case(void **state) {
    (void)state;
    float x[13];
    int32_t y[13];
    for (int i = 0; i < 12; i++) {
        x[i] = (float)(10 * i);
        y[i] = 0;
    }
    x[12] = 20.5f;
    y[12] = 1;
    td_fixture f;
    td_init(&f, x, 13, 1, y, 2, 2, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_NEAR_DUPLICATE), ASSAY_OK);
    const assay__det_out *sum = &f.res.det[ASSAY_DET_NEAR_DUPLICATE];
    assert_close(100.0, sum->stat[0], 1e-6);
    assert_close(13.0, sum->threshold, 1e-6);
    assert_close(2.0, sum->stat[1], 0.0); /* rows */
    assert_close(2.0, sum->stat[2], 0.0); /* conflicting rows */
    assert_close(1.0, sum->stat[3], 0.0); /* pairs */
    const float *s = f.res.det[ASSAY_DET_NEAR_DUPLICATE].score;
    assert_close(exp(-0.25 / 100.0), s[2], 1e-6);
    assert_close(exp(-0.25 / 100.0), s[12], 1e-6);
    assert_close(exp(-1.0), s[5], 1e-6);
    const float *ev = f.res.det[ASSAY_DET_NEAR_DUPLICATE].evidence;
    assert_close(0.5 + 0.5 * (1.0 - 0.25 / 13.0), ev[2], 1e-6);
    assert_close(0.5 * 13.0 / 100.0, ev[5], 1e-6);
    size_t low = 0, high = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *fd = &f.res.findings[i];
        assert_true(fd->row == 2 || fd->row == 12);
        assert_int_equal(fd->ref, fd->row == 2 ? 12 : 2);
        assert_close(0.25, fd->a, 1e-6);
        low += fd->sev == ASSAY_SEV_LOW;
        high += fd->sev == ASSAY_SEV_HIGH;
        char buf[512];
        assay__explain(&f.ds, &f.res, fd, buf, sizeof buf);
        assert_contains(buf, fd->row == 2 ? "row 12" : "row 2");
        if (fd->sev == ASSAY_SEV_HIGH) assert_contains(buf, "but is labelled");
    }
    assert_int_equal(low, 2);
    assert_int_equal(high, 2);
    /* two dataset tests: the conflict test (p = 2/15) and the tail test: 2 rows have their
     * nearest other row within R = 13, the same 2 within 26 and 52 (the lattice rows are 90.25
     * and 100 away), so the tail predicts Y / Z = 1 and nothing is in excess: p = 1 */
    size_t tests = 0;
    for (size_t i = 0; i < f.res.n_tests; i++)
        if (f.res.tests[i].det == ASSAY_DET_NEAR_DUPLICATE) {
            tests++;
            assert_int_equal(f.res.tests[i].cls, -1);
        }
    assert_int_equal(tests, 2);
    assert_close(2.0 / 15.0, f.res.tests[0].p, 1e-12);
    assert_close(1.0, f.res.tests[0].stat, 0.0);
    assert_contains(f.res.tests[0].detail, "1 of 1 labelled near-duplicate pairs");
    assert_contains(f.res.tests[0].detail, "1 of the 14 closest pairs");
    assert_close(1.0, f.res.tests[1].p, 0.0);
    assert_close(1.0, f.res.tests[1].stat, 0.0);
    assert_contains(f.res.tests[1].detail, "2 rows have a near duplicate within the radius 13");
    td_combine(&f);
    /* the conflict findings depend on a test that is not significant: dropped */
    assert_int_equal(f.res.det[ASSAY_DET_NEAR_DUPLICATE].by_sev[ASSAY_SEV_HIGH], 0);
    assert_int_equal(f.res.det[ASSAY_DET_NEAR_DUPLICATE].by_sev[ASSAY_SEV_LOW], 2);
    td_free(&f);
}

/* The median is over positive nearest-neighbour distances: 10 lattice rows 10 apart (squared
 * L2), rows 0..5 each copied twice exactly (18 rows at distance 0 from a copy), and row 22 at
 * 80.5 next to row 8. The positive nearest distances are 100 (rows 6, 7), 90.25 (row 9, to row
 * 22) and 0.25 (rows 8 and 22): median 90.25, radius 0.13 x 90.25 = 11.7325, so rows 8 and 22
 * are near duplicates. Over all rows the median would be 0 and nothing but exact copies would be
 * near. */
static void test_near_duplicate_median_ignores_exact_copies(void **state) {
    (void)state;
    float x[23];
    int32_t y[23];
    for (int i = 0; i < 10; i++) x[i] = (float)(10 * i);
    for (int i = 0; i < 12; i++) x[10 + i] = (float)(10 * (i / 2));
    x[22] = 80.5f;
    for (int i = 0; i < 23; i++) y[i] = i % 2;
    y[22] = y[8];
    td_fixture f;
    td_init(&f, x, 23, 1, y, 2, 3, ASSAY_METRIC_L2, NULL, NULL);
    for (int i = 0; i < 12; i++)
        memcpy(f.ds.content_digest[10 + i], f.ds.content_digest[i / 2], 32);
    assert_int_equal(td_run(&f, ASSAY_DET_NEAR_DUPLICATE), ASSAY_OK);
    assert_close(90.25, f.res.det[ASSAY_DET_NEAR_DUPLICATE].stat[0], 1e-6);
    assert_close(0.13 * 90.25, f.res.det[ASSAY_DET_NEAR_DUPLICATE].threshold, 1e-6);
    assert_int_equal(td_findings(&f, ASSAY_DET_NEAR_DUPLICATE), 2);
    for (size_t i = 0; i < f.res.n_findings; i++)
        assert_true(f.res.findings[i].row == 8 || f.res.findings[i].row == 22);
    /* the copies score 1 (distance 0) */
    for (int i = 0; i < 6; i++)
        assert_close(1.0, f.res.det[ASSAY_DET_NEAR_DUPLICATE].score[i], 0.0);
    td_free(&f);
}

/* Exact copies (same feature digest) with different labels score 1 but are the duplicate
 * detector's: no near-duplicate finding, not counted in the tests. A scaled copy under cosine
 * (distance 0, different digest) is a near duplicate. */
static void test_near_duplicate_exact_copies_left_to_duplicate(void **state) {
    (void)state;
    const size_t n = 400, d = 6;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    make_blobs(x, y, n, d, 4, 3);
    memcpy(x + 10 * d, x + 20 * d, d * sizeof *x); /* rows 10 and 20: exact copies */
    y[10] = (y[20] + 1) % 4;
    for (size_t c = 0; c < d; c++) x[30 * d + c] = 2.0f * x[40 * d + c]; /* scaled copy */
    y[30] = y[40];
    td_fixture f;
    td_init(&f, x, n, d, y, 4, 5, ASSAY_METRIC_COSINE, NULL, NULL);
    memcpy(f.ds.content_digest[10], f.ds.content_digest[20], 32);
    assert_int_equal(td_run(&f, ASSAY_DET_NEAR_DUPLICATE), ASSAY_OK);
    const float *s = f.res.det[ASSAY_DET_NEAR_DUPLICATE].score;
    assert_close(1.0, s[10], 0.0);
    assert_close(1.0, s[20], 0.0);
    assert_true(s[30] > 0.999f);
    for (size_t i = 0; i < f.res.n_findings; i++) {
        size_t r = f.res.findings[i].row;
        assert_true(r != 10 && r != 20);
    }
    assert_true(f.res.det[ASSAY_DET_NEAR_DUPLICATE].evidence[10] < 0.5f);
    assert_true(f.res.det[ASSAY_DET_NEAR_DUPLICATE].evidence[30] >= 0.5f);
    assert_true(f.res.det[ASSAY_DET_NEAR_DUPLICATE].evidence[40] >= 0.5f);
    assert_close(0.0, f.res.tests[0].stat, 0.0); /* no conflicting near pair counted */
    td_free(&f);
    free(x);
    free(y);
}

/* 50 same-label near copies in 3000 rows: the copies score at the top (AUROC at its bound:
 * each source ties with its copy), every copy is flagged low, the tail test is significant (in
 * 12 IID dimensions hardly any row has another within 2 radii: the copies are nearly all of
 * them) and the conflict test is not. */
static void test_near_duplicate_planted_same_label(void **state) {
    (void)state;
    const size_t n = 3000, d = 12, classes = 4, count = 50;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    make_blobs(x, y, n, d, classes, 8);
    plant_near_copies(x, y, truth, n, d, classes, count, 1e-3, 0, 9);
    td_fixture f;
    td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_COSINE, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_NEAR_DUPLICATE), ASSAY_OK);
    double bound = 1.0 - 0.5 * (double)count / (double)(n - count);
    assert_true(td_auroc(&f, ASSAY_DET_NEAR_DUPLICATE, truth) >= bound - 1e-3);
    td_combine(&f);
    const assay__test *conf = &f.res.tests[0], *share = &f.res.tests[1];
    assert_false(conf->significant);
    assert_true(share->significant);
    /* many near copies with one label is an observation about the data: it warns */
    assert_int_equal(share->effect, ASSAY__EFFECT_WARN);
    assert_true(f.res.gate_passed);
    size_t tp = 0, fp = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *fd = &f.res.findings[i];
        if (fd->det != ASSAY_DET_NEAR_DUPLICATE) continue;
        assert_int_equal(fd->sev, ASSAY_SEV_LOW);
        tp += truth[fd->row];
        fp += !truth[fd->row];
    }
    assert_int_equal(tp, count);
    assert_true(fp >= count && fp <= count + 5); /* the sources, and little else */
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* 40 near copies that carry another class's label: high findings that stand (the conflict
 * test is significant), so the gate fails on severity too. */
static void test_near_duplicate_planted_conflicts(void **state) {
    (void)state;
    const size_t n = 3000, d = 12, classes = 4, count = 40;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    uint8_t *truth = malloc(n);
    make_blobs(x, y, n, d, classes, 18);
    plant_near_copies(x, y, truth, n, d, classes, count, 1e-3, 1, 19);
    td_fixture f;
    td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_COSINE, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_NEAR_DUPLICATE), ASSAY_OK);
    td_combine(&f);
    const assay__test *conf = &f.res.tests[0];
    assert_true(conf->significant);
    size_t high = 0;
    for (size_t i = 0; i < f.res.n_findings; i++) {
        const assay__finding *fd = &f.res.findings[i];
        if (fd->det == ASSAY_DET_NEAR_DUPLICATE && fd->sev == ASSAY_SEV_HIGH) high++;
    }
    assert_true(high >= 2 * count);
    assert_false(f.res.gate_passed);
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* Clean blobs (a few seeds): hardly any near duplicate in 12 continuous dimensions, both tests
 * quiet, the gate passes. In 2 dimensions IID rows have many natural near duplicates (about
 * 1 - 2^-0.13 = 8.6% of the rows at this radius): the tail test expects them and stays quiet. */
static void test_near_duplicate_clean_quiet(void **state) {
    (void)state;
    const size_t n = 3000, d = 12, classes = 4;
    float *x = malloc(n * d * sizeof *x);
    int32_t *y = malloc(n * sizeof *y);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        make_blobs(x, y, n, d, classes, 40 + seed);
        td_fixture f;
        td_init(&f, x, n, d, y, classes, 10, ASSAY_METRIC_COSINE, NULL, NULL);
        assert_int_equal(td_run(&f, ASSAY_DET_NEAR_DUPLICATE), ASSAY_OK);
        td_combine(&f);
        for (size_t i = 0; i < f.res.n_tests; i++) assert_false(f.res.tests[i].significant);
        assert_true(td_findings(&f, ASSAY_DET_NEAR_DUPLICATE) <= 4);
        assert_true(f.res.gate_passed);
        td_free(&f);
    }
    /* 2-d uniform rows, labelled by quadrant, squared L2 */
    for (uint64_t seed = 1; seed <= 3; seed++) {
        uint64_t st = 70 + seed;
        for (size_t r = 0; r < n; r++) {
            x[2 * r] = (float)tu_uniform(&st);
            x[2 * r + 1] = (float)tu_uniform(&st);
            y[r] = (int32_t)((x[2 * r] > 0.5f) + 2 * (x[2 * r + 1] > 0.5f));
        }
        td_fixture f;
        td_init(&f, x, n, 2, y, classes, 10, ASSAY_METRIC_L2, NULL, NULL);
        assert_int_equal(td_run(&f, ASSAY_DET_NEAR_DUPLICATE), ASSAY_OK);
        double share = f.res.det[ASSAY_DET_NEAR_DUPLICATE].stat[1] / (double)n;
        if (!(share > 0.04 && share < 0.2)) fail_msg("2-d near-duplicate share %g", share);
        td_combine(&f);
        for (size_t i = 0; i < f.res.n_tests; i++)
            if (f.res.tests[i].significant)
                fail_msg("seed %llu: %s", (unsigned long long)seed, f.res.tests[i].detail);
        assert_true(f.res.gate_passed);
        td_free(&f);
    }
    free(x);
    free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_near_duplicate_hand_case),
        cmocka_unit_test(test_near_duplicate_median_ignores_exact_copies),
        cmocka_unit_test(test_near_duplicate_exact_copies_left_to_duplicate),
        cmocka_unit_test(test_near_duplicate_planted_same_label),
        cmocka_unit_test(test_near_duplicate_planted_conflicts),
        cmocka_unit_test(test_near_duplicate_clean_quiet),
    };
    return cmocka_run_group_tests_name("detect_near_duplicate", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* confident: confident learning from predicted probabilities, on hand-worked cases whose
 * thresholds, confident joints, calibration, prune counts and flagged rows are derived in the
 * comments (cleanlab's filter.find_label_issues gives the same), plus planted label noise on
 * synthetic predictions and a clean case whose label-noise test must stay quiet. */
#include "test_detect_util.h"

#include "detect/label.h"

static void expect_rows(const uint8_t *issue, size_t n, const size_t *want, size_t m) {
    size_t got = 0;
    for (size_t r = 0; r < n; r++) got += issue[r];
    for (size_t i = 0; i < m; i++)
        if (!issue[want[i]]) fail_msg("row %zu should be flagged", want[i]);
    if (got != m) fail_msg("%zu rows flagged, expected %zu", got, m);
}

static void expect_matrix(const int64_t *got, const int64_t *want, size_t k, const char *what) {
    for (size_t i = 0; i < k * k; i++)
        if (got[i] != want[i])
            fail_msg("%s[%zu][%zu] = %lld, expected %lld", what, i / k, i % k, (long long)got[i],
                     (long long)want[i]);
}

/* 3 classes, 12 rows, 4 per class (p(0), p(1), p(2) per row):
 *   class 0: r0 .90 .05 .05 | r1 .80 .10 .10 | r2 .15 .80 .05 | r3 .45 .35 .20
 *   class 1: r4 .05 .90 .05 | r5 .10 .80 .10 | r6 .10 .70 .20 | r7 .05 .25 .70
 *   class 2: r8 .10 .10 .80 | r9 .70 .10 .20 | r10 .10 .75 .15 | r11 .35 .50 .15
 * Thresholds (mean self-confidence): t0 = 2.3/4 = .575, t1 = 2.65/4 = .6625, t2 = 1.3/4 = .325.
 * Passing p(j) >= t_j: r0, r1 -> 0; r2 -> 1 (p1 .8); r3 none; r4, r5, r6 (.7) -> 1; r7 -> 2
 * (.7); r8 -> 2; r9 -> 0 (.7); r10 -> 1 (.75); r11 none (.35 < .575, .5 < .6625, .15 < .325).
 * Confident joint C[given][true] = [2 1 0 | 0 3 1 | 1 1 1]. Calibrated: row 0 * 4/3 =
 * [2.67 1.33 0] -> [3 1 0]; row 1 [0 3 1]; row 2 * 4/3 = [1.33 1.33 1.33] rounds to [1 1 1],
 * one short of 4: the +1 goes to the equal remainders' last entry (numpy's reversed stable
 * argsort) -> [1 1 2]. Prune counts [true][given] = C^T = [3 0 1 | 1 3 1 | 0 1 2].
 * prune_by_noise_rate: given 0, true 1, 1 row with the largest p1 - p0: r2 (.65); given 1,
 * true 2, 1 row by p2 - p1: r7 (.45); given 2, true 0: r9 (p0 - p2 = .5); given 2, true 1:
 * r10 (p1 - p2 = .6). None is predicted as its label -> {2, 7, 9, 10}.
 * prune_by_class: n_c - prune[c][c] rows with the lowest p(c): class 0: 1 (r2, .15); class 1:
 * 1 (r7, .25); class 2: 2: r10 and r11 (both .15; r9 .2 is next) -> {2, 7, 10, 11}.
 * both: {2, 7, 10}. confident_learning (off-diagonal rows): {2, 7, 9, 10}.
 * predicted_neq_given: argmax != label: {2, 7, 9, 10, 11}. */
static const float k_p12[12 * 3] = {.90f, .05f, .05f, .80f, .10f, .10f, .15f, .80f, .05f,
                                    .45f, .35f, .20f, .05f, .90f, .05f, .10f, .80f, .10f,
                                    .10f, .70f, .20f, .05f, .25f, .70f, .10f, .10f, .80f,
                                    .70f, .10f, .20f, .10f, .75f, .15f, .35f, .50f, .15f};
static const int32_t k_y12[12] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2};

static void test_confident_hand_worked_12_rows(void **state) {
    (void)state;
    uint8_t issue[12];
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assay__cl_result cl;
    assert_int_equal(
        assay__cl_find_issues(ctx, k_y12, k_p12, 12, 3, ASSAY__CL_PRUNE_BY_NOISE_RATE, issue, &cl),
        ASSAY_OK);
    assert_close(0.575, cl.threshold[0], 1e-6);
    assert_close(0.6625, cl.threshold[1], 1e-6);
    assert_close(0.325, cl.threshold[2], 1e-6);
    const int64_t joint[9] = {2, 1, 0, 0, 3, 1, 1, 1, 1};
    const int64_t calibrated[9] = {3, 1, 0, 0, 3, 1, 1, 1, 2};
    const int64_t prune[9] = {3, 0, 1, 1, 3, 1, 0, 1, 2};
    expect_matrix(cl.joint, joint, 3, "joint");
    expect_matrix(cl.calibrated, calibrated, 3, "calibrated");
    expect_matrix(cl.prune, prune, 3, "prune");
    assert_int_equal(cl.rows, 12);
    assert_int_equal(cl.issues, 4);
    const size_t noise_rate[] = {2, 7, 9, 10};
    expect_rows(issue, 12, noise_rate, 4);
    assay__cl_result_free(&cl);

    const size_t by_class[] = {2, 7, 10, 11}, both[] = {2, 7, 10}, neq[] = {2, 7, 9, 10, 11};
    assert_int_equal(
        assay__cl_find_issues(ctx, k_y12, k_p12, 12, 3, ASSAY__CL_PRUNE_BY_CLASS, issue, NULL),
        ASSAY_OK);
    expect_rows(issue, 12, by_class, 4);
    assert_int_equal(assay__cl_find_issues(ctx, k_y12, k_p12, 12, 3, ASSAY__CL_BOTH, issue, NULL),
                     ASSAY_OK);
    expect_rows(issue, 12, both, 3);
    assert_int_equal(
        assay__cl_find_issues(ctx, k_y12, k_p12, 12, 3, ASSAY__CL_CONFIDENT_LEARNING, issue, NULL),
        ASSAY_OK);
    expect_rows(issue, 12, noise_rate, 4);
    assert_int_equal(
        assay__cl_find_issues(ctx, k_y12, k_p12, 12, 3, ASSAY__CL_PREDICTED_NEQ_GIVEN, issue, NULL),
        ASSAY_OK);
    expect_rows(issue, 12, neq, 5);
    /* a row left out (label -1) is as if absent: without r11, class 2's threshold is
     * (.8 + .2 + .15) / 3 and r11 is never flagged */
    int32_t y[12];
    memcpy(y, k_y12, sizeof y);
    y[11] = -1;
    assert_int_equal(
        assay__cl_find_issues(ctx, y, k_p12, 12, 3, ASSAY__CL_PREDICTED_NEQ_GIVEN, issue, &cl),
        ASSAY_OK);
    assert_int_equal(issue[11], 0);
    assert_close(1.15 / 3.0, cl.threshold[2], 1e-6);
    assert_int_equal(cl.rows, 11);
    assay__cl_result_free(&cl);
    assay_ctx_destroy(ctx);
}

/* When several classes pass their thresholds, cleanlab counts the row for its argmax over ALL
 * classes, even one below its own threshold. Rows (p0 p1 p2): class 0: r0 .95 .03 .02,
 * r1 .97 .02 .01 (t0 = .96); class 1: r2 .20 .25 .55, r3 .50 .26 .24 (t1 = .255); class 2:
 * r4 .50 .30 .20, r5 .30 .50 .20 (t2 = .2). r3 passes classes 1 (.26) and 2 (.24) but its
 * argmax is 0 (.5 < .96): counted as true class 0, an off-diagonal row, so confident_learning
 * flags it (the most probable passing class would have been its own label 1). r2 passes only
 * 2; r4 passes 1 and 2 -> argmax 0; r5 passes 1 and 2 -> argmax 1; r0 passes none.
 * Joint [1 0 0 | 1 1 1 | 1 1 1] (empty diagonals raised to 1). */
static void test_confident_several_passing_classes_take_the_argmax(void **state) {
    (void)state;
    const float p[6 * 3] = {.95f, .03f, .02f, .97f, .02f, .01f, .20f, .25f, .55f,
                            .50f, .26f, .24f, .50f, .30f, .20f, .30f, .50f, .20f};
    const int32_t y[6] = {0, 0, 1, 1, 2, 2};
    uint8_t issue[6];
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assay__cl_result cl;
    assert_int_equal(
        assay__cl_find_issues(ctx, y, p, 6, 3, ASSAY__CL_CONFIDENT_LEARNING, issue, &cl), ASSAY_OK);
    const int64_t joint[9] = {1, 0, 0, 1, 1, 1, 1, 1, 1};
    expect_matrix(cl.joint, joint, 3, "joint");
    const size_t want[] = {2, 3, 4, 5};
    expect_rows(issue, 6, want, 4);
    assay__cl_result_free(&cl);
    assay_ctx_destroy(ctx);
}

/* A class whose rows all look like other classes. Rows: class 0: r0 .08 .90 .02,
 * r1 .08 .02 .90 (t0 = .08); class 1: r2 .02 .95 .03, r3 .03 .85 .12 (t1 = .9); class 2:
 * r4 .02 .03 .95, r5 .03 .12 .85 (t2 = .9). r0 passes 0 and 1 -> argmax 1; r1 -> 2; r2 -> 1;
 * r4 -> 2; r3, r5 pass nothing. Joint [0 1 1 | 0 1 0 | 0 0 1], diagonal raised:
 * [1 1 1 | 0 1 0 | 0 0 1]. Calibrated row 0: [1 1 1] * 2/3 = .67 each, rounded [1 1 1] = 3,
 * one too many: the -1 goes to the first of the equal remainders -> [0 1 1]; rows 1, 2 -> 2
 * on the diagonal. Prune counts C^T = [0 0 0 | 1 2 0 | 1 0 2]; class 0 must keep one row: its
 * diagonal goes to 1 and the column's "nonzero minus one" (2 - 1 = 1, cleanlab counts the
 * zero diagonal's column so) off-diagonals lose 1 each -> [1 0 0 | 0 2 0 | 0 0 2]: nothing to
 * prune by noise rate. prune_by_class: class 0 drops 2 - 1 = 1 row, the lower p0 (a tie at
 * .08: the lower row, r0). confident_learning: the off-diagonal rows r0 and r1. */
static void test_confident_keeps_one_row_per_class(void **state) {
    (void)state;
    const float p[6 * 3] = {.08f, .90f, .02f, .08f, .02f, .90f, .02f, .95f, .03f,
                            .03f, .85f, .12f, .02f, .03f, .95f, .03f, .12f, .85f};
    const int32_t y[6] = {0, 0, 1, 1, 2, 2};
    uint8_t issue[6];
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assay__cl_result cl;
    assert_int_equal(
        assay__cl_find_issues(ctx, y, p, 6, 3, ASSAY__CL_PRUNE_BY_NOISE_RATE, issue, &cl),
        ASSAY_OK);
    const int64_t joint[9] = {1, 1, 1, 0, 1, 0, 0, 0, 1};
    const int64_t calibrated[9] = {0, 1, 1, 0, 2, 0, 0, 0, 2};
    const int64_t prune[9] = {1, 0, 0, 0, 2, 0, 0, 0, 2};
    expect_matrix(cl.joint, joint, 3, "joint");
    expect_matrix(cl.calibrated, calibrated, 3, "calibrated");
    expect_matrix(cl.prune, prune, 3, "prune");
    expect_rows(issue, 6, NULL, 0);
    assay__cl_result_free(&cl);
    const size_t by_class[] = {0}, off[] = {0, 1};
    assert_int_equal(assay__cl_find_issues(ctx, y, p, 6, 3, ASSAY__CL_PRUNE_BY_CLASS, issue, NULL),
                     ASSAY_OK);
    expect_rows(issue, 6, by_class, 1);
    assert_int_equal(
        assay__cl_find_issues(ctx, y, p, 6, 3, ASSAY__CL_CONFIDENT_LEARNING, issue, NULL),
        ASSAY_OK);
    expect_rows(issue, 6, off, 2);
    assay_ctx_destroy(ctx);
}

/* ---- the detector on synthetic predictions ---- */

/* n rows of k classes; a model that gives the true class probability ~ U(.55, .95) and spreads
 * the rest at random. A share `overlap` of the rows are natural overlap: correctly labelled, but
 * the model puts them confidently in another class (.55 to .95), as a shirt that looks like a
 * T-shirt. A share `flip` of the labels is moved to another class at random (truth[r] = 1). */
static void make_case(size_t n, size_t k, double flip, double overlap, uint64_t seed, float *x,
                      int32_t *y, float *p, uint8_t *truth) {
    uint64_t s = seed;
    for (size_t r = 0; r < n; r++) {
        size_t c = r % k, look = c;
        if (tu_uniform(&s) < overlap)
            look = (c + 1 + (size_t)(tu_uniform(&s) * (double)(k - 1))) % k;
        double top = 0.55 + 0.4 * tu_uniform(&s), rest = 0.0;
        float *pr = p + r * k;
        for (size_t j = 0; j < k; j++) {
            pr[j] = j == look ? 0.0f : (float)tu_uniform(&s);
            rest += pr[j];
        }
        for (size_t j = 0; j < k; j++)
            pr[j] = j == look ? (float)top : (float)((1.0 - top) * pr[j] / rest);
        y[r] = (int32_t)c;
        truth[r] = 0;
        if (tu_uniform(&s) < flip) {
            y[r] = (int32_t)((c + 1 + (size_t)(tu_uniform(&s) * (double)(k - 1))) % k);
            truth[r] = 1;
        }
        x[r * 2] = (float)(c + 0.1 * tu_normal(&s));
        x[r * 2 + 1] = (float)(1.0 + 0.1 * tu_normal(&s));
    }
}

static void run_case(double flip, int expect_significant) {
    enum { N = 1200, K = 4 };
    float *x = malloc(N * 2 * sizeof *x), *p = malloc(N * K * sizeof *p);
    int32_t y[N];
    uint8_t truth[N];
    make_case(N, K, flip, 0.03, 7, x, y, p, truth);
    td_fixture f;
    td_init(&f, x, N, 2, y, K, 5, ASSAY_METRIC_L2, NULL, p);
    assert_int_equal(td_run(&f, ASSAY_DET_CONFIDENT), ASSAY_OK);
    assert_true(f.res.det[ASSAY_DET_CONFIDENT].ran);
    const assay__test *t = td_test(&f, ASSAY_DET_CONFIDENT, -1);
    assert_non_null(t);
    size_t findings = td_findings(&f, ASSAY_DET_CONFIDENT);
    if (expect_significant) {
        td_combine(&f);
        assert_true(t->significant);
        /* the flipped rows rank first and are found */
        assert_true(td_auroc(&f, ASSAY_DET_CONFIDENT, truth) > 0.95);
        size_t tp = 0, fl = 0, np = 0;
        for (size_t r = 0; r < N; r++) {
            int flagged = f.res.det[ASSAY_DET_CONFIDENT].evidence[r] >= 0.5f;
            tp += flagged && truth[r];
            fl += (size_t)flagged;
            np += truth[r];
        }
        assert_true(tp >= np * 8 / 10);
        assert_true(tp >= fl * 7 / 10);
        assert_int_equal(td_findings(&f, ASSAY_DET_CONFIDENT), findings);
    } else {
        /* the natural overlap is marked (about 3% of the rows), but within the tolerance */
        assert_true(findings > N / 100);
        assert_true(t->p > 0.5);
        td_combine(&f);
        assert_false(t->significant);
        assert_int_equal(td_findings(&f, ASSAY_DET_CONFIDENT), 0);
        for (size_t r = 0; r < N; r++)
            assert_true(f.res.det[ASSAY_DET_CONFIDENT].evidence[r] < 0.5f);
    }
    td_free(&f);
    free(x);
    free(p);
}

/* 10% of the labels flipped: the label-noise test fires and the flips are the flags. */
static void test_confident_planted_flips_found(void **state) {
    (void)state;
    run_case(0.10, 1);
}

/* Clean labels with 3% natural overlap: the test stays quiet, nothing is flagged. */
static void test_confident_clean_is_quiet(void **state) {
    (void)state;
    run_case(0.0, 0);
}

/* Without predicted probabilities and with cross-fitting off (--crossfit-folds 0), or with too
 * few rows to cross-fit (8 rows, 5 folds), the detector does not run and says why. (With enough
 * rows it cross-fits its own: test_detect_crossfit.) */
static void test_confident_needs_pred_probs(void **state) {
    (void)state;
    float x[8 * 2];
    int32_t y[8];
    for (int r = 0; r < 8; r++) {
        x[2 * r] = (float)r;
        x[2 * r + 1] = 1.0f;
        y[r] = r % 2;
    }
    for (int crossfit = 0; crossfit < 2; crossfit++) {
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        if (!crossfit) assert_int_equal(assay_param_set(&o, "crossfit-folds", 0), ASSAY_OK);
        td_fixture f;
        td_init(&f, x, 8, 2, y, 2, 2, ASSAY_METRIC_L2, &o, NULL);
        assert_int_equal(td_run(&f, ASSAY_DET_CONFIDENT), ASSAY_OK);
        assert_false(f.res.det[ASSAY_DET_CONFIDENT].ran);
        assert_contains(f.res.det[ASSAY_DET_CONFIDENT].note,
                        crossfit ? "too few labelled rows" : "no predicted probabilities");
        assert_true(isnan(f.res.det[ASSAY_DET_CONFIDENT].score[0]));
        td_free(&f);
    }
}

/* The detector on the 12-row case: scores are 1 - p(given) (or the normalised margin), the
 * findings are rows 2, 7, 9, 10 with a sentence naming the classes. */
static void test_confident_detector_scores_and_explanation(void **state) {
    (void)state;
    float x[12 * 2];
    for (int r = 0; r < 12; r++) {
        x[2 * r] = (float)r;
        x[2 * r + 1] = 1.0f;
    }
    td_fixture f;
    td_init(&f, x, 12, 2, k_y12, 3, 2, ASSAY_METRIC_L2, NULL, k_p12);
    assert_int_equal(td_run(&f, ASSAY_DET_CONFIDENT), ASSAY_OK);
    const float *s = f.res.det[ASSAY_DET_CONFIDENT].score;
    assert_close(1.0 - 0.15, s[2], 1e-6);
    assert_close(1.0 - 0.90, s[0], 1e-6);
    /* the note says where the probabilities came from; their argmax matches 7 of 12 labels */
    const assay__det_out *out = &f.res.det[ASSAY_DET_CONFIDENT];
    assert_contains(out->note, "predicted probabilities given: accuracy 0.5833");
    assert_close(7.0 / 12.0, out->stat[4], 1e-12);
    assert_close(0.0, out->stat[5], 0.0);
    assert_int_equal(td_findings(&f, ASSAY_DET_CONFIDENT), 4);
    const assay__finding *fd = NULL;
    for (size_t i = 0; i < f.res.n_findings; i++)
        if (f.res.findings[i].row == 9) fd = &f.res.findings[i];
    assert_non_null(fd);
    assert_int_equal(fd->ref, 0);
    char buf[400];
    assay__explain(&f.ds, &f.res, fd, buf, sizeof buf);
    assert_contains(buf, "labelled '2' but the model gives it 20% probability");
    assert_contains(buf, "70% to '0'");
    assert_contains(buf, "prune_by_noise_rate");
    assert_true(f.res.det[ASSAY_DET_CONFIDENT].evidence[9] >= 0.5f);
    assert_true(f.res.det[ASSAY_DET_CONFIDENT].evidence[11] < 0.5f);
    /* normalised margin: (1 - (p(given) - max other)) / 2; row 9: (1 - (.2 - .7)) / 2 = .75 */
    f.res.opts.param[ASSAY__P_CONFIDENT_RANK] = 1;
    f.res.opts.param_set |= (uint64_t)1 << ASSAY__P_CONFIDENT_RANK;
    f.res.n_findings = 0;
    f.res.n_tests = 0;
    assert_int_equal(td_run(&f, ASSAY_DET_CONFIDENT), ASSAY_OK);
    assert_close(0.75, s[9], 1e-6);
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_confident_hand_worked_12_rows),
        cmocka_unit_test(test_confident_several_passing_classes_take_the_argmax),
        cmocka_unit_test(test_confident_keeps_one_row_per_class),
        cmocka_unit_test(test_confident_planted_flips_found),
        cmocka_unit_test(test_confident_clean_is_quiet),
        cmocka_unit_test(test_confident_needs_pred_probs),
        cmocka_unit_test(test_confident_detector_scores_and_explanation),
    };
    return cmocka_run_group_tests_name("detect_confident", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* knn-label: the leave-one-out neighbour probabilities, Deep k-NN's plurality rule and its
 * neighbourhood size, the dataset-level label-noise test, planted flips on synthetic blobs and
 * a clean overlapping case whose test must stay quiet, and the vote itself on hand-made graphs. */
#include "test_detect_util.h"

#include "detect/label.h"
#include "report/report_internal.h"

/* n rows in k Gaussian blobs on a circle (d = 2, spread sd), row r in class r % k; a share
 * `flip` of the labels moved to the next class (truth[r] = 1). */
static void blobs(size_t n, size_t k, double sd, double flip, uint64_t seed, float *x, int32_t *y,
                  uint8_t *truth) {
    uint64_t s = seed;
    for (size_t r = 0; r < n; r++) {
        size_t c = r % k;
        double a = 2.0 * 3.14159265358979 * (double)c / (double)k;
        x[2 * r] = (float)(cos(a) + sd * tu_normal(&s));
        x[2 * r + 1] = (float)(sin(a) + sd * tu_normal(&s));
        y[r] = (int32_t)c;
        truth[r] = 0;
        if (tu_uniform(&s) < flip) {
            y[r] = (int32_t)((c + 1 + (size_t)(tu_uniform(&s) * (double)(k - 1))) % k);
            truth[r] = 1;
        }
    }
}

/* Our neighbour shares are cleanlab's leave-one-out k-NN probabilities: with the row itself
 * among k + 1 neighbours, p_knn = counts / (k + 1), and (p_knn - onehot(y) / (k + 1)) *
 * (k + 1) / k removes it again. */
static void test_knn_label_probs_are_leave_one_out(void **state) {
    (void)state;
    enum { N = 60, K = 3, KN = 5 };
    float x[N * 2];
    int32_t y[N];
    uint8_t truth[N];
    blobs(N, K, 0.5, 0.1, 3, x, y, truth);
    td_fixture f;
    td_init(&f, x, N, 2, y, K, KN, ASSAY_METRIC_L2, NULL, NULL);
    float p[N * K];
    const assay__det_input in = assay__result_input(f.ctx, &f.ds, &f.res);
    assay__knn_label_probs(&in, p);
    for (size_t r = 0; r < N; r++) {
        double with_self[K] = {0};
        with_self[y[r]] += 1.0 / (KN + 1);
        for (size_t c = 0; c < KN; c++) with_self[y[f.res.graph.ids[r * KN + c]]] += 1.0 / (KN + 1);
        double sum = 0.0;
        for (size_t j = 0; j < K; j++) {
            double loo =
                (with_self[j] - (j == (size_t)y[r] ? 1.0 / (KN + 1) : 0.0)) * (KN + 1) / (double)KN;
            assert_close(loo, p[r * K + j], 1e-6);
            sum += p[r * K + j];
        }
        assert_close(1.0, sum, 1e-6);
    }
    td_free(&f);
}

/* k = 2 x expected poisons per class, at most 256 and at most rows - 1; 0 when not given. */
static void test_knn_label_deep_k(void **state) {
    (void)state;
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    assert_int_equal(assay__deep_knn_k(&o, 60000, 10), 0);
    assert_int_equal(assay_param_set(&o, "expected-poison", 0.01), ASSAY_OK);
    assert_int_equal(assay__deep_knn_k(&o, 60000, 10), 120); /* 2 x 600 x 0.01 x ... */
    assert_int_equal(assay__deep_knn_k(&o, 60001, 10), 121); /* ceil(120.002) */
    assert_int_equal(assay_param_set(&o, "expected-poison", 0.1), ASSAY_OK);
    assert_int_equal(assay__deep_knn_k(&o, 60000, 10), 256); /* 1200, capped */
    assert_int_equal(assay__deep_knn_k(&o, 40, 2), 4);
    assert_int_equal(assay_param_set(&o, "expected-poison", 0.5), ASSAY_OK);
    assert_int_equal(assay__deep_knn_k(&o, 10, 1), 9); /* rows - 1 */
}

/* Deep k-NN on a line: rows 0-5 (class 0) at 0..5, rows 6-11 (class 1) at 10..15, rows 0 and
 * 2 relabelled 1. With 24 rows (rows 12-23 repeat the pattern 100 units away, 2 classes) and
 * expected-poison 1/12, kd = ceil(2 * (1/12) * 24 / 2) = 2: row 2's 2 nearest (1 and 3) are
 * class 0, so its label 1 is not their plurality: flagged. Its 4 neighbours 1, 3, 0, 4 and the
 * rows listing it include row 0 (label 1), so its vote score is below 1 and only Deep k-NN
 * flags it. Row 0's 2 nearest (1: class 0, 2: class 1) tie: not flagged; row 5's carry its
 * label. */
static void test_knn_label_deep_knn_plurality(void **state) {
    (void)state;
    enum { N = 24 };
    float x[N * 2];
    int32_t y[N];
    for (size_t r = 0; r < N; r++) {
        size_t i = r % 12;
        x[2 * r] = (float)((i < 6 ? (double)i : 4.0 + (double)i) + (r >= 12 ? 100.0 : 0.0));
        x[2 * r + 1] = 0.0f;
        y[r] = i < 6 ? 0 : 1;
    }
    y[0] = y[2] = 1;
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    assert_int_equal(assay_param_set(&o, "expected-poison", 1.0 / 12.0), ASSAY_OK);
    assert_int_equal(assay_param_set(&o, "label-noise-tolerance", 0.0), ASSAY_OK);
    o.label_threshold = 1.0; /* only a unanimous rejection passes the vote threshold */
    td_fixture f;
    td_init(&f, x, N, 2, y, 2, 4, ASSAY_METRIC_L2, &o, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    assert_close(2.0, f.res.det[ASSAY_DET_KNN_LABEL].stat[2], 0); /* deep_knn_k */
    const assay__finding *fd = NULL;
    for (size_t i = 0; i < f.res.n_findings; i++)
        if (f.res.findings[i].row == 2) fd = &f.res.findings[i];
    assert_non_null(fd);
    assert_int_equal(fd->why, 1);
    assert_close(0.0, fd->a, 0); /* own label among the 2 nearest */
    assert_close(2.0, fd->b, 0); /* the plurality label's count */
    assert_int_equal(fd->ref, 0);
    assert_true(f.res.det[ASSAY_DET_KNN_LABEL].evidence[2] >= 0.5f);
    assert_true(f.res.det[ASSAY_DET_KNN_LABEL].evidence[5] < 0.5f);
    assert_true(f.res.det[ASSAY_DET_KNN_LABEL].evidence[0] < 0.5f);
    char buf[300];
    assay__explain(&f.ds, &f.res, fd, buf, sizeof buf);
    assert_contains(buf, "label '1' is carried by 0 of its 2 nearest neighbours and '0' by 2");
    assert_contains(buf, "Deep k-NN");
    td_free(&f);
}

static void run_blobs(double flip, double sd, int expect_significant, double min_auroc) {
    enum { N = 2000, K = 4 };
    float *x = malloc(N * 2 * sizeof *x);
    int32_t *y = malloc(N * sizeof *y);
    uint8_t *truth = malloc(N);
    blobs(N, K, sd, flip, 11, x, y, truth);
    td_fixture f;
    td_init(&f, x, N, 2, y, K, 10, ASSAY_METRIC_L2, NULL, NULL);
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    const assay__test *t = td_test(&f, ASSAY_DET_KNN_LABEL, -1);
    assert_non_null(t);
    /* the noise model ranks every row without the dataset test (row_test -1; evidence >= 0.5
     * exactly for its findings, the labels more likely wrong than right, c = that probability);
     * a flag of the vote threshold alone waits for the test (row_test 0) */
    const assay__det_out *o = &f.res.det[ASSAY_DET_KNN_LABEL];
    uint8_t *noisy = calloc(N, 1);
    for (size_t i = 0; i < o->n_findings; i++)
        if (o->findings[i].test < 0) {
            noisy[o->findings[i].row] = 1;
            assert_true(o->findings[i].c > 0.5);
        }
    for (size_t r = 0; r < N; r++) {
        const int32_t rt = o->row_test[r];
        if (rt == 0) {
            assert_true(o->evidence[r] >= 0.5f && !noisy[r]);
            continue;
        }
        assert_int_equal(rt, -1);
        assert_int_equal(o->evidence[r] >= 0.5f, noisy[r]);
    }
    free(noisy);
    td_combine(&f);
    size_t tp = 0, fl = 0, np = 0;
    for (size_t r = 0; r < N; r++) {
        int flagged = f.res.det[ASSAY_DET_KNN_LABEL].evidence[r] >= 0.5f;
        tp += flagged && truth[r];
        fl += (size_t)flagged;
        np += truth[r];
    }
    if (expect_significant) {
        assert_true(t->significant);
        assert_true(td_auroc(&f, ASSAY_DET_KNN_LABEL, truth) > min_auroc);
        assert_true(tp >= np * 3 / 4);
        assert_true(tp >= fl * 3 / 4);
        /* a flagged row's finding names its neighbours' label */
        const assay__finding *fd = &f.res.findings[0];
        char buf[300];
        assay__explain(&f.ds, &f.res, fd, buf, sizeof buf);
        assert_contains(buf, "nearest neighbours and");
        assert_contains(buf, "rows that count it among theirs");
    } else {
        /* the test stays quiet; the rows shown for review are those whose label the data
         * makes more likely wrong than right: by the generating mixture (the Bayes posterior
         * of their label below 1/2), mostly */
        assert_false(t->significant);
        size_t bayes_wrong = 0, flagged_bayes_wrong = 0;
        for (size_t r = 0; r < N; r++) {
            double w[K], tot = 0.0;
            for (size_t c = 0; c < K; c++) {
                double a = 2.0 * 3.14159265358979 * (double)c / (double)K;
                double dx = x[2 * r] - cos(a), dy = x[2 * r + 1] - sin(a);
                w[c] = exp(-(dx * dx + dy * dy) / (2.0 * sd * sd));
                tot += w[c];
            }
            int wrong = w[y[r]] / tot < 0.5;
            bayes_wrong += (size_t)wrong;
            flagged_bayes_wrong +=
                (size_t)(wrong && f.res.det[ASSAY_DET_KNN_LABEL].evidence[r] >= 0.5f);
        }
        if (!(fl <= N * 3 / 100 && 2 * flagged_bayes_wrong >= fl && fl <= 2 * bayes_wrong))
            fail_msg("%zu rows flagged, %zu of them Bayes-wrong (%zu in all)", fl,
                     flagged_bayes_wrong, bayes_wrong);
        for (size_t i = 0; i < f.res.n_findings; i++) {
            assert_int_equal(f.res.findings[i].sev, ASSAY_SEV_MEDIUM);
            assert_int_equal(f.res.findings[i].why, 2);
        }
        assert_true(f.res.gate_passed);
    }
    td_free(&f);
    free(x);
    free(y);
    free(truth);
}

/* Well separated blobs, 15% of labels flipped: the test fires, flips rank first. */
static void test_knn_label_planted_flips_found(void **state) {
    (void)state;
    run_blobs(0.15, 0.25, 1, 0.97);
}

/* Overlapping blobs with clean labels (a few % of rows sit in another class's region): the
 * label-noise test stays quiet and the gate passes; the rows shown for review are mostly rows
 * the generating mixture itself makes more likely another class. */
static void test_knn_label_clean_overlap_is_quiet(void **state) {
    (void)state;
    run_blobs(0.0, 0.45, 0, 0.0);
}

static void test_detect_knn_label_scores_and_suggestions(void **state) {
    (void)state;
    td_fixture f;
    td_init_case8(&f);
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    const float *s = f.res.det[ASSAY_DET_KNN_LABEL].score;
    assert_close(1.0 / 7.0, s[0], 1e-6);
    assert_close(0.6, s[4], 1e-6);
    assert_close(0.0, s[5], 1e-7);
    assert_close(0.2, s[7], 1e-6);
    const int32_t *suggested = f.res.det[ASSAY_DET_KNN_LABEL].suggested;
    assert_int_equal(suggested[4], 0);
    assert_int_equal(suggested[7], -1); /* majority is its own label */
    assert_int_equal(f.res.det[ASSAY_DET_KNN_LABEL].flagged, 0);
    assert_int_equal(f.res.n_findings, 0);
    /* evidence 0.5 * s / t below the threshold */
    assert_close(0.5 * 0.6 / 0.8, f.res.det[ASSAY_DET_KNN_LABEL].evidence[4], 1e-6);
    assert_close(0.5 * 0.2 / 0.8, f.res.det[ASSAY_DET_KNN_LABEL].evidence[7], 1e-6);
    /* the dataset test: 0 of 8 rows rejected */
    assert_int_equal(f.res.n_tests, 1);
    assert_close(0.0, f.res.tests[0].stat, 0);
    assert_close(1.0, f.res.tests[0].p, 0);
    assert_int_equal(f.res.det[ASSAY_DET_KNN_LABEL].row_test[4], 0);
    td_free(&f);
}

static void test_detect_knn_label_weighted(void **state) {
    (void)state;
    td_fixture f;
    td_init_case8(&f);
    f.res.opts.weighted = 1;
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    /* tau = median of first-neighbour distances (all 1) = 1. Row 7: neighbours 5 (d 1, own),
     * 6 (d 2, own), 3 (d 4, other): weights 1/2, 1/3, 1/5; listed by 5 and 6, both at d 2:
     * 1/3 each -> own share 1.5 / 1.7. */
    double own = 1.5 / 1.7;
    assert_close(1.0 - own, f.res.det[ASSAY_DET_KNN_LABEL].score[7], 1e-6);
    assert_close(1.0, f.res.det[ASSAY_DET_KNN_LABEL].stat[2], 1e-7);
    td_free(&f);
}

/* Two other classes with one vote each: the suggestion is the class of the nearer neighbour.
 * Nobody lists row 0, so its votes are its neighbours 2 (class 1) and 1 (class 2). */
static void test_detect_knn_label_tie_goes_to_nearer_neighbour(void **state) {
    (void)state;
    const int32_t y[5] = {0, 2, 1, 0, 0};
    const int64_t ids[5 * 2] = {2, 1, 3, 4, 3, 4, 4, 1, 3, 2};
    const float dist[5 * 2] = {1, 2, 1, 2, 1, 2, 1, 2, 1, 2};
    td_fixture f;
    td_init_graph(&f, 5, y, 3, 2, ids, dist);
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    assert_int_equal(f.res.det[ASSAY_DET_KNN_LABEL].suggested[0], 1); /* row 2 is nearer than 1 */
    assert_close(1.0, f.res.det[ASSAY_DET_KNN_LABEL].score[0], 1e-7);
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_knn_label_scores_and_suggestions),
        cmocka_unit_test(test_detect_knn_label_weighted),
        cmocka_unit_test(test_detect_knn_label_tie_goes_to_nearer_neighbour),
        cmocka_unit_test(test_knn_label_probs_are_leave_one_out),
        cmocka_unit_test(test_knn_label_deep_k),
        cmocka_unit_test(test_knn_label_deep_knn_plurality),
        cmocka_unit_test(test_knn_label_planted_flips_found),
        cmocka_unit_test(test_knn_label_clean_overlap_is_quiet),
    };
    return cmocka_run_group_tests_name("detect_knn_label", tests, NULL, NULL);
}

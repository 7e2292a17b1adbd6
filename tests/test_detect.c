/* SPDX-License-Identifier: Apache-2.0 */
/* The detectors, the combination and the gate on small hand-made cases whose answers are worked
 * out in the comments. Datasets and graphs are built directly (no files), so each test pins one
 * rule. */
#include "test_detect_util.h"

#include "core/stats.h"

typedef struct fixture {
    assay_ctx *ctx;
    assay_dataset ds;
    assay_result res;
    char *names[8];
} fixture;

/* n rows, labels y (class index = label value), k neighbours per row from ids/dist. */
static void fx_init(fixture *f, size_t n, const int32_t *y, size_t n_classes, size_t k,
                    const int64_t *ids, const float *dist) {
    memset(f, 0, sizeof *f);
    assert_int_equal(assay_ctx_create(&f->ctx, NULL), ASSAY_OK);
    assay_dataset *ds = &f->ds;
    ds->n = n;
    ds->d = 2;
    ds->ld = 2;
    ds->path = "hand-made";
    ds->y = malloc(n * sizeof *ds->y);
    ds->row_flags = calloc(n, 1);
    ds->content_digest = calloc(n, 32);
    ds->labels.type = ASSAY__COL_INT;
    ds->labels.n = n;
    ds->labels.i = malloc(n * sizeof(int64_t));
    for (size_t r = 0; r < n; r++) {
        ds->y[r] = y[r];
        ds->labels.i[r] = y[r];
        /* distinct digests unless a test makes them equal */
        ds->content_digest[r][0] = (unsigned char)r;
        ds->content_digest[r][1] = (unsigned char)(r >> 8);
    }
    ds->n_classes = n_classes;
    ds->class_label = calloc(n_classes, sizeof(char *));
    ds->class_name = calloc(n_classes, sizeof(char *));
    ds->class_count = calloc(n_classes, sizeof(size_t));
    static char *const names[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    for (size_t c = 0; c < n_classes; c++) ds->class_label[c] = ds->class_name[c] = names[c];
    for (size_t r = 0; r < n; r++)
        if (y[r] >= 0) ds->class_count[y[r]]++;
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    o.k = (uint32_t)k;
    o.label_threshold = 0.8; /* the cases below are worked out for these */
    o.outlier_iqr = 1.7;
    f->res.opts = o;
    assert_int_equal(assay__result_alloc(f->ctx, &f->res, n), ASSAY_OK);
    f->res.graph.n = n;
    f->res.graph.k = k;
    f->res.graph.ids = malloc(n * k * sizeof(int64_t));
    f->res.graph.dist = malloc(n * k * sizeof(float));
    memcpy(f->res.graph.ids, ids, n * k * sizeof(int64_t));
    memcpy(f->res.graph.dist, dist, n * k * sizeof(float));
}

static void fx_free(fixture *f) {
    free(f->ds.y);
    free(f->ds.row_flags);
    free(f->ds.content_digest);
    free(f->ds.labels.i);
    free(f->ds.class_label);
    free(f->ds.class_name);
    free(f->ds.class_count);
    free(f->ds.bad_rows);
    assay__result_clear(&f->res);
    assay_ctx_destroy(f->ctx);
}

static size_t count_findings(const assay_result *r, assay_detector det, size_t row) {
    size_t c = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        c += r->findings[i].det == det && r->findings[i].row == row;
    return c;
}

static const assay__finding *find(const assay_result *r, assay_detector det, size_t row) {
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].det == det && r->findings[i].row == row) return &r->findings[i];
    return NULL;
}

/* Rows 0-3 are class 0 and each other's neighbours; row 4 is labelled 1 but sits among them:
 * its neighbours 0,1,2 are class 0. Rows 5-7 (class 1) have neighbours {6,7,4},{5,7,4},{5,6,3}.
 * knn-label puts a row's label to the vote of its k neighbours and of the rows that list it as
 * a neighbour: row 4 is listed by 5 and 6 (class 1), so 2 of its 5 votes are its own label ->
 * score 0.6, suggested 0 (3 votes). Row 0 is listed by 1, 2, 3 and 4: 6 of 7 votes -> 1/7.
 * Row 7 (neighbours 5, 6, 3; listed by 5 and 6): 4 of 5 -> 0.2. Row 5 (6, 7, 4; listed by 6,
 * 7): 5 of 5 -> 0. With threshold 0.8 no row is rejected. */
static const int32_t k_labels8[8] = {0, 0, 0, 0, 1, 1, 1, 1};
static const int64_t k_ids8[8 * 3] = {1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, 2,
                                      0, 1, 2, 6, 7, 4, 5, 7, 4, 5, 6, 3};
static const float k_dist8[8 * 3] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3,
                                     1, 1, 1, 1, 2, 4, 1, 2, 4, 1, 2, 4};

static void test_detect_knn_label_scores_and_suggestions(void **state) {
    (void)state;
    fixture f;
    fx_init(&f, 8, k_labels8, 2, 3, k_ids8, k_dist8);
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_KNN_LABEL), ASSAY_OK);
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
    fx_free(&f);
}

static void test_detect_knn_label_weighted(void **state) {
    (void)state;
    fixture f;
    fx_init(&f, 8, k_labels8, 2, 3, k_ids8, k_dist8);
    f.res.opts.weighted = 1;
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    /* tau = median of first-neighbour distances (all 1) = 1. Row 7: neighbours 5 (d 1, own),
     * 6 (d 2, own), 3 (d 4, other): weights 1/2, 1/3, 1/5; listed by 5 and 6, both at d 2:
     * 1/3 each -> own share 1.5 / 1.7. */
    double own = 1.5 / 1.7;
    assert_close(1.0 - own, f.res.det[ASSAY_DET_KNN_LABEL].score[7], 1e-6);
    assert_close(1.0, f.res.det[ASSAY_DET_KNN_LABEL].stat[2], 1e-7);
    fx_free(&f);
}

/* Two other classes with one vote each: the suggestion is the class of the nearer neighbour.
 * Nobody lists row 0, so its votes are its neighbours 2 (class 1) and 1 (class 2). */
static void test_detect_knn_label_tie_goes_to_nearer_neighbour(void **state) {
    (void)state;
    const int32_t y[5] = {0, 2, 1, 0, 0};
    const int64_t ids[5 * 2] = {2, 1, 3, 4, 3, 4, 4, 1, 3, 2};
    const float dist[5 * 2] = {1, 2, 1, 2, 1, 2, 1, 2, 1, 2};
    fixture f;
    fx_init(&f, 5, y, 3, 2, ids, dist);
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    assert_int_equal(f.res.det[ASSAY_DET_KNN_LABEL].suggested[0], 1); /* row 2 is nearer than 1 */
    assert_close(1.0, f.res.det[ASSAY_DET_KNN_LABEL].score[0], 1e-7);
    fx_free(&f);
}

/* Mean distances 1..9 and 100. Sorted, linear-interpolated quartiles: Q1 = 3.25, Q3 = 7.75,
 * IQR 4.5, fence 7.75 + 1.7 * 4.5 = 15.4: only the row at 100 is flagged. */
static void test_detect_knn_outlier_fence(void **state) {
    (void)state;
    int32_t y[10] = {0};
    int64_t ids[10];
    float dist[10];
    for (int r = 0; r < 10; r++) {
        ids[r] = (r + 1) % 10;
        dist[r] = r < 9 ? (float)(r + 1) : 100.0f;
    }
    fixture f;
    fx_init(&f, 10, y, 1, 1, ids, dist);
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_KNN_OUTLIER), ASSAY_OK);
    const assay__det_out *s = &f.res.det[ASSAY_DET_KNN_OUTLIER];
    assert_close(15.4, s->threshold, 1e-9);
    assert_close(3.25, s->stat[1], 1e-12);
    assert_close(7.75, s->stat[2], 1e-12);
    assert_int_equal(s->flagged, 1);
    assert_int_equal(count_findings(&f.res, ASSAY_DET_KNN_OUTLIER, 9), 1);
    const float *sc = f.res.det[ASSAY_DET_KNN_OUTLIER].score;
    assert_close(1.0, sc[9], 1e-7);
    assert_close(0.0, sc[0], 1e-7);
    assert_close(4.0 / 9.0, sc[4], 1e-6);
    const float *ev = f.res.det[ASSAY_DET_KNN_OUTLIER].evidence;
    assert_close(1.0, ev[9], 1e-6);
    assert_close(0.0, ev[6], 1e-7); /* 7 <= Q3 */
    assert_close(0.5 * (8 - 7.75) / (15.4 - 7.75), ev[7], 1e-6);
    fx_free(&f);
}

/* Rows 0 and 3 have identical features but labels 0 and 1: both high. Rows 1, 4, 5 are the same
 * row with the same label: 4 and 5 are low "copy of row 1"; row 1 is not flagged. */
static void test_detect_duplicates_conflicting_and_repeated(void **state) {
    (void)state;
    const int32_t y[6] = {0, 1, 0, 1, 1, 1};
    int64_t ids[6] = {1, 2, 3, 4, 5, 0};
    float dist[6] = {1, 1, 1, 1, 1, 1};
    fixture f;
    fx_init(&f, 6, y, 2, 1, ids, dist);
    memset(f.ds.content_digest[3], 0, 32);
    memcpy(f.ds.content_digest[3], f.ds.content_digest[0], 32);
    memcpy(f.ds.content_digest[4], f.ds.content_digest[1], 32);
    memcpy(f.ds.content_digest[5], f.ds.content_digest[1], 32);
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_DUPLICATE), ASSAY_OK);
    const assay__finding *a = find(&f.res, ASSAY_DET_DUPLICATE, 0);
    const assay__finding *b = find(&f.res, ASSAY_DET_DUPLICATE, 3);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->sev, ASSAY_SEV_HIGH);
    assert_int_equal(a->ref, 3);
    assert_int_equal(b->ref, 0);
    assert_string_equal(assay__finding_reason(a), "conflicting_duplicate");
    assert_null(find(&f.res, ASSAY_DET_DUPLICATE, 1));
    const assay__finding *c = find(&f.res, ASSAY_DET_DUPLICATE, 5);
    assert_non_null(c);
    assert_int_equal(c->sev, ASSAY_SEV_LOW);
    assert_int_equal(c->ref, 1);
    assert_string_equal(assay__finding_reason(c), "repeated_row");
    assert_null(find(&f.res, ASSAY_DET_DUPLICATE, 2));
    const assay__det_out *s = &f.res.det[ASSAY_DET_DUPLICATE];
    assert_int_equal(s->flagged, 4);
    assert_int_equal((int)s->stat[0], 2); /* groups */
    assert_int_equal((int)s->stat[2], 1); /* conflicting groups */
    assert_close(1.0, f.res.det[ASSAY_DET_DUPLICATE].score[0], 0);
    assert_close(0.5, f.res.det[ASSAY_DET_DUPLICATE].score[4], 0);
    fx_free(&f);
}

static void test_detect_integrity_rows(void **state) {
    (void)state;
    const int32_t y[5] = {0, 0, -1, 0, 0};
    int64_t ids[5] = {1, 2, 3, 4, 0};
    float dist[5] = {1, 1, 1, 1, 1};
    fixture f;
    fx_init(&f, 5, y, 1, 1, ids, dist);
    f.ds.row_flags[1] = ASSAY__ROW_NONFINITE;
    f.ds.row_flags[2] = ASSAY__ROW_BADLABEL;
    f.ds.row_flags[3] = ASSAY__ROW_ZERO;
    f.ds.bad_rows = calloc(1, sizeof *f.ds.bad_rows);
    f.ds.bad_rows[0] = (assay__bad_row){1, 3, 7};
    f.ds.n_bad_rows = 1;
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_INTEGRITY), ASSAY_OK);
    const assay__finding *nf = find(&f.res, ASSAY_DET_INTEGRITY, 1);
    assert_non_null(nf);
    assert_int_equal(nf->sev, ASSAY_SEV_HIGH);
    assert_int_equal((int)nf->a, 3);
    assert_int_equal((int)nf->b, 7);
    assert_string_equal(assay__finding_reason(find(&f.res, ASSAY_DET_INTEGRITY, 2)),
                        "undeclared_label");
    assert_int_equal(find(&f.res, ASSAY_DET_INTEGRITY, 3)->sev, ASSAY_SEV_MEDIUM);
    assert_null(find(&f.res, ASSAY_DET_INTEGRITY, 0));
    assert_int_equal(f.res.det[ASSAY_DET_INTEGRITY].flagged, 3);
    fx_free(&f);
}

static void test_detect_evidence_mapping(void **state) {
    (void)state;
    assert_close(0.5, assay__evidence_from_threshold(0.8f, 0.8f), 1e-7);
    assert_close(1.0, assay__evidence_from_threshold(1.0f, 0.8f), 1e-7);
    assert_close(0.25, assay__evidence_from_threshold(0.4f, 0.8f), 1e-7);
    assert_close(0.75, assay__evidence_from_threshold(0.9f, 0.8f), 1e-6);
    assert_close(0.0, assay__evidence_from_threshold(NAN, 0.8f), 0);
    assert_close(1.0, assay__evidence_from_threshold(1.0f, 1.0f), 0);
    assert_close(0.45, assay__evidence_from_threshold(0.9f, 1.0f), 1e-7);
}

/* All detectors on the 8-row case plus a conflicting duplicate (rows 1, 5): the combined score
 * is the maximum evidence, flagged rows are 1 and 5 (knn-label rejects no label: row 4 keeps 2
 * of its 5 votes, and its label-noise test is not significant on 8 rows); the gate fails on the
 * high duplicate findings, and passes with --fail-on critical. */
static void test_detect_combine_and_gate(void **state) {
    (void)state;
    fixture f;
    fx_init(&f, 8, k_labels8, 2, 3, k_ids8, k_dist8);
    memcpy(f.ds.content_digest[5], f.ds.content_digest[1], 32);
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_INTEGRITY), ASSAY_OK);
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_DUPLICATE), ASSAY_OK);
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_KNN_LABEL), ASSAY_OK);
    assert_int_equal(td_run_on(f.ctx, &f.ds, &f.res, ASSAY_DET_KNN_OUTLIER), ASSAY_OK);
    assert_int_equal(assay__combine(f.ctx, &f.ds, &f.res), ASSAY_OK);
    assay_result *r = &f.res;
    for (size_t i = 0; i < 8; i++) {
        float mx = 0;
        for (int d = 0; d < ASSAY_DET_COUNT; d++)
            if (r->det[d].evidence[i] > mx) mx = r->det[d].evidence[i];
        assert_close(mx, r->score[i], 0);
        assert_int_equal(r->flagged[i], mx >= 0.5f);
    }
    assert_int_equal(r->n_flagged, 2);
    assert_true(r->flagged[1] && r->flagged[5] && !r->flagged[4]);
    /* rows 1 and 5 (score 1, high): row 1 has more evidence in all */
    assert_int_equal(r->order[0], 1);
    assert_int_equal(r->order[1], 5);
    assert_int_equal(r->severity[1], ASSAY_SEV_HIGH);
    assert_int_equal(r->severity[4], ASSAY_SEV_NONE);
    assert_false(r->gate_passed);
    assert_contains(r->gate_reason, "2 findings at or above severity high");
    /* findings are indexed by row */
    assert_int_equal(r->finding_start[1 + 1] - r->finding_start[1], 1);
    assert_int_equal(r->finding_start[4 + 1] - r->finding_start[4], 0);

    r->opts.fail_on = ASSAY_SEV_CRITICAL;
    assert_int_equal(assay__combine(f.ctx, &f.ds, r), ASSAY_OK);
    assert_true(r->gate_passed);
    r->opts.max_flagged_fraction = 0.2; /* 2 of 8 = 0.25 */
    assert_int_equal(assay__combine(f.ctx, &f.ds, r), ASSAY_OK);
    assert_false(r->gate_passed);
    assert_contains(r->gate_reason, "flagged fraction 0.2500 exceeds the maximum 0.2000");
    r->opts.fail_on = ASSAY_SEV_NONE;
    r->opts.max_flagged_fraction = 1.0;
    assert_int_equal(assay__combine(f.ctx, &f.ds, r), ASSAY_OK);
    assert_true(r->gate_passed);
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_knn_label_scores_and_suggestions),
        cmocka_unit_test(test_detect_knn_label_weighted),
        cmocka_unit_test(test_detect_knn_label_tie_goes_to_nearer_neighbour),
        cmocka_unit_test(test_detect_knn_outlier_fence),
        cmocka_unit_test(test_detect_duplicates_conflicting_and_repeated),
        cmocka_unit_test(test_detect_integrity_rows),
        cmocka_unit_test(test_detect_evidence_mapping),
        cmocka_unit_test(test_detect_combine_and_gate),
    };
    return cmocka_run_group_tests_name("detect", tests, NULL, NULL);
}

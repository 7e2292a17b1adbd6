/* SPDX-License-Identifier: Apache-2.0 */
/* A fixture for detector tests on synthetic data: features and labels given in memory, the
 * exact neighbour graph built as a scan builds it, then one detector (or the whole combine
 * step) run on it. Each detector's test file uses it, so every test pins its own rule. */
#ifndef ASSAY_TEST_DETECT_UTIL_H
#define ASSAY_TEST_DETECT_UTIL_H

#include "test_util.h"

#include "decide/result.h"
#include "detect/params.h"
#include "graph/knn.h"
#include "io/dataset_internal.h"
#include "report/report_internal.h"

typedef struct td_fixture {
    assay_ctx *ctx;
    assay_dataset ds;
    assay_result res;
    char names[64][24];
    char *name_ptr[64];
} td_fixture;

/* n rows of d features (row-major, copied), labels y[r] in [0, n_classes) or -1, k neighbours,
 * metric; opts (may be NULL: defaults) are copied into the result before k and metric are
 * applied. pred_probs (n x n_classes, may be NULL) is copied. */
/* The labelled rows every fixture has: n rows, d features (not filled), labels y[r] in
 * [0, n_classes) or -1 (class index = label value), distinct row digests unless a test makes
 * two equal, and a context. */
static inline void td_init_rows(td_fixture *f, const char *path, size_t n, size_t d,
                                const int32_t *y, size_t n_classes) {
    memset(f, 0, sizeof *f);
    assert_true(n_classes <= 64);
    assert_int_equal(assay_ctx_create(&f->ctx, NULL), ASSAY_OK);
    assay_dataset *ds = &f->ds;
    ds->n = n;
    ds->d = d;
    ds->ld = d;
    ds->path = (char *)path;
    ds->y = malloc(n * sizeof *ds->y);
    ds->row_flags = calloc(n, 1);
    ds->content_digest = calloc(n, 32);
    ds->labels.type = ASSAY__COL_INT;
    ds->labels.n = n;
    ds->labels.i = malloc(n * sizeof(int64_t));
    for (size_t r = 0; r < n; r++) {
        ds->y[r] = y[r];
        ds->labels.i[r] = y[r];
        memcpy(ds->content_digest[r], &r, sizeof r);
    }
    ds->n_classes = n_classes;
    ds->class_label = calloc(n_classes, sizeof(char *));
    ds->class_name = calloc(n_classes, sizeof(char *));
    ds->class_count = calloc(n_classes, sizeof(size_t));
    for (size_t c = 0; c < n_classes; c++) {
        snprintf(f->names[c], sizeof f->names[c], "%zu", c);
        ds->class_label[c] = ds->class_name[c] = f->names[c];
    }
    for (size_t r = 0; r < n; r++)
        if (y[r] >= 0) ds->class_count[y[r]]++;
}

/* n rows of d features (row-major, copied), labels y[r] in [0, n_classes) or -1, k neighbours,
 * metric; opts (may be NULL: defaults) are copied into the result before k and metric are
 * applied. pred_probs (n x n_classes, may be NULL) is copied. */
static inline void td_init(td_fixture *f, const float *x, size_t n, size_t d, const int32_t *y,
                           size_t n_classes, size_t k, assay_metric metric,
                           const assay_scan_opts *opts, const float *pred_probs) {
    td_init_rows(f, "synthetic", n, d, y, n_classes);
    assay_dataset *ds = &f->ds;
    ds->x = malloc(n * d * sizeof(float));
    memcpy(ds->x, x, n * d * sizeof(float));
    if (pred_probs != NULL) {
        ds->pred_probs = malloc(n * n_classes * sizeof(float));
        memcpy(ds->pred_probs, pred_probs, n * n_classes * sizeof(float));
        ds->pp_rows = n;
        ds->pp_cols = n_classes;
    }
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    if (opts != NULL) o = *opts;
    o.k = (uint32_t)k;
    o.metric = metric;
    f->res.opts = o;
    assert_int_equal(assay__result_alloc(f->ctx, &f->res, n), ASSAY_OK);
    uint8_t *in_graph = malloc(n);
    for (size_t r = 0; r < n; r++) in_graph[r] = (uint8_t)assay__row_in_graph(ds, r, metric);
    assert_int_equal(
        assay__knn_build(f->ctx, ds->x, n, d, d, in_graph, k, metric, NULL, &f->res.graph),
        ASSAY_OK);
    for (size_t r = 0; r < n; r++) f->res.n_in_graph += in_graph[r];
    free(in_graph);
}

/* n rows with labels y (class index = label value) and a hand-made neighbour graph: k
 * neighbours per row from ids/dist (row-major). No features (d = 2 for the record): for the
 * detectors that read only labels and the graph, on cases worked out by hand. */
static inline void td_init_graph(td_fixture *f, size_t n, const int32_t *y, size_t n_classes,
                                 size_t k, const int64_t *ids, const float *dist) {
    td_init_rows(f, "hand-made", n, 2, y, n_classes);
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    o.k = (uint32_t)k;
    o.label_threshold = 0.8; /* the hand-worked cases are worked out for these */
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

/* The 8-row case. Rows 0-3 are class 0 and each other's neighbours; row 4 is labelled 1 but sits
 * among them: its neighbours 0,1,2 are class 0. Rows 5-7 (class 1) have neighbours
 * {6,7,4},{5,7,4},{5,6,3}. knn-label puts a row's label to the vote of its k neighbours and of the
 * rows that list it as a neighbour: row 4 is listed by 5 and 6 (class 1), so 2 of its 5 votes are
 * its own label -> score 0.6, suggested 0 (3 votes). Row 0 is listed by 1, 2, 3 and 4: 6 of 7 votes
 * -> 1/7. Row 7 (neighbours 5, 6, 3; listed by 5 and 6): 4 of 5 -> 0.2. Row 5 (6, 7, 4; listed by
 * 6, 7): 5 of 5 -> 0. With threshold 0.8 no row is rejected. */
static inline void td_init_case8(td_fixture *f) {
    const int32_t labels[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    const int64_t ids[8 * 3] = {1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, 2,
                                0, 1, 2, 6, 7, 4, 5, 7, 4, 5, 6, 3};
    const float dist[8 * 3] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3,
                               1, 1, 1, 1, 2, 4, 1, 2, 4, 1, 2, 4};
    td_init_graph(f, 8, labels, 2, 3, ids, dist);
}

static inline void td_free(td_fixture *f) {
    free(f->ds.bad_rows);
    free(f->ds.x);
    free(f->ds.y);
    free(f->ds.row_flags);
    free(f->ds.content_digest);
    free(f->ds.labels.i);
    free(f->ds.class_label);
    free(f->ds.class_name);
    free(f->ds.class_count);
    free(f->ds.pred_probs);
    assay__result_clear(&f->res);
    assay_ctx_destroy(f->ctx);
}

/* Runs detector det on the fixture as a scan does (into its own output), then also lists its
 * findings and tests in the result (res.findings, res.tests), where the tests of one detector
 * read them before the combine step, which gathers them again from the outputs. */
static inline assay_status td_run_on(assay_ctx *ctx, const assay_dataset *ds, assay_result *res,
                                     assay_detector det) {
    const assay__det_input in = assay__result_input(ctx, ds, res);
    assay__det_out *out = &res->det[det];
    size_t nf0 = out->n_findings, nt0 = out->n_tests;
    assay_status s = assay__detector_get(det)->desc->run(&in, out);
    if (s != ASSAY_OK) return s;
    res->findings = realloc(res->findings,
                            (res->n_findings + out->n_findings - nf0 + 1) * sizeof *res->findings);
    if (out->n_findings > nf0) /* (no pointer arithmetic on an empty list: it may be NULL) */
        memcpy(res->findings + res->n_findings, out->findings + nf0,
               (out->n_findings - nf0) * sizeof *res->findings);
    res->n_findings += out->n_findings - nf0;
    res->tests = realloc(res->tests, (res->n_tests + out->n_tests - nt0 + 1) * sizeof *res->tests);
    if (out->n_tests > nt0)
        memcpy(res->tests + res->n_tests, out->tests + nt0,
               (out->n_tests - nt0) * sizeof *res->tests);
    res->n_tests += out->n_tests - nt0;
    return ASSAY_OK;
}

static inline assay_status td_run(td_fixture *f, assay_detector det) {
    return td_run_on(f->ctx, &f->ds, &f->res, det);
}

/* Runs the combine step (tests adjusted by BH, gating, gate verdict). */
static inline void td_combine(td_fixture *f) {
    assert_int_equal(assay__combine(f->ctx, &f->ds, &f->res), ASSAY_OK);
}

/* The test detector det made for class cls (-1 = dataset), or NULL: the entry in its own
 * output, which the combine step decides in place (q, significant), so a pointer taken before
 * td_combine reads the verdict after it. */
static inline const assay__test *td_test(const td_fixture *f, assay_detector det, int32_t cls) {
    const assay__det_out *out = &f->res.det[det];
    for (size_t i = 0; i < out->n_tests; i++)
        if (out->tests[i].det == det && out->tests[i].cls == cls) return &out->tests[i];
    return NULL;
}

/* The finding of det for row (the first), or NULL; and how many det has for it. */
static inline const assay__finding *td_find(const td_fixture *f, assay_detector det, size_t row) {
    for (size_t i = 0; i < f->res.n_findings; i++)
        if (f->res.findings[i].det == det && f->res.findings[i].row == row)
            return &f->res.findings[i];
    return NULL;
}

static inline size_t td_count(const td_fixture *f, assay_detector det, size_t row) {
    size_t c = 0;
    for (size_t i = 0; i < f->res.n_findings; i++)
        c += f->res.findings[i].det == det && f->res.findings[i].row == row;
    return c;
}

/* Number of findings of det (after combine: the kept ones). */
static inline size_t td_findings(const td_fixture *f, assay_detector det) {
    size_t c = 0;
    for (size_t i = 0; i < f->res.n_findings; i++) c += f->res.findings[i].det == det;
    return c;
}

/* How many of detector det's findings (in the scan's list) fall on rows that truth marks. */
static inline size_t td_true_findings(const td_fixture *f, assay_detector det,
                                      const uint8_t *truth) {
    size_t tp = 0;
    for (size_t i = 0; i < f->res.n_findings; i++)
        tp += f->res.findings[i].det == det && truth[f->res.findings[i].row];
    return tp;
}

/* AUROC of det's score (NaN lowest) for rows with truth[r] = 1 against the other rows, within
 * class cls (cls < 0: all rows). */
static inline double td_class_auroc(const td_fixture *f, assay_detector det, const uint8_t *truth,
                                    int32_t cls) {
    const float *s = f->res.det[det].score;
    double wins = 0.0;
    size_t np = 0, nn = 0;
    for (size_t i = 0; i < f->ds.n; i++)
        if (cls < 0 || f->ds.y[i] == cls) np += truth[i], nn += !truth[i];
    if (np == 0 || nn == 0) return NAN;
    for (size_t i = 0; i < f->ds.n; i++) {
        if (!truth[i] || (cls >= 0 && f->ds.y[i] != cls)) continue;
        float si = isnan(s[i]) ? -INFINITY : s[i];
        for (size_t j = 0; j < f->ds.n; j++) {
            if (truth[j] || (cls >= 0 && f->ds.y[j] != cls)) continue;
            float sj = isnan(s[j]) ? -INFINITY : s[j];
            wins += si > sj ? 1.0 : si == sj ? 0.5 : 0.0;
        }
    }
    return wins / ((double)np * (double)nn);
}

static inline double td_auroc(const td_fixture *f, assay_detector det, const uint8_t *truth) {
    return td_class_auroc(f, det, truth, -1);
}

#endif

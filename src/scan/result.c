/* SPDX-License-Identifier: Apache-2.0 */
/* The scan result: allocation, findings, accessors, and the names of detectors, severities and
 * metrics (one table each, shared by parsing and printing). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "baseline/baseline.h"
#include "scan/result_internal.h"

static const char *const k_detector_names[ASSAY_DET_COUNT] = {
    "knn-label", "knn-outlier", "duplicate",   "integrity", "spectral",
    "spectre",   "cluster",     "mahalanobis", "confident", "near-duplicate",
    "valuation", "ordering",    "imbalance",   "ecod",      "tampering"};
static const char *const k_severity_names[ASSAY__SEV_COUNT] = {"none", "low", "medium", "high",
                                                               "critical"};
static const char *const k_metric_names[2] = {"cosine", "l2"};

const char *assay_detector_name(assay_detector det) {
    return (det >= 0 && det < ASSAY_DET_COUNT) ? k_detector_names[det] : "unknown";
}

const char *assay_severity_name(assay_severity sev) {
    return (sev >= 0 && sev < ASSAY__SEV_COUNT) ? k_severity_names[sev] : "unknown";
}

const char *assay_metric_name(assay_metric m) {
    return (m >= 0 && m < 2) ? k_metric_names[m] : "unknown";
}

assay_status assay_detector_parse(const char *name, assay_detector *out) {
    for (int i = 0; name != NULL && i < ASSAY_DET_COUNT; i++)
        if (strcasecmp(name, k_detector_names[i]) == 0) {
            *out = (assay_detector)i;
            return ASSAY_OK;
        }
    return ASSAY_E_INVAL;
}

assay_status assay_severity_parse(const char *name, assay_severity *out) {
    for (int i = 0; name != NULL && i < ASSAY__SEV_COUNT; i++)
        if (strcasecmp(name, k_severity_names[i]) == 0) {
            *out = (assay_severity)i;
            return ASSAY_OK;
        }
    return ASSAY_E_INVAL;
}

assay_status assay_metric_parse(const char *name, assay_metric *out) {
    for (int i = 0; name != NULL && i < 2; i++)
        if (strcasecmp(name, k_metric_names[i]) == 0) {
            *out = (assay_metric)i;
            return ASSAY_OK;
        }
    return ASSAY_E_INVAL;
}

assay_status assay__result_alloc(assay_ctx *ctx, assay_result *res, size_t n) {
    size_t m = n ? n : 1;
    res->n = n;
    res->score = malloc(m * sizeof *res->score);
    res->flagged = calloc(m, 1);
    res->severity = calloc(m, 1);
    res->suggested = malloc(m * sizeof *res->suggested);
    int ok = res->score && res->flagged && res->severity && res->suggested;
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        res->det_score[d] = malloc(m * sizeof(float));
        res->det_evidence[d] = calloc(m, sizeof(float));
        ok = ok && res->det_score[d] && res->det_evidence[d];
        for (size_t r = 0; res->det_score[d] && r < n; r++) res->det_score[d][r] = NAN;
    }
    if (!ok) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for %zu rows of scores", n);
    for (size_t r = 0; r < n; r++) res->suggested[r] = -1;
    res->class_shift_p = NAN;
    return ASSAY_OK;
}

assay_status assay__result_add_finding(assay_ctx *ctx, assay_result *res, const assay__finding *f) {
    if (res->n_findings == res->cap_findings) {
        size_t cap = res->cap_findings ? 2 * res->cap_findings : 256;
        assay__finding *p = realloc(res->findings, cap * sizeof *p);
        if (p == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for findings");
        res->findings = p;
        res->cap_findings = cap;
    }
    res->findings[res->n_findings++] = *f;
    return ASSAY_OK;
}

assay_status assay__result_add_test(assay_ctx *ctx, assay_result *res, const assay__test *t,
                                    int32_t *index) {
    if (res->n_tests == res->cap_tests) {
        size_t cap = res->cap_tests ? 2 * res->cap_tests : 32;
        assay__test *p = realloc(res->tests, cap * sizeof *p);
        if (p == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for tests");
        res->tests = p;
        res->cap_tests = cap;
    }
    if (index != NULL) *index = (int32_t)res->n_tests;
    res->tests[res->n_tests] = *t;
    res->tests[res->n_tests].q = NAN;
    res->tests[res->n_tests].significant = 0;
    res->n_tests++;
    return ASSAY_OK;
}

int32_t *assay__result_row_tests(assay_ctx *ctx, assay_result *res, assay_detector det) {
    if (res->row_test[det] != NULL) return res->row_test[det];
    int32_t *t = malloc((res->n ? res->n : 1) * sizeof *t);
    if (t == NULL) {
        assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t r = 0; r < res->n; r++) t[r] = -1;
    res->row_test[det] = t;
    return t;
}

assay_status assay__class_rows(assay_ctx *ctx, const assay_dataset *ds, const assay_result *res,
                               size_t **rows, size_t **start) {
    size_t nc = ds->n_classes;
    *rows = malloc((ds->n ? ds->n : 1) * sizeof **rows);
    *start = calloc(nc + 2, sizeof **start);
    if (*rows == NULL || *start == NULL) {
        free(*rows);
        free(*start);
        *rows = *start = NULL;
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (class rows)");
    }
    size_t *st = *start;
    const assay__graph *g = &res->graph;
    for (size_t r = 0; r < ds->n; r++)
        if (ds->y[r] >= 0 && g->ids[r * g->k] >= 0) st[(size_t)ds->y[r] + 2]++;
    for (size_t c = 0; c < nc; c++) st[c + 2] += st[c + 1];
    for (size_t r = 0; r < ds->n; r++)
        if (ds->y[r] >= 0 && g->ids[r * g->k] >= 0) (*rows)[st[(size_t)ds->y[r] + 1]++] = r;
    return ASSAY_OK;
}

void assay__result_clear(assay_result *res) {
    assay__graph_free(&res->graph);
    free(res->graph_file.path);
    free(res->score);
    free(res->flagged);
    free(res->severity);
    free(res->suggested);
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        free(res->det_score[d]);
        free(res->det_evidence[d]);
        free(res->row_test[d]);
    }
    free(res->tests);
    free(res->findings);
    free(res->order);
    free(res->finding_start);
    free(res->eval.truth_path);
    free(res->eval.groups);
    assay__baseline_free(res->baseline);
    assay__gate_clear(res);
    memset(res, 0, sizeof *res);
}

void assay_result_destroy(assay_result *res) {
    if (res == NULL) return;
    assay__result_clear(res);
    free(res);
}

float assay_result_score(const assay_result *res, size_t row) {
    return (res && row < res->n) ? res->score[row] : NAN;
}

int assay_result_flagged(const assay_result *res, size_t row) {
    return (res && row < res->n) ? res->flagged[row] : 0;
}

float assay_result_detector_score(const assay_result *res, assay_detector det, size_t row) {
    if (res == NULL || row >= res->n || det < 0 || det >= ASSAY_DET_COUNT) return NAN;
    return res->det_score[det][row];
}

int32_t assay_result_suggested_class(const assay_result *res, size_t row) {
    return (res && row < res->n) ? res->suggested[row] : -1;
}

assay_status assay_result_neighbours(const assay_result *res, size_t row, const int64_t **ids,
                                     const float **dists, size_t *k) {
    if (res == NULL || row >= res->n || ids == NULL || dists == NULL || k == NULL)
        return ASSAY_E_INVAL;
    *ids = res->graph.ids + row * res->graph.k;
    *dists = res->graph.dist + row * res->graph.k;
    *k = res->graph.k;
    return ASSAY_OK;
}

size_t assay_result_flagged_count(const assay_result *res) {
    return res ? res->n_flagged : 0;
}

assay_severity assay_result_row_severity(const assay_result *res, size_t row) {
    return (res && row < res->n) ? (assay_severity)res->severity[row] : ASSAY_SEV_NONE;
}

size_t assay_result_finding_count(const assay_result *res) {
    return res ? res->n_findings : 0;
}

int assay_result_gate_passed(const assay_result *res) {
    return res ? res->gate_passed : 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The scan result: allocation, the views the lower layers read of it, and the public
 * accessors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "decide/result.h"

assay_status assay__result_alloc(assay_ctx *ctx, assay_result *res, size_t n) {
    size_t m = n ? n : 1;
    res->n = n;
    res->score = malloc(m * sizeof *res->score);
    res->flagged = calloc(m, 1);
    res->severity = calloc(m, 1);
    res->suggested = malloc(m * sizeof *res->suggested);
    if (!res->score || !res->flagged || !res->severity || !res->suggested)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for %zu rows of scores", n);
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        ASSAY_TRY(assay__out_init(ctx, &res->det[d], (assay_detector)d, n));
    for (size_t r = 0; r < n; r++) res->suggested[r] = -1;
    res->class_shift_p = NAN;
    return ASSAY_OK;
}

void assay__result_clear(assay_result *res) {
    assay__graph_free(&res->graph);
    assay__graph_source_free(&res->graph_file);
    free(res->score);
    free(res->flagged);
    free(res->severity);
    free(res->suggested);
    for (int d = 0; d < ASSAY_DET_COUNT; d++) assay__out_free(&res->det[d]);
    free(res->tests);
    free(res->findings);
    free(res->order);
    free(res->finding_start);
    free(res->eval.truth_path);
    free(res->eval.groups);
    assay__baseline_free(res->baseline);
    free((void *)res->trusted.row);
    free((void *)res->trusted.data_class);
    free(res->trusted_ids_path);
    free(res->trusted_data_path);
    assay__gate_clear(res);
    memset(res, 0, sizeof *res);
}

assay__det_input assay__result_input(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_result *res) {
    const assay__baseline *b = res->baseline;
    const int trusted = res->trusted.row != NULL || res->trusted.data != NULL;
    assay__det_input in = {ctx,
                           ds,
                           &res->graph,
                           &res->opts,
                           b != NULL && b->compared ? &b->changes : NULL,
                           trusted ? &res->trusted : NULL,
                           NULL};
    return in;
}

assay__bl_scan assay__result_bl_scan(const assay_dataset *ds, const assay_result *res) {
    assay__bl_scan scan = {ds, &res->graph, res->opts.metric, res->det};
    return scan;
}

int32_t assay__result_test_of(const assay_result *res, const assay__finding *f) {
    if (f->test < 0 || f->det < 0 || f->det >= ASSAY_DET_COUNT) return -1;
    const assay__det_out *out = &res->det[f->det];
    if ((size_t)f->test >= out->n_tests || out->test_global == NULL) return -1;
    return out->test_global[f->test];
}

/* ---- public accessors ---- */

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
    return res->det[det].score[row];
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

/* ---- the whole result at once ---- */

size_t assay_result_rows(const assay_result *res) {
    return res ? res->n : 0;
}

const float *assay_result_scores(const assay_result *res) {
    return res ? res->score : NULL;
}

const uint8_t *assay_result_flags(const assay_result *res) {
    return res ? res->flagged : NULL;
}

const uint8_t *assay_result_severities(const assay_result *res) {
    return res ? res->severity : NULL;
}

const int32_t *assay_result_suggested_classes(const assay_result *res) {
    return res ? res->suggested : NULL;
}

const float *assay_result_detector_scores(const assay_result *res, assay_detector det) {
    return (res && det >= 0 && det < ASSAY_DET_COUNT) ? res->det[det].score : NULL;
}

const size_t *assay_result_ranking(const assay_result *res) {
    return res ? res->order : NULL;
}

int assay_result_detector_ran(const assay_result *res, assay_detector det) {
    return res && det >= 0 && det < ASSAY_DET_COUNT && res->det[det].ran;
}

assay_status assay_result_finding(const assay_result *res, size_t i, assay_finding_info *out) {
    if (res == NULL || out == NULL || i >= res->n_findings) return ASSAY_E_INVAL;
    const assay__finding *f = &res->findings[i];
    out->row = f->row;
    out->detector = f->det;
    out->severity = f->sev;
    out->score = f->score;
    out->kind = assay__detector_kind_name(f->det);
    out->reason = assay__finding_reason(f);
    out->test = assay__result_test_of(res, f);
    return ASSAY_OK;
}

size_t assay_result_row_findings(const assay_result *res, size_t row, size_t *first) {
    if (res == NULL || row >= res->n || res->finding_start == NULL) {
        if (first) *first = 0;
        return 0;
    }
    if (first) *first = res->finding_start[row];
    return res->finding_start[row + 1] - res->finding_start[row];
}

size_t assay_result_test_count(const assay_result *res) {
    return res ? res->n_tests : 0;
}

assay_status assay_result_test(const assay_result *res, size_t i, assay_test_info *out) {
    if (res == NULL || out == NULL || i >= res->n_tests) return ASSAY_E_INVAL;
    static const char *const effect[] = {NULL, "fail", "warn", "accepted"};
    const assay__test *t = &res->tests[i];
    out->detector = t->det;
    out->cls = t->cls;
    out->statistic = t->stat_name ? t->stat_name : "";
    out->value = t->stat;
    out->p = t->p;
    out->q = t->q;
    out->significant = t->significant;
    out->severity = t->sev;
    out->gate = t->effect > 0 && t->effect < 4 ? effect[t->effect] : NULL;
    out->null = t->null ? t->null : "";
    out->detail = t->detail;
    return ASSAY_OK;
}

size_t assay_result_reason_count(const assay_result *res) {
    return res ? res->n_gate_reasons : 0;
}

const char *assay_result_reason(const assay_result *res, size_t i) {
    return (res && i < res->n_gate_reasons) ? res->gate_reasons[i] : NULL;
}

assay_status assay_result_policy_json(assay_ctx *ctx, const assay_result *res, int indent,
                                      char **out) {
    if (out == NULL || res == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_result_policy_json: NULL argument");
    return assay__json_text(ctx, res->policy_doc, indent, out);
}

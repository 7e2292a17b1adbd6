/* SPDX-License-Identifier: Apache-2.0 */
/* A detector's output and the sink functions that fill it (detect/detector.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detector.h"

assay_status assay__out_init(assay_ctx *ctx, assay__det_out *out, assay_detector id, size_t n) {
    memset(out, 0, sizeof *out);
    out->id = id;
    out->n = n;
    out->ctx = ctx;
    size_t m = n ? n : 1;
    out->score = malloc(m * sizeof *out->score);
    out->evidence = calloc(m, sizeof *out->evidence);
    if (out->score == NULL || out->evidence == NULL) {
        assay__out_free(out);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for %zu rows of scores", n);
    }
    for (size_t r = 0; r < n; r++) out->score[r] = NAN;
    return ASSAY_OK;
}

void assay__out_free(assay__det_out *out) {
    free(out->score);
    free(out->evidence);
    free(out->row_test);
    free(out->suggested);
    free(out->tests);
    free(out->matrix);
    free(out->findings);
    free(out->test_global);
    memset(out, 0, sizeof *out);
}

double assay__out_matrix_peak(const assay__det_out *out, size_t *row, size_t *col) {
    const size_t k = out->matrix_k;
    if (out->matrix == NULL || k < 2) return -1.0;
    *row = 0;
    *col = 1;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            if (i != j && out->matrix[i * k + j] > out->matrix[*row * k + *col]) *row = i, *col = j;
    return out->matrix[*row * k + *col];
}

assay_status assay__out_finding(assay__det_out *out, const assay__finding *f) {
    if (out->n_findings == out->cap_findings) {
        size_t cap = out->cap_findings ? 2 * out->cap_findings : 256;
        assay__finding *p = realloc(out->findings, cap * sizeof *p);
        if (p == NULL) return assay__fail(out->ctx, ASSAY_E_NOMEM, "out of memory for findings");
        out->findings = p;
        out->cap_findings = cap;
    }
    out->findings[out->n_findings] = *f;
    out->findings[out->n_findings++].det = out->id;
    return ASSAY_OK;
}

assay_status assay__out_test(assay__det_out *out, const assay__test *t, int32_t *index) {
    if (out->n_tests == out->cap_tests) {
        size_t cap = out->cap_tests ? 2 * out->cap_tests : 32;
        assay__test *p = realloc(out->tests, cap * sizeof *p);
        if (p == NULL) return assay__fail(out->ctx, ASSAY_E_NOMEM, "out of memory for tests");
        out->tests = p;
        out->cap_tests = cap;
    }
    if (index != NULL) *index = (int32_t)out->n_tests;
    assay__test *added = &out->tests[out->n_tests++];
    *added = *t;
    added->det = out->id;
    added->q = NAN;
    added->significant = 0;
    added->effect = ASSAY__EFFECT_NONE;
    if (added->sev == ASSAY_SEV_NONE) {
        const assay__detector *d = assay__detector_get(out->id);
        added->sev = d != NULL ? d->desc->severity : ASSAY_SEV_HIGH;
    }
    return ASSAY_OK;
}

assay_status assay__out_test_of(assay__det_out *out, assay_detector other, int32_t *index) {
    assay__test ref;
    memset(&ref, 0, sizeof ref);
    ref.cls = -1;
    ref.p = NAN;
    ASSAY_TRY(assay__out_test(out, &ref, index));
    out->tests[out->n_tests - 1].det = other;
    return ASSAY_OK;
}

/* A per-row index array filled with -1, allocated once. */
static int32_t *row_array(assay__det_out *out, int32_t **slot) {
    if (*slot != NULL) return *slot;
    int32_t *a = malloc((out->n ? out->n : 1) * sizeof *a);
    if (a == NULL) {
        assay__fail(out->ctx, ASSAY_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t r = 0; r < out->n; r++) a[r] = -1;
    *slot = a;
    return a;
}

int32_t *assay__out_row_tests(assay__det_out *out) {
    return row_array(out, &out->row_test);
}

int32_t *assay__out_suggested(assay__det_out *out) {
    return row_array(out, &out->suggested);
}

const char *assay__finding_test_verdict(const assay__det_out *out, const assay__finding *f,
                                        char *buf, size_t len) {
    const assay__test *t =
        f->test >= 0 && (size_t)f->test < out->n_tests ? &out->tests[f->test] : NULL;
    if (t == NULL)
        snprintf(buf, len, "not available");
    else
        snprintf(buf, len, "%s (q = %.2g)", t->significant ? "significant" : "not significant",
                 t->q);
    return buf;
}

assay_status assay__class_rows(assay_ctx *ctx, const assay_dataset *ds, const assay__graph *g,
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
    for (size_t r = 0; r < ds->n; r++)
        if (ds->y[r] >= 0 && g->ids[r * g->k] >= 0) st[(size_t)ds->y[r] + 2]++;
    for (size_t c = 0; c < nc; c++) st[c + 2] += st[c + 1];
    for (size_t r = 0; r < ds->n; r++)
        if (ds->y[r] >= 0 && g->ids[r * g->k] >= 0) (*rows)[st[(size_t)ds->y[r] + 1]++] = r;
    return ASSAY_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Combining the detectors' evidence. Each detector maps its score to calibrated evidence in
 * [0,1] that reaches 0.5 exactly where its flag rule fires; the combined score is the maximum.
 * So a row is flagged (score >= 0.5) iff at least one detector flagged it, one detector's strong
 * evidence is never diluted by another's noise, and the score is monotone in every detector's
 * evidence. The gate then applies the severity and flagged-fraction policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan/result_internal.h"

typedef struct rank_key {
    float score;
    uint8_t sev;
    float evsum;
    size_t row;
} rank_key;

/* Most suspicious first: score, then severity, then total evidence, then row. */
static int cmp_rank(const void *a, const void *b) {
    const rank_key *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    if (x->sev != y->sev) return x->sev < y->sev ? 1 : -1;
    if (x->evsum != y->evsum) return x->evsum < y->evsum ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

static int cmp_finding(const void *a, const void *b) {
    const assay__finding *x = a, *y = b;
    if (x->row != y->row) return (x->row > y->row) - (x->row < y->row);
    if (x->det != y->det) return (x->det > y->det) - (x->det < y->det);
    return (x->why > y->why) - (x->why < y->why);
}

/* Sorts findings by row and indexes them, so every format finds a row's findings directly. */
static assay_status index_findings(assay_ctx *ctx, assay_result *res) {
    qsort(res->findings, res->n_findings, sizeof *res->findings, cmp_finding);
    free(res->finding_start);
    res->finding_start = calloc(res->n + 1, sizeof *res->finding_start);
    if (res->finding_start == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t i = 0; i < res->n_findings; i++) res->finding_start[res->findings[i].row + 1]++;
    for (size_t r = 0; r < res->n; r++) res->finding_start[r + 1] += res->finding_start[r];
    return ASSAY_OK;
}

assay_status assay__combine(assay_ctx *ctx, const assay_dataset *ds, assay_result *res) {
    size_t n = res->n;
    ASSAY_TRY(index_findings(ctx, res));
    for (size_t r = 0; r < n; r++) {
        float best = 0.0f;
        for (int d = 0; d < ASSAY_DET_COUNT; d++) {
            float e = res->det_evidence[d][r];
            if (e > best) best = e;
        }
        res->score[r] = best;
        res->flagged[r] = best >= 0.5f;
        res->severity[r] = ASSAY_SEV_NONE;
    }
    memset(res->findings_by_sev, 0, sizeof res->findings_by_sev);
    for (size_t i = 0; i < res->n_findings; i++) {
        const assay__finding *f = &res->findings[i];
        if ((uint8_t)f->sev > res->severity[f->row]) res->severity[f->row] = (uint8_t)f->sev;
        res->findings_by_sev[f->sev]++;
    }
    memset(res->rows_by_sev, 0, sizeof res->rows_by_sev);
    res->n_flagged = 0;
    for (size_t r = 0; r < n; r++) {
        res->rows_by_sev[res->severity[r]]++;
        res->n_flagged += res->flagged[r];
    }

    rank_key *keys = malloc((res->n_flagged ? res->n_flagged : 1) * sizeof *keys);
    free(res->order);
    res->order = malloc((res->n_flagged ? res->n_flagged : 1) * sizeof *res->order);
    if (keys == NULL || res->order == NULL) {
        free(keys);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (ranking)");
    }
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
        if (!res->flagged[r]) continue;
        float evsum = 0.0f;
        for (int d = 0; d < ASSAY_DET_COUNT; d++) evsum += res->det_evidence[d][r];
        keys[m++] = (rank_key){res->score[r], res->severity[r], evsum, r};
    }
    qsort(keys, m, sizeof *keys, cmp_rank);
    for (size_t i = 0; i < m; i++) res->order[i] = keys[i].row;
    free(keys);

    res->small_classes = 0;
    for (size_t c = 0; c < ds->n_classes; c++) res->small_classes += ds->class_count[c] < 2;

    /* The gate: findings at or above fail_on, or too many rows flagged. */
    size_t at_or_above = 0;
    if (res->opts.fail_on != ASSAY_SEV_NONE)
        for (int s = (int)res->opts.fail_on; s < ASSAY__SEV_COUNT; s++)
            at_or_above += res->findings_by_sev[s];
    double frac = n ? (double)res->n_flagged / (double)n : 0.0;
    int too_many = frac > res->opts.max_flagged_fraction;
    res->gate_passed = at_or_above == 0 && !too_many;
    char *p = res->gate_reason;
    size_t left = sizeof res->gate_reason;
    int w = 0;
    if (at_or_above > 0)
        w = snprintf(p, left, "%zu finding%s at or above severity %s", at_or_above,
                     at_or_above == 1 ? "" : "s", assay_severity_name(res->opts.fail_on));
    if (too_many && w >= 0 && (size_t)w < left)
        snprintf(p + w, left - (size_t)w, "%sflagged fraction %.4f exceeds the maximum %.4f",
                 w > 0 ? "; " : "", frac, res->opts.max_flagged_fraction);
    if (res->gate_passed && res->opts.fail_on == ASSAY_SEV_NONE)
        snprintf(p, left,
                 "severities do not fail the gate (--fail-on none); flagged fraction "
                 "%.4f <= %.4f",
                 frac, res->opts.max_flagged_fraction);
    else if (res->gate_passed)
        snprintf(p, left, "no finding at or above severity %s and flagged fraction %.4f <= %.4f",
                 assay_severity_name(res->opts.fail_on), frac, res->opts.max_flagged_fraction);
    return ASSAY_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Combining the detectors' evidence. Each detector maps its score to calibrated evidence in
 * [0,1] that reaches 0.5 exactly where its flag rule fires; the combined score is the maximum.
 * So a row is flagged (score >= 0.5) iff at least one detector flagged it, one detector's strong
 * evidence is never diluted by another's noise, and the score is monotone in every detector's
 * evidence. The gate (src/decide/gate.c) then decides on the findings and tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "decide/result.h"
#include "detect/params.h"

/* Evidence of a detector for a row whose class/dataset test is not significant is scaled by
 * this factor: below the flag line, order among such rows kept. */
#define ASSAY__UNSUPPORTED_SCALE 0.499f
/* Highest evidence of a flag that is only for review (low severity, or resting on a test that
 * only warns), and of a review flag whose findings are all low (an outlier, a same-label near
 * copy, a rare class: a property of the data) below one of medium severity (a label the data
 * finds more likely wrong than right, a class-conditional outlier). */
#define ASSAY__REVIEW_CAP     0.6f
#define ASSAY__REVIEW_LOW_CAP 0.55f

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
assay_status assay__combine_index(assay_ctx *ctx, assay_result *res) {
    if (res->n_findings > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(res->findings, res->n_findings, sizeof *res->findings, cmp_finding);
    free(res->finding_start);
    res->finding_start = calloc(res->n + 1, sizeof *res->finding_start);
    if (res->finding_start == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t i = 0; i < res->n_findings; i++) res->finding_start[res->findings[i].row + 1]++;
    for (size_t r = 0; r < res->n; r++) res->finding_start[r + 1] += res->finding_start[r];
    return ASSAY_OK;
}

/* Gathers what the detectors produced, in run order (the order of report.json's "tests"): their
 * tests into one list (test_global maps each detector's own indices into it; a reference to
 * another detector's test maps to that test), their findings into one array, and the classes
 * they suggest instead of a row's own. */
static assay_status gather(assay_ctx *ctx, assay_result *res) {
    size_t n_tests = 0, n_findings = 0;
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        n_tests += res->det[d].n_tests;
        n_findings += res->det[d].n_findings;
        free(res->det[d].test_global);
        res->det[d].test_global =
            malloc((res->det[d].n_tests ? res->det[d].n_tests : 1) * sizeof(int32_t));
        if (res->det[d].test_global == NULL)
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (tests)");
    }
    free(res->tests);
    free(res->findings);
    res->tests = malloc((n_tests ? n_tests : 1) * sizeof *res->tests);
    res->findings = malloc((n_findings ? n_findings : 1) * sizeof *res->findings);
    if (res->tests == NULL || res->findings == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (findings)");
    res->n_tests = res->n_findings = 0;
    int32_t dataset_test[ASSAY_DET_COUNT]; /* each detector's first dataset-level test */
    for (int d = 0; d < ASSAY_DET_COUNT; d++) dataset_test[d] = -1;
    for (size_t i = 0; i < ASSAY_DET_COUNT; i++) {
        assay__det_out *out = &res->det[assay__detector_at(i)->id];
        for (size_t t = 0; t < out->n_tests; t++) {
            if (out->tests[t].det != out->id) continue; /* a reference: resolved below */
            if (out->tests[t].cls < 0 && dataset_test[out->id] < 0)
                dataset_test[out->id] = (int32_t)res->n_tests;
            out->test_global[t] = (int32_t)res->n_tests;
            res->tests[res->n_tests++] = out->tests[t];
        }
        if (out->n_findings > 0)
            memcpy(res->findings + res->n_findings, out->findings,
                   out->n_findings * sizeof *out->findings);
        res->n_findings += out->n_findings;
        free(out->findings); /* the result's copy is the one the gate and the reports use */
        out->findings = NULL;
        out->n_findings = out->cap_findings = 0;
        for (size_t r = 0; out->suggested != NULL && r < res->n; r++)
            if (res->suggested[r] < 0) res->suggested[r] = out->suggested[r];
    }
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        for (size_t t = 0; t < res->det[d].n_tests; t++) {
            assay_detector other = res->det[d].tests[t].det;
            if (other != (assay_detector)d)
                res->det[d].test_global[t] =
                    other >= 0 && other < ASSAY_DET_COUNT ? dataset_test[other] : -1;
        }
    return ASSAY_OK;
}

/* The dataset-level decisions: all tests of the scan adjusted together by Benjamini-Hochberg
 * (their q and verdict written back to each detector's own list, which its explanations read);
 * then rows a detector flagged in a class (or dataset) whose test is not significant lose that
 * flag, and the detectors' flag counts are recounted from the findings kept. */
static assay_status decide_tests(assay_ctx *ctx, assay_result *res) {
    const double fdr = assay__param(&res->opts, ASSAY__P_FDR);
    size_t m = 0;
    double *p = malloc((res->n_tests ? res->n_tests : 1) * sizeof *p);
    double *q = malloc((res->n_tests ? res->n_tests : 1) * sizeof *q);
    size_t *map = malloc((res->n_tests ? res->n_tests : 1) * sizeof *map);
    void *work = malloc((res->n_tests ? res->n_tests : 1) * ASSAY__BH_WORK);
    if (p == NULL || q == NULL || map == NULL || work == NULL) {
        free(p);
        free(q);
        free(map);
        free(work);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (tests)");
    }
    for (size_t i = 0; i < res->n_tests; i++)
        if (!isnan(res->tests[i].p)) {
            map[m] = i;
            p[m++] = res->tests[i].p;
        }
    assay__bh_adjust(p, m, q, work);
    res->n_significant = 0;
    for (size_t j = 0; j < m; j++) {
        assay__test *t = &res->tests[map[j]];
        t->q = q[j];
        t->significant = q[j] <= fdr;
        res->n_significant += (size_t)t->significant;
    }
    free(p);
    free(q);
    free(map);
    free(work);
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        for (size_t i = 0; i < res->det[d].n_tests; i++) {
            int32_t g = res->det[d].test_global[i];
            res->det[d].tests[i].q = g >= 0 ? res->tests[g].q : NAN;
            res->det[d].tests[i].significant = g >= 0 && res->tests[g].significant;
        }

    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        const assay__det_out *out = &res->det[d];
        if (out->row_test == NULL) continue;
        for (size_t r = 0; r < res->n; r++)
            if (out->row_test[r] >= 0 && !out->tests[out->row_test[r]].significant)
                out->evidence[r] *= ASSAY__UNSUPPORTED_SCALE;
    }
    size_t kept = 0;
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        res->det[d].flagged = 0;
        memset(res->det[d].by_sev, 0, sizeof res->det[d].by_sev);
    }
    for (size_t i = 0; i < res->n_findings; i++) {
        const assay__finding *f = &res->findings[i];
        if (f->test >= 0 && !res->det[f->det].tests[f->test].significant) continue;
        res->findings[kept++] = *f;
        res->det[f->det].flagged++;
        res->det[f->det].by_sev[f->sev]++;
    }
    res->n_findings = kept;
    return ASSAY_OK;
}

/* Detectors that flag more than flag-cap of the rows they scored (an ordering effect
 * over a sorted file, outliers of a heavy-tailed table) lose their flags: one such detector
 * would bury the others' evidence in the ranking. Their tests stand. */
static void cap_detectors(assay_result *res) {
    const double cap = assay__param(&res->opts, ASSAY__P_FLAG_CAP);
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        assay__det_out *out = &res->det[d];
        size_t flagged = 0;
        for (size_t r = 0; r < res->n; r++) flagged += out->evidence[r] >= 0.5f;
        if (out->rows_scored == 0 || cap >= 1.0 ||
            (double)flagged <= cap * (double)out->rows_scored)
            continue;
        out->capped = 1;
        assay__take_back_flags(res, (assay_detector)d,
                               "capped: it flagged more than flag-cap of the rows it scored, so "
                               "it does not tell them apart; its evidence ranks far below the "
                               "flag line and its rows are not flagged (its tests stand)");
    }
}

void assay__take_back_flags(assay_result *res, assay_detector d, const char *note) {
    assay__det_out *out = &res->det[d];
    size_t kept = 0;
    for (size_t i = 0; i < res->n_findings; i++)
        if (res->findings[i].det != d) res->findings[kept++] = res->findings[i];
    res->n_findings = kept;
    for (size_t r = 0; r < res->n && out->evidence != NULL; r++)
        out->evidence[r] *= ASSAY__OBSERVATION_SCALE;
    out->flagged = 0;
    memset(out->by_sev, 0, sizeof out->by_sev);
    out->note = note;
}

/* Whether detector d has a dataset-level test of its own with a p-value and none of them is
 * significant: its flags that stand without a test (knn-label's label-noise model) are then
 * shown for review, not as evidence the data supports. */
static int dataset_test_quiet(const assay__det_out *out) {
    int has = 0;
    for (size_t i = 0; i < out->n_tests; i++) {
        const assay__test *t = &out->tests[i];
        if (t->det != out->id || t->cls >= 0 || isnan(t->p)) continue;
        if (t->significant) return 0;
        has = 1;
    }
    return has;
}

/* A flag that is only "for review" (every finding of that detector for the row is low
 * severity: an outlier, a same-label near duplicate, a rare class; its test only warns; or it
 * stands without a test while its detector's dataset test is not significant) keeps its flag
 * but its evidence above 0.5 is compressed: a natural outlier or an ambiguous label must not
 * outrank a row that a significant poisoning test supports. Low-severity review flags go to
 * [0.5, ASSAY__REVIEW_LOW_CAP], medium and high ones to [ASSAY__REVIEW_LOW_CAP,
 * ASSAY__REVIEW_CAP]: 18 outliers of a drifting table outranked half of its 40 flipped labels
 * when both shared one band. Monotone in each detector's evidence. */
static void weigh_for_review(assay_result *res) {
    const assay_severity fail_on = res->opts.fail_on;
    int quiet[ASSAY_DET_COUNT];
    for (int d = 0; d < ASSAY_DET_COUNT; d++) quiet[d] = dataset_test_quiet(&res->det[d]);
    for (size_t r = 0; r < res->n; r++) {
        uint8_t max_sev[ASSAY_DET_COUNT] = {0};
        for (size_t i = res->finding_start[r]; i < res->finding_start[r + 1]; i++) {
            const assay__finding *f = &res->findings[i];
            if ((uint8_t)f->sev > max_sev[f->det]) max_sev[f->det] = (uint8_t)f->sev;
        }
        for (int d = 0; d < ASSAY_DET_COUNT; d++) {
            const assay__det_out *out = &res->det[d];
            float *e = &out->evidence[r];
            const int tested = out->row_test != NULL && out->row_test[r] >= 0;
            int observation = (tested && fail_on != ASSAY_SEV_NONE &&
                               out->tests[out->row_test[r]].sev < fail_on) ||
                              (!tested && quiet[d]);
            if ((max_sev[d] == ASSAY_SEV_LOW || observation) && *e > 0.5f) {
                const float lo = max_sev[d] <= ASSAY_SEV_LOW ? 0.5f : ASSAY__REVIEW_LOW_CAP;
                const float hi =
                    max_sev[d] <= ASSAY_SEV_LOW ? ASSAY__REVIEW_LOW_CAP : ASSAY__REVIEW_CAP;
                *e = lo + (hi - lo) * (*e - 0.5f) / 0.5f;
            }
        }
    }
}

/* The tie-break of the ranking: the evidence of a row summed over detector families, each
 * family counting once (its strongest detector): spectral, SPECTRE and cluster look at the same
 * class subspace and must not outvote a detector of another signal three to one. */
static float family_evidence(const assay_result *res, size_t r) {
    float sum = 0.0f;
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        const char *fam = assay__detector_get((assay_detector)d)->desc->family;
        int first = 1;
        float best = res->det[d].evidence[r];
        for (int e = 0; e < ASSAY_DET_COUNT; e++) {
            if (e == d || strcmp(assay__detector_get((assay_detector)e)->desc->family, fam) != 0)
                continue;
            if (e < d) first = 0;
            if (res->det[e].evidence[r] > best) best = res->det[e].evidence[r];
        }
        if (first) sum += best;
    }
    return sum;
}

assay_status assay__combine_rank(assay_ctx *ctx, const assay_dataset *ds, assay_result *res) {
    size_t n = res->n;
    for (size_t r = 0; r < n; r++) {
        float best = 0.0f;
        for (int d = 0; d < ASSAY_DET_COUNT; d++) {
            float e = res->det[d].evidence[r];
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
        float evsum = family_evidence(res, r);
        keys[m++] = (rank_key){res->score[r], res->severity[r], evsum, r};
    }
    if (m > 1) qsort(keys, m, sizeof *keys, cmp_rank);
    for (size_t i = 0; i < m; i++) res->order[i] = keys[i].row;
    free(keys);

    res->small_classes = 0;
    for (size_t c = 0; c < ds->n_classes; c++) res->small_classes += ds->class_count[c] < 2;

    return ASSAY_OK;
}

assay_status assay__combine(assay_ctx *ctx, const assay_dataset *ds, assay_result *res) {
    ASSAY_TRY(gather(ctx, res));
    ASSAY_TRY(decide_tests(ctx, res));
    ASSAY_TRY(assay__corroborate_ordering(ctx, ds, res));
    cap_detectors(res);
    ASSAY_TRY(assay__combine_index(ctx, res));
    weigh_for_review(res);
    ASSAY_TRY(assay__combine_rank(ctx, ds, res));
    /* The gate (src/decide/gate.c): findings at or above fail_on, significant tests, or too many
     * rows flagged, as the scan options say; assay_policy_apply may decide again. */
    return assay__gate_default(ctx, ds, res);
}

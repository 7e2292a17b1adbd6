/* SPDX-License-Identifier: Apache-2.0 */
/* Corroboration of a row-order effect. A file sorted by class, time or source has a non-random
 * row order, so the `ordering` test alone is an observation (it warns). It becomes evidence of
 * poisoning when the block of rows it finds also concentrates the rows that evidence detectors
 * (label, backdoor, duplicate, tampering) flagged: an appended poisoned block. This second-stage
 * test runs in the decision step, after the first tests are decided, because it needs the
 * other detectors' flags; it is asked only when the order test is significant, and compares
 * within classes, since a file sorted by class also gathers each class's evidence. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/stats.h"
#include "decide/result.h"
#include "detect/params.h"

/* The block must hold at least this many evidence rows, at this many times the count expected
 * within classes (an effect size next to the p-value: a huge file makes any overlap
 * significant). */
#define CORROB_MIN_ROWS  3
#define CORROB_MIN_RATIO 2.0

/* The order effect stands alone: its flags are taken back (its tests stand and warn). */
static void unflag_ordering(assay_result *res) {
    assay__take_back_flags(res, ASSAY_DET_ORDERING,
                           "row order alone is an observation about the file: the rows of its "
                           "block are not flagged unless rows that evidence detectors flag "
                           "concentrate there");
}

static int is_evidence_kind(assay__kind k) {
    return k == ASSAY__KIND_LABEL || k == ASSAY__KIND_BACKDOOR || k == ASSAY__KIND_DUPLICATE ||
           k == ASSAY__KIND_TAMPERING;
}

/* Appends t to detector d's tests and to the scan's list, decided already (q = p: a single
 * conditional test, asked only when the first stage is significant). */
static assay_status append_decided(assay_ctx *ctx, assay_result *res, assay__test *t, double fdr) {
    assay__det_out *out = &res->det[t->det];
    int32_t local = -1;
    ASSAY_TRY(assay__out_test(out, t, &local));
    int32_t *tg = realloc(out->test_global, out->n_tests * sizeof *tg);
    assay__test *all = realloc(res->tests, (res->n_tests + 1) * sizeof *all);
    if (tg != NULL) out->test_global = tg;
    if (all != NULL) res->tests = all;
    if (tg == NULL || all == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (tests)");
    assay__test *mine = &out->tests[local];
    mine->q = mine->p;
    mine->significant = mine->p <= fdr;
    tg[local] = (int32_t)res->n_tests;
    res->tests[res->n_tests++] = *mine;
    res->n_significant += (size_t)mine->significant;
    return ASSAY_OK;
}

/* The overlap of the block with the evidence rows, against what the same counts would give
 * within each class (a file sorted by class puts every class's rows in blocks, and a class's
 * evidence -- a backdoor test is per class -- with them): observed, expected and variance of
 * the overlap summed over the classes (Mantel-Haenszel), rows without a label in a stratum of
 * their own. */
static assay_status stratified_overlap(assay_ctx *ctx, const assay_dataset *ds, const uint8_t *mark,
                                       size_t n, double *obs, double *expect, double *var,
                                       double *block, double *evid) {
    const size_t strata = ds->n_classes + 1;
    double *t = calloc(4 * strata, sizeof *t); /* per stratum: rows, block, evidence, both */
    if (t == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (ordering)");
    for (size_t r = 0; r < n; r++) {
        size_t c = ds->y[r] >= 0 ? (size_t)ds->y[r] : ds->n_classes;
        t[4 * c] += 1.0;
        t[4 * c + 1] += mark[r] & 1u;
        t[4 * c + 2] += (mark[r] >> 1) & 1u;
        t[4 * c + 3] += mark[r] == 3u;
    }
    *obs = *expect = *var = *block = *evid = 0.0;
    for (size_t c = 0; c < strata; c++) {
        double m = t[4 * c], b = t[4 * c + 1], e = t[4 * c + 2];
        *block += b;
        *evid += e;
        *obs += t[4 * c + 3];
        if (m < 2.0) continue;
        *expect += b * e / m;
        *var += b * e * (m - b) * (m - e) / (m * m * (m - 1.0));
    }
    free(t);
    return ASSAY_OK;
}

assay_status assay__corroborate_ordering(assay_ctx *ctx, const assay_dataset *ds,
                                         assay_result *res) {
    const assay__det_out *ord = &res->det[ASSAY_DET_ORDERING];
    int significant = 0;
    for (size_t i = 0; i < ord->n_tests; i++)
        significant |= ord->tests[i].det == ASSAY_DET_ORDERING && ord->tests[i].significant;
    if (!significant || !ord->ran) return ASSAY_OK;

    const size_t n = res->n;
    uint8_t *mark = calloc(n ? n : 1, 1); /* bit 0: in the block, bit 1: evidence */
    if (mark == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (ordering)");
    for (size_t i = 0; i < res->n_findings; i++) {
        const assay__finding *f = &res->findings[i];
        if (f->det == ASSAY_DET_ORDERING)
            mark[f->row] |= 1u;
        else if (f->sev >= ASSAY_SEV_MEDIUM &&
                 is_evidence_kind(assay__detector_get(f->det)->desc->kind))
            mark[f->row] |= 2u;
    }
    double both = 0, expect = 0, var = 0, block = 0, evid = 0;
    assay_status s = stratified_overlap(ctx, ds, mark, n, &both, &expect, &var, &block, &evid);
    free(mark);
    if (s != ASSAY_OK) return s;
    if (block == 0 || evid == 0) {
        unflag_ordering(res);
        return ASSAY_OK;
    }

    double ratio = expect > 0.0 ? both / expect : INFINITY;
    double p =
        var > 0.0 ? assay__norm_sf((both - expect - 0.5) / sqrt(var)) : (both > expect ? 0.0 : 1.0);
    /* the effect size must be there too: below it the test is reported, not significant */
    if (both < CORROB_MIN_ROWS || ratio < CORROB_MIN_RATIO) p = 1.0;
    assay__test t = {.det = ASSAY_DET_ORDERING,
                     .cls = -1,
                     .stat_name = "evidence_rows_in_ordered_block",
                     .stat = both,
                     .p = p,
                     .null = "Mantel-Haenszel test, within each class, of the rows other "
                             "detectors flag (label, backdoor, duplicate, tampering) inside the "
                             "ordered block; asked only when the order test is significant; needs "
                             "3 rows and twice the count expected within classes (else p = 1)",
                     .q = NAN,
                     .sev = ASSAY_SEV_HIGH};
    snprintf(t.detail, sizeof t.detail,
             "%.0f of the %.0f rows of the ordered block are flagged by evidence detectors, "
             "%.1f times the %.1f expected within their classes (%.0f of %zu rows flagged)",
             both, block, ratio, expect, evid, n);
    ASSAY_TRY(append_decided(ctx, res, &t, assay__param(&res->opts, ASSAY__P_FDR)));
    if (!res->det[ASSAY_DET_ORDERING].tests[res->det[ASSAY_DET_ORDERING].n_tests - 1].significant)
        unflag_ordering(res);
    return ASSAY_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The tampering detector: with a baseline manifest (assay_scan_opts.baseline_path, opened by the
 * scan before the graph is built so a wrong file fails fast), every row whose id is in the
 * baseline with a different row digest -- features or label changed -- is a finding of high
 * severity. Added and removed rows, the class-distribution shift and the drift are reported in
 * the result's baseline block, not as findings: they are changes to review, not evidence that
 * a row was altered. Runs last, so the class statistics see every other detector's scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline.h"
#include "report/report_internal.h"

enum { WHY_CHANGED = 0, WHY_RELABELLED = 1 };

assay_status assay__detect_tampering(assay_ctx *ctx, const assay_dataset *ds, assay_result *res) {
    assay__det_summary *sum = &res->det[ASSAY_DET_TAMPERING];
    sum->rule = "row id in the baseline manifest with a different row digest (features or label "
                "changed); score 1 changed, 0 unchanged, none for added rows";
    sum->threshold = 0.5;
    assay__baseline *b = res->baseline;
    if (b == NULL) {
        sum->note = "no baseline given";
        return ASSAY_OK;
    }
    ASSAY_TRY(assay__bl_side_from_scan(ctx, ds, res, &b->new_side));
    ASSAY_TRY(assay__bl_compare(ctx, &b->old_side, &b->new_side, &b->diff));
    b->compared = 1;
    const assay__bl_diff *df = &b->diff;
    res->class_shift_p = df->p_value;
    sum->ran = 1;
    sum->stat_name[0] = "added";
    sum->stat_name[1] = "removed";
    sum->stat_name[2] = "changed";
    sum->stat_name[3] = "relabelled";
    sum->stat[0] = (double)df->n_added;
    sum->stat[1] = (double)df->n_removed;
    sum->stat[2] = (double)df->n_changed;
    sum->stat[3] = (double)df->n_relabelled;
    if (!df->by_id) {
        sum->note = "matched by row digest only (a side has no ids): changed rows cannot be told "
                    "from removed plus added rows, so there are no tampering findings";
        return ASSAY_OK;
    }
    /* matched rows score 0 until found changed; added rows keep NaN (not applicable) */
    uint8_t *is_added = calloc(ds->n ? ds->n : 1, 1);
    if (is_added == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t i = 0; i < df->n_added; i++) is_added[df->added[i]] = 1;
    for (size_t r = 0; r < ds->n; r++)
        if (!is_added[r]) res->det_score[ASSAY_DET_TAMPERING][r] = 0.0f;
    free(is_added);
    sum->rows_scored = df->n_unchanged + df->n_changed;
    for (size_t i = 0; i < df->n_changed; i++) {
        const assay__bl_changed *c = &df->changed[i];
        res->det_score[ASSAY_DET_TAMPERING][c->new_index] = 1.0f;
        res->det_evidence[ASSAY_DET_TAMPERING][c->new_index] = 1.0f;
        assay__finding f = {.row = c->new_index,
                            .det = ASSAY_DET_TAMPERING,
                            .sev = ASSAY_SEV_HIGH,
                            .why = c->relabelled ? WHY_RELABELLED : WHY_CHANGED,
                            .score = 1.0f,
                            .a = (double)c->old_index,
                            .b = NAN,
                            .c = NAN,
                            .ref = (int64_t)i,
                            .test = -1};
        ASSAY_TRY(assay__result_add_finding(ctx, res, &f));
    }
    return ASSAY_OK;
}

/* The baseline's record of a finding's row. */
static const assay__bl_changed *changed_of(const assay_result *res, const assay__finding *f) {
    const assay__baseline *b = res->baseline;
    if (b == NULL || !b->compared || f->ref < 0 || (size_t)f->ref >= b->diff.n_changed) return NULL;
    return &b->diff.changed[f->ref];
}

void assay__explain_tampering(const assay_dataset *ds, const assay_result *res,
                              const assay__finding *f, char *buf, size_t len) {
    (void)ds;
    const assay__bl_changed *c = changed_of(res, f);
    if (c == NULL) {
        snprintf(buf, len, "row changed since the baseline");
        return;
    }
    const assay__baseline *b = res->baseline;
    char oh[65], nh[65];
    assay__hex32(b->old_side.digest[c->old_index], oh);
    assay__hex32(b->new_side.digest[c->new_index], nh);
    if (c->relabelled)
        snprintf(buf, len,
                 "id '%s' was relabelled since the baseline: label '%s' is now '%s' (row digest "
                 "%.12s... was %.12s...; the features may have changed too)",
                 b->new_side.id[c->new_index], b->old_side.label[c->old_index],
                 b->new_side.label[c->new_index], nh, oh);
    else
        snprintf(buf, len,
                 "id '%s' changed since the baseline with the same label '%s': its features differ "
                 "(row digest %.12s... was %.12s..., baseline row %zu)",
                 b->new_side.id[c->new_index], b->new_side.label[c->new_index], nh, oh,
                 c->old_index);
}

static json_t *typed(const char *text, int is_int) {
    if (is_int) {
        char *end = NULL;
        long long v = strtoll(text, &end, 10);
        if (end != text && *end == '\0') return json_integer((json_int_t)v);
    }
    return assay__json_str(text);
}

json_t *assay__tampering_evidence_json(const assay_result *res, const assay__finding *f) {
    const assay__bl_changed *c = changed_of(res, f);
    if (c == NULL) return json_object();
    const assay__bl_side *o = &res->baseline->old_side, *n = &res->baseline->new_side;
    char oh[65], nh[65];
    assay__hex32(o->digest[c->old_index], oh);
    assay__hex32(n->digest[c->new_index], nh);
    return json_pack("{s:s, s:s, s:o, s:o, s:b, s:I}", "old_sha256", oh, "new_sha256", nh,
                     "old_label", typed(o->label[c->old_index], o->labels_int), "new_label",
                     typed(n->label[c->new_index], n->labels_int), "relabelled", c->relabelled,
                     "old_index", (json_int_t)c->old_index);
}

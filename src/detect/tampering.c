/* SPDX-License-Identifier: Apache-2.0 */
/* tampering: with a baseline manifest (assay_scan_opts.baseline_path), every row whose id is in
 * the baseline with a different row digest -- features or label changed -- is a finding of high
 * severity. The scan compares the data with the baseline just before this detector runs
 * (src/baseline/), last, so the class statistics of that comparison see every other detector's
 * scores; this detector only reads the changed rows. Added and removed rows, the
 * class-distribution shift and the drift are reported in the result's baseline block, not as
 * findings: they are changes to review, not evidence that a row was altered. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "detect/detector.h"

enum { WHY_CHANGED = 0, WHY_RELABELLED = 1 };

static assay_status detect_tampering(const assay__det_input *in, assay__det_out *out) {
    const assay_dataset *ds = in->ds;
    out->rule = "row id in the baseline manifest with a different row digest (features or label "
                "changed); score 1 changed, 0 unchanged, none for added rows";
    out->threshold = 0.5;
    const assay__row_changes *df = in->changes;
    if (df == NULL) {
        out->note = "no baseline given";
        return ASSAY_OK;
    }
    out->ran = 1;
    out->stat_name[0] = "added";
    out->stat_name[1] = "removed";
    out->stat_name[2] = "changed";
    out->stat_name[3] = "relabelled";
    out->stat[0] = (double)df->n_added;
    out->stat[1] = (double)df->n_removed;
    out->stat[2] = (double)df->n_changed;
    out->stat[3] = (double)df->n_relabelled;
    if (!df->matched) {
        out->note = "matched by row digest only (a side has no ids and the baseline manifest "
                    "predates the features-only digest): changed rows cannot be told from "
                    "removed plus added rows, so there are no tampering findings";
        return ASSAY_OK;
    }
    /* matched rows score 0 until found changed; added rows keep NaN (not applicable) */
    for (size_t r = 0; r < ds->n; r++)
        if (!df->added[r]) out->score[r] = 0.0f;
    out->rows_scored = df->n_unchanged + df->n_changed;
    for (size_t i = 0; i < df->n_changed; i++) {
        const assay__changed_row *c = &df->changed[i];
        out->score[c->new_index] = 1.0f;
        out->evidence[c->new_index] = 1.0f;
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
        ASSAY_TRY(assay__out_finding(out, &f));
    }
    return ASSAY_OK;
}

/* The changed row a finding is about (f->ref indexes the changes), NULL if none. */
static const assay__changed_row *changed_of(const assay__det_input *in, const assay__finding *f) {
    const assay__row_changes *df = in->changes;
    if (df == NULL || f->ref < 0 || (size_t)f->ref >= df->n_changed) return NULL;
    return &df->changed[f->ref];
}

static void explain_tampering(const assay__det_input *in, const assay__det_out *out,
                              const assay__finding *f, char *buf, size_t len) {
    (void)out;
    const assay__changed_row *c = changed_of(in, f);
    if (c == NULL) {
        snprintf(buf, len, "row changed since the baseline");
        return;
    }
    char oh[65], nh[65];
    assay__hex32(c->old_digest, oh);
    assay__hex32(c->new_digest, nh);
    if (c->relabelled)
        snprintf(buf, len,
                 "id '%s' was relabelled since the baseline: label '%s' is now '%s' (row digest "
                 "%.12s... was %.12s...; the features may have changed too)",
                 c->id, c->old_label, c->new_label, nh, oh);
    else
        snprintf(buf, len,
                 "id '%s' changed since the baseline with the same label '%s': its features differ "
                 "(row digest %.12s... was %.12s..., baseline row %zu)",
                 c->id, c->new_label, nh, oh, c->old_index);
}

/* Old and new row digests and labels: what the baseline recorded and what the row is now. */
static size_t evidence_tampering(const assay__det_input *in, const assay__det_out *out,
                                 const assay__finding *f, assay__ev_value *v) {
    (void)out;
    const assay__changed_row *c = changed_of(in, f);
    if (c == NULL) return 0;
    assay__hex32(c->old_digest, v[0].buf);
    assay__hex32(c->new_digest, v[1].buf);
    v[0].text = v[0].buf;
    v[1].text = v[1].buf;
    v[2].text = c->old_label;
    v[2].is_int = c->old_label_int;
    v[3].text = c->new_label;
    v[3].is_int = c->new_label_int;
    v[4].num = c->relabelled;
    v[5].num = (double)c->old_index;
    return 6;
}

static const char *const k_reasons[] = {"changed_since_baseline", "relabelled_since_baseline",
                                        NULL};
static const assay__ev_field k_fields[] = {
    {"old_sha256", ASSAY__EV_TEXT, ASSAY__FROM_FN, "the row digest the baseline recorded"},
    {"new_sha256", ASSAY__EV_TEXT, ASSAY__FROM_FN, "the row digest now"},
    {"old_label", ASSAY__EV_TYPED, ASSAY__FROM_FN, "the label the baseline recorded"},
    {"new_label", ASSAY__EV_TYPED, ASSAY__FROM_FN, "the label now"},
    {"relabelled", ASSAY__EV_BOOL, ASSAY__FROM_FN, "the label changed"},
    {"old_index", ASSAY__EV_INTEGER, ASSAY__FROM_FN, "the row's index in the baseline"},
    {NULL, 0, 0, NULL}};

const assay__detector_desc assay__detector_tampering = {
    .kind = ASSAY__KIND_TAMPERING,
    .severity = ASSAY_SEV_HIGH,
    .family = "baseline",
    .on_clean = "Rows changed since the baseline scan: if the change was intended, rescan to make "
                "a new baseline; otherwise find who changed them.",
    .inputs = "ids, row digests and a baseline manifest (--baseline)",
    .needs = ASSAY__NEEDS_BASELINE,
    .run = detect_tampering,
    .explain = explain_tampering,
    .reasons = k_reasons,
    .fields = k_fields,
    .evidence = evidence_tampering,
};

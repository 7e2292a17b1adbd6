/* SPDX-License-Identifier: Apache-2.0 */
/* integrity: rows that cannot be trusted as data at all -- non-finite or overflowing values,
 * all-zero feature vectors, labels outside the declared set. Such rows are reported, never a
 * crash, and non-finite ones are left out of the neighbour graph. */
#include <math.h>
#include <stdio.h>

#include "detect/detector.h"

/* Reason codes (finding.why). */
enum { WHY_NONFINITE = 0, WHY_OVERFLOW = 1, WHY_ZERO = 2, WHY_BADLABEL = 3 };

static assay_status detect_integrity(const assay__det_input *in, assay__det_out *out) {
    const assay_dataset *ds = in->ds;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    size_t bad_i = 0, n_nonfinite = 0, n_overflow = 0, n_zero = 0, n_badlabel = 0;
    sum->ran = 1;
    sum->rule = "non-finite or overflowing values, or a label outside the declared set: high; "
                "an all-zero feature vector: medium";
    sum->threshold = 0.5;
    for (size_t r = 0; r < ds->n; r++) {
        uint8_t f = ds->row_flags[r];
        score[r] = 0.0f;
        ev[r] = 0.0f;
        if (f == 0) continue;
        assay__finding fd = {r, ASSAY_DET_INTEGRITY, ASSAY_SEV_HIGH, 0, 1.0f, 0, 0, 0, -1, -1};
        /* Non-finite/overflow rows come first in ds->bad_rows, in row order. */
        if (f & (ASSAY__ROW_NONFINITE | ASSAY__ROW_OVERFLOW)) {
            while (bad_i < ds->n_bad_rows && ds->bad_rows[bad_i].row < r) bad_i++;
            const assay__bad_row *b = bad_i < ds->n_bad_rows ? &ds->bad_rows[bad_i] : NULL;
            fd.why = (f & ASSAY__ROW_NONFINITE) ? WHY_NONFINITE : WHY_OVERFLOW;
            fd.a = b ? (double)b->nonfinite : 0.0;
            fd.b = b ? (double)b->first_col : 0.0;
            if (f & ASSAY__ROW_NONFINITE)
                n_nonfinite++;
            else
                n_overflow++;
            ASSAY_TRY(assay__out_finding(out, &fd));
        }
        if (f & ASSAY__ROW_BADLABEL) {
            fd.why = WHY_BADLABEL;
            fd.a = fd.b = 0.0;
            n_badlabel++;
            ASSAY_TRY(assay__out_finding(out, &fd));
        }
        if ((f & ASSAY__ROW_ZERO) && !(f & ASSAY__ROW_NONFINITE)) {
            fd.why = WHY_ZERO;
            fd.sev = ASSAY_SEV_MEDIUM;
            fd.score = 0.75f;
            fd.a = fd.b = 0.0;
            n_zero++;
            ASSAY_TRY(assay__out_finding(out, &fd));
        }
        int high = (f & (ASSAY__ROW_NONFINITE | ASSAY__ROW_OVERFLOW | ASSAY__ROW_BADLABEL)) != 0;
        score[r] = high ? 1.0f : (f & ASSAY__ROW_ZERO) ? 0.75f : 0.0f;
        ev[r] = score[r];
        if (score[r] > 0.0f) {
            sum->flagged++;
            sum->by_sev[high ? ASSAY_SEV_HIGH : ASSAY_SEV_MEDIUM]++;
        }
    }
    sum->rows_scored = ds->n;
    sum->stat_name[0] = "nonfinite_rows";
    sum->stat[0] = (double)n_nonfinite;
    sum->stat_name[1] = "overflow_rows";
    sum->stat[1] = (double)n_overflow;
    sum->stat_name[2] = "zero_rows";
    sum->stat[2] = (double)n_zero;
    sum->stat_name[3] = "undeclared_label_rows";
    sum->stat[3] = (double)n_badlabel;
    return ASSAY_OK;
}

static void explain_integrity(const assay__det_input *in, const assay__det_out *out,
                              const assay__finding *f, char *buf, size_t len) {
    (void)out;
    char lb[32];
    switch (f->why) {
    case WHY_NONFINITE:
        snprintf(buf, len,
                 "%.0f feature value%s NaN or infinite as float32 (first at column %.0f); the "
                 "row is left out of the neighbour graph",
                 f->a, f->a == 1.0 ? " is" : "s are", f->b);
        break;
    case WHY_OVERFLOW:
        snprintf(buf, len,
                 "feature values are so large that distances overflow float32; the row is "
                 "left out of the neighbour graph");
        break;
    case WHY_ZERO:
        snprintf(buf, len, "all feature values are zero%s",
                 in->opts->metric == ASSAY_METRIC_COSINE
                     ? "; it has no direction, so it is left out of the cosine graph"
                     : "");
        break;
    default:
        snprintf(buf, len, "label '%s' is not in the declared label set",
                 assay__label_text(in->ds, f->row, lb, sizeof lb));
    }
}

/* Only non-finite rows carry evidence: how many values and the first column. */
static size_t evidence_integrity(const assay__det_input *in, const assay__det_out *out,
                                 const assay__finding *f, assay__ev_value *v) {
    (void)in;
    (void)out;
    if (f->why != WHY_NONFINITE) return 0;
    v[0].num = f->a;
    v[1].num = f->b;
    return 2;
}

static const char *const k_reasons[] = {"nonfinite_values", "overflowing_values", "zero_vector",
                                        "undeclared_label", NULL};
static const assay__ev_field k_fields[] = {
    {"nonfinite_values", ASSAY__EV_INTEGER, ASSAY__FROM_FN, "values that are NaN or infinite"},
    {"first_column", ASSAY__EV_INTEGER, ASSAY__FROM_FN, "the first such column (0-based)"},
    {NULL, 0, 0, NULL}};

const assay__detector_desc assay__detector_integrity = {
    .kind = ASSAY__KIND_INTEGRITY,
    .severity = ASSAY_SEV_HIGH,
    .family = "data integrity",
    .on_clean = "Never natural for a training file: drop or repair the rows (NaN/Inf, overflowing "
                "or all-zero vectors, labels outside the declared classes).",
    .inputs = "features and labels",
    .run = detect_integrity,
    .explain = explain_integrity,
    .reasons = k_reasons,
    .fields = k_fields,
    .evidence = evidence_integrity,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* knn-outlier: rows far from their neighbours. The raw statistic is the mean distance to the k
 * neighbours; its rank in the dataset is the [0,1] score. A row is flagged when its mean
 * distance exceeds Q3 + 1.7 * IQR of all rows' mean distances (cleanlab's rule). Outliers can
 * be benign, so findings are low severity: "for review". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "detect/detector.h"

typedef struct row_val {
    double v;
    size_t row;
} row_val;

static int cmp_row_val(const void *a, const void *b) {
    const row_val *x = a, *y = b;
    if (x->v != y->v) return (x->v > y->v) - (x->v < y->v);
    return (x->row > y->row) - (x->row < y->row);
}

/* Quantile with linear interpolation between order statistics (NumPy's default). */
static double quantile(const row_val *sorted, size_t m, double q) {
    double pos = q * (double)(m - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < m ? lo + 1 : lo;
    double f = pos - (double)lo;
    return sorted[lo].v + f * (sorted[hi].v - sorted[lo].v);
}

static assay_status detect_knn_outlier(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    const assay__graph *g = in->graph;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    const size_t k = g->k;
    sum->ran = 1;
    sum->rule = "mean distance to the k neighbours > Q3 + factor * IQR of all rows' mean distances";
    row_val *vals = malloc((ds->n ? ds->n : 1) * sizeof *vals);
    double *dbar = malloc((ds->n ? ds->n : 1) * sizeof *dbar);
    if (vals == NULL || dbar == NULL) {
        free(vals);
        free(dbar);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (knn-outlier)");
    }
    size_t m = 0;
    for (size_t r = 0; r < ds->n; r++) {
        score[r] = NAN;
        ev[r] = 0.0f;
        if (g->ids[r * k] < 0) continue;
        double s = 0.0;
        for (size_t c = 0; c < k; c++) s += g->dist[r * k + c];
        dbar[r] = s / (double)k;
        vals[m].v = dbar[r];
        vals[m++].row = r;
    }
    qsort(vals, m, sizeof *vals, cmp_row_val);
    double q1 = 0.0, q3 = 0.0, med = 0.0;
    if (m > 0) {
        q1 = quantile(vals, m, 0.25);
        q3 = quantile(vals, m, 0.75);
        med = quantile(vals, m, 0.5);
    }
    double fence = q3 + in->opts->outlier_iqr * (q3 - q1);
    sum->threshold = fence;

    /* Rank score with ties sharing their average rank, so equal distances score equally. */
    size_t above = 0;
    for (size_t a = 0; a < m;) {
        size_t b = a + 1;
        while (b < m && vals[b].v == vals[a].v) b++;
        double rank = m > 1 ? 0.5 * (double)(a + b - 1) / (double)(m - 1) : 0.5;
        for (size_t c = a; c < b; c++) score[vals[c].row] = (float)rank;
        if (vals[a].v > fence) above += b - a;
        a = b;
    }
    assay_status s = ASSAY_OK;
    size_t pos = 0;
    for (size_t a = 0; a < m && s == ASSAY_OK; a++) {
        size_t r = vals[a].row;
        double v = vals[a].v;
        if (v <= q3) continue;
        if (v <= fence) {
            /* Below the fence nothing is flagged and no test supports the row: evidence at most
             * 0.25, as other detectors' evidence without a significant test (a clean row
             * between Q3 and the fence must not outrank a likely-wrong label). */
            ev[r] = fence > q3 ? (float)(0.25 * (v - q3) / (fence - q3)) : 0.0f;
            continue;
        }
        /* Above the fence: evidence rises from 0.5 to 1 with the rank among flagged rows. */
        pos++;
        ev[r] = (float)(0.5 + 0.5 * (double)pos / (double)above);
        assay__finding f = {
            r, ASSAY_DET_KNN_OUTLIER, ASSAY_SEV_LOW, 0, score[r], v, fence, score[r], -1, -1};
        sum->flagged++;
        sum->by_sev[ASSAY_SEV_LOW]++;
        s = assay__out_finding(out, &f);
    }
    sum->rows_scored = m;
    sum->stat_name[0] = "median_mean_distance";
    sum->stat[0] = med;
    sum->stat_name[1] = "q1";
    sum->stat[1] = q1;
    sum->stat_name[2] = "q3";
    sum->stat[2] = q3;
    sum->stat_name[3] = "iqr_factor";
    sum->stat[3] = in->opts->outlier_iqr;
    free(vals);
    free(dbar);
    if (s != ASSAY_OK) return s;
    /* The fence is relative to the data, so some rows are always beyond it and their share
     * differs between natural classes (Fashion-MNIST's sandals: 12%, trousers: 0.1%): there is
     * no null of "no poison" for it. The share is reported; p is NaN, so it never gates. */
    assay__test t = {.det = ASSAY_DET_KNN_OUTLIER,
                     .cls = -1,
                     .stat_name = "share_beyond_fence",
                     .stat = 0.0,
                     .p = NAN,
                     .null = "none: outliers are relative to the data (informational)",
                     .q = NAN};
    t.stat = m ? (double)sum->flagged / (double)m : 0.0;
    snprintf(t.detail, sizeof t.detail,
             "%zu of %zu rows (%.2f%%) are farther from their neighbours than the far-out fence; "
             "for review, not evidence of poison on its own",
             sum->flagged, m, 100.0 * t.stat);
    return assay__out_test(out, &t, NULL);
}

static void explain_knn_outlier(const assay__det_input *in, const assay__det_out *out,
                                const assay__finding *f, char *buf, size_t len) {
    (void)out;
    snprintf(buf, len,
             "mean distance to its %zu nearest neighbours is %.4g, above the outlier fence "
             "%.4g (farther than %.1f%% of rows)",
             in->graph->k, f->a, f->b, 100.0 * f->c);
}

static const char *const k_reasons[] = {"far_from_neighbours", NULL};
static const assay__ev_field k_fields[] = {
    {"mean_distance", ASSAY__EV_NUMBER, ASSAY__FROM_A, "mean distance to the k neighbours"},
    {"fence", ASSAY__EV_NUMBER, ASSAY__FROM_B, "Q3 + outlier-iqr x IQR of all rows' means"},
    {"rank_score", ASSAY__EV_NUMBER, ASSAY__FROM_C, "share of rows with a smaller mean"},
    {NULL, 0, 0, NULL}};

const assay__detector_desc assay__detector_knn_outlier = {
    .kind = ASSAY__KIND_OUTLIER,
    .severity = ASSAY_SEV_LOW,
    .family = "neighbourhood distance",
    .on_clean = "Informational: natural data has far rows. Review the top rows if you expect none; "
                "nothing to change.",
    .inputs = "the neighbour graph",
    .run = detect_knn_outlier,
    .explain = explain_knn_outlier,
    .reasons = k_reasons,
    .fields = k_fields,
};

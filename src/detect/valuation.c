/* SPDX-License-Identifier: Apache-2.0 */
/* valuation: kNN-Shapley data values (Jia et al., "Efficient task-specific data valuation for
 * nearest neighbor algorithms", VLDB 2019), computed as cleanlab's data_valuation does from the
 * neighbour graph, in O(N k) time and memory (cleanlab allocates an N x N matrix). Every row
 * serves as a test point for a k-NN classifier made of its k graph neighbours; the exact
 * recursion over its neighbours' labels, nearest first, gives each neighbour a share of that
 * classifier's accuracy, and a row's value is the mean of what it receives over all test rows.
 * A row whose value is clearly negative - it pushes out neighbours that carry the label of the
 * rows it serves - is flagged, by a sign test within its class and only when the dataset-level
 * label-noise test is significant. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/label.h"
#include "core/stats.h"
#include "detect/params.h"

/* The label-noise test the flags depend on: knn-label's when it runs, else the same test made
 * here. */
static assay_status label_noise_test(const assay__det_input *in, assay__det_out *out,
                                     int32_t *index) {
    if (!(in->opts->skip >> ASSAY_DET_KNN_LABEL & 1u))
        return assay__out_test_of(out, ASSAY_DET_KNN_LABEL, index);
    float *score = malloc((in->ds->n ? in->ds->n : 1) * sizeof *score);
    if (score == NULL) return assay__fail(in->ctx, ASSAY_E_NOMEM, "out of memory (valuation)");
    size_t rows = 0, rejected = 0;
    assay_status s = assay__knn_label_votes(in, score, NULL, NULL, NULL, &rows, &rejected, NULL);
    free(score);
    if (s != ASSAY_OK) return s;
    return assay__label_noise_test(out, rejected, rows,
                                   assay__param(in->opts, ASSAY__P_LABEL_NOISE_TOLERANCE),
                                   "have a label their neighbourhood rejects (knn-label score "
                                   ">= the label threshold)",
                                   index);
}

static assay_status detect_valuation(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    const assay__graph *g = in->graph;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    const size_t n = ds->n, k = g->k, nc = ds->n_classes;
    const double fdr = assay__param(in->opts, ASSAY__P_FDR);
    sum->ran = 1;
    sum->threshold = 0.5;
    sum->rule = "kNN-Shapley value (cleanlab's scale, 0.5 = no effect) below 0.5 and a sign test "
                "within the class significant at the FDR: the row is worse than the farthest of "
                "the k neighbours for more of the rows it serves than chance allows; only when "
                "the label-noise test is significant";

    double *val = calloc(n ? n : 1, sizeof *val); /* sum of the row's Shapley values */
    uint32_t *neg = calloc(n ? n : 1, sizeof *neg), *pos = calloc(n ? n : 1, sizeof *pos);
    double *pv = malloc((n ? n : 1) * sizeof *pv);
    double *work = malloc(2 * (n ? n : 1) * sizeof *work);
    double *cut = malloc((nc ? nc : 1) * sizeof *cut);
    int *s_nb = malloc((k ? k : 1) * sizeof *s_nb);
    int32_t *rt = assay__out_row_tests(out);
    size_t *rows = NULL, *start = NULL;
    assay_status s = ASSAY_OK;
    if (val == NULL || neg == NULL || pos == NULL || pv == NULL || work == NULL || cut == NULL ||
        s_nb == NULL || rt == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (valuation)");
        goto done;
    }

    /* Every labelled row in the graph is a test point. Its neighbours a_1..a_k, nearest first,
     * and m_j = 1 when a_j carries the test row's label. The exact recursion with K = k:
     * s_k = 0 (cleanlab's start: the test rows beyond the graph are not seen, and the value of
     * the k-th neighbour, m_k / N in the paper, vanishes for large N), then
     * s_j = s_{j+1} + (m_j - m_{j+1}) / K for j = k-1 .. 1. So s_j = (m_j - m_k) / K: a
     * neighbour gains when it carries the label where the k-th does not, and loses when it
     * does not where the k-th does. */
    size_t tests = 0;
    for (size_t r = 0; r < n; r++) {
        int32_t y = ds->y[r];
        const int64_t *nb = g->ids + r * k;
        if (y < 0 || nb[0] < 0) continue;
        tests++;
        for (size_t j = 0; j < k; j++) s_nb[j] = nb[j] >= 0 && ds->y[nb[j]] == y;
        int sj = 0; /* in units of 1 / K */
        for (size_t j = k - 1; j-- > 0;) {
            sj += s_nb[j] - s_nb[j + 1];
            if (nb[j] < 0) continue;
            val[nb[j]] += sj;
            neg[nb[j]] += sj < 0;
            pos[nb[j]] += sj > 0;
        }
    }

    /* Per row: cleanlab's value 0.5 (mean Shapley value + 1), and a sign test of the decisive
     * comparisons (those with s != 0). A row whose label is as good as that of the test rows'
     * k-th neighbours loses no more often than it gains, and a nearer neighbour agrees at least
     * as often as a farther one, so p = P(Bin(neg + pos, 1/2) >= neg) is conservative. */
    size_t negative = 0;
    double vmin = INFINITY, vsum = 0.0;
    for (size_t r = 0; r < n; r++) {
        score[r] = NAN;
        ev[r] = 0.0f;
        pv[r] = 1.0;
        if (ds->y[r] < 0 || g->ids[r * k] < 0) continue;
        double v = 0.5 * (val[r] / ((double)k * (double)(tests ? tests : 1)) + 1.0);
        score[r] = (float)(-val[r] / (double)k);
        double m = (double)neg[r] + (double)pos[r];
        pv[r] = m > 0 ? assay__binom_sf((double)neg[r], m, 0.5) : 1.0;
        negative += val[r] < 0;
        if (v < vmin) vmin = v;
        vsum += v;
        sum->rows_scored++;
    }

    /* Benjamini-Hochberg within each class. */
    if ((s = assay__class_rows(ctx, ds, in->graph, &rows, &start)) != ASSAY_OK) goto done;
    for (size_t c = 0; c < nc; c++) {
        size_t m = start[c + 1] - start[c];
        for (size_t i = 0; i < m; i++) work[i] = pv[rows[start[c] + i]];
        cut[c] = m ? assay__bh_cutoff(work, m, fdr, work + n) : 0.0;
    }

    int32_t test = -1;
    if ((s = label_noise_test(in, out, &test)) != ASSAY_OK) goto done;
    size_t flagged = 0;
    for (size_t r = 0; r < n && s == ASSAY_OK; r++) {
        if (isnan(score[r])) continue;
        int32_t y = ds->y[r];
        rt[r] = test;
        int flag = val[r] < 0 && pv[r] <= cut[y];
        float e = assay__evidence_from_p(pv[r], cut[y]);
        ev[r] = flag ? e : (e < 0.5f ? e : nextafterf(0.5f, 0.0f));
        if (!flag) continue;
        flagged++;
        double v = 0.5 * (val[r] / ((double)k * (double)tests) + 1.0);
        assay__finding f = {r,
                            ASSAY_DET_VALUATION,
                            ASSAY_SEV_MEDIUM,
                            0,
                            score[r],
                            v,
                            neg[r],
                            pv[r],
                            (int64_t)pos[r],
                            test};
        s = assay__out_finding(out, &f);
    }
    sum->stat_name[0] = "mean_value";
    sum->stat[0] = sum->rows_scored ? vsum / (double)sum->rows_scored : NAN;
    sum->stat_name[1] = "min_value";
    sum->stat[1] = sum->rows_scored ? vmin : NAN;
    sum->stat_name[2] = "negative_value_rows"; /* cleanlab's flag rule: value < 0.5 */
    sum->stat[2] = (double)negative;
    sum->stat_name[3] = "sign_test_rows";
    sum->stat[3] = (double)flagged;
done:
    free(val);
    free(neg);
    free(pos);
    free(pv);
    free(work);
    free(cut);
    free(s_nb);
    free(rows);
    free(start);
    return s;
}

static void explain_valuation(const assay__det_input *in, const assay__det_out *out,
                              const assay__finding *f, char *buf, size_t len) {
    (void)out;
    const assay_dataset *ds = in->ds;
    const char *own = ds->y[f->row] >= 0 ? ds->class_name[ds->y[f->row]] : "?";
    snprintf(buf, len,
             "kNN-Shapley value %.7f, below 0.5: as one of the %zu nearest neighbours of other "
             "rows it lowers a k-NN classifier's accuracy; compared with their farthest "
             "neighbour its label '%s' is worse for %.0f of them and better for %lld (sign test "
             "p = %.2g)",
             f->a, in->graph->k, own, f->b, (long long)f->ref, f->c);
}

static const char *const k_reasons[] = {"harmful_data_value", NULL};
static const assay__ev_field k_fields[] = ASSAY__EV_ABC(
    "kNN-Shapley value on cleanlab's scale (0.5 = no effect)",
    "rows it serves for which it is worse than their farthest neighbour", "the sign test's p-value",
    "rows it serves for which it is better than their farthest neighbour");

const assay__detector_desc assay__detector_valuation = {
    .kind = ASSAY__KIND_LABEL,
    .severity = ASSAY_SEV_MEDIUM,
    .family = "neighbourhood labels",
    .on_clean = "Rows that hurt their neighbours' kNN accuracy: review with knn-label; only warns "
                "by default.",
    .inputs = "labels and the neighbour graph",
    .run = detect_valuation,
    .explain = explain_valuation,
    .reasons = k_reasons,
    .fields = k_fields,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* report.json "plots": the data behind report.html's figures, computed here from the dataset and
 * the result so the HTML renderer (which sees only the report document) can draw them, and so
 * `assay report render` redraws them without the dataset. Everything is deterministic for a
 * given seed, whatever the thread count: per-row loops run in input order, the principal
 * directions come from the same code path as the detectors', and the sample is drawn from the
 * seed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/linalg.h"
#include "core/stats.h"
#include "report/plots.h"
#include "report/report_internal.h"
#include "detect/params.h"

#define HIST_BINS      40
#define PCA_MAX_POINTS 3000
#define PCA_MAX_FLAGGED                                                                            \
    1000 /* flagged rows shown in full up to this many, most suspicious first                      \
          */

/* Histogram of one detector's calibrated evidence on [0, 1]. The evidence is what every
 * detector's flag rule reduces to (>= 0.5 iff it flags the row), so one cut is right for all of
 * them; the raw thresholds are in units that differ per detector (an FDR, a robust z, a rank
 * window), and drawing them over raw scores would mislead. */
static json_t *evidence_histogram(const assay_result *res, int d) {
    const float *score = res->det[d].score, *ev = res->det[d].evidence;
    size_t counts[HIST_BINS] = {0}, rows = 0, at_or_above = 0;
    for (size_t r = 0; score != NULL && ev != NULL && r < res->n; r++) {
        if (isnan(score[r]) || isnan(ev[r])) continue;
        double e = ev[r] < 0.0f ? 0.0 : ev[r] > 1.0f ? 1.0 : ev[r];
        size_t b = (size_t)(e * HIST_BINS);
        counts[b < HIST_BINS ? b : HIST_BINS - 1]++;
        rows++;
        at_or_above += ev[r] >= 0.5f;
    }
    json_t *edges = json_array(), *cnt = json_array();
    for (int b = 0; b <= HIST_BINS; b++)
        json_array_append_new(edges, json_real((double)b / HIST_BINS));
    for (int b = 0; b < HIST_BINS; b++)
        json_array_append_new(cnt, json_integer((json_int_t)counts[b]));
    const assay__det_out *s = &res->det[d];
    return json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:f, s:I, s:o, s:s}", "detector",
                     assay_detector_name(d), "kind", assay__detector_kind_name(d), "scale",
                     "calibrated_evidence", "rows", (json_int_t)rows, "edges", edges, "counts", cnt,
                     "cut", 0.5, "rows_at_or_above_cut", (json_int_t)at_or_above, "threshold",
                     assay__json_num_f32(s->threshold), "threshold_rule", s->rule ? s->rule : "");
}

static json_t *severity_counts(const size_t *counts) {
    json_t *o = json_object();
    for (int s = ASSAY_SEV_LOW; s <= ASSAY_SEV_CRITICAL; s++)
        json_object_set_new(o, assay_severity_name(s), json_integer((json_int_t)counts[s]));
    return o;
}

/* Rows and flagged rows per class (by the row's highest severity); rows whose label is outside
 * the declared set are one more entry with index -1. */
static json_t *class_flags(const assay_dataset *ds, const assay_result *res) {
    size_t k = ds->n_classes;
    size_t *rows = calloc(k + 1, sizeof *rows), *flagged = calloc(k + 1, sizeof *flagged);
    size_t(*sev)[ASSAY__SEV_COUNT] = calloc(k + 1, sizeof *sev);
    if (rows == NULL || flagged == NULL || sev == NULL) {
        free(rows), free(flagged), free(sev);
        return NULL;
    }
    for (size_t r = 0; r < ds->n; r++) {
        size_t c = ds->y[r] >= 0 ? (size_t)ds->y[r] : k;
        rows[c]++;
        if (res->flagged[r]) {
            flagged[c]++;
            if (res->severity[r] < ASSAY__SEV_COUNT) sev[c][res->severity[r]]++;
        }
    }
    json_t *arr = json_array();
    for (size_t c = 0; c <= k; c++) {
        if (c == k && rows[c] == 0) break;
        json_array_append_new(
            arr, json_pack("{s:I, s:o, s:o, s:I, s:I, s:o}", "index", c < k ? (json_int_t)c : -1,
                           "label", assay__json_str(c < k ? ds->class_label[c] : "?"), "name",
                           assay__json_str(c < k ? ds->class_name[c] : "label outside the set"),
                           "rows", (json_int_t)rows[c], "flagged", (json_int_t)flagged[c],
                           "by_severity", severity_counts(sev[c])));
    }
    free(rows), free(flagged), free(sev);
    return arr;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Picks the rows to draw: flagged rows in the graph (most suspicious first, up to
 * PCA_MAX_FLAGGED, more when there are fewer other rows), then a uniform sample of the other rows
 * in the graph drawn with the seed (a partial Fisher-Yates shuffle), sorted by row index. Returns
 * the count; *pick is malloc'd. */
static size_t sample_rows(const assay_dataset *ds, const assay_result *res,
                          const size_t *graph_rows, size_t m, uint64_t seed, size_t **pick,
                          size_t *flagged_total) {
    size_t *out = malloc((m < PCA_MAX_POINTS ? m : PCA_MAX_POINTS) * sizeof *out + 1);
    size_t *rest = malloc(m * sizeof *rest + 1);
    *pick = out;
    *flagged_total = 0;
    if (out == NULL || rest == NULL) {
        free(rest);
        return 0;
    }
    size_t n_out = 0, n_rest = 0;
    for (size_t i = 0; i < m; i++)
        if (!res->flagged[graph_rows[i]]) rest[n_rest++] = graph_rows[i];
    /* flagged rows fill what the others leave, at least PCA_MAX_FLAGGED of them */
    size_t cap =
        n_rest < PCA_MAX_POINTS - PCA_MAX_FLAGGED ? PCA_MAX_POINTS - n_rest : PCA_MAX_FLAGGED;
    for (size_t i = 0; i < res->n_flagged; i++) {
        size_t r = res->order[i];
        if (!assay__row_in_graph(ds, r, res->opts.metric)) continue;
        ++*flagged_total;
        if (n_out < cap) out[n_out++] = r;
    }
    size_t want = PCA_MAX_POINTS - n_out < n_rest ? PCA_MAX_POINTS - n_out : n_rest;
    assay__rng rng = assay__rng_seed(seed, 0x9C4u); /* a stream of its own: "PCA" */
    for (size_t i = 0; i < want; i++) {
        size_t j = i + (size_t)assay__rng_below(&rng, n_rest - i);
        size_t t = rest[i];
        rest[i] = rest[j];
        rest[j] = t;
        out[n_out++] = rest[i];
    }
    free(rest);
    qsort(out, n_out, sizeof *out, cmp_size);
    return n_out;
}

/* Makes the largest component of each direction positive: eigenvectors are only defined up to
 * sign, and a fixed sign keeps the scatter's orientation stable between versions of LAPACK. */
static void fix_signs(double *vecs, size_t d, size_t p) {
    for (size_t j = 0; j < p; j++) {
        double *v = vecs + j * d, best = 0.0;
        for (size_t i = 0; i < d; i++)
            if (fabs(v[i]) > fabs(best)) best = v[i];
        if (best < 0.0)
            for (size_t i = 0; i < d; i++) v[i] = -v[i];
    }
}

/* The 2-D principal-component view of the rows in the graph, sampled. NULL on out of memory;
 * {"available": false, "reason"} when it cannot be drawn. */
static json_t *pca_json(assay_ctx *ctx, const assay_dataset *ds, const assay_result *res) {
    size_t m = 0, d = ds->d;
    size_t *rows = malloc(ds->n * sizeof *rows + 1);
    double *mu = malloc(d * sizeof *mu), *vecs = malloc(2 * d * sizeof *vecs);
    double vals[2] = {0.0, 0.0};
    size_t *pick = NULL, flagged_total = 0, p = 0;
    double *xy = NULL;
    json_t *out = NULL;
    if (rows == NULL || mu == NULL || vecs == NULL) goto done;
    for (size_t r = 0; r < ds->n; r++)
        if (assay__row_in_graph(ds, r, res->opts.metric)) rows[m++] = r;
    if (m < 3 || d < 2) {
        out = json_pack("{s:b, s:s}", "available", 0, "reason",
                        d < 2 ? "fewer than 2 dimensions" : "fewer than 3 rows in the graph");
        goto done;
    }
    uint64_t seed = (uint64_t)assay__param(&res->opts, ASSAY__P_SEED);
    assay__rows_mean(ds->x, ds->ld, d, rows, m, mu);
    if (assay__rows_pca(ctx, ds->x, ds->ld, d, rows, m, mu, 2, seed, vecs, vals, &p) != ASSAY_OK ||
        p < 2) {
        out = json_pack("{s:b, s:s}", "available", 0, "reason",
                        p < 2 ? "the rows span fewer than 2 directions"
                              : "the principal directions could not be computed");
        goto done;
    }
    fix_signs(vecs, d, 2);
    /* total variance (trace of the covariance), summed in input order: deterministic */
    double total = 0.0;
    for (size_t i = 0; i < m; i++) {
        const float *x = ds->x + rows[i] * ds->ld;
        for (size_t j = 0; j < d; j++) total += ((double)x[j] - mu[j]) * ((double)x[j] - mu[j]);
    }
    total /= (double)m;
    size_t n_pick = sample_rows(ds, res, rows, m, seed, &pick, &flagged_total);
    xy = malloc(2 * n_pick * sizeof *xy + 1);
    if (pick == NULL || xy == NULL) goto done;
    if (assay__rows_project(ctx, ds->x, ds->ld, d, pick, n_pick, mu, vecs, 2, xy) != ASSAY_OK)
        goto done;
    json_t *pts = json_array();
    size_t flagged_shown = 0;
    for (size_t i = 0; i < n_pick; i++) {
        size_t r = pick[i];
        flagged_shown += res->flagged[r] != 0;
        json_array_append_new(pts,
                              json_pack("[f, f, I, i, I]", xy[2 * i], xy[2 * i + 1],
                                        (json_int_t)ds->y[r], (int)res->flagged[r], (json_int_t)r));
    }
    json_t *ev = json_array();
    for (int j = 0; j < 2; j++)
        json_array_append_new(ev, assay__json_num(total > 0.0 ? vals[j] / total : NAN));
    out = json_pack(
        "{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:[s,s,s,s,s]}", "available", 1, "method",
        "projection on the top 2 principal directions of the rows in the neighbour "
        "graph (raw features, centred); the flagged rows, most suspicious first, up to 1000 "
        "(more when fewer other rows remain), plus a uniform sample of the other rows drawn "
        "with the seed",
        "rows_in_graph", (json_int_t)m, "points_shown", (json_int_t)n_pick, "flagged_shown",
        (json_int_t)flagged_shown, "flagged_in_graph", (json_int_t)flagged_total, "max_points",
        (json_int_t)PCA_MAX_POINTS, "explained_variance", ev, "points", pts, "columns", "x", "y",
        "class", "flagged", "row");
done:
    free(rows), free(mu), free(vecs), free(pick), free(xy);
    return out;
}

json_t *assay__plots_json(const assay_dataset *ds, const assay_result *res) {
    json_t *hists = json_array();
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        if (res->det[d].ran && res->det[d].score != NULL && res->det[d].evidence != NULL)
            json_array_append_new(hists, evidence_histogram(res, d));
    json_t *classes = class_flags(ds, res);
    /* BLAS on one thread, as everywhere else: a multithreaded GEMM sums in another order, and
     * the projection's last digits would depend on what else the process runs at the time */
    assay__blas_single_begin();
    json_t *pca = pca_json(NULL, ds, res);
    assay__blas_single_end();
    if (classes == NULL || pca == NULL) {
        json_decref(hists), json_decref(classes), json_decref(pca);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:o}", "score_histograms", hists, "flagged_by_class", classes,
                     "pca", pca);
}

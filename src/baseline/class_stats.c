/* SPDX-License-Identifier: Apache-2.0 */
/* Per-class statistics kept in manifest.json so the next scan can state drift in units a
 * reviewer understands: the class centroid and its spread (RMS distance of the rows to the
 * centroid, the "class radius"), in the representation the neighbour graph sees (unit-length
 * rows under cosine, raw rows under l2), and p50/p90/p99 of every detector's per-row scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline.h"
#include "core/stats.h"

const double assay__bl_quantiles[ASSAY__BL_NQ] = {0.5, 0.9, 0.99};

/* Quantile p of v[0..n) by linear interpolation between order statistics (Hyndman and Fan type
 * 7, the default of R and NumPy). The two order statistics come by selection, not by sorting v
 * (reordered): the same values, since only -0 and 0 compare equal and differ, and no
 * interpolation between two order statistics tells them apart. */
static double quantile(double *v, size_t n, double p) {
    if (n == 0) return NAN;
    double h = p * (double)(n - 1);
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return assay__select_kth(v, n, n - 1);
    double a = assay__select_kth(v, n, lo);
    double b = v[lo + 1]; /* the next order statistic: the smallest of those after v[lo] */
    for (size_t i = lo + 2; i < n; i++)
        if (v[i] < b) b = v[i];
    return a + (h - (double)lo) * (b - a);
}

void assay__bl_stats_free(assay__bl_stats *st) {
    if (st == NULL) return;
    for (size_t c = 0; st->classes != NULL && c < st->n_classes; c++) free(st->classes[c].centroid);
    free(st->classes);
    assay__strpool_free(&st->pool);
    memset(st, 0, sizeof *st);
}

/* The factor that puts a row into the detectors' representation: 1 / its norm under cosine
 * (all-zero rows, left out of the graph, would get 0), else 1. */
static double row_scale(const float *x, size_t d, int normalised) {
    if (!normalised) return 1.0;
    double ss = 0.0;
    for (size_t j = 0; j < d; j++) ss += (double)x[j] * x[j];
    return ss > 0.0 ? 1.0 / sqrt(ss) : 0.0;
}

/* Centroid and spread of one class's rows; scale (m) receives the rows' factors, so the second
 * pass does not compute each row's norm again. */
static void centroid_and_spread(const assay_dataset *ds, const size_t *rows, size_t m,
                                int normalised, double *centroid, double *spread, double *scale) {
    const size_t d = ds->d;
    memset(centroid, 0, d * sizeof *centroid);
    for (size_t i = 0; i < m; i++) {
        const float *x = ds->x + rows[i] * ds->ld;
        scale[i] = row_scale(x, d, normalised);
        for (size_t j = 0; j < d; j++) centroid[j] += scale[i] * x[j];
    }
    for (size_t j = 0; j < d; j++) centroid[j] /= (double)m;
    double sum = 0.0;
    for (size_t i = 0; i < m; i++) {
        const float *x = ds->x + rows[i] * ds->ld;
        const double sc = scale[i];
        for (size_t j = 0; j < d; j++) {
            double e = sc * x[j] - centroid[j];
            sum += e * e;
        }
    }
    *spread = sqrt(sum / (double)m);
}

assay_status assay__bl_stats_compute(assay_ctx *ctx, const assay__bl_scan *scan,
                                     assay__bl_stats *st) {
    memset(st, 0, sizeof *st);
    const assay_dataset *ds = scan->ds;
    size_t *rows = NULL, *start = NULL;
    ASSAY_TRY(assay__class_rows(ctx, ds, scan->graph, &rows, &start));
    st->present = 1;
    st->metric = scan->metric;
    st->normalised = scan->metric == ASSAY_METRIC_COSINE;
    st->d = ds->d;
    st->n_classes = ds->n_classes;
    size_t biggest = 1;
    for (size_t c = 0; c < ds->n_classes; c++)
        if (start[c + 1] - start[c] > biggest) biggest = start[c + 1] - start[c];
    st->classes = calloc(ds->n_classes ? ds->n_classes : 1, sizeof *st->classes);
    double *scores = malloc(biggest * sizeof *scores);
    int ok = st->classes != NULL && scores != NULL;
    for (size_t c = 0; ok && c < ds->n_classes; c++) {
        assay__bl_class_stats *k = &st->classes[c];
        const size_t *cr = rows + start[c];
        const size_t m = start[c + 1] - start[c];
        k->label = assay__strpool_add(&st->pool, ds->class_label[c], strlen(ds->class_label[c]));
        k->name = assay__strpool_add(&st->pool, ds->class_name[c], strlen(ds->class_name[c]));
        k->rows = m;
        k->spread = NAN;
        ok = k->label != NULL && k->name != NULL;
        if (ok && m > 0) {
            k->centroid = malloc((ds->d ? ds->d : 1) * sizeof *k->centroid);
            ok = k->centroid != NULL;
            if (ok) centroid_and_spread(ds, cr, m, st->normalised, k->centroid, &k->spread, scores);
        }
        for (int det = 0; ok && det < ASSAY_DET_COUNT; det++) {
            size_t got = 0;
            /* the tampering detector compares with the baseline: its scores are no statistic of
             * the data to compare again */
            if (det != ASSAY_DET_TAMPERING && scan->det[det].ran)
                for (size_t i = 0; i < m; i++) {
                    float s = scan->det[det].score[cr[i]];
                    if (isfinite(s)) scores[got++] = s;
                }
            k->scored[det] = got;
            for (int q = 0; q < ASSAY__BL_NQ; q++)
                k->q[det][q] = quantile(scores, got, assay__bl_quantiles[q]);
        }
    }
    free(scores);
    free(rows);
    free(start);
    if (!ok) {
        assay__bl_stats_free(st);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (class statistics)");
    }
    return ASSAY_OK;
}

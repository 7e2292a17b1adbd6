/* SPDX-License-Identifier: Apache-2.0 */
/* The label-noise model of knn-label: is a row's label more likely wrong than right, given how
 * many of its neighbours carry it? Two things are estimated from the data itself:
 *  - how often a row labelled y truly belongs to class c: the calibrated confident joint of the
 *    neighbours' class distribution (cleanlab's estimate, Northcutt et al. 2021), which gives the
 *    transition matrix T[c][y] = P(given y | true c) reported with the scan;
 *  - how a row with a wrong label looks: a row truly of class c labelled y has the share of
 *    label y among its neighbours that rows of class c have, g_{c,y}(s); the histogram of that
 *    share over the rows labelled c estimates it.
 * The rows labelled y with neighbour share s are a mixture of correct rows and rows from every
 * other class; the expected number of wrong ones among them is sum_c pi(c|y) n_y g_{c,y}(s), the
 * observed number f_y(s) n_y, so P(wrong | y, s) = sum_c pi(c|y) g_{c,y}(s) / f_y(s) -- no
 * density of the correct rows is needed. Shares are binned to tenths (exact for k = 10); a
 * class with few rows borrows from the pooled estimate over all classes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect/label.h"

#define NM_BINS 11
/* A class of this many rows weighs its own estimate and the pooled one equally. */
#define NM_POOL_ROWS 100.0

static size_t bin_of(float s) {
    if (!(s > 0.0f)) return 0;
    size_t b = (size_t)(s * (float)(NM_BINS - 1) + 0.5f);
    return b < NM_BINS ? b : NM_BINS - 1;
}

assay_status assay__noise_posterior(assay_ctx *ctx, const int32_t *y, const float *p, size_t n,
                                    size_t k, const assay__cl_result *cl, float *post,
                                    double *transition) {
    double *rows = calloc(k, sizeof *rows);
    double *hf = calloc(k * NM_BINS, sizeof *hf);     /* [y][bin]: own share of rows labelled y */
    double *hg = calloc(k * k * NM_BINS, sizeof *hg); /* [c][y][bin]: share of y, rows labelled c */
    double *num = calloc(k * NM_BINS, sizeof *num);   /* [y][bin]: expected wrong rows */
    if (rows == NULL || hf == NULL || hg == NULL || num == NULL) {
        free(rows);
        free(hf);
        free(hg);
        free(num);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (label-noise model)");
    }
    for (size_t r = 0; r < n; r++) {
        if (y[r] < 0) continue;
        const size_t c = (size_t)y[r];
        const float *pr = p + r * k;
        rows[c] += 1.0;
        hf[c * NM_BINS + bin_of(pr[c])] += 1.0;
        for (size_t j = 0; j < k; j++)
            if (j != c && pr[j] > 0.0f) hg[(c * k + j) * NM_BINS + bin_of(pr[j])] += 1.0;
    }
    /* the rows of class c without a vote for y sit in bin 0 */
    for (size_t c = 0; c < k; c++)
        for (size_t j = 0; j < k; j++) {
            if (j == c) continue;
            double nz = 0.0;
            for (size_t b = 1; b < NM_BINS; b++) nz += hg[(c * k + j) * NM_BINS + b];
            hg[(c * k + j) * NM_BINS] = rows[c] - nz;
        }
    /* transition T[c][y] = C[y][c] / sum_y' C[y'][c]; pi(c|y) = C[y][c] / n_y */
    for (size_t c = 0; c < k; c++) {
        double col = 0.0;
        for (size_t j = 0; j < k; j++) col += (double)cl->calibrated[j * k + c];
        for (size_t j = 0; j < k; j++)
            transition[c * k + j] =
                col > 0.0 ? (double)cl->calibrated[j * k + c] / col : (c == j ? 1.0 : 0.0);
    }
    double pool_num[NM_BINS] = {0}, pool_den[NM_BINS] = {0};
    for (size_t yy = 0; yy < k; yy++) {
        if (rows[yy] <= 0.0) continue;
        for (size_t c = 0; c < k; c++) {
            if (c == yy || rows[c] <= 0.0) continue;
            double pi = (double)cl->calibrated[yy * k + c] / rows[yy];
            if (!(pi > 0.0)) continue;
            for (size_t b = 0; b < NM_BINS; b++)
                num[yy * NM_BINS + b] += pi * rows[yy] * hg[(c * k + yy) * NM_BINS + b] / rows[c];
        }
        for (size_t b = 0; b < NM_BINS; b++) {
            pool_num[b] += num[yy * NM_BINS + b];
            pool_den[b] += hf[yy * NM_BINS + b];
        }
    }
    for (size_t r = 0; r < n; r++) {
        post[r] = NAN;
        if (y[r] < 0) continue;
        const size_t c = (size_t)y[r], b = bin_of(p[r * k + c]);
        double den = hf[c * NM_BINS + b];
        double own = den > 0.0 ? num[c * NM_BINS + b] / den : 0.0;
        double pooled = pool_den[b] > 0.0 ? pool_num[b] / pool_den[b] : 0.0;
        double w = rows[c] / (rows[c] + NM_POOL_ROWS);
        double v = w * own + (1.0 - w) * pooled;
        post[r] = (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
    }
    free(rows);
    free(hf);
    free(hg);
    free(num);
    return ASSAY_OK;
}

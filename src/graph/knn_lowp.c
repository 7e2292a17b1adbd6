/* SPDX-License-Identifier: Apache-2.0 */
/* The reduced-precision candidate pass: rows quantised once to int8 (one scale per row) or
 * bfloat16, packed for the tile kernels, and the error bound that lets the exact re-ranking
 * certify what they find (docs/kernels.md, "Reduced-precision candidates").
 *
 * The bound. Write each row x = xh + e, xh what the codes stand for. Then exactly
 *   <x, y> - <xh, yh> = <e_x, y> + <xh, e_y>,  so  |<x, y> - <xh, yh>| <= |e_x||y| + |xh||e_y|
 * (Cauchy-Schwarz), and the tile computes <xh, yh> with an error of at most
 *   int8: three roundings of the float finish (int32 -> float, scale * scale, times the sum):
 *         ((1 + u)^3 - 1) |<xh, yh>|, the integer sum itself being exact;
 *   bf16: a sequential float sum of exact products: gamma_dp sum |xh_p yh_p| <= gamma_dp |xh||yh|,
 *         plus dp * 2^-126 for sums flushed to zero.
 * For row q, y ranges over every row in the graph, so |y|, |e_y|, |yh| are bounded by their
 * maxima. The distance finish (norms, the clamp, the penalties) is the float32 path's, whose
 * bound already covers it; its dot-product magnitude |xh||yh| exceeds |x||y| by at most
 * (1 + |e_x|/|x|)(1 + |e_y|/|y|), which scales it. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/knn_internal.h"

/* Magnitudes the bound covers: scales and products stay normal floats far from overflow. */
#define LOWP_MIN_ABS 0x1p-40
#define LOWP_MAX_ABS 0x1p40
/* bf16 values below this become zero (so every product of two is a normal float). */
#define BF16_FLUSH 0x1p-60f

void assay__knn_lowp_free(knn_lowp *l) {
    free(l->codes);
    free(l->upanel);
    free(l->asum);
    free(l->scale);
    free(l->ascale);
    free(l->h);
    free(l->hpanel);
    free(l->err);
    free(l->hnorm);
    memset(l, 0, sizeof *l);
    l->prec = ASSAY_PRECISION_FP32;
}

/* The pass AUTO means on this table: the fastest one whose kernel is native (not the scalar
 * reference), measured in bench/RESULTS.md ("Reduced-precision candidates"). */
static assay_precision resolve(const assay_kernels *K, assay_precision want, int *qmax,
                               int *pairsat) {
    const assay_kernels *S = &assay__kernels_scalar;
    *qmax = 127;
    *pairsat = 0;
    if (want != ASSAY_PRECISION_AUTO) return want;
    if (K->tile_i8 != S->tile_i8) return ASSAY_PRECISION_INT8;
    if (K->tile_bf16 != S->tile_bf16) return ASSAY_PRECISION_BF16;
    if (K->tile_i8_pairsat != S->tile_i8_pairsat) {
        *qmax = 63; /* pair sums of vpmaddubsw cannot saturate */
        *pairsat = 1;
        return ASSAY_PRECISION_INT8;
    }
    return ASSAY_PRECISION_FP32;
}

assay_precision assay_ctx_candidate_precision(const assay_ctx *ctx) {
    if (ctx == NULL) return ASSAY_PRECISION_FP32;
    int qmax, pairsat;
    return resolve(ctx->k, ctx->precision, &qmax, &pairsat);
}

/* Quantises row r of x into the int8 fields; returns |e| and sets *hn = |xh|. */
static double quantise_i8(knn_lowp *l, const float *xr, size_t d, size_t r, float alpha,
                          double *hn) {
    float amax = 0.0f;
    for (size_t p = 0; p < d; p++)
        if (fabsf(xr[p]) > amax) amax = fabsf(xr[p]);
    int8_t *c = l->codes + r * l->dp;
    memset(c, 0, l->dp);
    float s = amax > 0.0f ? amax / (float)l->qmax : 0.0f;
    double e2 = 0.0, h2 = 0.0;
    int32_t sum = 0;
    for (size_t p = 0; p < d; p++) {
        long v = s > 0.0f ? lrintf(xr[p] / s) : 0;
        if (v > l->qmax) v = l->qmax;
        if (v < -l->qmax) v = -l->qmax;
        c[p] = (int8_t)v;
        sum += (int32_t)v;
        double xh = (double)s * (double)v, e = (double)xr[p] - xh; /* both exact in double */
        e2 += e * e;
        h2 += xh * xh;
    }
    l->asum[r] = 128 * sum;
    l->scale[r] = s;
    l->ascale[r] = alpha * s;
    *hn = sqrt(h2);
    return sqrt(e2);
}

static double quantise_bf16(knn_lowp *l, const float *xr, size_t d, size_t r, double *hn) {
    uint16_t *h = l->h + r * l->dp;
    memset(h, 0, l->dp * sizeof *h);
    double e2 = 0.0, h2 = 0.0;
    for (size_t p = 0; p < d; p++) {
        uint16_t v = assay__bf16_from_float(xr[p]);
        if (fabsf(assay__bf16_to_float(v)) < BF16_FLUSH) v = 0;
        h[p] = v;
        double xh = (double)assay__bf16_to_float(v), e = (double)xr[p] - xh;
        e2 += e * e;
        h2 += xh * xh;
    }
    *hn = sqrt(h2);
    return sqrt(e2);
}

/* Rows in the graph all have magnitudes the bound covers (or are zero), and sums fit int32. */
static int covered(const knn_build *b, size_t dp) {
    if (dp > 65536) return 0; /* 65536 * 127 * 255 < 2^31 */
    for (size_t i = 0; i < b->n; i++) {
        if (!b->in_graph[i]) continue;
        const float *xr = b->x + i * b->ld;
        float amax = 0.0f;
        for (size_t p = 0; p < b->d; p++)
            if (fabsf(xr[p]) > amax) amax = fabsf(xr[p]);
        if (amax != 0.0f && !(amax >= (float)LOWP_MIN_ABS && amax <= (float)LOWP_MAX_ABS)) return 0;
    }
    return 1;
}

assay_status assay__knn_lowp_prepare(knn_build *b) {
    knn_lowp *l = &b->lowp;
    memset(l, 0, sizeof *l);
    int qmax, pairsat;
    l->prec = resolve(b->K, b->ctx->precision, &qmax, &pairsat);
    if (l->prec == ASSAY_PRECISION_FP32) return ASSAY_OK;
    int i8 = l->prec == ASSAY_PRECISION_INT8;
    l->qmax = qmax;
    l->tile_i8 = pairsat ? b->K->tile_i8_pairsat : b->K->tile_i8;
    l->dp = i8 ? (b->d + 3) / 4 * 4 : (b->d + 1) / 2 * 2;
    if (!covered(b, l->dp)) {
        l->prec = ASSAY_PRECISION_FP32;
        return ASSAY_OK;
    }
    size_t n = b->n, cells, panel = assay__panel_size(n, l->dp);
    if (assay__mul_overflows(n, l->dp, &cells))
        return assay__fail(b->ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
    l->err = malloc(n * sizeof *l->err);
    l->hnorm = malloc(n * sizeof *l->hnorm);
    int ok = l->err && l->hnorm;
    if (i8) {
        l->codes = assay__aligned_alloc(cells ? cells : 1);
        l->upanel = assay__aligned_alloc(panel ? panel : 1);
        l->asum = malloc(n * sizeof *l->asum);
        l->scale = malloc(n * sizeof *l->scale);
        l->ascale = malloc(n * sizeof *l->ascale);
        ok = ok && l->codes && l->upanel && l->asum && l->scale && l->ascale;
    } else {
        l->h = assay__aligned_alloc((cells ? cells : 1) * sizeof *l->h);
        l->hpanel = assay__aligned_alloc((panel ? panel : 1) * sizeof *l->hpanel);
        ok = ok && l->h && l->hpanel;
    }
    if (!ok) {
        assay__knn_lowp_free(l);
        return assay__fail(b->ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
    }
    int cosine = b->metric == ASSAY_METRIC_COSINE;
    float alpha = cosine ? 1.0f : -2.0f;
    const double u = ldexp(1.0, -24), nd = (double)l->dp;
    l->acc_rel = i8 ? 3.0 * u * (1.0 + u) * (1.0 + u) : nd * u / (1.0 - nd * u);
    l->acc_abs = i8 ? 0.0 : nd * 0x1p-126;
    for (size_t i = 0; i < n; i++) {
        const float *xr = b->x + i * b->ld;
        double hn;
        double e =
            i8 ? quantise_i8(l, xr, b->d, i, alpha, &hn) : quantise_bf16(l, xr, b->d, i, &hn);
        if (!b->in_graph[i]) { /* never offered (+inf penalty): nothing to bound */
            e = 0.0;
            hn = 0.0;
        }
        l->err[i] = e;
        l->hnorm[i] = hn;
        if (e > l->max_err) l->max_err = e;
        if (hn > l->max_hnorm) l->max_hnorm = hn;
        double xn = sqrt((double)b->rowa[i] > 0 && !cosine ? (double)b->rowa[i] : 0.0);
        if (cosine) { /* rowa holds 1/|x| in float: recompute |x| in double */
            double s2 = 0.0;
            for (size_t p = 0; p < b->d; p++) s2 += (double)xr[p] * xr[p];
            xn = sqrt(s2);
        }
        if (b->in_graph[i] && xn > 0.0) {
            if (e / xn > l->max_rho) l->max_rho = e / xn;
            if (hn / xn > l->max_kappa) l->max_kappa = hn / xn;
            if (1.0 / xn > l->max_inv) l->max_inv = 1.0 / xn;
        }
    }
    if (i8)
        assay__pack_u8_panels(l->codes, l->dp, n, l->dp, l->upanel);
    else
        assay__pack_bf16_panels(l->h, l->dp, n, l->dp, l->hpanel);
    return ASSAY_OK;
}

void assay__knn_lowp_tile(const knn_build *b, float *t, size_t i0, size_t m, size_t j0, size_t n) {
    const knn_lowp *l = &b->lowp;
    if (l->prec == ASSAY_PRECISION_INT8)
        l->tile_i8(t, n, m, n, l->dp, l->codes + i0 * l->dp, l->dp, l->upanel + j0 * l->dp,
                   l->asum + i0, l->ascale + i0, l->scale + j0);
    else
        b->K->tile_bf16(t, n, m, n, l->dp, l->h + i0 * l->dp, l->dp, l->hpanel + j0 * l->dp,
                        b->metric == ASSAY_METRIC_COSINE ? 1.0f : -2.0f);
}

double assay__knn_candidate_bound(const knn_build *b, size_t q) {
    double e32 = assay__knn_error_bound(b, q);
    const knn_lowp *l = &b->lowp;
    if (l->prec == ASSAY_PRECISION_FP32) return e32;
    double eq = l->err[q], hq = l->hnorm[q];
    if (b->metric == ASSAY_METRIC_COSINE) {
        /* Relative to |x||y|: rho = |e|/|x|, kappa = |xh|/|x|; a zero row's distance is exactly
         * 1 on both sides. */
        double qinv = (double)b->rowa[q];
        if (qinv == 0.0) return e32;
        double rho = eq * qinv, kappa = hq * qinv;
        double extra = rho + kappa * l->max_rho + l->acc_rel * kappa * l->max_kappa +
                       l->acc_abs * qinv * l->max_inv;
        return 1.01 * (e32 * (1.0 + rho) * (1.0 + l->max_rho) + extra) + 1e-30;
    }
    double xn = sqrt((double)b->rowa[q]), M = b->max_norm;
    double rho = xn > 0.0 ? eq / xn : 0.0;
    double extra = 2.0 * (eq * M + hq * l->max_err + l->acc_rel * hq * l->max_hnorm + l->acc_abs);
    return 1.01 * (e32 * (1.0 + rho) * (1.0 + l->max_rho) + extra) + 1e-30;
}

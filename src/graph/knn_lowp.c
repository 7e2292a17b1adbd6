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
 * With n_x = max(|x|, |xh|) the sum is at most |e_x| n_y + n_x |e_y| + acc |xh||yh|: symmetric in
 * x and y, as it must be, since one tile entry is offered to both rows' candidate lists. Twice that
 * (l2: -2 <x, y>), or divided by |x||y| (cosine, with kappa = |xh|/|x| and rho = |e|/|x|), is the
 * per-pair term T(x, y); each tile entry has T subtracted, so the candidate lists keep the
 * smallest lower bounds and a row's certificate is "every other row's lower bound is above my
 * exact k-th distance". The rest (norms, the clamp, the penalties, the subtraction) is the
 * float32 finish, whose bound covers it, scaled by (1 + |e|/|x|) on each side since |xh||yh| may
 * exceed |x||y| by that much. Every coefficient carries a 1% margin for their own roundings. */
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
    assay__bulk_free(l->codes);
    assay__bulk_free(l->upanel);
    free(l->asum);
    free(l->scale);
    free(l->ascale);
    assay__bulk_free(l->h);
    assay__bulk_free(l->hpanel);
    free(l->err);
    free(l->hnorm);
    free(l->coef);
    memset(l, 0, sizeof *l);
    l->prec = ASSAY_PRECISION_FP32;
}

int assay__knn_lowp_options(const assay_kernels *K, size_t d, knn_option *out) {
    const assay_kernels *S = &assay__kernels_scalar;
    int n = 0;
    if (d <= ASSAY__KNN_FUSED_MAX_D) return 0; /* the fused float32 kernel wins there */
    if (K->tile_i8 != S->tile_i8) out[n++] = (knn_option){ASSAY_PRECISION_INT8, 0};
    if (K->tile_bf16 != S->tile_bf16 && assay__blas_generic_core())
        out[n++] = (knn_option){ASSAY_PRECISION_BF16, 0};
    if (K->tile_i8_pairsat != S->tile_i8_pairsat) out[n++] = (knn_option){ASSAY_PRECISION_INT8, 1};
    return n;
}

assay_precision assay_ctx_candidate_precision(const assay_ctx *ctx) {
    if (ctx == NULL) return ASSAY_PRECISION_FP32;
    if (ctx->precision != ASSAY_PRECISION_AUTO) return ctx->precision;
    knn_option o[3];
    return assay__knn_lowp_options(ctx->k, (size_t)-1, o) > 0 ? o[0].prec : ASSAY_PRECISION_FP32;
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

/* Rows prepared per task: a multiple of ASSAY_PANEL_ROWS, so each task packs whole panels. */
#define PREP_ROWS 2048
_Static_assert(PREP_ROWS % ASSAY_PANEL_ROWS == 0, "whole panels per task");

typedef struct prep_job {
    knn_build *b;
    double *max_rho; /* per task */
} prep_job;

/* Rows [task * PREP_ROWS, ...): codes or bf16 values, norms, the per-pair term's coefficients,
 * and their panels. */
static void prep_task(void *arg, size_t task, int worker) {
    (void)worker;
    prep_job *J = arg;
    knn_build *b = J->b;
    knn_lowp *l = &b->lowp;
    const size_t n = b->n, r0 = task * PREP_ROWS, r1 = r0 + PREP_ROWS < n ? r0 + PREP_ROWS : n;
    int i8 = l->prec == ASSAY_PRECISION_INT8, cosine = b->metric == ASSAY_METRIC_COSINE;
    float alpha = cosine ? 1.0f : -2.0f;
    double max_rho = 0.0;
    for (size_t i = r0; i < r1; i++) {
        const float *xr = b->x + i * b->ld;
        double hn;
        double e =
            i8 ? quantise_i8(l, xr, b->d, i, alpha, &hn) : quantise_bf16(l, xr, b->d, i, &hn);
        double s2 = 0.0;
        for (size_t p = 0; p < b->d; p++) s2 += (double)xr[p] * xr[p];
        double xn = sqrt(s2);
        if (!b->in_graph[i]) /* never offered (+inf penalty): nothing to bound */
            e = hn = xn = 0.0;
        l->err[i] = e;
        l->hnorm[i] = hn;
        if (xn > 0.0 && e / xn > max_rho) max_rho = e / xn;
        /* T(i, j) = cA + sum of coef_i * value_j (see the comment at the top), margin 1%. */
        float c[8];
        const double m = 1.01;
        if (cosine) {
            double inv = xn > 0.0 ? 1.0 / xn : 0.0, rho = e * inv, kappa = hn * inv;
            double kp = xn > 0.0 ? (kappa > 1.0 ? kappa : 1.0) : 0.0;
            c[0] = (float)(m * rho); /* times kappa'_j: |e_i||y_j| / (|x_i||y_j|) <= rho_i k'_j */
            c[1] = (float)(m * kp);  /* times rho_j */
            c[2] = (float)(m * l->acc_rel * kappa);
            c[3] = (float)(m * l->acc_abs * inv);
            c[4] = (float)kp;
            c[5] = (float)rho;
            c[6] = (float)kappa;
            c[7] = (float)inv;
        } else {
            double nn = xn > hn ? xn : hn;
            c[0] = (float)(m * 2.0 * e);  /* times n_j */
            c[1] = (float)(m * 2.0 * nn); /* times |e_j| */
            c[2] = (float)(m * 2.0 * l->acc_rel * hn);
            c[3] = 0.0f;
            c[4] = (float)nn;
            c[5] = (float)e;
            c[6] = (float)hn;
            c[7] = 0.0f;
        }
        for (int f = 0; f < 8; f++) l->coef[(size_t)f * n + i] = c[f];
    }
    J->max_rho[task] = max_rho;
    /* rows r0.. start panel r0 / 16, at r0 * dp in either layout */
    if (i8)
        assay__pack_u8_panels(l->codes + r0 * l->dp, l->dp, r1 - r0, l->dp, l->upanel + r0 * l->dp);
    else
        assay__pack_bf16_panels(l->h + r0 * l->dp, l->dp, r1 - r0, l->dp, l->hpanel + r0 * l->dp);
}

assay_status assay__knn_lowp_prepare(knn_build *b, knn_option o) {
    knn_lowp *l = &b->lowp;
    memset(l, 0, sizeof *l);
    l->prec = o.prec;
    if (l->prec == ASSAY_PRECISION_FP32) return ASSAY_OK;
    int i8 = l->prec == ASSAY_PRECISION_INT8, pairsat = o.pairsat;
    l->qmax = pairsat ? 63 : 127; /* vpmaddubsw's pair sums cannot saturate within +-63 */
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
    l->coef = malloc(n * 8 * sizeof *l->coef);
    int ok = l->err && l->hnorm && l->coef;
    /* The codes and their panels are as large as the matrix: bulk memory (--memory-limit). */
    void *codes = NULL, *pan = NULL;
    if (ok) {
        size_t elem = i8 ? 1 : sizeof *l->h; /* an int8 code, or a bf16 value */
        assay_status bs = assay__bulk_alloc(b->ctx, (cells ? cells : 1) * elem,
                                            "the graph's reduced-precision rows", &codes);
        if (bs == ASSAY_OK)
            bs = assay__bulk_alloc(b->ctx, (panel ? panel : 1) * elem,
                                   "the graph's reduced-precision panels", &pan);
        if (bs != ASSAY_OK) {
            assay__bulk_free(codes);
            assay__knn_lowp_free(l);
            return bs;
        }
    }
    if (i8) {
        l->codes = codes;
        l->upanel = pan;
        l->asum = malloc(n * sizeof *l->asum);
        l->scale = malloc(n * sizeof *l->scale);
        l->ascale = malloc(n * sizeof *l->ascale);
        ok = ok && l->codes && l->upanel && l->asum && l->scale && l->ascale;
    } else {
        l->h = codes;
        l->hpanel = pan;
        ok = ok && l->h && l->hpanel;
    }
    if (!ok) {
        assay__knn_lowp_free(l);
        return assay__fail(b->ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
    }
    const double u = ldexp(1.0, -24), nd = (double)l->dp;
    l->acc_rel = i8 ? 3.0 * u * (1.0 + u) * (1.0 + u) : nd * u / (1.0 - nd * u);
    l->acc_abs = i8 ? 0.0 : nd * 0x1p-126;
    l->cA = b->metric == ASSAY_METRIC_COSINE ? 0.0f : (float)(1.01 * 2.0 * l->acc_abs);
    /* Blocks of rows on the context's threads: every row's fields are its own, and the largest
     * |e|/|x| is a maximum, so the result does not depend on the threads. */
    size_t tasks = (n + PREP_ROWS - 1) / PREP_ROWS;
    prep_job j = {b, calloc(tasks ? tasks : 1, sizeof(double))};
    if (j.max_rho == NULL) {
        assay__knn_lowp_free(l);
        return assay__fail(b->ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
    }
    assay_status s = assay__parallel_for(b->ctx, tasks, b->ctx->n_threads, prep_task, &j);
    for (size_t t = 0; t < tasks; t++)
        if (j.max_rho[t] > l->max_rho) l->max_rho = j.max_rho[t];
    free(j.max_rho);
    if (s != ASSAY_OK) assay__knn_lowp_free(l);
    return s;
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

/* Plain loops over j with the coefficients in separate arrays, so the compiler vectorises them
 * (src/CMakeLists.txt gives this file -ftree-vectorize; the sums are per element, so vector and
 * scalar code give the same bits). */
/* Lowers row i of tile t (query row q) by T(q, j0 + j). */
static void lower_row(const knn_lowp *l, size_t N, int cosine, float *restrict r, size_t q,
                      size_t j0, size_t n) {
    const float *vb = l->coef + 4 * N + j0, *vc = l->coef + 5 * N + j0, *vd = l->coef + 6 * N + j0,
                *ve = l->coef + 7 * N + j0;
    const float cA = l->cA, a0 = l->coef[q], a1 = l->coef[N + q], a2 = l->coef[2 * N + q],
                a3 = l->coef[3 * N + q];
    if (cosine)
        for (size_t j = 0; j < n; j++)
            r[j] -= cA + a0 * vb[j] + a1 * vc[j] + a2 * vd[j] + a3 * ve[j];
    else
        for (size_t j = 0; j < n; j++) r[j] -= cA + a0 * vb[j] + a1 * vc[j] + a2 * vd[j];
}

void assay__knn_lowp_lower(const knn_build *b, float *t, size_t i0, size_t m, size_t j0, size_t n) {
    int cosine = b->metric == ASSAY_METRIC_COSINE;
    for (size_t i = 0; i < m; i++) lower_row(&b->lowp, b->n, cosine, t + i * n, i0 + i, j0, n);
}

void assay__knn_lowp_lower_rows(const knn_build *b, float *t, const size_t *rows, size_t m,
                                size_t j0, size_t n) {
    int cosine = b->metric == ASSAY_METRIC_COSINE;
    for (size_t i = 0; i < m; i++) lower_row(&b->lowp, b->n, cosine, t + i * n, rows[i], j0, n);
}

assay_status assay__knn_lowp_gather(const knn_build *b, const size_t *rows, size_t m,
                                    knn_lowp_rows *g) {
    const knn_lowp *l = &b->lowp;
    memset(g, 0, sizeof *g);
    g->m = m;
    if (l->prec == ASSAY_PRECISION_INT8) {
        g->codes = malloc(m * l->dp);
        g->asum = malloc(m * sizeof *g->asum);
        g->ascale = malloc(m * sizeof *g->ascale);
        if (g->codes == NULL || g->asum == NULL || g->ascale == NULL) goto nomem;
        for (size_t u = 0; u < m; u++) {
            memcpy(g->codes + u * l->dp, l->codes + rows[u] * l->dp, l->dp);
            g->asum[u] = l->asum[rows[u]];
            g->ascale[u] = l->ascale[rows[u]];
        }
    } else {
        g->h = malloc(m * l->dp * sizeof *g->h);
        if (g->h == NULL) goto nomem;
        for (size_t u = 0; u < m; u++)
            memcpy(g->h + u * l->dp, l->h + rows[u] * l->dp, l->dp * sizeof *g->h);
    }
    return ASSAY_OK;
nomem:
    assay__knn_lowp_rows_free(g);
    return ASSAY_E_NOMEM;
}

void assay__knn_lowp_rows_free(knn_lowp_rows *g) {
    free(g->codes);
    free(g->asum);
    free(g->ascale);
    free(g->h);
    memset(g, 0, sizeof *g);
}

void assay__knn_lowp_tile_rows(const knn_build *b, float *t, const knn_lowp_rows *g, size_t j0,
                               size_t n) {
    const knn_lowp *l = &b->lowp;
    if (l->prec == ASSAY_PRECISION_INT8)
        l->tile_i8(t, n, g->m, n, l->dp, g->codes, l->dp, l->upanel + j0 * l->dp, g->asum,
                   g->ascale, l->scale + j0);
    else
        b->K->tile_bf16(t, n, g->m, n, l->dp, g->h, l->dp, l->hpanel + j0 * l->dp,
                        b->metric == ASSAY_METRIC_COSINE ? 1.0f : -2.0f);
}

double assay__knn_lowp_term(const knn_build *b, size_t q, size_t y) {
    const knn_lowp *l = &b->lowp;
    size_t N = b->n;
    double s = l->cA;
    for (int f = 0; f < 4; f++) s += (double)l->coef[f * N + q] * l->coef[(4 + f) * N + y];
    return s;
}

double assay__knn_lowp_finish_bound(const knn_build *b, size_t q) {
    double e32 = assay__knn_error_bound(b, q);
    const knn_lowp *l = &b->lowp;
    if (l->prec == ASSAY_PRECISION_FP32) return e32;
    double rho = 0.0;
    if (b->metric == ASSAY_METRIC_COSINE) {
        double qinv = (double)b->rowa[q];
        if (qinv == 0.0) return e32;
        rho = l->err[q] * qinv;
    } else if (b->rowa[q] > 0.0f) {
        rho = l->err[q] / sqrt((double)b->rowa[q]);
    }
    return 1.01 * e32 * (1.0 + rho) * (1.0 + l->max_rho) + 1e-30;
}

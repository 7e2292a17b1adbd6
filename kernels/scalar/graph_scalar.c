/* SPDX-License-Identifier: Apache-2.0 */
/* Scalar reference kernels of the neighbour graph: the specification the SIMD variants are
 * tested against. Plain loops in index order with float accumulation; this translation unit is
 * built with -ffp-contract=off so the results are the same on every compiler and architecture. */
#include <math.h>

#include "scalar/scalar.h"

void assay__norms_sq_scalar(const float *x, size_t ldx, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        float s = 0.0f;
        for (size_t j = 0; j < d; j++) s += r[j] * r[j];
        out[i] = s;
    }
}

void assay__tile_l2_scalar(float *t, size_t ldt, size_t m, size_t n, const float *qn,
                           const float *bn, const float *qpen, const float *bpen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        for (size_t j = 0; j < n; j++) {
            float v = qn[i] + bn[j] + r[j];
            r[j] = (v > 0.0f ? v : 0.0f) + qpen[i] + bpen[j];
        }
    }
}

void assay__tile_cos_scalar(float *t, size_t ldt, size_t m, size_t n, const float *qinv,
                            const float *binv, const float *qpen, const float *bpen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        for (size_t j = 0; j < n; j++) {
            float v = 1.0f - r[j] * qinv[i] * binv[j];
            r[j] = (v > 0.0f ? v : 0.0f) + qpen[i] + bpen[j];
        }
    }
}

/* ---- top-k ---- */

/* (da, ia) ranks after (db, ib): farther, or as far with a higher id. */
static inline int worse(float da, int64_t ia, float db, int64_t ib) { /* ids widen */
    return da > db || (da == db && ia > ib);
}

static void sift_down(float *hd, int32_t *hi, size_t k) {
    size_t p = 0;
    float d = hd[0];
    int32_t ix = hi[0];
    for (;;) {
        size_t c = 2 * p + 1;
        if (c >= k) break;
        if (c + 1 < k && worse(hd[c + 1], hi[c + 1], hd[c], hi[c])) c++;
        if (!worse(hd[c], hi[c], d, ix)) break;
        hd[p] = hd[c];
        hi[p] = hi[c];
        p = c;
    }
    hd[p] = d;
    hi[p] = ix;
}

void assay__topk_offer(assay_topk *h, size_t i, float d, int64_t id) {
    if (!(d < INFINITY) || id == h->base + (int64_t)i) return;
    float *hd = h->dist + i * h->kk;
    int32_t *hi = h->ids + i * h->kk;
    if (!worse(hd[0], hi[0], d, id)) return;
    hd[0] = d;
    hi[0] = (int32_t)id;
    sift_down(hd, hi, h->kk);
    h->root[i] = hd[0];
}

void assay__select_tile_scalar(const float *t, size_t ldt, size_t m, size_t n, int64_t j0,
                               assay_topk *rows, assay_topk *cols) {
    for (size_t i = 0; i < m; i++) {
        const float *r = t + i * ldt;
        for (size_t j = 0; j < n; j++) {
            assay__topk_offer(rows, i, r[j], j0 + (int64_t)j);
            if (cols != NULL) assay__topk_offer(cols, j, r[j], rows->base + (int64_t)i);
        }
    }
}

void assay__fused_tile_scalar(int cosine, const float *q, size_t ldq, const float *bt, size_t ldbt,
                              size_t m, size_t n, size_t d, const float *qa, const float *ba,
                              const float *qpen, const float *bpen, int64_t j0, assay_topk *rows,
                              assay_topk *cols) {
    for (size_t i = 0; i < m; i++) {
        const float *qi = q + i * ldq;
        for (size_t j = 0; j < n; j++) {
            float dot = 0.0f;
            for (size_t p = 0; p < d; p++) dot += qi[p] * bt[p * ldbt + j];
            float v = cosine ? 1.0f - dot * qa[i] * ba[j] : qa[i] + ba[j] + -2.0f * dot;
            v = (v > 0.0f ? v : 0.0f) + qpen[i] + bpen[j];
            assay__topk_offer(rows, i, v, j0 + (int64_t)j);
            if (cols != NULL) assay__topk_offer(cols, j, v, rows->base + (int64_t)i);
        }
    }
}

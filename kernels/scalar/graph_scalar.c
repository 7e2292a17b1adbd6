/* SPDX-License-Identifier: Apache-2.0 */
/* Scalar reference kernels of the neighbour graph: the specification the SIMD variants are
 * tested against. Plain loops in index order with float accumulation; this translation unit is
 * built with -ffp-contract=off so the results are the same on every compiler and architecture. */
#include <math.h>
#include "kernels.h"

static void assay__norms_sq_scalar(const float *x, size_t ldx, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        float s = 0.0f;
        for (size_t j = 0; j < d; j++) s += r[j] * r[j];
        out[i] = s;
    }
}

static void assay__tile_l2_scalar(float *t, size_t ldt, size_t m, size_t n, const float *qn,
                                  const float *bn, const float *pen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        for (size_t j = 0; j < n; j++) {
            float v = qn[i] + bn[j] + r[j];
            r[j] = (v > 0.0f ? v : 0.0f) + pen[j];
        }
    }
}

static void assay__tile_cos_scalar(float *t, size_t ldt, size_t m, size_t n, const float *qinv,
                                   const float *binv, const float *pen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        for (size_t j = 0; j < n; j++) {
            float v = 1.0f - r[j] * qinv[i] * binv[j];
            r[j] = (v > 0.0f ? v : 0.0f) + pen[j];
        }
    }
}

/* (da, ia) ranks after (db, ib): farther, or as far with a higher index. */
static inline int worse(float da, int64_t ia, float db, int64_t ib) {
    return da > db || (da == db && ia > ib);
}

static void sift_down(float *hd, int64_t *hi, size_t k) {
    size_t p = 0;
    float d = hd[0];
    int64_t ix = hi[0];
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

static void assay__topk_tile_scalar(const float *t, size_t ldt, size_t m, size_t n, int64_t j0,
                                    size_t k, float *hd, int64_t *hi) {
    if (k == 0) return;
    for (size_t i = 0; i < m; i++) {
        const float *r = t + i * ldt;
        float *d = hd + i * k;
        int64_t *ix = hi + i * k;
        for (size_t j = 0; j < n; j++) {
            float v = r[j];
            int64_t id = j0 + (int64_t)j;
            if (!(v < INFINITY) || !worse(d[0], ix[0], v, id)) continue;
            d[0] = v;
            ix[0] = id;
            sift_down(d, ix, k);
        }
    }
}

const assay_kernels assay__kernels_scalar = {
    "scalar",
    assay__norms_sq_scalar,
    assay__tile_l2_scalar,
    assay__tile_cos_scalar,
    assay__topk_tile_scalar,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* NEON (AArch64 Advanced SIMD) kernels of the neighbour graph. Requires ASIMD only (every AArch64
 * CPU, HWCAP_ASIMD); built with -march=armv8-a -ffp-contract=off, so only the explicit vfmaq_f32
 * calls fuse.
 * - norms_sq: 4 accumulators of 4 lanes (FMA) over 16 floats per step, then
 *   single vectors; the last 1-3 floats are copied into a zeroed vector (a masked load that
 *   never reads past the row). Reduced (acc0 + acc1) + (acc2 + acc3), then vaddvq_f32.
 * - tile finish: the scalar formula operation by operation, (v > 0 ? v : 0) as compare + select
 *   (so NaN gives 0 like the reference, where vmaxq_f32 would keep it); scalar tail with the
 *   same formula: bit-identical to the reference.
 * - selection: 16 distances (4 vectors) tested against the row's threshold, and in the
 *   symmetric case against the columns' thresholds, before any branch; only lanes that pass
 *   (d <= threshold, d finite) reach assay__topk_offer. Thresholds only fall during a call, so
 *   one read before the offers is conservative. Scalar tail with the same test.
 * - fused tile: 4 query rows x 2 vectors (8 columns) of FMA accumulators over p < d on the
 *   transposed block (p order per lane), then finished, tested and offered from registers; the
 *   last 1-3 columns with fmaf in the same p order (the value a lane would hold). */
#include <arm_neon.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "neon/neon.h"

static inline float32x4_t load_tail(const float *p, size_t r) { /* r < 4 floats, rest 0 */
    float tmp[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(tmp, p, r * sizeof *p);
    return vld1q_f32(tmp);
}

static float assay__row_norm_sq_neon(const float *r, size_t d) {
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 16 <= d; j += 16) {
        float32x4_t v0 = vld1q_f32(r + j), v1 = vld1q_f32(r + j + 4);
        float32x4_t v2 = vld1q_f32(r + j + 8), v3 = vld1q_f32(r + j + 12);
        a0 = vfmaq_f32(a0, v0, v0);
        a1 = vfmaq_f32(a1, v1, v1);
        a2 = vfmaq_f32(a2, v2, v2);
        a3 = vfmaq_f32(a3, v3, v3);
    }
    for (; j + 4 <= d; j += 4) {
        float32x4_t v = vld1q_f32(r + j);
        a0 = vfmaq_f32(a0, v, v);
    }
    if (j < d) {
        float32x4_t v = load_tail(r + j, d - j);
        a1 = vfmaq_f32(a1, v, v);
    }
    return vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
}

void assay__norms_sq_neon(const float *x, size_t ldx, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = assay__row_norm_sq_neon(x + i * ldx, d);
}

/* ---- tile finish ---- */

/* (v > 0 ? v : 0) + qp + bp, as the reference evaluates it. */
static inline float32x4_t finish(float32x4_t v, float32x4_t qp, float32x4_t bp) {
    const float32x4_t zero = vdupq_n_f32(0.0f);
    float32x4_t c = vbslq_f32(vcgtq_f32(v, zero), v, zero);
    return vaddq_f32(vaddq_f32(c, qp), bp);
}

static inline float finish1(float v, float qp, float bp) {
    return (v > 0.0f ? v : 0.0f) + qp + bp;
}

void assay__tile_l2_neon(float *t, size_t ldt, size_t m, size_t n, const float *qn, const float *bn,
                         const float *qpen, const float *bpen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        float32x4_t q = vdupq_n_f32(qn[i]), qp = vdupq_n_f32(qpen[i]);
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            float32x4_t v = vaddq_f32(vaddq_f32(q, vld1q_f32(bn + j)), vld1q_f32(r + j));
            vst1q_f32(r + j, finish(v, qp, vld1q_f32(bpen + j)));
        }
        for (; j < n; j++) r[j] = finish1(qn[i] + bn[j] + r[j], qpen[i], bpen[j]);
    }
}

void assay__tile_cos_neon(float *t, size_t ldt, size_t m, size_t n, const float *qinv,
                          const float *binv, const float *qpen, const float *bpen) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        float32x4_t q = vdupq_n_f32(qinv[i]), qp = vdupq_n_f32(qpen[i]);
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            float32x4_t p = vmulq_f32(vmulq_f32(vld1q_f32(r + j), q), vld1q_f32(binv + j));
            vst1q_f32(r + j, finish(vsubq_f32(one, p), qp, vld1q_f32(bpen + j)));
        }
        for (; j < n; j++) r[j] = finish1(1.0f - r[j] * qinv[i] * binv[j], qpen[i], bpen[j]);
    }
}

/* ---- selection ---- */

/* A threshold for "d <= root and d finite" as one compare: d <= min(root, FLT_MAX). */
static inline float thr1(float root) {
    return root < FLT_MAX ? root : FLT_MAX;
}

static inline uint32x4_t pass(float32x4_t v, float32x4_t thr) {
    return vcleq_f32(v, thr);
}

/* Column thresholds of columns j .. j+3 (the symmetric case). */
static inline float32x4_t col_thr(const assay_topk *cols, size_t j) {
    return vminq_f32(vld1q_f32(cols->root + j), vdupq_n_f32(FLT_MAX));
}

/* Offers the lanes of v (row i, columns j .. j+3) whose masks are set: mrow to the row, mcol to
 * the columns. */
static void assay__offer_lanes_neon(float32x4_t v, uint32x4_t mrow, uint32x4_t mcol, size_t i,
                                    size_t j, int64_t j0, assay_topk *rows, assay_topk *cols) {
    float lane[4];
    uint32_t mr[4], mc[4];
    vst1q_f32(lane, v);
    vst1q_u32(mr, mrow);
    vst1q_u32(mc, mcol);
    for (size_t b = 0; b < 4; b++) {
        if (mr[b]) assay__topk_offer(rows, i, lane[b], j0 + (int64_t)(j + b));
        if (mc[b]) assay__topk_offer(cols, j + b, lane[b], rows->base + (int64_t)i);
    }
}

/* Tests one distance of row i, column j, the scalar way, and offers it where it passes. */
static inline void offer1(float v, size_t i, size_t j, int64_t j0, assay_topk *rows,
                          assay_topk *cols) {
    if (v <= thr1(rows->root[i])) assay__topk_offer(rows, i, v, j0 + (int64_t)j);
    if (cols != NULL && v <= thr1(cols->root[j]))
        assay__topk_offer(cols, j, v, rows->base + (int64_t)i);
}

void assay__select_tile_neon(const float *t, size_t ldt, size_t m, size_t n, int64_t j0,
                             assay_topk *rows, assay_topk *cols) {
    const uint32x4_t none = vdupq_n_u32(0);
    for (size_t i = 0; i < m; i++) {
        const float *r = t + i * ldt;
        size_t j = 0;
        for (; j + 16 <= n; j += 16) {
            float32x4_t thr = vdupq_n_f32(thr1(rows->root[i]));
            float32x4_t v0 = vld1q_f32(r + j), v1 = vld1q_f32(r + j + 4);
            float32x4_t v2 = vld1q_f32(r + j + 8), v3 = vld1q_f32(r + j + 12);
            uint32x4_t m0 = pass(v0, thr), m1 = pass(v1, thr), m2 = pass(v2, thr),
                       m3 = pass(v3, thr);
            uint32x4_t c0 = none, c1 = none, c2 = none, c3 = none;
            if (cols != NULL) {
                c0 = pass(v0, col_thr(cols, j));
                c1 = pass(v1, col_thr(cols, j + 4));
                c2 = pass(v2, col_thr(cols, j + 8));
                c3 = pass(v3, col_thr(cols, j + 12));
            }
            uint32x4_t any = vorrq_u32(vorrq_u32(vorrq_u32(m0, m1), vorrq_u32(m2, m3)),
                                       vorrq_u32(vorrq_u32(c0, c1), vorrq_u32(c2, c3)));
            if (vmaxvq_u32(any) == 0) continue;
            assay__offer_lanes_neon(v0, m0, c0, i, j, j0, rows, cols);
            assay__offer_lanes_neon(v1, m1, c1, i, j + 4, j0, rows, cols);
            assay__offer_lanes_neon(v2, m2, c2, i, j + 8, j0, rows, cols);
            assay__offer_lanes_neon(v3, m3, c3, i, j + 12, j0, rows, cols);
        }
        for (; j + 4 <= n; j += 4) {
            float32x4_t v = vld1q_f32(r + j);
            uint32x4_t mr = pass(v, vdupq_n_f32(thr1(rows->root[i])));
            uint32x4_t mc = cols != NULL ? pass(v, col_thr(cols, j)) : none;
            if (vmaxvq_u32(vorrq_u32(mr, mc)) != 0)
                assay__offer_lanes_neon(v, mr, mc, i, j, j0, rows, cols);
        }
        for (; j < n; j++) offer1(r[j], i, j, j0, rows, cols);
    }
}

/* ---- fused distance + selection ---- */

typedef struct fused_ctx {
    int cosine;
    const float *qa, *ba, *qpen, *bpen;
    int64_t j0;
    assay_topk *rows, *cols;
} fused_ctx;

/* Finishes the dot products of row i with columns j .. j+3, tests and offers them. */
static inline void fused_finish(const fused_ctx *f, float32x4_t dot, size_t i, size_t j) {
    float32x4_t v;
    if (f->cosine)
        v = vsubq_f32(vdupq_n_f32(1.0f),
                      vmulq_f32(vmulq_f32(dot, vdupq_n_f32(f->qa[i])), vld1q_f32(f->ba + j)));
    else
        v = vaddq_f32(vaddq_f32(vdupq_n_f32(f->qa[i]), vld1q_f32(f->ba + j)),
                      vmulq_f32(vdupq_n_f32(-2.0f), dot));
    v = finish(v, vdupq_n_f32(f->qpen[i]), vld1q_f32(f->bpen + j));
    uint32x4_t mr = pass(v, vdupq_n_f32(thr1(f->rows->root[i])));
    uint32x4_t mc = f->cols != NULL ? pass(v, col_thr(f->cols, j)) : vdupq_n_u32(0);
    if (vmaxvq_u32(vorrq_u32(mr, mc)) != 0)
        assay__offer_lanes_neon(v, mr, mc, i, j, f->j0, f->rows, f->cols);
}

/* One column j (fewer than 4 left): the dot product in p order with fmaf, as a lane does it. */
static void assay__fused_column_neon(const fused_ctx *f, const float *q, size_t ldq,
                                     const float *bt, size_t ldbt, size_t m, size_t d, size_t j) {
    for (size_t i = 0; i < m; i++) {
        const float *qi = q + i * ldq;
        float dot = 0.0f;
        for (size_t p = 0; p < d; p++) dot = fmaf(qi[p], bt[p * ldbt + j], dot);
        float v = f->cosine ? 1.0f - dot * f->qa[i] * f->ba[j] : f->qa[i] + f->ba[j] + -2.0f * dot;
        offer1(finish1(v, f->qpen[i], f->bpen[j]), i, j, f->j0, f->rows, f->cols);
    }
}

void assay__fused_tile_neon(int cosine, const float *q, size_t ldq, const float *bt, size_t ldbt,
                            size_t m, size_t n, size_t d, const float *qa, const float *ba,
                            const float *qpen, const float *bpen, int64_t j0, assay_topk *rows,
                            assay_topk *cols) {
    const fused_ctx f = {cosine, qa, ba, qpen, bpen, j0, rows, cols};
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        size_t i = 0;
        for (; i + 4 <= m; i += 4) {
            float32x4_t a00 = vdupq_n_f32(0.0f), a01 = a00, a10 = a00, a11 = a00, a20 = a00,
                        a21 = a00, a30 = a00, a31 = a00;
            const float *q0 = q + i * ldq, *q1 = q0 + ldq, *q2 = q1 + ldq, *q3 = q2 + ldq;
            for (size_t p = 0; p < d; p++) {
                const float *b = bt + p * ldbt + j;
                float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
                a00 = vfmaq_n_f32(a00, b0, q0[p]);
                a01 = vfmaq_n_f32(a01, b1, q0[p]);
                a10 = vfmaq_n_f32(a10, b0, q1[p]);
                a11 = vfmaq_n_f32(a11, b1, q1[p]);
                a20 = vfmaq_n_f32(a20, b0, q2[p]);
                a21 = vfmaq_n_f32(a21, b1, q2[p]);
                a30 = vfmaq_n_f32(a30, b0, q3[p]);
                a31 = vfmaq_n_f32(a31, b1, q3[p]);
            }
            fused_finish(&f, a00, i, j);
            fused_finish(&f, a01, i, j + 4);
            fused_finish(&f, a10, i + 1, j);
            fused_finish(&f, a11, i + 1, j + 4);
            fused_finish(&f, a20, i + 2, j);
            fused_finish(&f, a21, i + 2, j + 4);
            fused_finish(&f, a30, i + 3, j);
            fused_finish(&f, a31, i + 3, j + 4);
        }
        for (; i < m; i++) {
            float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
            const float *q0 = q + i * ldq;
            for (size_t p = 0; p < d; p++) {
                const float *b = bt + p * ldbt + j;
                a0 = vfmaq_n_f32(a0, vld1q_f32(b), q0[p]);
                a1 = vfmaq_n_f32(a1, vld1q_f32(b + 4), q0[p]);
            }
            fused_finish(&f, a0, i, j);
            fused_finish(&f, a1, i, j + 4);
        }
    }
    if (j + 4 <= n) {
        size_t i = 0;
        for (; i + 4 <= m; i += 4) {
            float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
            const float *q0 = q + i * ldq, *q1 = q0 + ldq, *q2 = q1 + ldq, *q3 = q2 + ldq;
            for (size_t p = 0; p < d; p++) {
                float32x4_t b0 = vld1q_f32(bt + p * ldbt + j);
                a0 = vfmaq_n_f32(a0, b0, q0[p]);
                a1 = vfmaq_n_f32(a1, b0, q1[p]);
                a2 = vfmaq_n_f32(a2, b0, q2[p]);
                a3 = vfmaq_n_f32(a3, b0, q3[p]);
            }
            fused_finish(&f, a0, i, j);
            fused_finish(&f, a1, i + 1, j);
            fused_finish(&f, a2, i + 2, j);
            fused_finish(&f, a3, i + 3, j);
        }
        for (; i < m; i++) {
            float32x4_t a0 = vdupq_n_f32(0.0f);
            const float *q0 = q + i * ldq;
            for (size_t p = 0; p < d; p++)
                a0 = vfmaq_n_f32(a0, vld1q_f32(bt + p * ldbt + j), q0[p]);
            fused_finish(&f, a0, i, j);
        }
        j += 4;
    }
    for (; j < n; j++) assay__fused_column_neon(&f, q, ldq, bt, ldbt, m, d, j);
}

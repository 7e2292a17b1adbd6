/* SPDX-License-Identifier: Apache-2.0 */
/* SVE kernels of the neighbour graph, vector-length agnostic (any VL from 128 to 2048 bits).
 * Requires SVE (HWCAP_SVE); built with -march=armv8.2-a+sve -ffp-contract=off, so only the
 * explicit svmla calls fuse. Every loop runs on svwhilelt predicates: no tail loop, no read past
 * an array (inactive lanes are not accessed; the vectors after the first are addressed with the
 * _vnum forms, so no pointer past an array is formed).
 * - norms_sq: 4 accumulators of VL/32 lanes (FMA, merging on the predicate) over
 *   4 vectors per step. Reduced (acc0 + acc1) + (acc2 + acc3), then svaddv (FADDV: a pairwise
 *   tree across lanes, fixed for a given VL; results differ between vector lengths only within
 *   rounding).
 * - tile finish: the scalar formula operation by operation, (v > 0 ? v : 0) as compare + select
 *   (NaN gives 0 like the reference): bit-identical to the reference for every VL.
 * - selection: a vector of distances tested against the row's threshold, and in the symmetric
 *   case against the columns' thresholds, with one svptest; only lanes that pass (d <= threshold,
 *   d finite) reach assay__topk_offer, picked out with svcompact. Thresholds only fall during a
 *   call, so one read before the offers is conservative.
 * - fused tile: 4 query rows x 2 vectors of columns of FMA accumulators over p < d on the
 *   transposed block (p order per lane), finished, tested and offered from registers. */
#include <arm_sve.h>
#include <float.h>

#include "sve/sve.h"

/* The most 32-bit lanes an SVE vector can have (2048 bits). */
#define SVE_MAX_LANES 64

static float assay__row_norm_sq_sve(const float *r, size_t d) {
    const uint64_t vl = svcntw();
    svfloat32_t a0 = svdup_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
    for (uint64_t j = 0; j < d; j += 4 * vl) {
        svbool_t p0 = svwhilelt_b32(j, (uint64_t)d), p1 = svwhilelt_b32(j + vl, (uint64_t)d);
        svbool_t p2 = svwhilelt_b32(j + 2 * vl, (uint64_t)d);
        svbool_t p3 = svwhilelt_b32(j + 3 * vl, (uint64_t)d);
        svfloat32_t v0 = svld1(p0, r + j), v1 = svld1_vnum(p1, r + j, 1);
        svfloat32_t v2 = svld1_vnum(p2, r + j, 2), v3 = svld1_vnum(p3, r + j, 3);
        a0 = svmla_m(p0, a0, v0, v0);
        a1 = svmla_m(p1, a1, v1, v1);
        a2 = svmla_m(p2, a2, v2, v2);
        a3 = svmla_m(p3, a3, v3, v3);
    }
    svbool_t all = svptrue_b32();
    return svaddv(all, svadd_x(all, svadd_x(all, a0, a1), svadd_x(all, a2, a3)));
}

void assay__norms_sq_sve(const float *x, size_t ldx, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = assay__row_norm_sq_sve(x + i * ldx, d);
}

/* ---- tile finish ---- */

/* (v > 0 ? v : 0) + qp + bp, as the reference evaluates it. */
static inline svfloat32_t finish(svbool_t pg, svfloat32_t v, svfloat32_t qp, svfloat32_t bp) {
    svfloat32_t c = svsel(svcmpgt(pg, v, 0.0f), v, svdup_f32(0.0f));
    return svadd_x(pg, svadd_x(pg, c, qp), bp);
}

void assay__tile_l2_sve(float *t, size_t ldt, size_t m, size_t n, const float *qn, const float *bn,
                        const float *qpen, const float *bpen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        svfloat32_t q = svdup_f32(qn[i]), qp = svdup_f32(qpen[i]);
        for (uint64_t j = 0; j < n; j += svcntw()) {
            svbool_t pg = svwhilelt_b32(j, (uint64_t)n);
            svfloat32_t v = svadd_x(pg, svadd_x(pg, q, svld1(pg, bn + j)), svld1(pg, r + j));
            svst1(pg, r + j, finish(pg, v, qp, svld1(pg, bpen + j)));
        }
    }
}

void assay__tile_cos_sve(float *t, size_t ldt, size_t m, size_t n, const float *qinv,
                         const float *binv, const float *qpen, const float *bpen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        svfloat32_t q = svdup_f32(qinv[i]), qp = svdup_f32(qpen[i]);
        for (uint64_t j = 0; j < n; j += svcntw()) {
            svbool_t pg = svwhilelt_b32(j, (uint64_t)n);
            svfloat32_t p = svmul_x(pg, svmul_x(pg, svld1(pg, r + j), q), svld1(pg, binv + j));
            svst1(pg, r + j, finish(pg, svsubr_x(pg, p, 1.0f), qp, svld1(pg, bpen + j)));
        }
    }
}

/* ---- selection ---- */

/* A threshold for "d <= root and d finite" as one compare: d <= min(root, FLT_MAX). */
static inline float thr1(float root) {
    return root < FLT_MAX ? root : FLT_MAX;
}

/* Lanes of v (row i, columns j ..) that may enter the row's heap (*mr) or the columns' (*mc). */
static inline svbool_t pass_masks(svbool_t pg, svfloat32_t v, const assay_topk *rows, size_t i,
                                  const assay_topk *cols, size_t j, svbool_t *mr, svbool_t *mc) {
    *mr = svcmple(pg, v, thr1(rows->root[i]));
    if (cols == NULL) {
        *mc = svpfalse_b();
        return *mr;
    }
    *mc = svcmple(pg, v, svmin_x(pg, svld1(pg, cols->root + j), FLT_MAX));
    return svorr_z(pg, *mr, *mc);
}

/* Offers the lanes of v (row i, columns j ..) that passed: `mr` to the row, `mc` to the
 * columns. The passing lanes are packed to the front with svcompact. */
static void assay__offer_lanes_sve(svbool_t any, svfloat32_t v, svbool_t mr, svbool_t mc, size_t i,
                                   size_t j, int64_t j0, assay_topk *rows, assay_topk *cols) {
    float lane[SVE_MAX_LANES];
    uint32_t idx[SVE_MAX_LANES], flag[SVE_MAX_LANES];
    svbool_t all = svptrue_b32();
    svuint32_t f =
        svorr_x(all, svsel(mr, svdup_u32(1), svdup_u32(0)), svsel(mc, svdup_u32(2), svdup_u32(0)));
    svst1(all, lane, svcompact(any, v));
    svst1(all, idx, svcompact(any, svindex_u32(0, 1)));
    svst1(all, flag, svcompact(any, f));
    uint64_t cnt = svcntp_b32(all, any);
    for (uint64_t k = 0; k < cnt; k++) {
        size_t c = j + idx[k];
        if (flag[k] & 1u) assay__topk_offer(rows, i, lane[k], j0 + (int64_t)c);
        if (flag[k] & 2u) assay__topk_offer(cols, c, lane[k], rows->base + (int64_t)i);
    }
}

void assay__select_tile_sve(const float *t, size_t ldt, size_t m, size_t n, int64_t j0,
                            assay_topk *rows, assay_topk *cols) {
    for (size_t i = 0; i < m; i++) {
        const float *r = t + i * ldt;
        for (uint64_t j = 0; j < n; j += svcntw()) {
            svbool_t pg = svwhilelt_b32(j, (uint64_t)n), mr, mc;
            svfloat32_t v = svld1(pg, r + j);
            svbool_t any = pass_masks(pg, v, rows, i, cols, j, &mr, &mc);
            if (svptest_any(pg, any)) assay__offer_lanes_sve(any, v, mr, mc, i, j, j0, rows, cols);
        }
    }
}

/* ---- fused distance + selection ---- */

typedef struct fused_ctx {
    int cosine;
    const float *qa, *ba, *qpen, *bpen;
    int64_t j0;
    assay_topk *rows, *cols;
} fused_ctx;

/* Finishes the dot products of row i with the columns j .. of predicate pg, tests and offers
 * them. */
static inline void fused_finish(const fused_ctx *f, svbool_t pg, svfloat32_t dot, size_t i,
                                size_t j) {
    svfloat32_t v;
    if (f->cosine)
        v = svsubr_x(pg, svmul_x(pg, svmul_x(pg, dot, f->qa[i]), svld1(pg, f->ba + j)), 1.0f);
    else
        v = svadd_x(pg, svadd_x(pg, svdup_f32(f->qa[i]), svld1(pg, f->ba + j)),
                    svmul_x(pg, dot, -2.0f));
    v = finish(pg, v, svdup_f32(f->qpen[i]), svld1(pg, f->bpen + j));
    svbool_t mr, mc, any = pass_masks(pg, v, f->rows, i, f->cols, j, &mr, &mc);
    if (svptest_any(pg, any)) assay__offer_lanes_sve(any, v, mr, mc, i, j, f->j0, f->rows, f->cols);
}

void assay__fused_tile_sve(int cosine, const float *q, size_t ldq, const float *bt, size_t ldbt,
                           size_t m, size_t n, size_t d, const float *qa, const float *ba,
                           const float *qpen, const float *bpen, int64_t j0, assay_topk *rows,
                           assay_topk *cols) {
    const fused_ctx f = {cosine, qa, ba, qpen, bpen, j0, rows, cols};
    const uint64_t vl = svcntw();
    for (uint64_t j = 0; j < n; j += 2 * vl) {
        svbool_t p0 = svwhilelt_b32(j, (uint64_t)n), p1 = svwhilelt_b32(j + vl, (uint64_t)n);
        int two = svptest_any(svptrue_b32(), p1);
        size_t i = 0;
        for (; i + 4 <= m; i += 4) {
            svfloat32_t a00 = svdup_f32(0.0f), a01 = a00, a10 = a00, a11 = a00, a20 = a00,
                        a21 = a00, a30 = a00, a31 = a00;
            const float *q0 = q + i * ldq, *q1 = q0 + ldq, *q2 = q1 + ldq, *q3 = q2 + ldq;
            for (size_t p = 0; p < d; p++) {
                const float *b = bt + p * ldbt + j;
                svfloat32_t b0 = svld1(p0, b), b1 = svld1_vnum(p1, b, 1);
                a00 = svmla_x(p0, a00, b0, q0[p]);
                a01 = svmla_x(p1, a01, b1, q0[p]);
                a10 = svmla_x(p0, a10, b0, q1[p]);
                a11 = svmla_x(p1, a11, b1, q1[p]);
                a20 = svmla_x(p0, a20, b0, q2[p]);
                a21 = svmla_x(p1, a21, b1, q2[p]);
                a30 = svmla_x(p0, a30, b0, q3[p]);
                a31 = svmla_x(p1, a31, b1, q3[p]);
            }
            fused_finish(&f, p0, a00, i, j);
            fused_finish(&f, p0, a10, i + 1, j);
            fused_finish(&f, p0, a20, i + 2, j);
            fused_finish(&f, p0, a30, i + 3, j);
            if (two) {
                fused_finish(&f, p1, a01, i, j + vl);
                fused_finish(&f, p1, a11, i + 1, j + vl);
                fused_finish(&f, p1, a21, i + 2, j + vl);
                fused_finish(&f, p1, a31, i + 3, j + vl);
            }
        }
        for (; i < m; i++) {
            svfloat32_t a0 = svdup_f32(0.0f), a1 = a0;
            const float *q0 = q + i * ldq;
            for (size_t p = 0; p < d; p++) {
                const float *b = bt + p * ldbt + j;
                a0 = svmla_x(p0, a0, svld1(p0, b), q0[p]);
                a1 = svmla_x(p1, a1, svld1_vnum(p1, b, 1), q0[p]);
            }
            fused_finish(&f, p0, a0, i, j);
            if (two) fused_finish(&f, p1, a1, i, j + vl);
        }
    }
}

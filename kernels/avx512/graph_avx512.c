/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512 kernels of the neighbour graph: the AVX2 kernels' structure with 16 lanes and mask
 * registers for the tails (no scalar tail loops). Requires AVX-512 F, OS-enabled ZMM state.
 * - norms_sq: 4 accumulators of 16 lanes, the tail through a zero-masked load, reduced
 *   acc0+acc1+acc2+acc3, then across lanes.
 * - tile finish: the scalar formula operation by operation (built with -ffp-contract=off),
 *   masked tail: bit-identical to the reference.
 * - selection: 16 distances compared with the row's threshold (and the columns' thresholds in
 *   the symmetric case) into mask registers; only lanes that pass reach assay__topk_offer.
 * - fused tile: 4 rows x 32 columns of FMA accumulators over p < d on the transposed block. */
#include <immintrin.h>
#include <math.h>

#include "avx512/avx512.h"

/* Lanes 0 .. r-1 (r <= 16). */
static inline __mmask16 lanes(size_t r) {
    return r >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << r) - 1u);
}

static float row_norm_sq(const float *r, size_t d) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 64 <= d; j += 64) {
        __m512 v0 = _mm512_loadu_ps(r + j), v1 = _mm512_loadu_ps(r + j + 16);
        __m512 v2 = _mm512_loadu_ps(r + j + 32), v3 = _mm512_loadu_ps(r + j + 48);
        a0 = _mm512_fmadd_ps(v0, v0, a0);
        a1 = _mm512_fmadd_ps(v1, v1, a1);
        a2 = _mm512_fmadd_ps(v2, v2, a2);
        a3 = _mm512_fmadd_ps(v3, v3, a3);
    }
    for (; j + 16 <= d; j += 16) {
        __m512 v = _mm512_loadu_ps(r + j);
        a0 = _mm512_fmadd_ps(v, v, a0);
    }
    if (j < d) {
        __m512 v = _mm512_maskz_loadu_ps(lanes(d - j), r + j);
        a1 = _mm512_fmadd_ps(v, v, a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

void assay__norms_sq_avx512(const float *x, size_t ldx, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = row_norm_sq(x + i * ldx, d);
}

/* ---- tile finish ---- */

static inline __m512 finish(__m512 v, __m512 qp, __m512 bp) {
    return _mm512_add_ps(_mm512_add_ps(_mm512_max_ps(v, _mm512_setzero_ps()), qp), bp);
}

void assay__tile_l2_avx512(float *t, size_t ldt, size_t m, size_t n, const float *qn,
                           const float *bn, const float *qpen, const float *bpen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        __m512 q = _mm512_set1_ps(qn[i]), qp = _mm512_set1_ps(qpen[i]);
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 mk = lanes(n - j);
            __m512 v = _mm512_add_ps(_mm512_add_ps(q, _mm512_maskz_loadu_ps(mk, bn + j)),
                                     _mm512_maskz_loadu_ps(mk, r + j));
            _mm512_mask_storeu_ps(r + j, mk, finish(v, qp, _mm512_maskz_loadu_ps(mk, bpen + j)));
        }
    }
}

void assay__tile_cos_avx512(float *t, size_t ldt, size_t m, size_t n, const float *qinv,
                            const float *binv, const float *qpen, const float *bpen) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        __m512 q = _mm512_set1_ps(qinv[i]), qp = _mm512_set1_ps(qpen[i]);
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 mk = lanes(n - j);
            __m512 p = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, r + j), q),
                                     _mm512_maskz_loadu_ps(mk, binv + j));
            _mm512_mask_storeu_ps(
                r + j, mk, finish(_mm512_sub_ps(one, p), qp, _mm512_maskz_loadu_ps(mk, bpen + j)));
        }
    }
}

/* ---- selection ---- */

/* Offers the lanes of v (distances of row i, columns j .. j+15) whose bits are set: bit b of
 * `mrow` to the row, of `mcol` to column j+b. */
static inline void offer_lanes(__m512 v, unsigned mrow, unsigned mcol, size_t i, size_t j,
                               int64_t j0, assay_topk *rows, assay_topk *cols) {
    float lane[16];
    _mm512_storeu_ps(lane, v);
    unsigned mk = mrow | mcol;
    while (mk) {
        unsigned b = (unsigned)__builtin_ctz(mk);
        mk &= mk - 1;
        if (mrow >> b & 1) assay__topk_offer(rows, i, lane[b], j0 + (int64_t)(j + b));
        if (mcol >> b & 1) assay__topk_offer(cols, j + b, lane[b], rows->base + (int64_t)i);
    }
}

/* Bits of the lanes (within `valid`) that may enter the row's or the columns' heaps. */
static inline void pass_masks(__m512 v, __m512 thr_row, const float *col_root, __mmask16 valid,
                              unsigned *mrow, unsigned *mcol) {
    __mmask16 fin = _mm512_mask_cmp_ps_mask(valid, v, _mm512_set1_ps(INFINITY), _CMP_LT_OQ);
    *mrow = (unsigned)_mm512_mask_cmp_ps_mask(fin, v, thr_row, _CMP_LE_OQ);
    *mcol = 0;
    if (col_root != NULL) {
        __m512 tc = _mm512_maskz_loadu_ps(valid, col_root);
        *mcol = (unsigned)_mm512_mask_cmp_ps_mask(fin, v, tc, _CMP_LE_OQ);
    }
}

void assay__select_tile_avx512(const float *t, size_t ldt, size_t m, size_t n, int64_t j0,
                               assay_topk *rows, assay_topk *cols) {
    for (size_t i = 0; i < m; i++) {
        const float *r = t + i * ldt;
        for (size_t j = 0; j < n; j += 16) {
            __mmask16 valid = lanes(n - j);
            __m512 v = _mm512_maskz_loadu_ps(valid, r + j);
            unsigned mrow, mcol;
            pass_masks(v, _mm512_set1_ps(rows->root[i]), cols ? cols->root + j : NULL, valid, &mrow,
                       &mcol);
            if (mrow | mcol) offer_lanes(v, mrow, mcol, i, j, j0, rows, cols);
        }
    }
}

/* ---- fused distance + selection ---- */

/* Per 16 columns, what the finish needs, loaded once per micro-tile. The columns' thresholds
 * may be stale within the micro-tile, which is conservative (they only fall). */
typedef struct col16 {
    __m512 a, pen, root;
    __mmask16 valid;
} col16;

typedef struct fused_ctx {
    int cosine;
    const float *qa, *ba, *qpen, *bpen;
    int64_t j0;
    assay_topk *rows, *cols;
} fused_ctx;

static inline col16 load_cols(const fused_ctx *f, size_t j, __mmask16 valid) {
    col16 c;
    c.valid = valid;
    c.pen = _mm512_maskz_loadu_ps(valid, f->bpen + j);
    c.a = _mm512_maskz_loadu_ps(valid, f->ba + j);
    /* Without column heaps the column threshold is -inf: no lane passes on its account. */
    c.root = f->cols ? _mm512_maskz_loadu_ps(valid, f->cols->root + j) : _mm512_set1_ps(-INFINITY);
    return c;
}

/* Finishes the dot products of row i with 16 columns and offers what passes. */
static inline __attribute__((always_inline)) void fused_finish(const fused_ctx *f, __m512 dot,
                                                               size_t i, size_t j, const col16 *c) {
    __m512 v;
    if (f->cosine)
        v = _mm512_sub_ps(_mm512_set1_ps(1.0f),
                          _mm512_mul_ps(_mm512_mul_ps(dot, _mm512_set1_ps(f->qa[i])), c->a));
    else
        v = _mm512_fmadd_ps(_mm512_set1_ps(-2.0f), dot,
                            _mm512_add_ps(_mm512_set1_ps(f->qa[i]), c->a));
    /* max(v, 0) gives 0 for a NaN v (rows out of the graph may hold anything): the penalties,
     * added after it as in the reference, then make it +inf. */
    v = _mm512_add_ps(
        _mm512_add_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(f->qpen[i])), c->pen);
    /* One compare against the larger threshold decides whether anything can enter. */
    __m512 rr = _mm512_set1_ps(f->rows->root[i]);
    if (!_mm512_mask_cmp_ps_mask(c->valid, v, _mm512_max_ps(rr, c->root), _CMP_LE_OQ)) return;
    unsigned mrow, mcol;
    pass_masks(v, rr, f->cols ? f->cols->root + j : NULL, c->valid, &mrow, &mcol);
    if (mrow | mcol) offer_lanes(v, mrow, mcol, i, j, f->j0, f->rows, f->cols);
}

void assay__fused_tile_avx512(int cosine, const float *q, size_t ldq, const float *bt, size_t ldbt,
                              size_t m, size_t n, size_t d, const float *qa, const float *ba,
                              const float *qpen, const float *bpen, int64_t j0, assay_topk *rows,
                              assay_topk *cols) {
    const fused_ctx f = {cosine, qa, ba, qpen, bpen, j0, rows, cols};
    for (size_t j = 0; j < n; j += 32) {
        __mmask16 v0 = lanes(n - j), v1 = j + 16 < n ? lanes(n - j - 16) : (__mmask16)0;
        size_t i = 0;
        for (; i + 4 <= m; i += 4) {
            __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
                   a30 = a00, a31 = a00;
            const float *q0 = q + i * ldq, *q1 = q0 + ldq, *q2 = q1 + ldq, *q3 = q2 + ldq;
            for (size_t p = 0; p < d; p++) {
                const float *b = bt + p * ldbt + j;
                __m512 b0 = _mm512_maskz_loadu_ps(v0, b), b1 = _mm512_maskz_loadu_ps(v1, b + 16);
                __m512 x = _mm512_set1_ps(q0[p]);
                a00 = _mm512_fmadd_ps(x, b0, a00);
                a01 = _mm512_fmadd_ps(x, b1, a01);
                x = _mm512_set1_ps(q1[p]);
                a10 = _mm512_fmadd_ps(x, b0, a10);
                a11 = _mm512_fmadd_ps(x, b1, a11);
                x = _mm512_set1_ps(q2[p]);
                a20 = _mm512_fmadd_ps(x, b0, a20);
                a21 = _mm512_fmadd_ps(x, b1, a21);
                x = _mm512_set1_ps(q3[p]);
                a30 = _mm512_fmadd_ps(x, b0, a30);
                a31 = _mm512_fmadd_ps(x, b1, a31);
            }
            col16 c0 = load_cols(&f, j, v0);
            fused_finish(&f, a00, i, j, &c0);
            fused_finish(&f, a10, i + 1, j, &c0);
            fused_finish(&f, a20, i + 2, j, &c0);
            fused_finish(&f, a30, i + 3, j, &c0);
            if (v1) {
                col16 c1 = load_cols(&f, j + 16, v1);
                fused_finish(&f, a01, i, j + 16, &c1);
                fused_finish(&f, a11, i + 1, j + 16, &c1);
                fused_finish(&f, a21, i + 2, j + 16, &c1);
                fused_finish(&f, a31, i + 3, j + 16, &c1);
            }
        }
        for (; i < m; i++) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0;
            const float *q0 = q + i * ldq;
            for (size_t p = 0; p < d; p++) {
                const float *b = bt + p * ldbt + j;
                __m512 x = _mm512_set1_ps(q0[p]);
                a0 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(v0, b), a0);
                a1 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(v1, b + 16), a1);
            }
            col16 c0 = load_cols(&f, j, v0);
            fused_finish(&f, a0, i, j, &c0);
            if (v1) {
                col16 c1 = load_cols(&f, j + 16, v1);
                fused_finish(&f, a1, i, j + 16, &c1);
            }
        }
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* AVX2 + FMA kernels of the neighbour graph. Requires AVX2, FMA, OS-enabled YMM state.
 * - norms_sq: 4 accumulators of 8 lanes, the tail through a masked load (zeros), reduced
 *   acc0+acc1+acc2+acc3, then lanes pairwise (fixed order).
 * - tile finish: the scalar formula operation by operation (no contraction: this unit is built
 *   with -ffp-contract=off), masked tail: bit-identical to the reference.
 * - selection: 8 distances compared with the row's threshold (and the columns' thresholds in
 *   the symmetric case) at once; only lanes that pass reach assay__topk_offer. Thresholds only
 *   fall during a call, so one read before the offers is conservative.
 * - fused tile: 4 rows x 16 columns of FMA accumulators over p < d on the transposed block,
 *   finished and tested in registers; the tile is never stored. */
#include <immintrin.h>
#include <math.h>

#include "avx2/avx2.h"

/* Lanes 0 .. r-1 set (r < 8): the mask of a tail. */
static inline __m256i tail_mask(size_t r) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r), idx);
}

static inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static float row_norm_sq(const float *r, size_t d) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 32 <= d; j += 32) {
        __m256 v0 = _mm256_loadu_ps(r + j), v1 = _mm256_loadu_ps(r + j + 8);
        __m256 v2 = _mm256_loadu_ps(r + j + 16), v3 = _mm256_loadu_ps(r + j + 24);
        a0 = _mm256_fmadd_ps(v0, v0, a0);
        a1 = _mm256_fmadd_ps(v1, v1, a1);
        a2 = _mm256_fmadd_ps(v2, v2, a2);
        a3 = _mm256_fmadd_ps(v3, v3, a3);
    }
    for (; j + 8 <= d; j += 8) {
        __m256 v = _mm256_loadu_ps(r + j);
        a0 = _mm256_fmadd_ps(v, v, a0);
    }
    if (j < d) {
        __m256 v = _mm256_maskload_ps(r + j, tail_mask(d - j));
        a1 = _mm256_fmadd_ps(v, v, a1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

void assay__norms_sq_avx2(const float *x, size_t ldx, size_t n, size_t d, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = row_norm_sq(x + i * ldx, d);
}

/* ---- tile finish ---- */

static inline __m256 finish(__m256 v, __m256 qp, __m256 bp) {
    return _mm256_add_ps(_mm256_add_ps(_mm256_max_ps(v, _mm256_setzero_ps()), qp), bp);
}

void assay__tile_l2_avx2(float *t, size_t ldt, size_t m, size_t n, const float *qn, const float *bn,
                         const float *qpen, const float *bpen) {
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        __m256 q = _mm256_set1_ps(qn[i]), qp = _mm256_set1_ps(qpen[i]);
        size_t j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256 v =
                _mm256_add_ps(_mm256_add_ps(q, _mm256_loadu_ps(bn + j)), _mm256_loadu_ps(r + j));
            _mm256_storeu_ps(r + j, finish(v, qp, _mm256_loadu_ps(bpen + j)));
        }
        if (j < n) {
            __m256i mk = tail_mask(n - j);
            __m256 v = _mm256_add_ps(_mm256_add_ps(q, _mm256_maskload_ps(bn + j, mk)),
                                     _mm256_maskload_ps(r + j, mk));
            _mm256_maskstore_ps(r + j, mk, finish(v, qp, _mm256_maskload_ps(bpen + j, mk)));
        }
    }
}

void assay__tile_cos_avx2(float *t, size_t ldt, size_t m, size_t n, const float *qinv,
                          const float *binv, const float *qpen, const float *bpen) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (size_t i = 0; i < m; i++) {
        float *r = t + i * ldt;
        __m256 q = _mm256_set1_ps(qinv[i]), qp = _mm256_set1_ps(qpen[i]);
        size_t j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256 p =
                _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(r + j), q), _mm256_loadu_ps(binv + j));
            _mm256_storeu_ps(r + j, finish(_mm256_sub_ps(one, p), qp, _mm256_loadu_ps(bpen + j)));
        }
        if (j < n) {
            __m256i mk = tail_mask(n - j);
            __m256 p = _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(r + j, mk), q),
                                     _mm256_maskload_ps(binv + j, mk));
            _mm256_maskstore_ps(
                r + j, mk, finish(_mm256_sub_ps(one, p), qp, _mm256_maskload_ps(bpen + j, mk)));
        }
    }
}

/* ---- selection ---- */

/* Offers the lanes of v (distances of row i, columns j .. j+7) whose bits are set: bit b of
 * `mrow` to the row, of `mcol` to column j+b. */
static inline void offer_lanes(__m256 v, unsigned mrow, unsigned mcol, size_t i, size_t j,
                               int64_t j0, assay_topk *rows, assay_topk *cols) {
    float lane[8];
    _mm256_storeu_ps(lane, v);
    unsigned mk = mrow | mcol;
    while (mk) {
        unsigned b = (unsigned)__builtin_ctz(mk);
        mk &= mk - 1;
        if (mrow >> b & 1) assay__topk_offer(rows, i, lane[b], j0 + (int64_t)(j + b));
        if (mcol >> b & 1) assay__topk_offer(cols, j + b, lane[b], rows->base + (int64_t)i);
    }
}

/* Bits of the lanes (within `valid`) that may enter the row's or the columns' heaps. */
static inline void pass_masks(__m256 v, __m256 thr_row, const float *col_root, __m256i valid,
                              unsigned *mrow, unsigned *mcol) {
    const __m256 inf = _mm256_set1_ps(INFINITY);
    __m256 fin = _mm256_and_ps(_mm256_cmp_ps(v, inf, _CMP_LT_OQ), _mm256_castsi256_ps(valid));
    *mrow = (unsigned)_mm256_movemask_ps(_mm256_and_ps(fin, _mm256_cmp_ps(v, thr_row, _CMP_LE_OQ)));
    *mcol = 0;
    if (col_root != NULL) {
        __m256 tc = _mm256_maskload_ps(col_root, valid);
        *mcol = (unsigned)_mm256_movemask_ps(_mm256_and_ps(fin, _mm256_cmp_ps(v, tc, _CMP_LE_OQ)));
    }
}

void assay__select_tile_avx2(const float *t, size_t ldt, size_t m, size_t n, int64_t j0,
                             assay_topk *rows, assay_topk *cols) {
    const __m256i all = _mm256_set1_epi32(-1);
    for (size_t i = 0; i < m; i++) {
        const float *r = t + i * ldt;
        for (size_t j = 0; j < n; j += 8) {
            __m256i valid = j + 8 <= n ? all : tail_mask(n - j);
            __m256 v = _mm256_maskload_ps(r + j, valid);
            unsigned mrow, mcol;
            pass_masks(v, _mm256_set1_ps(rows->root[i]), cols ? cols->root + j : NULL, valid, &mrow,
                       &mcol);
            if (mrow | mcol) offer_lanes(v, mrow, mcol, i, j, j0, rows, cols);
        }
    }
}

/* ---- fused distance + selection ---- */

/* Per 8 columns, what the finish needs, loaded once per micro-tile. The columns' thresholds may
 * be stale within the micro-tile, which is conservative (they only fall). */
typedef struct col8 {
    __m256 a, pen, root;
    __m256i valid;
} col8;

typedef struct fused_ctx {
    int cosine;
    const float *qa, *ba, *qpen, *bpen;
    int64_t j0;
    assay_topk *rows, *cols;
} fused_ctx;

static inline col8 load_cols(const fused_ctx *f, size_t j, __m256i valid) {
    col8 c;
    c.valid = valid;
    c.pen = _mm256_maskload_ps(f->bpen + j, valid);
    c.a = _mm256_maskload_ps(f->ba + j, valid);
    /* Without column heaps the column threshold is -inf: no lane passes on its account. */
    c.root = f->cols ? _mm256_maskload_ps(f->cols->root + j, valid) : _mm256_set1_ps(-INFINITY);
    return c;
}

/* Finishes the dot products of row i with 8 columns and offers what passes. */
static inline __attribute__((always_inline)) void fused_finish(const fused_ctx *f, __m256 dot,
                                                               size_t i, size_t j, const col8 *c) {
    __m256 v;
    if (f->cosine)
        v = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                          _mm256_mul_ps(_mm256_mul_ps(dot, _mm256_set1_ps(f->qa[i])), c->a));
    else
        v = _mm256_fmadd_ps(_mm256_set1_ps(-2.0f), dot,
                            _mm256_add_ps(_mm256_set1_ps(f->qa[i]), c->a));
    /* max(v, 0) gives 0 for a NaN v (rows out of the graph may hold anything): the penalties,
     * added after it as in the reference, then make it +inf. */
    v = _mm256_add_ps(
        _mm256_add_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(f->qpen[i])), c->pen);
    /* One compare against the larger threshold decides whether anything can enter. */
    __m256 rr = _mm256_set1_ps(f->rows->root[i]);
    __m256 any = _mm256_cmp_ps(v, _mm256_max_ps(rr, c->root), _CMP_LE_OQ);
    if (!_mm256_movemask_ps(_mm256_and_ps(any, _mm256_castsi256_ps(c->valid)))) return;
    unsigned mrow, mcol;
    pass_masks(v, rr, f->cols ? f->cols->root + j : NULL, c->valid, &mrow, &mcol);
    if (mrow | mcol) offer_lanes(v, mrow, mcol, i, j, f->j0, f->rows, f->cols);
}

/* Loads 8 columns of one coordinate: a plain load inside the block, a masked one at its tail
 * (masked loads are slow on some cores, so `full` is a compile-time constant at each call). */
static inline __attribute__((always_inline)) __m256 load8(const float *p, __m256i mk, int full) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mk);
}

/* 4 rows x 16 columns of dot products over p < d, then their finish. */
static inline __attribute__((always_inline)) void
micro4x16(const fused_ctx *f, const float *q, size_t ldq, const float *bt, size_t ldbt, size_t d,
          size_t i, size_t j, __m256i v0, __m256i v1, int two, int full) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
           a30 = a00, a31 = a00;
    const float *q0 = q + i * ldq, *q1 = q0 + ldq, *q2 = q1 + ldq, *q3 = q2 + ldq;
    for (size_t p = 0; p < d; p++) {
        const float *b = bt + p * ldbt + j;
        __m256 b0 = load8(b, v0, full), b1 = load8(b + 8, v1, full);
        __m256 x = _mm256_broadcast_ss(q0 + p);
        a00 = _mm256_fmadd_ps(x, b0, a00);
        a01 = _mm256_fmadd_ps(x, b1, a01);
        x = _mm256_broadcast_ss(q1 + p);
        a10 = _mm256_fmadd_ps(x, b0, a10);
        a11 = _mm256_fmadd_ps(x, b1, a11);
        x = _mm256_broadcast_ss(q2 + p);
        a20 = _mm256_fmadd_ps(x, b0, a20);
        a21 = _mm256_fmadd_ps(x, b1, a21);
        x = _mm256_broadcast_ss(q3 + p);
        a30 = _mm256_fmadd_ps(x, b0, a30);
        a31 = _mm256_fmadd_ps(x, b1, a31);
    }
    col8 c0 = load_cols(f, j, v0);
    fused_finish(f, a00, i, j, &c0);
    fused_finish(f, a10, i + 1, j, &c0);
    fused_finish(f, a20, i + 2, j, &c0);
    fused_finish(f, a30, i + 3, j, &c0);
    if (two) {
        col8 c1 = load_cols(f, j + 8, v1);
        fused_finish(f, a01, i, j + 8, &c1);
        fused_finish(f, a11, i + 1, j + 8, &c1);
        fused_finish(f, a21, i + 2, j + 8, &c1);
        fused_finish(f, a31, i + 3, j + 8, &c1);
    }
}

/* 6 rows x 16 columns: 12 accumulators + 2 column vectors + 1 broadcast = 15 of the 16 YMM
 * registers; 8 loads per 12 FMAs instead of 6 per 8 (the 4-row tile is load-bound on Zen). */
static inline __attribute__((always_inline)) void micro6x16(const fused_ctx *f, const float *q,
                                                            size_t ldq, const float *bt,
                                                            size_t ldbt, size_t d, size_t i,
                                                            size_t j) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
           a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
    const float *q0 = q + i * ldq;
    for (size_t p = 0; p < d; p++) {
        const float *b = bt + p * ldbt + j;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 x = _mm256_broadcast_ss(q0 + p);
        a00 = _mm256_fmadd_ps(x, b0, a00);
        a01 = _mm256_fmadd_ps(x, b1, a01);
        x = _mm256_broadcast_ss(q0 + ldq + p);
        a10 = _mm256_fmadd_ps(x, b0, a10);
        a11 = _mm256_fmadd_ps(x, b1, a11);
        x = _mm256_broadcast_ss(q0 + 2 * ldq + p);
        a20 = _mm256_fmadd_ps(x, b0, a20);
        a21 = _mm256_fmadd_ps(x, b1, a21);
        x = _mm256_broadcast_ss(q0 + 3 * ldq + p);
        a30 = _mm256_fmadd_ps(x, b0, a30);
        a31 = _mm256_fmadd_ps(x, b1, a31);
        x = _mm256_broadcast_ss(q0 + 4 * ldq + p);
        a40 = _mm256_fmadd_ps(x, b0, a40);
        a41 = _mm256_fmadd_ps(x, b1, a41);
        x = _mm256_broadcast_ss(q0 + 5 * ldq + p);
        a50 = _mm256_fmadd_ps(x, b0, a50);
        a51 = _mm256_fmadd_ps(x, b1, a51);
    }
    const __m256i all = _mm256_set1_epi32(-1);
    col8 c0 = load_cols(f, j, all);
    fused_finish(f, a00, i, j, &c0);
    fused_finish(f, a10, i + 1, j, &c0);
    fused_finish(f, a20, i + 2, j, &c0);
    fused_finish(f, a30, i + 3, j, &c0);
    fused_finish(f, a40, i + 4, j, &c0);
    fused_finish(f, a50, i + 5, j, &c0);
    col8 c1 = load_cols(f, j + 8, all);
    fused_finish(f, a01, i, j + 8, &c1);
    fused_finish(f, a11, i + 1, j + 8, &c1);
    fused_finish(f, a21, i + 2, j + 8, &c1);
    fused_finish(f, a31, i + 3, j + 8, &c1);
    fused_finish(f, a41, i + 4, j + 8, &c1);
    fused_finish(f, a51, i + 5, j + 8, &c1);
}

void assay__fused_tile_avx2(int cosine, const float *q, size_t ldq, const float *bt, size_t ldbt,
                            size_t m, size_t n, size_t d, const float *qa, const float *ba,
                            const float *qpen, const float *bpen, int64_t j0, assay_topk *rows,
                            assay_topk *cols) {
    const fused_ctx f = {cosine, qa, ba, qpen, bpen, j0, rows, cols};
    const __m256i all = _mm256_set1_epi32(-1);
    for (size_t j = 0; j < n; j += 16) {
        __m256i v0 = j + 8 <= n ? all : tail_mask(n - j);
        __m256i v1 = j + 16 <= n ? all : j + 8 < n ? tail_mask(n - j - 8) : _mm256_setzero_si256();
        int two = j + 8 < n, full = j + 16 <= n;
        size_t i = 0;
        if (full)
            for (; i + 6 <= m; i += 6) micro6x16(&f, q, ldq, bt, ldbt, d, i, j);
        for (; i + 4 <= m; i += 4) {
            if (full)
                micro4x16(&f, q, ldq, bt, ldbt, d, i, j, v0, v1, 1, 1);
            else
                micro4x16(&f, q, ldq, bt, ldbt, d, i, j, v0, v1, two, 0);
        }
        for (; i < m; i++) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            const float *q0 = q + i * ldq;
            for (size_t p = 0; p < d; p++) {
                const float *b = bt + p * ldbt + j;
                __m256 x = _mm256_broadcast_ss(q0 + p);
                a0 = _mm256_fmadd_ps(x, _mm256_maskload_ps(b, v0), a0);
                a1 = _mm256_fmadd_ps(x, _mm256_maskload_ps(b + 8, v1), a1);
            }
            col8 c0 = load_cols(&f, j, v0);
            fused_finish(&f, a0, i, j, &c0);
            if (two) {
                col8 c1 = load_cols(&f, j + 8, v1);
                fused_finish(&f, a1, i, j + 8, &c1);
            }
        }
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512 VNNI kernels: the int8 tile through vpdpbusd (laid over the avx512 table when the CPU
 * has VNNI). */
#include <immintrin.h>
#include <string.h>

#include "avx512/avx512.h"

ASSAY_DECLARE_KERNELS(avx512_vnni);

/* Register block: TILE_MR rows x TILE_NR panels (16 columns each) of int32 accumulators, 24 of
 * the 32 zmm, plus TILE_NR panel loads and one broadcast. 8 x 3 measured best of 4..14 rows x
 * 2..4 panels; all reach vpdpbusd's two per cycle when the operands are in cache. */
#define TILE_MR 8
#define TILE_NR 3
/* Bytes of packed panels walked per row block, so they stay in L2 while the rows stream (one
 * superblock at the usual widths: 512 rows x 784 codes is 400 KiB). */
#define TILE_B_BYTES (1u << 20)

/* The 4 codes of group g of a row, in every lane. memcpy: a is not 4-byte aligned. */
static inline __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* acc += vpdpbusd(b, av). Inline assembly: with the intrinsic, GCC 12 copies each accumulator
 * through another register every iteration (the tied operand), which costs a third of the rate. */
static inline __attribute__((always_inline)) void dpbusd(__m512i *acc, __m512i b, __m512i av) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(*acc) : "v"(b), "v"(av));
}

/* 16 columns of row r: (sa * sb) * (float)acc, masked to the tile. acc starts at -asum (the
 * int32 sums wrap, so S - asum comes out exact whatever the order). */
static inline __attribute__((always_inline)) void finish(float *t, __m512i acc, float sa,
                                                         __m512 sbv, __mmask16 mk) {
    __m512 c = _mm512_mul_ps(_mm512_set1_ps(sa), sbv);
    _mm512_mask_storeu_ps(t, mk, _mm512_mul_ps(c, _mm512_cvtepi32_ps(acc)));
}

static inline __m512i neg_asum(const int32_t *asum) {
    return _mm512_set1_epi32((int32_t)(0u - (uint32_t)*asum));
}

/* Accumulators of row r, one per panel: named variables, not an array, so GCC keeps them in
 * registers. Rows and panels past mr, nr are folded away (block is inlined with constants). */
#define ACC_DECL(r)                                                                                \
    __m512i c##r##0 = (r) < mr ? neg_asum(asum + (r)) : _mm512_setzero_si512();                    \
    __m512i c##r##1 = c##r##0, c##r##2 = c##r##0;
#define ACC_STEP(r)                                                                                \
    if ((r) < mr) {                                                                                \
        __m512i av = bcast4(a + lda * (r) + g * 4);                                                \
        dpbusd(&c##r##0, b0, av);                                                                  \
        if (nr > 1) dpbusd(&c##r##1, b1, av);                                                      \
        if (nr > 2) dpbusd(&c##r##2, b2, av);                                                      \
    }
#define ACC_FINISH(r, k)                                                                           \
    if ((r) < mr) finish(t + ldt * (r) + 16 * (k), c##r##k, sa[r], sbv, mk);
#define ACC_FINISH_0(r) ACC_FINISH(r, 0)
#define ACC_FINISH_1(r) ACC_FINISH(r, 1)
#define ACC_FINISH_2(r) ACC_FINISH(r, 2)
#define ACC_ROWS(X)     X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

/* Rows a[0..mr) against the nr panels at bp, bp + pstride, ... over all groups; `last` masks
 * the columns of the last panel (every panel is read whole: the last one is padded). */
static inline __attribute__((always_inline)) void
block(float *t, size_t ldt, const int mr, const int nr, size_t groups, const int8_t *a, size_t lda,
      const uint8_t *bp, size_t pstride, const int32_t *asum, const float *sa, const float *sb,
      __mmask16 last) {
    ACC_ROWS(ACC_DECL)
    __m512i b0, b1 = _mm512_setzero_si512(), b2 = b1;
    for (size_t g = 0; g < groups; g++) {
        b0 = _mm512_loadu_si512(bp + g * 64);
        if (nr > 1) b1 = _mm512_loadu_si512(bp + pstride + g * 64);
        if (nr > 2) b2 = _mm512_loadu_si512(bp + 2 * pstride + g * 64);
        ACC_ROWS(ACC_STEP)
    }
    __mmask16 mk = nr == 1 ? last : (__mmask16)0xffff;
    __m512 sbv = _mm512_maskz_loadu_ps(mk, sb);
    ACC_ROWS(ACC_FINISH_0)
    if (nr > 1) {
        mk = nr == 2 ? last : (__mmask16)0xffff;
        sbv = _mm512_maskz_loadu_ps(mk, sb + 16);
        ACC_ROWS(ACC_FINISH_1)
    }
    if (nr > 2) {
        mk = last;
        sbv = _mm512_maskz_loadu_ps(mk, sb + 32);
        ACC_ROWS(ACC_FINISH_2)
    }
}

#define BLOCK_CASE(MRV, NRV)                                                                       \
    case 4 * (MRV) + (NRV):                                                                        \
        block(t, ldt, MRV, NRV, groups, a, lda, bp, pstride, asum, sa, sb, last);                  \
        break;
#define BLOCK_CASES(MRV) BLOCK_CASE(MRV, 1) BLOCK_CASE(MRV, 2) BLOCK_CASE(MRV, 3)

/* Every mr x nr block shape as its own constant-folded copy (the tails need no scalar loop). */
static void block_any(float *t, size_t ldt, int mr, int nr, size_t groups, const int8_t *a,
                      size_t lda, const uint8_t *bp, size_t pstride, const int32_t *asum,
                      const float *sa, const float *sb, __mmask16 last) {
    switch (4 * mr + nr) {
        BLOCK_CASES(1)
        BLOCK_CASES(2)
        BLOCK_CASES(3)
        BLOCK_CASES(4)
        BLOCK_CASES(5)
        BLOCK_CASES(6)
        BLOCK_CASES(7)
        BLOCK_CASES(8)
    default:
        break;
    }
}

void assay__tile_i8_avx512_vnni(float *t, size_t ldt, size_t m, size_t n, size_t dp,
                                const int8_t *a, size_t lda, const uint8_t *bp, const int32_t *asum,
                                const float *sa, const float *sb) {
    size_t groups = dp / 4, pstride = groups * 64;
    size_t panels = (n + ASSAY_PANEL_ROWS - 1) / ASSAY_PANEL_ROWS;
    __mmask16 tail = n % 16 ? (__mmask16)((1u << (n % 16)) - 1) : (__mmask16)0xffff;
    /* Panels per superblock: a multiple of TILE_NR within TILE_B_BYTES (at least TILE_NR). */
    size_t super = pstride ? TILE_B_BYTES / pstride / TILE_NR * TILE_NR : panels;
    if (super < TILE_NR) super = TILE_NR;
    /* Rows outside, panels inside: each row block's codes stay in L1 and t is written row by
     * row, which measured faster than the other order when t starts out of cache. */
    for (size_t P0 = 0; P0 < panels; P0 += super) {
        size_t P1 = panels - P0 < super ? panels : P0 + super;
        for (size_t i = 0; i < m; i += TILE_MR) {
            int mr = m - i < TILE_MR ? (int)(m - i) : TILE_MR;
            for (size_t P = P0; P < P1; P += TILE_NR) {
                int nr = P1 - P < TILE_NR ? (int)(P1 - P) : TILE_NR;
                __mmask16 last = P + (size_t)nr == panels ? tail : (__mmask16)0xffff;
                block_any(t + i * ldt + P * 16, ldt, mr, nr, groups, a + i * lda, lda,
                          bp + P * pstride, pstride, asum + i, sa + i, sb + P * 16, last);
            }
        }
    }
}

const assay_kernels assay__kernels_avx512_vnni = {.name = "avx512_vnni",
                                                  .tile_i8 = assay__tile_i8_avx512_vnni};

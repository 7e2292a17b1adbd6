/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512BW reduced-precision tiles: the pair-saturating int8 tile, as the AVX2 one
 * (avx2/lowp_avx2.c) with one zmm per panel group: 16 rows x 4 codes. Every vpmaddubsw result
 * is widened by vpmaddwd with ones before it is added, as the spec's saturation requires. */
#include <immintrin.h>
#include <string.h>

#include "avx512/avx512.h"

/* A micro-tile is MR rows of a by NP panels: MR x NP zmm accumulators. Measured on a Xeon:
 * 4x4, 4x2, 3x4, 6x2 equal at the multiply ports' limit for dp >= 128; 4x4 ahead for small dp. */
#define PAIRSAT_MR 4
#define PAIRSAT_NP 4

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Codes 4g..4g+3 of one row, in every lane. */
ALWAYS_INLINE __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* t[0..cols) = (sa * sb[c]) * (float)(acc[c] - asum) for cols <= 16; nothing past cols is read
 * from sb or written to t. */
ALWAYS_INLINE void store16(float *t, __m512i acc, int32_t asum, float sa, const float *sb,
                           size_t cols) {
    __m512 s = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_set1_epi32(asum)));
    if (cols >= 16) {
        __m512 c = _mm512_mul_ps(_mm512_set1_ps(sa), _mm512_loadu_ps(sb));
        _mm512_storeu_ps(t, _mm512_mul_ps(c, s));
    } else if (cols > 0) {
        __mmask16 mk = (__mmask16)((1u << cols) - 1);
        __m512 c = _mm512_mul_ps(_mm512_set1_ps(sa), _mm512_maskz_loadu_ps(mk, sb));
        _mm512_mask_storeu_ps(t, mk, _mm512_mul_ps(c, s));
    }
}

/* One micro-tile: rows a[0..mr), np panels from b (pstride bytes apart), of which the first
 * `cols` columns are stored. mr and np are constants after inlining. */
ALWAYS_INLINE void micro(size_t mr, size_t np, float *t, size_t ldt, size_t cols, size_t groups,
                         const int8_t *a, size_t lda, const uint8_t *b, size_t pstride,
                         const int32_t *asum, const float *sa, const float *sb) {
    __m512i acc[PAIRSAT_MR][PAIRSAT_NP];
    const __m512i ones = _mm512_set1_epi16(1);
    for (size_t r = 0; r < mr; r++)
        for (size_t p = 0; p < np; p++) acc[r][p] = _mm512_setzero_si512();
    for (size_t g = 0; g < groups; g++) {
        __m512i bv[PAIRSAT_NP];
        for (size_t p = 0; p < np; p++) bv[p] = _mm512_loadu_si512(b + p * pstride + g * 64);
        for (size_t r = 0; r < mr; r++) {
            __m512i av = bcast4(a + r * lda + g * 4);
            for (size_t p = 0; p < np; p++) {
                __m512i x = _mm512_madd_epi16(_mm512_maddubs_epi16(bv[p], av), ones);
                /* In place and in program order (see avx2/lowp_avx2.c). */
                __asm__ volatile("vpaddd %1, %0, %0" : "+v"(acc[r][p]) : "v"(x));
            }
        }
    }
    for (size_t r = 0; r < mr; r++)
        for (size_t p = 0; p < np; p++) {
            size_t done = 16 * p, left = cols > done ? cols - done : 0;
            store16(t + r * ldt + done, acc[r][p], asum[r], sa[r], sb + done, left);
        }
}

/* A column strip of np panels for every row block of a. */
ALWAYS_INLINE void strip(size_t np, float *t, size_t ldt, size_t m, size_t cols, size_t groups,
                         const int8_t *a, size_t lda, const uint8_t *b, const int32_t *asum,
                         const float *sa, const float *sb) {
    size_t ps = groups * 64, i = 0;
    for (; i + PAIRSAT_MR <= m; i += PAIRSAT_MR)
        micro(PAIRSAT_MR, np, t + i * ldt, ldt, cols, groups, a + i * lda, lda, b, ps, asum + i,
              sa + i, sb);
    for (; i < m; i++) /* row tail */
        micro(1, np, t + i * ldt, ldt, cols, groups, a + i * lda, lda, b, ps, asum + i, sa + i, sb);
}

void assay__tile_i8_pairsat_avx512(float *t, size_t ldt, size_t m, size_t n, size_t dp,
                                   const int8_t *a, size_t lda, const uint8_t *bp,
                                   const int32_t *asum, const float *sa, const float *sb) {
    size_t groups = dp / 4, ps = groups * 64, j = 0;
    for (; j + 16 * PAIRSAT_NP <= n; j += 16 * PAIRSAT_NP)
        strip(PAIRSAT_NP, t + j, ldt, m, 16 * PAIRSAT_NP, groups, a, lda, bp + (j / 16) * ps, asum,
              sa, sb + j);
    for (; j < n; j += 16) /* the last panels, one at a time; columns past n are not stored */
        strip(1, t + j, ldt, m, n - j < 16 ? n - j : 16, groups, a, lda, bp + (j / 16) * ps, asum,
              sa, sb + j);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* AVX2 reduced-precision tiles: the pair-saturating int8 tile as a GEMM micro-kernel. One ymm of
 * a packed panel group is 8 rows x 4 codes; vpmaddubsw (unsigned packed side first, as the spec
 * models it) gives per row two saturated pair sums, vpmaddwd with ones widens them to one int32,
 * added exactly. Every maddubs result is widened before any addition: adding int16 results first
 * would change where saturation happens. */
#include <immintrin.h>
#include <string.h>

#include "avx2/avx2.h"

/* A micro-tile is MR rows of a by NP panels (16 columns each): MR x 2*NP ymm accumulators.
 * Measured on a Xeon (AVX2 table): 4x1, 5x1, 6x1, 2x2 and 3x2 all run at the vpmaddubsw +
 * vpmaddwd port limit for dp >= 64; 2x2 is fastest for small dp, whose cost is the stores. */
#define PAIRSAT_MR 2
#define PAIRSAT_NP 2

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Codes 4g..4g+3 of one row, in every lane. */
ALWAYS_INLINE __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

/* t[0..cols) = (sa * sb[c]) * (float)(acc[c] - asum) for cols <= 8; nothing past cols is read
 * from sb or written to t. */
ALWAYS_INLINE void store8(float *t, __m256i acc, int32_t asum, float sa, const float *sb,
                          size_t cols) {
    __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc, _mm256_set1_epi32(asum)));
    if (cols >= 8) {
        __m256 c = _mm256_mul_ps(_mm256_set1_ps(sa), _mm256_loadu_ps(sb));
        _mm256_storeu_ps(t, _mm256_mul_ps(c, s));
    } else if (cols > 0) {
        __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols),
                                        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 c = _mm256_mul_ps(_mm256_set1_ps(sa), _mm256_maskload_ps(sb, mk));
        _mm256_maskstore_ps(t, mk, _mm256_mul_ps(c, s));
    }
}

/* One micro-tile: rows a[0..mr), columns of np panels starting at b (panels pstride bytes
 * apart), of which the first `cols` are stored. mr and np are constants after inlining. */
ALWAYS_INLINE void micro(size_t mr, size_t np, float *t, size_t ldt, size_t cols, size_t groups,
                         const int8_t *a, size_t lda, const uint8_t *b, size_t pstride,
                         const int32_t *asum, const float *sa, const float *sb) {
    __m256i acc[PAIRSAT_MR][2 * PAIRSAT_NP];
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t r = 0; r < mr; r++)
        for (size_t c = 0; c < 2 * np; c++) acc[r][c] = _mm256_setzero_si256();
    for (size_t g = 0; g < groups; g++) {
        __m256i bv[2 * PAIRSAT_NP];
        for (size_t p = 0; p < np; p++) {
            bv[2 * p] = _mm256_loadu_si256((const __m256i *)(b + p * pstride + g * 64));
            bv[2 * p + 1] = _mm256_loadu_si256((const __m256i *)(b + p * pstride + g * 64 + 32));
        }
        for (size_t r = 0; r < mr; r++) {
            __m256i av = bcast4(a + r * lda + g * 4);
            for (size_t c = 0; c < 2 * np; c++) {
                __m256i x = _mm256_madd_epi16(_mm256_maddubs_epi16(bv[c], av), ones);
                /* vpaddd in place, in program order: with the intrinsic, gcc issues every
                 * maddubs first and then spills and copies accumulators. */
                __asm__ volatile("vpaddd %1, %0, %0" : "+x"(acc[r][c]) : "x"(x));
            }
        }
    }
    for (size_t r = 0; r < mr; r++)
        for (size_t c = 0; c < 2 * np; c++) {
            size_t done = 8 * c, left = cols > done ? cols - done : 0;
            store8(t + r * ldt + done, acc[r][c], asum[r], sa[r], sb + done, left);
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

void assay__tile_i8_pairsat_avx2(float *t, size_t ldt, size_t m, size_t n, size_t dp,
                                 const int8_t *a, size_t lda, const uint8_t *bp,
                                 const int32_t *asum, const float *sa, const float *sb) {
    size_t groups = dp / 4, ps = groups * 64;
    /* Column strips outermost: a strip of packed panels (np * 16 * dp bytes) stays in L1 while
     * the rows of a, MR * 4 bytes per group, stream past it. */
    size_t j = 0;
    for (; j + 16 * PAIRSAT_NP <= n; j += 16 * PAIRSAT_NP)
        strip(PAIRSAT_NP, t + j, ldt, m, 16 * PAIRSAT_NP, groups, a, lda, bp + (j / 16) * ps, asum,
              sa, sb + j);
    /* The last, partial strip: whole panels, columns past n computed and not stored. */
    while (j < n) {
        strip(1, t + j, ldt, m, n - j < 16 ? n - j : 16, groups, a, lda, bp + (j / 16) * ps, asum,
              sa, sb + j);
        j += 16;
    }
}

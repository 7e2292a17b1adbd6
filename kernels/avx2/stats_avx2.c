/* SPDX-License-Identifier: Apache-2.0 */
/* AVX2 kernels the detectors use. Requires AVX2. Moments and class sums convert 4 floats to
 * doubles per vector and accumulate each column in row order, as the reference does, so the
 * results are bit-identical to it (x*x is exact in double for a float x). Label agreement
 * gathers 4 neighbour labels per vector. */
#include <immintrin.h>

#include "avx2/avx2.h"
#include "scalar/scalar.h"

static inline __m256i tail_mask64(size_t r) { /* lanes 0 .. r-1 of 4 (r < 4) */
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)r), idx);
}

void assay__col_moments_avx2(const float *x, size_t ldx, size_t n, size_t d, double *sum,
                             double *sumsq) {
    /* Columns in groups of 8 kept in registers over all rows (row order per column). */
    size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        __m256d s0 = _mm256_loadu_pd(sum + j), s1 = _mm256_loadu_pd(sum + j + 4);
        __m256d q0 = _mm256_loadu_pd(sumsq + j), q1 = _mm256_loadu_pd(sumsq + j + 4);
        for (size_t i = 0; i < n; i++) {
            __m256 v = _mm256_loadu_ps(x + i * ldx + j);
            __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
            __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
            s0 = _mm256_add_pd(s0, lo);
            s1 = _mm256_add_pd(s1, hi);
            q0 = _mm256_add_pd(q0, _mm256_mul_pd(lo, lo));
            q1 = _mm256_add_pd(q1, _mm256_mul_pd(hi, hi));
        }
        _mm256_storeu_pd(sum + j, s0);
        _mm256_storeu_pd(sum + j + 4, s1);
        _mm256_storeu_pd(sumsq + j, q0);
        _mm256_storeu_pd(sumsq + j + 4, q1);
    }
    /* The last d % 8 columns: the reference itself (same order, same bits). */
    if (j < d) assay__col_moments_scalar(x + j, ldx, n, d - j, sum + j, sumsq + j);
}

void assay__class_sums_avx2(const float *x, size_t ldx, size_t n, size_t d, const int32_t *labels,
                            size_t n_classes, double *sums, uint64_t *counts) {
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= n_classes) continue;
        const float *r = x + i * ldx;
        double *s = sums + (size_t)labels[i] * d;
        size_t j = 0;
        for (; j + 4 <= d; j += 4)
            _mm256_storeu_pd(
                s + j, _mm256_add_pd(_mm256_loadu_pd(s + j), _mm256_cvtps_pd(_mm_loadu_ps(r + j))));
        for (; j < d; j++) s[j] += (double)r[j];
        counts[labels[i]]++;
    }
}

void assay__label_agree_avx2(const int64_t *ids, size_t k, size_t n, const int32_t *labels,
                             uint32_t *out) {
    for (size_t i = 0; i < n; i++) {
        const int64_t *row = ids + i * k;
        __m128i own = _mm_set1_epi32(labels[i]), cnt = _mm_setzero_si128();
        size_t c = 0;
        for (; c < k; c += 4) {
            __m256i valid = c + 4 <= k ? _mm256_set1_epi64x(-1) : tail_mask64(k - c);
            __m256i id = _mm256_maskload_epi64((const long long *)(row + c), valid);
            /* Lanes with a neighbour: valid and id >= 0. */
            __m256i use =
                _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_setzero_si256(), id), valid);
            /* Narrow the 64-bit lane masks to 32-bit ones (low halves). */
            __m128i use32 = _mm256_castsi256_si128(
                _mm256_permutevar8x32_epi32(use, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)));
            __m128i lab =
                _mm256_mask_i64gather_epi32(_mm_setzero_si128(), (const int *)labels, id, use32, 4);
            cnt = _mm_sub_epi32(cnt, _mm_and_si128(_mm_cmpeq_epi32(lab, own), use32));
        }
        cnt = _mm_add_epi32(cnt, _mm_shuffle_epi32(cnt, 0x4E));
        cnt = _mm_add_epi32(cnt, _mm_shuffle_epi32(cnt, 0xB1));
        out[i] = (uint32_t)_mm_cvtsi128_si32(cnt);
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512 kernels the detectors use. Requires AVX-512 F and VL. Moments and class sums convert
 * 8 floats to doubles per vector and accumulate each column in row order, as the reference
 * does, so the results are bit-identical to it (x*x is exact in double for a float x). Label
 * agreement gathers 8 neighbour labels per vector under a mask. */
#include <immintrin.h>

#include "avx512/avx512.h"

static inline __mmask8 lanes8(size_t r) {
    return r >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << r) - 1u);
}

void assay__col_moments_avx512(const float *x, size_t ldx, size_t n, size_t d, double *sum,
                               double *sumsq) {
    /* Columns in groups of 16 kept in registers over all rows (row order per column); the last
     * group is masked. */
    for (size_t j = 0; j < d; j += 16) {
        __mmask8 m0 = lanes8(d - j), m1 = j + 8 < d ? lanes8(d - j - 8) : (__mmask8)0;
        __mmask16 mf = (__mmask16)(m0 | (unsigned)m1 << 8);
        __m512d s0 = _mm512_maskz_loadu_pd(m0, sum + j),
                s1 = _mm512_maskz_loadu_pd(m1, sum + j + 8);
        __m512d q0 = _mm512_maskz_loadu_pd(m0, sumsq + j);
        __m512d q1 = _mm512_maskz_loadu_pd(m1, sumsq + j + 8);
        for (size_t i = 0; i < n; i++) {
            __m512 v = _mm512_maskz_loadu_ps(mf, x + i * ldx + j);
            __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
            __m512d hi =
                _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
            s0 = _mm512_add_pd(s0, lo);
            s1 = _mm512_add_pd(s1, hi);
            q0 = _mm512_add_pd(q0, _mm512_mul_pd(lo, lo));
            q1 = _mm512_add_pd(q1, _mm512_mul_pd(hi, hi));
        }
        _mm512_mask_storeu_pd(sum + j, m0, s0);
        _mm512_mask_storeu_pd(sum + j + 8, m1, s1);
        _mm512_mask_storeu_pd(sumsq + j, m0, q0);
        _mm512_mask_storeu_pd(sumsq + j + 8, m1, q1);
    }
}

void assay__class_sums_avx512(const float *x, size_t ldx, size_t n, size_t d, const int32_t *labels,
                              size_t n_classes, double *sums, uint64_t *counts) {
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= n_classes) continue;
        const float *r = x + i * ldx;
        double *s = sums + (size_t)labels[i] * d;
        for (size_t j = 0; j < d; j += 8) {
            __mmask8 mk = lanes8(d - j);
            __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk, r + j));
            _mm512_mask_storeu_pd(s + j, mk, _mm512_add_pd(_mm512_maskz_loadu_pd(mk, s + j), v));
        }
        counts[labels[i]]++;
    }
}

void assay__label_agree_avx512(const int64_t *ids, size_t k, size_t n, const int32_t *labels,
                               uint32_t *out) {
    for (size_t i = 0; i < n; i++) {
        const int64_t *row = ids + i * k;
        __m256i own = _mm256_set1_epi32(labels[i]);
        uint32_t cnt = 0;
        for (size_t c = 0; c < k; c += 8) {
            __mmask8 valid = lanes8(k - c);
            __m512i id = _mm512_maskz_loadu_epi64(valid, row + c);
            __mmask8 use = _mm512_mask_cmpge_epi64_mask(valid, id, _mm512_setzero_si512());
            __m256i lab = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), use, id, labels, 4);
            cnt += (uint32_t)__builtin_popcount(_mm256_mask_cmpeq_epi32_mask(use, lab, own));
        }
        out[i] = cnt;
    }
}

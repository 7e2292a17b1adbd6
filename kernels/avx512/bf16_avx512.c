/* SPDX-License-Identifier: Apache-2.0 */
/* The bf16 tile for AVX-512 (F; no BF16 instruction needed, so every AVX-512 CPU runs it).
 *
 * The tile reproduces vdpbf16ps bit for bit with two float FMAs per pair, odd position first:
 * a bf16 product is exact in float, so fma(a, b, acc) is the instruction's one rounding of
 * acc + a*b, and MXCSR's flush-to-zero (set for the call, with round-to-nearest) is its
 * flushing of subnormal sums. This is twice the multiply rate of vdpbf16ps itself on Sapphire
 * Rapids, where one vdpbf16ps occupies both FMA ports for two cycles (32 products) while two
 * FMAs take one cycle.
 *
 * GEMM micro-kernel: 16 rows x one panel of 16 columns of float accumulators (measured faster
 * than 12 x 2 and 8 x 3 panels: it splits each packed group into odd and even lanes, an and and
 * a shift on the FMA ports, once per 32 FMAs). Each row's two values are broadcast from a float
 * copy of the rows, made per block of KQ pairs (bounded stack); between blocks the running sums
 * wait in t, so each sum's order is unchanged. */
#include <immintrin.h>
#include <string.h>

#include "avx512/avx512.h"

ASSAY_DECLARE_KERNELS(avx512_bf16);

/* Rows per block, and pairs per block of the rows' float copy (MR * 2 * KQ floats: 16 KiB; 256
 * pairs measured no faster). */
enum { MR = 16, KQ = 128 };

/* Lanes 0 .. r-1 (r <= 16). */
static inline __mmask16 lanes(size_t r) {
    return r >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << r) - 1u);
}

/* rows (a constant; mr of them real) x one panel (ncol real columns) over nq pairs: af holds
 * each row's 2*nq values as float (row r at af + r*2*KQ), bq the panel's first pair. Sums start
 * at 0 (first) or from t and end in t, times alpha when last. */
static inline __attribute__((always_inline)) void micro(const int rows, float *t, size_t ldt,
                                                        size_t mr, size_t ncol, const float *af,
                                                        const uint16_t *bq, size_t nq, int first,
                                                        int last, float alpha) {
    __mmask16 mk = lanes(ncol);
    __m512 acc[MR];
    for (int r = 0; r < rows; r++)
        acc[r] = first || (size_t)r >= mr ? _mm512_setzero_ps()
                                          : _mm512_maskz_loadu_ps(mk, t + (size_t)r * ldt);
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    for (size_t q = 0; q < nq; q++) {
        __m512i v = _mm512_loadu_si512(bq + q * 32);
        __m512 bo = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
        __m512 be = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
        for (int r = 0; r < rows; r++) {
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(af[r * 2 * KQ + 2 * q + 1]), bo, acc[r]);
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(af[r * 2 * KQ + 2 * q]), be, acc[r]);
        }
    }
    __m512 al = _mm512_set1_ps(alpha);
    for (int r = 0; r < rows && (size_t)r < mr; r++)
        _mm512_mask_storeu_ps(t + (size_t)r * ldt, mk, last ? _mm512_mul_ps(al, acc[r]) : acc[r]);
}

/* mr rows from a (stride lda), pairs q0 .. q0+nq-1, as float into af (row r at af + r*2*KQ);
 * rows mr .. rows-1 zero. */
static void rows_to_float(float *af, size_t rows, const uint16_t *a, size_t lda, size_t mr,
                          size_t q0, size_t nq) {
    for (size_t r = 0; r < rows; r++) {
        float *o = af + r * 2 * KQ;
        if (r >= mr) {
            memset(o, 0, 2 * nq * sizeof *o);
            continue;
        }
        const uint16_t *s = a + r * lda + 2 * q0;
        for (size_t p = 0; p < 2 * nq; p += 16) {
            __mmask16 mk = lanes(2 * nq - p);
            __m512i w =
                _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mk, s + p)), 16);
            _mm512_mask_storeu_ps(o + p, mk, _mm512_castsi512_ps(w));
        }
    }
}

/* One block of mr <= MR rows, on 16, 8 or 4 accumulators (the fewest that hold mr rows; the
 * rows past mr are zeros, not stored). */
static void row_block(float *t, size_t ldt, size_t mr, size_t n, size_t dp, const uint16_t *a,
                      size_t lda, const uint16_t *bp, float alpha, float *af) {
    size_t npairs = dp / 2, q0 = 0;
    do { /* at least once: dp = 0 still writes the zeros */
        size_t nq = npairs - q0 < KQ ? npairs - q0 : KQ;
        int first = q0 == 0, last = q0 + nq == npairs;
        rows_to_float(af, mr > 8 ? 16 : mr > 4 ? 8 : 4, a, lda, mr, q0, nq);
        for (size_t j = 0; j < n; j += 16) {
            size_t ncol = n - j < 16 ? n - j : 16;
            const uint16_t *bq = bp + j * dp + q0 * 32; /* panel j/16, pair q0 */
            if (mr > 8)
                micro(16, t + j, ldt, mr, ncol, af, bq, nq, first, last, alpha);
            else if (mr > 4)
                micro(8, t + j, ldt, mr, ncol, af, bq, nq, first, last, alpha);
            else
                micro(4, t + j, ldt, mr, ncol, af, bq, nq, first, last, alpha);
        }
        q0 += nq;
    } while (q0 < npairs);
}

__attribute__((noinline)) static void tile(float *t, size_t ldt, size_t m, size_t n, size_t dp,
                                           const uint16_t *a, size_t lda, const uint16_t *bp,
                                           float alpha) {
    float af[MR * 2 * KQ] __attribute__((aligned(64)));
    for (size_t i0 = 0; i0 < m; i0 += MR)
        row_block(t + i0 * ldt, ldt, m - i0 < MR ? m - i0 : MR, n, dp, a + i0 * lda, lda, bp, alpha,
                  af);
}

void assay__tile_bf16_avx512(float *t, size_t ldt, size_t m, size_t n, size_t dp, const uint16_t *a,
                             size_t lda, const uint16_t *bp, float alpha) {
    /* Flush-to-zero and round-to-nearest for the call only; the work is in a separate function
     * so no float operation is moved across the MXCSR writes. */
    unsigned csr = _mm_getcsr();
    _mm_setcsr((csr & ~0x6000u) | 0x8000u);
    tile(t, ldt, m, n, dp, a, lda, bp, alpha);
    _mm_setcsr(csr);
}

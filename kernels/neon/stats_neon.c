/* SPDX-License-Identifier: Apache-2.0 */
/* NEON kernels the detectors use. Requires ASIMD only (HWCAP_ASIMD). Floats are widened to
 * doubles two lanes at a time (vcvt_f64_f32 / vcvt_high_f64_f32) and every column is accumulated
 * in row order with separate multiply and add (this unit is built with -ffp-contract=off; x*x is
 * exact in double for a float x), exactly as the reference does: the results are bit-identical to
 * it. No reduction across lanes. Tails: the last odd column by the scalar reference kernel.
 * label_agree has no NEON version (the table entry is NULL, so the scalar one is used): NEON
 * has no gather, and the loop is bound by the random loads labels[ids[...]], which a vector
 * compare of k = 10 values would not speed up. */
#include <arm_neon.h>

#include "neon/neon.h"
#include "scalar/scalar.h"

/* Columns are processed in strips of 16 (one 64-byte line of floats) held in 16 registers of
 * doubles over all rows, so x is read once and sum/sumsq are loaded and stored once per strip. */
void assay__col_moments_neon(const float *x, size_t ldx, size_t n, size_t d, double *sum,
                             double *sumsq) {
    size_t j = 0;
    for (; j + 16 <= d; j += 16) {
        float64x2_t s[8], q[8];
        for (int k = 0; k < 8; k++) {
            s[k] = vld1q_f64(sum + j + 2 * k);
            q[k] = vld1q_f64(sumsq + j + 2 * k);
        }
        for (size_t i = 0; i < n; i++) {
            const float *r = x + i * ldx + j;
            for (int k = 0; k < 4; k++) {
                float32x4_t v = vld1q_f32(r + 4 * k);
                float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_high_f64_f32(v);
                s[2 * k] = vaddq_f64(s[2 * k], lo);
                s[2 * k + 1] = vaddq_f64(s[2 * k + 1], hi);
                q[2 * k] = vaddq_f64(q[2 * k], vmulq_f64(lo, lo));
                q[2 * k + 1] = vaddq_f64(q[2 * k + 1], vmulq_f64(hi, hi));
            }
        }
        for (int k = 0; k < 8; k++) {
            vst1q_f64(sum + j + 2 * k, s[k]);
            vst1q_f64(sumsq + j + 2 * k, q[k]);
        }
    }
    for (; j + 2 <= d; j += 2) {
        float64x2_t s = vld1q_f64(sum + j), q = vld1q_f64(sumsq + j);
        for (size_t i = 0; i < n; i++) {
            float64x2_t v = vcvt_f64_f32(vld1_f32(x + i * ldx + j));
            s = vaddq_f64(s, v);
            q = vaddq_f64(q, vmulq_f64(v, v));
        }
        vst1q_f64(sum + j, s);
        vst1q_f64(sumsq + j, q);
    }
    /* The last odd column: the reference itself (same order, same bits). */
    if (j < d) assay__col_moments_scalar(x + j, ldx, n, d - j, sum + j, sumsq + j);
}

void assay__class_sums_neon(const float *x, size_t ldx, size_t n, size_t d, const int32_t *labels,
                            size_t n_classes, double *sums, uint64_t *counts) {
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= n_classes) continue;
        const float *r = x + i * ldx;
        double *s = sums + (size_t)labels[i] * d;
        size_t j = 0;
        for (; j + 4 <= d; j += 4) {
            float32x4_t v = vld1q_f32(r + j);
            vst1q_f64(s + j, vaddq_f64(vld1q_f64(s + j), vcvt_f64_f32(vget_low_f32(v))));
            vst1q_f64(s + j + 2, vaddq_f64(vld1q_f64(s + j + 2), vcvt_high_f64_f32(v)));
        }
        for (; j < d; j++) s[j] += (double)r[j];
        counts[labels[i]]++;
    }
}

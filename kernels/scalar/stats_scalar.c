/* SPDX-License-Identifier: Apache-2.0 */
/* Scalar reference kernels the detectors use: column moments, per-class sums, label agreement
 * over neighbour lists. Accumulation is in double precision and in row order, which every ISA
 * keeps, so these results are bit-identical across ISAs. */
#include "scalar/scalar.h"

void assay__col_moments_scalar(const float *x, size_t ldx, size_t n, size_t d, double *sum,
                               double *sumsq) {
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        for (size_t j = 0; j < d; j++) {
            double v = (double)r[j];
            sum[j] += v;
            sumsq[j] += v * v;
        }
    }
}

void assay__class_sums_scalar(const float *x, size_t ldx, size_t n, size_t d, const int32_t *labels,
                              size_t n_classes, double *sums, uint64_t *counts) {
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= n_classes) continue;
        const float *r = x + i * ldx;
        double *s = sums + (size_t)labels[i] * d;
        for (size_t j = 0; j < d; j++) s[j] += (double)r[j];
        counts[labels[i]]++;
    }
}

void assay__label_agree_scalar(const int64_t *ids, size_t k, size_t n, const int32_t *labels,
                               uint32_t *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = 0;
        for (size_t j = 0; j < k; j++) {
            int64_t id = ids[i * k + j];
            c += id >= 0 && labels[id] == labels[i];
        }
        out[i] = c;
    }
}

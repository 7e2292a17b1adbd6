/* SPDX-License-Identifier: Apache-2.0 */
/* AVX2 + FMA kernels (x86-64 with AVX2, FMA and YMM state enabled by the OS). */
#ifndef ASSAY_KERNELS_AVX2_H
#define ASSAY_KERNELS_AVX2_H

#include "kernels.h"

void assay__norms_sq_avx2(const float *x, size_t ldx, size_t n, size_t d, float *out);
void assay__normalize_rows_avx2(float *x, size_t ldx, size_t n, size_t d);
void assay__tile_l2_avx2(float *t, size_t ldt, size_t m, size_t n, const float *qn, const float *bn,
                         const float *qpen, const float *bpen);
void assay__tile_cos_avx2(float *t, size_t ldt, size_t m, size_t n, const float *qinv,
                          const float *binv, const float *qpen, const float *bpen);
void assay__select_tile_avx2(const float *t, size_t ldt, size_t m, size_t n, int64_t j0,
                             assay_topk *rows, assay_topk *cols);
void assay__fused_tile_avx2(int cosine, const float *q, size_t ldq, const float *bt, size_t ldbt,
                            size_t m, size_t n, size_t d, const float *qa, const float *ba,
                            const float *qpen, const float *bpen, int64_t j0, assay_topk *rows,
                            assay_topk *cols);
void assay__col_moments_avx2(const float *x, size_t ldx, size_t n, size_t d, double *sum,
                             double *sumsq);
void assay__class_sums_avx2(const float *x, size_t ldx, size_t n, size_t d, const int32_t *labels,
                            size_t n_classes, double *sums, uint64_t *counts);
void assay__label_agree_avx2(const int64_t *ids, size_t k, size_t n, const int32_t *labels,
                             uint32_t *out);

#endif

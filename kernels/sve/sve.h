/* SPDX-License-Identifier: Apache-2.0 */
/* AArch64 SVE kernels, vector-length agnostic: CPUs with HWCAP_SVE. */
#ifndef ASSAY_KERNELS_SVE_H
#define ASSAY_KERNELS_SVE_H

#include "kernels.h"

void assay__norms_sq_sve(const float *x, size_t ldx, size_t n, size_t d, float *out);
void assay__normalize_rows_sve(float *x, size_t ldx, size_t n, size_t d);
void assay__tile_l2_sve(float *t, size_t ldt, size_t m, size_t n, const float *qn, const float *bn,
                        const float *qpen, const float *bpen);
void assay__tile_cos_sve(float *t, size_t ldt, size_t m, size_t n, const float *qinv,
                         const float *binv, const float *qpen, const float *bpen);
void assay__select_tile_sve(const float *t, size_t ldt, size_t m, size_t n, int64_t j0,
                            assay_topk *rows, assay_topk *cols);
void assay__fused_tile_sve(int cosine, const float *q, size_t ldq, const float *bt, size_t ldbt,
                           size_t m, size_t n, size_t d, const float *qa, const float *ba,
                           const float *qpen, const float *bpen, int64_t j0, assay_topk *rows,
                           assay_topk *cols);
void assay__col_moments_sve(const float *x, size_t ldx, size_t n, size_t d, double *sum,
                            double *sumsq);
void assay__class_sums_sve(const float *x, size_t ldx, size_t n, size_t d, const int32_t *labels,
                           size_t n_classes, double *sums, uint64_t *counts);
void assay__label_agree_sve(const int64_t *ids, size_t k, size_t n, const int32_t *labels,
                            uint32_t *out);

#endif

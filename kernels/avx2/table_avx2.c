/* SPDX-License-Identifier: Apache-2.0 */
/* The AVX2 + FMA table: every kernel optimised. */
#include "avx2/avx2.h"

const assay_kernels assay__kernels_avx2 = {
    .name = "avx2",
    .norms_sq = assay__norms_sq_avx2,
    .tile_l2 = assay__tile_l2_avx2,
    .tile_cos = assay__tile_cos_avx2,
    .select_tile = assay__select_tile_avx2,
    .fused_tile = assay__fused_tile_avx2,
};

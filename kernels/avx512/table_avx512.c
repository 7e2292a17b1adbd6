/* SPDX-License-Identifier: Apache-2.0 */
/* The AVX-512 table: every kernel optimised. */
#include "avx512/avx512.h"

const assay_kernels assay__kernels_avx512 = {
    .name = "avx512",
    .norms_sq = assay__norms_sq_avx512,
    .tile_l2 = assay__tile_l2_avx512,
    .tile_cos = assay__tile_cos_avx512,
    .select_tile = assay__select_tile_avx512,
    .fused_tile = assay__fused_tile_avx512,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* The NEON table: every kernel optimised. */
#include "neon/neon.h"

const assay_kernels assay__kernels_neon = {
    .name = "neon",
    .norms_sq = assay__norms_sq_neon,
    .tile_l2 = assay__tile_l2_neon,
    .tile_cos = assay__tile_cos_neon,
    .select_tile = assay__select_tile_neon,
    .fused_tile = assay__fused_tile_neon,
};

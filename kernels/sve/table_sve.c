/* SPDX-License-Identifier: Apache-2.0 */
/* The SVE table: every kernel optimised, vector-length agnostic. */
#include "sve/sve.h"

const assay_kernels assay__kernels_sve = {
    .name = "sve",
    .norms_sq = assay__norms_sq_sve,
    .tile_l2 = assay__tile_l2_sve,
    .tile_cos = assay__tile_cos_sve,
    .select_tile = assay__select_tile_sve,
    .fused_tile = assay__fused_tile_sve,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* The scalar table: every entry set. It is the specification and the base every optimised
 * table is laid over. */
#include "scalar/scalar.h"

const assay_kernels assay__kernels_scalar = {
    .name = "scalar",
    .norms_sq = assay__norms_sq_scalar,
    .tile_l2 = assay__tile_l2_scalar,
    .tile_cos = assay__tile_cos_scalar,
    .select_tile = assay__select_tile_scalar,
    .fused_tile = assay__fused_tile_scalar,
};

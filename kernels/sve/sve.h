/* SPDX-License-Identifier: Apache-2.0 */
/* AArch64 SVE kernels, vector-length agnostic: CPUs with HWCAP_SVE. */
#ifndef ASSAY_KERNELS_SVE_H
#define ASSAY_KERNELS_SVE_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(sve);

/* The kernels this ISA implements, X(op, arg) each: its table (table_sve.c) is generated from
 * this list. Kernels not listed are left to the scalar ones. */
#define ASSAY_SVE_KERNELS(X, arg)                                                                  \
    X(norms_sq, arg)                                                                               \
    X(tile_l2, arg)                                                                                \
    X(tile_cos, arg)                                                                               \
    X(select_tile, arg)                                                                            \
    X(fused_tile, arg)

#endif

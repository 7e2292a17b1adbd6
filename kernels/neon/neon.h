/* SPDX-License-Identifier: Apache-2.0 */
/* AArch64 Advanced SIMD (NEON) kernels: every AArch64 CPU (HWCAP_ASIMD). */
#ifndef ASSAY_KERNELS_NEON_H
#define ASSAY_KERNELS_NEON_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(neon);

/* The kernels this ISA implements, X(op, arg) each: its table (table_neon.c) is generated from
 * this list. Kernels not listed are left to the scalar ones. */
#define ASSAY_NEON_KERNELS(X, arg)                                                                 \
    X(norms_sq, arg)                                                                               \
    X(tile_l2, arg)                                                                                \
    X(tile_cos, arg)                                                                               \
    X(select_tile, arg)                                                                            \
    X(fused_tile, arg)

#endif

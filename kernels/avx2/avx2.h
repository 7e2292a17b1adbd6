/* SPDX-License-Identifier: Apache-2.0 */
/* AVX2 + FMA kernels (x86-64 with AVX2, FMA and YMM state enabled by the OS). */
#ifndef ASSAY_KERNELS_AVX2_H
#define ASSAY_KERNELS_AVX2_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(avx2);

/* The kernels this ISA implements, X(op, arg) each: its table (table_avx2.c) is generated from
 * this list. Kernels not listed are left to the scalar ones. */
#define ASSAY_AVX2_KERNELS(X, arg)                                                                 \
    X(norms_sq, arg)                                                                               \
    X(tile_l2, arg)                                                                                \
    X(tile_cos, arg)                                                                               \
    X(select_tile, arg)                                                                            \
    X(fused_tile, arg)                                                                             \
    X(tile_i8_pairsat, arg)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512 kernels (x86-64 with AVX-512 F and VL, ZMM state enabled by the OS). */
#ifndef ASSAY_KERNELS_AVX512_H
#define ASSAY_KERNELS_AVX512_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(avx512);

/* The kernels this ISA implements, X(op, arg) each: its table (table_avx512.c) is generated from
 * this list. Kernels not listed are left to the scalar ones. */
#define ASSAY_AVX512_KERNELS(X, arg)                                                               \
    X(norms_sq, arg)                                                                               \
    X(tile_l2, arg)                                                                                \
    X(tile_cos, arg)                                                                               \
    X(select_tile, arg)                                                                            \
    X(fused_tile, arg)                                                                             \
    X(tile_i8_pairsat, arg)                                                                        \
    X(tile_bf16, arg)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512 kernels (x86-64 with AVX-512 F and VL, ZMM state enabled by the OS). */
#ifndef ASSAY_KERNELS_AVX512_H
#define ASSAY_KERNELS_AVX512_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(avx512);

#endif

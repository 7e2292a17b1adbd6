/* SPDX-License-Identifier: Apache-2.0 */
/* AVX2 + FMA kernels (x86-64 with AVX2, FMA and YMM state enabled by the OS). */
#ifndef ASSAY_KERNELS_AVX2_H
#define ASSAY_KERNELS_AVX2_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(avx2);

#endif

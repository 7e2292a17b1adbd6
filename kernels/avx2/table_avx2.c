/* SPDX-License-Identifier: Apache-2.0 */
/* The AVX2 + FMA table, generated from the kernels avx2.h lists. */
#include "avx2/avx2.h"

const assay_kernels assay__kernels_avx2 = ASSAY_KERNEL_TABLE(avx2, ASSAY_AVX2_KERNELS);

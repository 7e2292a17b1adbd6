/* SPDX-License-Identifier: Apache-2.0 */
/* The AVX-512 table, generated from the kernels avx512.h lists. */
#include "avx512/avx512.h"

const assay_kernels assay__kernels_avx512 = ASSAY_KERNEL_TABLE(avx512, ASSAY_AVX512_KERNELS);

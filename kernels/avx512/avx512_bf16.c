/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512 BF16 kernels: the bf16 tile through vdpbf16ps (laid over the avx512 table when the CPU
 * has BF16). */
#include "avx512/avx512.h"

ASSAY_DECLARE_KERNELS(avx512_bf16);

const assay_kernels assay__kernels_avx512_bf16 = {.name = "avx512_bf16"};

/* SPDX-License-Identifier: Apache-2.0 */
/* AVX-512 VNNI kernels: the int8 tile through vpdpbusd (laid over the avx512 table when the CPU
 * has VNNI). */
#include "avx512/avx512.h"

ASSAY_DECLARE_KERNELS(avx512_vnni);

const assay_kernels assay__kernels_avx512_vnni = {.name = "avx512_vnni"};

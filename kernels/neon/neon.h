/* SPDX-License-Identifier: Apache-2.0 */
/* AArch64 Advanced SIMD (NEON) kernels: every AArch64 CPU (HWCAP_ASIMD). label_agree is not
 * implemented: the table leaves it to the scalar kernel (see stats_neon.c). */
#ifndef ASSAY_KERNELS_NEON_H
#define ASSAY_KERNELS_NEON_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(neon);

#endif

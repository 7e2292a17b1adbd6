/* SPDX-License-Identifier: Apache-2.0 */
/* AArch64 Advanced SIMD (NEON) kernels: every AArch64 CPU (HWCAP_ASIMD). */
#ifndef ASSAY_KERNELS_NEON_H
#define ASSAY_KERNELS_NEON_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(neon);

#endif

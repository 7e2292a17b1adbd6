/* SPDX-License-Identifier: Apache-2.0 */
/* The NEON table, generated from the kernels neon.h lists. */
#include "neon/neon.h"

const assay_kernels assay__kernels_neon = ASSAY_KERNEL_TABLE(neon, ASSAY_NEON_KERNELS);

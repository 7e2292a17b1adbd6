/* SPDX-License-Identifier: Apache-2.0 */
/* The SVE table, vector-length agnostic, generated from the kernels sve.h lists. */
#include "sve/sve.h"

const assay_kernels assay__kernels_sve = ASSAY_KERNEL_TABLE(sve, ASSAY_SVE_KERNELS);

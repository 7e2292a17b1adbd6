/* SPDX-License-Identifier: Apache-2.0 */
/* AArch64 SVE kernels, vector-length agnostic: CPUs with HWCAP_SVE. */
#ifndef ASSAY_KERNELS_SVE_H
#define ASSAY_KERNELS_SVE_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(sve);

#endif

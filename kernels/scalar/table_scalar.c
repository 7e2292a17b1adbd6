/* SPDX-License-Identifier: Apache-2.0 */
/* The scalar table: every entry set. It is the specification and the base every optimised
 * table is laid over. It is generated from ASSAY_KERNEL_LIST itself, not from a list of its own,
 * so it cannot miss a kernel: one without a scalar implementation fails to link. */
#include "scalar/scalar.h"

#define SCALAR_ENTRY(op, ret, params, isa) ASSAY__KERNEL_ENTRY(op, isa)
const assay_kernels assay__kernels_scalar = {.name = "scalar",
                                             ASSAY_KERNEL_LIST(SCALAR_ENTRY, scalar)};

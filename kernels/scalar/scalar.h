/* SPDX-License-Identifier: Apache-2.0 */
/* The scalar reference kernels (the specification), shared by the scalar table. */
#ifndef ASSAY_KERNELS_SCALAR_H
#define ASSAY_KERNELS_SCALAR_H

#include "kernels.h"

ASSAY_DECLARE_KERNELS(scalar);

#endif

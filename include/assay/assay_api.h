/* SPDX-License-Identifier: Apache-2.0 */
/* Symbol visibility: only functions marked ASSAY_API are exported from the shared library. */
#ifndef ASSAY_API_H
#define ASSAY_API_H

#if defined(__GNUC__) || defined(__clang__)
#define ASSAY_API __attribute__((visibility("default")))
#else
#define ASSAY_API
#endif

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Checks shared by the HDF5 readers (datasets and graph files), run before anything is read or
 * allocated for a dataset: its declared size must be consistent with the bytes the file really
 * holds, and its data must live in this file. */
#ifndef ASSAY_H5_CHECK_H
#define ASSAY_H5_CHECK_H

#include <hdf5.h>

#include "core/internal.h"

/* Dataset `dset` (called `name`, in file `file` named `path` in messages) declares `count`
 * elements of `elem` bytes each. Refuses (ASSAY_E_FORMAT, naming the dataset and the sizes):
 * contiguous data running past the end of the file or never written; compact data shorter than
 * declared; chunked data with chunks missing (a tiny file declaring millions of rows would read
 * as fill values), or unfiltered chunks holding fewer bytes than declared. Refuses
 * (ASSAY_E_UNSUPPORTED) data kept outside the file: external storage and virtual datasets.
 * Compares with the file, not with memory: a dataset larger than memory passes. */
assay_status assay__h5_check_storage(assay_ctx *ctx, const char *path, hid_t file, hid_t dset,
                                     const char *name, size_t count, size_t elem);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The HDF5 dataset reader's two ways in: read here (trusted input, fuzzing) or in the sandbox's
 * child (src/io/sandbox.h), which sends the arrays back (src/io/h5_transport.c). */
#ifndef ASSAY_H5_READ_H
#define ASSAY_H5_READ_H

#include "io/dataset_internal.h"
#include "io/sandbox.h"

/* Reads the HDF5 dataset at `path`, or the file image image[0..image_len) when image is not NULL
 * (`path` then only names it in messages), into the raw parts of `ds` in this process. `sb` is
 * the sandbox's child handle (the matrix goes to shared memory) or NULL. */
assay_status assay__h5_read(assay_ctx *ctx, assay_dataset *ds, const char *path, const void *image,
                            size_t image_len, const assay_load_opts *opts, assay__sandbox *sb);

/* assay__h5_read in the sandbox's child; the parent adopts the matrix (zero-copy) and copies the
 * columns. Same statuses, plus ASSAY_E_FORMAT for a crash or hang of the reader and
 * ASSAY_E_RESOURCE for a limit reached on a consistent file. */
assay_status assay__h5_load_sandboxed(assay_ctx *ctx, assay_dataset *ds, const char *path,
                                      const assay_load_opts *opts);

#endif

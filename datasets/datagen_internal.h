/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the assay_datagen sources (never used by the tools): error formatting and
 * output files that appear under their final name only once complete. */
#ifndef ASSAY_DATAGEN_INTERNAL_H
#define ASSAY_DATAGEN_INTERNAL_H

#include <stdio.h>

#include "datagen.h"

#define DATAGEN_TRY(expr)                                                                          \
    do {                                                                                           \
        assay_status datagen__s_ = (expr);                                                         \
        if (datagen__s_ != ASSAY_OK) return datagen__s_;                                           \
    } while (0)

/* size_t product; returns 1 on overflow. */
int datagen__mul_overflows(size_t a, size_t b, size_t *out);

/* An output written to a hidden temporary name in the destination folder, then synced and renamed
 * over `final_path`, so readers and killed runs never see a half-written file. */
typedef struct datagen__outfile {
    char final_path[4096];
    char tmp_path[4096];
    FILE *fp; /* NULL when the caller writes tmp_path itself (HDF5) */
} datagen__outfile;

/* Creates the temporary file (mode 0666 minus umask, like a plain fopen). With open_stream the
 * file is opened for fwrite in fp; otherwise it is created empty and closed. */
assay_status datagen__out_begin(datagen__outfile *f, const char *final_path, int open_stream,
                                datagen_error *err);
/* Flushes, syncs and closes, then renames into place. On failure the temporary is removed. */
assay_status datagen__out_commit(datagen__outfile *f, datagen_error *err);
/* Closes and removes the temporary (after a failure). Safe to call twice. */
void datagen__out_discard(datagen__outfile *f);

#endif

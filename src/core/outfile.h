/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic output files: written under a hidden temporary name in the target folder, synced, then
 * renamed into place, so a reader (or a killed run) never sees a half-written file. Used by every
 * writer of the project (reports, graph files, diff.json). */
#ifndef ASSAY_OUTFILE_H
#define ASSAY_OUTFILE_H

#include <limits.h>
#include <stdio.h>

#include "core/internal.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

typedef struct assay__outfile {
    char final_path[PATH_MAX];
    char tmp_path[PATH_MAX];
    FILE *fp;
} assay__outfile;

/* Creates a hidden temporary file next to dir/name. */
assay_status assay__out_open(assay_ctx *ctx, const char *dir, const char *name, assay__outfile *f);
/* Flushes, syncs and closes; reports write errors (disk full) naming the file. */
assay_status assay__out_close(assay_ctx *ctx, assay__outfile *f);
/* Renames the temporary file into place. */
assay_status assay__out_commit(assay_ctx *ctx, assay__outfile *f);
/* Closes (if open) and removes the temporary file. Safe to call twice. */
void assay__out_discard(assay__outfile *f);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Opening an input file the way every data parser must (docs/limits.md): regular files only, so
 * a FIFO, a device (/dev/zero) or a directory is refused at once instead of blocking or growing
 * without bound; standard input only where the caller allows it and the path is exactly "-"; and
 * the file-size limit checked before anything is read. */
#ifndef ASSAY_IO_INPUT_H
#define ASSAY_IO_INPUT_H

#include "core/internal.h"

typedef struct assay__input {
    int fd;
    int is_stdin; /* fd is 0, not ours to close */
    int is_regular;
    uint64_t size; /* bytes of a regular file (0 for a pipe on stdin) */
} assay__input;

/* 1 when `path` names standard input ("-"). */
int assay__is_stdin_path(const char *path);

/* Opens `path` for reading. `what` says what the file should be ("a CSV file"), for messages;
 * `allow_stdin` lets "-" mean standard input. Never blocks on a FIFO (opened non-blocking, then
 * refused). Returns ASSAY_OK, ASSAY_E_NOTFOUND, ASSAY_E_IO (unreadable, a directory, a FIFO or
 * device, "-" where stdin is not accepted) or ASSAY_E_LIMIT (larger than max_file_bytes). */
assay_status assay__input_open(assay_ctx *ctx, const char *path, const char *what, int allow_stdin,
                               assay__input *in);
void assay__input_close(assay__input *in);

/* ASSAY_E_LIMIT "PATH: file of N bytes exceeds --max-file-size (M)" when bytes > the limit
 * (streams check this as they read). */
assay_status assay__check_file_bytes(assay_ctx *ctx, const char *path, uint64_t bytes,
                                     int at_least);

#endif

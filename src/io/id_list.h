/* SPDX-License-Identifier: Apache-2.0 */
/* A list of row ids, one per line (--trusted-ids): parsed from a buffer, so the parser is tested
 * and fuzzed without files. Lines are trimmed of spaces, tabs and a trailing CR; empty lines and
 * lines starting with '#' are skipped; a NUL byte is an error naming the line, and an id longer
 * than ASSAY__ID_MAX or --max-label-bytes, a line longer than --max-line-bytes or more ids than
 * --max-rows is ASSAY_E_LIMIT naming the line. */
#ifndef ASSAY_ID_LIST_H
#define ASSAY_ID_LIST_H

#include "core/internal.h"

#define ASSAY__ID_MAX        4096
#define ASSAY__ID_LIST_BYTES ((size_t)256 << 20) /* read whole: a larger file is ASSAY_E_LIMIT */

typedef struct assay__id_list {
    char **id; /* n NUL-terminated ids, pointing into pool */
    size_t n;
    assay__strpool pool;
} assay__id_list;

/* Parses buf[0..len); `name` names the source in messages. ASSAY_E_FORMAT, ASSAY_E_LIMIT,
 * ASSAY_E_NOMEM. */
assay_status assay__id_list_parse(assay_ctx *ctx, const char *buf, size_t len, const char *name,
                                  assay__id_list *out);
/* Reads a regular file of at most ASSAY__ID_LIST_BYTES (and --max-file-size) and parses it.
 * ASSAY_E_NOTFOUND, ASSAY_E_IO (also a FIFO, device or directory), ASSAY_E_FORMAT,
 * ASSAY_E_LIMIT, ASSAY_E_NOMEM. */
assay_status assay__id_list_read(assay_ctx *ctx, const char *path, assay__id_list *out);
void assay__id_list_free(assay__id_list *l);

#endif

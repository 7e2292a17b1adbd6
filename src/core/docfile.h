/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the structured documents assay is given (policy and allowlist YAML, manifest.json,
 * report.json): whole files with a size cap, regular files only, and a nesting-depth check that
 * runs over the bytes before any parser builds a tree (a parser's own recursion or quadratic
 * work on `[[[[...` is never reached). */
#ifndef ASSAY_DOCFILE_H
#define ASSAY_DOCFILE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/internal.h"

/* Size caps of the document kinds (docs/fuzzing.md, "Document limits"); the context's
 * max_file_bytes applies as well when it is lower. */
#define ASSAY__POLICY_MAX_BYTES   ((uint64_t)32 << 20)  /* policy and allowlist files */
#define ASSAY__MANIFEST_MAX_BYTES ((uint64_t)2 << 30)   /* manifest.json (rows listed) */
#define ASSAY__REPORT_MAX_BYTES   ((uint64_t)512 << 20) /* report.json for `report render` */

/* Reads the regular file `path` into a NUL-terminated buffer (*buf, freed by the caller) of
 * *len bytes. ASSAY_E_NOTFOUND / ASSAY_E_IO (errno's text) when it cannot be read,
 * ASSAY_E_FORMAT for a folder, FIFO or device, ASSAY_E_LIMIT above `cap` bytes (or the
 * context's max_file_bytes). `what` names the document in messages ("policy file"). */
assay_status assay__doc_read(assay_ctx *ctx, const char *path, const char *what, uint64_t cap,
                             char **buf, size_t *len);

/* Refuses JSON text nested deeper than max_depth arrays and objects (brackets inside strings
 * are not counted): ASSAY_E_LIMIT "NAME: line L: nesting deeper than N (--max-depth)". Stops
 * at the first bracket too deep; linear in len. */
assay_status assay__json_depth_check(assay_ctx *ctx, const char *name, const char *text, size_t len,
                                     uint32_t max_depth);

/* Refuses a loaded JSON document holding a string longer than max_bytes: ASSAY_E_LIMIT
 * "NAME: /json/pointer: string of N bytes exceeds --max-field-bytes (M)". Iterative, so the
 * walk itself cannot exhaust the stack (the depth is bounded before parsing anyway). */
assay_status assay__json_check_strings(assay_ctx *ctx, const char *name, const json_t *doc,
                                       uint64_t max_bytes);

#endif

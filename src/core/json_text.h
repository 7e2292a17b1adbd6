/* SPDX-License-Identifier: Apache-2.0 */
/* JSON values from untrusted text and numbers, and writing a document, shared by every layer that
 * writes JSON (reports, manifests, diff.json, the policy's effective view). */
#ifndef ASSAY_JSON_TEXT_H
#define ASSAY_JSON_TEXT_H

#include <stdio.h>

#include <jansson.h>

#include "core/internal.h"

/* A JSON string from text that may not be valid UTF-8 (paths, labels and ids come from user
 * files): invalid bytes become U+FFFD instead of failing the whole document. Never NULL unless
 * out of memory. */
json_t *assay__json_str(const char *s);

/* A JSON number, or null for NaN and infinities (JSON has no such numbers). */
json_t *assay__json_num(double v);

/* An id or label kept as text, as its column's type: an integer column's values as JSON
 * integers, others (or NULL: null) as strings. */
json_t *assay__json_typed(const char *text, int is_int);

/* Dumps a JSON document to fp (indented by 2, or compact), ASCII only, reals with 7 significant
 * digits, and a final newline. ASSAY_E_NOMEM when doc is NULL (a failed build), ASSAY_E_IO on a
 * write error naming `path`. */
assay_status assay__dump_json(assay_ctx *ctx, const json_t *doc, FILE *fp, int indent,
                              const char *path);

/* The same into a new string (the caller frees it); a NULL doc is "null". ASSAY_E_NOMEM. */
assay_status assay__json_text(assay_ctx *ctx, const json_t *doc, int indent, char **out);

#endif

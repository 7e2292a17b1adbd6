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

/* A JSON number, or null for NaN and infinities (JSON has no such numbers: a report writes
 * null where a value is not finite, as it always has). */
json_t *assay__json_num(double v);

/* A float32 value as a JSON number written with the float's shortest text (0.1f as 0.1, not
 * 0.10000000149011612), or null when not finite. */
json_t *assay__json_float(float v);

/* A double that may carry a float32 value (evidence and thresholds taken from the detectors'
 * float32 scores): when it is exactly a float, written as assay__json_float (the float's text:
 * 0.9, not 0.8999999761581421, reading back to the same float), else as assay__json_num. A
 * double computed in double precision lands exactly on such a float only by a 1 in 2^29
 * chance, short values (0.5, 3) aside, which print the same either way. */
json_t *assay__json_num_f32(double v);

/* An id or label kept as text, as its column's type: an integer column's values as JSON
 * integers, others (or NULL: null) as strings. */
json_t *assay__json_typed(const char *text, int is_int);

/* json_dumps with every real written as its shortest round-trip text (core/numfmt.h): what
 * every JSON document the tool writes goes through. flags as json_dumps' (any
 * JSON_REAL_PRECISION is ignored). NULL when doc is NULL or out of memory; the caller frees. */
char *assay__json_dumps(const json_t *doc, size_t flags);

/* The same written to fp (no newline added): 0, or -1 on failure. */
int assay__json_dumpf(const json_t *doc, FILE *fp, size_t flags);
/* The same as the value of a member `indent` spaces deep inside an indented document: each line
 * break of its text is followed by `indent` more spaces. */
int assay__json_dumpf_at(const json_t *doc, FILE *fp, size_t flags, int indent);
/* Writes JSON text s[0, n) to fp with `indent` spaces after each line break (JSON strings hold
 * no raw line breaks, so every one is layout): 0, or -1 on a write error. */
int assay__put_indented(FILE *fp, const char *s, size_t n, int indent);

/* Dumps a JSON document to fp (indented by 2, or compact), ASCII only, reals as their shortest
 * round-trip text, and a final newline. ASSAY_E_NOMEM when doc is NULL (a failed build), ASSAY_E_IO
 * on a write error naming `path`. */
assay_status assay__dump_json(assay_ctx *ctx, const json_t *doc, FILE *fp, int indent,
                              const char *path);

/* The same into a new string (the caller frees it); a NULL doc is "null". ASSAY_E_NOMEM. */
assay_status assay__json_text(assay_ctx *ctx, const json_t *doc, int indent, char **out);

#endif

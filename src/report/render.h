/* SPDX-License-Identifier: Apache-2.0 */
/* Formats rendered from the report document. A scan builds report.json's document once from the
 * in-memory result; every other machine format (findings.jsonl, SARIF, JUnit, CycloneDX, HTML)
 * is rendered from that document alone, so `assay report render report.json` reproduces exactly
 * what the scan wrote, and no format can disagree with another. */
#ifndef ASSAY_REPORT_RENDER_H
#define ASSAY_REPORT_RENDER_H

#include <stdio.h>

#include <jansson.h>

#include "assay/assay_status.h"
#include "assay/assay_ctx.h"
#include "core/json_text.h"
#include "core/numfmt.h"

/* Writes one format of the report document `doc` to fp. `path` names the file in messages.
 * Returns ASSAY_OK, ASSAY_E_IO (write failed), ASSAY_E_NOMEM, or ASSAY_E_FORMAT when `doc`
 * lacks something the format needs (a report.json from another version: the message names the
 * missing key). */
typedef assay_status (*assay__doc_renderer)(assay_ctx *ctx, const json_t *doc, FILE *fp,
                                            const char *path);

typedef struct assay__doc_format {
    const char *file;   /* name in the report folder: "report.sarif" */
    const char *option; /* `assay report render --<option>`: "sarif" */
    assay__doc_renderer render;
} assay__doc_format;

/* The document formats, in the order a scan writes them (report.json itself is not listed: it
 * is written last, marking a complete set). */
extern const assay__doc_format assay__doc_formats[];
extern const size_t assay__doc_format_count;

/* ---- helpers the renderers share (doc_text.c) ---- */
/* Writes UTF-8 text s escaped for XML/HTML text (attribute = 0) or a double-quoted attribute
 * (1: quotes and line breaks as references): markup characters as entities, characters XML 1.0
 * forbids (C0 controls, U+FFFE, U+FFFF) dropped. Ids, labels and paths come from user files, so
 * they can never open a tag or end an attribute. NULL writes nothing. */
void assay__xml_put(FILE *fp, const char *s, int attribute);
/* o[key] as a string, "" when missing or not a string. */
const char *assay__doc_str(const json_t *o, const char *key);
/* A scalar (id, label) as text: strings as they are, numbers printed into buf, else "-". */
const char *assay__doc_scalar_text(const json_t *v, char *buf, size_t len);
/* Rank of a severity name (0 none .. 4 critical), -1 if unknown. */
int assay__doc_severity(const char *name);
/* report.json lists findings row by row: the end of the run of findings that share the
 * "index" of findings[first]. */
size_t assay__doc_row_end(const json_t *findings, size_t first);
/* Checks that o[key] exists with the given type; otherwise sets *s (if still ASSAY_OK) to
 * ASSAY_E_FORMAT naming the file, `where` in the report and the key. Returns *s == ASSAY_OK, so
 * a renderer can check many keys and report the first missing one. */
int assay__doc_need(assay_ctx *ctx, assay_status *s, const char *path, const json_t *o,
                    const char *where, const char *key, json_type type);

/* ---- reading a saved report.json (render_file.c, doc_check.c) ---- */
/* Parses report.json's text (`path` names it in messages): refuses nesting deeper than the
 * context's max_depth before parsing, then anything that is not an assay-report/1 document of
 * the schema's shape (ASSAY_E_FORMAT "PATH: /findings/3/id: expected a string"). A document
 * it accepts is safe for every renderer. */
assay_status assay__report_doc_load_buf(assay_ctx *ctx, const char *path, const char *text,
                                        size_t len, json_t **out);
/* The schema check alone (schemas/assay-report-1.schema.json, embedded). */
assay_status assay__report_doc_check(assay_ctx *ctx, const char *name, const json_t *doc);

/* ---- the renderers (one file each in src/report/) ---- */
assay_status assay__render_findings_jsonl(assay_ctx *ctx, const json_t *doc, FILE *fp,
                                          const char *path);
/* report.sarif (sarif.c): rows are aggregated into one result per rule when more than
 * ASSAY__SARIF_AGGREGATE_ABOVE rows are flagged; the _limited form takes that limit (tests). */
#define ASSAY__SARIF_AGGREGATE_ABOVE 5000
assay_status assay__render_sarif(assay_ctx *ctx, const json_t *doc, FILE *fp, const char *path);
assay_status assay__render_sarif_limited(assay_ctx *ctx, const json_t *doc, FILE *fp,
                                         const char *path, size_t aggregate_above);
/* junit.xml (junit.c) */
assay_status assay__render_junit(assay_ctx *ctx, const json_t *doc, FILE *fp, const char *path);
/* bom.cdx.json (cyclonedx.c) and report.html (html.c) */
assay_status assay__render_cyclonedx(assay_ctx *ctx, const json_t *doc, FILE *fp, const char *path);
assay_status assay__render_html(assay_ctx *ctx, const json_t *doc, FILE *fp, const char *path);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Formats rendered from the report document. A scan builds report.json's document once from the
 * in-memory result; every other machine format (findings.jsonl, SARIF, JUnit, CycloneDX, HTML)
 * is rendered from that document alone, so `assay report render report.json` reproduces exactly
 * what the scan wrote, and no format can disagree with another. */
#ifndef ASSAY_REPORT_RENDER_H
#define ASSAY_REPORT_RENDER_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "assay/assay_status.h"
#include "assay/assay_ctx.h"
#include "core/json_text.h"
#include "core/numfmt.h"

/* ---- the findings a renderer reads (findings.c) ----
 * report.json's "findings", one object per finding, row by row in rank order. A saved
 * report.json's are its parsed list. A scan's are spooled to an unnamed temporary file as their
 * report.json text: those in its first ASSAY__FINDINGS_PIN_BYTES stay parsed (shared, read-only,
 * by every reader), the others are parsed again when read, through each reader's window of
 * ASSAY__FINDINGS_WINDOW, so the memory of a scan's reports does not grow with the number of
 * findings, and renderers can run side by side, each with its own reader. */
enum { ASSAY__FINDINGS_WINDOW = 256 };
#define ASSAY__FINDINGS_PIN_BYTES ((size_t)8 << 20)
/* Tests only: the pinned text's size (ASSAY__FINDINGS_PIN_BYTES; 0 reads every finding back). */
extern size_t assay__findings_pin_bytes;

typedef struct assay__findings_spool {
    FILE *file;
    size_t n, cap;
    uint64_t *offset; /* n + 1 positions of the findings' text */
    size_t n_pinned;  /* findings [0, n_pinned) are kept parsed in pinned */
    json_t **pinned;
} assay__findings_spool;

/* Opens a spool in folder dir (NULL: the system's temporary folder); add every finding in order,
 * then done before reading. */
assay_status assay__findings_spool_open(assay_ctx *ctx, assay__findings_spool *sp, const char *dir);
assay_status assay__findings_spool_add(assay_ctx *ctx, assay__findings_spool *sp, const json_t *f);
assay_status assay__findings_spool_done(assay_ctx *ctx, assay__findings_spool *sp);
void assay__findings_spool_free(assay__findings_spool *sp);

/* A reader: one renderer's view of the findings (not shared between threads). */
typedef struct assay__findings {
    const json_t *array;                /* a saved report's list (borrowed), or NULL */
    const assay__findings_spool *spool; /* or a scan's spool (borrowed), or NULL: none */
    size_t n;
    json_t *window[ASSAY__FINDINGS_WINDOW];
    size_t window_at[ASSAY__FINDINGS_WINDOW];
    json_t *empty; /* what a failed read returns: an object without members */
    char *buf;
    size_t buf_cap;
    int err; /* errno of the first failed read (EILSEQ: text that does not parse) */
} assay__findings;

/* A reader of a parsed report.json's "findings" list (none when it has none). */
void assay__findings_of_doc(assay__findings *fs, const json_t *doc);
/* A reader of a finished spool. */
assay_status assay__findings_of_spool(assay_ctx *ctx, assay__findings *fs,
                                      const assay__findings_spool *sp);
void assay__findings_free(assay__findings *fs);
static inline size_t assay__findings_count(const assay__findings *fs) {
    return fs->n;
}
/* Finding i (borrowed). A finding of the window stays valid while fewer than
 * ASSAY__FINDINGS_WINDOW other indices are read, so one row's findings (one per detector at
 * most) can be held together. A failed read returns an empty object and is kept for
 * assay__findings_status, which a renderer checks before it returns. */
const json_t *assay__findings_at(assay__findings *fs, size_t i);
assay_status assay__findings_status(assay_ctx *ctx, const assay__findings *fs, const char *path);
#define assay__findings_foreach(fs, i, f)                                                          \
    for ((i) = 0; (i) < assay__findings_count(fs) && ((f) = assay__findings_at((fs), (i)), 1);     \
         (i)++)
/* report.json: doc written as assay__dump_json writes it indented, with its "findings" member
 * taken from fs (a spool's text is copied as it is). */
assay_status assay__dump_report(assay_ctx *ctx, const json_t *doc, assay__findings *fs, FILE *fp,
                                const char *path);

/* Writes one format of the report document `doc` to fp. `path` names the file in messages.
 * Returns ASSAY_OK, ASSAY_E_IO (write failed), ASSAY_E_NOMEM, or ASSAY_E_FORMAT when `doc`
 * lacks something the format needs (a report.json from another version: the message names the
 * missing key). */
typedef assay_status (*assay__doc_renderer)(assay_ctx *ctx, const json_t *doc, assay__findings *fs,
                                            FILE *fp, const char *path);

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
size_t assay__doc_row_end(assay__findings *fs, size_t first);
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
assay_status assay__render_findings_jsonl(assay_ctx *ctx, const json_t *doc, assay__findings *fs,
                                          FILE *fp, const char *path);
/* report.sarif (sarif.c): rows are aggregated into one result per rule when more than
 * ASSAY__SARIF_AGGREGATE_ABOVE rows are flagged; the _limited form takes that limit (tests). */
#define ASSAY__SARIF_AGGREGATE_ABOVE 5000
assay_status assay__render_sarif(assay_ctx *ctx, const json_t *doc, assay__findings *fs, FILE *fp,
                                 const char *path);
assay_status assay__render_sarif_limited(assay_ctx *ctx, const json_t *doc, assay__findings *fs,
                                         FILE *fp, const char *path, size_t aggregate_above);
/* junit.xml (junit.c) */
assay_status assay__render_junit(assay_ctx *ctx, const json_t *doc, assay__findings *fs, FILE *fp,
                                 const char *path);
/* bom.cdx.json (cyclonedx.c) and report.html (html.c) */
assay_status assay__render_cyclonedx(assay_ctx *ctx, const json_t *doc, assay__findings *fs,
                                     FILE *fp, const char *path);
assay_status assay__render_html(assay_ctx *ctx, const json_t *doc, assay__findings *fs, FILE *fp,
                                const char *path);

#endif

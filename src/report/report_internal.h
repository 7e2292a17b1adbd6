/* SPDX-License-Identifier: Apache-2.0 */
/* Report rendering: every format is produced from (dataset, result) alone. Files are written to
 * temporary names in the output folder and renamed into place together at the end. */
#ifndef ASSAY_REPORT_INTERNAL_H
#define ASSAY_REPORT_INTERNAL_H

#include <limits.h>
#include <stdio.h>

#include <jansson.h>

#include "scan/result_internal.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ---- atomic output files ---- */
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

/* ---- ETSI EN 304 223 table (src/report/etsi-en-304-223.json, embedded at build time) ---- */
/* Parses and checks the table (every referenced designator exists). New reference. */
assay_status assay__etsi_load(assay_ctx *ctx, json_t **out);
/* [{"id","cite","level","role","title"}...] for an evidence key: "label", "outlier",
 * "duplicate", "integrity", "manifest", "report", "gate". New reference (empty on unknown key). */
json_t *assay__etsi_refs(const json_t *etsi, const char *key);
/* The evidence key of a detector's findings. */
const char *assay__detector_kind(assay_detector det);

/* ---- text shared by the formats ---- */
/* Row r's label / id as text: a pointer into the dataset, or into buf for integers. */
const char *assay__label_text(const assay_dataset *ds, size_t r, char *buf, size_t len);
const char *assay__id_text(const assay_dataset *ds, size_t r, char *buf, size_t len);
/* Display name of class c ("Coat", or the label value), "?" for -1. */
const char *assay__class_text(const assay_dataset *ds, int32_t c);
/* One sentence a reviewer understands, e.g. "label 'Coat' is carried by 0 of its 10 nearest
 * neighbours; 9 of them are labelled 'Pullover'". */
void assay__explain(const assay_dataset *ds, const assay_result *res, const assay__finding *f,
                    char *buf, size_t len);
/* Writes a CSV field, quoted when it contains a comma, quote or line break (RFC 4180). */
void assay__csv_field(FILE *fp, const char *s);
/* JSON value of row r's label / id (integer or string; null id when there are no ids). */
json_t *assay__label_json(const assay_dataset *ds, size_t r);
json_t *assay__id_json(const assay_dataset *ds, size_t r);
/* A JSON string from text that may not be valid UTF-8 (paths, labels and ids come from user
 * files): invalid bytes become U+FFFD instead of failing the whole report. Never NULL unless
 * out of memory. */
json_t *assay__json_str(const char *s);
/* [{"role","path","bytes","sha256"}] of the input files. */
json_t *assay__files_json(const assay_dataset *ds);

/* ---- formats ---- */
assay_status assay__write_scores_csv(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_result *res, FILE *fp);
assay_status assay__write_flagged_csv(assay_ctx *ctx, const assay_dataset *ds,
                                      const assay_result *res, FILE *fp);
json_t *assay__manifest_json(const assay_dataset *ds, const assay_result *res,
                             const assay_report_opts *opts, const json_t *etsi);
json_t *assay__report_json(const assay_dataset *ds, const assay_result *res,
                           const assay_report_opts *opts, const json_t *etsi, const char *dir);
/* assay_report_write, also handing back report.json's document in *doc_out when not NULL (a
 * new reference; the CLI's --json-summary is built from it). */
assay_status assay__report_write_doc(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_result *res, const char *dir,
                                     const assay_report_opts *opts, json_t **doc_out);
/* Replaces *doc by the document report.json's text reads back as (numbers rounded as they are
 * written), so what is rendered from it is what `assay report render` renders from the file. */
assay_status assay__report_as_saved(assay_ctx *ctx, json_t **doc);
/* Dumps a JSON document to fp (indented or compact); ASSAY_E_IO on failure. */
assay_status assay__dump_json(assay_ctx *ctx, const json_t *doc, FILE *fp, int indent,
                              const char *path);

#endif

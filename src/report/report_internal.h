/* SPDX-License-Identifier: Apache-2.0 */
/* Report rendering: every format is produced from (dataset, result) alone. Files are written to
 * temporary names in the output folder and renamed into place together at the end. */
#ifndef ASSAY_REPORT_INTERNAL_H
#define ASSAY_REPORT_INTERNAL_H

#include <stdio.h>

#include <jansson.h>

#include "baseline/baseline.h"
#include "core/json_text.h"
#include "core/numfmt.h"
#include "core/outfile.h"
#include "decide/result.h"

/* ---- ETSI EN 304 223 table (src/report/etsi-en-304-223.json, embedded at build time) ---- */
/* Parses and checks the table (every referenced designator exists). New reference. */
assay_status assay__etsi_load(assay_ctx *ctx, json_t **out);
/* [{"id","cite","level","role","title"}...] for an evidence key: "label", "outlier",
 * "duplicate", "integrity", "manifest", "report", "gate". New reference (empty on unknown key). */
json_t *assay__etsi_refs(const json_t *etsi, const char *key);

/* ---- text shared by the formats ---- */
/* One sentence a reviewer understands about a finding: its detector's explanation. */
void assay__explain(const assay_dataset *ds, const assay_result *res, const assay__finding *f,
                    char *buf, size_t len);
/* A finding's "evidence" object: its detector's named fields. */
json_t *assay__evidence_json(const assay_dataset *ds, const assay_result *res,
                             const assay__finding *f);
/* Writes a CSV field, quoted when it contains a comma, quote or line break (RFC 4180). */
void assay__csv_field(FILE *fp, const char *s);
/* JSON value of row r's label / id (integer or string; null id when there are no ids). */
json_t *assay__label_json(const assay_dataset *ds, size_t r);
json_t *assay__id_json(const assay_dataset *ds, size_t r);
/* [{"role","path","bytes","sha256"}] of the input files. */
json_t *assay__files_json(const assay_dataset *ds);

/* ---- the baseline comparison (baseline_json.c) ---- */
/* The "baseline" block of report.json and diff.json; etsi may be NULL. NULL on out of memory. */
json_t *assay__baseline_json(const assay__baseline *b, const json_t *etsi);
/* The manifest's "class_statistics" object; NULL on out of memory. */
json_t *assay__bl_stats_json(const assay__bl_stats *st);

/* ---- formats ---- */
assay_status assay__write_scores_csv(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_result *res, FILE *fp);
assay_status assay__write_flagged_csv(assay_ctx *ctx, const assay_dataset *ds,
                                      const assay_result *res, FILE *fp);
json_t *assay__manifest_json(const assay_dataset *ds, const assay_result *res,
                             const assay_report_opts *opts, const json_t *etsi);
/* report.json's document with an empty "findings" list, whose members come from
 * assay__report_findings (report/render.h: assay__dump_report writes both as one file). */
json_t *assay__report_json(const assay_dataset *ds, const assay_result *res,
                           const assay_report_opts *opts, const json_t *etsi, const char *dir);
/* The findings of report.json, spooled into fs (open; done on return). */
struct assay__findings_spool;
assay_status assay__report_findings(assay_ctx *ctx, const assay_dataset *ds,
                                    const assay_result *res, const json_t *etsi,
                                    struct assay__findings_spool *sp);
/* The one-line summary of a run from a report document (report.json's, or any object with its
 * "gate", "summary" and "input" blocks): assay_report_opts.summary_json. report and out are
 * paths (NULL = null). A malloc'd string without a newline; NULL when out of memory. */
char *assay__summary_json(const json_t *doc, const char *report, const char *out);
/* Replaces *doc by the document report.json's text reads back as (numbers rounded as they are
 * written), so what is rendered from it is what `assay report render` renders from the file. */
assay_status assay__report_as_saved(assay_ctx *ctx, json_t **doc);

#endif

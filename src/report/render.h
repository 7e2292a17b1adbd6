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

/* ---- the renderers (one file each in src/report/) ---- */
assay_status assay__render_findings_jsonl(assay_ctx *ctx, const json_t *doc, FILE *fp,
                                          const char *path);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The table of formats rendered from the report document (render.h). */
#include "assay/assay_report.h"
#include "report/render.h"

const assay__doc_format assay__doc_formats[] = {
    {"findings.jsonl", "jsonl", assay__render_findings_jsonl},
    {"report.sarif", "sarif", assay__render_sarif},
    {"junit.xml", "junit", assay__render_junit},
    {"bom.cdx.json", "cyclonedx", assay__render_cyclonedx},
    {"report.html", "html", assay__render_html},
};
const size_t assay__doc_format_count = sizeof assay__doc_formats / sizeof assay__doc_formats[0];

size_t assay_report_format_count(void) {
    return assay__doc_format_count;
}

int assay_report_format_at(size_t i, const char **option, const char **file) {
    if (i >= assay__doc_format_count) return 0;
    if (option != NULL) *option = assay__doc_formats[i].option;
    if (file != NULL) *file = assay__doc_formats[i].file;
    return 1;
}

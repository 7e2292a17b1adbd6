/* SPDX-License-Identifier: Apache-2.0 */
/* The table of formats rendered from the report document (render.h). */
#include "report/render.h"

const assay__doc_format assay__doc_formats[] = {
    {"findings.jsonl", "jsonl", assay__render_findings_jsonl},
};
const size_t assay__doc_format_count = sizeof assay__doc_formats / sizeof assay__doc_formats[0];

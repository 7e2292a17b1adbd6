/* SPDX-License-Identifier: Apache-2.0 */
/* report.json as `assay report render` reads it (src/report/render_file.c, doc_check.c), then
 * every document format rendered from it into memory: the renderers are where a report with a
 * wrong-typed field once crashed (a number as a provision id, NULL into strcmp). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "report/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    assay_ctx *ctx = fuzz_ctx();
    json_t *doc = NULL;
    assay_status s = assay__report_doc_load_buf(ctx, "report.json", (const char *)d, n, &doc);
    expect_input_error(ctx, s);
    if (s != ASSAY_OK) return 0;
    for (size_t f = 0; f < assay__doc_format_count; f++) {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (mem == NULL) abort();
        assay__findings fs;
        assay__findings_of_doc(&fs, doc);
        s = assay__doc_formats[f].render(ctx, doc, &fs, mem, assay__doc_formats[f].file);
        fclose(mem);
        free(text);
        expect_input_error(ctx, s);
    }
    json_decref(doc);
    return 0;
}

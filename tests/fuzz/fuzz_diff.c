/* SPDX-License-Identifier: Apache-2.0 */
/* `assay diff` from two manifests in one buffer (split at the first NUL byte, or at the
 * middle when there is none): both read as in fuzz_manifest, compared (src/baseline/diff.c)
 * and the diff rendered as diff.json's baseline block. */
#include <stdint.h>
#include <string.h>

#include "baseline/baseline.h"
#include "fuzz_util.h"
#include "report/report_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    assay_ctx *ctx = fuzz_ctx();
    const uint8_t *nul = memchr(d, 0, n);
    size_t cut = nul ? (size_t)(nul - d) : n / 2;
    const uint8_t *second = nul ? nul + 1 : d + cut;
    size_t second_n = n - (size_t)(second - d);
    assay__baseline b;
    memset(&b, 0, sizeof b);
    assay_status s =
        assay__bl_side_read_buf(ctx, "old/manifest.json", (const char *)d, cut, &b.old_side);
    if (s == ASSAY_OK)
        s = assay__bl_side_read_buf(ctx, "new/manifest.json", (const char *)second, second_n,
                                    &b.new_side);
    if (s == ASSAY_OK) s = assay__bl_compare(ctx, &b.old_side, &b.new_side, &b.diff);
    expect_input_error(ctx, s);
    if (s == ASSAY_OK) {
        b.compared = 1;
        (void)assay__bl_largest_drift(&b.diff);
        json_t *j = assay__baseline_json(&b, NULL);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        free(text);
        json_decref(j);
    }
    assay__bl_side_free(&b.old_side);
    assay__bl_side_free(&b.new_side);
    assay__bl_diff_free(&b.diff);
    return 0;
}

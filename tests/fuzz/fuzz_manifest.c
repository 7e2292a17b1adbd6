/* SPDX-License-Identifier: Apache-2.0 */
/* A previous scan's manifest.json (--baseline, `assay diff`; src/baseline/side.c) from a
 * buffer: depth pre-scan, the key-by-key read and the consistency checks. */
#include <stdint.h>

#include "baseline/baseline.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    assay_ctx *ctx = fuzz_ctx();
    assay__bl_side side;
    assay_status s = assay__bl_side_read_buf(ctx, "manifest.json", (const char *)d, n, &side);
    expect_input_error(ctx, s);
    if (s == ASSAY_OK) assay__bl_side_free(&side);
    return 0;
}

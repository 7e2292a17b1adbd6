/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the .npy reader: header parser and both loaders (matrix, with and
 * without row padding, and label column, numbers or text) over a whole file held in memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/dataset_internal.h"
#include "io/npy_header.h"
#include "fuzz_util.h"

static void tune(assay_limits *l) {
    /* Small bounds, so the limit paths are reached from small inputs too. */
    l->max_rows = 4096;
    l->max_dims = 512;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    assay_ctx *ctx = fuzz_ctx_tuned(tune);
    assay__npy_header h;
    (void)assay__npy_parse_header(ctx, "fuzz.npy", data, size, &h);
    (void)assay__npy_header_total(data, size);

    for (int pad = 0; pad < 2; pad++) {
        float *x = NULL;
        size_t n = 0, d = 0, ld = 0;
        assay__npy_matrix_info info;
        if (assay__npy_load_matrix_buf(ctx, "fuzz.npy", data, size, pad, &x, &n, &d, &ld, &info) ==
            ASSAY_OK) {
            /* Every element the loader claims to have written must be readable. */
            volatile float sink = 0;
            for (size_t r = 0; r < n; r++) sink += x[r * ld + d - 1];
            (void)sink;
        }
        free(x);
    }
    assay__column col;
    memset(&col, 0, sizeof col);
    if (assay__npy_load_column_buf(ctx, "fuzz.npy", data, size, &col) == ASSAY_OK) {
        volatile uint64_t sink = 0; /* unsigned: the sum may wrap */
        for (size_t r = 0; r < col.n; r++)
            sink += col.type == ASSAY__COL_STR ? (uint64_t)strlen(col.s[r]) : (uint64_t)col.i[r];
        (void)sink;
    }
    assay__column_free(&col);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the id list (--trusted-ids) parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/id_list.h"
#include "fuzz_util.h"

static void tune(assay_limits *l) {
    /* Small bounds, so the limit paths are reached from small inputs too. */
    l->max_rows = 1000;
    l->max_line_bytes = 1024;
    l->max_label_bytes = 100;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    assay_ctx *ctx = fuzz_ctx_tuned(tune);
    assay__id_list l;
    if (assay__id_list_parse(ctx, (const char *)data, size, "fuzz.txt", &l) == ASSAY_OK) {
        /* every id is a non-empty, trimmed, NUL-terminated string */
        for (size_t i = 0; i < l.n; i++)
            if (l.id[i][0] == '\0' || strlen(l.id[i]) > 100) abort();
        assay__id_list_free(&l);
    }
    return 0;
}

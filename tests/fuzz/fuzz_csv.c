/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the CSV reader. The first byte picks the consumer and the options (a
 * labels/ids column, or the feature table with default, renamed or selected columns); the rest
 * is the file. A table that loads is also finished (class map, row checks, fingerprints). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/dataset_internal.h"
#include "fuzz_util.h"

static void tune(assay_limits *l) {
    /* Small bounds, so the limit paths are reached from small inputs too. */
    l->max_rows = 2000;
    l->max_dims = 64;
    l->max_field_bytes = 512;
    l->max_line_bytes = 2048;
    l->max_label_bytes = 64;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    assay_ctx *ctx = fuzz_ctx_tuned(tune);
    unsigned mode = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    if (mode & 1) {
        assay__column col;
        memset(&col, 0, sizeof col);
        (void)assay__csv_load_column_buf(ctx, "fuzz.csv", text, len, (mode & 2) ? "id" : "label",
                                         (mode & 4) != 0, &col);
        assay__column_free(&col);
        return 0;
    }
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    switch ((mode >> 1) & 3) {
    case 1:
        o.label_column = "y";
        o.id_column = "key";
        break;
    case 2:
        o.feature_columns = "a, b";
        break;
    case 3:
        o.labels_file = "labels.npy"; /* only its presence matters: no label column needed */
        break;
    default:
        break;
    }
    if (mode & 8) o.classes = "0,1,cat,dog";
    assay_dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL) return 0;
    ds->limits = *assay_ctx_limits(ctx);
    ds->path = strdup("fuzz.csv");
    ds->format = ASSAY_FORMAT_CSV;
    if (assay__csv_load_buf(ctx, ds, "fuzz.csv", text, len, &o) == ASSAY_OK &&
        o.labels_file == NULL)
        (void)assay__dataset_finish(ctx, ds, &o);
    assay_dataset_destroy(ds);
    return 0;
}

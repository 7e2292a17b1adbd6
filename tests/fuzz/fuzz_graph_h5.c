/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the graph-file reader (open, attributes, shapes, lists) in-process on the input as
 * an HDF5 file image. Inputs that crash libhdf5 1.10.8 itself are kept in crashes-libhdf5/. */
#include <stdint.h>
#include <string.h>

#include "io/graph_h5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    assay_ctx *ctx = NULL;
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = 1;
    if (assay_ctx_create(&ctx, &o) != ASSAY_OK) return 0;
    assay__graph_h5 *h = NULL;
    assay__graph_meta meta;
    assay__graph g;
    memset(&g, 0, sizeof g);
    if (assay__graph_h5_open_image(ctx, "fuzz-graph.h5", data, size, &h, &meta) == ASSAY_OK)
        assay__graph_h5_read(h, &g);
    assay__graph_free(&g);
    assay__graph_h5_close(h);
    assay_ctx_destroy(ctx);
    return 0;
}

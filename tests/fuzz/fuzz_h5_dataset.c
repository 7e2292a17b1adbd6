/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer: the HDF5 dataset reader in-process (libFuzzer sees no coverage through the
 * sandbox's child), on the input as an HDF5 file image (core driver, no temporary file). Inputs
 * that crash libhdf5 1.10.8 itself are kept in crashes-libhdf5/, not in the corpus. */
#include <stdint.h>
#include <stdlib.h>

#include "io/h5_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    assay_ctx *ctx = NULL;
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = 1;
    if (assay_ctx_create(&ctx, &o) != ASSAY_OK) return 0;
    assay_dataset *ds = calloc(1, sizeof *ds);
    if (ds != NULL) {
        assay_load_opts lo = ASSAY_LOAD_OPTS_INIT;
        assay__h5_read(ctx, ds, "fuzz.h5", data, size, &lo, NULL);
        assay_dataset_destroy(ds);
    }
    assay_ctx_destroy(ctx);
    return 0;
}

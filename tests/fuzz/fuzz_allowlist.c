/* SPDX-License-Identifier: Apache-2.0 */
/* The allowlist file reader (--allowlist FILE, src/decide/policy_yaml.c) from a buffer. */
#include <stdint.h>

#include "decide/policy_internal.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    assay_ctx *ctx = fuzz_ctx();
    assay__allow_entry *a = NULL;
    size_t count = 0;
    assay_status s = assay__allowlist_load_buf(ctx, "allow.yaml", (const char *)d, n, &a, &count);
    expect_input_error(ctx, s);
    if (s == ASSAY_OK) assay__allow_free(a, count);
    return 0;
}

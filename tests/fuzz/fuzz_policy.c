/* SPDX-License-Identifier: Apache-2.0 */
/* The policy file reader (YAML or JSON syntax, src/decide/policy_yaml.c) from a buffer: depth
 * pre-scan, tags, documents, the key walk and every value setter; then the effective policy
 * is rendered as JSON, as `assay policy show` does. */
#include <stdint.h>
#include <stdlib.h>

#include "decide/policy_internal.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    assay_ctx *ctx = fuzz_ctx();
    assay_policy *p = NULL;
    if (assay_policy_create(ctx, &p) != ASSAY_OK) return 0;
    assay_status s = assay__policy_load_buf(ctx, p, "policy.yaml", (const char *)d, n);
    expect_input_error(ctx, s);
    if (s == ASSAY_OK) {
        char *text = NULL;
        if (assay_policy_effective_json(ctx, p, 1, &text) == ASSAY_OK) free(text);
        char hex[65];
        (void)assay__policy_sha256(p, hex);
    }
    assay_policy_destroy(p);
    return 0;
}

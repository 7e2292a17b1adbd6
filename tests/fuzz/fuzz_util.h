/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the document harnesses (fuzz_policy, fuzz_allowlist, fuzz_manifest, fuzz_diff,
 * fuzz_report_json, fuzz_truth): one context per process, its message cleared per input. */
#ifndef ASSAY_FUZZ_UTIL_H
#define ASSAY_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static assay_ctx *fuzz_ctx(void) {
    static assay_ctx *ctx;
    if (ctx == NULL) {
        assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
        o.n_threads = 1;
        if (assay_ctx_create(&ctx, &o) != ASSAY_OK) abort();
    }
    ctx->errmsg[0] = '\0';
    return ctx;
}

/* Hostile text is an input error with a message, never an internal one. */
static void expect_input_error(const assay_ctx *ctx, assay_status s) {
    if (s == ASSAY_OK || s == ASSAY_E_NOMEM) return;
    if (!assay_status_is_input_error(s) || ctx->errmsg[0] == '\0') abort();
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the harnesses: one single-threaded context per process, its message cleared per
 * input, and the check that hostile bytes give an input error with a message. */
#ifndef ASSAY_FUZZ_UTIL_H
#define ASSAY_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* `tune` (may be NULL) adjusts the limits once, when the context is made: small bounds let
 * small inputs reach the limit paths. */
static inline assay_ctx *fuzz_ctx_tuned(void (*tune)(assay_limits *)) {
    static assay_ctx *ctx;
    if (ctx == NULL) {
        assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
        o.n_threads = 1;
        if (assay_ctx_create(&ctx, &o) != ASSAY_OK) abort();
        if (tune != NULL) {
            assay_limits l;
            assay_limits_default(&l);
            tune(&l);
            if (assay_ctx_set_limits(ctx, &l) != ASSAY_OK) abort();
        }
    }
    ctx->errmsg[0] = '\0';
    return ctx;
}

static inline assay_ctx *fuzz_ctx(void) {
    return fuzz_ctx_tuned(NULL);
}

/* Hostile text is an input error with a message, never an internal one. */
static inline void expect_input_error(const assay_ctx *ctx, assay_status s) {
    if (s == ASSAY_OK || s == ASSAY_E_NOMEM) return;
    if (!assay_status_is_input_error(s) || ctx->errmsg[0] == '\0') abort();
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Context lifecycle, error messages and progress reporting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/dispatch.h"

assay_status assay_ctx_create(assay_ctx **out, const assay_ctx_opts *opts) {
    if (out == NULL) return ASSAY_E_INVAL;
    *out = NULL;
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    if (opts != NULL) o = *opts;
    if (o.n_threads < 0) return ASSAY_E_INVAL;
    if ((int)o.precision < 0 || o.precision >= ASSAY_PRECISION_COUNT) return ASSAY_E_INVAL;
    /* Like ASSAY_ISA: the environment forces a candidate pass when the caller did not. */
    const char *env = getenv("ASSAY_PRECISION");
    if (o.precision == ASSAY_PRECISION_AUTO && env != NULL && env[0] != '\0' &&
        assay_precision_parse(env, &o.precision) != ASSAY_OK)
        return ASSAY_E_INVAL;
    const assay_kernels *k = NULL;
    assay_isa isa = o.isa;
    assay_status s = assay__dispatch_select(&isa, &k);
    if (s != ASSAY_OK) return s;
    assay_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return ASSAY_E_NOMEM;
    if (o.n_threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        o.n_threads = c > 0 ? (int)c : 1;
    }
    ctx->n_threads = o.n_threads;
    ctx->isa = isa;
    ctx->k = k;
    ctx->precision = o.precision;
    ctx->progress = o.progress;
    ctx->progress_user = o.progress_user;
    assay_limits_default(&ctx->limits);
    atomic_init(&ctx->cancel, 0);
    ctx->ranks.size = 1;
    if (pthread_mutex_init(&ctx->progress_lock, NULL) != 0) {
        free(ctx);
        return ASSAY_E_THREAD;
    }
    if (pthread_mutex_init(&ctx->errmsg_lock, NULL) != 0) {
        pthread_mutex_destroy(&ctx->progress_lock);
        free(ctx);
        return ASSAY_E_THREAD;
    }
    *out = ctx;
    return ASSAY_OK;
}

void assay_ctx_destroy(assay_ctx *ctx) {
    if (ctx == NULL) return;
    pthread_mutex_destroy(&ctx->progress_lock);
    pthread_mutex_destroy(&ctx->errmsg_lock);
    free(ctx->scratch_dir);
    free(ctx);
}

void assay_ctx_cancel(assay_ctx *ctx) {
    if (ctx != NULL) atomic_store(&ctx->cancel, 1);
}

int assay_ctx_cancel_reset(assay_ctx *ctx) {
    return ctx != NULL && atomic_exchange(&ctx->cancel, 0) != 0;
}

int assay_ctx_cancelled(const assay_ctx *ctx) {
    return assay__cancelled(ctx);
}

assay_status assay__check_cancel(assay_ctx *ctx) {
    if (!assay__cancelled(ctx)) return ASSAY_OK;
    return assay__fail(ctx, ASSAY_E_CANCELLED, "cancelled (assay_ctx_cancel)");
}

const char *assay_ctx_errmsg(const assay_ctx *ctx) {
    return ctx == NULL ? "" : ctx->errmsg;
}

assay_status assay_ctx_set_ranks(assay_ctx *ctx, const assay_ranks *ranks) {
    if (ctx == NULL) return ASSAY_E_INVAL;
    assay_ranks one = {0, 1, NULL, NULL, 0};
    if (ranks == NULL) ranks = &one;
    if (ranks->size < 1 || ranks->rank < 0 || ranks->rank >= ranks->size)
        return assay__fail(ctx, ASSAY_E_INVAL, "rank %d of %d is not a rank", ranks->rank,
                           ranks->size);
    if (ranks->size > 1 && ranks->alltoallv == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "%d ranks need an alltoallv", ranks->size);
    if (ranks->threads_after_graph < 0)
        return assay__fail(ctx, ASSAY_E_INVAL, "threads_after_graph %d is negative",
                           ranks->threads_after_graph);
    ctx->ranks = *ranks;
    return ASSAY_OK;
}

int assay_ctx_rank(const assay_ctx *ctx) {
    return ctx == NULL ? 0 : ctx->ranks.rank;
}

int assay_ctx_ranks(const assay_ctx *ctx) {
    return ctx == NULL ? 1 : ctx->ranks.size;
}

int assay_ctx_threads(const assay_ctx *ctx) {
    return ctx == NULL ? 0 : ctx->n_threads;
}

assay_isa assay_ctx_isa(const assay_ctx *ctx) {
    return ctx == NULL ? ASSAY_ISA_SCALAR : ctx->isa;
}

int assay_isa_built(assay_isa isa) {
    return assay__isa_built(isa);
}

const char *assay_cpu_features(void) {
    return assay__cpu_feature_names();
}

const char *assay_version(void) {
    return ASSAY_VERSION_STRING;
}

assay_status assay__fail(assay_ctx *ctx, assay_status s, const char *fmt, ...) {
    if (ctx != NULL) {
        va_list ap;
        va_start(ap, fmt);
        pthread_mutex_lock(&ctx->errmsg_lock);
        vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
        pthread_mutex_unlock(&ctx->errmsg_lock);
        va_end(ap);
    }
    return s;
}

void assay__errmsg_prefix(assay_ctx *ctx, const char *fmt, ...) {
    if (ctx == NULL) return;
    char prefix[ASSAY_ERRMSG_MAX], old[ASSAY_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&ctx->errmsg_lock);
    memcpy(old, ctx->errmsg, sizeof old);
    size_t lp = strlen(prefix);
    if (lp >= sizeof ctx->errmsg) lp = sizeof ctx->errmsg - 1;
    memcpy(ctx->errmsg, prefix, lp);
    size_t lo = strlen(old);
    if (lo > sizeof ctx->errmsg - 1 - lp) lo = sizeof ctx->errmsg - 1 - lp;
    memcpy(ctx->errmsg + lp, old, lo);
    ctx->errmsg[lp + lo] = '\0';
    pthread_mutex_unlock(&ctx->errmsg_lock);
}

void assay__progress(assay_ctx *ctx, const char *stage, uint64_t done, uint64_t total) {
    if (ctx == NULL || ctx->progress == NULL) return;
    pthread_mutex_lock(&ctx->progress_lock);
    ctx->progress(ctx->progress_user, stage, done, total);
    pthread_mutex_unlock(&ctx->progress_lock);
}

assay_precision assay_ctx_precision(const assay_ctx *ctx) {
    return ctx == NULL ? ASSAY_PRECISION_AUTO : ctx->precision;
}

static const char *const k_precision_names[ASSAY_PRECISION_COUNT] = {"auto", "fp32", "bf16",
                                                                     "int8"};

const char *assay_precision_name(assay_precision p) {
    return (int)p >= 0 && p < ASSAY_PRECISION_COUNT ? k_precision_names[p] : "unknown";
}

assay_status assay_precision_parse(const char *name, assay_precision *out) {
    for (int i = 0; name != NULL && i < ASSAY_PRECISION_COUNT; i++)
        if (strcmp(name, k_precision_names[i]) == 0) {
            if (out != NULL) *out = (assay_precision)i;
            return ASSAY_OK;
        }
    return ASSAY_E_INVAL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* A parallel-for over independent tasks. Threads are started per call: every caller hands out
 * tasks that take milliseconds or more, so start-up cost does not matter, and nothing stays
 * alive between calls. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/internal.h"

typedef struct pool_run {
    atomic_size_t next;
    size_t n_tasks;
    const assay_ctx *ctx; /* its cancellation flag stops the handing out of tasks */
    assay__task_fn fn;
    void *arg;
} pool_run;

typedef struct worker_arg {
    pool_run *run;
    int worker;
} worker_arg;

static void drain(pool_run *run, int worker) {
    for (;;) {
        size_t t = atomic_fetch_add(&run->next, 1);
        if (t >= run->n_tasks || assay__cancelled(run->ctx)) break;
        run->fn(run->arg, t, worker);
    }
}

static void *worker_main(void *p) {
    worker_arg *w = p;
    drain(w->run, w->worker);
    return NULL;
}

assay_status assay__parallel_for(assay_ctx *ctx, size_t n_tasks, int n_threads, assay__task_fn fn,
                                 void *arg) {
    if (n_tasks == 0) return ASSAY_OK;
    if (n_threads < 1) n_threads = 1;
    if ((size_t)n_threads > n_tasks) n_threads = (int)n_tasks;
    pool_run run;
    atomic_init(&run.next, 0);
    run.n_tasks = n_tasks;
    run.ctx = ctx;
    run.fn = fn;
    run.arg = arg;
    if (n_threads == 1) {
        drain(&run, 0);
        return assay__check_cancel(ctx);
    }
    pthread_t *tid = calloc((size_t)n_threads, sizeof *tid);
    worker_arg *wa = calloc((size_t)n_threads, sizeof *wa);
    if (tid == NULL || wa == NULL) {
        free(tid);
        free(wa);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory starting %d threads", n_threads);
    }
    int started = 0;
    for (int w = 1; w < n_threads; w++) {
        wa[w].run = &run;
        wa[w].worker = w;
        if (pthread_create(&tid[w], NULL, worker_main, &wa[w]) != 0) break;
        started = w;
    }
    /* The caller works too; if some threads failed to start, the rest simply take more tasks. */
    drain(&run, 0);
    for (int w = 1; w <= started; w++) pthread_join(tid[w], NULL);
    free(tid);
    free(wa);
    return assay__check_cancel(ctx);
}

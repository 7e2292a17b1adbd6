/* SPDX-License-Identifier: Apache-2.0 */
/* The per-class driver (detect/per_class.h). */
#include <stdlib.h>

#include "detect/per_class.h"

typedef struct pc_run {
    const assay__per_class *pc;
    void *job;
    const size_t *rows, *start;
    assay_status *status; /* per class */
} pc_run;

static void class_task(void *arg, size_t c, int worker) {
    pc_run *r = arg;
    const size_t *rows = r->rows + r->start[c];
    r->status[c] = r->pc->task(r->job, c, worker, rows, r->start[c + 1] - r->start[c]);
}

static assay_status class_failed(const assay__det_input *in, const assay__per_class *pc, size_t c,
                                 assay_status s) {
    return assay__fail(in->ctx, s, "%s: class '%s': %s", pc->det, in->ds->class_name[c],
                       s == ASSAY_E_NOMEM  ? "out of memory"
                       : s == ASSAY_E_BLAS ? "LAPACK failed"
                                           : assay_status_str(s));
}

assay_status assay__per_class_run(const assay__det_input *in, const size_t *rows,
                                  const size_t *start, const assay__per_class *pc, void *job) {
    const size_t nc = in->ds->n_classes;
    if (!pc->parallel) {
        /* BLAS single-threaded here too: OpenBLAS's ssyrk and strsm give last digits that
         * depend on its own thread count (20 of 60,000 mahalanobis scores changed between
         * OPENBLAS_NUM_THREADS=1 and 2 on Fashion-MNIST), and that count is the machine's. */
        assay__blas_single_begin();
        assay_status s = ASSAY_OK;
        size_t c = 0;
        for (; c < nc && s == ASSAY_OK; c++)
            s = pc->task(job, c, 0, rows + start[c], start[c + 1] - start[c]);
        assay__blas_single_end();
        return s == ASSAY_OK ? ASSAY_OK : class_failed(in, pc, c - 1, s);
    }
    pc_run r = {pc, job, rows, start, calloc(nc ? nc : 1, sizeof(assay_status))};
    if (r.status == NULL) return assay__fail(in->ctx, ASSAY_E_NOMEM, "%s: out of memory", pc->det);
    int workers = in->ctx->n_threads;
    if (pc->max_workers > 0 && (size_t)workers > pc->max_workers) workers = (int)pc->max_workers;
    assay__blas_single_begin();
    assay_status s = assay__parallel_for(in->ctx, nc, workers, class_task, &r);
    assay__blas_single_end();
    for (size_t c = 0; s == ASSAY_OK && c < nc; c++)
        if (r.status[c] != ASSAY_OK) s = class_failed(in, pc, c, r.status[c]);
    free(r.status);
    return s;
}

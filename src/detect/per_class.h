/* SPDX-License-Identifier: Apache-2.0 */
/* The per-class driver shared by the detectors that model each class on its own (spectral,
 * spectre, cluster, mahalanobis): it hands out the classes, keeps BLAS single-threaded (classes
 * side by side on the context's threads, or one after another), and turns a class's failure into
 * one message naming the detector and the class. The detector keeps what is its own: the model of a
 * class (the task) and the tests and findings it derives from all classes afterwards. */
#ifndef ASSAY_PER_CLASS_H
#define ASSAY_PER_CLASS_H

#include "detect/detector.h"

typedef struct assay__per_class {
    const char *det; /* the detector's name, for messages */
    /* 1: the classes are independent tasks on the context's threads; 0: the classes run in
     * class order on the calling thread (for tasks that share scratch buffers). Either way BLAS
     * runs single-threaded (its own thread count changes OpenBLAS's last digits), so the
     * results are the same for every --threads and OPENBLAS_NUM_THREADS. */
    int parallel;
    /* With parallel: at most this many classes at once (0: the context's threads), for tasks
     * whose per-worker scratch is large. */
    size_t max_workers;
    /* The work of class c, whose rows (in the graph, label declared) are rows[0..n), on worker
     * `worker` (0 <= worker < the workers: the index of its scratch; 0 when not parallel). It may
     * only write what belongs to class c. Returns ASSAY_OK, ASSAY_E_NOMEM or ASSAY_E_BLAS. */
    assay_status (*task)(void *job, size_t c, int worker, const size_t *rows, size_t n);
} assay__per_class;

/* Runs pc->task for every class c (rows rows[start[c] .. start[c + 1]), as assay__class_rows
 * gives them). On a failure the message names the detector and the first failing class. */
assay_status assay__per_class_run(const assay__det_input *in, const size_t *rows,
                                  const size_t *start, const assay__per_class *pc, void *job);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour lists: what the graph builder produces (src/graph/), graph files store (src/io/) and
 * the detectors read. Only the data type lives here, below every layer that shares it. */
#ifndef ASSAY_NEIGHBOURS_H
#define ASSAY_NEIGHBOURS_H

#include "core/internal.h"

/* What --graph-method approx did (src/graph/knn_approx.c): the inverted file's lists and
 * probes, the pilot's estimate of recall@k and the recall measured on a disjoint sample. */
typedef enum assay__approx_fallback {
    ASSAY__APPROX_NONE = 0,
    ASSAY__APPROX_FEW_ROWS, /* too few rows for the approximation to save time */
    ASSAY__APPROX_PROBES,   /* the target recall needs more probes than pay off */
    ASSAY__APPROX_RANGE     /* rows so large that float32 distances overflow */
} assay__approx_fallback;

typedef struct assay__approx_info {
    int requested, used; /* approx asked for; the approximate graph built (else the exact one) */
    int fallback;        /* assay__approx_fallback: why the exact graph was built instead */
    uint32_t lists, probes, max_probes, pilot_rows, sample_rows;
    size_t short_rows; /* rows whose probed lists held fewer than k rows (searched exhaustively) */
    double target, pilot_recall, recall, rows_exact; /* rows_exact: share of sample rows whose
                                                         list equals the exact one */
    double t_train, t_recall;
} assay__approx_info;

/* From this many rows in the graph the summary suggests --graph-method approx (bench/RESULTS.md,
 * "Approximate graph"). */
#define ASSAY_APPROX_SUGGEST_ROWS 500000

/* Neighbour lists, nearest first, ties by lower index. Rows out of the graph have ids -1 and
 * distances NaN; every other row has k real neighbours (never itself). */
typedef struct assay__graph {
    size_t n, k;
    assay_metric metric;
    int64_t *ids; /* n * k */
    float *dist;  /* n * k; final distances recomputed in double precision */
    /* How the exact ranking was established (for the report and the benchmark): rows whose
     * float32 candidates were certified directly, rows that needed the radius pass, and rows
     * that needed an exhaustive exact search. */
    size_t n_certified, n_radius, n_exhaustive;
    /* The candidate pass that ran (FP32, BF16 or INT8; AUTO for a graph read from a file) and
     * the kernel table it ran on ("avx512", ...; NULL when read from a file). */
    assay_precision precision, requested; /* requested: the context's (AUTO unless forced) */
    /* AUTO's pilots, in the order tried: pass, rows sampled, rows certified. */
    struct {
        assay_precision precision;
        uint32_t rows, certified;
    } pilot[3];
    int n_pilot;
    double t_candidates, t_rerank, t_radius; /* seconds: the candidate pass, the whole re-rank,
                                                 and the radius pass within it (benchmarks) */
    const char *kernels;
    assay__approx_info approx;
} assay__graph;

void assay__graph_free(assay__graph *g);

/* The rows of shard `index` of `count` over n rows (assay scan --shard): [begin, end), the
 * floor of index * n / count to that of the next one, so shards differ by at most one row. */
static inline void assay__shard_rows(size_t index, size_t count, size_t n, size_t *begin,
                                     size_t *end) {
    *begin = (size_t)((unsigned __int128)index * n / count);
    *end = (size_t)((unsigned __int128)(index + 1) * n / count);
}

#endif

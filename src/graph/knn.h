/* SPDX-License-Identifier: Apache-2.0 */
/* The exact k-nearest-neighbour graph of a dataset with itself, built as independent tasks over
 * pairs of row blocks (so the blocks can later be spread over processes). */
#ifndef ASSAY_KNN_H
#define ASSAY_KNN_H

#include "core/neighbours.h"

typedef enum assay__knn_path {
    ASSAY__KNN_PATH_AUTO = 0, /* fused kernel for small d, GEMM tiles above (benchmarked) */
    ASSAY__KNN_PATH_GEMM,
    ASSAY__KNN_PATH_FUSED
} assay__knn_path;

/* Tuning (tests and benchmarks): rows per block (each pair of blocks is one task), database rows
 * per GEMM tile in the re-ranking pass, the distance path, and the size from which AUTO tries a
 * reduced-precision pass. 0 = default. */
typedef struct assay__knn_tiles {
    size_t query_rows;
    size_t base_rows;
    assay__knn_path path;
    size_t lowp_min_rows; /* AUTO tries reduced precision from this many rows (0 = default) */
} assay__knn_tiles;

/* Builds the graph of the n rows of x (row stride ld >= d floats). in_graph[i] != 0 marks rows
 * that take part; the others are neither queried nor returned. Requires more than k rows in the
 * graph (ASSAY_E_INVAL otherwise). The result does not depend on the thread count: tiles are
 * fixed, each GEMM call is single-threaded, and selection is a strict total order. */
assay_status assay__knn_build(assay_ctx *ctx, const float *x, size_t n, size_t d, size_t ld,
                              const uint8_t *in_graph, size_t k, assay_metric metric,
                              const assay__knn_tiles *tiles, assay__graph *out);

/* assay__knn_build for the lists of rows [row0, row1) only (a shard, assay scan --shard): every
 * row in the graph is still a candidate neighbour, and those lists are the ones assay__knn_build
 * gives. The other rows of *out have ids -1 and distances NaN; out->n_certified and the other
 * counts are of the built rows. Tiles touching no row of the range are skipped. */
assay_status assay__knn_build_rows(assay_ctx *ctx, const float *x, size_t n, size_t d, size_t ld,
                                   const uint8_t *in_graph, size_t k, assay_metric metric,
                                   size_t row0, size_t row1, const assay__knn_tiles *tiles,
                                   assay__graph *out);

/* The approximate graph (--graph-method approx, knn_approx.c): an inverted file whose probe
 * count is chosen so that a pilot sample reaches recall@k `target`, candidates re-ranked in
 * double precision, recall measured on a disjoint sample (out->approx). Builds the exact graph
 * instead, and says why in out->approx.fallback, where the approximation would not pay. Same
 * answer for any thread count. */
assay_status assay__knn_build_approx(assay_ctx *ctx, const float *x, size_t n, size_t d, size_t ld,
                                     const uint8_t *in_graph, size_t k, assay_metric metric,
                                     double target, assay__graph *out);

/* The exact distance (double precision) between two rows, in the metric's definition. */
double assay__distance_exact(const float *a, const float *b, size_t d, assay_metric metric);

#endif

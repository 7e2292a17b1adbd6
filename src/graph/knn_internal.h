/* SPDX-License-Identifier: Apache-2.0 */
/* Shared state of one graph build: the candidate pass (knn.c) and the exact re-ranking
 * (knn_rerank.c). */
#ifndef ASSAY_KNN_INTERNAL_H
#define ASSAY_KNN_INTERNAL_H

#include "graph/knn.h"

typedef struct knn_build {
    assay_ctx *ctx;
    const assay_kernels *K;
    const float *x;
    size_t n, d, ld, k;
    assay_metric metric;
    const uint8_t *in_graph;
    const float *rowa; /* l2: squared norms; cosine: reciprocal norms (0 for zero rows) */
    const float *pen;  /* 0 for rows in the graph, +inf for the others */
    double max_norm;   /* largest row norm in the graph (bounds the GEMM error) */
    assay_topk heaps;  /* n rows of kk candidates, base 0 */
    size_t base_rows;  /* database rows per GEMM tile in the re-ranking pass */
    int workers;
} knn_build;

/* Bound on |float distance - exact distance| for any pair involving row q, for distances
 * computed as the kernels do (float dot products of any summation order, float norms). */
double assay__knn_error_bound(const knn_build *b, size_t q);

/* Turns the candidate heaps into the exact graph: exact distances of the candidates that can
 * matter, a certificate that no other row can rank in the top k, and for the rows without one
 * a radius pass over all rows (and, if that is not enough, an exhaustive exact search). */
assay_status assay__knn_rerank(knn_build *b, assay__graph *out);

#endif

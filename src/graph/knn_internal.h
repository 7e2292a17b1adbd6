/* SPDX-License-Identifier: Apache-2.0 */
/* Shared state of one graph build: the candidate pass (knn.c) and the exact re-ranking
 * (knn_rerank.c). */
#ifndef ASSAY_KNN_INTERNAL_H
#define ASSAY_KNN_INTERNAL_H

#include "graph/knn.h"

/* The reduced-precision copy of the rows the candidate pass reads (knn_lowp.c), and what the
 * error bound needs of it. Rows are x = xh + e with xh the value the codes stand for: for int8
 * xh = scale * code (per-row scale), for bf16 the rounded values. Norms are in double. */
typedef struct knn_lowp {
    assay_precision prec; /* FP32: not used */
    int qmax;             /* int8: codes within +-qmax (127 for vpdpbusd, 63 for vpmaddubsw) */
    size_t dp;            /* positions per row, padded with zeros (int8: to 4, bf16: to 2) */
    void (*tile_i8)(float *, size_t, size_t, size_t, size_t, const int8_t *, size_t,
                    const uint8_t *, const int32_t *, const float *, const float *);
    int8_t *codes;   /* int8: n x dp codes */
    uint8_t *upanel; /* int8: codes + 128 in panels (assay__pack_u8_panels) */
    int32_t *asum;   /* int8: 128 * sum of each row's codes */
    float *scale;    /* int8: per-row scale */
    float *ascale;   /* int8: alpha * scale (alpha = -2 for l2, 1 for cosine) */
    uint16_t *h;     /* bf16: n x dp values */
    uint16_t *hpanel;
    double *err;   /* |e| per row */
    double *hnorm; /* |xh| per row */
    /* The per-pair term T(i, j) = cA + cB_i vB_j + cC_i vC_j + cD_i vD_j + cE_i vE_j, a bound on
     * |candidate distance - exact distance| beyond the float32 finish's (see knn_lowp.c),
     * symmetric in i and j; the tiles hold lower bounds, the distance minus T. */
    float cA, *coef; /* coef: 8 arrays of n, rows' cB cC cD cE, then columns' vB vC vD vE */
    double max_rho;  /* largest |e|/|x| over rows in the graph (scales the float32 finish bound) */
    double acc_rel; /* the tile's arithmetic: |computed - <xh, yh>| <= acc_rel |xh||yh| + acc_abs */
    double acc_abs;
} knn_lowp;

typedef struct knn_build {
    assay_ctx *ctx;
    const assay_kernels *K;
    const float *x;
    size_t n, d, ld, k;
    size_t q0, q1; /* the rows whose lists are built (a shard); every row in the graph is a
                      candidate neighbour */
    assay_metric metric;
    const uint8_t *in_graph;
    const float *rowa; /* l2: squared norms; cosine: reciprocal norms (0 for zero rows) */
    const float *pen;  /* 0 for rows in the graph, +inf for the others */
    double max_norm;   /* largest row norm in the graph (bounds the GEMM error) */
    assay_topk heaps;  /* n rows of kk candidates, base 0 */
    size_t base_rows;  /* database rows per GEMM tile in the re-ranking pass */
    int workers;
    int pair_rank, pair_ranks; /* the candidate pass runs the pairs whose index modulo pair_ranks
                                  is pair_rank (ranks, knn_ranks.c; 0 and 1 otherwise) */
    knn_lowp lowp;             /* the candidate pass's reduced-precision rows, when it has them */
} knn_build;

/* A build's fixed inputs, everything else zero (float32 candidates). */
void assay__knn_build_init(knn_build *b, assay_ctx *ctx, const float *x, size_t n, size_t d,
                           size_t ld, const uint8_t *in_graph, size_t k, assay_metric metric);

/* Bound on |float distance - exact distance| for any pair involving row q, for distances
 * computed as the float32 kernels do (float dot products of any summation order, float norms):
 * the radius pass's distances. */
double assay__knn_error_bound(const knn_build *b, size_t q);

/* The same for the candidate pass's distances beyond the per-pair term: the float32 bound, scaled
 * after a reduced-precision pass by how much larger quantised rows can be (knn_lowp.c). */
double assay__knn_lowp_finish_bound(const knn_build *b, size_t q);

/* After a reduced-precision pass: T(q, y), the per-pair term the candidate tiles subtracted (so
 * a candidate's exact distance lies within [lower - E, lower + 2 T + E], E the bound above). */
double assay__knn_lowp_term(const knn_build *b, size_t q, size_t y);

/* Sorts n (distance, id) pairs by distance, then id (short lists). */
void assay__knn_sort_pairs(double *dd, int64_t *ii, size_t n);

/* ed[t] = the exact distance from row `row` to row ids[t] of b->x, for t < cnt. */
void assay__knn_exact_many(const knn_build *b, size_t row, const int64_t *ids, size_t cnt,
                           double *ed);

/* Rows up to this wide get the fused float32 kernel (knn.c): AUTO keeps them in float32. */
#define ASSAY__KNN_FUSED_MAX_D 256

/* A candidate pass: its arithmetic, and for int8 whether it runs on vpmaddubsw (codes +-63). */
typedef struct knn_option {
    assay_precision prec;
    int pairsat;
} knn_option;

/* The passes AUTO tries on table K for rows of d values, fastest first (out holds 3): int8 on
 * native VNNI; bf16 on its native tile when OpenBLAS runs its generic kernels here (with a good
 * sgemm, an FMA-emulated bf16 tile is no faster than float32); int8 on vpmaddubsw. Each must
 * pass the pilot (assay__knn_lowp_pilot). 0: float32. */
int assay__knn_lowp_options(const assay_kernels *K, size_t d, knn_option *out);

/* Quantises and packs every row for pass o (b->lowp). Falls back to float32 (b->lowp.prec =
 * FP32) for data the reduced-precision bound does not cover (magnitudes outside [2^-40, 2^40],
 * rows wider than the int32 sums allow). */
assay_status assay__knn_lowp_prepare(knn_build *b, knn_option o);

/* The pilot of a reduced-precision pass (knn_rerank.c): the candidate lists of 4 x 64 rows spread
 * over the data, built against every row as the full pass would (b->heaps.kk candidates), then
 * finished; returns how many were certified and sets *sampled. AUTO keeps the pass when at least
 * 95% are: each uncertified row costs a float32 radius search over all rows. */
size_t assay__knn_lowp_pilot(knn_build *b, size_t *sampled);
void assay__knn_lowp_free(knn_lowp *l);

/* The m x n tile of -2 <x_i, y_j> (l2) or <x_i, y_j> (cosine) for rows i0.., j0.. (j0 a multiple
 * of ASSAY_PANEL_ROWS), from the reduced-precision rows. */
void assay__knn_lowp_tile(const knn_build *b, float *t, size_t i0, size_t m, size_t j0, size_t n);

/* Turns a finished candidate tile (distances) into lower bounds: t_ij -= T(i0 + i, j0 + j). */
void assay__knn_lowp_lower(const knn_build *b, float *t, size_t i0, size_t m, size_t j0, size_t n);

/* The reduced-precision rows of scattered rows, gathered for the tile kernels (the radius pass
 * after a reduced-precision candidate pass). */
typedef struct knn_lowp_rows {
    size_t m;
    int8_t *codes; /* int8: m x dp */
    int32_t *asum;
    float *ascale;
    uint16_t *h; /* bf16: m x dp */
} knn_lowp_rows;
/* ASSAY_OK or ASSAY_E_NOMEM (nothing set in the context: the caller falls back). */
assay_status assay__knn_lowp_gather(const knn_build *b, const size_t *rows, size_t m,
                                    knn_lowp_rows *g);
void assay__knn_lowp_rows_free(knn_lowp_rows *g);
/* As assay__knn_lowp_tile and assay__knn_lowp_lower for the gathered rows (row u is rows[u]). */
void assay__knn_lowp_tile_rows(const knn_build *b, float *t, const knn_lowp_rows *g, size_t j0,
                               size_t n);
void assay__knn_lowp_lower_rows(const knn_build *b, float *t, const size_t *rows, size_t m,
                                size_t j0, size_t n);

/* Turns the candidate heaps into the exact graph: exact distances of the candidates that can
 * matter, a certificate that no other row can rank in the top k, and for the rows without one
 * a radius pass over all rows (and, if that is not enough, an exhaustive exact search). */
assay_status assay__knn_rerank(knn_build *b, assay__graph *out);

/* With ranks (ctx->ranks.size > 1, knn_ranks.c): after the candidate pass, every rank's heaps
 * of the rows of rank r are sent to rank r and merged there, so a rank's rows (the split of
 * assay__shard_rows) hold the candidates one process finds. */
assay_status assay__knn_ranks_merge_heaps(knn_build *b);

/* After the re-ranking of each rank's rows: rank 0 receives the other ranks' lists into *out and
 * adds their certification counts. */
assay_status assay__knn_ranks_gather(knn_build *b, assay__graph *out);

#endif

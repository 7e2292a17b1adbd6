/* SPDX-License-Identifier: Apache-2.0 */
/* The exact graph built by several ranks (MPI processes; docs/mpi.md). Every rank holds the
 * rows and computes the pairs of row blocks whose index in the pair list is its rank modulo the
 * ranks, offering each tile to both blocks as one process does, into candidate heaps for every
 * row. The heaps of each rank's rows are then exchanged and merged: a heap keeps the best kk
 * under a strict total order, so the best kk of the ranks' best kk are the candidates one
 * process finds, and the exact re-ranking of a rank's rows gives the lists one process gives.
 * Rank 0 gathers the lists. Two collectives, both through assay_ranks.alltoallv. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/knn_internal.h"

/* Rows [*r0, *r1) of rank r: the split of assay scan --shard. */
static void rank_rows(const knn_build *b, int r, size_t *r0, size_t *r1) {
    assay__shard_rows((size_t)r, (size_t)b->ctx->ranks.size, b->n, r0, r1);
}

static assay_status exchange(assay_ctx *ctx, const void *send, const size_t *sc, const size_t *so,
                             void *recv, const size_t *rc, const size_t *ro, const char *what) {
    const assay_ranks *R = &ctx->ranks;
    if (R->alltoallv(R->user, send, sc, so, recv, rc, ro) != 0)
        return assay__fail(ctx, ASSAY_E_RESOURCE, "rank %d of %d: exchanging %s failed", R->rank,
                           R->size, what);
    return ASSAY_OK;
}

assay_status assay__knn_ranks_merge_heaps(knn_build *b) {
    assay_ctx *ctx = b->ctx;
    int P = ctx->ranks.size, me = ctx->ranks.rank;
    size_t kk = b->heaps.kk, my0, my1;
    rank_rows(b, me, &my0, &my1);
    size_t mine = (my1 - my0) * kk;
    size_t *cnt = calloc(4 * (size_t)P, sizeof *cnt);
    float *rd = malloc((mine ? mine : 1) * (size_t)P * sizeof *rd);
    int32_t *ri = malloc((mine ? mine : 1) * (size_t)P * sizeof *ri);
    assay_status s = ASSAY_OK;
    if (cnt == NULL || rd == NULL || ri == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the ranks' candidate heaps");
        goto done;
    }
    /* to rank r: my heaps of its rows, in place; from rank r: its heaps of mine, slab r */
    size_t *sc = cnt, *so = cnt + P, *rc = cnt + 2 * P, *ro = cnt + 3 * P;
    for (int r = 0; r < P; r++) {
        size_t a, e;
        rank_rows(b, r, &a, &e);
        sc[r] = r == me ? 0 : (e - a) * kk * sizeof(float);
        so[r] = a * kk * sizeof(float);
        rc[r] = r == me ? 0 : mine * sizeof(float);
        ro[r] = (size_t)r * mine * sizeof(float);
    }
    if ((s = exchange(ctx, b->heaps.dist, sc, so, rd, rc, ro, "candidate distances")) != ASSAY_OK)
        goto done;
    if ((s = exchange(ctx, b->heaps.ids, sc, so, ri, rc, ro, "candidate ids")) != ASSAY_OK)
        goto done;
    for (int r = 0; r < P; r++) {
        if (r == me) continue;
        const float *dd = rd + (size_t)r * mine;
        const int32_t *ii = ri + (size_t)r * mine;
        for (size_t t = 0; t < mine; t++)
            if (ii[t] >= 0) assay__topk_offer(&b->heaps, my0 + t / kk, dd[t], ii[t]);
    }
done:
    free(cnt);
    free(rd);
    free(ri);
    return s;
}

/* Rank 0 receives every other rank's rows of a [n, width] array straight into its own copy;
 * cnt holds 4 P counts and offsets. */
static assay_status gather_rows(knn_build *b, void *rows, size_t width, size_t *cnt,
                                const char *what) {
    int P = b->ctx->ranks.size, me = b->ctx->ranks.rank;
    size_t *sc = cnt, *so = cnt + P, *rc = cnt + 2 * P, *ro = cnt + 3 * P, my0, my1;
    rank_rows(b, me, &my0, &my1);
    for (int r = 0; r < P; r++) {
        size_t a, e;
        rank_rows(b, r, &a, &e);
        sc[r] = me != 0 && r == 0 ? (my1 - my0) * width : 0;
        so[r] = my0 * width;
        rc[r] = me == 0 && r != 0 ? (e - a) * width : 0;
        ro[r] = a * width;
    }
    return exchange(b->ctx, rows, sc, so, rows, rc, ro, what);
}

assay_status assay__knn_ranks_gather(knn_build *b, assay__graph *out) {
    assay_ctx *ctx = b->ctx;
    int P = ctx->ranks.size, me = ctx->ranks.rank;
    size_t *cnt = calloc(4 * (size_t)P, sizeof *cnt);
    uint64_t tally[3] = {out->n_certified, out->n_radius, out->n_exhaustive};
    uint64_t *tallies = calloc(3 * (size_t)P, sizeof *tallies);
    assay_status s = ASSAY_OK;
    if (cnt == NULL || tallies == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory gathering the graph");
        goto done;
    }
    if ((s = gather_rows(b, out->ids, b->k * sizeof *out->ids, cnt, "neighbour lists")) !=
            ASSAY_OK ||
        (s = gather_rows(b, out->dist, b->k * sizeof *out->dist, cnt, "neighbour distances")) !=
            ASSAY_OK)
        goto done;
    /* the certification counts: one triple from each rank, summed by rank 0 */
    size_t *sc = cnt, *so = cnt + P, *rc = cnt + 2 * P, *ro = cnt + 3 * P;
    for (int r = 0; r < P; r++) {
        sc[r] = me != 0 && r == 0 ? sizeof tally : 0;
        so[r] = 0;
        rc[r] = me == 0 && r != 0 ? sizeof tally : 0;
        ro[r] = (size_t)r * sizeof tally;
    }
    if ((s = exchange(ctx, tally, sc, so, tallies, rc, ro, "certification counts")) != ASSAY_OK)
        goto done;
    if (me == 0)
        for (int r = 1; r < P; r++) {
            out->n_certified += tallies[3 * r];
            out->n_radius += tallies[3 * r + 1];
            out->n_exhaustive += tallies[3 * r + 2];
        }
done:
    free(cnt);
    free(tallies);
    return s;
}

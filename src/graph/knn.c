/* SPDX-License-Identifier: Apache-2.0 */
/* Exact self-kNN graph, candidate pass. Rows are cut into blocks; each pair of blocks (I, J >= I)
 * is one independent task that computes the I x J distance tile once and offers it to both
 * blocks' candidate heaps (half the multiply work of a query-vs-database search). No two running
 * tasks share a block (pairs are listed in the rounds of the circle method of round-robin
 * tournaments, and a worker takes the first one whose blocks are free), so heaps need no locks,
 * and the candidate sets do not depend on the thread count or the order because the heaps keep
 * the best kk under a strict total order. The tile comes from one single-threaded
 * OpenBLAS sgemm, or, for small d, from the fused kernel that never writes a tile. Candidates are
 * then re-ranked exactly (knn_rerank.c). Memory is O(N*kk + tiles), never O(N^2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "graph/knn_internal.h"

/* Defaults, from bench/bench_knn_sweep (bench/RESULTS.md, "Path and block sweep"): blocks of 512
 * rows were the fastest at d = 128 and 784 (the 1 MiB tile stays in L2 for the selection pass);
 * the fused kernel beats GEMM + tile by 34% at d = 8, 9% at 128, 2% at 256 and loses from 384. */
/* Below LOWP_MIN_ROWS rows AUTO stays in float32: quantising, packing and the pilot cost more
 * than the faster tiles save (2,000 x 300: int8 0.17 s, float32 0.09 s; bench/RESULTS.md). */
enum {
    LOWP_MIN_ROWS = 8192,
    DEFAULT_BLOCK_ROWS = 512,
    DEFAULT_BASE_ROWS = 4096,
    DEFAULT_FUSED_MAX_D = ASSAY__KNN_FUSED_MAX_D
};

/* Candidates kept per row beyond k: room for the near-ties the exact re-ranking resolves. A
 * reduced-precision pass keeps more (its tiles hold lower bounds, as loose as its quantisation),
 * int8 the most: on Fashion-MNIST (784-d, 20,000 rows) 50 candidates certified 97.1% of the rows
 * and 100 certified all, 21% faster overall (bench/RESULTS.md, "Reduced-precision candidates"). */
static size_t heap_size(size_t k, assay_precision p) {
    if (p == ASSAY_PRECISION_INT8) return k + (9 * k > 90 ? 9 * k : 90);
    if (p == ASSAY_PRECISION_BF16) return k + (4 * k > 40 ? 4 * k : 40);
    return k + (k > 8 ? k : 8);
}

typedef struct pair_ws {
    float *buf; /* gemm: block x block tile; fused: d x block transposed rows */
} pair_ws;

/* The pairs and who works on what. A worker takes the first pair not started whose two blocks
 * no running task holds, so heaps need no locks and no worker waits at a barrier (rounds with
 * barriers left one of two workers idle at the end of every round: 3% of the time). */
typedef struct pair_job {
    knn_build *b;
    size_t block;
    int fused;
    size_t (*pairs)[2]; /* every pair, in the circle method's round order */
    size_t n_pairs, next, done;
    uint8_t *started, *busy;
    uint8_t *query; /* blocks holding rows whose lists are built (all but in a shard) */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    pair_ws *ws;
} pair_job;

/* Pairs looked at beyond the first one not started: consecutive pairs of a round are
 * disjoint, so with a few workers the first free one is always near. */
enum { TAKE_WINDOW = 64 };

static void block_range(const pair_job *p, size_t blk, size_t *r0, size_t *m) {
    *r0 = blk * p->block;
    *m = p->b->n - *r0 < p->block ? p->b->n - *r0 : p->block;
}

static assay_topk heap_view(const knn_build *b, size_t r0) {
    assay_topk h = b->heaps;
    h.dist += r0 * h.kk;
    h.ids += r0 * h.kk;
    h.root += r0;
    h.base = (int64_t)r0;
    return h;
}

static void run_pair(pair_job *p, size_t task, int worker) {
    const knn_build *b = p->b;
    const assay_kernels *K = b->K;
    size_t bi = p->pairs[task][0], bj = p->pairs[task][1], i0, m, j0, n;
    block_range(p, bi, &i0, &m);
    block_range(p, bj, &j0, &n);
    assay_topk rows = heap_view(b, i0), cols = heap_view(b, j0);
    /* a diagonal tile already holds both sides; a block outside a shard gets no offers */
    assay_topk *other = bi == bj || !p->query[bj] ? NULL : &cols;
    float *buf = p->ws[worker].buf;
    const float *xi = b->x + i0 * b->ld, *xj = b->x + j0 * b->ld;
    int cosine = b->metric == ASSAY_METRIC_COSINE;
    if (b->lowp.prec != ASSAY_PRECISION_FP32) {
        assay__knn_lowp_tile(b, buf, i0, m, j0, n);
    } else if (p->fused) {
        /* Rows of the transposed block are padded by 16 floats: at a power-of-two stride the
         * d rows the micro-kernel walks would all map to the same L1 cache set. */
        size_t ldbt = p->block + 16;
        for (size_t r = 0; r < n; r++)
            for (size_t c = 0; c < b->d; c++) buf[c * ldbt + r] = xj[r * b->ld + c];
        K->fused_tile(cosine, xi, b->ld, buf, ldbt, m, n, b->d, b->rowa + i0, b->rowa + j0,
                      b->pen + i0, b->pen + j0, (int64_t)j0, &rows, other);
        return;
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)b->d,
                    cosine ? 1.0f : -2.0f, xi, (int)b->ld, xj, (int)b->ld, 0.0f, buf, (int)n);
    }
    if (cosine)
        K->tile_cos(buf, n, m, n, b->rowa + i0, b->rowa + j0, b->pen + i0, b->pen + j0);
    else
        K->tile_l2(buf, n, m, n, b->rowa + i0, b->rowa + j0, b->pen + i0, b->pen + j0);
    if (b->lowp.prec != ASSAY_PRECISION_FP32) assay__knn_lowp_lower(b, buf, i0, m, j0, n);
    K->select_tile(buf, n, m, n, (int64_t)j0, &rows, other);
}

/* Round r of the circle method over P (even) slots: slot P-1 stays, the others rotate. Pairs
 * with the padding slot (nb odd) are dropped. Returns the number of pairs written. */
static size_t round_pairs(size_t nb, size_t r, size_t (*out)[2]) {
    size_t P = nb + (nb & 1), cnt = 0;
    for (size_t i = 0; i < P / 2; i++) {
        size_t a = i == 0 ? P - 1 : (r + i) % (P - 1), c = (r + P - 1 - i) % (P - 1);
        if (a >= nb || c >= nb) continue;
        out[cnt][0] = a < c ? a : c;
        out[cnt][1] = a < c ? c : a;
        cnt++;
    }
    return cnt;
}

/* With the lock held: the next pair to run, or n_pairs when none is left to start. */
static size_t take_pair(pair_job *p) {
    for (;;) {
        while (p->next < p->n_pairs && p->started[p->next]) p->next++;
        if (p->next == p->n_pairs) return p->n_pairs;
        for (size_t t = p->next; t < p->n_pairs && t < p->next + TAKE_WINDOW; t++) {
            size_t a = p->pairs[t][0], c = p->pairs[t][1];
            if (p->started[t] || p->busy[a] || p->busy[c]) continue;
            p->started[t] = 1;
            p->busy[a] = 1;
            p->busy[c] = p->query[c]; /* a block outside a shard is only read */
            return t;
        }
        /* Every pair in reach conflicts with a running one, which will free its blocks. */
        pthread_cond_wait(&p->freed, &p->lock);
    }
}

static void pair_worker(void *arg, size_t task, int worker) {
    (void)task;
    pair_job *p = arg;
    pthread_mutex_lock(&p->lock);
    for (size_t t; !assay__cancelled(p->b->ctx) && (t = take_pair(p)) < p->n_pairs;) {
        pthread_mutex_unlock(&p->lock);
        run_pair(p, t, worker);
        pthread_mutex_lock(&p->lock);
        p->busy[p->pairs[t][0]] = p->busy[p->pairs[t][1]] = 0;
        p->done++;
        assay__progress(p->b->ctx, "knn", p->done, p->n_pairs);
        pthread_cond_broadcast(&p->freed);
    }
    pthread_mutex_unlock(&p->lock);
}

static assay_status candidate_pass(knn_build *b, size_t block, int fused) {
    assay_ctx *ctx = b->ctx;
    size_t nb = (b->n + block - 1) / block;
    pair_job p;
    memset(&p, 0, sizeof p);
    p.b = b;
    p.block = block;
    p.fused = fused;
    p.n_pairs = nb * (nb + 1) / 2;
    p.pairs = malloc(p.n_pairs * sizeof *p.pairs);
    p.started = calloc(p.n_pairs, 1);
    p.busy = calloc(nb, 1);
    p.query = calloc(nb, 1);
    p.ws = calloc((size_t)b->workers, sizeof *p.ws);
    assay_status s = ASSAY_OK;
    int sync = 0;
    if (p.pairs == NULL || p.started == NULL || p.busy == NULL || p.query == NULL || p.ws == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
        goto done;
    }
    size_t ws_floats = fused ? b->d * (block + 16) : block * block;
    for (int w = 0; w < b->workers; w++) {
        p.ws[w].buf = assay__aligned_alloc((ws_floats ? ws_floats : 1) * sizeof(float));
        if (p.ws[w].buf == NULL) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for %d distance tiles", b->workers);
            goto done;
        }
    }
    for (size_t blk = 0; blk < nb; blk++)
        p.query[blk] = blk * block < b->q1 && (blk + 1) * block > b->q0;
    /* The diagonal tiles first (each touches one block), then the circle method's rounds, whose
     * pairs are disjoint within a round. A shard keeps the pairs that touch one of its blocks,
     * that block first (the tile's rows). */
    size_t cnt = 0;
    for (size_t blk = 0; blk < nb; blk++)
        if (p.query[blk]) {
            p.pairs[cnt][0] = p.pairs[cnt][1] = blk;
            cnt++;
        }
    size_t P = nb + (nb & 1);
    for (size_t r = 0; P >= 2 && r < P - 1; r++) {
        size_t base = cnt, got = round_pairs(nb, r, p.pairs + base);
        for (size_t t = 0; t < got; t++) {
            size_t a = p.pairs[base + t][0], c = p.pairs[base + t][1];
            if (!p.query[a] && !p.query[c]) continue;
            p.pairs[cnt][0] = p.query[a] ? a : c;
            p.pairs[cnt][1] = p.query[a] ? c : a;
            cnt++;
        }
    }
    if (b->pair_ranks > 1) { /* this rank's share: every pair_ranks-th pair, rounds interleaved */
        size_t mine = 0;
        for (size_t t = (size_t)b->pair_rank; t < cnt; t += (size_t)b->pair_ranks)
            memmove(p.pairs[mine++], p.pairs[t], sizeof *p.pairs);
        cnt = mine;
    }
    p.n_pairs = cnt;
    if (pthread_mutex_init(&p.lock, NULL) != 0) {
        s = assay__fail(ctx, ASSAY_E_THREAD, "cannot create a mutex");
        goto done;
    }
    if (pthread_cond_init(&p.freed, NULL) != 0) {
        pthread_mutex_destroy(&p.lock);
        s = assay__fail(ctx, ASSAY_E_THREAD, "cannot create a condition variable");
        goto done;
    }
    sync = 1;
    s = assay__parallel_for(ctx, (size_t)b->workers, b->workers, pair_worker, &p);
done:
    if (sync) {
        pthread_cond_destroy(&p.freed);
        pthread_mutex_destroy(&p.lock);
    }
    for (int w = 0; p.ws != NULL && w < b->workers; w++) free(p.ws[w].buf);
    free(p.ws);
    free(p.pairs);
    free(p.started);
    free(p.busy);
    free(p.query);
    return s;
}

void assay__knn_build_init(knn_build *b, assay_ctx *ctx, const float *x, size_t n, size_t d,
                           size_t ld, const uint8_t *in_graph, size_t k, assay_metric metric) {
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    b->K = ctx->k;
    b->x = x;
    b->n = n;
    b->d = d;
    b->ld = ld;
    b->k = k;
    b->metric = metric;
    b->in_graph = in_graph;
    b->q0 = 0;
    b->q1 = n;
    b->pair_ranks = 1;
    b->lowp.prec = ASSAY_PRECISION_FP32;
}

assay_status assay__knn_build(assay_ctx *ctx, const float *x, size_t n, size_t d, size_t ld,
                              const uint8_t *in_graph, size_t k, assay_metric metric,
                              const assay__knn_tiles *tiles, assay__graph *out) {
    return assay__knn_build_rows(ctx, x, n, d, ld, in_graph, k, metric, 0, n, tiles, out);
}

assay_status assay__knn_build_rows(assay_ctx *ctx, const float *x, size_t n, size_t d, size_t ld,
                                   const uint8_t *in_graph, size_t k, assay_metric metric,
                                   size_t row0, size_t row1, const assay__knn_tiles *tiles,
                                   assay__graph *out) {
    memset(out, 0, sizeof *out);
    if (row0 > row1 || row1 > n)
        return assay__fail(ctx, ASSAY_E_INVAL, "rows [%zu, %zu) are not within the %zu rows", row0,
                           row1, n);
    if (k == 0) return assay__fail(ctx, ASSAY_E_INVAL, "k must be at least 1");
    if (metric != ASSAY_METRIC_L2 && metric != ASSAY_METRIC_COSINE)
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown metric %d", (int)metric);
    size_t usable = 0;
    for (size_t i = 0; i < n; i++) usable += in_graph[i] != 0;
    if (usable <= k)
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "k = %zu needs at least %zu usable rows, but only %zu of %zu rows can "
                           "take part in the neighbour graph",
                           k, k + 1, usable, n);
    if (n > (size_t)INT32_MAX)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED,
                           "%zu rows: one neighbour graph holds at most %d rows", n, INT32_MAX);
    if (ld > (size_t)INT32_MAX || d > (size_t)INT32_MAX)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED, "rows of %zu floats are too wide for BLAS",
                           ld);

    int ranked = ctx->ranks.size > 1;
    if (ranked && (row0 != 0 || row1 != n))
        return assay__fail(ctx, ASSAY_E_INVAL, "a shard's rows cannot be built by %d ranks",
                           ctx->ranks.size);
    knn_build b;
    assay__knn_build_init(&b, ctx, x, n, d, ld, in_graph, k, metric);
    b.q0 = row0;
    b.q1 = row1;
    b.pair_rank = ctx->ranks.rank;
    b.pair_ranks = ctx->ranks.size;
    size_t block = tiles && tiles->query_rows ? tiles->query_rows : DEFAULT_BLOCK_ROWS;
    b.base_rows = tiles && tiles->base_rows ? tiles->base_rows : DEFAULT_BASE_ROWS;
    size_t fused_max_d = DEFAULT_FUSED_MAX_D;
    if (tiles && tiles->path == ASSAY__KNN_PATH_GEMM) fused_max_d = 0;
    if (tiles && tiles->path == ASSAY__KNN_PATH_FUSED) fused_max_d = (size_t)-1;

    float *rowa = malloc(n * sizeof *rowa), *pen = malloc(n * sizeof *pen);
    assay_status s = ASSAY_OK;
    if (rowa == NULL || pen == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
        goto done;
    }
    b.K->norms_sq(x, ld, n, d, rowa);
    for (size_t i = 0; i < n; i++) {
        pen[i] = in_graph[i] ? 0.0f : INFINITY;
        if (in_graph[i] && sqrt((double)rowa[i]) > b.max_norm) b.max_norm = sqrt((double)rowa[i]);
        if (metric == ASSAY_METRIC_COSINE) rowa[i] = rowa[i] > 0.0f ? 1.0f / sqrtf(rowa[i]) : 0.0f;
    }
    b.rowa = rowa;
    b.pen = pen;
    if (ctx->precision != ASSAY_PRECISION_AUTO) {
        /* forced int8 without VNNI: vpmaddubsw where the table has it */
        const assay_kernels *S = &assay__kernels_scalar;
        int pairsat = ctx->precision == ASSAY_PRECISION_INT8 && b.K->tile_i8 == S->tile_i8 &&
                      b.K->tile_i8_pairsat != S->tile_i8_pairsat;
        if ((s = assay__knn_lowp_prepare(&b, (knn_option){ctx->precision, pairsat})) != ASSAY_OK)
            goto done;
    } else { /* the fastest pass whose pilot certifies 95% of its rows, else float32 */
        knn_option opt[3];
        size_t min_rows = tiles && tiles->lowp_min_rows ? tiles->lowp_min_rows : LOWP_MIN_ROWS;
        int n_opt = n < min_rows ? 0 : assay__knn_lowp_options(b.K, d, opt);
        for (int o = 0; o < n_opt; o++) {
            if ((s = assay__knn_lowp_prepare(&b, opt[o])) != ASSAY_OK) goto done;
            if (b.lowp.prec == ASSAY_PRECISION_FP32) break; /* data the bound does not cover */
            b.heaps.kk = heap_size(k, b.lowp.prec);
            size_t sampled, ok = assay__knn_lowp_pilot(&b, &sampled);
            out->pilot[out->n_pilot].precision = opt[o].prec;
            out->pilot[out->n_pilot].rows = (uint32_t)sampled;
            out->pilot[out->n_pilot++].certified = (uint32_t)ok;
            if (ok * 100 >= sampled * 95) break;
            assay__knn_lowp_free(&b.lowp);
        }
    }
    int lowp = b.lowp.prec != ASSAY_PRECISION_FP32;
    /* The packed rows of a block start at a panel. */
    if (lowp) block = (block + ASSAY_PANEL_ROWS - 1) / ASSAY_PANEL_ROWS * ASSAY_PANEL_ROWS;
    if (block > n) block = n;
    size_t nb = (n + block - 1) / block;
    b.workers = ctx->n_threads < 1 ? 1 : ctx->n_threads;
    if ((size_t)b.workers > nb) b.workers = (int)nb;

    size_t kk = heap_size(k, b.lowp.prec), nkk;
    if (assay__mul_overflows(n, kk, &nkk)) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
        goto done;
    }
    b.heaps.dist = malloc(nkk * sizeof(float));
    b.heaps.ids = malloc(nkk * sizeof(int32_t));
    b.heaps.root = malloc(n * sizeof(float));
    b.heaps.kk = kk;
    if (!b.heaps.dist || !b.heaps.ids || !b.heaps.root) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
        goto done;
    }
    for (size_t i = 0; i < nkk; i++) {
        b.heaps.dist[i] = INFINITY;
        b.heaps.ids[i] = -1;
    }
    for (size_t i = 0; i < n; i++) b.heaps.root[i] = INFINITY;

    /* One level of parallelism: our workers, each calling single-threaded sgemm. */
    assay__blas_single_begin();
    double t0 = assay__now();
    s = candidate_pass(&b, block, !lowp && d <= fused_max_d);
    if (s == ASSAY_OK && ranked) { /* this rank's rows get every rank's candidates */
        s = assay__knn_ranks_merge_heaps(&b);
        assay__shard_rows((size_t)b.pair_rank, (size_t)b.pair_ranks, n, &b.q0, &b.q1);
    }
    double t1 = assay__now();
    if (s == ASSAY_OK) s = assay__knn_rerank(&b, out);
    if (s == ASSAY_OK && ranked) s = assay__knn_ranks_gather(&b, out);
    out->t_candidates = t1 - t0;
    out->t_rerank = assay__now() - t1;
    assay__blas_single_end();
    out->precision = b.lowp.prec;
    out->requested = ctx->precision;
    out->kernels = b.K->name;
done:
    assay__knn_lowp_free(&b.lowp);
    free(rowa);
    free(pen);
    free(b.heaps.dist);
    free(b.heaps.ids);
    free(b.heaps.root);
    if (s != ASSAY_OK) assay__graph_free(out);
    return s;
}

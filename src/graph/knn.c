/* SPDX-License-Identifier: Apache-2.0 */
/* Exact self-kNN graph: row norms once, one single-threaded OpenBLAS sgemm per tile, the
 * distance finish and top-k selection kernels, then the k winners of each row re-measured in
 * double precision. Memory is O(N*k + tiles), never O(N^2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "graph/knn.h"

/* Defaults: 512 queries x 4096 base rows = 8 MiB of tile per thread, large enough that sgemm
 * runs near its peak for d >= 64, small enough that the selection pass reads it from L3/DRAM
 * once. The kernel issue tunes these with bench/. */
enum { DEFAULT_QUERY_ROWS = 512, DEFAULT_BASE_ROWS = 4096 };

/* Scratch of one worker, allocated before the run so tasks cannot fail. */
typedef struct knn_ws {
    float *tile; /* qb x bb distances */
    float *hd;   /* qb x k heap distances */
    int64_t *hi; /* qb x k heap ids */
    double *sd;  /* k exact distances of one row */
    int64_t *si; /* k ids of one row */
} knn_ws;

typedef struct knn_job {
    assay_ctx *ctx;
    const float *x;
    size_t n, d, ld, k, qb, bb;
    assay_metric metric;
    const uint8_t *in_graph;
    const float *rowa; /* l2: squared norms; cosine: reciprocal norms */
    const float *pen;  /* 0 for rows in the graph, +inf for the others */
    struct knn_ws *ws; /* one workspace per worker */
    size_t n_tasks;
    assay__graph *out;
    pthread_mutex_t lock;
    size_t tasks_done;
} knn_job;

double assay__distance_exact(const float *a, const float *b, size_t d, assay_metric metric) {
    if (metric == ASSAY_METRIC_L2) {
        double s = 0.0;
        for (size_t j = 0; j < d; j++) {
            double t = (double)a[j] - (double)b[j];
            s += t * t;
        }
        return s;
    }
    double dot = 0.0, na = 0.0, nb = 0.0;
    for (size_t j = 0; j < d; j++) {
        dot += (double)a[j] * (double)b[j];
        na += (double)a[j] * (double)a[j];
        nb += (double)b[j] * (double)b[j];
    }
    if (na == 0.0 || nb == 0.0) return 1.0;
    /* sqrt(na*nb) rather than sqrt(na)*sqrt(nb): identical rows then give exactly 0. */
    double v = 1.0 - dot / sqrt(na * nb);
    return v > 0.0 ? v : 0.0;
}

/* Sorts k (distance, id) pairs by distance, then id (k is small: insertion sort). */
static void sort_pairs(double *dd, int64_t *ii, size_t k) {
    for (size_t a = 1; a < k; a++) {
        double dv = dd[a];
        int64_t iv = ii[a];
        size_t b = a;
        while (b > 0 && (dd[b - 1] > dv || (dd[b - 1] == dv && ii[b - 1] > iv))) {
            dd[b] = dd[b - 1];
            ii[b] = ii[b - 1];
            b--;
        }
        dd[b] = dv;
        ii[b] = iv;
    }
}

static void knn_task(void *arg, size_t task, int worker) {
    knn_job *j = arg;
    const assay_kernels *K = j->ctx->k;
    size_t q0 = task * j->qb, q1 = q0 + j->qb;
    if (q1 > j->n) q1 = j->n;
    size_t m = q1 - q0, k = j->k;
    knn_ws *w = &j->ws[worker];
    float *t = w->tile, *hd = w->hd;
    int64_t *hi = w->hi;
    for (size_t i = 0; i < m * k; i++) {
        hd[i] = INFINITY;
        hi[i] = -1;
    }
    const float alpha = j->metric == ASSAY_METRIC_L2 ? -2.0f : 1.0f;
    for (size_t b0 = 0; b0 < j->n; b0 += j->bb) {
        size_t nb = j->n - b0 < j->bb ? j->n - b0 : j->bb;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nb, (int)j->d, alpha,
                    j->x + q0 * j->ld, (int)j->ld, j->x + b0 * j->ld, (int)j->ld, 0.0f, t, (int)nb);
        if (j->metric == ASSAY_METRIC_L2)
            K->tile_l2(t, nb, m, nb, j->rowa + q0, j->rowa + b0, j->pen + b0);
        else
            K->tile_cos(t, nb, m, nb, j->rowa + q0, j->rowa + b0, j->pen + b0);
        /* A row is never its own neighbour: excluded by index, not by distance 0, because
         * exact duplicates are common in poisoned data. */
        size_t lo = q0 > b0 ? q0 : b0, hi_end = q1 < b0 + nb ? q1 : b0 + nb;
        for (size_t r = lo; r < hi_end; r++) t[(r - q0) * nb + (r - b0)] = INFINITY;
        K->topk_tile(t, nb, m, nb, (int64_t)b0, k, hd, hi);
    }

    /* Heap order -> sorted lists; the winners are re-measured in double precision so that
     * reported distances (and their order, ties by index) do not carry GEMM rounding. */
    double *dbuf = w->sd;
    int64_t *ibuf = w->si;
    for (size_t i = 0; i < m; i++) {
        size_t row = q0 + i;
        int64_t *oid = j->out->ids + row * k;
        float *odist = j->out->dist + row * k;
        if (!j->in_graph[row]) {
            for (size_t c = 0; c < k; c++) {
                oid[c] = -1;
                odist[c] = NAN;
            }
            continue;
        }
        for (size_t c = 0; c < k; c++) {
            ibuf[c] = hi[i * k + c];
            dbuf[c] = ibuf[c] < 0
                          ? INFINITY
                          : assay__distance_exact(j->x + row * j->ld,
                                                  j->x + (size_t)ibuf[c] * j->ld, j->d, j->metric);
        }
        sort_pairs(dbuf, ibuf, k);
        for (size_t c = 0; c < k; c++) {
            oid[c] = ibuf[c];
            odist[c] = (float)dbuf[c];
        }
    }

    pthread_mutex_lock(&j->lock);
    size_t done = ++j->tasks_done;
    pthread_mutex_unlock(&j->lock);
    assay__progress(j->ctx, "knn", done, j->n_tasks);
}

void assay__graph_free(assay__graph *g) {
    if (g == NULL) return;
    free(g->ids);
    free(g->dist);
    memset(g, 0, sizeof *g);
}

static void free_workspaces(knn_job *j, int workers) {
    for (int w = 0; j->ws != NULL && w < workers; w++) {
        free(j->ws[w].tile);
        free(j->ws[w].hd);
        free(j->ws[w].hi);
        free(j->ws[w].sd);
        free(j->ws[w].si);
    }
    free(j->ws);
}

assay_status assay__knn_build(assay_ctx *ctx, const float *x, size_t n, size_t d, size_t ld,
                              const uint8_t *in_graph, size_t k, assay_metric metric,
                              const assay__knn_tiles *tiles, assay__graph *out) {
    memset(out, 0, sizeof *out);
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
    if (ld > (size_t)INT32_MAX || d > (size_t)INT32_MAX)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED, "rows of %zu floats are too wide for BLAS",
                           ld);

    knn_job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx;
    j.x = x;
    j.n = n;
    j.d = d;
    j.ld = ld;
    j.k = k;
    j.metric = metric;
    j.in_graph = in_graph;
    j.qb = tiles && tiles->query_rows ? tiles->query_rows : DEFAULT_QUERY_ROWS;
    j.bb = tiles && tiles->base_rows ? tiles->base_rows : DEFAULT_BASE_ROWS;
    if (j.qb > n) j.qb = n;
    if (j.bb > n) j.bb = n;
    j.n_tasks = (n + j.qb - 1) / j.qb;
    int workers = ctx->n_threads < 1 ? 1 : ctx->n_threads;
    if ((size_t)workers > j.n_tasks) workers = (int)j.n_tasks;

    size_t nk;
    assay_status s = ASSAY_OK;
    float *rowa = malloc(n * sizeof *rowa), *pen = malloc(n * sizeof *pen);
    if (assay__mul_overflows(n, k, &nk) || rowa == NULL || pen == NULL) {
        free(rowa);
        free(pen);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
    }
    out->ids = malloc(nk * sizeof *out->ids);
    out->dist = malloc(nk * sizeof *out->dist);
    j.ws = calloc((size_t)workers, sizeof *j.ws);
    if (out->ids == NULL || out->dist == NULL || j.ws == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
        goto done;
    }
    for (int w = 0; w < workers; w++) {
        knn_ws *ws = &j.ws[w];
        ws->tile = assay__aligned_alloc(j.qb * j.bb * sizeof(float));
        ws->hd = malloc(j.qb * k * sizeof(float));
        ws->hi = malloc(j.qb * k * sizeof(int64_t));
        ws->sd = malloc(k * sizeof(double));
        ws->si = malloc(k * sizeof(int64_t));
        if (!ws->tile || !ws->hd || !ws->hi || !ws->sd || !ws->si) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for %d distance tiles", workers);
            goto done;
        }
    }

    ctx->k->norms_sq(x, ld, n, d, rowa);
    for (size_t i = 0; i < n; i++) {
        pen[i] = in_graph[i] ? 0.0f : INFINITY;
        if (metric == ASSAY_METRIC_COSINE) rowa[i] = rowa[i] > 0.0f ? 1.0f / sqrtf(rowa[i]) : 0.0f;
    }
    j.rowa = rowa;
    j.pen = pen;
    j.out = out;
    if (pthread_mutex_init(&j.lock, NULL) != 0) {
        s = assay__fail(ctx, ASSAY_E_THREAD, "cannot create a mutex");
        goto done;
    }
    /* One level of parallelism: our workers, each calling single-threaded sgemm. */
    int old_blas = assay__blas_set_threads(1);
    s = assay__parallel_for(ctx, j.n_tasks, workers, knn_task, &j);
    assay__blas_set_threads(old_blas);
    pthread_mutex_destroy(&j.lock);
    out->n = n;
    out->k = k;
    out->metric = metric;
done:
    free_workspaces(&j, workers);
    free(rowa);
    free(pen);
    if (s != ASSAY_OK) assay__graph_free(out);
    return s;
}

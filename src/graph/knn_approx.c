/* SPDX-License-Identifier: Apache-2.0 */
/* Approximate neighbour graph (--graph-method approx): an inverted file. The rows are split into
 * L = 4 sqrt(N) lists by k-means (a sample of 16 rows per list, 8 Lloyd steps); every row is
 * compared only with the rows of its p nearest lists, and its candidates are re-ranked exactly
 * in double precision. The cost is about N * p * N / L distances instead of N^2 / 2. (On
 * 200,000 x 128, 4 sqrt(N) lists were 2.3x faster than 2 sqrt(N) at the same recall: fewer
 * candidates per row; 8 sqrt(N) spent more on k-means and small tiles than it saved;
 * bench/RESULTS.md, "Approximate graph".)
 *
 * p is chosen, not guessed: a pilot sample of rows gets its exact lists (brute force), and p is
 * the smallest probe count at which the lists of those exact neighbours fall within each pilot
 * row's p nearest lists for the target share (--approx-recall, 0.99) of them. The graph's recall
 * is then measured on a second, disjoint sample against brute-force lists, every run, and
 * reported. When the target needs more than min(64, L / 16) probes the approximation would save
 * little: the exact graph is built instead, and the report says so.
 *
 * Same kernels as the exact graph (fused tile for d <= 256, single-threaded sgemm above), tasks
 * over fixed blocks of rows, selection under a strict total order and sums in a fixed order:
 * the graph does not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "graph/knn_internal.h"

enum {
    BLOCK = 512,           /* query rows per task */
    CHUNK = 1024,          /* base rows per tile */
    TRAIN_PER_LIST = 16,   /* k-means sample rows per list */
    KMEANS_STEPS = 8,      /* Lloyd iterations */
    PILOT_ROWS = 500,      /* rows whose exact lists choose the probe count */
    SAMPLE_ROWS = 1000,    /* rows whose exact lists measure the graph's recall */
    MAX_PROBES = 64,       /* probes per row (and at most L / 16) */
    MIN_APPROX_ROWS = 1024 /* below: the exact graph is as fast */
};

static const int64_t NEVER_SELF = INT64_MIN / 2; /* heap base that matches no id */

typedef struct ivf_ws {
    float *tile; /* BLOCK x CHUNK (gemm), or d x (CHUNK + 16) transposed rows (fused) */
    float *q;    /* BLOCK x d gathered query rows */
    float *qa;   /* BLOCK: their norms */
    float *ba;   /* CHUNK: base norms */
    float *bpen; /* CHUNK: base penalties */
    float *hd;   /* BLOCK x kk gathered heaps */
    int32_t *hi;
    float *hr;
    double *ed; /* exact re-rank scratch: kk */
    int64_t *eid;
    int32_t *mark; /* L: list stamps */
    int32_t *sel;  /* BLOCK x p (list, row) pairs of a block, and their order */
    int32_t *cnt;  /* L + 1 */
} ivf_ws;

typedef struct ivf {
    knn_build *b;
    size_t nu;    /* rows in the graph */
    int32_t *use; /* those rows, ascending */
    size_t L, p, kk;
    float *cent;      /* L x d */
    float *crowa;     /* L: l2 squared norms, cosine reciprocal norms */
    float *zeros;     /* max(L, CHUNK, BLOCK) */
    int32_t *probe;   /* nu x p: each row's lists, nearest first (u indexes use[]) */
    size_t *off;      /* L + 1: list l holds perm[off[l] .. off[l + 1]) */
    int32_t *perm;    /* list order -> index into use[] (and probe) */
    int32_t *lrow;    /* list order -> row */
    float *xl;        /* the rows in list order: list l at xl + off[l] * d, row-major (d x n_l
                         transposed for the fused kernel) */
    float *lrowa;     /* their norms */
    float *ct;        /* d x L: the centroids transposed (fused kernel) */
    assay_topk heaps; /* nu rows in list order, ids in list order */
    ivf_ws *ws;
    int workers;
    int fused;
    pthread_mutex_t tick_lock; /* progress of the probe and candidate passes */
    size_t ticks, n_ticks;
} ivf;

/* One block of the probe or candidate pass done: progress stage "knn". */
static void tick(ivf *v) {
    pthread_mutex_lock(&v->tick_lock);
    v->ticks++;
    assay__progress(v->b->ctx, "knn", v->ticks, v->n_ticks);
    pthread_mutex_unlock(&v->tick_lock);
}

static size_t min_sz(size_t a, size_t b) {
    return a < b ? a : b;
}

static void heap_init(float *hd, int32_t *hi, float *hr, size_t rows, size_t kk) {
    for (size_t i = 0; i < rows * kk; i++) {
        hd[i] = INFINITY;
        hi[i] = -1;
    }
    for (size_t i = 0; i < rows; i++) hr[i] = INFINITY;
}

/* Offers the distances from m gathered query rows (w->q, w->qa) to nb base rows to heap h (row i
 * for query i), with ids j0 + c. Base row c is base + c * ldb, its norm ba_all[c], its penalty
 * pen_all[c] (NULL: 0). With bt, the fused kernel reads the base rows already transposed there
 * (column c of a d x ldbt matrix); without, each chunk is transposed here. */
static void offer(const ivf *v, ivf_ws *w, size_t m, const float *base, size_t ldb,
                  const float *ba_all, const float *pen_all, size_t nb, int64_t j0, assay_topk *h,
                  const float *bt, size_t ldbt_pre) {
    const knn_build *b = v->b;
    const assay_kernels *K = b->K;
    size_t d = b->d;
    int cosine = b->metric == ASSAY_METRIC_COSINE;
    for (size_t c0 = 0; c0 < nb; c0 += CHUNK) {
        size_t nc = min_sz(CHUNK, nb - c0);
        for (size_t r = 0; r < nc; r++) {
            w->ba[r] = ba_all[c0 + r];
            w->bpen[r] = pen_all ? pen_all[c0 + r] : 0.0f;
        }
        if (v->fused && bt != NULL) {
            K->fused_tile(cosine, w->q, d, bt + c0, ldbt_pre, m, nc, d, w->qa, w->ba, v->zeros,
                          w->bpen, j0 + (int64_t)c0, h, NULL);
            continue;
        }
        if (v->fused) {
            size_t ldbt = CHUNK + 16;
            for (size_t r = 0; r < nc; r++) {
                const float *src = base + (c0 + r) * ldb;
                for (size_t c = 0; c < d; c++) w->tile[c * ldbt + r] = src[c];
            }
            K->fused_tile(cosine, w->q, d, w->tile, ldbt, m, nc, d, w->qa, w->ba, v->zeros, w->bpen,
                          j0 + (int64_t)c0, h, NULL);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nc, (int)d,
                    cosine ? 1.0f : -2.0f, w->q, (int)d, base + c0 * ldb, (int)ldb, 0.0f, w->tile,
                    (int)nc);
        if (cosine)
            K->tile_cos(w->tile, nc, m, nc, w->qa, w->ba, v->zeros, w->bpen);
        else
            K->tile_l2(w->tile, nc, m, nc, w->qa, w->ba, v->zeros, w->bpen);
        K->select_tile(w->tile, nc, m, nc, j0 + (int64_t)c0, h, NULL);
    }
}

/* Copies rows rows[0..m) of the data into the worker's query block with their norms. */
static void gather_queries(const ivf *v, ivf_ws *w, const int32_t *rows, size_t m) {
    const knn_build *b = v->b;
    for (size_t i = 0; i < m; i++) {
        memcpy(w->q + i * b->d, b->x + (size_t)rows[i] * b->ld, b->d * sizeof(float));
        w->qa[i] = b->rowa[rows[i]];
    }
}

/* ---- nearest lists ---- */

/* The `want` nearest centroids of rows rows[0..m) (m <= BLOCK), nearest first, ties by the lower
 * list: out[i * want + t]; heaps of `want` in hd/hi/hr (m x want). */
static void nearest_lists(const ivf *v, ivf_ws *w, const int32_t *rows, size_t m, size_t want,
                          float *hd, int32_t *hi, float *hr, int32_t *out) {
    gather_queries(v, w, rows, m);
    heap_init(hd, hi, hr, m, want);
    assay_topk h = {hd, hi, hr, want, NEVER_SELF};
    offer(v, w, m, v->cent, v->b->d, v->crowa, NULL, v->L, 0, &h, v->ct, v->L);
    for (size_t i = 0; i < m; i++) {
        /* heap order -> sorted, by (distance, list) */
        double *pd = w->ed; /* want <= the heap scratch's size (ws_alloc) */
        int64_t *pi = w->eid;
        for (size_t t = 0; t < want; t++) {
            pd[t] = hd[i * want + t];
            pi[t] = hi[i * want + t];
        }
        assay__knn_sort_pairs(pd, pi, want);
        for (size_t t = 0; t < want; t++) out[i * want + t] = (int32_t)pi[t];
    }
}

/* ---- k-means ---- */

typedef struct assign_job {
    ivf *v;
    const int32_t *rows;
    size_t n;
    int32_t *list;
    float *dist;
} assign_job;

static void assign_task(void *arg, size_t task, int worker) {
    assign_job *a = arg;
    ivf *v = a->v;
    ivf_ws *w = &v->ws[worker];
    size_t r0 = task * BLOCK, m = min_sz(BLOCK, a->n - r0);
    int32_t out[BLOCK];
    nearest_lists(v, w, a->rows + r0, m, 1, w->hd, w->hi, w->hr, out);
    for (size_t i = 0; i < m; i++) {
        a->list[r0 + i] = out[i];
        if (a->dist) a->dist[r0 + i] = w->hd[i];
    }
}

/* Norms of the centroids in the metric's form; cosine centroids are normalised first. */
static void centroid_norms(ivf *v) {
    const knn_build *b = v->b;
    size_t d = b->d;
    b->K->norms_sq(v->cent, d, v->L, d, v->crowa);
    if (b->metric != ASSAY_METRIC_COSINE) return;
    for (size_t c = 0; c < v->L; c++) {
        float nn = v->crowa[c];
        if (nn > 0.0f) {
            float s = 1.0f / sqrtf(nn);
            for (size_t j = 0; j < d; j++) v->cent[c * d + j] *= s;
        }
    }
    b->K->norms_sq(v->cent, d, v->L, d, v->crowa);
    for (size_t c = 0; c < v->L; c++)
        v->crowa[c] = v->crowa[c] > 0.0f ? 1.0f / sqrtf(v->crowa[c]) : 0.0f;
}

/* The centroids' norms, and their transpose for the fused kernel. */
static void centroids_changed(ivf *v) {
    centroid_norms(v);
    if (!v->fused) return;
    size_t d = v->b->d;
    for (size_t c = 0; c < v->L; c++)
        for (size_t j = 0; j < d; j++) v->ct[j * v->L + c] = v->cent[c * d + j];
}

static assay_status train(ivf *v) {
    knn_build *b = v->b;
    size_t d = b->d, T = min_sz(v->nu, TRAIN_PER_LIST * v->L);
    int32_t *rows = malloc(T * sizeof *rows), *list = malloc(T * sizeof *list);
    float *dist = malloc(T * sizeof *dist);
    double *acc = malloc(v->L * d * sizeof *acc);
    size_t *cnt = malloc(v->L * sizeof *cnt);
    assay_status s = ASSAY_OK;
    if (!rows || !list || !dist || !acc || !cnt) {
        s = assay__fail(b->ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
        goto done;
    }
    /* Evenly spaced rows: deterministic, and spread over data sorted by class. */
    for (size_t t = 0; t < T; t++) rows[t] = v->use[t * v->nu / T];
    for (size_t c = 0; c < v->L; c++)
        memcpy(v->cent + c * d, b->x + (size_t)rows[c * T / v->L] * b->ld, d * sizeof(float));
    centroids_changed(v);
    assign_job a = {v, rows, T, list, dist};
    size_t tasks = (T + BLOCK - 1) / BLOCK;
    for (int step = 0; step < KMEANS_STEPS; step++) {
        assay__progress(b->ctx, "knn-lists", (uint64_t)step, KMEANS_STEPS);
        if ((s = assay__parallel_for(b->ctx, tasks, v->workers, assign_task, &a)) != ASSAY_OK)
            goto done;
        memset(acc, 0, v->L * d * sizeof *acc);
        memset(cnt, 0, v->L * sizeof *cnt);
        for (size_t t = 0; t < T; t++) { /* in row order: the same sums for any thread count */
            const float *xr = b->x + (size_t)rows[t] * b->ld;
            double sc = b->metric == ASSAY_METRIC_COSINE ? (double)b->rowa[rows[t]] : 1.0;
            double *ac = acc + (size_t)list[t] * d;
            for (size_t j = 0; j < d; j++) ac[j] += sc * (double)xr[j];
            cnt[list[t]]++;
        }
        for (size_t c = 0; c < v->L; c++) {
            if (cnt[c] == 0) {
                /* An empty list takes the sample row farthest from its centroid. */
                size_t far = 0;
                for (size_t t = 1; t < T; t++)
                    if (dist[t] > dist[far]) far = t;
                memcpy(v->cent + c * d, b->x + (size_t)rows[far] * b->ld, d * sizeof(float));
                dist[far] = -1.0f;
                continue;
            }
            for (size_t j = 0; j < d; j++)
                v->cent[c * d + j] = (float)(acc[c * d + j] / (double)cnt[c]);
        }
        centroids_changed(v);
    }
    assay__progress(b->ctx, "knn-lists", KMEANS_STEPS, KMEANS_STEPS);
done:
    free(rows);
    free(list);
    free(dist);
    free(acc);
    free(cnt);
    return s;
}

/* ---- probes and lists ---- */

static void probe_task(void *arg, size_t task, int worker) {
    ivf *v = arg;
    ivf_ws *w = &v->ws[worker];
    size_t u0 = task * BLOCK, m = min_sz(BLOCK, v->nu - u0);
    nearest_lists(v, w, v->use + u0, m, v->p, w->hd, w->hi, w->hr, v->probe + u0 * v->p);
    tick(v);
}

/* Lists from the nearest probe of every row: counting sort, rows ascending within a list. */
static assay_status build_lists(ivf *v) {
    knn_build *b = v->b;
    v->off = calloc(v->L + 1, sizeof *v->off);
    v->perm = malloc(v->nu * sizeof *v->perm);
    v->lrow = malloc(v->nu * sizeof *v->lrow);
    if (!v->off || !v->perm || !v->lrow)
        return assay__fail(b->ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
    for (size_t u = 0; u < v->nu; u++) v->off[v->probe[u * v->p] + 1]++;
    for (size_t l = 0; l < v->L; l++) v->off[l + 1] += v->off[l];
    size_t *at = malloc(v->L * sizeof *at);
    if (!at) return assay__fail(b->ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
    memcpy(at, v->off, v->L * sizeof *at);
    for (size_t u = 0; u < v->nu; u++) v->perm[at[v->probe[u * v->p]]++] = (int32_t)u;
    free(at);
    for (size_t pos = 0; pos < v->nu; pos++) v->lrow[pos] = v->use[v->perm[pos]];
    /* One copy of the rows in list order, laid out for the kernel that reads it: the transposes
     * and gathers would otherwise be redone for every block that probes a list (a quarter of
     * the time on 200,000 x 128). */
    size_t d = b->d;
    void *xl = NULL;
    ASSAY_TRY(assay__bulk_alloc(b->ctx, (v->nu * d + 16) * sizeof(float),
                                "the approximate graph's copy of the rows", &xl));
    v->xl = xl; /* as large as the matrix: bulk memory (--memory-limit) */
    v->lrowa = malloc(v->nu * sizeof(float));
    if (!v->lrowa)
        return assay__fail(b->ctx, ASSAY_E_NOMEM,
                           "out of memory for the approximate graph's copy of the rows (%zu MiB)",
                           v->nu * d * sizeof(float) >> 20);
    for (size_t l = 0; l < v->L; l++) {
        size_t o = v->off[l], nl = v->off[l + 1] - o;
        float *dst = v->xl + o * d;
        for (size_t r = 0; r < nl; r++) {
            const float *src = b->x + (size_t)v->lrow[o + r] * b->ld;
            v->lrowa[o + r] = b->rowa[v->lrow[o + r]];
            if (v->fused)
                for (size_t c = 0; c < d; c++) dst[c * nl + r] = src[c];
            else
                memcpy(dst + r * d, src, d * sizeof(float));
        }
    }
    return ASSAY_OK;
}

/* ---- the candidate pass ---- */

/* One block of BLOCK rows in list order: every (list, row) probe pair, grouped by list; for
 * each list the rows that probe it are gathered (rows and heaps), compared with the list's rows,
 * and their heaps scattered back. */
static void pass_task(void *arg, size_t task, int worker) {
    ivf *v = arg;
    knn_build *b = v->b;
    ivf_ws *w = &v->ws[worker];
    size_t s0 = task * BLOCK, m = min_sz(BLOCK, v->nu - s0), p = v->p, kk = v->kk;
    /* counting sort of the block's probes by list */
    memset(w->cnt, 0, (v->L + 1) * sizeof *w->cnt);
    for (size_t i = 0; i < m; i++)
        for (size_t t = 0; t < p; t++) w->cnt[v->probe[(size_t)v->perm[s0 + i] * p + t] + 1]++;
    for (size_t l = 0; l < v->L; l++) w->cnt[l + 1] += w->cnt[l];
    for (size_t l = 0; l < v->L; l++) w->mark[l] = w->cnt[l];
    for (size_t i = 0; i < m; i++)
        for (size_t t = 0; t < p; t++) {
            int32_t l = v->probe[(size_t)v->perm[s0 + i] * p + t];
            w->sel[w->mark[l]++] = (int32_t)i;
        }
    int32_t rows[BLOCK];
    /* The lists the block's rows belong to first (a contiguous range: rows are in list order),
     * so heaps fill with near rows early and later lists offer fewer replacements. */
    size_t own0 = (size_t)v->probe[(size_t)v->perm[s0] * p];
    size_t own1 = (size_t)v->probe[(size_t)v->perm[s0 + m - 1] * p] + 1;
    for (size_t it = 0; it < v->L; it++) {
        size_t l =
            it < own1 - own0 ? own0 + it : (it - (own1 - own0) < own0 ? it - (own1 - own0) : it);
        size_t a = (size_t)w->cnt[l], e = (size_t)w->cnt[l + 1], mq = e - a;
        if (mq == 0 || v->off[l + 1] == v->off[l]) continue;
        for (size_t q = 0; q < mq; q++) {
            size_t i = (size_t)w->sel[a + q], pos = s0 + i;
            rows[q] = v->lrow[pos];
            memcpy(w->hd + q * kk, v->heaps.dist + pos * kk, kk * sizeof(float));
            memcpy(w->hi + q * kk, v->heaps.ids + pos * kk, kk * sizeof(int32_t));
            w->hr[q] = v->heaps.root[pos];
        }
        gather_queries(v, w, rows, mq);
        assay_topk h = {w->hd, w->hi, w->hr, kk, NEVER_SELF};
        /* base rows: the list's rows; ids: their positions in list order */
        size_t nl = v->off[l + 1] - v->off[l];
        offer(v, w, mq, v->xl + v->off[l] * b->d, b->d, v->lrowa + v->off[l], NULL, nl,
              (int64_t)v->off[l], &h, v->xl + v->off[l] * b->d, nl);
        for (size_t q = 0; q < mq; q++) {
            size_t pos = s0 + (size_t)w->sel[a + q];
            memcpy(v->heaps.dist + pos * kk, w->hd + q * kk, kk * sizeof(float));
            memcpy(v->heaps.ids + pos * kk, w->hi + q * kk, kk * sizeof(int32_t));
            v->heaps.root[pos] = w->hr[q];
        }
    }
    tick(v);
}

/* ---- exact re-ranking ---- */

/* Turns one row's heap (ids in list order when map != NULL, else rows) into its k nearest in
 * double precision, ties by the lower row: out_ids/out_dist (out_dist may be NULL). Returns the
 * number of candidates other than the row itself (the list is complete when >= k). */
static size_t finish_list(const ivf *v, ivf_ws *w, size_t row, const int32_t *hi,
                          const int32_t *map, int64_t *out_ids, float *out_dist) {
    const knn_build *b = v->b;
    size_t c = 0;
    for (size_t t = 0; t < v->kk; t++) {
        if (hi[t] < 0) continue;
        int64_t id = map ? map[hi[t]] : hi[t];
        if ((size_t)id != row) w->eid[c++] = id;
    }
    if (c < b->k) return c;
    assay__knn_exact_many(b, row, w->eid, c, w->ed);
    assay__knn_sort_pairs(w->ed, w->eid, c);
    for (size_t t = 0; t < b->k; t++) {
        out_ids[t] = w->eid[t];
        if (out_dist) out_dist[t] = (float)w->ed[t];
    }
    return c;
}

/* Brute-force lists (float32 candidates over every row, re-ranked in double) of rows[0..n). */
typedef struct brute_job {
    ivf *v;
    const int32_t *rows;
    size_t n;
    int64_t *ids; /* n x k */
    float *dist;  /* n x k, or NULL */
} brute_job;

static void brute_task(void *arg, size_t task, int worker) {
    brute_job *bj = arg;
    ivf *v = bj->v;
    knn_build *b = v->b;
    ivf_ws *w = &v->ws[worker];
    size_t r0 = task * BLOCK, m = min_sz(BLOCK, bj->n - r0), kk = v->kk;
    gather_queries(v, w, bj->rows + r0, m);
    heap_init(w->hd, w->hi, w->hr, m, kk);
    assay_topk h = {w->hd, w->hi, w->hr, kk, NEVER_SELF};
    offer(v, w, m, b->x, b->ld, b->rowa, b->pen, b->n, 0, &h, NULL, 0);
    for (size_t i = 0; i < m; i++)
        finish_list(v, w, (size_t)bj->rows[r0 + i], w->hi + i * kk, NULL, bj->ids + (r0 + i) * b->k,
                    bj->dist ? bj->dist + (r0 + i) * b->k : NULL);
}

static assay_status brute(ivf *v, const int32_t *rows, size_t n, int64_t *ids, float *dist) {
    brute_job bj = {v, rows, n, ids, dist};
    return assay__parallel_for(v->b->ctx, (n + BLOCK - 1) / BLOCK, v->workers, brute_task, &bj);
}

/* ---- samples ---- */

static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct keyed {
    uint64_t key;
    int32_t row;
} keyed;

static int keyed_cmp(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Two disjoint samples of the rows in the graph, in a pseudo-random order fixed by the row
 * numbers: the pilot's first, the measurement's after. */
static int32_t *samples(const ivf *v, size_t want) {
    keyed *kx = malloc(v->nu * sizeof *kx);
    int32_t *out = malloc((want ? want : 1) * sizeof *out);
    if (!kx || !out) {
        free(kx);
        free(out);
        return NULL;
    }
    for (size_t u = 0; u < v->nu; u++) kx[u] = (keyed){mix64(0xa55a7u ^ (uint64_t)u), v->use[u]};
    qsort(kx, v->nu, sizeof *kx, keyed_cmp);
    for (size_t t = 0; t < want; t++) out[t] = kx[t].row;
    free(kx);
    return out;
}

/* ---- probe count ---- */

/* The smallest p <= pmax at which, for the pilot rows, the share of exact neighbours whose list
 * is among the row's p nearest lists reaches `target`; 0 when none does. *est: that share. */
static assay_status choose_probes(ivf *v, const int32_t *pilot, size_t P, double target,
                                  size_t pmax, size_t *p_out, double *est) {
    knn_build *b = v->b;
    size_t k = b->k;
    int64_t *ids = malloc(P * k * sizeof *ids);
    int32_t *nb = malloc(P * k * sizeof *nb), *nl = malloc(P * k * sizeof *nl);
    int32_t *order = malloc(P * pmax * sizeof *order);
    uint32_t *hits = calloc(P * (pmax + 1), sizeof *hits); /* per row: found at rank t */
    assay_status s = ASSAY_OK;
    *p_out = 0;
    *est = 0.0;
    if (!ids || !nb || !nl || !order || !hits) {
        s = assay__fail(b->ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
        goto done;
    }
    if ((s = brute(v, pilot, P, ids, NULL)) != ASSAY_OK) goto done;
    for (size_t t = 0; t < P * k; t++) nb[t] = (int32_t)ids[t];
    assign_job a = {v, nb, P * k, nl, NULL};
    if ((s = assay__parallel_for(b->ctx, (P * k + BLOCK - 1) / BLOCK, v->workers, assign_task,
                                 &a)) != ASSAY_OK)
        goto done;
    for (size_t r0 = 0; r0 < P; r0 += BLOCK) {
        ivf_ws *w = &v->ws[0];
        nearest_lists(v, w, pilot + r0, min_sz(BLOCK, P - r0), pmax, w->hd, w->hi, w->hr,
                      order + r0 * pmax);
    }
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < k; j++)
            for (size_t t = 0; t < pmax; t++)
                if (order[i * pmax + t] == nl[i * k + j]) {
                    hits[i * (pmax + 1) + t + 1]++;
                    break;
                }
    /* The smallest p whose pilot recall is above the target by two standard errors (of the mean
     * of the rows' recalls: a row's neighbours share lists, so they are not independent).
     * Taking the first p that merely reaches the target on a sample undershoots it on the
     * rest about half the time. */
    for (size_t i = 0; i < P; i++)
        for (size_t p = 1; p <= pmax; p++) hits[i * (pmax + 1) + p] += hits[i * (pmax + 1) + p - 1];
    for (size_t p = 1; p <= pmax; p++) {
        double sum = 0.0, sq = 0.0;
        for (size_t i = 0; i < P; i++) {
            double r = (double)hits[i * (pmax + 1) + p] / (double)k;
            sum += r;
            sq += r * r;
        }
        double mean = sum / (double)P, var = sq / (double)P - mean * mean;
        double se = sqrt((var > 0.0 ? var : 0.0) / (double)P);
        *est = mean;
        if (mean - 2.0 * se >= target || mean >= 1.0) {
            *p_out = p;
            break;
        }
    }
done:
    free(ids);
    free(nb);
    free(nl);
    free(order);
    free(hits);
    return s;
}

/* ---- finishing ---- */

typedef struct finish_job {
    ivf *v;
    assay__graph *out;
    uint8_t *short_list; /* per position: fewer than k candidates */
} finish_job;

static void finish_task(void *arg, size_t task, int worker) {
    finish_job *f = arg;
    ivf *v = f->v;
    size_t k = v->b->k, p0 = task * BLOCK, p1 = min_sz(p0 + BLOCK, v->nu);
    for (size_t pos = p0; pos < p1; pos++) {
        size_t row = (size_t)v->lrow[pos];
        size_t c = finish_list(v, &v->ws[worker], row, v->heaps.ids + pos * v->kk, v->lrow,
                               f->out->ids + row * k, f->out->dist + row * k);
        f->short_list[pos] = c < k;
    }
}

static void ivf_free(ivf *v) {
    for (int w = 0; v->ws != NULL && w < v->workers; w++) {
        ivf_ws *x = &v->ws[w];
        free(x->tile);
        free(x->q);
        free(x->qa);
        free(x->ba);
        free(x->bpen);
        free(x->hd);
        free(x->hi);
        free(x->hr);
        free(x->ed);
        free(x->eid);
        free(x->mark);
        free(x->sel);
        free(x->cnt);
    }
    free(v->ws);
    pthread_mutex_destroy(&v->tick_lock);
    free(v->use);
    free(v->cent);
    free(v->crowa);
    free(v->zeros);
    free(v->probe);
    free(v->off);
    free(v->perm);
    free(v->lrow);
    assay__bulk_free(v->xl);
    free(v->lrowa);
    free(v->ct);
    free(v->heaps.dist);
    free(v->heaps.ids);
    free(v->heaps.root);
}

static int ws_alloc(ivf *v, size_t pmax) {
    size_t d = v->b->d, hk = v->kk > pmax ? v->kk : pmax;
    size_t tile = v->fused ? d * (CHUNK + 16) : (size_t)BLOCK * CHUNK;
    v->ws = calloc((size_t)v->workers, sizeof *v->ws);
    if (v->ws == NULL) return -1;
    for (int i = 0; i < v->workers; i++) {
        ivf_ws *w = &v->ws[i];
        w->tile = assay__aligned_alloc(tile * sizeof(float));
        w->q = assay__aligned_alloc((size_t)BLOCK * d * sizeof(float));
        w->qa = malloc(BLOCK * sizeof(float));
        w->ba = malloc(CHUNK * sizeof(float));
        w->bpen = malloc(CHUNK * sizeof(float));
        w->hd = malloc((size_t)BLOCK * hk * sizeof(float));
        w->hi = malloc((size_t)BLOCK * hk * sizeof(int32_t));
        w->hr = malloc(BLOCK * sizeof(float));
        w->ed = malloc(hk * sizeof(double));
        w->eid = malloc(hk * sizeof(int64_t));
        w->mark = malloc(v->L * sizeof(int32_t));
        w->sel = malloc((size_t)BLOCK * pmax * sizeof(int32_t));
        w->cnt = malloc((v->L + 1) * sizeof(int32_t));
        if (!w->tile || !w->q || !w->qa || !w->ba || !w->bpen || !w->hd || !w->hi || !w->hr ||
            !w->ed || !w->eid || !w->mark || !w->sel || !w->cnt)
            return -1;
    }
    return 0;
}

static assay_status exact_instead(assay_ctx *ctx, const float *x, size_t n, size_t d, size_t ld,
                                  const uint8_t *in_graph, size_t k, assay_metric metric,
                                  assay__graph *out, assay__approx_info info) {
    assay_status s = assay__knn_build(ctx, x, n, d, ld, in_graph, k, metric, NULL, out);
    if (s == ASSAY_OK) {
        out->approx = info;
        out->approx.requested = 1;
    }
    return s;
}

assay_status assay__knn_build_approx(assay_ctx *ctx, const float *x, size_t n, size_t d, size_t ld,
                                     const uint8_t *in_graph, size_t k, assay_metric metric,
                                     double target, assay__graph *out) {
    memset(out, 0, sizeof *out);
    assay__approx_info info;
    memset(&info, 0, sizeof info);
    info.target = target;
    size_t nu = 0;
    for (size_t i = 0; i < n; i++) nu += in_graph[i] != 0;
    size_t L = (size_t)lround(4.0 * sqrt((double)nu)), pmax = min_sz(MAX_PROBES, L / 16);
    info.lists = (uint32_t)L;
    if (nu < MIN_APPROX_ROWS || pmax < 1 || k == 0 || nu <= k || n > (size_t)INT32_MAX ||
        (metric != ASSAY_METRIC_L2 && metric != ASSAY_METRIC_COSINE) || !(target > 0.0) ||
        ld > (size_t)INT32_MAX || d > (size_t)INT32_MAX) {
        /* too few rows to gain anything, or arguments the exact builder reports */
        info.fallback = ASSAY__APPROX_FEW_ROWS;
        return exact_instead(ctx, x, n, d, ld, in_graph, k, metric, out, info);
    }

    knn_build b;
    assay__knn_build_init(&b, ctx, x, n, d, ld, in_graph, k, metric);
    ivf v;
    memset(&v, 0, sizeof v);
    if (pthread_mutex_init(&v.tick_lock, NULL) != 0)
        return assay__fail(ctx, ASSAY_E_THREAD, "cannot create a mutex");
    v.b = &b;
    v.nu = nu;
    v.L = L;
    v.kk = k + (k > 8 ? k : 8) + 1; /* + 1: a row meets itself in its own list */
    v.fused = d <= ASSAY__KNN_FUSED_MAX_D;
    v.workers = ctx->n_threads < 1 ? 1 : ctx->n_threads;
    size_t nz = L > CHUNK ? L : CHUNK;
    float *rowa = malloc(n * sizeof *rowa), *pen = malloc(n * sizeof *pen);
    int32_t *smp = NULL;
    int64_t *sids = NULL;
    uint8_t *short_list = NULL;
    v.use = malloc(nu * sizeof *v.use);
    v.cent = malloc(L * d * sizeof *v.cent);
    v.crowa = malloc(L * sizeof *v.crowa);
    v.zeros = calloc(nz, sizeof *v.zeros);
    v.ct = v.fused ? malloc(L * d * sizeof *v.ct) : NULL;
    assay_status s = ASSAY_OK;
    int blas = 0;
    if (!rowa || !pen || !v.use || !v.cent || !v.crowa || !v.zeros || (v.fused && !v.ct) ||
        ws_alloc(&v, pmax) != 0) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
        goto done;
    }
    b.K->norms_sq(x, ld, n, d, rowa);
    for (size_t i = 0, u = 0; i < n; i++) {
        pen[i] = in_graph[i] ? 0.0f : INFINITY;
        if (in_graph[i]) v.use[u++] = (int32_t)i;
        /* float32 distances of such rows overflow: only the exact graph's exhaustive double
         * search ranks them */
        if (in_graph[i] && !(rowa[i] <= 1e30f)) info.fallback = ASSAY__APPROX_RANGE;
        if (metric == ASSAY_METRIC_COSINE) rowa[i] = rowa[i] > 0.0f ? 1.0f / sqrtf(rowa[i]) : 0.0f;
    }
    b.rowa = rowa;
    b.pen = pen;
    if (info.fallback != ASSAY__APPROX_NONE) goto done;
    assay__blas_single_begin();
    blas = 1;
    double t0 = assay__now();
    if ((s = train(&v)) != ASSAY_OK) goto done;
    size_t P = min_sz(PILOT_ROWS, nu / 4), S = min_sz(SAMPLE_ROWS, nu / 4);
    if ((smp = samples(&v, P + S)) == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
        goto done;
    }
    size_t p;
    double est;
    if ((s = choose_probes(&v, smp, P, target, pmax, &p, &est)) != ASSAY_OK) goto done;
    info.pilot_rows = (uint32_t)P;
    info.pilot_recall = est;
    info.max_probes = (uint32_t)pmax;
    info.t_train = assay__now() - t0;
    if (p == 0) { /* the target needs most lists: the exact graph costs no more */
        info.fallback = ASSAY__APPROX_PROBES;
        goto done;
    }
    v.p = p;
    info.probes = (uint32_t)p;
    double t1 = assay__now();
    size_t nblocks = (nu + BLOCK - 1) / BLOCK;
    v.probe = malloc(nu * p * sizeof *v.probe);
    if (v.probe == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
        goto done;
    }
    v.n_ticks = 2 * nblocks;
    if ((s = assay__parallel_for(ctx, nblocks, v.workers, probe_task, &v)) != ASSAY_OK) goto done;
    if ((s = build_lists(&v)) != ASSAY_OK) goto done;
    v.heaps.kk = v.kk;
    v.heaps.dist = malloc(nu * v.kk * sizeof(float));
    v.heaps.ids = malloc(nu * v.kk * sizeof(int32_t));
    v.heaps.root = malloc(nu * sizeof(float));
    out->ids = malloc(n * k * sizeof *out->ids);
    out->dist = malloc(n * k * sizeof *out->dist);
    short_list = calloc(nu, 1);
    if (!v.heaps.dist || !v.heaps.ids || !v.heaps.root || !out->ids || !out->dist || !short_list) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
        goto done;
    }
    heap_init(v.heaps.dist, v.heaps.ids, v.heaps.root, nu, v.kk);
    if ((s = assay__parallel_for(ctx, nblocks, v.workers, pass_task, &v)) != ASSAY_OK) goto done;
    double t2 = assay__now();
    out->n = n;
    out->k = k;
    out->metric = metric;
    for (size_t i = 0; i < n; i++)
        if (!in_graph[i])
            for (size_t c = 0; c < k; c++) {
                out->ids[i * k + c] = -1;
                out->dist[i * k + c] = NAN;
            }
    finish_job fj = {&v, out, short_list};
    if ((s = assay__parallel_for(ctx, nblocks, v.workers, finish_task, &fj)) != ASSAY_OK) goto done;
    /* Rows whose probed lists hold fewer than k other rows: searched by brute force. */
    size_t n_short = 0;
    for (size_t pos = 0; pos < nu; pos++)
        if (short_list[pos]) v.lrow[n_short++] = v.lrow[pos]; /* lrow is no longer needed */
    if (n_short > 0) {
        int64_t *ids = malloc(n_short * k * sizeof *ids);
        float *dist = malloc(n_short * k * sizeof *dist);
        if (!ids || !dist) {
            free(ids);
            free(dist);
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
            goto done;
        }
        s = brute(&v, v.lrow, n_short, ids, dist);
        for (size_t t = 0; s == ASSAY_OK && t < n_short; t++) {
            memcpy(out->ids + (size_t)v.lrow[t] * k, ids + t * k, k * sizeof *ids);
            memcpy(out->dist + (size_t)v.lrow[t] * k, dist + t * k, k * sizeof *dist);
        }
        free(ids);
        free(dist);
        if (s != ASSAY_OK) goto done;
    }
    info.short_rows = n_short;
    double t3 = assay__now();
    /* The graph's recall, measured on rows the pilot did not see. */
    if ((sids = malloc((S ? S : 1) * k * sizeof *sids)) == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the approximate graph");
        goto done;
    }
    if ((s = brute(&v, smp + P, S, sids, NULL)) != ASSAY_OK) goto done;
    size_t found = 0, full = 0;
    for (size_t t = 0; t < S; t++) {
        const int64_t *g = out->ids + (size_t)smp[P + t] * k, *e = sids + t * k;
        size_t f = 0;
        for (size_t a = 0; a < k; a++)
            for (size_t c = 0; c < k; c++)
                if (g[a] == e[c]) {
                    f++;
                    break;
                }
        found += f;
        full += f == k;
    }
    info.sample_rows = (uint32_t)S;
    info.recall = S ? (double)found / (double)(S * k) : 1.0;
    info.rows_exact = S ? (double)full / (double)S : 1.0;
    info.t_recall = assay__now() - t3;
    out->t_candidates = t2 - t1;
    out->t_rerank = t3 - t2;
    out->precision = ASSAY_PRECISION_FP32;
    out->requested = ctx->precision;
    out->kernels = b.K->name;
    info.requested = 1;
    info.used = 1;
    out->approx = info;
done:
    if (blas) assay__blas_single_end();
    ivf_free(&v);
    free(rowa);
    free(pen);
    free(smp);
    free(sids);
    free(short_list);
    if (s != ASSAY_OK) assay__graph_free(out);
    if (s == ASSAY_OK && info.fallback != ASSAY__APPROX_NONE)
        return exact_instead(ctx, x, n, d, ld, in_graph, k, metric, out, info);
    return s;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Exact re-ranking of the float32 candidates. Float distances from a GEMM differ from the exact
 * ones by at most a bound E (assay__knn_error_bound), so for each row:
 *   - only candidates within 2E of the k-th float distance can be in the exact top k: they are
 *     re-measured in double precision and ranked by (distance, id);
 *   - every row that is not a candidate has a float distance >= the heap's worst kept one (root),
 *     hence an exact one >= root - E; if that is above the exact k-th distance, the list is
 *     certified exact;
 *   - otherwise (near-ties around the k-th, clusters of duplicates) a radius pass collects every
 *     row whose float distance is within the exact k-th + E over the whole dataset and ranks
 *     them exactly; a row with more such candidates than the pass keeps is searched
 *     exhaustively in double precision.
 * The result is the same as a double-precision brute force, ties broken by the lower id. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "graph/knn_internal.h"

enum {
    FINISH_ROWS = 256, /* rows per task when finishing lists */
    RADIUS_ROWS = 256, /* rows per task of the radius pass */
    RADIUS_CAP = 512,  /* candidates kept per row by the radius pass */
    LOWP_COLS = 512    /* columns per tile of the reduced-precision radius pass (whole panels) */
};

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

/* assay__distance_exact of a against four rows at once, each sum in the same order as there (so
 * the same bits): four independent chains of additions instead of one, a quarter of the latency
 * per distance in the re-ranking. */
static void distance_exact4(const float *a, const float *const b[4], size_t d, assay_metric metric,
                            double out[4]) {
    if (metric == ASSAY_METRIC_L2) {
        double s[4] = {0.0, 0.0, 0.0, 0.0};
        for (size_t j = 0; j < d; j++) {
            double x = (double)a[j];
            for (int c = 0; c < 4; c++) {
                double t = x - (double)b[c][j];
                s[c] += t * t;
            }
        }
        for (int c = 0; c < 4; c++) out[c] = s[c];
        return;
    }
    double dot[4] = {0.0, 0.0, 0.0, 0.0}, na = 0.0, nb[4] = {0.0, 0.0, 0.0, 0.0};
    for (size_t j = 0; j < d; j++) {
        double x = (double)a[j];
        na += x * x;
        for (int c = 0; c < 4; c++) {
            double y = (double)b[c][j];
            dot[c] += x * y;
            nb[c] += y * y;
        }
    }
    for (int c = 0; c < 4; c++) {
        if (na == 0.0 || nb[c] == 0.0) {
            out[c] = 1.0;
            continue;
        }
        double v = 1.0 - dot[c] / sqrt(na * nb[c]);
        out[c] = v > 0.0 ? v : 0.0;
    }
}

double assay__knn_error_bound(const knn_build *b, size_t q) {
    /* Unit roundoff u; a dot product of d terms in any order is within gamma_{d} |q||b| of the
     * exact one (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); the norms carry
     * the same relative error and the finish adds a few roundings of magnitude (|q| + |b|)^2
     * (l2) or 1 (cosine). A 1% margin covers the second-order terms. */
    const double u = ldexp(1.0, -24), nd = (double)b->d + 2.0, g = nd * u / (1.0 - nd * u);
    if (b->metric == ASSAY_METRIC_COSINE) return 1.01 * (2.0 * g + 8.0 * u) + 1e-30;
    double s = (sqrt((double)b->rowa[q]) + b->max_norm) * (1.0 + g);
    return 1.01 * (g + 2.0 * u) * s * s + 1e-30;
}

/* Sorts pairs by distance, then id (short lists: insertion sort). */
void assay__knn_sort_pairs(double *dd, int64_t *ii, size_t n) {
    for (size_t a = 1; a < n; a++) {
        double dv = dd[a];
        int64_t iv = ii[a];
        size_t c = a;
        while (c > 0 && (dd[c - 1] > dv || (dd[c - 1] == dv && ii[c - 1] > iv))) {
            dd[c] = dd[c - 1];
            ii[c] = ii[c - 1];
            c--;
        }
        dd[c] = dv;
        ii[c] = iv;
    }
}

/* Scratch of one worker: float and exact distances and ids of one row's candidates. */
typedef struct rerank_ws {
    double *fd, *ed, *bd; /* bd, bi: the exact top k so far (reduced-precision rows) */
    int64_t *ids, *bi;
} rerank_ws;

typedef struct rerank_job {
    knn_build *b;
    assay__graph *out;
    double *radius;       /* per row: > 0 when the row needs the radius pass */
    double *kth;          /* after a reduced-precision pass: the exact k-th distance so far */
    struct rerank_ws *ws; /* per worker */
    size_t cap;
    const size_t *pending; /* radius pass: the rows, in order */
    size_t n_pending;
    float **tiles; /* radius pass, per worker */
    int64_t **cand;
} rerank_job;

static void write_list(const rerank_job *j, size_t row, const double *dd, const int64_t *ii) {
    size_t k = j->b->k;
    for (size_t c = 0; c < k; c++) {
        j->out->ids[row * k + c] = ii[c];
        j->out->dist[row * k + c] = (float)dd[c];
    }
}

/* A row out of the graph, or outside a shard's rows: no list. */
static void clear_list(const rerank_job *j, size_t row) {
    for (size_t c = 0; c < j->b->k; c++) {
        j->out->ids[row * j->b->k + c] = -1;
        j->out->dist[row * j->b->k + c] = NAN;
    }
}

static double exact(const knn_build *b, size_t row, int64_t id) {
    return assay__distance_exact(b->x + row * b->ld, b->x + (size_t)id * b->ld, b->d, b->metric);
}

/* ed[t] = exact(b, row, ids[t]) for t < cnt, four at a time. */
void assay__knn_exact_many(const knn_build *b, size_t row, const int64_t *ids, size_t cnt,
                           double *ed) {
    const float *q = b->x + row * b->ld;
    size_t t = 0;
    for (; t + 4 <= cnt; t += 4) {
        const float *r[4];
        for (int c = 0; c < 4; c++) r[c] = b->x + (size_t)ids[t + c] * b->ld;
        distance_exact4(q, r, b->d, b->metric, ed + t);
    }
    for (; t < cnt; t++) ed[t] = exact(b, row, ids[t]);
}

/* finish_row after a reduced-precision pass, whose heaps hold lower bounds L <= distance + e
 * (the per-pair term already subtracted). Candidates are measured exactly in increasing L, four
 * at a time, keeping the exact top k; once the next L - e exceeds the k-th exact distance so
 * far, no later candidate can enter. Every row not kept has L >= the heap's root, so the list is
 * certified when root - e exceeds the exact k-th distance. */
static int certify_lowp(const knn_build *b, size_t row, const float *hd, const int32_t *hi,
                        rerank_ws *w) {
    size_t kk = b->heaps.kk, k = b->k, c = 0, have = 0;
    double *fd = w->fd, *ed = w->ed, *bd = w->bd;
    int64_t *ids = w->ids, *bi = w->bi;
    for (size_t s = 0; s < kk; s++) {
        if (hi[s] < 0) continue;
        fd[c] = hd[s];
        ids[c++] = hi[s];
    }
    assay__knn_sort_pairs(fd, ids, c);
    double e = assay__knn_lowp_finish_bound(b, row);
    for (size_t t = 0; t < c; t += 4) {
        if (have == k && fd[t] - e > bd[k - 1]) break;
        size_t cnt = c - t < 4 ? c - t : 4;
        assay__knn_exact_many(b, row, ids + t, cnt, ed);
        for (size_t u = 0; u < cnt; u++) { /* insert (ed[u], ids[t+u]) into the sorted top k */
            double v = ed[u];
            int64_t id = ids[t + u];
            if (have == k && !(v < bd[k - 1] || (v == bd[k - 1] && id < bi[k - 1]))) continue;
            size_t p = have < k ? have++ : k - 1;
            while (p > 0 && (bd[p - 1] > v || (bd[p - 1] == v && bi[p - 1] > id))) {
                bd[p] = bd[p - 1];
                bi[p] = bi[p - 1];
                p--;
            }
            bd[p] = v;
            bi[p] = id;
        }
    }
    /* c >= k: every row in the graph but this one was offered. hd[0] is the heap's root. */
    return c < kk || hd[0] - e > bd[k - 1];
}

static int finish_row_lowp(rerank_job *j, size_t row, rerank_ws *w) {
    const knn_build *b = j->b;
    size_t kk = b->heaps.kk;
    if (certify_lowp(b, row, b->heaps.dist + row * kk, b->heaps.ids + row * kk, w)) {
        write_list(j, row, w->bd, w->bi);
        return 1;
    }
    j->radius[row] = w->bd[b->k - 1] + assay__knn_error_bound(b, row);
    j->kth[row] = w->bd[b->k - 1];
    return 0;
}

enum { PILOT_CHUNKS = 4, PILOT_ROWS = 64, PILOT_COLS = 512 };

typedef struct pilot_job {
    knn_build *b;
    size_t sampled[PILOT_CHUNKS], certified[PILOT_CHUNKS];
} pilot_job;

/* Pilot chunk ch: PILOT_ROWS rows from the middle of the ch-th quarter, their candidates among
 * every row by the reduced-precision pass, then certified as the re-ranking would. Out of memory
 * counts the chunk's rows as not certified. */
static void pilot_task(void *arg, size_t ch, int worker) {
    (void)worker;
    pilot_job *J = arg;
    knn_build *b = J->b;
    size_t kk = b->heaps.kk, n = b->n, cap = RADIUS_CAP > kk ? RADIUS_CAP : kk;
    float *hd = malloc(PILOT_ROWS * kk * sizeof *hd), *root = malloc(PILOT_ROWS * sizeof *root);
    int32_t *hi = malloc(PILOT_ROWS * kk * sizeof *hi);
    float *t = assay__aligned_alloc(PILOT_ROWS * PILOT_COLS * sizeof *t);
    rerank_ws w = {malloc(cap * sizeof(double)), malloc(cap * sizeof(double)),
                   malloc((b->k + 4) * sizeof(double)), malloc(cap * sizeof(int64_t)),
                   malloc((b->k + 4) * sizeof(int64_t))};
    int cosine = b->metric == ASSAY_METRIC_COSINE;
    if (hd && root && hi && t && w.fd && w.ed && w.bd && w.ids && w.bi) {
        size_t i0 = n * (2 * ch + 1) / (2 * PILOT_CHUNKS), m = PILOT_ROWS;
        if (i0 + m > n) m = n - i0;
        for (size_t r = 0; r < m * kk; r++) {
            hd[r] = INFINITY;
            hi[r] = -1;
        }
        for (size_t r = 0; r < m; r++) root[r] = INFINITY;
        assay_topk h = {hd, hi, root, kk, (int64_t)i0};
        for (size_t j0 = 0; j0 < n; j0 += PILOT_COLS) {
            size_t nj = n - j0 < PILOT_COLS ? n - j0 : PILOT_COLS;
            assay__knn_lowp_tile(b, t, i0, m, j0, nj);
            if (cosine)
                b->K->tile_cos(t, nj, m, nj, b->rowa + i0, b->rowa + j0, b->pen + i0, b->pen + j0);
            else
                b->K->tile_l2(t, nj, m, nj, b->rowa + i0, b->rowa + j0, b->pen + i0, b->pen + j0);
            assay__knn_lowp_lower(b, t, i0, m, j0, nj);
            b->K->select_tile(t, nj, m, nj, (int64_t)j0, &h, NULL);
        }
        for (size_t r = 0; r < m; r++) {
            if (!b->in_graph[i0 + r]) continue;
            J->sampled[ch]++;
            J->certified[ch] += (size_t)certify_lowp(b, i0 + r, hd + r * kk, hi + r * kk, &w);
        }
    }
    free(hd);
    free(root);
    free(hi);
    free(t);
    free(w.fd);
    free(w.ed);
    free(w.bd);
    free(w.ids);
    free(w.bi);
}

size_t assay__knn_lowp_pilot(knn_build *b, size_t *sampled) {
    pilot_job J;
    memset(&J, 0, sizeof J);
    J.b = b;
    /* the chunks on the context's threads; the counts are sums, whatever ran where */
    (void)assay__parallel_for(b->ctx, PILOT_CHUNKS, b->ctx->n_threads, pilot_task, &J);
    size_t certified = 0;
    *sampled = 0;
    for (size_t ch = 0; ch < PILOT_CHUNKS; ch++) {
        *sampled += J.sampled[ch];
        certified += J.certified[ch];
    }
    return certified;
}

/* Finishes one row from its heap; returns 0 when it needs the radius pass (radius set). */
static int finish_row(rerank_job *j, size_t row, double *fd, double *ed, int64_t *ids) {
    const knn_build *b = j->b;
    size_t kk = b->heaps.kk, k = b->k, c = 0;
    for (size_t s = 0; s < kk; s++) {
        int64_t id = b->heaps.ids[row * kk + s];
        if (id < 0) continue;
        fd[c] = b->heaps.dist[row * kk + s];
        ids[c++] = id;
    }
    assay__knn_sort_pairs(fd, ids, c);
    /* Every row in the graph but this one was offered, so c >= k (the build checks usable > k);
     * with a free slot left, every one of them is a candidate and the ranking is complete. */
    double e = assay__knn_error_bound(b, row), fk = fd[k - 1];
    size_t s = k;
    while (s < c && fd[s] <= fk + 2.0 * e) s++;
    assay__knn_exact_many(b, row, ids, s, ed);
    assay__knn_sort_pairs(ed, ids, s);
    double dk = ed[k - 1];
    if (c < kk || fd[c - 1] - e > dk) {
        write_list(j, row, ed, ids);
        return 1;
    }
    j->radius[row] = dk + e;
    return 0;
}

static void finish_task(void *arg, size_t task, int worker) {
    rerank_job *j = arg;
    const knn_build *b = j->b;
    size_t r0 = b->q0 + task * FINISH_ROWS, r1 = r0 + FINISH_ROWS;
    if (r1 > b->q1) r1 = b->q1;
    double *fd = j->ws[worker].fd, *ed = j->ws[worker].ed;
    int64_t *ids = j->ws[worker].ids;
    for (size_t row = r0; row < r1; row++) {
        j->radius[row] = 0.0;
        if (!b->in_graph[row]) {
            clear_list(j, row);
            continue;
        }
        if (b->lowp.prec != ASSAY_PRECISION_FP32)
            finish_row_lowp(j, row, &j->ws[worker]);
        else
            finish_row(j, row, fd, ed, ids);
    }
}

/* Exhaustive exact search for one row: every row in the graph, in double precision. */
static void exhaustive_row(rerank_job *j, size_t row, double *ed, int64_t *ids) {
    const knn_build *b = j->b;
    size_t k = b->k, have = 0;
    for (size_t o = 0; o < b->n; o++) {
        if (o == row || !b->in_graph[o]) continue;
        double v = exact(b, row, (int64_t)o);
        if (have == k && !(v < ed[k - 1])) continue; /* ties keep the lower id, seen first */
        size_t c = have < k ? have++ : k - 1;
        while (c > 0 && ed[c - 1] > v) {
            ed[c] = ed[c - 1];
            ids[c] = ids[c - 1];
            c--;
        }
        ed[c] = v;
        ids[c] = (int64_t)o;
    }
    write_list(j, row, ed, ids);
}

/* The float32 radius pass of rows[0, m): every row whose float distance is within the row's
 * radius (its exact k-th distance + the float32 bound), counted in cnt[u] and, up to the cap,
 * kept in cand[u * cap ...]. */
static void radius_f32(rerank_job *j, const size_t *rows, size_t m, size_t *cnt, int64_t *cand,
                       float *t) {
    const knn_build *b = j->b;
    int cosine = b->metric == ASSAY_METRIC_COSINE;
    float *q = t + RADIUS_ROWS * b->base_rows; /* gathered rows, then their norms and pens */
    float *qa = q + RADIUS_ROWS * b->d, *qpen = qa + RADIUS_ROWS;
    for (size_t u = 0; u < m; u++) {
        memcpy(q + u * b->d, b->x + rows[u] * b->ld, b->d * sizeof *q);
        qa[u] = b->rowa[rows[u]];
        qpen[u] = 0.0f;
    }
    for (size_t b0 = 0; b0 < b->n; b0 += b->base_rows) {
        size_t nb = b->n - b0 < b->base_rows ? b->n - b0 : b->base_rows;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nb, (int)b->d,
                    cosine ? 1.0f : -2.0f, q, (int)b->d, b->x + b0 * b->ld, (int)b->ld, 0.0f, t,
                    (int)nb);
        if (cosine)
            b->K->tile_cos(t, nb, m, nb, qa, b->rowa + b0, qpen, b->pen + b0);
        else
            b->K->tile_l2(t, nb, m, nb, qa, b->rowa + b0, qpen, b->pen + b0);
        for (size_t u = 0; u < m; u++) {
            double r = j->radius[rows[u]];
            const float *tr = t + u * nb;
            for (size_t c = 0; c < nb; c++) {
                if (!((double)tr[c] <= r) || b0 + c == rows[u]) continue;
                if (cnt[u] < j->cap) cand[u * j->cap + cnt[u]] = (int64_t)(b0 + c);
                cnt[u]++;
            }
        }
    }
}

/* After a reduced-precision candidate pass, the same search in that pass's arithmetic (int8 or
 * bf16 tiles, up to four times the float32 rate): a row y is a candidate unless its lower bound
 * L(q, y) - e exceeds q's exact k-th distance, e the finish bound, exactly the test that could not
 * certify q's list (certify_lowp). Every row at or within the k-th exact distance passes it, so
 * the exact ranking of the candidates is the exact list. Returns 0, or -1 when the tiles do not
 * fit in t or memory is short (the caller runs the float32 pass instead). */
static int radius_lowp(rerank_job *j, const size_t *rows, size_t m, size_t *cnt, int64_t *cand,
                       float *t) {
    const knn_build *b = j->b;
    size_t cols =
        b->base_rows < LOWP_COLS ? b->base_rows / ASSAY_PANEL_ROWS * ASSAY_PANEL_ROWS : LOWP_COLS;
    knn_lowp_rows g;
    if (cols == 0 || assay__knn_lowp_gather(b, rows, m, &g) != ASSAY_OK) return -1;
    int cosine = b->metric == ASSAY_METRIC_COSINE;
    float qa[RADIUS_ROWS], qpen[RADIUS_ROWS];
    double kth[RADIUS_ROWS], e[RADIUS_ROWS];
    for (size_t u = 0; u < m; u++) {
        qa[u] = b->rowa[rows[u]];
        qpen[u] = 0.0f;
        kth[u] = j->kth[rows[u]];
        e[u] = assay__knn_lowp_finish_bound(b, rows[u]);
    }
    for (size_t j0 = 0; j0 < b->n; j0 += cols) {
        size_t nj = b->n - j0 < cols ? b->n - j0 : cols;
        assay__knn_lowp_tile_rows(b, t, &g, j0, nj);
        if (cosine)
            b->K->tile_cos(t, nj, m, nj, qa, b->rowa + j0, qpen, b->pen + j0);
        else
            b->K->tile_l2(t, nj, m, nj, qa, b->rowa + j0, qpen, b->pen + j0);
        assay__knn_lowp_lower_rows(b, t, rows, m, j0, nj);
        for (size_t u = 0; u < m; u++) {
            const float *tr = t + u * nj;
            for (size_t c = 0; c < nj; c++) {
                if ((double)tr[c] - e[u] > kth[u] || j0 + c == rows[u]) continue;
                if (cnt[u] < j->cap) cand[u * j->cap + cnt[u]] = (int64_t)(j0 + c);
                cnt[u]++;
            }
        }
    }
    assay__knn_lowp_rows_free(&g);
    return 0;
}

/* The lists of rows[0, m) from their radius candidates: ranked exactly, or searched
 * exhaustively when the pass found fewer than k or more than it keeps (with `defer`, rows with
 * more are left for another pass). */
static void radius_lists(rerank_job *j, const size_t *rows, size_t m, const size_t *cnt,
                         const int64_t *cand, int worker, int defer) {
    const knn_build *b = j->b;
    double *ed = j->ws[worker].ed;
    int64_t *ids = j->ws[worker].ids;
    for (size_t u = 0; u < m; u++) {
        if (defer && cnt[u] > j->cap) continue;
        if (cnt[u] > j->cap || cnt[u] < b->k) {
            exhaustive_row(j, rows[u], ed, ids);
            j->radius[rows[u]] = -1.0; /* marks the exhaustive ones for the statistics */
            continue;
        }
        for (size_t c = 0; c < cnt[u]; c++) ids[c] = cand[u * j->cap + c];
        assay__knn_exact_many(b, rows[u], ids, cnt[u], ed);
        assay__knn_sort_pairs(ed, ids, cnt[u]);
        write_list(j, rows[u], ed, ids);
    }
}

static void radius_task(void *arg, size_t task, int worker) {
    rerank_job *j = arg;
    const knn_build *b = j->b;
    size_t p0 = task * RADIUS_ROWS,
           m = j->n_pending - p0 < RADIUS_ROWS ? j->n_pending - p0 : RADIUS_ROWS;
    const size_t *rows = j->pending + p0;
    float *t = j->tiles[worker];
    int64_t *cand = j->cand[worker];
    size_t cnt[RADIUS_ROWS] = {0};
    if (b->lowp.prec != ASSAY_PRECISION_FP32 && radius_lowp(j, rows, m, cnt, cand, t) == 0) {
        /* rows whose reduced-precision candidates overflow the cap get the float32 pass, whose
         * bound is tighter, before an exhaustive search */
        radius_lists(j, rows, m, cnt, cand, worker, 1);
        size_t redo[RADIUS_ROWS], n_redo = 0;
        for (size_t u = 0; u < m; u++)
            if (cnt[u] > j->cap) redo[n_redo++] = rows[u];
        if (n_redo == 0) return;
        memset(cnt, 0, sizeof cnt);
        radius_f32(j, redo, n_redo, cnt, cand, t);
        radius_lists(j, redo, n_redo, cnt, cand, worker, 0);
        return;
    }
    radius_f32(j, rows, m, cnt, cand, t);
    radius_lists(j, rows, m, cnt, cand, worker, 0);
}

assay_status assay__knn_rerank(knn_build *b, assay__graph *out) {
    assay_ctx *ctx = b->ctx;
    size_t nk;
    if (assay__mul_overflows(b->n, b->k, &nk))
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
    rerank_job j;
    memset(&j, 0, sizeof j);
    j.b = b;
    j.out = out;
    j.cap = RADIUS_CAP > b->heaps.kk ? RADIUS_CAP : b->heaps.kk;
    out->ids = malloc(nk * sizeof *out->ids);
    out->dist = malloc(nk * sizeof *out->dist);
    j.radius = calloc(b->n ? b->n : 1, sizeof *j.radius);
    j.kth = calloc(b->n ? b->n : 1, sizeof *j.kth);
    j.ws = calloc((size_t)b->workers, sizeof *j.ws);
    j.tiles = calloc((size_t)b->workers, sizeof *j.tiles);
    j.cand = calloc((size_t)b->workers, sizeof *j.cand);
    size_t *pending = NULL;
    assay_status s = ASSAY_OK;
    if (!out->ids || !out->dist || !j.radius || !j.kth || !j.ws || !j.tiles || !j.cand) goto nomem;
    for (int w = 0; w < b->workers; w++) {
        j.ws[w].fd = malloc(j.cap * sizeof(double));
        j.ws[w].ed = malloc(j.cap * sizeof(double));
        j.ws[w].ids = malloc(j.cap * sizeof(int64_t));
        j.ws[w].bd = malloc((b->k + 4) * sizeof(double));
        j.ws[w].bi = malloc((b->k + 4) * sizeof(int64_t));
        if (!j.ws[w].fd || !j.ws[w].ed || !j.ws[w].ids || !j.ws[w].bd || !j.ws[w].bi) goto nomem;
    }
    for (size_t r = 0; r < b->n; r++)
        if (r < b->q0 || r >= b->q1) clear_list(&j, r);
    s = assay__parallel_for(ctx, (b->q1 - b->q0 + FINISH_ROWS - 1) / FINISH_ROWS, b->workers,
                            finish_task, &j);
    if (s != ASSAY_OK) goto done;

    size_t n_pending = 0;
    for (size_t r = 0; r < b->n; r++) n_pending += j.radius[r] > 0.0;
    if (n_pending > 0) {
        pending = malloc(n_pending * sizeof *pending);
        if (pending == NULL) goto nomem;
        n_pending = 0;
        for (size_t r = 0; r < b->n; r++)
            if (j.radius[r] > 0.0) pending[n_pending++] = r;
        j.pending = pending;
        j.n_pending = n_pending;
        size_t tile_floats = RADIUS_ROWS * (b->base_rows + b->d + 2);
        for (int w = 0; w < b->workers; w++) {
            j.tiles[w] = assay__aligned_alloc(tile_floats * sizeof(float));
            j.cand[w] = malloc(RADIUS_ROWS * j.cap * sizeof(int64_t));
            if (j.tiles[w] == NULL || j.cand[w] == NULL) goto nomem;
        }
        double t0 = assay__now();
        s = assay__parallel_for(ctx, (n_pending + RADIUS_ROWS - 1) / RADIUS_ROWS, b->workers,
                                radius_task, &j);
        out->t_radius = assay__now() - t0;
        if (s != ASSAY_OK) goto done;
    }
    out->n = b->n;
    out->k = b->k;
    out->metric = b->metric;
    for (size_t r = b->q0; r < b->q1; r++) {
        if (!b->in_graph[r]) continue;
        if (j.radius[r] < 0.0)
            out->n_exhaustive++;
        else if (j.radius[r] > 0.0)
            out->n_radius++;
        else
            out->n_certified++;
    }
    goto done;
nomem:
    s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
done:
    for (int w = 0; w < b->workers; w++) {
        if (j.ws) {
            free(j.ws[w].fd);
            free(j.ws[w].ed);
            free(j.ws[w].ids);
            free(j.ws[w].bd);
            free(j.ws[w].bi);
        }
        if (j.tiles) free(j.tiles[w]);
        if (j.cand) free(j.cand[w]);
    }
    free(j.ws);
    free(j.tiles);
    free(j.cand);
    free(j.radius);
    free(j.kth);
    free(pending);
    return s;
}

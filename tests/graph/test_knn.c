/* SPDX-License-Identifier: Apache-2.0 */
/* The neighbour graph against a naive double-precision O(N^2) reference: random data of awkward
 * sizes, tiles that do not divide N, exact duplicates and ties, rows left out, determinism
 * across thread counts. */
#include <float.h>
#include <pthread.h>

#include "test_util.h"

#include "core/internal.h"
#include "graph/knn.h"
#include "graph/knn_internal.h"

typedef struct ref_pair {
    double d;
    int64_t i;
} ref_pair;

static int cmp_ref(const void *a, const void *b) {
    const ref_pair *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Independent reference distance (not the library's function). */
static double ref_dist(const float *a, const float *b, size_t d, assay_metric m) {
    double s = 0, dot = 0, na = 0, nb = 0;
    for (size_t j = 0; j < d; j++) {
        double t = (double)a[j] - (double)b[j];
        s += t * t;
        dot += (double)a[j] * b[j];
        na += (double)a[j] * a[j];
        nb += (double)b[j] * b[j];
    }
    if (m == ASSAY_METRIC_L2) return s;
    if (na == 0 || nb == 0) return 1.0;
    double c = 1.0 - dot / sqrt(na * nb); /* the definition docs/kernels.md gives */
    return c < 0 ? 0 : c;
}

/* Selection runs on float32 GEMM distances: a dot product of length d carries an error up to
 * about (d + 2) * FLT_EPSILON times the sum of |products|, bounded by the norms. Candidates whose
 * true distances differ by less than that may swap; nothing else may. */
static double tol_for(const float *x, size_t n, size_t d, size_t ld, assay_metric m) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)x[i * ld + j] * x[i * ld + j];
        if (s > mx) mx = s;
    }
    double scale = m == ASSAY_METRIC_L2 ? 4.0 * mx : 2.0;
    return (double)(d + 4) * FLT_EPSILON * scale + 1e-12;
}

/* Checks every row's list against the reference: same distances within tol position by
 * position, the same ids except where the reference itself has a near-tie, ids never self,
 * never excluded, and sorted by (distance, id). */
static void check_graph(const float *x, size_t n, size_t d, size_t ld, const uint8_t *in, size_t k,
                        assay_metric m, const assay__graph *g, int exact_ties) {
    ref_pair *ref = malloc(n * sizeof *ref);
    assert_non_null(ref);
    double tol = tol_for(x, n, d, ld, m);
    for (size_t r = 0; r < n; r++) {
        const int64_t *ids = g->ids + r * k;
        const float *dist = g->dist + r * k;
        if (!in[r]) {
            for (size_t c = 0; c < k; c++) assert_int_equal(ids[c], -1);
            continue;
        }
        size_t m_ = 0;
        for (size_t j = 0; j < n; j++)
            if (j != r && in[j]) {
                ref[m_].d = ref_dist(x + r * ld, x + j * ld, d, m);
                ref[m_++].i = (int64_t)j;
            }
        qsort(ref, m_, sizeof *ref, cmp_ref);
        for (size_t c = 0; c < k; c++) {
            int64_t id = ids[c];
            assert_true(id >= 0 && (size_t)id < n);
            assert_true((size_t)id != r);
            assert_true(in[id]);
            double dd = ref_dist(x + r * ld, x + (size_t)id * ld, d, m);
            assert_close(ref[c].d, dd, tol);
            assert_close(dd, dist[c], tol + 1e-7 * dd);
            if (c > 0) assert_true(dist[c - 1] <= dist[c]);
            if (exact_ties) {
                if (ref[c].i != id)
                    fail_msg("row %zu pos %zu: id %lld, reference %lld (d %.9g vs %.9g)", r, c,
                             (long long)id, (long long)ref[c].i, dd, ref[c].d);
            } else if (ref[c].i != id) {
                /* Allowed only inside a near-tie of the reference. */
                int tie = (c > 0 && fabs(ref[c].d - ref[c - 1].d) <= 2 * tol) ||
                          (c + 1 < m_ && fabs(ref[c].d - ref[c + 1].d) <= 2 * tol);
                if (!tie)
                    fail_msg("row %zu pos %zu: id %lld, reference %lld, no tie", r, c,
                             (long long)id, (long long)ref[c].i);
            }
        }
    }
    free(ref);
}

static float *random_matrix(size_t n, size_t d, size_t ld, uint64_t seed, double scale) {
    float *x = calloc(n * ld + 1, sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x[i * ld + j] = (float)(scale * tu_normal(&seed));
    return x;
}

static void test_knn_random_matches_reference(void **state) {
    (void)state;
    static const size_t dims[] = {1, 2, 3, 7, 16, 17, 33, 64, 129};
    static const size_t ks[] = {1, 3, 10};
    assay_ctx *ctx = tu_ctx(2);
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        for (int mi = 0; mi < 2; mi++) {
            size_t n = 157 + 13 * di, d = dims[di], ld = d + (di % 3);
            assay_metric m = mi ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
            float *x = random_matrix(n, d, ld, 1000 + di, di % 2 ? 1e3 : 1.0);
            uint8_t *in = malloc(n);
            for (size_t i = 0; i < n; i++) in[i] = 1;
            for (size_t ki = 0; ki < 3; ki++) {
                for (int path = ASSAY__KNN_PATH_GEMM; path <= ASSAY__KNN_PATH_FUSED; path++) {
                    /* Blocks that divide nothing: every edge case. */
                    assay__knn_tiles tiles = {37, 53, (assay__knn_path)path, 0};
                    assay__graph g;
                    assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, ks[ki], m, &tiles, &g),
                                     ASSAY_OK);
                    assert_int_equal(g.n, n);
                    assert_int_equal(g.k, ks[ki]);
                    assert_int_equal(g.n_certified + g.n_radius + g.n_exhaustive, n);
                    check_graph(x, n, d, ld, in, ks[ki], m, &g, 1);
                    assay__graph_free(&g);
                }
            }
            free(in);
            free(x);
        }
    }
    assay_ctx_destroy(ctx);
}

/* Small integers: float32 arithmetic is exact, so ties are exact and must go to the lower
 * index; exact duplicates are at distance 0 and list each other first. */
static void test_knn_duplicates_and_ties_lower_index_first(void **state) {
    (void)state;
    assay_ctx *ctx = tu_ctx(3);
    size_t n = 240, d = 5, ld = 8;
    float *x = calloc(n * ld, sizeof *x);
    uint64_t seed = 7;
    for (size_t i = 0; i < n; i++) {
        if (i % 4 == 3) { /* every fourth row duplicates an earlier one */
            size_t src = tu_next(&seed) % i;
            memcpy(x + i * ld, x + src * ld, d * sizeof *x);
            continue;
        }
        for (size_t j = 0; j < d; j++) x[i * ld + j] = (float)(tu_next(&seed) % 4) + 1.0f;
    }
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    for (int mi = 0; mi < 4; mi++) {
        assay_metric m = mi & 1 ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
        assay__knn_tiles tiles = {29, 61, mi & 2 ? ASSAY__KNN_PATH_FUSED : ASSAY__KNN_PATH_GEMM, 0};
        assay__graph g;
        assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, 10, m, &tiles, &g), ASSAY_OK);
        /* The re-ranking makes the order exact for both metrics, ties to the lower index, even
         * where float32 cannot tell the candidates apart. */
        check_graph(x, n, d, ld, in, 10, m, &g, 1);
        for (size_t i = 0; i < n; i++) {
            /* Any exact duplicate is at distance exactly 0 and listed first. */
            for (size_t j = 0; j < n; j++)
                if (j != i && memcmp(x + i * ld, x + j * ld, d * sizeof *x) == 0) {
                    assert_true(g.dist[i * 10] == 0.0f);
                    break;
                }
        }
        assay__graph_free(&g);
    }
    free(in);
    free(x);
    assay_ctx_destroy(ctx);
}

/* Clusters of copies with k = 10: the candidates are all at distance 0, more of them than the
 * heaps keep (20; 50 after a bf16 pass, 100 after int8: 30, 60 or 120 copies, the fewest that
 * do, since every row then costs a radius search), so no row can be certified from them; the
 * radius pass (and, with a tiny cap, the exhaustive search) must still return the 10 lowest-index
 * copies. */
static void test_knn_copy_clusters_need_the_radius_pass(void **state) {
    (void)state;
    assay_ctx *ctx = tu_ctx(2);
    const char *forced = getenv("ASSAY_PRECISION");
    size_t copies = 30, groups = 7, d = 9, ld = 9, k = 10;
    if (forced != NULL && strcmp(forced, "bf16") == 0) copies = 60;
    if (forced != NULL && strcmp(forced, "int8") == 0) copies = 120;
    size_t n = copies * groups;
    float *x = random_matrix(groups, d, ld, 3, 1.0);
    float *y = malloc(n * ld * sizeof *y);
    for (size_t i = 0; i < n; i++) memcpy(y + i * ld, x + (i % groups) * ld, d * sizeof *y);
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    for (int mi = 0; mi < 4; mi++) {
        assay_metric m = mi & 1 ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
        assay__knn_tiles tiles = {32, 64, mi & 2 ? ASSAY__KNN_PATH_FUSED : ASSAY__KNN_PATH_GEMM, 0};
        assay__graph g;
        assert_int_equal(assay__knn_build(ctx, y, n, d, ld, in, k, m, &tiles, &g), ASSAY_OK);
        assert_int_equal(g.n_radius + g.n_exhaustive, n);
        for (size_t i = 0; i < n; i++) {
            size_t c = 0;
            for (size_t j = i % groups; c < k; j += groups) {
                if (j == i) continue;
                assert_int_equal(g.ids[i * k + c], (int64_t)j);
                assert_true(g.dist[i * k + c] == 0.0f);
                c++;
            }
        }
        check_graph(y, n, d, ld, in, k, m, &g, 1);
        assay__graph_free(&g);
    }
    free(in);
    free(x);
    free(y);
    assay_ctx_destroy(ctx);
}

/* More copies than the radius pass keeps per row (512): those rows are searched exhaustively
 * in double precision, and still list the lowest-index copies. */
static void test_knn_huge_copy_cluster_is_searched_exhaustively(void **state) {
    (void)state;
    assay_ctx *ctx = tu_ctx(2);
    size_t copies = 600, n = copies + 40, d = 3, ld = 4, k = 5;
    float *x = random_matrix(n, d, ld, 11, 1.0);
    for (size_t i = 1; i < copies; i++) memcpy(x + i * ld, x, d * sizeof *x);
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    assay__graph g;
    assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, NULL, &g),
                     ASSAY_OK);
    assert_true(g.n_exhaustive >= copies);
    for (size_t i = 0; i < copies; i++)
        for (size_t c = 0, j = 0; c < k; j++) {
            if (j == i) continue;
            assert_int_equal(g.ids[i * k + c], (int64_t)j);
            c++;
        }
    check_graph(x, n, d, ld, in, k, ASSAY_METRIC_L2, &g, 1);
    assay__graph_free(&g);
    free(in);
    free(x);
    assay_ctx_destroy(ctx);
}

static void test_knn_excluded_rows_never_appear(void **state) {
    (void)state;
    assay_ctx *ctx = tu_ctx(2);
    size_t n = 90, d = 11, ld = 16;
    float *x = random_matrix(n, d, ld, 99, 1.0);
    uint8_t *in = malloc(n);
    /* Rows left out may hold anything, NaN and Inf included: they must never be listed. */
    for (size_t i = 0; i < n; i++) {
        in[i] = (i % 7) != 2;
        if (!in[i]) x[i * ld + i % d] = i % 2 ? NAN : INFINITY;
    }
    for (int path = ASSAY__KNN_PATH_GEMM; path <= ASSAY__KNN_PATH_FUSED; path++)
        for (int mi = 0; mi < 2; mi++) {
            assay_metric m = mi ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
            assay__knn_tiles tiles = {16, 20, (assay__knn_path)path, 0};
            assay__graph g;
            assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, 6, m, &tiles, &g), ASSAY_OK);
            check_graph(x, n, d, ld, in, 6, m, &g, 1);
            for (size_t i = 0; i < n; i++)
                if (!in[i]) assert_true(isnan(g.dist[i * 6]));
            assay__graph_free(&g);
        }
    free(in);
    free(x);
    assay_ctx_destroy(ctx);
}

static void test_knn_same_result_for_any_thread_count(void **state) {
    (void)state;
    size_t n = 700, d = 40, ld = 48, k = 10;
    float *x = random_matrix(n, d, ld, 5, 1.0);
    /* Near-duplicates make the selection sensitive to any change in arithmetic. */
    for (size_t i = 600; i < n; i++)
        for (size_t j = 0; j < d; j++) x[i * ld + j] = x[(i - 600) * ld + j] * (1.0f + 1e-7f);
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    assay__graph base;
    assay_ctx *ctx = tu_ctx(1);
    assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, ASSAY_METRIC_COSINE, NULL, &base),
                     ASSAY_OK);
    assay_ctx_destroy(ctx);
    static const int threads[] = {2, 3, 4, 7};
    for (size_t t = 0; t < 4; t++) {
        ctx = tu_ctx(threads[t]);
        assay__graph g;
        assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, ASSAY_METRIC_COSINE, NULL, &g),
                         ASSAY_OK);
        assert_memory_equal(base.ids, g.ids, n * k * sizeof *g.ids);
        assert_memory_equal(base.dist, g.dist, n * k * sizeof *g.dist);
        assay__graph_free(&g);
        assay_ctx_destroy(ctx);
    }
    assay__graph_free(&base);
    free(in);
    free(x);
}

static void test_knn_too_few_rows_is_an_input_error(void **state) {
    (void)state;
    assay_ctx *ctx = tu_ctx(1);
    size_t n = 8, d = 3, ld = 4;
    float *x = random_matrix(n, d, ld, 1, 1.0);
    uint8_t in[8] = {1, 1, 1, 1, 1, 0, 0, 0};
    assay__graph g;
    assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, 5, ASSAY_METRIC_L2, NULL, &g),
                     ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "k = 5 needs at least 6");
    assert_null(g.ids);
    assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, 4, ASSAY_METRIC_L2, NULL, &g),
                     ASSAY_OK);
    assay__graph_free(&g);
    free(x);
    assay_ctx_destroy(ctx);
}

/* ---- the reduced-precision candidate passes (issue 16) ---- */

static assay_ctx *ctx_with(int threads, assay_precision p) {
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = threads;
    o.precision = p;
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_OK);
    return ctx;
}

/* Data that stress a candidate pass: Gaussian rows, rows with one dominant coordinate (int8's
 * per-row scale then rounds the rest coarsely), near-duplicates one float ulp apart, exact
 * duplicates, a far outlier (it widens every row's bound), and rows left out. */
static float *stress_matrix(size_t n, size_t d, size_t ld, uint64_t seed, uint8_t *in) {
    float *x = random_matrix(n, d, ld, seed, 1.0);
    for (size_t i = 0; i < n; i++) {
        in[i] = 1;
        if (i % 11 == 5) x[i * ld + i % d] *= 40.0f;
        if (i % 13 == 7 && i >= 13)
            for (size_t j = 0; j < d; j++) x[i * ld + j] = x[(i - 13) * ld + j] * (1.0f + 1e-7f);
        if (i % 17 == 9 && i >= 17) memcpy(x + i * ld, x + (i - 17) * ld, d * sizeof *x);
    }
    for (size_t j = 0; j < d; j++) x[(n / 2) * ld + j] *= 30.0f;
    for (size_t i = 3; i < n; i += 23) { /* after the copies: no kept row copies a NaN */
        in[i] = 0;
        x[i * ld] = NAN;
    }
    return x;
}

/* Every pass gives the float32 pass's graph bit for bit, which is the float64 brute force's. */
static void test_knn_every_precision_gives_the_same_graph(void **state) {
    (void)state;
    static const size_t dims[] = {3, 33, 130};
    static const assay_precision precs[] = {ASSAY_PRECISION_BF16, ASSAY_PRECISION_INT8};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (int mi = 0; mi < 2; mi++) {
            size_t n = 300 + 37 * di, d = dims[di], ld = d + di % 2, k = di % 2 ? 10 : 4;
            assay_metric m = mi ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
            uint8_t *in = malloc(n);
            float *x = stress_matrix(n, d, ld, 77 + di, in);
            assay__knn_tiles tiles = {48, 70, ASSAY__KNN_PATH_AUTO, 0};
            assay_ctx *ctx = ctx_with(2, ASSAY_PRECISION_FP32);
            assay__graph ref;
            assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, m, &tiles, &ref), ASSAY_OK);
            assert_int_equal(ref.precision, ASSAY_PRECISION_FP32);
            check_graph(x, n, d, ld, in, k, m, &ref, 1);
            assay_ctx_destroy(ctx);
            for (size_t pi = 0; pi < 2; pi++) {
                ctx = ctx_with(1 + (int)(pi + di) % 3, precs[pi]);
                assay__graph g;
                assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, m, &tiles, &g),
                                 ASSAY_OK);
                assert_int_equal(g.precision, precs[pi]);
                size_t kept = 0;
                for (size_t i = 0; i < n; i++) kept += in[i];
                assert_int_equal(g.n_certified + g.n_radius + g.n_exhaustive, kept);
                assert_memory_equal(ref.ids, g.ids, n * k * sizeof *g.ids);
                assert_memory_equal(ref.dist, g.dist, n * k * sizeof *g.dist);
                assay__graph_free(&g);
                assay_ctx_destroy(ctx);
            }
            assay__graph_free(&ref);
            free(in);
            free(x);
        }
}

/* A stress matrix and its whole graph built by one process (2 threads), for the split builds
 * (shards, ranks) to be compared with. */
typedef struct split_case {
    size_t n, d, ld, k;
    assay_metric m;
    assay_precision prec;
    uint8_t *in;
    float *x;
    assay__knn_tiles tiles;
    assay__graph whole;
} split_case;

static void split_case_make(split_case *c, size_t n, size_t d, size_t ld, size_t k, int l2,
                            assay_precision prec, uint64_t seed) {
    *c = (split_case){n,
                      d,
                      ld,
                      k,
                      l2 ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE,
                      prec,
                      malloc(n),
                      NULL,
                      {48, 70, ASSAY__KNN_PATH_AUTO, 0},
                      {0}};
    c->x = stress_matrix(n, d, ld, seed, c->in);
    assay_ctx *ctx = ctx_with(2, prec);
    assert_int_equal(assay__knn_build(ctx, c->x, n, d, ld, c->in, k, c->m, &c->tiles, &c->whole),
                     ASSAY_OK);
    assay_ctx_destroy(ctx);
}

static void split_case_free(split_case *c) {
    assay__graph_free(&c->whole);
    free(c->in);
    free(c->x);
}

/* A shard (assay scan --shard i/n) builds the lists of its rows only, and they are the whole
 * graph's, bit for bit, for every candidate pass, shard count and thread count; shard bounds
 * fall inside blocks. Rows outside the shard have no list; the counts cover the shard's rows. */
static void test_knn_shards_give_the_whole_graphs_lists(void **state) {
    (void)state;
    static const assay_precision precs[] = {ASSAY_PRECISION_FP32, ASSAY_PRECISION_BF16,
                                            ASSAY_PRECISION_INT8};
    /* small: test_knn also runs under qemu (SVE at 512 bits is ~500x slower than native) */
    static const size_t shard_counts[] = {2, 5};
    for (size_t pi = 0; pi < 3; pi++)
        for (int mi = 0; mi < 2; mi++) {
            split_case sc;
            size_t n = 283 + 17 * pi, d = mi ? 33 : 130, ld = d + 1, k = 6;
            split_case_make(&sc, n, d, ld, k, mi, precs[pi], 91 + pi);
            const float *x = sc.x;
            const uint8_t *in = sc.in;
            assay_metric m = sc.m;
            const assay__knn_tiles tiles = sc.tiles;
            const assay__graph whole = sc.whole;
            assay_ctx *ctx;
            for (size_t si = 0; si < sizeof shard_counts / sizeof shard_counts[0]; si++) {
                size_t count = shard_counts[si], listed = 0, kept = 0;
                for (size_t i = 0; i < count; i++) {
                    size_t r0 = i * n / count, r1 = (i + 1) * n / count;
                    ctx = ctx_with(1 + (int)(i % 3), precs[pi]);
                    assay__graph g;
                    assert_int_equal(
                        assay__knn_build_rows(ctx, x, n, d, ld, in, k, m, r0, r1, &tiles, &g),
                        ASSAY_OK);
                    assert_int_equal(g.n, n);
                    assert_memory_equal(whole.ids + r0 * k, g.ids + r0 * k,
                                        (r1 - r0) * k * sizeof *g.ids);
                    assert_memory_equal(whole.dist + r0 * k, g.dist + r0 * k,
                                        (r1 - r0) * k * sizeof *g.dist);
                    for (size_t r = 0; r < n; r++)
                        if (r < r0 || r >= r1)
                            for (size_t c = 0; c < k; c++) {
                                assert_int_equal(g.ids[r * k + c], -1);
                                assert_true(isnan(g.dist[r * k + c]));
                            }
                    for (size_t r = r0; r < r1; r++) kept += in[r];
                    listed += g.n_certified + g.n_radius + g.n_exhaustive;
                    assay__graph_free(&g);
                    assay_ctx_destroy(ctx);
                }
                assert_int_equal(listed, kept);
            }
            ctx = ctx_with(1, precs[pi]);
            assay__graph g;
            assert_int_equal(
                assay__knn_build_rows(ctx, x, n, d, ld, in, k, m, 5, n + 1, &tiles, &g),
                ASSAY_E_INVAL);
            assay_ctx_destroy(ctx);
            split_case_free(&sc);
        }
}

/* Ranks played by threads: a shared board and a barrier make the alltoallv of assay_ranks. */
enum { MAX_TEST_RANKS = 4 };
typedef struct test_bus {
    int size;
    pthread_barrier_t bar;
    const char *send[MAX_TEST_RANKS];
    const size_t *sc[MAX_TEST_RANKS], *so[MAX_TEST_RANKS];
} test_bus;

typedef struct test_rank {
    test_bus *bus;
    int rank, threads;
    int broken; /* the exchange fails */
    const float *x;
    const uint8_t *in;
    size_t n, d, ld, k;
    assay_metric m;
    assay_precision prec;
    const assay__knn_tiles *tiles;
    assay_status s;
    assay__graph g;
} test_rank;

static int bus_alltoallv(void *user, const void *send, const size_t *sc, const size_t *so,
                         void *recv, const size_t *rc, const size_t *ro) {
    test_rank *me = user;
    test_bus *b = me->bus;
    b->send[me->rank] = send;
    b->sc[me->rank] = sc;
    b->so[me->rank] = so;
    pthread_barrier_wait(&b->bar);
    int bad = 0;
    for (int r = 0; r < b->size; r++) {
        if (b->sc[r][me->rank] != rc[r])
            bad = 1; /* both sides must agree on every size */
        else if (rc[r] > 0)
            memcpy((char *)recv + ro[r], b->send[r] + b->so[r][me->rank], rc[r]);
    }
    pthread_barrier_wait(&b->bar);
    return bad;
}

static int broken_alltoallv(void *user, const void *send, const size_t *sc, const size_t *so,
                            void *recv, const size_t *rc, const size_t *ro) {
    (void)user, (void)send, (void)sc, (void)so, (void)recv, (void)rc, (void)ro;
    return -1;
}

static void *rank_main(void *arg) {
    test_rank *t = arg;
    assay_ctx *ctx = ctx_with(t->threads, t->prec);
    assay_ranks ranks = {t->rank, t->bus->size, t, t->broken ? broken_alltoallv : bus_alltoallv, 0};
    t->s = assay_ctx_set_ranks(ctx, &ranks);
    if (t->s == ASSAY_OK)
        t->s = assay__knn_build(ctx, t->x, t->n, t->d, t->ld, t->in, t->k, t->m, t->tiles, &t->g);
    if (t->broken)
        t->broken = strstr(assay_ctx_errmsg(ctx), "exchanging candidate distances failed") != NULL;
    assay_ctx_destroy(ctx);
    return NULL;
}

/* Ranks (MPI processes, here threads): each computes every size-th pair of blocks and re-ranks
 * its rows after the heaps are merged; rank 0's graph equals one process's bit for bit, with the
 * same certification counts, for 2 and 3 ranks of 1 or 2 threads, fp32, bf16 and int8, cosine
 * and L2. Fails when a rank skips the merge (its rows miss the other ranks' candidates) or the
 * gather (rank 0 misses their lists). */
static void test_knn_ranks_give_one_process_graph(void **state) {
    (void)state;
    static const assay_precision precs[] = {ASSAY_PRECISION_FP32, ASSAY_PRECISION_BF16,
                                            ASSAY_PRECISION_INT8};
    for (size_t pi = 0; pi < 3; pi++)
        for (int mi = 0; mi < 2; mi++) {
            split_case sc;
            size_t n = 301 + 13 * pi, d = mi ? 29 : 140, ld = d + 3, k = 7;
            split_case_make(&sc, n, d, ld, k, mi, precs[pi], 17 + pi);
            const assay__graph whole = sc.whole;
            for (int size = 2; size <= 3; size++) {
                test_bus bus = {.size = size};
                test_rank t[MAX_TEST_RANKS];
                pthread_t th[MAX_TEST_RANKS];
                assert_int_equal(pthread_barrier_init(&bus.bar, NULL, (unsigned)size), 0);
                for (int r = 0; r < size; r++) {
                    t[r] = (test_rank){
                        &bus, r,    1 + (r + size) % 2, 0,         sc.x,     sc.in, n, d, ld,
                        k,    sc.m, precs[pi],          &sc.tiles, ASSAY_OK, {0}};
                    assert_int_equal(pthread_create(&th[r], NULL, rank_main, &t[r]), 0);
                }
                for (int r = 0; r < size; r++) pthread_join(th[r], NULL);
                pthread_barrier_destroy(&bus.bar);
                for (int r = 0; r < size; r++) assert_int_equal(t[r].s, ASSAY_OK);
                assert_memory_equal(whole.ids, t[0].g.ids, n * k * sizeof *whole.ids);
                assert_memory_equal(whole.dist, t[0].g.dist, n * k * sizeof *whole.dist);
                assert_int_equal(t[0].g.n_certified, whole.n_certified);
                assert_int_equal(t[0].g.n_radius, whole.n_radius);
                assert_int_equal(t[0].g.n_exhaustive, whole.n_exhaustive);
                assert_int_equal(t[0].g.precision, whole.precision);
                for (int r = 0; r < size; r++) assay__graph_free(&t[r].g);
            }
            if (pi == 0 && mi == 0) { /* a failed exchange is an error naming it, on every rank */
                test_bus bus = {.size = 2};
                test_rank t[2];
                pthread_t th[2];
                for (int r = 0; r < 2; r++) {
                    t[r] = (test_rank){&bus, r, 1,    1,         sc.x,      sc.in,    n,  d,
                                       ld,   k, sc.m, precs[pi], &sc.tiles, ASSAY_OK, {0}};
                    assert_int_equal(pthread_create(&th[r], NULL, rank_main, &t[r]), 0);
                }
                for (int r = 0; r < 2; r++) {
                    pthread_join(th[r], NULL);
                    assert_int_equal(t[r].s, ASSAY_E_RESOURCE);
                    assert_true(t[r].broken);
                }
            }
            split_case_free(&sc);
        }
}

/* The bound is rigorous: every distance a reduced-precision tile gives, finished like the
 * candidate pass finishes it, is within assay__knn_lowp_finish_bound of the exact one, for rows
 * built to make quantisation as bad as it gets (values at half a step, one huge coordinate,
 * mixed magnitudes). It is also not vacuous: below a tenth of the distances' scale. */
static void test_knn_candidate_bound_holds(void **state) {
    (void)state;
    static const assay_precision precs[] = {ASSAY_PRECISION_BF16, ASSAY_PRECISION_INT8};
    size_t n = 96, d = 77, ld = 80;
    for (int shape = 0; shape < 3; shape++)
        for (size_t pi = 0; pi < 2; pi++)
            for (int mi = 0; mi < 2; mi++) {
                uint64_t seed = 5 + (uint64_t)shape;
                float *x = random_matrix(n, d, ld, seed, 1.0);
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < d; j++) {
                        float *v = &x[i * ld + j];
                        if (shape == 0)
                            *v = ((float)(tu_next(&seed) % 255) - 127.0f + 0.5f) / 127.0f;
                        if (shape == 1 && j == i % d) *v = 1e3f;
                        if (shape == 2) *v *= (float)pow(10.0, (double)(j % 7) - 3.0);
                    }
                uint8_t *in = malloc(n);
                memset(in, 1, n);
                assay_ctx *ctx = ctx_with(1, precs[pi]);
                knn_build b;
                memset(&b, 0, sizeof b);
                b.ctx = ctx;
                b.K = ctx->k;
                b.x = x;
                b.n = n;
                b.d = d;
                b.ld = ld;
                b.k = 5;
                b.metric = mi ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
                b.in_graph = in;
                float *rowa = malloc(n * sizeof *rowa), *pen = calloc(n, sizeof *pen);
                b.K->norms_sq(x, ld, n, d, rowa);
                for (size_t i = 0; i < n; i++) {
                    if (sqrt((double)rowa[i]) > b.max_norm) b.max_norm = sqrt((double)rowa[i]);
                    if (mi == 0) rowa[i] = rowa[i] > 0.0f ? 1.0f / sqrtf(rowa[i]) : 0.0f;
                }
                b.rowa = rowa;
                b.pen = pen;
                assert_int_equal(assay__knn_lowp_prepare(&b, (knn_option){precs[pi], 0}), ASSAY_OK);
                assert_int_equal(b.lowp.prec, precs[pi]);
                float *t = malloc(n * n * sizeof *t);
                assay__knn_lowp_tile(&b, t, 0, n, 0, n);
                if (mi)
                    b.K->tile_l2(t, n, n, n, rowa, rowa, pen, pen);
                else
                    b.K->tile_cos(t, n, n, n, rowa, rowa, pen, pen);
                float *lo = malloc(n * n * sizeof *lo);
                memcpy(lo, t, n * n * sizeof *lo);
                assay__knn_lowp_lower(&b, lo, 0, n, 0, n);
                double worst = 0.0, scale = 0.0, tsum = 0.0;
                for (size_t i = 0; i < n; i++) {
                    double e = assay__knn_lowp_finish_bound(&b, i);
                    for (size_t j = 0; j < n; j++) {
                        double ex = assay__distance_exact(x + i * ld, x + j * ld, d, b.metric);
                        double tb = assay__knn_lowp_term(&b, i, j), err = fabs(t[i * n + j] - ex);
                        /* the term is symmetric, and the tile's lower bound is one */
                        assert_true(fabs(tb - assay__knn_lowp_term(&b, j, i)) <= 1e-6 * tb);
                        if (err > e + tb || lo[i * n + j] - e > ex)
                            fail_msg("%s %s shape %d: (%zu, %zu) tile %.9g lower %.9g exact "
                                     "%.9g: error %.3g above the bound %.3g + %.3g",
                                     assay_precision_name(precs[pi]), mi ? "l2" : "cosine", shape,
                                     i, j, t[i * n + j], lo[i * n + j], ex, err, tb, e);
                        if (err / (e + tb) > worst) worst = err / (e + tb);
                        if (ex > scale) scale = ex;
                        tsum += tb;
                    }
                }
                assert_true(tsum / (double)(n * n) < 0.1 * scale);
                free(lo);
                print_message("%s %s shape %d: largest error / bound %.3f\n",
                              assay_precision_name(precs[pi]), mi ? "l2" : "cosine", shape, worst);
                assay__knn_lowp_free(&b.lowp);
                free(t);
                free(rowa);
                free(pen);
                free(in);
                free(x);
                assay_ctx_destroy(ctx);
            }
}

/* Magnitudes the bound does not cover, and AUTO on the scalar kernels: the float32 pass. */
static void test_knn_precision_falls_back_to_fp32(void **state) {
    (void)state;
    size_t n = 120, d = 6, ld = 6;
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    static const double scales[] = {1e-15, 1e15};
    for (int si = 0; si < 2; si++) {
        float *x = random_matrix(n, d, ld, 3, scales[si]);
        assay_ctx *ctx = ctx_with(2, ASSAY_PRECISION_INT8);
        assay__graph g;
        assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, 5, ASSAY_METRIC_L2, NULL, &g),
                         ASSAY_OK);
        assert_int_equal(g.precision, ASSAY_PRECISION_FP32);
        check_graph(x, n, d, ld, in, 5, ASSAY_METRIC_L2, &g, 1);
        assay__graph_free(&g);
        assay_ctx_destroy(ctx);
        free(x);
    }
    free(in);
}

/* The context takes the precision from its options, else from ASSAY_PRECISION; a bad name is
 * refused. */
static void test_knn_precision_names(void **state) {
    (void)state;
    assay_precision p;
    for (int i = 0; i < ASSAY_PRECISION_COUNT; i++) {
        assert_int_equal(assay_precision_parse(assay_precision_name((assay_precision)i), &p),
                         ASSAY_OK);
        assert_int_equal(p, i);
    }
    assert_int_equal(assay_precision_parse("fp16", &p), ASSAY_E_INVAL);
    assert_int_equal(assay_precision_parse(NULL, &p), ASSAY_E_INVAL);
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.precision = (assay_precision)9;
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_E_INVAL);
    ctx = ctx_with(1, ASSAY_PRECISION_BF16);
    assert_int_equal(assay_ctx_precision(ctx), ASSAY_PRECISION_BF16);
    assay_ctx_destroy(ctx);
}

/* AUTO on rows wider than the fused kernel's: each pass it tries runs a pilot, and the pass is
 * kept only when the pilot certified at least 95% of its rows; clusters of copies, which no pass
 * can certify, fall back to float32. The graph is the float32 one either way. */
static void test_knn_auto_pilot_decides(void **state) {
    (void)state;
    const char *forced = getenv("ASSAY_PRECISION"); /* the reruns force a pass: no AUTO then */
    if (forced != NULL && forced[0] != '\0') skip();
    assay_ctx *probe = tu_ctx(1);
    knn_option probe_opt[3];
    int have = assay__knn_lowp_options(probe->k, 300, probe_opt);
    assay_ctx_destroy(probe);
    if (have == 0)
        skip(); /* no native reduced-precision kernel here (scalar, ARM): nothing to try */
    size_t n = 700, d = 300, ld = 304, k = 10;
    for (int copies = 0; copies < 2; copies++) {
        float *x = random_matrix(n, d, ld, 31, 1.0);
        if (copies) /* 140 copies of 5 rows: more copies than any heap keeps */
            for (size_t i = 5; i < n; i++) memcpy(x + i * ld, x + (i % 5) * ld, d * sizeof *x);
        uint8_t *in = malloc(n);
        memset(in, 1, n);
        assay_ctx *ctx = ctx_with(2, ASSAY_PRECISION_FP32);
        assay__graph ref, g;
        assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, NULL, &ref),
                         ASSAY_OK);
        assay_ctx_destroy(ctx);
        ctx = ctx_with(2, ASSAY_PRECISION_AUTO);
        assay__knn_tiles small = {0, 0, ASSAY__KNN_PATH_AUTO, 1}; /* AUTO from 1 row on */
        assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, &small, &g),
                         ASSAY_OK);
        assert_memory_equal(ref.ids, g.ids, n * k * sizeof *g.ids);
        assert_memory_equal(ref.dist, g.dist, n * k * sizeof *g.dist);
        assay__graph dflt; /* by default, 700 rows stay in float32 */
        assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, NULL, &dflt),
                         ASSAY_OK);
        assert_int_equal(dflt.precision, ASSAY_PRECISION_FP32);
        assert_int_equal(dflt.n_pilot, 0);
        assay__graph_free(&dflt);
        knn_option opt[3];
        int n_opt = assay__knn_lowp_options(ctx->k, d, opt);
        assert_int_equal(g.n_pilot, copies ? n_opt : (n_opt > 0));
        for (int p = 0; p < g.n_pilot; p++) {
            assert_int_equal(g.pilot[p].rows, 256);
            int kept = g.pilot[p].certified * 100 >= g.pilot[p].rows * 95;
            assert_int_equal(kept, !copies); /* random rows certify; copies never do */
            if (kept) assert_int_equal(g.precision, g.pilot[p].precision);
        }
        if (copies) assert_int_equal(g.precision, ASSAY_PRECISION_FP32);
        print_message("auto, %s: %d pilot(s), pass %s\n", copies ? "copies" : "random", g.n_pilot,
                      assay_precision_name(g.precision));
        assay__graph_free(&ref);
        assay__graph_free(&g);
        assay_ctx_destroy(ctx);
        free(in);
        free(x);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_random_matches_reference),
        cmocka_unit_test(test_knn_duplicates_and_ties_lower_index_first),
        cmocka_unit_test(test_knn_copy_clusters_need_the_radius_pass),
        cmocka_unit_test(test_knn_huge_copy_cluster_is_searched_exhaustively),
        cmocka_unit_test(test_knn_excluded_rows_never_appear),
        cmocka_unit_test(test_knn_same_result_for_any_thread_count),
        cmocka_unit_test(test_knn_too_few_rows_is_an_input_error),
        cmocka_unit_test(test_knn_every_precision_gives_the_same_graph),
        cmocka_unit_test(test_knn_candidate_bound_holds),
        cmocka_unit_test(test_knn_shards_give_the_whole_graphs_lists),
        cmocka_unit_test(test_knn_ranks_give_one_process_graph),
        cmocka_unit_test(test_knn_precision_falls_back_to_fp32),
        cmocka_unit_test(test_knn_precision_names),
        cmocka_unit_test(test_knn_auto_pilot_decides),
    };
    return cmocka_run_group_tests_name("knn", tests, NULL, NULL);
}

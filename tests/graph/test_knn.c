/* SPDX-License-Identifier: Apache-2.0 */
/* The neighbour graph against a naive double-precision O(N^2) reference: random data of awkward
 * sizes, tiles that do not divide N, exact duplicates and ties, rows left out, determinism
 * across thread counts. */
#include <float.h>

#include "test_util.h"

#include "core/internal.h"
#include "graph/knn.h"

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
                    assay__knn_tiles tiles = {37, 53, (assay__knn_path)path};
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
        assay__knn_tiles tiles = {29, 61, mi & 2 ? ASSAY__KNN_PATH_FUSED : ASSAY__KNN_PATH_GEMM};
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

/* Clusters of 30 copies with k = 10: the float32 candidates are all at distance 0, more of them
 * than the heaps keep, so no row can be certified from them; the radius pass (and, with a tiny
 * cap, the exhaustive search) must still return the 10 lowest-index copies. */
static void test_knn_copy_clusters_need_the_radius_pass(void **state) {
    (void)state;
    assay_ctx *ctx = tu_ctx(2);
    size_t copies = 30, groups = 7, n = copies * groups, d = 9, ld = 9, k = 10;
    float *x = random_matrix(groups, d, ld, 3, 1.0);
    float *y = malloc(n * ld * sizeof *y);
    for (size_t i = 0; i < n; i++) memcpy(y + i * ld, x + (i % groups) * ld, d * sizeof *y);
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    for (int mi = 0; mi < 4; mi++) {
        assay_metric m = mi & 1 ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
        assay__knn_tiles tiles = {32, 64, mi & 2 ? ASSAY__KNN_PATH_FUSED : ASSAY__KNN_PATH_GEMM};
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
            assay__knn_tiles tiles = {16, 20, (assay__knn_path)path};
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_random_matches_reference),
        cmocka_unit_test(test_knn_duplicates_and_ties_lower_index_first),
        cmocka_unit_test(test_knn_copy_clusters_need_the_radius_pass),
        cmocka_unit_test(test_knn_huge_copy_cluster_is_searched_exhaustively),
        cmocka_unit_test(test_knn_excluded_rows_never_appear),
        cmocka_unit_test(test_knn_same_result_for_any_thread_count),
        cmocka_unit_test(test_knn_too_few_rows_is_an_input_error),
    };
    return cmocka_run_group_tests_name("knn", tests, NULL, NULL);
}

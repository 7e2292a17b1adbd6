/* SPDX-License-Identifier: Apache-2.0 */
/* The approximate graph (--graph-method approx): lists that are valid neighbour lists (k real
 * rows, never the row itself, ranked by exact distance), recall against the exact graph at the
 * target the pilot aims at and as measured on the sample, the same graph for any thread count,
 * and the exact graph where the approximation would not pay. */
#include "test_util.h"

#include "core/internal.h"
#include "graph/knn.h"

/* Gaussian clusters: `clusters` centres spread with `spread`, unit noise around them. */
static float *clustered(size_t n, size_t d, size_t ld, size_t clusters, double spread,
                        uint64_t seed) {
    float *x = calloc(n * ld + 1, sizeof *x);
    double *c = malloc(clusters * d * sizeof *c);
    assert_non_null(x);
    assert_non_null(c);
    for (size_t i = 0; i < clusters * d; i++) c[i] = spread * tu_normal(&seed);
    for (size_t i = 0; i < n; i++) {
        size_t g = (size_t)(tu_next(&seed) % clusters);
        for (size_t j = 0; j < d; j++) x[i * ld + j] = (float)(c[g * d + j] + tu_normal(&seed));
    }
    free(c);
    return x;
}

/* Every row in the graph has k distinct real neighbours, not itself, in increasing exact
 * distance (ties by the lower row), with the exact distance listed; rows out have -1. */
static void check_lists(const float *x, size_t n, size_t d, size_t ld, const uint8_t *in, size_t k,
                        assay_metric m, const assay__graph *g) {
    for (size_t i = 0; i < n; i++) {
        const int64_t *ids = g->ids + i * k;
        if (!in[i]) {
            for (size_t c = 0; c < k; c++) assert_int_equal(ids[c], -1);
            continue;
        }
        double prev = -1.0;
        for (size_t c = 0; c < k; c++) {
            assert_true(ids[c] >= 0 && (size_t)ids[c] < n);
            assert_true((size_t)ids[c] != i);
            assert_true(in[ids[c]]);
            for (size_t e = 0; e < c; e++) assert_true(ids[e] != ids[c]);
            double dd = assay__distance_exact(x + i * ld, x + (size_t)ids[c] * ld, d, m);
            assert_true(dd >= prev);
            if (dd == prev) assert_true(ids[c] > ids[c - 1]);
            assert_float_equal(g->dist[i * k + c], (float)dd, 0.0);
            prev = dd;
        }
    }
}

/* Share of the exact graph's neighbours the approximate graph lists. */
static double recall(const assay__graph *a, const assay__graph *e, const uint8_t *in) {
    size_t found = 0, total = 0, k = e->k;
    for (size_t i = 0; i < e->n; i++) {
        if (!in[i]) continue;
        for (size_t c = 0; c < k; c++)
            for (size_t t = 0; t < k; t++)
                if (a->ids[i * k + t] == e->ids[i * k + c]) {
                    found++;
                    break;
                }
        total += k;
    }
    return (double)found / (double)total;
}

static void run_clustered(assay_metric m) {
    size_t n = 6000, d = 24, ld = 32, k = 10;
    float *x = clustered(n, d, ld, 60, 4.0, 7);
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    for (size_t i = 0; i < n; i += 97) in[i] = 0;
    assay_ctx *ctx = tu_ctx(2);
    assay__graph a, e;
    assert_int_equal(assay__knn_build_approx(ctx, x, n, d, ld, in, k, m, 0.99, &a), ASSAY_OK);
    assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, m, NULL, &e), ASSAY_OK);
    assert_true(a.approx.used);
    assert_int_equal(a.approx.fallback, ASSAY__APPROX_NONE);
    assert_true(a.approx.probes >= 1 && a.approx.probes <= a.approx.max_probes);
    assert_true(a.approx.probes < a.approx.lists / 4);
    assert_true(a.approx.pilot_recall >= 0.99);
    assert_true(a.approx.sample_rows > 0 && a.approx.pilot_rows > 0);
    check_lists(x, n, d, ld, in, k, m, &a);
    double r = recall(&a, &e, in);
    print_message("%s: %u lists, %u probes, pilot %.4f, sample %.4f, whole graph %.4f\n",
                  assay_metric_name(m), a.approx.lists, a.approx.probes, a.approx.pilot_recall,
                  a.approx.recall, r);
    assert_true(r >= 0.98);
    /* the measured recall is an estimate of the whole graph's */
    assert_true(fabs(a.approx.recall - r) < 0.02);
    assay__graph_free(&a);
    assay__graph_free(&e);
    assay_ctx_destroy(ctx);
    free(in);
    free(x);
}

static void test_approx_clustered_l2(void **state) {
    (void)state;
    run_clustered(ASSAY_METRIC_L2);
}

static void test_approx_clustered_cosine(void **state) {
    (void)state;
    run_clustered(ASSAY_METRIC_COSINE);
}

static void test_approx_same_for_any_thread_count(void **state) {
    (void)state;
    size_t n = 3000, d = 300, ld = 304, k = 7; /* d > 256: the GEMM path */
    float *x = clustered(n, d, ld, 30, 3.0, 11);
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    assay__graph base;
    assay_ctx *ctx = tu_ctx(1);
    assert_int_equal(assay__knn_build_approx(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, 0.99, &base),
                     ASSAY_OK);
    assay_ctx_destroy(ctx);
    assert_true(base.approx.used);
    check_lists(x, n, d, ld, in, k, ASSAY_METRIC_L2, &base);
    static const int threads[] = {2, 3};
    for (size_t t = 0; t < 2; t++) {
        ctx = tu_ctx(threads[t]);
        assay__graph g;
        assert_int_equal(
            assay__knn_build_approx(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, 0.99, &g), ASSAY_OK);
        assert_memory_equal(base.ids, g.ids, n * k * sizeof *g.ids);
        assert_memory_equal(base.dist, g.dist, n * k * sizeof *g.dist);
        assert_int_equal(g.approx.probes, base.approx.probes);
        assert_true(g.approx.recall == base.approx.recall);
        assay__graph_free(&g);
        assay_ctx_destroy(ctx);
    }
    assay__graph_free(&base);
    free(in);
    free(x);
}

/* Structureless data (Gaussian noise in 64 dimensions): no list holds a row's neighbours, the
 * target would need most lists, so the exact graph is built and the reason recorded. Fewer than
 * 1,024 rows: the exact graph too. */
static void test_approx_falls_back_to_exact(void **state) {
    (void)state;
    size_t d = 64, ld = 64, k = 10;
    static const size_t sizes[] = {2500, 900};
    static const int reasons[] = {ASSAY__APPROX_PROBES, ASSAY__APPROX_FEW_ROWS};
    for (int c = 0; c < 2; c++) {
        size_t n = sizes[c];
        float *x = clustered(n, d, ld, 1, 0.0, 3);
        uint8_t *in = malloc(n);
        memset(in, 1, n);
        assay_ctx *ctx = tu_ctx(2);
        assay__graph a, e;
        assert_int_equal(
            assay__knn_build_approx(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, 0.99, &a), ASSAY_OK);
        assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, NULL, &e),
                         ASSAY_OK);
        assert_true(a.approx.requested);
        assert_false(a.approx.used);
        assert_int_equal(a.approx.fallback, reasons[c]);
        assert_memory_equal(a.ids, e.ids, n * k * sizeof *e.ids);
        assay__graph_free(&a);
        assay__graph_free(&e);
        assay_ctx_destroy(ctx);
        free(in);
        free(x);
    }
}

/* A low target with a large k: one probe, lists smaller than k, so some rows' probed lists hold
 * too few rows and are searched by brute force; every list is still complete and valid. */
static void test_approx_short_lists_are_completed(void **state) {
    (void)state;
    size_t n = 1200, d = 8, ld = 8, k = 30;
    float *x = clustered(n, d, ld, 200, 6.0, 5);
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    assay_ctx *ctx = tu_ctx(2);
    assay__graph a;
    assert_int_equal(assay__knn_build_approx(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, 0.05, &a),
                     ASSAY_OK);
    assert_true(a.approx.used);
    assert_int_equal(a.approx.probes, 1);
    assert_true(a.approx.short_rows > 0);
    check_lists(x, n, d, ld, in, k, ASSAY_METRIC_L2, &a);
    assay__graph_free(&a);
    assay_ctx_destroy(ctx);
    free(in);
    free(x);
}

/* A row so large that its float32 squared norm overflows (hostile or broken data): the exact
 * graph, whose exhaustive double-precision search ranks it, and the reason. */
static void test_approx_huge_rows_use_the_exact_graph(void **state) {
    (void)state;
    size_t n = 3000, d = 12, ld = 16, k = 5;
    float *x = clustered(n, d, ld, 30, 4.0, 9);
    for (size_t j = 0; j < d; j++) x[17 * ld + j] *= 1e18f;
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    assay_ctx *ctx = tu_ctx(2);
    assay__graph a, e;
    assert_int_equal(assay__knn_build_approx(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, 0.99, &a),
                     ASSAY_OK);
    assert_int_equal(assay__knn_build(ctx, x, n, d, ld, in, k, ASSAY_METRIC_L2, NULL, &e),
                     ASSAY_OK);
    assert_false(a.approx.used);
    assert_int_equal(a.approx.fallback, ASSAY__APPROX_RANGE);
    assert_memory_equal(a.ids, e.ids, n * k * sizeof *e.ids);
    assay__graph_free(&a);
    assay__graph_free(&e);
    assay_ctx_destroy(ctx);
    free(in);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_approx_clustered_l2),
        cmocka_unit_test(test_approx_clustered_cosine),
        cmocka_unit_test(test_approx_same_for_any_thread_count),
        cmocka_unit_test(test_approx_falls_back_to_exact),
        cmocka_unit_test(test_approx_short_lists_are_completed),
        cmocka_unit_test(test_approx_huge_rows_use_the_exact_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

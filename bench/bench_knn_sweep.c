/* SPDX-License-Identifier: Apache-2.0 */
/* Chooses the graph's tuning constants (src/graph/knn.c) by measurement, side by side in one
 * run: the fused small-d kernel against GEMM tiles over a range of d (the crossover), and the
 * block size of the GEMM path. Synthetic Gaussian rows; best of R runs, alternating the
 * variants so machine noise hits both. Prints Markdown tables. Not a test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "graph/knn.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Rows around 20 random centres, so neighbour lists look like real embeddings'. */
static float *blobs(size_t n, size_t d, uint64_t seed) {
    float *x = malloc(n * d * sizeof *x), *c = malloc(20 * d * sizeof *c);
    if (x == NULL || c == NULL) exit(3);
    for (size_t i = 0; i < 20 * d; i++) c[i] = (float)((double)(rng_next(&seed) >> 11) * 0x1p-53);
    for (size_t i = 0; i < n; i++) {
        size_t g = rng_next(&seed) % 20;
        for (size_t j = 0; j < d; j++) {
            double u = ((double)(rng_next(&seed) >> 11) + 0.5) * 0x1p-53,
                   v = ((double)(rng_next(&seed) >> 11) + 0.5) * 0x1p-53;
            x[i * d + j] = c[g * d + j] + (float)(0.1 * sqrt(-2 * log(u)) * cos(6.283185307 * v));
        }
    }
    free(c);
    return x;
}

/* CPU time of this process: on a shared machine, other processes' load changes wall time but
 * not the work done; with --threads 1 it is the fairer comparison of two code paths. */
static int g_cpu_clock;

static double clock_now(void) {
    if (!g_cpu_clock) return now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_graph(assay_ctx *ctx, const float *x, size_t n, size_t d, const uint8_t *in,
                         assay_metric m, assay__knn_tiles t) {
    assay__graph g;
    double t0 = clock_now();
    if (assay__knn_build(ctx, x, n, d, d, in, 10, m, &t, &g) != ASSAY_OK) {
        fprintf(stderr, "bench_knn_sweep: %s\n", assay_ctx_errmsg(ctx));
        exit(3);
    }
    double s = clock_now() - t0;
    assay__graph_free(&g);
    return s;
}

int main(int argc, char **argv) {
    size_t n = 20000, repeat = 2;
    int threads = 2;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-n") == 0 && a + 1 < argc)
            n = strtoul(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc)
            repeat = strtoul(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc)
            threads = atoi(argv[++a]);
        else if (strcmp(argv[a], "--cpu-time") == 0)
            g_cpu_clock = 1;
        else {
            fprintf(stderr,
                    "usage: bench_knn_sweep [-n N] [--repeat R] [--threads T] [--cpu-time]\n");
            return 2;
        }
    }
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = threads;
    assay_ctx *ctx = NULL;
    if (assay_ctx_create(&ctx, &o) != ASSAY_OK) return 3;
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    printf("kernels %s, %d threads, N = %zu, k = 10, best of %zu, %s\n\n",
           assay_isa_name(assay_ctx_isa(ctx)), threads, n, repeat,
           g_cpu_clock ? "CPU time of the process" : "wall time");

    printf("| d | metric | GEMM tiles s | fused s | fused speed-up |\n|---|---|---|---|---|\n");
    static const size_t dims[] = {8, 16, 32, 64, 128, 192, 256, 384};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        float *x = blobs(n, dims[di], 42 + di);
        for (int mi = 0; mi < 2; mi++) {
            assay_metric m = mi ? ASSAY_METRIC_COSINE : ASSAY_METRIC_L2;
            double bg = 1e30, bf = 1e30;
            for (size_t r = 0; r < repeat; r++) {
                double tg = time_graph(ctx, x, n, dims[di], in, m,
                                       (assay__knn_tiles){0, 0, ASSAY__KNN_PATH_GEMM, 0});
                double tf = time_graph(ctx, x, n, dims[di], in, m,
                                       (assay__knn_tiles){0, 0, ASSAY__KNN_PATH_FUSED, 0});
                bg = tg < bg ? tg : bg;
                bf = tf < bf ? tf : bf;
            }
            printf("| %zu | %s | %.3f | %.3f | %.2fx |\n", dims[di], assay_metric_name(m), bg, bf,
                   bg / bf);
            fflush(stdout);
        }
        free(x);
    }

    printf("\n| d | block rows | GEMM tiles s |\n|---|---|---|\n");
    static const size_t sweep_d[] = {128, 784};
    static const size_t blocks[] = {256, 512, 1024, 2048};
    for (size_t di = 0; di < 2; di++) {
        float *x = blobs(n, sweep_d[di], 7 + di);
        double best[4] = {1e30, 1e30, 1e30, 1e30};
        for (size_t r = 0; r < repeat; r++)
            for (size_t bi = 0; bi < 4; bi++) {
                double t = time_graph(ctx, x, n, sweep_d[di], in, ASSAY_METRIC_L2,
                                      (assay__knn_tiles){blocks[bi], 0, ASSAY__KNN_PATH_GEMM, 0});
                best[bi] = t < best[bi] ? t : best[bi];
            }
        for (size_t bi = 0; bi < 4; bi++)
            printf("| %zu | %zu | %.3f |\n", sweep_d[di], blocks[bi], best[bi]);
        fflush(stdout);
        free(x);
    }
    free(in);
    assay_ctx_destroy(ctx);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Times the exact neighbour graph on a dataset (the demo's Fashion-MNIST file, or synthetic
 * data) next to OpenBLAS sgemm alone on the same shape, in the same run, and prints a Markdown
 * table row; with --md FILE it also replaces the marked section of that file. With --sgemm-only it
 * times sgemm alone and prints one line (bench/compare_knn.py reads it). Not a test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>

#include <cblas.h>

#include "core/dispatch.h"
#include "core/internal.h"
#include "graph/knn.h"
#include "io/dataset_internal.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench_knn (--input FILE | --synthetic NxD) [-k K] [--metric cosine|l2]\n"
            "                 [--threads T] [--repeat R] [--md FILE | --sgemm-only]\n");
}

static long peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* sgemm throughput on the graph's shape: one query tile (512 rows) against all N rows, run
 * on the same number of threads as the graph (OpenBLAS threads here, ours there). */
#if ASSAY_HAVE_OPENBLAS
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif

/* The reference sgemm runs with OpenBLAS's own threads (the library keeps its thread count to
 * itself): sets it, returning the previous one. */
static int blas_threads(int n) {
#if ASSAY_HAVE_OPENBLAS
    int old = openblas_get_num_threads();
    openblas_set_num_threads(n);
    return old;
#else
    (void)n;
    return 1;
#endif
}

static double sgemm_gflops(const float *x, size_t n, size_t d, size_t ld, int threads) {
    size_t m = n < 4096 ? n : 4096;
    float *c = malloc(m * n * sizeof *c);
    if (c == NULL) return NAN;
    int old = blas_threads(threads);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)d, 1.0f, x,
                    (int)ld, x, (int)ld, 0.0f, c, (int)n);
        double t = now() - t0;
        if (t < best) best = t;
    }
    blas_threads(old);
    free(c);
    return 2.0 * (double)m * (double)n * (double)d / best / 1e9;
}

/* Replaces the text between the markers in `path` (or appends the block). */
static int write_md(const char *path, const char *block) {
    static const char *begin = "<!-- bench_knn:begin -->", *end = "<!-- bench_knn:end -->";
    char *old = NULL;
    size_t len = 0;
    FILE *fp = fopen(path, "rb");
    if (fp != NULL) {
        fseek(fp, 0, SEEK_END);
        len = (size_t)ftell(fp);
        fseek(fp, 0, SEEK_SET);
        old = calloc(len + 1, 1);
        if (old == NULL || fread(old, 1, len, fp) != len) len = 0;
        fclose(fp);
    }
    char *b = old ? strstr(old, begin) : NULL, *e = b ? strstr(b, end) : NULL;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fp = fopen(tmp, "wb");
    if (fp == NULL) return -1;
    if (b != NULL && e != NULL) {
        fwrite(old, 1, (size_t)(b - old), fp);
        fprintf(fp, "%s\n%s%s", begin, block, e);
        fputs(e + strlen(end), fp);
    } else {
        if (old != NULL) fwrite(old, 1, len, fp);
        fprintf(fp, "\n%s\n%s%s\n", begin, block, end);
    }
    free(old);
    if (fclose(fp) != 0) return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv) {
    const char *input = NULL, *md = NULL, *metric_name = "cosine";
    size_t syn_n = 0, syn_d = 0, k = 10;
    int threads = 0, repeat = 1, sgemm_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--input") && v)
            input = argv[++i];
        else if (!strcmp(a, "--synthetic") && v) {
            if (sscanf(argv[++i], "%zux%zu", &syn_n, &syn_d) != 2) return usage(), 2;
        } else if (!strcmp(a, "-k") && v)
            k = (size_t)atol(argv[++i]);
        else if (!strcmp(a, "--metric") && v)
            metric_name = argv[++i];
        else if (!strcmp(a, "--threads") && v)
            threads = atoi(argv[++i]);
        else if (!strcmp(a, "--repeat") && v)
            repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--md") && v)
            md = argv[++i];
        else if (!strcmp(a, "--sgemm-only"))
            sgemm_only = 1;
        else
            return usage(), 2;
    }
    assay_metric metric;
    if ((input == NULL) == (syn_n == 0) || assay_metric_parse(metric_name, &metric) != ASSAY_OK ||
        repeat < 1 || (sgemm_only && md != NULL))
        return usage(), 2;

    assay_ctx_opts co = ASSAY_CTX_OPTS_INIT;
    co.n_threads = threads;
    assay_ctx *ctx = NULL;
    if (assay_ctx_create(&ctx, &co) != ASSAY_OK) return 3;
    threads = assay_ctx_threads(ctx);

    assay_dataset *ds = NULL;
    float *x = NULL;
    size_t n, d, ld;
    char what[512];
    double t_load = 0;
    if (input != NULL) {
        double t0 = now();
        if (assay_dataset_load(ctx, input, NULL, &ds) != ASSAY_OK) {
            fprintf(stderr, "bench_knn: %s\n", assay_ctx_errmsg(ctx));
            return 2;
        }
        t_load = now() - t0;
        x = ds->x;
        n = ds->n;
        d = ds->d;
        ld = ds->ld;
        snprintf(what, sizeof what, "%s", input);
    } else {
        n = syn_n;
        d = syn_d;
        ld = assay__row_stride(d);
        x = assay__aligned_alloc(n * ld * sizeof *x);
        if (x == NULL) return 3;
        uint64_t s = 42;
        for (size_t i = 0; i < n * ld; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
        }
        snprintf(what, sizeof what, "synthetic uniform");
    }
    uint8_t *in = malloc(n);
    memset(in, 1, n);

    double best = 1e30;
    for (int r = 0; r < repeat && !sgemm_only; r++) {
        assay__graph g;
        double t0 = now();
        if (assay__knn_build(ctx, x, n, d, ld, in, k, metric, NULL, &g) != ASSAY_OK) {
            fprintf(stderr, "bench_knn: %s\n", assay_ctx_errmsg(ctx));
            return 3;
        }
        double t = now() - t0;
        if (t < best) best = t;
        assay__graph_free(&g);
    }
    double gf_graph = 2.0 * (double)n * (double)n * (double)d / best / 1e9;
    double gf_sgemm = sgemm_gflops(x, n, d, ld, threads);
    if (sgemm_only) {
        printf("sgemm %zu x %zu x %zu, %d threads, best of 3: %.1f GFLOP/s; BLAS: %s\n",
               n < 4096 ? n : 4096, n, d, threads, gf_sgemm, assay_blas_info());
        best = 0; /* no graph was built: skip the table */
    }

    struct utsname u;
    uname(&u);
    const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
    char cmd[1024] = "";
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(cmd);
        snprintf(cmd + l, sizeof cmd - l, "%s%s", i ? " " : "", argv[i]);
    }
    char block[6144];
    snprintf(block, sizeof block,
             "| data | N | d | k | metric | threads | kernels | load s | graph s | graph GFLOP/s "
             "(2N^2d) | sgemm GFLOP/s | graph / sgemm | peak RSS MiB |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
             "| %s | %zu | %zu | %zu | %s | %d | %s | %.2f | %.2f | %.1f | %.1f | %.2f | %ld |\n\n"
             "Machine: %s %s, CPU features: %s; BLAS: %s; OPENBLAS_CORETYPE=%s "
             "OPENBLAS_L2_SIZE=%s. Best of %d run%s. Command: `%s`\n",
             what, n, d, k, metric_name, threads, assay_isa_name(assay_ctx_isa(ctx)), t_load, best,
             gf_graph, gf_sgemm, gf_graph / gf_sgemm, peak_rss_mib(), u.sysname, u.machine,
             assay__cpu_feature_names(), assay_blas_info(), ct ? ct : "(unset)",
             l2 ? l2 : "(unset)", repeat, repeat == 1 ? "" : "s", cmd);
    if (!sgemm_only) fputs(block, stdout);
    int rc = isnan(gf_sgemm) ? 3 : 0;
    if (md != NULL && write_md(md, block) != 0) {
        fprintf(stderr, "bench_knn: cannot write %s\n", md);
        rc = 3;
    }
    free(in);
    if (ds != NULL)
        assay_dataset_destroy(ds);
    else
        free(x);
    assay_ctx_destroy(ctx);
    return rc;
}

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
            "                 [--threads T] [--repeat R] [--md FILE | --sgemm-only]\n"
            "                 [--precision fp32,bf16,int8]   (candidate passes side by side)\n");
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

/* ---- --precision: the candidate passes side by side (issue 16) ---- */

enum { MAX_PASSES = 4, CHECK_ROWS = 200 };

/* Rows (spread over the set) whose lists a float64 brute force over every row confirms. */
static size_t brute_force_check(const float *x, size_t n, size_t d, size_t ld, size_t k,
                                assay_metric metric, const assay__graph *g) {
    size_t wrong = 0;
    double *bd = malloc(k * sizeof *bd);
    int64_t *bi = malloc(k * sizeof *bi);
    for (size_t c = 0; c < CHECK_ROWS && c < n; c++) {
        size_t r = c * (n / (CHECK_ROWS < n ? CHECK_ROWS : n)), have = 0;
        for (size_t o = 0; o < n; o++) {
            if (o == r) continue;
            double v = assay__distance_exact(x + r * ld, x + o * ld, d, metric);
            if (have == k && !(v < bd[k - 1])) continue;
            size_t p = have < k ? have++ : k - 1;
            while (p > 0 && bd[p - 1] > v) {
                bd[p] = bd[p - 1];
                bi[p] = bi[p - 1];
                p--;
            }
            bd[p] = v;
            bi[p] = (int64_t)o;
        }
        wrong += memcmp(bi, g->ids + r * k, k * sizeof *bi) != 0;
    }
    free(bd);
    free(bi);
    return wrong;
}

/* Builds the graph once per pass in `list` ("fp32,bf16,int8"), the passes alternating, `repeat`
 * rounds; prints one table row per pass. Returns 0, or 3 when a pass's graph differs from the
 * first pass's or from the float64 brute force. */
static int compare_passes(const char *list, const float *x, size_t n, size_t d, size_t ld, size_t k,
                          assay_metric metric, int threads, int repeat, const char *what,
                          const char *cmd) {
    assay_precision passes[MAX_PASSES];
    size_t np = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv))
        if (np == MAX_PASSES || assay_precision_parse(t, &passes[np++]) != ASSAY_OK) return 2;
    assay_ctx *ctx[MAX_PASSES];
    for (size_t p = 0; p < np; p++) {
        assay_ctx_opts co = ASSAY_CTX_OPTS_INIT;
        co.n_threads = threads;
        co.precision = passes[p];
        if (assay_ctx_create(&ctx[p], &co) != ASSAY_OK) return 2;
    }
    uint8_t *in = malloc(n);
    memset(in, 1, n);
    double best[MAX_PASSES], cand[MAX_PASSES], rerank[MAX_PASSES], radius[MAX_PASSES];
    assay__graph keep[MAX_PASSES];
    memset(keep, 0, sizeof keep);
    for (size_t p = 0; p < np; p++) best[p] = 1e30;
    for (int r = 0; r < repeat; r++)
        for (size_t p = 0; p < np; p++) {
            assay__graph g;
            double t0 = now();
            if (assay__knn_build(ctx[p], x, n, d, ld, in, k, metric, NULL, &g) != ASSAY_OK) {
                fprintf(stderr, "bench_knn: %s\n", assay_ctx_errmsg(ctx[p]));
                return 3;
            }
            double t = now() - t0;
            if (t < best[p]) {
                best[p] = t;
                cand[p] = g.t_candidates;
                rerank[p] = g.t_rerank;
                radius[p] = g.t_radius;
            }
            if (r == 0)
                keep[p] = g;
            else
                assay__graph_free(&g);
        }
    double gf_sgemm = sgemm_gflops(x, n, d, ld, threads);
    /* The float32 limit: the graph's N^2 d multiply-adds (symmetric: each pair once, 2 flops
     * each) at the large-sgemm rate measured just now. */
    double limit = (double)n * (double)n * (double)d * 2.0 / 2.0 / (gf_sgemm * 1e9);
    int rc = 0;
    printf("| data | N | d | metric | pass | kernels | graph s | vs %s | vs float32 limit (%.1f s) "
           "| candidates s | re-rank s | radius s | radius / graph | certified | radius rows | "
           "exhaustive rows | same as %s | float64 check |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
           assay_precision_name(passes[0]), limit, assay_precision_name(passes[0]));
    for (size_t p = 0; p < np; p++) {
        const assay__graph *g = &keep[p];
        int same = memcmp(g->ids, keep[0].ids, n * k * sizeof *g->ids) == 0 &&
                   memcmp(g->dist, keep[0].dist, n * k * sizeof *g->dist) == 0;
        size_t wrong = brute_force_check(x, n, d, ld, k, metric, g);
        if (!same || wrong) rc = 3;
        printf("| %s | %zu | %zu | %s | %s | %s | %.2f | %.2fx | %.2fx | %.2f | %.2f | %.2f | "
               "%.1f%% | %.2f%% | %zu | %zu | %s | %zu of %d rows wrong |\n",
               what, n, d, assay_metric_name(metric), assay_precision_name(g->precision),
               g->kernels, best[p], best[0] / best[p], limit / best[p], cand[p], rerank[p],
               radius[p], 100.0 * radius[p] / best[p], 100.0 * (double)g->n_certified / (double)n,
               g->n_radius, g->n_exhaustive, same ? "yes" : "NO", wrong,
               CHECK_ROWS < n ? CHECK_ROWS : (int)n);
    }
    struct utsname u;
    uname(&u);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("\nMachine: %s %s, CPU features: %s; BLAS: %s; OPENBLAS_CORETYPE=%s; %d threads; "
           "sgemm %.1f GFLOP/s (4096 x N x d, %d OpenBLAS threads, best of 3). Best of %d "
           "alternating runs. Command: `%s`\n",
           u.sysname, u.machine, assay__cpu_feature_names(), assay_blas_info(), ct ? ct : "(unset)",
           threads, gf_sgemm, threads, repeat, cmd);
    for (size_t p = 0; p < np; p++) {
        assay__graph_free(&keep[p]);
        assay_ctx_destroy(ctx[p]);
    }
    free(in);
    return rc;
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
    const char *passes = NULL; /* --precision LIST: compare candidate passes */
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
        else if (!strcmp(a, "--precision") && v)
            passes = argv[++i];
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
    char cmd[1024] = ""; /* the command line, for the tables */
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(cmd);
        snprintf(cmd + l, sizeof cmd - l, "%s%s", i ? " " : "", argv[i]);
    }
    if (passes != NULL) {
        int rc = compare_passes(passes, x, n, d, ld, k, metric, threads, repeat, what, cmd);
        if (ds != NULL)
            assay_dataset_destroy(ds);
        else
            free(x);
        assay_ctx_destroy(ctx);
        return rc;
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

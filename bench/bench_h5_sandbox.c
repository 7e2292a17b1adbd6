/* SPDX-License-Identifier: Apache-2.0 */
/* The HDF5 sandbox's cost: loads one HDF5 dataset with the reader in a child process (the
 * default) and in this process (--no-sandbox), alternating, and prints the median of each and
 * the difference. Timed: the loader and a first touch of every page of the matrix (what the
 * fingerprint does next), not the fingerprint or finishing steps.
 *   bench_h5_sandbox FILE.h5 [--repeat R]
 * Figures: bench/RESULTS.md, "Sandboxed HDF5 (issue 14)". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "io/dataset_internal.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU seconds of this process and its waited-for children (the sandbox's child). */
static double cpu_now(void) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           1e-6 * (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
                           b.ru_stime.tv_usec);
}

static double g_cpu; /* CPU seconds of the last load_once */

static double load_once(assay_ctx *ctx, const char *path, int no_sandbox, size_t *n, size_t *d) {
    assay_limits l = *assay_ctx_limits(ctx);
    l.no_sandbox = no_sandbox;
    if (assay_ctx_set_limits(ctx, &l) != ASSAY_OK) return -1;
    assay_dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL) return -1;
    double c0 = cpu_now(), t0 = assay__now();
    assay_status s = assay__h5_load(ctx, ds, path, NULL);
    /* First use touches every page (the fingerprint does): page faults on the adopted mapping
     * are part of the sandbox's cost. */
    volatile float sink = 0;
    if (s == ASSAY_OK)
        for (size_t i = 0; i < ds->n * ds->ld; i += 1024) sink += ds->x[i];
    (void)sink;
    double t = assay__now() - t0;
    g_cpu = cpu_now() - c0;
    if (s != ASSAY_OK) {
        fprintf(stderr, "bench_h5_sandbox: %s\n", assay_ctx_errmsg(ctx));
        t = -1;
    }
    *n = ds->n;
    *d = ds->d;
    assay_dataset_destroy(ds);
    return t;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_h5_sandbox FILE.h5 [--repeat R]\n");
        return 2;
    }
    int repeat = 7;
    if (argc >= 4 && strcmp(argv[2], "--repeat") == 0) repeat = atoi(argv[3]);
    if (repeat < 1 || repeat > 1000) repeat = 7;
    assay_ctx *ctx = NULL;
    if (assay_ctx_create(&ctx, NULL) != ASSAY_OK) return 3;
    double *t[2], *c[2];
    c[0] = calloc((size_t)repeat, sizeof(double));
    c[1] = calloc((size_t)repeat, sizeof(double));
    t[0] = calloc((size_t)repeat, sizeof(double));
    t[1] = calloc((size_t)repeat, sizeof(double));
    size_t n = 0, d = 0;
    if (t[0] == NULL || t[1] == NULL) return 3;
    /* one warm-up load of each: the page cache then holds the file for both */
    if (load_once(ctx, argv[1], 1, &n, &d) < 0 || load_once(ctx, argv[1], 0, &n, &d) < 0) return 3;
    for (int r = 0; r < repeat; r++)
        for (int m = 0; m < 2; m++)
            if ((t[m][r] = load_once(ctx, argv[1], (r + m) % 2, &n, &d)) < 0)
                return 3;
            else
                c[m][r] = g_cpu;
    /* t[m][r] used mode (r + m) % 2: regroup by mode */
    double *by[2] = {calloc((size_t)repeat, sizeof(double)),
                     calloc((size_t)repeat, sizeof(double))};
    double *cby[2] = {calloc((size_t)repeat, sizeof(double)),
                      calloc((size_t)repeat, sizeof(double))};
    if (by[0] == NULL || by[1] == NULL || cby[0] == NULL || cby[1] == NULL || c[0] == NULL ||
        c[1] == NULL)
        return 3;
    int k[2] = {0, 0};
    for (int r = 0; r < repeat; r++)
        for (int m = 0; m < 2; m++) {
            int mode = (r + m) % 2;
            cby[mode][k[mode]] = c[m][r];
            by[mode][k[mode]++] = t[m][r];
        }
    for (int m = 0; m < 2; m++) {
        qsort(by[m], (size_t)repeat, sizeof(double), cmp_double);
        qsort(cby[m], (size_t)repeat, sizeof(double), cmp_double);
    }
    double sb = by[0][repeat / 2], ns = by[1][repeat / 2];
    printf("file %s: %zu x %zu float32, %d loads each (median)\n", argv[1], n, d, repeat);
    printf("sandboxed   %.4f s (min %.4f)\n", sb, by[0][0]);
    printf("no-sandbox  %.4f s (min %.4f)\n", ns, by[1][0]);
    printf("overhead    %+.4f s, ratio %.3f\n", sb - ns, sb / ns);
    printf("cpu time    sandboxed %.4f s, no-sandbox %.4f s (medians, parent + child)\n",
           cby[0][repeat / 2], cby[1][repeat / 2]);
    free(t[0]);
    free(t[1]);
    free(by[0]);
    free(by[1]);
    free(cby[0]);
    free(cby[1]);
    free(c[0]);
    free(c[1]);
    assay_ctx_destroy(ctx);
    return 0;
}

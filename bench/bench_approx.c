/* SPDX-License-Identifier: Apache-2.0 */
/* The approximate graph (--graph-method approx) on one file: its time and phases, the inverted
 * file it chose, its recall as the library measures it, and optionally (--exact) the exact
 * graph's time on the same data with the recall over every row. --ids-out writes the
 * approximate lists (int64 .npy, n x k) for bench/compare_approx.py's own recall on a larger
 * sample. Prints one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assay/assay.h"
#include "core/internal.h"
#include "graph/knn.h"
#include "io/dataset_internal.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_approx --input FILE [-k K] [--metric l2|cosine] [--threads T]\n"
                    "                    [--recall R] [--exact] [--ids-out FILE.npy]\n");
    return 2;
}

static int write_ids(const char *path, const int64_t *ids, size_t n, size_t k) {
    char head[128];
    int hl = snprintf(head, sizeof head,
                      "{'descr': '<i8', 'fortran_order': False, 'shape': (%zu, %zu), }", n, k);
    size_t total = 10 + (size_t)hl + 1, pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    unsigned short hlen = (unsigned short)(hl + (int)pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hlen & 0xff, f);
    fputc(hlen >> 8, f);
    fwrite(head, 1, (size_t)hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(ids, sizeof *ids, n * k, f);
    return fclose(f);
}

int main(int argc, char **argv) {
    const char *input = NULL, *metric_name = "l2", *ids_out = NULL;
    size_t k = 10;
    int threads = 0, exact = 0;
    double target = 0.99;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--input") && v)
            input = argv[++i];
        else if (!strcmp(a, "-k") && v)
            k = (size_t)atol(argv[++i]);
        else if (!strcmp(a, "--metric") && v)
            metric_name = argv[++i];
        else if (!strcmp(a, "--threads") && v)
            threads = atoi(argv[++i]);
        else if (!strcmp(a, "--recall") && v)
            target = atof(argv[++i]);
        else if (!strcmp(a, "--ids-out") && v)
            ids_out = argv[++i];
        else if (!strcmp(a, "--exact"))
            exact = 1;
        else
            return usage();
    }
    assay_metric metric;
    if (input == NULL || assay_metric_parse(metric_name, &metric) != ASSAY_OK) return usage();
    assay_ctx_opts co = ASSAY_CTX_OPTS_INIT;
    co.n_threads = threads;
    assay_ctx *ctx = NULL;
    assay_dataset *ds = NULL;
    if (assay_ctx_create(&ctx, &co) != ASSAY_OK) return 3;
    if (assay_dataset_load(ctx, input, NULL, &ds) != ASSAY_OK) {
        fprintf(stderr, "bench_approx: %s\n", assay_ctx_errmsg(ctx));
        return 2;
    }
    uint8_t *in = malloc(ds->n);
    if (in == NULL) return 3;
    for (size_t i = 0; i < ds->n; i++) in[i] = (uint8_t)assay__row_in_graph(ds, i, metric);
    assay__graph a, e;
    double t0 = now();
    if (assay__knn_build_approx(ctx, ds->x, ds->n, ds->d, ds->ld, in, k, metric, target, &a) !=
        ASSAY_OK) {
        fprintf(stderr, "bench_approx: %s\n", assay_ctx_errmsg(ctx));
        return 3;
    }
    double ta = now() - t0, te = 0.0, all = -1.0;
    if (exact) {
        t0 = now();
        if (assay__knn_build(ctx, ds->x, ds->n, ds->d, ds->ld, in, k, metric, NULL, &e) !=
            ASSAY_OK) {
            fprintf(stderr, "bench_approx: %s\n", assay_ctx_errmsg(ctx));
            return 3;
        }
        te = now() - t0;
        size_t found = 0, total = 0;
        for (size_t i = 0; i < ds->n; i++) {
            if (!in[i]) continue;
            for (size_t c = 0; c < k; c++)
                for (size_t t = 0; t < k; t++)
                    if (a.ids[i * k + t] == e.ids[i * k + c]) {
                        found++;
                        break;
                    }
            total += k;
        }
        all = (double)found / (double)total;
        assay__graph_free(&e);
    }
    if (ids_out && write_ids(ids_out, a.ids, ds->n, k) != 0) {
        fprintf(stderr, "bench_approx: cannot write %s\n", ids_out);
        return 3;
    }
    const assay__approx_info *x = &a.approx;
    printf("{\"input\": \"%s\", \"n\": %zu, \"d\": %zu, \"k\": %zu, \"metric\": \"%s\", "
           "\"threads\": %d, \"isa\": \"%s\", \"approx_s\": %.3f, \"train_s\": %.3f, "
           "\"candidates_s\": %.3f, \"rerank_s\": %.3f, \"recall_s\": %.3f, \"used\": %d, "
           "\"fallback\": %d, \"lists\": %u, \"probes\": %u, \"pilot_recall\": %.4f, "
           "\"recall\": %.4f, \"rows_exact\": %.4f, \"short_rows\": %zu, \"exact_s\": %.3f, "
           "\"recall_all_rows\": %.5f}\n",
           input, ds->n, ds->d, k, metric_name, assay_ctx_threads(ctx),
           assay_isa_name(assay_ctx_isa(ctx)), ta, x->t_train, a.t_candidates, a.t_rerank,
           x->t_recall, x->used, x->fallback, x->lists, x->probes, x->pilot_recall, x->recall,
           x->rows_exact, x->short_rows, te, all);
    assay__graph_free(&a);
    free(in);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    return 0;
}

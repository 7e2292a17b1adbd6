/* SPDX-License-Identifier: Apache-2.0 */
/* Times the cross-fitted probabilities confident uses when no --pred-probs are given
 * (src/detect/crossfit.c) on a dataset, and prints one JSON line: time, out-of-fold accuracy
 * and log loss, the ridge strength and temperature chosen, and, with --truth, how confident
 * learning (cleanlab's default filter, as the confident detector runs it) does on those
 * probabilities against the planted label flips. --eval-probs FILE scores another model's
 * probabilities (raw float32, rows x classes, e.g. scikit-learn's cross_val_predict written by
 * bench/compare_crossfit.py) the same way instead, so both are judged by one implementation.
 * --probs-out FILE writes ours (raw float32). Not a test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "detect/crossfit.h"
#include "detect/label.h"
#include "io/dataset_internal.h"

static void usage(void) {
    fprintf(stderr, "usage: bench_crossfit --input FILE [--threads T] [--folds K] [--truth CSV]\n"
                    "                      [--eval-probs F32FILE] [--probs-out F32FILE]\n");
}

/* Planted rows from a ground-truth CSV (index,is_poison,...; header first) whose attack is a
 * label change ("random_flip", "targeted_flip"): poison[r] = 1. Returns the count. */
static size_t read_flips(const char *path, size_t n, uint8_t *poison) {
    FILE *fp = fopen(path, "r");
    if (fp == NULL) return 0;
    char line[512];
    size_t count = 0;
    if (fgets(line, sizeof line, fp) == NULL) {
        fclose(fp);
        return 0;
    }
    while (fgets(line, sizeof line, fp) != NULL) {
        unsigned long long idx;
        int is_poison;
        char attack[128] = "";
        if (sscanf(line, "%llu,%d,%127[^,\n]", &idx, &is_poison, attack) < 2) continue;
        if (!is_poison || idx >= n || strstr(attack, "flip") == NULL) continue;
        poison[idx] = 1;
        count++;
    }
    fclose(fp);
    return count;
}

int main(int argc, char **argv) {
    const char *input = NULL, *truth = NULL, *eval = NULL, *out = NULL;
    int threads = 2;
    size_t folds = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc)
            input = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--folds") && i + 1 < argc)
            folds = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--truth") && i + 1 < argc)
            truth = argv[++i];
        else if (!strcmp(argv[i], "--eval-probs") && i + 1 < argc)
            eval = argv[++i];
        else if (!strcmp(argv[i], "--probs-out") && i + 1 < argc)
            out = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    if (input == NULL) {
        usage();
        return 2;
    }
    assay_ctx_opts co = {0};
    co.n_threads = threads;
    assay_ctx *ctx = NULL;
    assay_dataset *ds = NULL;
    if (assay_ctx_create(&ctx, &co) != ASSAY_OK ||
        assay_dataset_load(ctx, input, NULL, &ds) != ASSAY_OK) {
        fprintf(stderr, "bench_crossfit: %s\n", ctx ? assay_ctx_errmsg(ctx) : "no context");
        return 2;
    }
    const size_t n = ds->n, k = ds->n_classes;
    float *p = malloc(n * k * sizeof *p);
    if (p == NULL) return 3;
    assay__crossfit_info info;
    memset(&info, 0, sizeof info);
    double seconds = NAN;
    if (eval != NULL) {
        FILE *fp = fopen(eval, "rb");
        if (fp == NULL || fread(p, sizeof *p, n * k, fp) != n * k) {
            fprintf(stderr, "bench_crossfit: cannot read %zu x %zu floats from %s\n", n, k, eval);
            return 2;
        }
        fclose(fp);
    } else {
        assay__crossfit_opts o = {folds, 0, 0.0, 0};
        double t0 = assay__now();
        if (assay__crossfit_probs(ctx, ds, &o, p, &info) != ASSAY_OK) {
            fprintf(stderr, "bench_crossfit: %s\n", assay_ctx_errmsg(ctx));
            return 3;
        }
        seconds = assay__now() - t0;
        if (out != NULL) {
            FILE *fp = fopen(out, "wb");
            if (fp == NULL || fwrite(p, sizeof *p, n * k, fp) != n * k) return 3;
            fclose(fp);
        }
    }
    /* Accuracy and log loss on the given labels, computed here for both sources alike. */
    size_t rows = 0, correct = 0;
    double loss = 0.0;
    int32_t *y = malloc(n * sizeof *y);
    for (size_t r = 0; r < n; r++) {
        const float *pr = p + r * k;
        y[r] = ds->y[r] >= 0 && isfinite(pr[0]) ? ds->y[r] : -1;
        if (y[r] < 0) continue;
        size_t best = 0;
        for (size_t c = 1; c < k; c++)
            if (pr[c] > pr[best]) best = c;
        rows++;
        correct += best == (size_t)y[r];
        double own = pr[y[r]];
        loss -= log(own > 1e-300 ? own : 1e-300);
    }
    printf("{\"input\":\"%s\",\"source\":\"%s\",\"rows\":%zu,\"d\":%zu,\"classes\":%zu,"
           "\"threads\":%d,\"folds\":%zu,\"seconds\":%.3f,\"accuracy\":%.5f,\"log_loss\":%.5f",
           input, eval ? "given" : "crossfit", n, ds->d, k, threads, eval ? (size_t)0 : folds,
           eval ? 0.0 : seconds, rows ? (double)correct / (double)rows : 0.0,
           rows ? loss / (double)rows : 0.0);
    if (eval == NULL)
        printf(",\"alpha\":%g,\"temperature\":%.4g", info.alpha_median, info.temperature);
    if (truth != NULL) {
        uint8_t *poison = calloc(n, 1), *issue = malloc(n);
        size_t planted = read_flips(truth, n, poison), flagged = 0, tp = 0;
        if (assay__cl_find_issues(ctx, y, p, n, k, ASSAY__CL_PRUNE_BY_NOISE_RATE, issue, NULL) !=
            ASSAY_OK)
            return 3;
        for (size_t r = 0; r < n; r++) {
            flagged += issue[r];
            tp += issue[r] && poison[r];
        }
        printf(",\"planted_flips\":%zu,\"cl_flagged\":%zu,\"cl_true\":%zu,\"cl_precision\":%.4f,"
               "\"cl_recall\":%.4f",
               planted, flagged, tp, flagged ? (double)tp / (double)flagged : 0.0,
               planted ? (double)tp / (double)planted : 0.0);
        free(poison);
        free(issue);
    }
    printf("}\n");
    free(y);
    free(p);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Throughput of one distance tile, single-threaded, as the graph's candidate pass runs it: the
 * multiply work of an m x n tile over d positions with OpenBLAS sgemm (float32), and with each
 * reduced-precision tile kernel of the dispatched table (int8 exact, int8 pair-saturating, bf16),
 * operands already packed (packing is once per row, outside the pair loop). Prints GMAC/s and
 * each kernel's speed as a ratio to sgemm measured in the same run, alternating the kernels so
 * machine noise hits them alike.
 *   bench_tiles [-m 512] [-n 512] [-d 784] [--repeat 5] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "core/dispatch.h"
#include "core/internal.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xmalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (p == NULL) {
        fprintf(stderr, "bench_tiles: out of memory\n");
        exit(3);
    }
    return p;
}

int main(int argc, char **argv) {
    size_t m = 512, n = 512, d = 784;
    int repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "-m"))
            m = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(argv[i], "-n"))
            n = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(argv[i], "-d"))
            d = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_tiles [-m M] [-n N] [-d D] [--repeat R]\n");
            return 2;
        }
    }
    assay_isa isa = ASSAY_ISA_AUTO;
    const assay_kernels *K;
    if (assay__dispatch_select(&isa, &K) != ASSAY_OK) return 2;
    const assay_kernels *S = assay__kernels_for(ASSAY_ISA_SCALAR);
    size_t dp = (d + 3) / 4 * 4, rows = m > n ? m : n;
    float *x = xmalloc(rows * d * sizeof(float)), *t = xmalloc(m * n * sizeof(float));
    int8_t *c = xmalloc(rows * dp);
    uint16_t *h = xmalloc(rows * dp * 2);
    uint8_t *bp = xmalloc(assay__panel_size(n, dp));
    uint16_t *hp = xmalloc(assay__panel_size(n, dp) * 2);
    int32_t *asum = xmalloc(m * sizeof(int32_t));
    float *sa = xmalloc(rows * sizeof(float)), *sb = xmalloc(rows * sizeof(float));
    uint64_t s = 42;
    for (size_t i = 0; i < rows; i++) {
        int32_t sum = 0;
        for (size_t p = 0; p < dp; p++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            float v = p < d ? (float)((s >> 40) % 2001) / 1000.0f - 1.0f : 0.0f;
            if (p < d) x[i * d + p] = v;
            c[i * dp + p] = (int8_t)lrintf(v * 63.0f);
            h[i * dp + p] = assay__bf16_from_float(v);
            sum += c[i * dp + p];
        }
        if (i < m) asum[i] = 128 * sum;
        sa[i] = -2.0f / 63.0f;
        sb[i] = 1.0f / 63.0f;
    }
    assay__pack_u8_panels(c, dp, n, dp, bp);
    assay__pack_bf16_panels(h, dp, n, dp, hp);
    assay__blas_single_begin();
    enum { K_SGEMM, K_I8, K_PAIRSAT, K_BF16, N_K };
    const char *names[N_K] = {"sgemm (float32)", "tile_i8", "tile_i8_pairsat", "tile_bf16"};
    int native[N_K] = {1, K->tile_i8 != S->tile_i8, K->tile_i8_pairsat != S->tile_i8_pairsat,
                       K->tile_bf16 != S->tile_bf16};
    double best[N_K];
    for (int k = 0; k < N_K; k++) best[k] = INFINITY;
    for (int r = 0; r < repeat; r++)
        for (int k = 0; k < N_K; k++) {
            if (!native[k]) continue;
            double t0 = now();
            switch (k) {
            case K_SGEMM:
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)d, -2.0f,
                            x, (int)d, x, (int)d, 0.0f, t, (int)n);
                break;
            case K_I8:
                K->tile_i8(t, n, m, n, dp, c, dp, bp, asum, sa, sb);
                break;
            case K_PAIRSAT:
                K->tile_i8_pairsat(t, n, m, n, dp, c, dp, bp, asum, sa, sb);
                break;
            default:
                K->tile_bf16(t, n, m, n, dp & ~(size_t)1, h, dp, hp, -2.0f);
            }
            double el = now() - t0;
            if (el < best[k]) best[k] = el;
        }
    assay__blas_single_end();
    double macs = (double)m * (double)n * (double)d;
    printf("tile %zu x %zu, d = %zu, one thread, best of %d; kernels %s; cpu %s\n", m, n, d, repeat,
           K->name, assay__cpu_feature_names());
    printf("| kernel | ms | GMAC/s | speed / sgemm |\n|---|---:|---:|---:|\n");
    for (int k = 0; k < N_K; k++) {
        if (!native[k]) {
            printf("| %s | (scalar only on this CPU) | | |\n", names[k]);
            continue;
        }
        printf("| %s | %.3f | %.1f | %.2f |\n", names[k], 1e3 * best[k], macs / best[k] * 1e-9,
               best[K_SGEMM] / best[k]);
    }
    free(x);
    free(t);
    free(c);
    free(h);
    free(bp);
    free(hp);
    free(asum);
    free(sa);
    free(sb);
    return 0;
}

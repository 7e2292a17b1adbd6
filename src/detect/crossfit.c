/* SPDX-License-Identifier: Apache-2.0 */
/* Cross-fitted class probabilities (see crossfit.h).
 *
 * The rows with a label and finite features are split into L stratified blocks; outer fold f is
 * the blocks b with b % K == f (L = K, or 2K when K = 2 so that the training folds can still be
 * split for the inner cross-validation). Per block, one pass gives its Gram matrix, feature sums,
 * class sums and class counts, in coordinates standardised once over the whole data (an affine
 * change that does not change the model, only keeps the float Gram well scaled). Any training set
 * is a union of blocks, so its centred and standardised Gram is a sum and a rescaling:
 *
 *   mu = s / n, C = sum G_b - n mu mu^T, D = diag(sqrt(C_jj / n)),
 *   (D^-1 C D^-1 + alpha n I) W_z = D^-1 (sum B_b - s ybar^T),  W = D^-1 W_z,
 *   b = ybar - W^T mu,   score(x) = W^T x + b,   p = softmax(t * score).
 *
 * For outer fold f: for two blocks g outside f (CF_INNER), models fitted on the blocks outside f
 * and g (every alpha of the grid at once: one Cholesky each) score a sample of g; per alpha, the
 * inverse temperature t minimising the log loss of those inner out-of-fold scores is fitted (a
 * one-dimensional convex problem: safeguarded Newton), and the alpha with the lowest log loss
 * wins. The model fitted on all blocks outside f with that alpha, at that temperature, gives the
 * probabilities of the rows of f. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "detect/crossfit.h"

/* LAPACK's Fortran symbols (no C header on Debian without lapacke; hidden lengths last). */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a,
                    const int *lda, double *b, const int *ldb, int *info, size_t);

#define CF_BLOCK 512 /* rows gathered per ssyrk / sgemm call */
/* Ridge strengths tried, per training row in standardised units, strongest first: a tie goes to
 * the stronger ridge. */
#define CF_N_ALPHA 7
static const double k_alpha[CF_N_ALPHA] = {100.0, 10.0, 1.0, 0.1, 1e-2, 1e-3, 1e-4};
/* Rows of each block scored by the inner fits: max(CF_SAMPLE_MIN, CF_SAMPLE_BUDGET / classes). */
#define CF_SAMPLE_MIN    300
#define CF_SAMPLE_BUDGET 20000
/* Inner validation blocks per outer fold (the blocks after it, cyclically): two give the
 * strength and temperature enough rows, and halve the Cholesky factorisations of five. */
#define CF_INNER 2
#define CF_T_MIN 1e-3
#define CF_T_MAX 1e4

typedef struct cf_job {
    const assay_dataset *ds;
    size_t d, k;      /* features, classes */
    size_t K, L;      /* outer folds, blocks */
    const double *al; /* ridge strengths tried */
    size_t na;
    float *muf, *isdf;     /* global standardisation: z = (x - muf) * isdf */
    size_t *rows, *bstart; /* usable rows by block (each in shuffled order); L + 1 offsets */
    size_t *msamp;         /* per block: its first msamp[b] rows are scored by inner fits */
    double *G, *S, *B, *N; /* per block: d x d Gram, d sums, d x k class sums, k counts */
    float *inner;          /* per (f, g): msamp[g] rows x (na * k) inner scores */
    size_t *inner_off;     /* K x L offsets into inner */
    uint8_t *inner_ok;     /* K x L x na: the fit succeeded */
    double *alpha_f, *t_f; /* per outer fold: chosen strength, inverse temperature */
    float *p;              /* output */
    int in_sample;
    assay_status *st; /* per task */
} cf_job;

/* ---- helpers ---- */

/* 1 if block g validates an inner fit for outer fold f: g is not in f and among the first
 * CF_INNER such blocks after f's first block, cyclically. */
static int inner_block(const cf_job *j, size_t f, size_t g) {
    if (g % j->K == f) return 0;
    size_t rank = 0;
    for (size_t h = (f + 1) % j->L; h != g; h = (h + 1) % j->L) rank += h % j->K != f;
    return rank < CF_INNER;
}

static void gather(const cf_job *j, const size_t *rows, size_t m, float *z) {
    const assay_dataset *ds = j->ds;
    for (size_t i = 0; i < m; i++) {
        const float *x = ds->x + rows[i] * ds->ld;
        float *zr = z + i * j->d;
        for (size_t c = 0; c < j->d; c++) zr[c] = (x[c] - j->muf[c]) * j->isdf[c];
    }
}

/* Workspace of one fit. */
typedef struct cf_ws {
    double *C, *A, *R, *Wz, *mu, *sd, *s, *cn;
} cf_ws;

static void ws_free(cf_ws *w) {
    free(w->C);
    free(w->A);
    free(w->R);
    free(w->Wz);
    free(w->mu);
    free(w->sd);
    free(w->s);
    free(w->cn);
    memset(w, 0, sizeof *w);
}

static int ws_alloc(cf_ws *w, size_t d, size_t k) {
    memset(w, 0, sizeof *w);
    w->C = malloc(d * d * sizeof(double));
    w->A = malloc(d * d * sizeof(double));
    w->R = malloc(d * k * sizeof(double));
    w->Wz = malloc(d * k * sizeof(double));
    w->mu = malloc(d * sizeof(double));
    w->sd = malloc(d * sizeof(double));
    w->s = malloc(d * sizeof(double));
    w->cn = malloc(k * sizeof(double));
    if (w->C && w->A && w->R && w->Wz && w->mu && w->sd && w->s && w->cn) return 1;
    ws_free(w);
    return 0;
}

/* Fits the model on the blocks with use[b] set, for the strengths al[0..na): W (d x na*k,
 * column a*k + c at W + (a*k + c) * d) and bias (na*k). ok[a] = 0 where the Cholesky failed
 * (then the model predicts the class shares). */
static void fit(const cf_job *j, const uint8_t *use, const double *al, size_t na, cf_ws *w,
                float *W, double *bias, uint8_t *ok) {
    const size_t d = j->d, k = j->k;
    memset(w->C, 0, d * d * sizeof(double));
    memset(w->R, 0, d * k * sizeof(double));
    memset(w->s, 0, d * sizeof(double));
    memset(w->cn, 0, k * sizeof(double));
    double n = 0.0;
    for (size_t b = 0; b < j->L; b++) {
        if (!use[b]) continue;
        const double *G = j->G + b * d * d, *S = j->S + b * d, *B = j->B + b * d * k;
        const double *N = j->N + b * k;
        for (size_t i = 0; i < d * d; i++) w->C[i] += G[i];
        for (size_t i = 0; i < d * k; i++) w->R[i] += B[i];
        for (size_t i = 0; i < d; i++) w->s[i] += S[i];
        for (size_t c = 0; c < k; c++) w->cn[c] += N[c], n += N[c];
    }
    for (size_t i = 0; i < d; i++) w->mu[i] = w->s[i] / n;
    for (size_t c = 0; c < d; c++)
        for (size_t r = 0; r < d; r++) w->C[c * d + r] -= n * w->mu[r] * w->mu[c];
    for (size_t i = 0; i < d; i++) {
        double v = w->C[i * d + i];
        w->sd[i] = v > 1e-10 * n ? sqrt(v / n) : 1.0; /* constant feature: left as is (W = 0) */
    }
    for (size_t c = 0; c < d; c++)
        for (size_t r = 0; r < d; r++) w->C[c * d + r] /= w->sd[r] * w->sd[c];
    for (size_t c = 0; c < k; c++) {
        double ybar = w->cn[c] / n;
        for (size_t i = 0; i < d; i++)
            w->R[c * d + i] = (w->R[c * d + i] - w->s[i] * ybar) / w->sd[i];
    }
    const int di = (int)d, ki = (int)k;
    for (size_t a = 0; a < na; a++) {
        memcpy(w->A, w->C, d * d * sizeof(double));
        for (size_t i = 0; i < d; i++) w->A[i * d + i] += al[a] * n;
        int info = 0;
        dpotrf_("L", &di, w->A, &di, &info, 1);
        if (info == 0) {
            memcpy(w->Wz, w->R, d * k * sizeof(double));
            dpotrs_("L", &di, &ki, w->A, &di, w->Wz, &di, &info, 1);
        }
        ok[a] = info == 0;
        for (size_t c = 0; c < k; c++) {
            double ybar = w->cn[c] / n, dot = 0.0;
            float *wc = W + (a * k + c) * d;
            for (size_t i = 0; i < d; i++) {
                double v = ok[a] ? w->Wz[c * d + i] / w->sd[i] : 0.0;
                wc[i] = (float)v;
                dot += w->mu[i] * (double)wc[i];
            }
            bias[a * k + c] = ybar - dot;
        }
    }
}

/* scores (m x cols, row-major) = z(rows) . W + bias, in blocks; z is CF_BLOCK x d scratch. */
static void score_rows(const cf_job *j, const size_t *rows, size_t m, const float *W,
                       const double *bias, size_t cols, float *z, float *scores) {
    const size_t d = j->d;
    for (size_t i0 = 0; i0 < m; i0 += CF_BLOCK) {
        size_t b = m - i0 < CF_BLOCK ? m - i0 : CF_BLOCK;
        gather(j, rows + i0, b, z);
        float *out = scores + i0 * cols;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)cols, (int)d, 1.0f, z,
                    (int)d, W, (int)d, 0.0f, out, (int)cols);
        for (size_t i = 0; i < b; i++)
            for (size_t c = 0; c < cols; c++) out[i * cols + c] += (float)bias[c];
    }
}

/* Mean log loss of softmax(t * s) over m rows of k scores (row i at s + i * ld), with its first
 * and second derivatives in t. */
static double nll_at(const float *s, size_t ld, const int32_t *y, size_t m, size_t k, double t,
                     double *g, double *h) {
    double L = 0.0, G = 0.0, H = 0.0;
    for (size_t i = 0; i < m; i++) {
        const float *r = s + i * ld;
        double mx = r[0];
        for (size_t c = 1; c < k; c++)
            if (r[c] > mx) mx = r[c];
        double z = 0.0, e1 = 0.0, e2 = 0.0;
        for (size_t c = 0; c < k; c++) {
            double e = exp(t * ((double)r[c] - mx));
            z += e;
            e1 += e * r[c];
            e2 += e * (double)r[c] * r[c];
        }
        e1 /= z;
        e2 /= z;
        L += log(z) + t * (mx - (double)r[y[i]]);
        G += e1 - r[y[i]];
        H += e2 - e1 * e1;
    }
    *g = G / (double)m;
    *h = H / (double)m;
    return L / (double)m;
}

/* The inverse temperature minimising the log loss (convex in t): Newton steps kept inside the
 * bracket the derivative's sign gives, geometric bisection otherwise. *nll receives the loss. */
static double fit_temperature(const float *s, size_t ld, const int32_t *y, size_t m, size_t k,
                              double *nll) {
    double lo = CF_T_MIN, hi = CF_T_MAX, t = 1.0, g, h;
    double L = nll_at(s, ld, y, m, k, hi, &g, &h);
    if (g <= 0.0) { /* still improving at the cap: separable scores */
        *nll = L;
        return hi;
    }
    for (int it = 0; it < 100; it++) {
        L = nll_at(s, ld, y, m, k, t, &g, &h);
        if (g > 0.0)
            hi = t;
        else
            lo = t;
        double tn = h > 0.0 ? t - g / h : NAN;
        if (!(tn > lo && tn < hi)) tn = sqrt(lo * hi);
        if (fabs(tn - t) <= 1e-7 * t) break;
        t = tn;
    }
    *nll = nll_at(s, ld, y, m, k, t, &g, &h);
    return t;
}

/* ---- phase 1: the statistics of one block ---- */

static void stats_task(void *arg, size_t b, int worker) {
    (void)worker;
    cf_job *j = arg;
    const size_t d = j->d, k = j->k;
    float *z = malloc(CF_BLOCK * d * sizeof *z), *part = malloc(d * d * sizeof *part);
    if (z == NULL || part == NULL) {
        j->st[b] = ASSAY_E_NOMEM;
        free(z);
        free(part);
        return;
    }
    double *G = j->G + b * d * d, *S = j->S + b * d, *B = j->B + b * d * k, *N = j->N + b * k;
    const size_t *rows = j->rows + j->bstart[b], m = j->bstart[b + 1] - j->bstart[b];
    for (size_t i0 = 0; i0 < m; i0 += CF_BLOCK) {
        size_t nb = m - i0 < CF_BLOCK ? m - i0 : CF_BLOCK;
        gather(j, rows + i0, nb, z);
        cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)d, (int)nb, 1.0f, z, (int)d, 0.0f,
                    part, (int)d);
        for (size_t c = 0; c < d; c++)
            for (size_t r = 0; r <= c; r++) G[c * d + r] += part[c * d + r];
        for (size_t i = 0; i < nb; i++) {
            const float *zr = z + i * d;
            size_t y = (size_t)j->ds->y[rows[i0 + i]];
            N[y] += 1.0;
            for (size_t c = 0; c < d; c++) {
                S[c] += zr[c];
                B[y * d + c] += zr[c];
            }
        }
    }
    for (size_t c = 0; c < d; c++)
        for (size_t r = c + 1; r < d; r++) G[c * d + r] = G[r * d + c];
    free(z);
    free(part);
}

/* ---- phase 2: inner fits, one per (outer fold f, block g outside f) ---- */

static void inner_task(void *arg, size_t t, int worker) {
    (void)worker;
    cf_job *j = arg;
    const size_t f = t / j->L, g = t % j->L, d = j->d, k = j->k, cols = j->na * k;
    if (!inner_block(j, f, g)) return;
    uint8_t *use = malloc(j->L);
    float *W = malloc(d * cols * sizeof *W), *z = malloc(CF_BLOCK * d * sizeof *z);
    double *bias = malloc(cols * sizeof *bias);
    cf_ws w;
    int have_ws = ws_alloc(&w, d, k);
    if (use == NULL || W == NULL || z == NULL || bias == NULL || !have_ws) {
        j->st[t] = ASSAY_E_NOMEM;
    } else {
        for (size_t b = 0; b < j->L; b++) use[b] = b % j->K != f && b != g;
        fit(j, use, j->al, j->na, &w, W, bias, j->inner_ok + t * j->na);
        score_rows(j, j->rows + j->bstart[g], j->msamp[g], W, bias, cols, z,
                   j->inner + j->inner_off[t]);
    }
    if (have_ws) ws_free(&w);
    free(use);
    free(W);
    free(z);
    free(bias);
}

/* ---- phase 3: per outer fold, the strength and temperature, then the fold's probabilities ---- */

static void outer_task(void *arg, size_t f, int worker) {
    (void)worker;
    cf_job *j = arg;
    const size_t d = j->d, k = j->k, na = j->na, cols = na * k;
    size_t ns = 0;
    for (size_t g = 0; g < j->L; g++)
        if (inner_block(j, f, g)) ns += j->msamp[g];
    float *s = malloc((ns ? ns : 1) * k * sizeof *s), *W = malloc(d * k * sizeof *W);
    float *z = malloc(CF_BLOCK * d * sizeof *z), *sc = malloc(CF_BLOCK * k * sizeof *sc);
    int32_t *ys = malloc((ns ? ns : 1) * sizeof *ys);
    uint8_t *use = malloc(j->L), ok = 0;
    double *bk = malloc(k * sizeof *bk);
    cf_ws w;
    int have_ws = ws_alloc(&w, d, k);
    if (!s || !W || !z || !sc || !ys || !use || !bk || !have_ws) {
        j->st[f] = ASSAY_E_NOMEM;
        goto done;
    }
    /* The labels of the inner sample, in the order the inner scores are stored. */
    size_t at = 0;
    for (size_t g = 0; g < j->L; g++) {
        if (!inner_block(j, f, g)) continue;
        for (size_t i = 0; i < j->msamp[g]; i++) ys[at++] = j->ds->y[j->rows[j->bstart[g] + i]];
    }
    double best = INFINITY, best_alpha = j->al[0], best_t = 1.0; /* (no fit succeeded: strongest) */
    for (size_t a = 0; a < na; a++) {
        int all_ok = 1;
        at = 0;
        for (size_t g = 0; g < j->L; g++) {
            if (!inner_block(j, f, g)) continue;
            size_t t = f * j->L + g;
            all_ok &= j->inner_ok[t * na + a];
            const float *src = j->inner + j->inner_off[t];
            for (size_t i = 0; i < j->msamp[g]; i++, at++)
                memcpy(s + at * k, src + i * cols + a * k, k * sizeof *s);
        }
        if (!all_ok || ns == 0) continue;
        double nll;
        double tt = fit_temperature(s, k, ys, ns, k, &nll);
        if (nll < best) {
            best = nll;
            best_alpha = j->al[a];
            best_t = tt;
        }
    }
    j->alpha_f[f] = best_alpha;
    j->t_f[f] = best_t;
    for (size_t b = 0; b < j->L; b++) use[b] = j->in_sample || b % j->K != f;
    fit(j, use, &best_alpha, 1, &w, W, bk, &ok);
    if (!ok) {
        j->st[f] = ASSAY_E_BLAS;
        goto done;
    }
    for (size_t b = 0; b < j->L; b++) {
        if (b % j->K != f) continue;
        const size_t *rows = j->rows + j->bstart[b], m = j->bstart[b + 1] - j->bstart[b];
        for (size_t i0 = 0; i0 < m; i0 += CF_BLOCK) {
            size_t nb = m - i0 < CF_BLOCK ? m - i0 : CF_BLOCK;
            score_rows(j, rows + i0, nb, W, bk, k, z, sc);
            for (size_t i = 0; i < nb; i++) {
                const float *r = sc + i * k;
                double mx = r[0], tot = 0.0;
                for (size_t c = 1; c < k; c++)
                    if (r[c] > mx) mx = r[c];
                float *out = j->p + rows[i0 + i] * k;
                for (size_t c = 0; c < k; c++) tot += exp(best_t * ((double)r[c] - mx));
                for (size_t c = 0; c < k; c++)
                    out[c] = (float)(exp(best_t * ((double)r[c] - mx)) / tot);
            }
        }
    }
done:
    if (have_ws) ws_free(&w);
    free(s);
    free(W);
    free(z);
    free(sc);
    free(ys);
    free(use);
    free(bk);
}

/* ---- driver ---- */

static int usable_row(const assay_dataset *ds, size_t r) {
    return ds->y[r] >= 0 && (size_t)ds->y[r] < ds->n_classes &&
           assay__row_in_graph(ds, r, ASSAY_METRIC_L2);
}

static size_t blocks_for(size_t folds) {
    return folds >= 3 ? folds : 2 * folds;
}

const char *assay__crossfit_unusable(const assay_dataset *ds, size_t folds) {
    if (ds->n_classes < 2) return "cross-fitting needs at least 2 classes";
    if (ds->d == 0) return "cross-fitting needs features";
    if (folds < 2 || folds > ASSAY__CROSSFIT_MAX_FOLDS)
        return "cross-fitting needs between 2 and 20 folds";
    if (ds->d > ASSAY__CROSSFIT_MAX_DIM)
        return "cross-fitting solves d x d systems and stops at 1024 features: give --pred-probs";
    size_t used = 0;
    for (size_t r = 0; r < ds->n; r++) used += usable_row(ds, r);
    if (used < 2 * blocks_for(folds))
        return "too few labelled rows with finite features to cross-fit (2 per fold at least)";
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

assay_status assay__crossfit_probs(assay_ctx *ctx, const assay_dataset *ds,
                                   const assay__crossfit_opts *opts, float *p,
                                   assay__crossfit_info *info) {
    double t0 = assay__now();
    const size_t n = ds->n, d = ds->d, k = ds->n_classes, K = opts->folds;
    if (info != NULL) memset(info, 0, sizeof *info);
    for (size_t i = 0; i < n * k; i++) p[i] = NAN;
    const char *why = assay__crossfit_unusable(ds, K);
    if (why != NULL) return assay__fail(ctx, ASSAY_E_INVAL, "%s", why);
    const size_t L = blocks_for(K);

    cf_job j;
    memset(&j, 0, sizeof j);
    j.ds = ds;
    j.d = d;
    j.k = k;
    j.K = K;
    j.L = L;
    j.p = p;
    j.in_sample = opts->in_sample;
    double fixed = opts->alpha;
    j.al = fixed > 0.0 ? &fixed : k_alpha;
    j.na = fixed > 0.0 ? 1 : CF_N_ALPHA;

    assay_status s = ASSAY_OK;
    size_t *perm = malloc(n * sizeof *perm), *pos = calloc(k, sizeof *pos);
    size_t *cls_n = calloc(k, sizeof *cls_n), *bfill = calloc(L + 1, sizeof *bfill);
    uint32_t *block_of = malloc(n * sizeof *block_of);
    double *mu = calloc(d, sizeof *mu), *var = calloc(d, sizeof *var);
    j.muf = malloc(d * sizeof *j.muf);
    j.isdf = malloc(d * sizeof *j.isdf);
    j.rows = malloc(n * sizeof *j.rows);
    j.bstart = calloc(L + 1, sizeof *j.bstart);
    j.msamp = calloc(L, sizeof *j.msamp);
    j.G = calloc(L * d * d, sizeof *j.G);
    j.S = calloc(L * d, sizeof *j.S);
    j.B = calloc(L * d * k, sizeof *j.B);
    j.N = calloc(L * k, sizeof *j.N);
    j.inner_off = calloc(K * L, sizeof *j.inner_off);
    j.inner_ok = calloc(K * L * j.na, 1);
    j.alpha_f = calloc(K, sizeof *j.alpha_f);
    j.t_f = calloc(K, sizeof *j.t_f);
    j.st = calloc(K * L, sizeof *j.st);
    if (!perm || !pos || !cls_n || !bfill || !block_of || !mu || !var || !j.muf || !j.isdf ||
        !j.rows || !j.bstart || !j.msamp || !j.G || !j.S || !j.B || !j.N || !j.inner_off ||
        !j.inner_ok || !j.alpha_f || !j.t_f || !j.st) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (cross-fitting)");
        goto done;
    }

    /* Global standardisation over the usable rows (double, two passes). */
    size_t used = 0;
    for (size_t r = 0; r < n; r++) {
        if (!usable_row(ds, r)) continue;
        const float *x = ds->x + r * ds->ld;
        for (size_t c = 0; c < d; c++) mu[c] += x[c];
        perm[used++] = r;
        cls_n[ds->y[r]]++;
    }
    for (size_t c = 0; c < d; c++) mu[c] /= (double)used;
    for (size_t i = 0; i < used; i++) {
        const float *x = ds->x + perm[i] * ds->ld;
        for (size_t c = 0; c < d; c++) var[c] += ((double)x[c] - mu[c]) * ((double)x[c] - mu[c]);
    }
    for (size_t c = 0; c < d; c++) {
        double sd = sqrt(var[c] / (double)used);
        j.muf[c] = (float)mu[c];
        j.isdf[c] = sd > 0.0 && isfinite(1.0 / sd) ? (float)(1.0 / sd) : 1.0f;
    }

    /* Stratified blocks: the usable rows in a random order seeded from the dataset; the i-th row
     * of class c (in that order) goes to block (i + offset_c) % L, offset_c the rows of the
     * classes before c, so block sizes differ by one at most and small classes spread out. */
    uint64_t dig = 0;
    memcpy(&dig, ds->digest, sizeof dig);
    assay__rng rng = assay__rng_seed(opts->seed ^ dig, 0x63726f73736669ull /* "crossfi" */);
    for (size_t i = used; i > 1; i--) {
        size_t q = (size_t)assay__rng_below(&rng, i);
        size_t tmp = perm[i - 1];
        perm[i - 1] = perm[q];
        perm[q] = tmp;
    }
    size_t off = 0;
    for (size_t c = 0; c < k; c++) {
        pos[c] = off % L;
        off += cls_n[c];
    }
    for (size_t i = 0; i < used; i++) {
        size_t r = perm[i], c = (size_t)ds->y[r];
        block_of[i] = (uint32_t)(pos[c]++ % L);
        j.bstart[block_of[i] + 1]++;
    }
    for (size_t b = 0; b < L; b++) j.bstart[b + 1] += j.bstart[b];
    for (size_t b = 0; b < L; b++) bfill[b] = j.bstart[b];
    for (size_t i = 0; i < used; i++) j.rows[bfill[block_of[i]]++] = perm[i];
    size_t per = CF_SAMPLE_BUDGET / k > CF_SAMPLE_MIN ? CF_SAMPLE_BUDGET / k : CF_SAMPLE_MIN;
    for (size_t b = 0; b < L; b++) {
        size_t m = j.bstart[b + 1] - j.bstart[b];
        j.msamp[b] = m < per ? m : per;
    }
    size_t inner_total = 0;
    for (size_t f = 0; f < K; f++)
        for (size_t g = 0; g < L; g++) {
            j.inner_off[f * L + g] = inner_total;
            if (inner_block(&j, f, g)) inner_total += j.msamp[g] * j.na * k;
        }
    j.inner = malloc((inner_total ? inner_total : 1) * sizeof *j.inner);
    if (j.inner == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (cross-fitting)");
        goto done;
    }

    /* BLAS single-threaded inside; the blocks and folds run on the context's threads. */
    assay__blas_single_begin();
    s = assay__parallel_for(ctx, L, ctx->n_threads, stats_task, &j);
    for (size_t b = 0; s == ASSAY_OK && b < L; b++) s = j.st[b];
    if (s == ASSAY_OK) s = assay__parallel_for(ctx, K * L, ctx->n_threads, inner_task, &j);
    for (size_t t = 0; s == ASSAY_OK && t < K * L; t++) s = j.st[t];
    if (s == ASSAY_OK) s = assay__parallel_for(ctx, K, ctx->n_threads, outer_task, &j);
    for (size_t f = 0; s == ASSAY_OK && f < K; f++) s = j.st[f];
    assay__blas_single_end();
    if (s != ASSAY_OK) {
        s = assay__fail(ctx, s, "cross-fitting: %s",
                        s == ASSAY_E_BLAS ? "LAPACK failed (Cholesky of a ridge system)"
                                          : assay_status_str(s));
        goto done;
    }

    if (info != NULL) {
        double loss = 0.0;
        for (size_t i = 0; i < used; i++) {
            size_t r = perm[i];
            const float *pr = p + r * k;
            size_t best = 0;
            for (size_t c = 1; c < k; c++)
                if (pr[c] > pr[best]) best = c;
            info->correct += best == (size_t)ds->y[r];
            double own = pr[ds->y[r]];
            loss -= log(own > 1e-300 ? own : 1e-300);
        }
        info->folds = K;
        info->rows = used;
        info->accuracy = (double)info->correct / (double)used;
        info->log_loss = loss / (double)used;
        info->alpha_median = median_of(j.alpha_f, K);
        info->temperature = median_of(j.t_f, K);
        info->seconds = assay__now() - t0;
    }
done:
    free(perm);
    free(pos);
    free(cls_n);
    free(bfill);
    free(block_of);
    free(mu);
    free(var);
    free(j.muf);
    free(j.isdf);
    free(j.rows);
    free(j.bstart);
    free(j.msamp);
    free(j.G);
    free(j.S);
    free(j.B);
    free(j.N);
    free(j.inner);
    free(j.inner_off);
    free(j.inner_ok);
    free(j.alpha_f);
    free(j.t_f);
    free(j.st);
    return s;
}

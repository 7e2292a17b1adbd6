/* SPDX-License-Identifier: Apache-2.0 */
/* mahalanobis: class-conditional robust Mahalanobis distance. Per class a mean and a shrinkage
 * covariance (Ledoit-Wolf, or a given shrinkage towards a scaled identity, so it is positive
 * definite even with fewer rows than dimensions) estimated MCD-style on the central half of the
 * class only (the half nearest the coordinatewise median, then the central half again under that
 * half's model), so a poisoned group of up to half the class cannot pull the estimate towards
 * itself and hide; every row's squared distance by the inverse of a Cholesky factor applied to
 * blocks of rows (strmm). Real data are not Gaussian, so rows are judged against their own class's
 * bulk (robust z of the log distance) and a class against the other classes (its share of far
 * rows). */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/linalg.h"
#include "core/stats.h"
#include "detect/detector.h"
#include "detect/params.h"
#include "detect/per_class.h"

/* Classes with fewer rows are not scored. */
#define MH_MIN_ROWS 10
/* Principal directions of the cheap proxy distance that picks the central rows. */
#define MH_PROXY_DIMS 20
/* MCD-style support: the central half of the class. */
#define MH_SUPPORT 0.5
/* A row is far from its class beyond this robust z; the class test counts them. */
#define MH_FAR_Z 3.0
/* Rows per ssyrk / strsm call (512 ran 15-25% faster than 256 for d = 784 with OpenBLAS). */
#define MH_BLOCK 512
/* Columns gathered at a time for the coordinatewise median. */
#define MH_MEDIAN_COLS 16
/* The class test compares a class with the others: it needs this many classes. */
#define MH_MIN_CLASSES 4

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The proxy model of a class: the probabilistic-PCA form of the Mahalanobis distance,
 * sum_j y_j^2 / l_j over the top principal directions of the central rows plus the residual over
 * the mean residual variance. O(d q) per row instead of O(d^2): it picks the central rows (the
 * C-step) without a full triangular solve. */
typedef struct mh_model {
    double *mu, *vecs, *vals; /* d, d x q, q */
    size_t q;
    double sig2; /* residual variance per dimension */
} mh_model;

/* Fits M on rows krows[0..nk) (row indices into the dataset). */
static assay_status proxy_fit(assay_ctx *ctx, const assay_dataset *ds, const size_t *krows,
                              size_t nk, uint64_t seed, mh_model *M) {
    const size_t d = ds->d;
    assay__rows_mean(ds->x, ds->ld, d, krows, nk, M->mu);
    ASSAY_TRY(assay__rows_pca(ctx, ds->x, ds->ld, d, krows, nk, M->mu, MH_PROXY_DIMS, seed, M->vecs,
                              M->vals, &M->q));
    double tr = 0.0; /* mean squared distance to mu over the rows: the total variance */
    for (size_t i = 0; i < nk; i++) {
        const float *xr = ds->x + krows[i] * ds->ld;
        for (size_t j = 0; j < d; j++)
            tr += ((double)xr[j] - M->mu[j]) * ((double)xr[j] - M->mu[j]);
    }
    tr /= (double)nk;
    double top = 0.0;
    for (size_t j = 0; j < M->q; j++) top += M->vals[j];
    M->sig2 = d > M->q ? (tr - top) / (double)(d - M->q) : 0.0;
    if (!(M->sig2 > 1e-12 * tr)) M->sig2 = 1e-12 * tr > 0.0 ? 1e-12 * tr : DBL_MIN;
    return ASSAY_OK;
}

/* Proxy squared distances of rows r[0..m) (dataset indices) under M into prox; y holds m x q. */
static assay_status proxy_dist(assay_ctx *ctx, const assay_dataset *ds, const mh_model *M,
                               const size_t *r, size_t m, double *y, double *prox) {
    const size_t d = ds->d, q = M->q;
    if (q > 0) ASSAY_TRY(assay__rows_project(ctx, ds->x, ds->ld, d, r, m, M->mu, M->vecs, q, y));
    for (size_t i = 0; i < m; i++) {
        const float *xr = ds->x + r[i] * ds->ld;
        double n2 = 0.0, in = 0.0, t = 0.0;
        for (size_t j = 0; j < d; j++)
            n2 += ((double)xr[j] - M->mu[j]) * ((double)xr[j] - M->mu[j]);
        for (size_t j = 0; j < q; j++) {
            double v = y[i * q + j];
            in += v * v;
            t += v * v / (M->vals[j] > M->sig2 ? M->vals[j] : M->sig2);
        }
        double res = n2 - in;
        prox[i] = t + (res > 0.0 ? res : 0.0) / M->sig2;
    }
    return ASSAY_OK;
}

/* Shrinkage estimate on the rows keep[0..nk) and the squared distance of every class row (dist,
 * nc). The scatter comes from ssyrk on float blocks centred in double (summed in double across
 * blocks); the Ledoit-Wolf intensity (shrink < 0) uses the row norms' fourth moments:
 * b = (sum_k |x_k|^4 / n - |S|_F^2) / (n d), delta = |S|_F^2 / d - m^2, rho = min(b, delta) /
 * delta, m = tr(S) / d; Sigma = (1 - rho) S + rho m I. The Cholesky factor's inverse (dtrtri)
 * is applied in float by strmm on blocks: it runs at sgemm speed where strsm did not (1.9 against
 * 2.4 CPU-s on Fashion-MNIST), with an error that grows with cond(Sigma), which the shrinkage
 * bounds. */
static assay_status exact_dist(assay_ctx *ctx, const assay_dataset *ds, const size_t *rc, size_t nc,
                               const size_t *keep, size_t nk, double shrink, double *mu,
                               double *cov, double *sdiag, float *lf, float *blk, float *tile,
                               size_t *krows, double *dist, double *rho_out) {
    const size_t d = ds->d;
    const int id = (int)d;
    for (size_t i = 0; i < nk; i++) krows[i] = rc[keep[i]];
    assay__rows_mean(ds->x, ds->ld, d, krows, nk, mu);
    memset(cov, 0, d * d * sizeof *cov);
    double n4 = 0.0;
    for (size_t i0 = 0; i0 < nk; i0 += MH_BLOCK) {
        size_t b = nk - i0 < MH_BLOCK ? nk - i0 : MH_BLOCK;
        for (size_t i = 0; i < b; i++) {
            const float *xr = ds->x + krows[i0 + i] * ds->ld;
            double n2 = 0.0;
            for (size_t j = 0; j < d; j++) {
                double v = (double)xr[j] - mu[j];
                blk[i * d + j] = (float)v;
                n2 += v * v;
            }
            n4 += n2 * n2;
        }
        cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, id, (int)b, 1.0f, blk, id, 0.0f, tile,
                    id);
        for (size_t j = 0; j < d; j++)
            for (size_t i = 0; i <= j; i++) cov[j * d + i] += tile[j * d + i];
    }
    const double n = (double)nk;
    double tr = 0.0, fro = 0.0;
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i <= j; i++) {
            double v = cov[j * d + i] /= n;
            fro += i == j ? v * v : 2.0 * v * v;
            if (i == j) tr += v;
        }
    double m = tr / (double)d, rho = shrink;
    if (shrink < 0.0) {
        double delta = fro / (double)d - m * m;
        double beta = (n4 / n - fro) / (n * (double)d);
        if (beta > delta) beta = delta;
        rho = delta > 0.0 ? (beta > 0.0 ? beta / delta : 0.0) : 1.0;
    }
    if (!(m > 0.0)) m = 1.0; /* all kept rows equal: distances become squared Euclidean */
    for (size_t j = 0; j < d; j++) sdiag[j] = cov[j * d + j];
    assay_status s = ASSAY_E_BLAS;
    for (int attempt = 0; attempt < 12 && s != ASSAY_OK; attempt++) {
        if (attempt > 0) { /* not positive definite in double precision: more shrinkage */
            rho = rho > 0.0 ? 4.0 * rho : 1e-9;
            if (rho > 1.0) rho = 1.0;
        }
        /* the lower triangle (column-major) = Sigma, from S in the upper triangle; dpotrf
         * overwrites only the lower one */
        for (size_t j = 0; j < d; j++) {
            cov[j * d + j] = (1.0 - rho) * sdiag[j] + rho * m;
            for (size_t i = j + 1; i < d; i++) cov[j * d + i] = (1.0 - rho) * cov[i * d + j];
        }
        s = assay__cholesky(ctx, cov, d);
    }
    if (s != ASSAY_OK) return s;
    ASSAY_TRY(assay__lower_inverse(ctx, cov, d));
    const double *a = cov;
    *rho_out = rho;
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i < d; i++) lf[j * d + i] = i >= j ? (float)a[j * d + i] : 0.0f;
    for (size_t i0 = 0; i0 < nc; i0 += MH_BLOCK) {
        size_t b = nc - i0 < MH_BLOCK ? nc - i0 : MH_BLOCK;
        for (size_t i = 0; i < b; i++) {
            const float *xr = ds->x + rc[i0 + i] * ds->ld;
            for (size_t j = 0; j < d; j++) blk[i * d + j] = (float)((double)xr[j] - mu[j]);
        }
        cblas_strmm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, id, (int)b,
                    1.0f, lf, id, blk, id);
        for (size_t i = 0; i < b; i++) {
            double s2 = 0.0;
            for (size_t j = 0; j < d; j++) s2 += (double)blk[i * d + j] * blk[i * d + j];
            dist[i0 + i] = s2;
        }
    }
    return ASSAY_OK;
}

/* keep receives the indices (into the class) of the h rows with the smallest v. */
static size_t central(const double *v, size_t nc, size_t h, double *work, size_t *keep) {
    memcpy(work, v, nc * sizeof *work);
    qsort(work, nc, sizeof *work, cmp_double);
    double thr = work[h - 1];
    size_t k = 0;
    for (size_t i = 0; i < nc && k < h; i++)
        if (v[i] <= thr) keep[k++] = i;
    return k;
}

typedef struct mh_class {
    size_t n, kept, far; /* rows, rows of the central half, rows beyond MH_FAR_Z */
    double rho;          /* shrinkage used */
    double med, mad;     /* of log squared distance over the class */
    int32_t test;
    int modelled; /* the class had rows enough for a model */
} mh_class;

/* A robust start: the half of the class closest (Euclidean) to its coordinatewise median. The
 * columns are gathered MH_MEDIAN_COLS at a time, so each pass over the rows reads one cache line
 * per row instead of one per value. work holds MH_MEDIAN_COLS * nc doubles. */
static size_t median_start(const assay_dataset *ds, const size_t *rc, size_t nc, size_t h,
                           double *mu, double *work, double *dist, size_t *keep) {
    const size_t d = ds->d;
    for (size_t j0 = 0; j0 < d; j0 += MH_MEDIAN_COLS) {
        size_t b = d - j0 < MH_MEDIAN_COLS ? d - j0 : MH_MEDIAN_COLS;
        for (size_t i = 0; i < nc; i++) {
            const float *xr = ds->x + rc[i] * ds->ld + j0;
            for (size_t j = 0; j < b; j++) work[j * nc + i] = xr[j];
        }
        for (size_t j = 0; j < b; j++) mu[j0 + j] = assay__median(work + j * nc, nc);
    }
    for (size_t i = 0; i < nc; i++) {
        const float *xr = ds->x + rc[i] * ds->ld;
        double e = 0.0;
        for (size_t j = 0; j < d; j++) e += ((double)xr[j] - mu[j]) * ((double)xr[j] - mu[j]);
        dist[i] = e;
    }
    return central(dist, nc, h, work, keep);
}

/* One worker's scratch buffers (the classes run side by side, one per worker). */
typedef struct mh_ws {
    mh_model M;
    double *mu, *cov, *y, *dist, *work, *sdiag;
    float *lf, *tile, *blk;
    size_t *keep, *krows;
} mh_ws;

/* Scratch of one worker for d dimensions, q proxy dimensions and classes of up to maxc rows. */
static int ws_alloc(mh_ws *w, size_t d, size_t q, size_t maxc) {
    memset(w, 0, sizeof *w);
    w->M.mu = malloc(d * sizeof *w->M.mu);
    w->M.vecs = malloc(d * q * sizeof *w->M.vecs);
    w->M.vals = malloc(q * sizeof *w->M.vals);
    w->mu = malloc(d * sizeof *w->mu);
    w->cov = malloc(d * d * sizeof *w->cov);
    /* y: projections (maxc x q), or the median's column block (maxc x MH_MEDIAN_COLS) */
    w->y = malloc((maxc * (q > MH_MEDIAN_COLS ? q : MH_MEDIAN_COLS) + 1) * sizeof *w->y);
    w->dist = malloc((maxc + 1) * sizeof *w->dist);
    w->work = malloc((maxc + 1) * sizeof *w->work);
    w->sdiag = malloc(d * sizeof *w->sdiag);
    w->lf = malloc(d * d * sizeof *w->lf);
    w->tile = malloc(d * d * sizeof *w->tile);
    w->blk = malloc(d * MH_BLOCK * sizeof *w->blk);
    w->keep = malloc((maxc + 1) * sizeof *w->keep);
    w->krows = malloc((maxc + 1) * sizeof *w->krows);
    return w->M.mu && w->M.vecs && w->M.vals && w->mu && w->cov && w->y && w->dist && w->work &&
           w->sdiag && w->lf && w->tile && w->blk && w->keep && w->krows;
}

static void ws_free(mh_ws *w) {
    free(w->M.mu);
    free(w->M.vecs);
    free(w->M.vals);
    free(w->mu);
    free(w->cov);
    free(w->y);
    free(w->dist);
    free(w->work);
    free(w->sdiag);
    free(w->lf);
    free(w->tile);
    free(w->blk);
    free(w->keep);
    free(w->krows);
}

/* Workers' scratch is about 2 d^2 doubles each: at most this much of it in all (more workers
 * than fit run fewer classes side by side; the results are the same). */
#define MH_SCRATCH_BUDGET ((size_t)512 << 20)

/* The per-class model's inputs, the workers' scratch and the outputs: per class, per row. */
typedef struct mh_job {
    assay_ctx *ctx;
    const assay_dataset *ds;
    double shrink;
    uint64_t seed;
    mh_class *cls;
    mh_ws *ws;    /* per worker */
    float *score; /* per row */
    double *prow; /* per row */
} mh_job;

/* One class: MCD-style, the central half twice (around the coordinatewise median, then under the
 * proxy model of that half: a C-step), then the exact shrinkage estimate on it, and every row's
 * robust z against the class's bulk. */
static assay_status class_model(void *arg, size_t c, int worker, const size_t *rc, size_t nc) {
    mh_job *J = arg;
    mh_ws *W = &J->ws[worker];
    const assay_dataset *ds = J->ds;
    mh_class *C = &J->cls[c];
    C->n = nc;
    C->test = -1;
    if (nc < MH_MIN_ROWS) return ASSAY_OK;
    size_t h = (size_t)ceil(MH_SUPPORT * (double)nc);
    size_t nk = median_start(ds, rc, nc, h, W->mu, W->y, W->dist, W->keep);
    for (size_t i = 0; i < nk; i++) W->krows[i] = rc[W->keep[i]];
    ASSAY_TRY(proxy_fit(J->ctx, ds, W->krows, nk, J->seed + c, &W->M));
    ASSAY_TRY(proxy_dist(J->ctx, ds, &W->M, rc, nc, W->y, W->dist));
    nk = central(W->dist, nc, h, W->work, W->keep);
    C->kept = nk;
    ASSAY_TRY(exact_dist(J->ctx, ds, rc, nc, W->keep, nk, J->shrink, W->mu, W->cov, W->sdiag, W->lf,
                         W->blk, W->tile, W->krows, W->dist, &C->rho));
    /* rows against the class's bulk: the squared distances of real data follow no chi-square,
     * so a robust z of their log */
    for (size_t i = 0; i < nc; i++) W->work[i] = log(W->dist[i] + DBL_MIN);
    assay__median_mad(W->work, nc, W->y, &C->med, &C->mad);
    for (size_t i = 0; i < nc; i++) {
        double zr = (W->work[i] - C->med) / C->mad;
        J->prow[rc[i]] = assay__norm_sf(zr);
        J->score[rc[i]] = (float)zr;
        C->far += zr > MH_FAR_Z;
    }
    C->modelled = 1;
    return ASSAY_OK;
}

/* Upper tail of Student's t with k degrees of freedom. */
static double t_sf(double t, double k) {
    double x = k / (k + t * t), half = 0.5 * assay__beta_inc(0.5 * k, 0.5, x);
    return t > 0.0 ? half : 1.0 - half;
}

static assay_status detect_mahalanobis(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    const size_t d = ds->d, nclass = ds->n_classes;
    const double shrink = assay__param(in->opts, ASSAY__P_MAHALANOBIS_SHRINKAGE);
    const double fdr = assay__param(in->opts, ASSAY__P_FDR);
    const uint64_t seed = (uint64_t)assay__param(in->opts, ASSAY__P_SEED);
    sum->rule = "squared class-conditional Mahalanobis distance (robust shrinkage estimate) far "
                "beyond the class's bulk: robust z of its log, Benjamini-Hochberg at fdr within "
                "the class, in a class with clearly more far rows than the other classes";
    sum->threshold = MH_FAR_Z;
    for (size_t r = 0; r < ds->n; r++) {
        score[r] = NAN;
        ev[r] = 0.0f;
    }
    size_t *rows = NULL, *start = NULL;
    ASSAY_TRY(assay__class_rows(ctx, ds, in->graph, &rows, &start));
    size_t maxc = 0;
    for (size_t c = 0; c < nclass; c++)
        if (start[c + 1] - start[c] > maxc) maxc = start[c + 1] - start[c];
    const size_t q = MH_PROXY_DIMS < d ? MH_PROXY_DIMS : d;
    assay_status s = ASSAY_OK;
    mh_class *cls = calloc(nclass ? nclass : 1, sizeof *cls);
    /* Classes side by side, each worker with its own scratch (within MH_SCRATCH_BUDGET) */
    const size_t ws_bytes = d * d * 16 + d * MH_BLOCK * 4 + d * (q + 4) * 8 +
                            maxc * ((q > MH_MEDIAN_COLS ? q : MH_MEDIAN_COLS) + 4) * 8;
    size_t n_ws = ctx->n_threads > 1 ? (size_t)ctx->n_threads : 1;
    if (n_ws > nclass) n_ws = nclass ? nclass : 1;
    if (n_ws > 1 && n_ws * ws_bytes > MH_SCRATCH_BUDGET)
        n_ws = MH_SCRATCH_BUDGET / ws_bytes > 1 ? MH_SCRATCH_BUDGET / ws_bytes : 1;
    mh_ws *ws = calloc(n_ws, sizeof *ws);
    double *prow = malloc((ds->n + 1) * sizeof *prow), *lg = malloc((nclass + 1) * sizeof *lg);
    int32_t *rt = assay__out_row_tests(out);
    int ok = cls != NULL && ws != NULL && prow != NULL && lg != NULL && rt != NULL;
    for (size_t w = 0; ok && w < n_ws; w++) ok = ws_alloc(&ws[w], d, q, maxc);
    if (!ok) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (mahalanobis)");
        goto done;
    }
    sum->ran = 1;
    mh_job J = {ctx, ds, shrink, seed, cls, ws, score, prow};
    const assay__per_class pc = {"mahalanobis", 1, n_ws, class_model};
    s = assay__per_class_run(in, rows, start, &pc, &J);
    /* summed in class order, whatever order the classes ran in */
    size_t tested = 0;
    double rho_sum = 0.0;
    for (size_t c = 0; c < nclass; c++)
        if (cls[c].modelled) {
            tested++;
            rho_sum += cls[c].rho;
            sum->rows_scored += cls[c].n;
        }
    if (s != ASSAY_OK) goto done;
    /* The class test: the class's share of far rows against the other classes' (logit), as a
     * new observation from their distribution: t = (x - mean) / sqrt(sd^2 (1 + 1/k) + se^2),
     * se^2 the binomial variance of the class's own logit share, with k - 1 degrees of freedom
     * (exact for normal between-class variation; another poisoned class only widens the reference,
     * so the test errs towards quiet). */
    size_t far_total = 0;
    double max_share = 0.0;
    for (size_t c = 0; c < nclass; c++) {
        const mh_class *C = &cls[c];
        lg[c] = NAN;
        if (C->n < MH_MIN_ROWS) continue;
        double f = ((double)C->far + 0.5) / ((double)C->n + 1.0);
        lg[c] = log(f / (1.0 - f));
        far_total += C->far;
        max_share = fmax(max_share, (double)C->far / (double)C->n);
    }
    for (size_t c = 0; c < nclass && s == ASSAY_OK; c++) {
        mh_class *C = &cls[c];
        if (isnan(lg[c])) continue;
        double m1 = 0.0, m2 = 0.0;
        size_t k = 0;
        for (size_t o = 0; o < nclass; o++)
            if (o != c && !isnan(lg[o])) {
                m1 += lg[o];
                k++;
            }
        double pv = NAN, tstat = NAN, ref = NAN;
        if (k + 1 >= MH_MIN_CLASSES) {
            m1 /= (double)k;
            for (size_t o = 0; o < nclass; o++)
                if (o != c && !isnan(lg[o])) m2 += (lg[o] - m1) * (lg[o] - m1);
            double sd = sqrt(m2 / (double)(k - 1));
            /* The class's own logit share is a binomial estimate: its sampling variance
             * 1 / (n f (1 - f)) joins the between-class spread. Without it a small class with no
             * far row at all (its continuity-corrected share 0.5 / (n + 1) is larger than a big
             * class's) was "significant" whenever the other classes agreed exactly. */
            double fc = ((double)C->far + 0.5) / ((double)C->n + 1.0);
            double se2 = 1.0 / (((double)C->n + 1.0) * fc * (1.0 - fc));
            tstat = (lg[c] - m1) / sqrt(sd * sd * (1.0 + 1.0 / (double)k) + se2);
            pv = t_sf(tstat, (double)(k - 1));
            ref = 1.0 / (1.0 + exp(-m1));
        }
        assay__test t = {
            .det = ASSAY_DET_MAHALANOBIS,
            .cls = (int32_t)c,
            .stat_name = "far_share_t",
            .stat = tstat,
            .p = pv,
            .null = "prediction t-test of the class's logit share of far rows (robust z > 3) "
                    "against the other classes' shares, k - 1 degrees of freedom",
            .q = NAN};
        snprintf(t.detail, sizeof t.detail,
                 "%zu of %zu rows (%.1f%%) lie beyond robust z %.0f of the class's Mahalanobis "
                 "distances, against %.1f%% typical of the other classes (shrinkage %.3g)",
                 C->far, C->n, 100.0 * (double)C->far / (double)C->n, MH_FAR_Z, 100.0 * ref,
                 C->rho);
        s = assay__out_test(out, &t, &C->test);
    }
    /* Evidence and findings: rows against their class's bulk, BH within the class. */
    for (size_t c = 0; c < nclass && s == ASSAY_OK; c++) {
        const mh_class *C = &cls[c];
        const size_t *rc = rows + start[c], nc = C->n;
        if (nc < MH_MIN_ROWS) continue;
        double *work = ws[0].work, *y = ws[0].y; /* the classes are done: worker 0's scratch */
        for (size_t i = 0; i < nc; i++) work[i] = prow[rc[i]];
        double cutoff = assay__bh_cutoff(work, nc, fdr, y);
        const assay__test *t = C->test >= 0 ? &out->tests[C->test] : NULL;
        int can = t != NULL && !isnan(t->p) && t->p <= fdr;
        for (size_t i = 0; i < nc && s == ASSAY_OK; i++) {
            size_t r = rc[i];
            ev[r] = assay__evidence_from_p(prow[r], cutoff);
            rt[r] = C->test;
            if (prow[r] > cutoff || !can) continue; /* combine would drop it */
            assay__finding f = {r,
                                ASSAY_DET_MAHALANOBIS,
                                ASSAY_SEV_MEDIUM,
                                0,
                                score[r],
                                (double)score[r],
                                prow[r],
                                (double)C->far / (double)nc,
                                -1,
                                C->test};
            s = assay__out_finding(out, &f);
        }
    }
    sum->stat_name[0] = "classes_scored";
    sum->stat[0] = (double)tested;
    sum->stat_name[1] = "mean_shrinkage";
    sum->stat[1] = tested ? rho_sum / (double)tested : NAN;
    sum->stat_name[2] = "far_rows";
    sum->stat[2] = (double)far_total;
    sum->stat_name[3] = "max_class_far_share";
    sum->stat[3] = max_share;
done:
    for (size_t w = 0; ws != NULL && w < n_ws; w++) ws_free(&ws[w]);
    free(ws);
    free(rows);
    free(start);
    free(cls);
    free(prow);
    free(lg);
    return s;
}

static void explain_mahalanobis(const assay__det_input *in, const assay__det_out *out,
                                const assay__finding *f, char *buf, size_t len) {
    const assay_dataset *ds = in->ds;
    const char *cls = ds->y[f->row] >= 0 ? ds->class_name[ds->y[f->row]] : "?";
    const assay__test *t = f->test >= 0 ? &out->tests[f->test] : NULL;
    snprintf(buf, len,
             "it lies far from the bulk of class %s in Mahalanobis distance (robust z %.1f of the "
             "log squared distance under a robust shrinkage covariance of the class, p = %.2g): "
             "an outlier for review, which natural data also produce%s%s",
             cls, f->a, f->b, t ? "; " : "", t ? t->detail : "");
}

static const char *const k_reasons[] = {"class_conditional_outlier", NULL};
static const assay__ev_field k_fields[] = ASSAY__EV_ABC(
    "robust z of the row's log squared distance within its class",
    "the row's p-value (normal tail of that z)", "the class's share of far rows", "unused (-1)");

const assay__detector_desc assay__detector_mahalanobis = {
    .kind = ASSAY__KIND_OUTLIER,
    .severity = ASSAY_SEV_MEDIUM,
    .family = "class density",
    .on_clean = "Heavy-tailed classes have many far rows: only warns by default; review if you "
                "expect clean, Gaussian-like classes.",
    .inputs = "features and labels (per class)",
    .run = detect_mahalanobis,
    .explain = explain_mahalanobis,
    .reasons = k_reasons,
    .fields = k_fields,
};

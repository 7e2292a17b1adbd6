/* SPDX-License-Identifier: Apache-2.0 */
/* Row-subset linear algebra for the class-conditional detectors (see linalg.h). Double
 * precision: class covariances of embeddings are ill-conditioned, and d is at most a few
 * thousand, so the d x d work is small next to the neighbour graph. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/linalg.h"
#include "detect/detector.h"
#include "core/stats.h"

/* LAPACK has no C header on Debian without lapacke: the Fortran symbols (hidden string length
 * arguments last). */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t, size_t, size_t);
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
extern void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda,
                    int *info, size_t, size_t);

void assay__rows_mean(const float *x, size_t ld, size_t d, const size_t *rows, size_t m,
                      double *mu) {
    memset(mu, 0, d * sizeof *mu);
    for (size_t i = 0; i < m; i++) {
        const float *xr = x + rows[i] * ld;
        for (size_t j = 0; j < d; j++) mu[j] += xr[j];
    }
    if (m > 0)
        for (size_t j = 0; j < d; j++) mu[j] /= (double)m;
}

void assay__gather_centred(const float *x, size_t ld, size_t d, const size_t *rows, size_t m,
                           const double *mu, double *blk) {
    for (size_t i = 0; i < m; i++) {
        const float *xr = x + rows[i] * ld;
        double *b = blk + i * d;
        for (size_t j = 0; j < d; j++) b[j] = (double)xr[j] - mu[j];
    }
}

assay_status assay__rows_cov(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                             const size_t *rows, size_t m, const double *mu, double *cov) {
    double *blk = malloc(d * ASSAY__LA_BLOCK * sizeof *blk);
    if (blk == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (covariance)");
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i0 = 0; i0 < m; i0 += ASSAY__LA_BLOCK) {
        size_t b = m - i0 < ASSAY__LA_BLOCK ? m - i0 : ASSAY__LA_BLOCK;
        assay__gather_centred(x, ld, d, rows + i0, b, mu, blk);
        cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)d, (int)b, 1.0, blk, (int)d, 1.0,
                    cov, (int)d);
    }
    free(blk);
    double scale = m > 0 ? 1.0 / (double)m : 0.0;
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i <= j; i++) {
            cov[j * d + i] *= scale;
            cov[i * d + j] = cov[j * d + i];
        }
    return ASSAY_OK;
}

assay_status assay__sym_eig_top(assay_ctx *ctx, double *a, size_t d, size_t p, double *vals,
                                double *vecs) {
    if (p == 0 || p > d) return assay__fail(ctx, ASSAY_E_INTERNAL, "eigenpairs: p = %zu", p);
    int n = (int)d, il = (int)(d - p + 1), iu = (int)d, found = 0, info = 0;
    double vl = 0.0, vu = 0.0, abstol = 0.0; /* 0: LAPACK picks a safe tolerance */
    double *w = malloc(d * sizeof *w), *z = malloc(d * p * sizeof *z), wq = 0.0, *work = NULL;
    int *isuppz = malloc(2 * p * sizeof *isuppz), iwq = 0, lwork = -1, liwork = -1, *iwork = NULL;
    assay_status s = ASSAY_OK;
    if (w == NULL || z == NULL || isuppz == NULL) goto nomem;
    dsyevr_("V", "I", "U", &n, a, &n, &vl, &vu, &il, &iu, &abstol, &found, w, z, &n, isuppz, &wq,
            &lwork, &iwq, &liwork, &info, 1, 1, 1);
    if (info != 0) goto failed;
    lwork = (int)wq;
    liwork = iwq;
    work = malloc((size_t)lwork * sizeof *work);
    iwork = malloc((size_t)liwork * sizeof *iwork);
    if (work == NULL || iwork == NULL) goto nomem;
    dsyevr_("V", "I", "U", &n, a, &n, &vl, &vu, &il, &iu, &abstol, &found, w, z, &n, isuppz, work,
            &lwork, iwork, &liwork, &info, 1, 1, 1);
    if (info != 0 || (size_t)found != p) goto failed;
    for (size_t k = 0; k < p; k++) { /* LAPACK returns them ascending */
        vals[k] = w[p - 1 - k];
        memcpy(vecs + k * d, z + (p - 1 - k) * d, d * sizeof *z);
    }
    goto done;
nomem:
    s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (eigenproblem, d = %zu)", d);
    goto done;
failed:
    s = assay__fail(ctx, ASSAY_E_BLAS, "LAPACK dsyevr failed (info %d, %d of %zu eigenpairs)", info,
                    found, p);
done:
    free(w);
    free(z);
    free(isuppz);
    free(work);
    free(iwork);
    return s;
}

assay_status assay__rows_project(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                                 const size_t *rows, size_t m, const double *mu, const double *v,
                                 size_t p, double *out) {
    double *blk = malloc(d * ASSAY__LA_BLOCK * sizeof *blk);
    if (blk == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (projection)");
    for (size_t i0 = 0; i0 < m; i0 += ASSAY__LA_BLOCK) {
        size_t b = m - i0 < ASSAY__LA_BLOCK ? m - i0 : ASSAY__LA_BLOCK;
        assay__gather_centred(x, ld, d, rows + i0, b, mu, blk);
        /* out rows i0.. (row-major m x p) = blk^T (b x d) * V (d x p): in column-major terms
         * out^T (p x b) = V^T (p x d) * blk (d x b). */
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p, (int)b, (int)d, 1.0, v, (int)d,
                    blk, (int)d, 0.0, out + i0 * p, (int)p);
    }
    free(blk);
    return ASSAY_OK;
}

assay_status assay__cholesky(assay_ctx *ctx, double *a, size_t d) {
    int n = (int)d, info = 0;
    dpotrf_("L", &n, a, &n, &info, 1);
    if (info != 0)
        return assay__fail(ctx, ASSAY_E_BLAS,
                           "LAPACK dpotrf: the matrix is not positive definite (info %d)", info);
    return ASSAY_OK;
}

assay_status assay__lower_inverse(assay_ctx *ctx, double *a, size_t d) {
    int n = (int)d, info = 0;
    for (size_t j = 1; j < d; j++) memset(a + j * d, 0, j * sizeof *a);
    dtrtri_("L", "N", &n, a, &n, &info, 1, 1);
    if (info != 0)
        return assay__fail(ctx, ASSAY_E_BLAS, "LAPACK dtrtri: the matrix is singular (info %d)",
                           info);
    return ASSAY_OK;
}

/* ---- tail test (spectral, spectre) ---- */

void assay__tail_test_run(const double *u, size_t n, size_t m, size_t ld, double tolerance,
                          double *work, assay__tail_test *out) {
    memset(out, 0, sizeof *out);
    out->p = 1.0;
    out->side = 1;
    out->mad = 1.0;
    if (n == 0 || m == 0) return;
    double *col = work, *tmp = work + n;
    int first = 1;
    for (size_t j = 0; j < m; j++) {
        for (size_t i = 0; i < n; i++) col[i] = u[i * ld + j];
        double med = 0.0, mad = 1.0;
        assay__median_mad(col, n, tmp, &med, &mad);
        size_t pos = 0, neg = 0;
        for (size_t i = 0; i < n; i++) {
            double z = (col[i] - med) / mad;
            pos += z > ASSAY__TAIL_Z;
            neg += z < -ASSAY__TAIL_Z;
        }
        size_t c = pos >= neg ? pos : neg;
        if (first || c > out->count) {
            first = 0;
            out->dir = j;
            out->side = pos >= neg ? 1 : -1;
            out->count = c;
            out->opposite = pos >= neg ? neg : pos;
            out->med = med;
            out->mad = mad;
        }
    }
    double p = 2.0 * (double)m * assay__binom_sf((double)out->count, (double)n, tolerance);
    out->p = p < 1.0 ? p : 1.0;
}

size_t assay__index_across(const double *stat, size_t k, double min_scale, double *med_out,
                           double *scale_out, double *p_index) {
    size_t used = 0;
    for (size_t c = 0; c < k; c++) {
        p_index[c] = NAN;
        used += !isnan(stat[c]);
    }
    if (used < ASSAY__TAIL_MIN_CLASSES) return used;
    double *l = malloc(used * sizeof *l), *work = malloc(used * sizeof *work);
    if (l == NULL || work == NULL) { /* no index: the caller keeps its per-class test */
        free(l);
        free(work);
        return 0;
    }
    for (size_t c = 0; c < k; c++) {
        if (isnan(stat[c])) continue;
        size_t j = 0; /* the others' statistics, leaving class c out */
        for (size_t o = 0; o < k; o++)
            if (o != c && !isnan(stat[o])) l[j++] = stat[o];
        double med = 0.0, mad = 0.0;
        assay__median_mad(l, j, work, &med, &mad);
        double scale = mad > min_scale ? mad : min_scale; /* mad is 1.4826 MAD already */
        p_index[c] = assay__norm_sf((stat[c] - med) / scale);
        if (med_out != NULL) med_out[c] = med;
        if (scale_out != NULL) scale_out[c] = scale;
    }
    free(l);
    free(work);
    return used;
}

double assay__tail_sign_p(const assay__tail_test *t, size_t m) {
    const double total = (double)(t->count + t->opposite);
    if (t->count == 0) return 1.0;
    double p = 2.0 * (double)m * assay__binom_sf((double)t->count, total, 0.5);
    return p < 1.0 ? p : 1.0;
}

int assay__tail_calibrate(void *cls, size_t size, size_t off_test, size_t off_n, size_t off_tested,
                          size_t k, size_t m, double tolerance, double *allow) {
    for (size_t c = 0; c < k; c++) allow[c] = tolerance;
    /* per class: log smoothed share, NaN untested; then its index and the others' centre */
    double *ls = k > 0 ? calloc(4 * k, sizeof *ls) : NULL;
    if (ls == NULL) return 0; /* keep the per-class binomial */
    double *med = ls + k, *scale = ls + 2 * k, *p_index = ls + 3 * k;
    for (size_t c = 0; c < k; c++) {
        const char *rec = (const char *)cls + c * size;
        int tested;
        size_t n;
        memcpy(&tested, rec + off_tested, sizeof tested);
        memcpy(&n, rec + off_n, sizeof n);
        const assay__tail_test *t = (const assay__tail_test *)(const void *)(rec + off_test);
        ls[c] = tested ? log(((double)t->count + 0.5) / ((double)n + 1.0)) : NAN;
    }
    if (assay__index_across(ls, k, ASSAY__TAIL_MIN_SCALE, med, scale, p_index) <
        ASSAY__TAIL_MIN_CLASSES) {
        /* Too few classes to compare: each class against itself, by the sign-flip test. */
        for (size_t c = 0; c < k; c++) {
            if (isnan(ls[c])) continue;
            assay__tail_test *t = (assay__tail_test *)(void *)((char *)cls + c * size + off_test);
            double p_sign = assay__tail_sign_p(t, m);
            if (p_sign > t->p) t->p = p_sign;
        }
        free(ls);
        return 0;
    }
    for (size_t c = 0; c < k; c++) {
        if (isnan(ls[c])) continue;
        char *rec = (char *)cls + c * size;
        size_t n;
        memcpy(&n, rec + off_n, sizeof n);
        assay__tail_test *t = (assay__tail_test *)(void *)(rec + off_test);
        double a = exp(med[c] + 3.0 * scale[c]);
        if (a < tolerance) a = tolerance;
        if (a > 0.5) a = 0.5;
        allow[c] = a;
        double p_tail = 2.0 * (double)m * assay__binom_sf((double)t->count, (double)n, a);
        if (p_tail > 1.0) p_tail = 1.0;
        t->p = p_index[c] > p_tail ? p_index[c] : p_tail;
    }
    free(ls);
    return 1;
}

/* Share of the listed neighbours of row r with a label other than c (unlabelled ones skipped);
 * adds to *num and *den. */
static void foreign_neighbours(const assay__graph *g, const int32_t *y, size_t r, int32_t c,
                               double *num, double *den) {
    for (size_t j = 0; j < g->k; j++) {
        int64_t nb = g->ids[r * g->k + j];
        if (nb < 0 || y[nb] < 0) continue;
        *num += y[nb] != c;
        *den += 1.0;
    }
}

void assay__tail_group_shape(const assay__tail_test *t, const double *u, size_t ld,
                             const size_t *rows, size_t n, const assay__graph *g, const int32_t *y,
                             double *work, assay__tail_group *out) {
    memset(out, 0, sizeof *out);
    out->foreign = out->foreign_rest = out->median_z = NAN;
    if (n == 0 || !(t->mad > 0.0)) return;
    const int32_t c = y[rows[0]];
    double fin = 0.0, din = 0.0, fout = 0.0, dout = 0.0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double z = assay__tail_z(t, u[i * ld + t->dir]);
        int far = z > ASSAY__TAIL_Z;
        if (far) work[m++] = z;
        if (g != NULL && rows[i] < g->n)
            foreign_neighbours(g, y, rows[i], c, far ? &fin : &fout, far ? &din : &dout);
    }
    out->rows = m;
    if (m == 0) return;
    out->median_z = assay__median(work, m);
    if (g == NULL || din == 0.0) return;
    out->foreign = fin / din;
    out->foreign_rest = dout > 0.0 ? fout / dout : 0.0;
    const int foreign = out->foreign >= ASSAY__GROUP_FOREIGN &&
                        out->foreign - out->foreign_rest >= ASSAY__GROUP_FOREIGN_EXCESS;
    const int far = out->median_z >= ASSAY__GROUP_FAR_Z;
    out->substyle = m >= ASSAY__GROUP_MIN_ROWS && !foreign && !far;
}

int assay__tail_group_judge(const assay__tail_group *g, size_t n, const char *direction,
                            assay__test *t) {
    if (!g->substyle) return 0;
    t->sev = ASSAY_SEV_LOW;
    snprintf(t->detail, sizeof t->detail,
             "sub-style: %zu of %zu rows beyond %.0f robust SDs on the %s direction, a median "
             "%.1f out; %.0f%% of their neighbours have another label (rest %.0f%%): not flagged",
             g->rows, n, ASSAY__TAIL_Z, direction, g->median_z, 100.0 * g->foreign,
             100.0 * g->foreign_rest);
    return 1;
}

assay_status assay__rows_cov_f32(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                                 const size_t *rows, size_t m, const double *mu, double *cov) {
    float *blk = malloc(d * ASSAY__LA_BLOCK_F32 * sizeof *blk), *muf = malloc(d * sizeof *muf);
    float *part = malloc(d * d * sizeof *part);
    if (blk == NULL || muf == NULL || part == NULL) {
        free(blk);
        free(muf);
        free(part);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (covariance)");
    }
    for (size_t j = 0; j < d; j++) muf[j] = (float)mu[j];
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i0 = 0; i0 < m; i0 += ASSAY__LA_BLOCK_F32) {
        size_t b = m - i0 < ASSAY__LA_BLOCK_F32 ? m - i0 : ASSAY__LA_BLOCK_F32;
        for (size_t i = 0; i < b; i++) {
            const float *xr = x + rows[i0 + i] * ld;
            float *br = blk + i * d;
            for (size_t j = 0; j < d; j++) br[j] = xr[j] - muf[j];
        }
        cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)d, (int)b, 1.0f, blk, (int)d,
                    0.0f, part, (int)d);
        for (size_t j = 0; j < d; j++)
            for (size_t i = 0; i <= j; i++) cov[j * d + i] += part[j * d + i];
    }
    free(blk);
    free(muf);
    free(part);
    double scale = m > 0 ? 1.0 / (double)m : 0.0;
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i <= j; i++) {
            cov[j * d + i] *= scale;
            cov[i * d + j] = cov[j * d + i];
        }
    return ASSAY_OK;
}

/* ---- principal directions (cluster, mahalanobis) ---- */

#define ASSAY__PCA_DIRECT_DIM  256
#define ASSAY__PCA_SAMPLE      1000
#define ASSAY__PCA_OVERSAMPLE  10
#define ASSAY__PCA_POWER_ITERS 1

static double dot_d(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t j = 0; j < n; j++) s += a[j] * b[j];
    return s;
}

/* Orthonormalises the l columns (length m, column-major) by modified Gram-Schmidt, twice for
 * stability; a column that vanishes becomes zero (its direction gets eigenvalue 0 later). */
static void orthonormalise(double *a, size_t m, size_t l) {
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < l; j++) {
            double *aj = a + j * m;
            double n0 = sqrt(dot_d(aj, aj, m));
            for (size_t i = 0; i < j; i++) {
                const double *ai = a + i * m;
                double r = dot_d(ai, aj, m);
                for (size_t k = 0; k < m; k++) aj[k] -= r * ai[k];
            }
            double nj = sqrt(dot_d(aj, aj, m));
            double s = nj > 1e-12 * n0 && nj > 0.0 ? 1.0 / nj : 0.0;
            for (size_t k = 0; k < m; k++) aj[k] *= s;
        }
}

/* Randomized subspace iteration on a row sample: Y = X W, then (X^T Y, X Y) orthonormalised;
 * the eigenpairs of the sample covariance within the final subspace. */
static assay_status pca_randomized(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                                   const size_t *rows, size_t m0, const double *mu, size_t p,
                                   uint64_t seed, double *vecs, double *vals) {
    size_t m = m0 < ASSAY__PCA_SAMPLE ? m0 : ASSAY__PCA_SAMPLE, l = p + ASSAY__PCA_OVERSAMPLE;
    if (l > m) l = m;
    if (l > d) l = d;
    size_t pp = p < l ? p : l;
    assay_status s = ASSAY_OK;
    size_t *sub = malloc(m0 * sizeof *sub);
    double *xs = malloc(m * d * sizeof *xs), *y = malloc(m * l * sizeof *y);
    double *zt = malloc(d * l * sizeof *zt), *g = malloc(l * l * sizeof *g);
    double *gv = malloc(l * pp * sizeof *gv);
    if (sub == NULL || xs == NULL || y == NULL || zt == NULL || g == NULL || gv == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (principal directions)");
        goto done;
    }
    assay__rng rng = assay__rng_seed(seed, 0x9CAu);
    memcpy(sub, rows, m0 * sizeof *sub);
    for (size_t i = 0; i < m; i++) { /* a uniform sample without replacement */
        size_t j = i + (size_t)assay__rng_below(&rng, m0 - i), t = sub[i];
        sub[i] = sub[j];
        sub[j] = t;
    }
    /* xs: d x m column-major (sample row i at xs + i * d), centred on mu */
    for (size_t i0 = 0; i0 < m; i0 += ASSAY__LA_BLOCK) {
        size_t b = m - i0 < ASSAY__LA_BLOCK ? m - i0 : ASSAY__LA_BLOCK;
        assay__gather_centred(x, ld, d, sub + i0, b, mu, xs + i0 * d);
    }
    for (size_t k = 0; k < d * l; k++) zt[k] = assay__rng_normal(&rng);
    const int id = (int)d, im = (int)m, il = (int)l;
    for (int it = 0; it <= ASSAY__PCA_POWER_ITERS; it++) {
        if (it > 0) { /* zt = X^T y: d x l */
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, id, il, im, 1.0, xs, id, y, im,
                        0.0, zt, id);
            orthonormalise(zt, d, l);
        }
        /* y = X zt: m x l */
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, im, il, id, 1.0, xs, id, zt, id, 0.0,
                    y, im);
        orthonormalise(y, m, l);
    }
    /* zt = X^T y = B^T with B = y^T X; B B^T / m = zt^T zt / m has eigenvectors u, and the
     * directions are zt u / |zt u| */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, id, il, im, 1.0, xs, id, y, im, 0.0, zt,
                id);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, il, il, id, 1.0 / (double)m, zt, id, zt,
                id, 0.0, g, il);
    s = assay__sym_eig_top(ctx, g, l, pp, vals, gv);
    if (s != ASSAY_OK) goto done;
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, id, (int)pp, il, 1.0, zt, id, gv, il,
                0.0, vecs, id);
    for (size_t j = 0; j < pp; j++) {
        double nv = sqrt(dot_d(vecs + j * d, vecs + j * d, d));
        for (size_t k = 0; k < d; k++) vecs[j * d + k] = nv > 0.0 ? vecs[j * d + k] / nv : 0.0;
    }
    for (size_t j = pp; j < p; j++) vals[j] = 0.0;
done:
    free(sub);
    free(xs);
    free(y);
    free(zt);
    free(g);
    free(gv);
    return s;
}

assay_status assay__rows_pca(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                             const size_t *rows, size_t m, const double *mu, size_t p,
                             uint64_t seed, double *vecs, double *vals, size_t *p_out) {
    *p_out = 0;
    if (p > d) p = d;
    if (p > m) p = m;
    if (p == 0 || m == 0) return ASSAY_OK;
    if (d <= ASSAY__PCA_DIRECT_DIM) {
        double *cov = malloc(d * d * sizeof *cov);
        if (cov == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (covariance)");
        assay_status s = assay__rows_cov(ctx, x, ld, d, rows, m, mu, cov);
        if (s == ASSAY_OK) s = assay__sym_eig_top(ctx, cov, d, p, vals, vecs);
        free(cov);
        ASSAY_TRY(s);
    } else {
        ASSAY_TRY(pca_randomized(ctx, x, ld, d, rows, m, mu, p, seed, vecs, vals));
    }
    size_t q = 0;
    while (q < p && vals[q] > 0.0 && vals[q] > 1e-10 * vals[0]) q++;
    *p_out = q;
    return ASSAY_OK;
}

const char *assay__ordinal(size_t k) {
    static const char *const names[] = {"top", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th"};
    return k >= 1 && k <= 8 ? names[k - 1] : "lower";
}

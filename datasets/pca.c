/* SPDX-License-Identifier: Apache-2.0 */
/* PCA for the demo's reduced embeddings: covariance accumulated in double with dsyrk over row
 * blocks, top eigenpairs from LAPACK dsyevr, projection with sgemm over the same blocks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "datagen_internal.h"

/* LAPACK has no C header on Debian without lapacke; this is the Fortran symbol. The trailing
 * lengths are the hidden CHARACTER arguments gfortran-built LAPACK expects; omitting them is
 * undefined behaviour that has broken real programs once compilers started to rely on them. */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t jobz_len, size_t range_len,
                    size_t uplo_len);

/* Rows per block: large enough for dsyrk/sgemm to run at full speed, small enough that the
 * double copy of one block (block * d * 8 bytes) stays a few MB for image-sized d. */
#define PCA_BLOCK_ROWS 2048

void datagen_pca_free(datagen_pca *pca) {
    if (pca == NULL) return;
    free(pca->mean);
    free(pca->components);
    free(pca->variance);
    memset(pca, 0, sizeof *pca);
}

static assay_status check_input(const float *x, size_t n, size_t d, size_t p, datagen_error *err) {
    if (n < 2) return datagen_fail(err, ASSAY_E_INVAL, "PCA needs at least 2 rows, got %zu", n);
    if (p == 0 || p > d)
        return datagen_fail(err, ASSAY_E_INVAL, "PCA to %zu dims: expected 1..%zu (the input's d)",
                            p, d);
    /* LAPACK and CBLAS take int dimensions. */
    if (d > 46340 || n > (size_t)INT32_MAX)
        return datagen_fail(err, ASSAY_E_INVAL, "PCA of %zu x %zu is beyond this tool's limits", n,
                            d);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++)
            if (!isfinite(x[i * d + c]))
                return datagen_fail(err, ASSAY_E_INVAL,
                                    "PCA input row %zu column %zu is not finite", i, c);
    return ASSAY_OK;
}

/* Covariance (upper triangle, column-major, divisor n-1) of the rows of x around `mean`.
 * Centring each block before the rank-k update avoids the cancellation of E[xx] - mean^2. */
static void covariance(const float *x, size_t n, size_t d, const double *mean, double *cov,
                       double *block) {
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t r0 = 0; r0 < n; r0 += PCA_BLOCK_ROWS) {
        size_t rows = n - r0 < PCA_BLOCK_ROWS ? n - r0 : PCA_BLOCK_ROWS;
        for (size_t i = 0; i < rows; i++)
            for (size_t c = 0; c < d; c++) block[i * d + c] = (double)x[(r0 + i) * d + c] - mean[c];
        /* The row-major block (rows x d) is column-major d x rows, so C += B * B^T. */
        cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)d, (int)rows, 1.0, block, (int)d,
                    1.0, cov, (int)d);
    }
    double scale = 1.0 / (double)(n - 1);
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i <= j; i++) cov[j * d + i] *= scale;
}

/* Top-p eigenpairs of the symmetric d x d matrix (upper triangle, destroyed). Eigenvalues come
 * back ascending; values[k], vectors (d x p col-major) are reordered to descending. */
static assay_status top_eigen(double *cov, size_t d, size_t p, double *values, double *vectors,
                              datagen_error *err) {
    int n = (int)d, il = (int)(d - p + 1), iu = (int)d, found = 0, info = 0;
    double vl = 0.0, vu = 0.0, abstol = 0.0; /* 0: LAPACK picks a safe tolerance */
    double *w = malloc(d * sizeof *w);
    double *z = malloc(d * p * sizeof *z);
    int *isuppz = malloc(2 * p * sizeof *isuppz);
    double work_query = 0.0;
    int iwork_query = 0, lwork = -1, liwork = -1;
    double *work = NULL;
    int *iwork = NULL;
    assay_status s = ASSAY_OK;
    if (w == NULL || z == NULL || isuppz == NULL) goto nomem;
    dsyevr_("V", "I", "U", &n, cov, &n, &vl, &vu, &il, &iu, &abstol, &found, w, z, &n, isuppz,
            &work_query, &lwork, &iwork_query, &liwork, &info, 1, 1, 1);
    if (info != 0) goto lapack_failed;
    lwork = (int)work_query;
    liwork = iwork_query;
    work = malloc((size_t)lwork * sizeof *work);
    iwork = malloc((size_t)liwork * sizeof *iwork);
    if (work == NULL || iwork == NULL) goto nomem;
    dsyevr_("V", "I", "U", &n, cov, &n, &vl, &vu, &il, &iu, &abstol, &found, w, z, &n, isuppz, work,
            &lwork, iwork, &liwork, &info, 1, 1, 1);
    if (info != 0 || (size_t)found != p) goto lapack_failed;
    for (size_t k = 0; k < p; k++) {
        size_t src = p - 1 - k;
        values[k] = w[src];
        memcpy(vectors + k * d, z + src * d, d * sizeof *z);
    }
    goto done;
nomem:
    s = datagen_fail(err, ASSAY_E_NOMEM, "out of memory for the PCA eigenproblem (d = %zu)", d);
    goto done;
lapack_failed:
    s = datagen_fail(err, ASSAY_E_BLAS, "LAPACK dsyevr failed (info %d, %d of %zu eigenpairs)",
                     info, found, p);
done:
    free(w);
    free(z);
    free(isuppz);
    free(work);
    free(iwork);
    return s;
}

assay_status datagen_pca_fit(const float *x, size_t n, size_t d, size_t p, datagen_pca *out,
                             datagen_error *err) {
    memset(out, 0, sizeof *out);
    DATAGEN_TRY(check_input(x, n, d, p, err));
    size_t block_rows = n < PCA_BLOCK_ROWS ? n : PCA_BLOCK_ROWS;
    double *mean = calloc(d, sizeof *mean);
    double *cov = malloc(d * d * sizeof *cov);
    double *block = malloc(block_rows * d * sizeof *block);
    double *vectors = malloc(d * p * sizeof *vectors);
    out->mean = malloc(d * sizeof *out->mean);
    out->components = malloc(d * p * sizeof *out->components);
    out->variance = malloc(p * sizeof *out->variance);
    assay_status s = ASSAY_OK;
    if (mean == NULL || cov == NULL || block == NULL || vectors == NULL || out->mean == NULL ||
        out->components == NULL || out->variance == NULL) {
        s = datagen_fail(err, ASSAY_E_NOMEM, "out of memory for the PCA of %zu x %zu", n, d);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < d; c++) mean[c] += x[i * d + c];
    for (size_t c = 0; c < d; c++) mean[c] /= (double)n;

    covariance(x, n, d, mean, cov, block);
    double trace = 0.0;
    for (size_t c = 0; c < d; c++) trace += cov[c * d + c];
    s = top_eigen(cov, d, p, out->variance, vectors, err);
    if (s != ASSAY_OK) goto done;

    for (size_t k = 0; k < p; k++) {
        /* An eigenvector's sign is arbitrary and may differ between LAPACK builds; fixing it makes
         * the projected files comparable between machines. */
        const double *v = vectors + k * d;
        size_t arg = 0;
        for (size_t c = 1; c < d; c++)
            if (fabs(v[c]) > fabs(v[arg])) arg = c;
        double sign = v[arg] < 0 ? -1.0 : 1.0;
        for (size_t c = 0; c < d; c++) out->components[c * p + k] = (float)(sign * v[c]);
    }
    for (size_t c = 0; c < d; c++) out->mean[c] = (float)mean[c];
    out->d = d;
    out->p = p;
    out->total_variance = trace;
done:
    free(mean);
    free(cov);
    free(block);
    free(vectors);
    if (s != ASSAY_OK) datagen_pca_free(out);
    return s;
}

/* 64-bit hash of a row's bytes (FNV-1a over 32-bit words, then a final mix). */
static uint64_t row_hash(const float *row, size_t d) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t c = 0; c < d; c++) {
        uint32_t w;
        memcpy(&w, &row[c], sizeof w);
        h = (h ^ w) * 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* Rows with identical bytes must project to identical bytes: a planted conflicting duplicate has
 * to stay an exact duplicate after PCA. sgemm does not promise that, because a row's sums depend
 * on where it falls in the kernel's tiles and threads (on the demo data about half of the
 * duplicate pairs came out differing in the last bits). So every repeated row takes the
 * projection of its first occurrence. Returns 0, or -1 if the table cannot be allocated. */
static int unify_repeated_rows(const float *x, size_t n, size_t d, float *out, size_t p) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    size_t *slot = calloc(cap, sizeof *slot); /* row index + 1; 0 = empty */
    if (slot == NULL) return -1;
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * d;
        for (size_t k = (size_t)row_hash(row, d) & (cap - 1);; k = (k + 1) & (cap - 1)) {
            if (slot[k] == 0) {
                slot[k] = i + 1;
                break;
            }
            size_t first = slot[k] - 1;
            if (memcmp(x + first * d, row, d * sizeof *row) == 0) {
                memcpy(out + i * p, out + first * p, p * sizeof *out);
                break;
            }
        }
    }
    free(slot);
    return 0;
}

assay_status datagen_pca_project(const datagen_pca *pca, const float *x, size_t n, float *out,
                                 datagen_error *err) {
    size_t d = pca->d, p = pca->p;
    if (n == 0) return ASSAY_OK;
    if (n > (size_t)INT32_MAX)
        return datagen_fail(err, ASSAY_E_INVAL, "PCA projection of %zu rows is too large", n);
    size_t block_rows = n < PCA_BLOCK_ROWS ? n : PCA_BLOCK_ROWS;
    float *block = malloc(block_rows * d * sizeof *block);
    if (block == NULL)
        return datagen_fail(err, ASSAY_E_NOMEM, "out of memory for the PCA projection");
    for (size_t r0 = 0; r0 < n; r0 += PCA_BLOCK_ROWS) {
        size_t rows = n - r0 < PCA_BLOCK_ROWS ? n - r0 : PCA_BLOCK_ROWS;
        for (size_t i = 0; i < rows; i++)
            for (size_t c = 0; c < d; c++) block[i * d + c] = x[(r0 + i) * d + c] - pca->mean[c];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)p, (int)d, 1.0f,
                    block, (int)d, pca->components, (int)p, 0.0f, out + r0 * p, (int)p);
    }
    free(block);
    if (unify_repeated_rows(x, n, d, out, p) != 0)
        return datagen_fail(err, ASSAY_E_NOMEM, "out of memory for the PCA projection");
    return ASSAY_OK;
}

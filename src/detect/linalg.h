/* SPDX-License-Identifier: Apache-2.0 */
/* Linear algebra on a subset of rows of the dataset (one class at a time) without copying the
 * subset: rows are gathered in blocks of ASSAY__LA_BLOCK, centred in double and handed to
 * OpenBLAS (dsyrk, dgemm) and LAPACK (dsyevr, dpotrf). Used by spectral, spectre, cluster and
 * mahalanobis. Matrices are column-major (BLAS order) unless said otherwise. */
#ifndef ASSAY_LINALG_H
#define ASSAY_LINALG_H

#include "core/internal.h"
#include "core/neighbours.h"

#define ASSAY__LA_BLOCK 256

/* mu[d] = mean of rows rows[0..m) of x (row r at x + r * ld). */
void assay__rows_mean(const float *x, size_t ld, size_t d, const size_t *rows, size_t m,
                      double *mu);

/* cov (d x d, full symmetric, column-major) = sum_r (x_r - mu)(x_r - mu)^T / m over the rows.
 * Returns ASSAY_E_NOMEM. */
assay_status assay__rows_cov(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                             const size_t *rows, size_t m, const double *mu, double *cov);

/* The p largest eigenpairs of the symmetric d x d matrix a (destroyed): values descending,
 * vectors d x p column-major (vector j at vecs + j * d). Returns ASSAY_E_BLAS on a LAPACK
 * failure, ASSAY_E_NOMEM. */
assay_status assay__sym_eig_top(assay_ctx *ctx, double *a, size_t d, size_t p, double *vals,
                                double *vecs);

/* out (m x p, row-major: row i at out + i * p) = (x_rows[i] - mu) . V, V d x p column-major. */
assay_status assay__rows_project(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                                 const size_t *rows, size_t m, const double *mu, const double *v,
                                 size_t p, double *out);

/* In-place Cholesky factor (lower, column-major) of the SPD d x d matrix a. Returns ASSAY_E_BLAS
 * if a is not positive definite (LAPACK info named). */
assay_status assay__cholesky(assay_ctx *ctx, double *a, size_t d);

/* In place: the lower triangle of a (d x d, column-major) becomes the inverse of the lower
 * triangular matrix it holds (LAPACK dtrtri), the strict upper triangle zero, so a can be handed
 * to a general product. Returns ASSAY_E_BLAS if a diagonal entry is zero. */
assay_status assay__lower_inverse(assay_ctx *ctx, double *a, size_t d);

/* Gathers rows rows[0..m) (m <= ASSAY__LA_BLOCK) centred on mu into blk (d x m column-major,
 * i.e. row i at blk + i * d). */
void assay__gather_centred(const float *x, size_t ld, size_t d, const size_t *rows, size_t m,
                           const double *mu, double *blk);

/* ---- the tail test shared by spectral and spectre ----
 * A poisoned class shows its poison as a group of rows far out on one side of one of its top
 * directions. Along each of m directions, rows are measured in robust standard deviations
 * (median, 1.4826 MAD) and counted beyond ASSAY__TAIL_Z on either side; natural classes are
 * allowed a share `tolerance` there. The direction and side with the most rows is the
 * signature; its p-value is P(Binomial(n, tolerance) >= count), Bonferroni over the 2m
 * directions and sides. */
#define ASSAY__TAIL_Z 4.0

typedef struct assay__tail_test {
    size_t dir;      /* direction (column) with the most rows beyond the cutoff */
    int side;        /* +1: the far group is on the positive side, -1: negative */
    size_t count;    /* rows beyond ASSAY__TAIL_Z robust SDs on that side */
    size_t opposite; /* rows beyond it on the other side of the same direction */
    double med, mad; /* robust centre and scale of the projections on that direction */
    double p;
} assay__tail_test;

/* u: n rows of m projections, row i at u + i * ld (ld >= m). work holds 2n doubles. */
void assay__tail_test_run(const double *u, size_t n, size_t m, size_t ld, double tolerance,
                          double *work, assay__tail_test *out);

/* Calibrates the classes' tail tests against each other, as SCAn and Neural Cleanse calibrate
 * their statistics: a natural class's share beyond the cutoff is estimated from the other
 * classes of the same dataset instead of a constant. With at least ASSAY__TAIL_MIN_CLASSES
 * classes tested, class c's p-value becomes the larger of
 *  - the normal tail of its robust z across the other classes (median and 1.4826 MAD of the
 *    log smoothed shares (count + 0.5) / (n + 1), the scale at least ASSAY__TAIL_MIN_SCALE), and
 *  - the binomial tail of its count against the natural allowance those classes give:
 *    exp(median + 3 scale), at least `tolerance` (an effect size: a share within what the
 *    other classes show is not evidence however many rows the class has), Bonferroni 2m;
 * so a class fires only when it stands out from the others AND exceeds their natural tail.
 * With fewer classes there is no index: each class is tested against itself, its p-value the
 * larger of the binomial against `tolerance` and the sign-flip test (assay__tail_sign_p).
 * The k classes are records of the detector's own type at `cls`, `size` bytes apart, holding
 * their test, row count (size_t) and tested flag (int) at the given offsets; allow[c]
 * receives the allowance used. Returns 1 when the index across classes was used. */
#define ASSAY__TAIL_MIN_CLASSES 4
#define ASSAY__TAIL_MIN_SCALE   0.35
int assay__tail_calibrate(void *cls, size_t size, size_t off_test, size_t off_n, size_t off_tested,
                          size_t k, size_t m, double tolerance, double *allow);

/* The per-class null with fewer than ASSAY__TAIL_MIN_CLASSES classes, a sign-flip (randomisation)
 * test: with no planted group a class's far rows fall on either side of the direction alike
 * (symmetric tails: Student-t, Gaussian), so given the count + opposite rows beyond the cutoff
 * on both sides, the count on the signature side is Binomial(count + opposite, 1/2); p = its
 * upper tail, Bonferroni over the 2m directions and sides (1 when count is 0). A planted group is
 * one-sided; a skewed natural tail is one-sided too, which the effect size (the tolerance) still
 * covers. */
double assay__tail_sign_p(const assay__tail_test *t, size_t m);

/* The robust anomaly index across classes behind assay__tail_calibrate (cluster uses it for its
 * gap statistic): for each class c with a statistic (stat[c] not NaN), the normal upper tail of
 * (stat[c] - median) / scale over the other classes' statistics (leave-one-out median, scale
 * 1.4826 MAD, at least min_scale), in p_index[c] (NaN for untested classes and when fewer than
 * ASSAY__TAIL_MIN_CLASSES classes have one). med and scale (k each, may be NULL) receive the
 * centre and scale used. Returns the number of classes with a statistic (0 when out of memory:
 * no index). */
size_t assay__index_across(const double *stat, size_t k, double min_scale, double *med,
                           double *scale, double *p_index);

/* Row i's robust z on the signature side: side * (u_i - med) / mad. */
static inline double assay__tail_z(const assay__tail_test *t, double u) {
    return (double)t->side * (u - t->med) / t->mad;
}

/* What the far group of a class's tail test looks like, to tell a natural sub-style of the class
 * from a planted group. A backdoor's rows either keep the neighbourhood of the classes they were
 * taken from (dirty-label poison in input-like features: their graph neighbours carry other
 * labels) or lie far beyond the class (a trigger the features encode strongly: learned
 * features, a tabular trigger value). A natural sub-style (a serif 1, a writing style) does
 * neither: its rows neighbour rows of their own label and lie a few robust SDs out, as a
 * shoulder of the class. A group that is neither foreign nor far is reported as a sub-style: its
 * test only warns and its rows are not flagged (they keep their scores).
 *  - foreign: the group's neighbours carry another label at least ASSAY__GROUP_FOREIGN of the
 *    time and ASSAY__GROUP_FOREIGN_EXCESS more often than the class's other rows' neighbours
 *    (natural far tails of Fashion-MNIST classes: 0.46 against 0.25; BadNets groups in pixels
 *    or PCA: 0.47-0.92 against 0.00-0.31);
 *  - far: the group's median robust z at least ASSAY__GROUP_FAR_Z, twice the tail cutoff
 *    (natural sub-styles of the suite: 4.8-6.2; planted groups not foreign: 9.4-23.7).
 * Without a graph (or with fewer than 3 rows in the group) nothing is judged (substyle 0). */
#define ASSAY__GROUP_FOREIGN        0.3
#define ASSAY__GROUP_FOREIGN_EXCESS 0.25
#define ASSAY__GROUP_FAR_Z          (2.0 * ASSAY__TAIL_Z)
#define ASSAY__GROUP_MIN_ROWS       3

typedef struct assay__tail_group {
    size_t rows;         /* rows beyond the cutoff on the signature side */
    double foreign;      /* share of their graph neighbours with another label (NaN: no graph) */
    double foreign_rest; /* the same for the class's other rows */
    double median_z;     /* their median robust z */
    int substyle;        /* neither foreign nor far: a natural sub-style */
} assay__tail_group;

/* The group of tail test t over the class's rows rows[0..n) (labels y, neighbour graph g, may be
 * NULL), projections u as for assay__tail_test_run (row i's value at u[i * ld + t->dir]).
 * work holds n doubles. */
/* When g is a sub-style, test t (its class's tail test, total n rows) becomes an observation:
 * severity low (it warns) and a detail that says why. Returns g->substyle. */
struct assay__test;
int assay__tail_group_judge(const assay__tail_group *g, size_t n, const char *direction,
                            struct assay__test *t);

void assay__tail_group_shape(const assay__tail_test *t, const double *u, size_t ld,
                             const size_t *rows, size_t n, const assay__graph *g, const int32_t *y,
                             double *work, assay__tail_group *out);

/* As assay__rows_cov, in single precision for speed (OpenBLAS ssyrk over blocks of
 * ASSAY__LA_BLOCK_F32 rows gathered centred in float; each block's product is added to the double
 * result, so float rounding only accumulates within a block: relative error ~1e-6, enough for
 * principal directions). ctx may be NULL. Returns ASSAY_E_NOMEM. */
#define ASSAY__LA_BLOCK_F32 512
assay_status assay__rows_cov_f32(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                                 const size_t *rows, size_t m, const double *mu, double *cov);

/* The top p principal directions of rows rows[0..m) centred on mu: vecs (d x p column-major)
 * and their variances vals (descending). Up to d = 256 the covariance is formed and decomposed
 * (dsyrk, dsyevr); above, a randomized subspace iteration (Halko, Martinsson, Tropp 2011) on a
 * uniform sample of at most 1000 rows drawn with `seed`: O(m d p) instead of O(m d^2 + d^3),
 * accurate for the leading directions of data whose spectrum decays. *p_out receives the number
 * of usable directions (variance above 1e-10 of the largest, at most min(p, m)). Returns
 * ASSAY_E_NOMEM, ASSAY_E_BLAS. Used by cluster and mahalanobis. */
assay_status assay__rows_pca(assay_ctx *ctx, const float *x, size_t ld, size_t d,
                             const size_t *rows, size_t m, const double *mu, size_t p,
                             uint64_t seed, double *vecs, double *vals, size_t *p_out);

/* "top", "2nd", ... "8th" for the k-th direction (1-based), "lower" beyond: for explanations. */
const char *assay__ordinal(size_t k);

#endif

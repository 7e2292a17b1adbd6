/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics shared by the detectors, the decision step and the baseline comparison: robust
 * location and scale, tail probabilities of the usual null distributions, Benjamini-Hochberg, the
 * mapping of p-values to calibrated evidence, and a small seedable random generator. */
#ifndef ASSAY_STATS_H
#define ASSAY_STATS_H

#include <stddef.h>
#include <stdint.h>

/* The k-th smallest of v[0..n) (k < n) by quickselect; reorders v. */
double assay__select_kth(double *v, size_t n, size_t k);
float assay__select_kthf(float *v, size_t n, size_t k);

/* Median of v[0..n) (n > 0); reorders v. */
double assay__median(double *v, size_t n);

/* Median and MAD scaled to a normal sigma (1.4826 * median |x - med|) of x[0..n), n > 0.
 * work holds n doubles. A MAD of 0 is returned as the smallest positive spread of the data, or
 * DBL_MIN when all values are equal, so a robust z-score is always finite. */
void assay__median_mad(const double *x, size_t n, double *work, double *med, double *mad);

/* Upper tail P(Z >= z) of the standard normal. */
double assay__norm_sf(double z);
/* Upper tail P(X >= x) of chi-square with k degrees of freedom (k > 0). */
double assay__chi2_sf(double x, double k);
/* Upper tail P(X >= k) of Binomial(n, p). */
double assay__binom_sf(double k, double n, double p);
/* One-sided Fisher exact test: P(X >= x) for X hypergeometric, `draws` taken from a population
 * of `total` holding `succ` successes. */
double assay__hypergeom_sf(double x, double draws, double succ, double total);
/* Regularised incomplete gamma Q(a, x) and beta I_x(a, b). */
double assay__gamma_q(double a, double x);
double assay__beta_inc(double a, double b, double x);

/* Benjamini-Hochberg: the largest p_(i) with p_(i) <= alpha * i / m, so that rows with
 * p <= cutoff are the discoveries at false discovery rate alpha. When there is none it returns
 * alpha / m * 0.5 (nothing reaches it). work holds m doubles. */
double assay__bh_cutoff(const double *p, size_t m, double alpha, double *work);

/* BH-adjusted q-values of p[0..m) into q (monotone step-up). work holds m * ASSAY__BH_WORK
 * bytes. */
#define ASSAY__BH_WORK (2 * sizeof(double))
void assay__bh_adjust(const double *p, size_t m, double *q, void *work);

/* Calibrated evidence in [0,1] from a p-value and the flag cutoff: 0.5 exactly at p == cutoff,
 * linear in -log10 p below it (0 at p = 1) and 0.5 + 0.5 (1 - s0 / s) above, s = -log10 p,
 * s0 = -log10 cutoff. Monotone: a smaller p never gives less evidence. */
float assay__evidence_from_p(double p, double cutoff);

/* Maps a detector score s with flag threshold t (0 < t <= 1) to calibrated evidence:
 * 0.5 * s / t below t, 0.5 + 0.5 * (s - t) / (1 - t) from t up; NaN gives 0. */
float assay__evidence_from_threshold(float s, float t);

/* splitmix64: seedable, identical everywhere. */
typedef struct assay__rng {
    uint64_t s;
} assay__rng;
assay__rng assay__rng_seed(uint64_t seed, uint64_t stream);
uint64_t assay__rng_next(assay__rng *r);
double assay__rng_uniform(assay__rng *r);             /* [0, 1) */
uint64_t assay__rng_below(assay__rng *r, uint64_t n); /* [0, n), n > 0 */
double assay__rng_normal(assay__rng *r);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared statistics (see stats.h). The special functions use the standard series and
 * continued-fraction expansions (Lentz's method), accurate to ~1e-12 relative. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"

/* The k-th smallest of v[0..n) (k < n) by quickselect with median-of-three pivots, reordering
 * v: one body for doubles and floats. */
#define ASSAY__SELECT_KTH(name, T)                                                                 \
    T name(T *v, size_t n, size_t k) {                                                             \
        size_t lo = 0, hi = n - 1;                                                                 \
        while (hi > lo) {                                                                          \
            size_t mid = lo + (hi - lo) / 2;                                                       \
            T t;                                                                                   \
            if (v[mid] < v[lo]) t = v[mid], v[mid] = v[lo], v[lo] = t;                             \
            if (v[hi] < v[lo]) t = v[hi], v[hi] = v[lo], v[lo] = t;                                \
            if (v[hi] < v[mid]) t = v[hi], v[hi] = v[mid], v[mid] = t;                             \
            T pivot = v[mid];                                                                      \
            size_t i = lo, j = hi;                                                                 \
            while (i <= j) {                                                                       \
                while (v[i] < pivot) i++;                                                          \
                while (v[j] > pivot) j--;                                                          \
                if (i <= j) {                                                                      \
                    t = v[i], v[i] = v[j], v[j] = t;                                               \
                    i++;                                                                           \
                    if (j == 0) break;                                                             \
                    j--;                                                                           \
                }                                                                                  \
            }                                                                                      \
            if (k <= j)                                                                            \
                hi = j;                                                                            \
            else if (k >= i)                                                                       \
                lo = i;                                                                            \
            else                                                                                   \
                return v[k];                                                                       \
        }                                                                                          \
        return v[k];                                                                               \
    }
ASSAY__SELECT_KTH(assay__select_kth, double)
ASSAY__SELECT_KTH(assay__select_kthf, float)

double assay__median(double *v, size_t n) {
    double hi = assay__select_kth(v, n, n / 2);
    if (n % 2) return hi;
    double lo = v[0];
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lo) lo = v[i];
    return 0.5 * (lo + hi);
}

void assay__median_mad(const double *x, size_t n, double *work, double *med, double *mad) {
    memcpy(work, x, n * sizeof *work);
    double m = assay__median(work, n);
    double spread = INFINITY;
    for (size_t i = 0; i < n; i++) {
        work[i] = fabs(x[i] - m);
        if (work[i] > 0.0 && work[i] < spread) spread = work[i];
    }
    double s = 1.4826 * assay__median(work, n);
    if (!(s > 0.0)) s = isfinite(spread) ? spread : DBL_MIN;
    *med = m;
    *mad = s;
}

double assay__norm_sf(double z) {
    return 0.5 * erfc(z / sqrt(2.0));
}

/* Lower regularised gamma P(a, x) by its series (x < a + 1). */
static double gamma_p_series(double a, double x) {
    double sum = 1.0 / a, term = sum;
    for (int n = 1; n < 10000; n++) {
        term *= x / (a + n);
        sum += term;
        if (fabs(term) < fabs(sum) * 1e-15) break;
    }
    return sum * exp(-x + a * log(x) - lgamma(a));
}

/* Upper regularised gamma Q(a, x) by its continued fraction (x >= a + 1). */
static double gamma_q_cf(double a, double x) {
    const double tiny = 1e-300;
    double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
    for (int i = 1; i < 10000; i++) {
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15) break;
    }
    return exp(-x + a * log(x) - lgamma(a)) * h;
}

double assay__gamma_q(double a, double x) {
    if (!(x > 0.0)) return 1.0;
    if (isinf(x)) return 0.0;
    if (x < a + 1.0) return 1.0 - gamma_p_series(a, x);
    return gamma_q_cf(a, x);
}

double assay__chi2_sf(double x, double k) {
    return assay__gamma_q(0.5 * k, 0.5 * x);
}

/* Continued fraction of the incomplete beta function (Lentz). */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0, c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m < 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15) break;
    }
    return h;
}

double assay__beta_inc(double a, double b, double x) {
    if (!(x > 0.0)) return 0.0;
    if (x >= 1.0) return 1.0;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lbt) * beta_cf(a, b, x) / a;
    return 1.0 - exp(lbt) * beta_cf(b, a, 1.0 - x) / b;
}

double assay__binom_sf(double k, double n, double p) {
    if (k <= 0.0) return 1.0;
    if (k > n) return 0.0;
    if (p <= 0.0) return 0.0;
    if (p >= 1.0) return 1.0;
    return assay__beta_inc(k, n - k + 1.0, p); /* P(X >= k) = I_p(k, n - k + 1) */
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double assay__bh_cutoff(const double *p, size_t m, double alpha, double *work) {
    if (m == 0) return 0.0;
    memcpy(work, p, m * sizeof *work);
    qsort(work, m, sizeof *work, cmp_double);
    for (size_t i = m; i-- > 0;)
        if (work[i] <= alpha * (double)(i + 1) / (double)m) return work[i];
    return 0.5 * alpha / (double)m;
}

typedef struct p_index {
    double p;
    size_t i;
} p_index;

static int cmp_p_index(const void *a, const void *b) {
    const p_index *x = a, *y = b;
    if (x->p != y->p) return (x->p > y->p) - (x->p < y->p);
    return (x->i > y->i) - (x->i < y->i);
}

void assay__bh_adjust(const double *p, size_t m, double *q, void *work) {
    p_index *w = work;
    for (size_t i = 0; i < m; i++) w[i] = (p_index){p[i], i};
    qsort(w, m, sizeof *w, cmp_p_index);
    double run = 1.0;
    for (size_t r = m; r-- > 0;) {
        double v = w[r].p * (double)m / (double)(r + 1);
        if (v < run) run = v;
        q[w[r].i] = run;
    }
}

float assay__evidence_from_p(double p, double cutoff) {
    if (!(p >= 0.0)) return 0.0f; /* NaN: no evidence */
    if (p < 1e-300) p = 1e-300;
    if (cutoff < 1e-300) cutoff = 1e-300;
    if (cutoff >= 1.0) cutoff = 0.999999;
    double s = -log10(p), s0 = -log10(cutoff);
    float e = (float)(s < s0 ? 0.5 * s / s0 : 0.5 + 0.5 * (1.0 - s0 / s));
    /* float rounding must not move a row across the flag line */
    if (p <= cutoff) return e < 0.5f ? 0.5f : e;
    return e >= 0.5f ? nextafterf(0.5f, 0.0f) : e;
}

assay__rng assay__rng_seed(uint64_t seed, uint64_t stream) {
    assay__rng r = {seed ^ (0x9E3779B97F4A7C15ull * (stream + 1))};
    (void)assay__rng_next(&r);
    return r;
}

uint64_t assay__rng_next(assay__rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double assay__rng_uniform(assay__rng *r) {
    return (double)(assay__rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t assay__rng_below(assay__rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = assay__rng_next(r);
    while (x >= limit);
    return x % n;
}

double assay__rng_normal(assay__rng *r) {
    double u = assay__rng_uniform(r), v = assay__rng_uniform(r);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

float assay__evidence_from_threshold(float s, float t) {
    if (!(s >= 0.0f)) return 0.0f; /* NaN: no evidence */
    if (t >= 1.0f) return s >= 1.0f ? 1.0f : 0.5f * s;
    if (s < t) return 0.5f * s / t;
    return 0.5f + 0.5f * (s - t) / (1.0f - t);
}

/* log of the binomial coefficient C(n, k). */
static double log_choose(double n, double k) {
    return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
}

double assay__hypergeom_sf(double x, double draws, double succ, double total) {
    double lo = x, hi = draws < succ ? draws : succ;
    if (lo > hi) return 0.0;
    if (lo <= 0.0 && draws - (total - succ) <= 0.0) return 1.0;
    double lden = log_choose(total, draws), mx = -INFINITY;
    for (double i = lo; i <= hi; i += 1.0) {
        double l = log_choose(succ, i) + log_choose(total - succ, draws - i) - lden;
        if (l > mx) mx = l;
    }
    double s = 0.0;
    for (double i = lo; i <= hi; i += 1.0)
        s += exp(log_choose(succ, i) + log_choose(total - succ, draws - i) - lden - mx);
    double p = exp(mx) * s;
    return p > 1.0 ? 1.0 : p;
}

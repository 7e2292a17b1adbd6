/* SPDX-License-Identifier: Apache-2.0 */
/* cluster: activation clustering (Chen et al. 2018). Per class: the top cluster-dims principal
 * directions, whitened (so a split along a low-variance but bimodal direction, such as a trigger
 * feature, is not drowned by the class's large natural variation: the role ICA plays in the
 * paper), then 2-means (k-means++ seeds, cluster-restarts per level of a coarse-to-fine search).
 * A backdoor shows as a small cluster that an almost empty gap separates from the rest of its
 * class: the trigger is a feature the poisoned rows share and clean rows lack. Natural classes
 * split too (Fashion-MNIST classes are far from one Gaussian) but along a continuum, so the class
 * test asks for the gap, not merely for a split, and the smaller cluster is never declared poison
 * by construction; its rows are scored by their position along the split against the larger
 * cluster. */
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

/* Classes with fewer rows are not tested (a whitened 2-means split of a handful of rows means
 * nothing); each direction needs CL_ROWS_PER_DIM rows. */
#define CL_MIN_ROWS     50
#define CL_ROWS_PER_DIM 5
/* The 2-means runs use a row sample; the CL_KM_KEEP best local optima are refined on all rows
 * and each is tested. The search starts at CL_KM_MIN_DIM..2 CL_KM_MIN_DIM whitened coordinates
 * and doubles them up to cluster-dims. */
#define CL_KM_SAMPLE  1024
#define CL_KM_KEEP    4
#define CL_KM_ITERS   100
#define CL_KM_MIN_DIM 4
/* The gap test along the split, in units of the distance between the centres (0 = the larger
 * cluster's centre, 1 = the smaller one's): the rows in the gap [0.25, 0.75] against the rows in
 * the peak window [0.9, 1.1] around the small cluster's centre, as densities (per unit of t). */
#define CL_GAP_LO  0.25
#define CL_GAP_HI  0.75
#define CL_PEAK_LO 0.9
#define CL_PEAK_HI 1.1
/* The large cluster's spread along the split is floored at this share of the centre distance. */
#define CL_MIN_SPREAD 1e-3
/* The index across classes works on -log of the smoothed gap density ratio, floored at this
 * ratio: below it a gap is empty and the ratio only counts the rows at the centre. */
#define CL_INDEX_FLOOR 0.01

/* ---- small dense helpers (p x p, p <= 256) ---- */

static double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t j = 0; j < n; j++) s += a[j] * b[j];
    return s;
}

static double sqdist(const double *a, const double *b, size_t p) {
    double s = 0.0;
    for (size_t j = 0; j < p; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* In-place whitening of z (n x p, row-major) centred on its mean: z <- (z - mean) L^-T with
 * L L^T the covariance. c holds p * p doubles. Returns 0 if the covariance is singular. */
static int whiten(double *z, size_t n, size_t p, double *c) {
    double *mu = c; /* the first row of c is free until the covariance is formed */
    memset(mu, 0, p * sizeof *mu);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) mu[j] += z[i * p + j];
    for (size_t j = 0; j < p; j++) mu[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++) z[i * p + j] -= mu[j];
    memset(c, 0, p * p * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        const double *zi = z + i * p;
        for (size_t a = 0; a < p; a++)
            for (size_t b = 0; b <= a; b++) c[a * p + b] += zi[a] * zi[b];
    }
    for (size_t a = 0; a < p; a++)
        for (size_t b = 0; b <= a; b++) c[a * p + b] /= (double)n;
    double scale = 0.0;
    for (size_t a = 0; a < p; a++) scale = fmax(scale, c[a * p + a]);
    for (size_t a = 0; a < p; a++) /* Cholesky, lower, row-major */
        for (size_t b = 0; b <= a; b++) {
            double s = c[a * p + b];
            for (size_t k = 0; k < b; k++) s -= c[a * p + k] * c[b * p + k];
            if (a == b) {
                if (!(s > 1e-12 * scale)) return 0;
                c[a * p + a] = sqrt(s);
            } else {
                c[a * p + b] = s / c[b * p + b];
            }
        }
    for (size_t i = 0; i < n; i++) {
        double *zi = z + i * p;
        for (size_t a = 0; a < p; a++) {
            double s = zi[a];
            for (size_t k = 0; k < a; k++) s -= c[a * p + k] * zi[k];
            zi[a] = s / c[a * p + a];
        }
    }
    return 1;
}

/* ---- 2-means ---- */

/* Lloyd's iterations on the first q coordinates of z (row stride ld) from the centres cent
 * (2 x q), on rows idx[0..m) (idx NULL: rows 0..m). With two centres the assignment is a
 * half-space test: one dot product per row. Returns the inertia; asg receives the assignment
 * (indexed like idx). sums holds 3q doubles. */
static double lloyd(const double *z, size_t ld, size_t q, const size_t *idx, size_t m, double *cent,
                    uint8_t *asg, double *sums) {
    double *w = sums + 2 * q;
    for (int it = 0; it < CL_KM_ITERS; it++) {
        double c0 = 0.0, c1 = 0.0;
        for (size_t j = 0; j < q; j++) {
            w[j] = cent[q + j] - cent[j];
            c0 += cent[j] * cent[j];
            c1 += cent[q + j] * cent[q + j];
        }
        double thr = 0.5 * (c1 - c0);
        size_t cnt[2] = {0, 0}, changed = 0;
        memset(sums, 0, 2 * q * sizeof *sums);
        for (size_t i = 0; i < m; i++) {
            const double *zi = z + (idx ? idx[i] : i) * ld;
            uint8_t a = dot(zi, w, q) > thr;
            changed += it == 0 || a != asg[i];
            asg[i] = a;
            cnt[a]++;
            double *s = sums + a * q;
            for (size_t j = 0; j < q; j++) s[j] += zi[j];
        }
        for (int k = 0; k < 2; k++)
            if (cnt[k] > 0)
                for (size_t j = 0; j < q; j++) cent[k * q + j] = sums[k * q + j] / (double)cnt[k];
        if (changed == 0) break;
    }
    double inertia = 0.0;
    for (size_t i = 0; i < m; i++)
        inertia += sqdist(z + (idx ? idx[i] : i) * ld, cent + asg[i] * q, q);
    return inertia;
}

/* Centres (2 x q) of the sample idx[0..m) split by a rule: the half-space of the centre pair cp
 * (2 x qp, qp <= q coordinates) when cp is given, else the projections on u (q) cut by 1-D
 * 2-means. t holds m doubles. */
static void seed_split(const double *z, size_t ld, size_t q, const size_t *idx, size_t m,
                       const double *cp, size_t qp, const double *u, double *t, double *c) {
    double thr = 0.0;
    if (cp != NULL) {
        double w[256], c0 = 0.0, c1 = 0.0;
        for (size_t j = 0; j < qp; j++) {
            w[j] = cp[qp + j] - cp[j];
            c0 += cp[j] * cp[j];
            c1 += cp[qp + j] * cp[qp + j];
        }
        thr = 0.5 * (c1 - c0);
        for (size_t i = 0; i < m; i++) t[i] = dot(z + idx[i] * ld, w, qp);
    } else {
        for (size_t i = 0; i < m; i++) thr += t[i] = dot(z + idx[i] * ld, u, q);
        thr /= (double)m;
        for (int it = 0; it < 50; it++) {
            double s[2] = {0, 0};
            size_t k[2] = {0, 0};
            for (size_t i = 0; i < m; i++) {
                int a = t[i] > thr;
                s[a] += t[i];
                k[a]++;
            }
            if (k[0] == 0 || k[1] == 0) break;
            double nt = 0.5 * (s[0] / (double)k[0] + s[1] / (double)k[1]);
            if (nt == thr) break;
            thr = nt;
        }
    }
    size_t k[2] = {0, 0};
    memset(c, 0, 2 * q * sizeof *c);
    for (size_t i = 0; i < m; i++) {
        int a = t[i] > thr;
        k[a]++;
        for (size_t j = 0; j < q; j++) c[a * q + j] += z[idx[i] * ld + j];
    }
    for (int a = 0; a < 2; a++)
        for (size_t j = 0; j < q; j++) c[a * q + j] /= k[a] > 0 ? (double)k[a] : 1.0;
}

/* k-means++ seeding for two centres (2 x q) on the sample; dw holds m doubles. */
static void seed_pp(const double *z, size_t ld, size_t q, const size_t *idx, size_t m,
                    assay__rng *rng, double *dw, double *c) {
    size_t i0 = (size_t)assay__rng_below(rng, m);
    memcpy(c, z + idx[i0] * ld, q * sizeof *c);
    double tot = 0.0;
    for (size_t i = 0; i < m; i++) tot += dw[i] = sqdist(z + idx[i] * ld, c, q);
    size_t i1 = i0;
    if (tot > 0.0) { /* the second centre with probability proportional to D^2 */
        double v = assay__rng_uniform(rng) * tot, acc = 0.0;
        for (i1 = 0; i1 + 1 < m; i1++) {
            acc += dw[i1];
            if (acc > v && dw[i1] > 0.0) break;
        }
    }
    memcpy(c + q, z + idx[i1] * ld, q * sizeof *c);
}

/* Inserts the centre pair c (2q) with inertia `in` into the list (lowest first, at most
 * CL_KM_KEEP, no two with the same inertia: the same local optimum found again). */
static void keep_insert(double *list, double *lin, int *nk, const double *c, double in, size_t q) {
    for (int k = 0; k < *nk; k++)
        if (fabs(in - lin[k]) <= 1e-7 * fabs(in)) return;
    int pos = *nk;
    while (pos > 0 && in < lin[pos - 1]) pos--;
    if (pos >= CL_KM_KEEP) return;
    int last = *nk < CL_KM_KEEP ? *nk : CL_KM_KEEP - 1;
    for (int k = last; k > pos; k--) {
        lin[k] = lin[k - 1];
        memcpy(list + (size_t)k * 2 * q, list + (size_t)(k - 1) * 2 * q, 2 * q * sizeof *c);
    }
    lin[pos] = in;
    memcpy(list + (size_t)pos * 2 * q, c, 2 * q * sizeof *c);
    if (*nk < CL_KM_KEEP) (*nk)++;
}

/* Candidate 2-means splits of z (n x p, whitened by a triangular factor, so its first q
 * coordinates are the whitened first q principal directions). In 20 whitened dimensions a
 * separated small cluster is the lowest-inertia split but its basin is narrow, and random
 * k-means++ seeds miss it; in fewer dimensions it is found easily but less cleanly separated.
 * So the search runs on q = ..., p/4, p/2, p coordinates: at each level Lloyd runs on the sample
 * idx[0..m) from the previous level's candidates, from the direction of the third moment
 * E[z |z|^2] (a small cluster far from the bulk dominates it) and from `restarts` k-means++
 * seeds; the CL_KM_KEEP distinct local optima of lowest inertia are refined on all rows. k-means
 * need not reach its global optimum, nor need that be the split with the gap, so the caller
 * tests every final candidate (with a Bonferroni factor). cand receives up to CL_KM_KEEP centre
 * pairs (2p each), lowest full inertia first; returns their number. work: m + 6p doubles, aw:
 * max(m, n) bytes. */
static int kmeans2(const double *z, size_t n, size_t p, const size_t *idx, size_t m, int restarts,
                   assay__rng *rng, double *cand, double *work, uint8_t *aw) {
    double *dw = work, *c = work + m, *sums = c + 2 * p, *u = sums + 3 * p;
    double prev[CL_KM_KEEP * 2 * 256], lin[CL_KM_KEEP];
    size_t dims[16], nl = 0;
    for (size_t q = p; nl < 16; q = (q + 1) / 2) {
        dims[nl++] = q;
        if (q < 2 * CL_KM_MIN_DIM) break;
    }
    int np = 0, nk = 0;
    size_t qp = 0;
    for (size_t lv = nl; lv-- > 0;) {
        const size_t q = dims[lv];
        nk = 0;
        for (int k = 0; k < np; k++) { /* the previous level's splits, lifted */
            seed_split(z, p, q, idx, m, prev + (size_t)k * 2 * qp, qp, NULL, dw, c);
            keep_insert(cand, lin, &nk, c, lloyd(z, p, q, idx, m, c, aw, sums), q);
        }
        memset(u, 0, q * sizeof *u);
        for (size_t i = 0; i < m; i++) {
            const double *zi = z + idx[i] * p;
            double r2 = dot(zi, zi, q);
            for (size_t j = 0; j < q; j++) u[j] += zi[j] * r2;
        }
        seed_split(z, p, q, idx, m, NULL, 0, u, dw, c);
        keep_insert(cand, lin, &nk, c, lloyd(z, p, q, idx, m, c, aw, sums), q);
        for (int r = 0; r < restarts; r++) {
            seed_pp(z, p, q, idx, m, rng, dw, c);
            keep_insert(cand, lin, &nk, c, lloyd(z, p, q, idx, m, c, aw, sums), q);
        }
        if (lv > 0) { /* the next level starts from these */
            memcpy(prev, cand, (size_t)nk * 2 * q * sizeof *cand);
            np = nk;
            qp = q;
            continue;
        }
        /* the last level: refine on all rows; splits that meet again count once */
        np = 0;
        for (int k = 0; k < nk; k++) {
            memcpy(c, cand + (size_t)k * 2 * q, 2 * q * sizeof *c);
            double in = lloyd(z, p, q, NULL, n, c, aw, sums);
            keep_insert(prev, lin, &np, c, in, q); /* lin reused: the sample values are done */
        }
    }
    memcpy(cand, prev, (size_t)np * 2 * p * sizeof *cand);
    return np;
}

/* Silhouette (Rousseeuw 1987) of the assignment, averaged over the sampled rows idx[0..m) only:
 * O(m^2 p), never O(n^2). acc holds 2m doubles. */
static double silhouette(const double *z, size_t p, const uint8_t *asg, const size_t *idx, size_t m,
                         double *acc) {
    memset(acc, 0, 2 * m * sizeof *acc);
    size_t cnt[2] = {0, 0};
    for (size_t a = 0; a < m; a++) {
        cnt[asg[idx[a]]]++;
        for (size_t b = a + 1; b < m; b++) {
            double dd = sqrt(sqdist(z + idx[a] * p, z + idx[b] * p, p));
            acc[2 * a + asg[idx[b]]] += dd;
            acc[2 * b + asg[idx[a]]] += dd;
        }
    }
    double s = 0.0;
    for (size_t a = 0; a < m; a++) {
        int k = asg[idx[a]];
        if (cnt[k] < 2 || cnt[1 - k] < 1) continue; /* a singleton scores 0 */
        double in = acc[2 * a + k] / (double)(cnt[k] - 1);
        double out = acc[2 * a + 1 - k] / (double)cnt[1 - k];
        double mx = in > out ? in : out;
        if (mx > 0.0) s += (out - in) / mx;
    }
    return m > 0 ? s / (double)m : 0.0;
}

/* P(X <= k) for X ~ Binomial(n, q). */
static double binom_cdf(double k, double n, double q) {
    if (k >= n) return 1.0;
    if (k < 0.0) return 0.0;
    return assay__beta_inc(n - k, k + 1.0, 1.0 - q);
}

/* ---- one class ---- */

typedef struct cl_class {
    size_t n, dims;   /* rows, whitened dimensions (0: not tested) */
    int candidates;   /* distinct 2-means local optima tested */
    size_t n_small;   /* rows of the smaller cluster */
    double share;     /* n_small / n */
    double sil;       /* sampled silhouette of the split */
    double sep;       /* centre distance over the pooled within-cluster sd along the split */
    double gap, peak; /* rows in the emptiest gap window and in the window at the small centre */
    double gap_ratio; /* gap / peak */
    double pval;      /* class test p-value */
    int failed;       /* out of memory in the task */
} cl_class;

typedef struct cl_job {
    assay_ctx *ctx;
    const assay_dataset *ds;
    const size_t *rows, *start;
    double *mu, *vals, *v; /* the principal directions of the class being projected */
    double *z;             /* per class block: start[c] * pmax, row i at + i * cls[c].dims */
    cl_class *cls;
    size_t pmax, sample;
    int restarts;
    uint64_t seed;
    double max_share, gap_level;
    float *score;   /* per row */
    double *prow;   /* per row p-value */
    uint8_t *small; /* per row: in the smaller cluster */
} cl_job;

/* The split of z by the centre pair cent: asg (n) and t (n, the position along the split: 0 at
 * the larger cluster's centre, 1 at the smaller one's) and its statistics in *C (without the
 * Bonferroni factor). Returns the id (0/1) of the smaller cluster, -1 if the split is empty. */
static int eval_split(const cl_job *J, const double *z, size_t n, size_t p, const double *cent,
                      uint8_t *asg, double *t, cl_class *C) {
    double w[256], c0 = 0.0, c1 = 0.0;
    for (size_t j = 0; j < p; j++) {
        w[j] = cent[p + j] - cent[j];
        c0 += cent[j] * cent[j];
        c1 += cent[p + j] * cent[p + j];
    }
    size_t n1 = 0;
    for (size_t i = 0; i < n; i++) n1 += asg[i] = dot(z + i * p, w, p) > 0.5 * (c1 - c0);
    int sm = n1 <= n - n1;
    C->n_small = sm ? n1 : n - n1;
    C->share = (double)C->n_small / (double)n;
    C->pval = 1.0;
    C->gap_ratio = 1.0;
    C->gap = C->peak = C->sep = 0.0;
    const double *cs = cent + (size_t)sm * p, *cl = cent + (size_t)(1 - sm) * p;
    double dist2 = sqdist(cs, cl, p);
    if (C->n_small == 0 || !(dist2 > 0.0)) return -1;
    double s1[2] = {0, 0}, s2[2] = {0, 0};
    size_t cnt[2] = {0, 0}, gap = 0, peak = 0;
    for (size_t i = 0; i < n; i++) {
        double v = 0.0;
        for (size_t j = 0; j < p; j++) v += (z[i * p + j] - cl[j]) * (cs[j] - cl[j]);
        double ti = t[i] = v / dist2;
        int k = asg[i] == sm;
        s1[k] += ti;
        s2[k] += ti * ti;
        cnt[k]++;
        gap += ti >= CL_GAP_LO && ti <= CL_GAP_HI;
        peak += ti >= CL_PEAK_LO && ti <= CL_PEAK_HI;
    }
    double within = 0.0;
    for (int k = 0; k < 2; k++)
        if (cnt[k] > 0) within += s2[k] - s1[k] * s1[k] / (double)cnt[k];
    within = sqrt(within / (double)n);
    C->sep = within > 0.0 ? 1.0 / within : INFINITY;
    const double wg = CL_GAP_HI - CL_GAP_LO, wp = CL_PEAK_HI - CL_PEAK_LO;
    C->gap = (double)gap;
    C->peak = (double)peak;
    C->gap_ratio = peak > 0 ? ((double)gap / wg) / ((double)peak / wp) : 1.0;
    if (C->share <= J->max_share) {
        /* H0: the density in the gap is at least gap_level times the density at the small
         * cluster's centre, so each of the gap + peak rows lies in the gap with probability at
         * least wg g / (wg g + wp): binomial lower tail of the gap count. */
        double q0 = wg * J->gap_level / (wg * J->gap_level + wp);
        C->pval = binom_cdf((double)gap, (double)(gap + peak), q0);
    }
    return sm;
}

/* Principal directions and projections of one class (BLAS; classes in order). */
static assay_status pca_task(void *arg, size_t c, int worker, const size_t *rc, size_t nc) {
    (void)worker;
    cl_job *J = arg;
    const assay_dataset *ds = J->ds;
    size_t p = J->pmax < nc / CL_ROWS_PER_DIM ? J->pmax : nc / CL_ROWS_PER_DIM;
    J->cls[c].n = nc;
    if (nc < CL_MIN_ROWS || p == 0) return ASSAY_OK;
    assay__rng rng = assay__rng_seed(J->seed, 0xC0u + c);
    assay__rows_mean(ds->x, ds->ld, ds->d, rc, nc, J->mu);
    size_t q = 0;
    assay_status s = assay__rows_pca(J->ctx, ds->x, ds->ld, ds->d, rc, nc, J->mu, p,
                                     assay__rng_next(&rng), J->v, J->vals, &q);
    if (s == ASSAY_OK && q > 0)
        s = assay__rows_project(J->ctx, ds->x, ds->ld, ds->d, rc, nc, J->mu, J->v, q,
                                J->z + J->start[c] * J->pmax);
    J->cls[c].dims = q;
    return s;
}

/* 2-means, the gap and the row scores of one class (no BLAS; classes side by side). */
static assay_status class_task(void *arg, size_t c, int worker, const size_t *rc, size_t n_rows) {
    (void)worker;
    (void)n_rows;
    cl_job *J = arg;
    cl_class *C = &J->cls[c];
    const size_t n = C->n, p = C->dims;
    if (p == 0) return ASSAY_OK;
    double *z = J->z + J->start[c] * J->pmax;
    size_t mk = n < CL_KM_SAMPLE ? n : CL_KM_SAMPLE, ms = n < J->sample ? n : J->sample;
    size_t *idx = malloc(n * sizeof *idx);
    uint8_t *asg = malloc(n), *aw = malloc(n);
    /* work: t (n), the large cluster's t (n) and scratch (n); k-means needs mk + 6p, whitening
     * p^2, the silhouette 2 ms <= 2n; then the candidate centres */
    size_t wlen = 3 * n + 6 * p + p * p + 1;
    double *work = malloc((wlen + 2 * CL_KM_KEEP * p) * sizeof *work), *cand;
    if (idx == NULL || asg == NULL || aw == NULL || work == NULL) {
        C->failed = 1;
        goto done;
    }
    cand = work + wlen;
    if (!whiten(z, n, p, work)) { /* degenerate directions: no split to test */
        C->dims = 0;
        goto done;
    }
    assay__rng rng = assay__rng_seed(J->seed, 0xC1u + c);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = 0; i < n; i++) { /* a uniform order: its prefixes are the samples */
        size_t j = i + (size_t)assay__rng_below(&rng, n - i), tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
    int nk = kmeans2(z, n, p, idx, mk, J->restarts, &rng, cand, work, aw);
    /* the candidate with the most significant gap (the lowest inertia among equals) */
    int best = 0;
    double best_p = INFINITY;
    for (int k = 0; k < nk; k++) {
        cl_class e = *C;
        eval_split(J, z, n, p, cand + (size_t)k * 2 * p, asg, work, &e);
        if (e.pval < best_p) {
            best_p = e.pval;
            best = k;
        }
    }
    double *t = work, *tl = work + n;
    int sm = nk > 0 ? eval_split(J, z, n, p, cand + (size_t)best * 2 * p, asg, t, C) : -1;
    C->candidates = nk;
    C->pval = fmin(1.0, (double)(nk > 0 ? nk : 1) * C->pval);
    if (sm < 0) {
        C->pval = 1.0;
        for (size_t i = 0; i < n; i++) {
            J->score[rc[i]] = 0.0f;
            J->prow[rc[i]] = 1.0;
        }
        goto done;
    }
    /* rows: robust z of t against the large cluster */
    size_t nl = 0;
    for (size_t i = 0; i < n; i++)
        if (asg[i] != sm) tl[nl++] = t[i];
    double med, mad;
    assay__median_mad(tl, nl, work + 2 * n, &med, &mad);
    if (mad < CL_MIN_SPREAD) mad = CL_MIN_SPREAD; /* a degenerate large cluster: finite scores */
    for (size_t i = 0; i < n; i++) {
        double zr = (t[i] - med) / mad;
        J->score[rc[i]] = (float)zr;
        J->prow[rc[i]] = assay__norm_sf(zr);
        J->small[rc[i]] = asg[i] == sm;
    }
    /* silhouette on the first ms rows of the shuffled order (a uniform sample) */
    C->sil = silhouette(z, p, asg, idx, ms, work + n);
done:
    free(idx);
    free(asg);
    free(aw);
    free(work);
    return C->failed ? ASSAY_E_NOMEM : ASSAY_OK;
}

/* The gap compared across classes (detect/linalg.h: assay__index_across), as SCAn compares its
 * statistic: classes made of natural sub-styles are split by empty gaps alike, while a planted
 * group empties the gap of its own class only. With at least ASSAY__TAIL_MIN_CLASSES classes
 * split, a class's p-value becomes the larger of its gap test and its index. Returns 1 when the
 * index was used; stat holds 2 k doubles. */
static int calibrate_across(cl_class *cls, size_t k, double *stat) {
    const double wg = CL_GAP_HI - CL_GAP_LO, wp = CL_PEAK_HI - CL_PEAK_LO;
    double *p_index = stat + k;
    for (size_t c = 0; c < k; c++) {
        const cl_class *C = &cls[c];
        double ratio = ((C->gap + 0.5) / wg) / ((C->peak + 0.5) / wp);
        stat[c] = C->dims > 0 && C->candidates > 0 ? -log(fmax(ratio, CL_INDEX_FLOOR)) : NAN;
    }
    if (assay__index_across(stat, k, ASSAY__TAIL_MIN_SCALE, NULL, NULL, p_index) <
        ASSAY__TAIL_MIN_CLASSES)
        return 0;
    for (size_t c = 0; c < k; c++)
        if (!isnan(p_index[c])) cls[c].pval = fmax(cls[c].pval, p_index[c]);
    return 1;
}

static assay_status detect_cluster(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    assay__det_out *sum = out;
    float *score = out->score, *ev = out->evidence;
    const size_t d = ds->d, nclass = ds->n_classes;
    const double fdr = assay__param(in->opts, ASSAY__P_FDR);
    size_t pmax = (size_t)assay__param(in->opts, ASSAY__P_CLUSTER_DIMS);
    if (pmax > d) pmax = d;
    sum->rule = "row in the smaller 2-means cluster of its class (whitened principal directions) "
                "whose position along the split is beyond the larger cluster (robust z, "
                "Benjamini-Hochberg at fdr within the class), in a class where an almost empty "
                "gap separates that cluster";
    sum->threshold = assay__param(in->opts, ASSAY__P_CLUSTER_GAP);
    for (size_t r = 0; r < ds->n; r++) {
        score[r] = NAN;
        ev[r] = 0.0f;
    }
    size_t *rows = NULL, *start = NULL;
    ASSAY_TRY(assay__class_rows(ctx, ds, in->graph, &rows, &start));
    cl_job J = {ctx,
                ds,
                rows,
                start,
                NULL,
                NULL,
                NULL,
                NULL,
                NULL,
                pmax,
                (size_t)assay__param(in->opts, ASSAY__P_CLUSTER_SAMPLE),
                (int)assay__param(in->opts, ASSAY__P_CLUSTER_RESTARTS),
                (uint64_t)assay__param(in->opts, ASSAY__P_SEED),
                assay__param(in->opts, ASSAY__P_CLUSTER_MAX_SHARE),
                sum->threshold,
                score,
                NULL,
                NULL};
    assay_status s = ASSAY_OK;
    int32_t *rt = assay__out_row_tests(out);
    int32_t *ctest = malloc((nclass ? nclass : 1) * sizeof *ctest);
    double *mu = malloc((d ? d : 1) * sizeof *mu), *vals = malloc((pmax + 1) * sizeof *vals);
    double *v = malloc((d * pmax + 1) * sizeof *v), *pw = malloc((ds->n ? ds->n : 1) * sizeof *pw);
    J.z = malloc((ds->n * pmax + 1) * sizeof *J.z);
    J.cls = calloc(nclass ? nclass : 1, sizeof *J.cls);
    J.prow = malloc((ds->n ? ds->n : 1) * sizeof *J.prow);
    J.small = calloc(ds->n ? ds->n : 1, 1);
    if (rt == NULL || ctest == NULL || mu == NULL || vals == NULL || v == NULL || pw == NULL ||
        J.z == NULL || J.cls == NULL || J.prow == NULL || J.small == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (cluster)");
        goto done;
    }
    sum->ran = 1;
    J.mu = mu;
    J.vals = vals;
    J.v = v;
    /* Principal directions and projections: BLAS, one class at a time. Then 2-means, the gap
     * and the row scores: independent per class, no BLAS. */
    const assay__per_class pca = {"cluster", 0, 0, pca_task}, split = {"cluster", 1, 0, class_task};
    if ((s = assay__per_class_run(in, rows, start, &pca, &J)) != ASSAY_OK ||
        (s = assay__per_class_run(in, rows, start, &split, &J)) != ASSAY_OK)
        goto done;
    /* Tests, evidence and findings. */
    double *stat = malloc((2 * nclass + 1) * sizeof *stat);
    if (stat == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (cluster)");
        goto done;
    }
    const int across = calibrate_across(J.cls, nclass, stat);
    free(stat);
    size_t tested = 0, separated = 0, flagged = 0;
    double min_ratio = INFINITY;
    for (size_t c = 0; c < nclass && s == ASSAY_OK; c++) {
        const cl_class *C = &J.cls[c];
        const size_t *rc = rows + start[c], nc = C->n;
        ctest[c] = -1;
        if (C->dims == 0 || isnan(score[rc[0]])) continue;
        tested++;
        min_ratio = fmin(min_ratio, C->gap_ratio);
        separated += C->pval <= fdr;
        assay__test t = {
            .det = ASSAY_DET_CLUSTER,
            .cls = (int32_t)c,
            .stat_name = "gap_density_ratio",
            .stat = C->gap_ratio,
            .p = C->pval,
            .null = across ? "binomial: rows in the gap between the 2-means centres against "
                             "rows at the smaller cluster's centre, H0 gap density >= cluster-gap "
                             "x that density, Bonferroni over the 2-means candidates (p = 1 when "
                             "the smaller cluster holds more than cluster-max-share of the "
                             "class); and the robust z of the class's -log gap density ratio "
                             "across the other classes (normal tail): the larger p"
                           : "binomial (fewer than 4 classes split: no index across classes): "
                             "rows in the gap between the 2-means centres against rows at the "
                             "smaller cluster's centre, H0 gap density >= cluster-gap x that "
                             "density, Bonferroni over the 2-means candidates; p = 1 when the "
                             "smaller cluster holds more than cluster-max-share of the class",
            .q = NAN};
        int w = snprintf(t.detail, sizeof t.detail,
                         "smaller 2-means cluster %zu rows (%.1f%%); %.0f rows in the gap, %.0f at "
                         "its centre (density ratio %.3f); silhouette %.2f; best of %d splits in "
                         "%zu whitened dims",
                         C->n_small, 100.0 * C->share, C->gap, C->peak, C->gap_ratio, C->sil,
                         C->candidates, C->dims);
        (void)w; /* a long detail is cut, by design */
        s = assay__out_test(out, &t, &ctest[c]);
        if (s != ASSAY_OK) break;
        for (size_t i = 0; i < nc; i++) pw[i] = J.prow[rc[i]];
        double cutoff = assay__bh_cutoff(pw, nc, fdr, J.z); /* z is free now */
        for (size_t i = 0; i < nc && s == ASSAY_OK; i++) {
            size_t r = rc[i];
            float e = assay__evidence_from_p(J.prow[r], cutoff);
            rt[r] = ctest[c];
            sum->rows_scored++;
            if (!J.small[r] || J.prow[r] > cutoff) { /* the large cluster is the class */
                ev[r] = e < 0.5f ? e : nextafterf(0.5f, 0.0f);
                continue;
            }
            ev[r] = e;
            if (C->pval > fdr) continue; /* its test cannot be significant: combine drops it */
            assay__finding f = {r,        ASSAY_DET_CLUSTER, ASSAY_SEV_HIGH,
                                0,        score[r],          (double)C->n_small,
                                C->share, C->gap_ratio,      -1,
                                ctest[c]};
            flagged++;
            s = assay__out_finding(out, &f);
        }
    }
    sum->stat_name[0] = "classes_tested";
    sum->stat[0] = (double)tested;
    sum->stat_name[1] = "classes_with_gap";
    sum->stat[1] = (double)separated;
    sum->stat_name[2] = "min_gap_density_ratio";
    sum->stat[2] = isfinite(min_ratio) ? min_ratio : NAN;
    sum->stat_name[3] = "rows_in_gapped_clusters";
    sum->stat[3] = (double)flagged;
done:
    free(rows);
    free(start);
    free(ctest);
    free(mu);
    free(vals);
    free(v);
    free(pw);
    free(J.z);
    free(J.cls);
    free(J.prow);
    free(J.small);
    return s;
}

static void explain_cluster(const assay__det_input *in, const assay__det_out *out,
                            const assay__finding *f, char *buf, size_t len) {
    const assay_dataset *ds = in->ds;
    const char *cls = ds->y[f->row] >= 0 ? ds->class_name[ds->y[f->row]] : "?";
    const assay__test *t = f->test >= 0 ? &out->tests[f->test] : NULL;
    snprintf(buf, len,
             "it belongs to a cluster of %.0f rows (%.1f%% of class %s) that an almost empty gap "
             "separates from the rest of the class (gap density %.1f%% of the cluster's peak; the "
             "row sits %.1f robust sd beyond the rest along the split): the signature of a "
             "backdoor trigger shared by injected rows%s%s",
             f->a, 100.0 * f->b, cls, 100.0 * f->c, (double)f->score, t ? "; " : "",
             t ? t->detail : "");
}

static const char *const k_reasons[] = {"separated_small_cluster", NULL};
static const assay__ev_field k_fields[] =
    ASSAY__EV_ABC("rows in the smaller cluster", "its share of the class",
                  "gap density over the cluster's peak density", "unused (-1)");

const assay__detector_desc assay__detector_cluster = {
    .kind = ASSAY__KIND_BACKDOOR,
    .severity = ASSAY_SEV_HIGH,
    .family = "class subspace",
    .on_clean = "As spectral (same family): a class split by an empty gap that the other classes "
                "do not show can fire it (with 4 or more classes; when many classes split alike "
                "none fires); raise --cluster-max-share or accept the rows.",
    .inputs = "features and labels (per class)",
    .run = detect_cluster,
    .explain = explain_cluster,
    .reasons = k_reasons,
    .fields = k_fields,
};

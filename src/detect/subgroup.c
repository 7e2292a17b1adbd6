/* SPDX-License-Identifier: Apache-2.0 */
/* subgroup: SCAn (Tang, Wang, Tang, Zhang, USENIX Security 2021), from features and labels.
 *
 * A global model first: every row is its class's identity plus a variation, r = mu_c + e, with
 * mu_c ~ N(0, S_b) across classes and e ~ N(0, S_w) shared by all classes. Both covariances are
 * fitted by EM over the whole dataset (or over the trusted rows when the scan has them), in the
 * top subgroup-dims principal directions of the data. Whitening by S_w puts every class in the
 * same units: a natural class varies about as much as the pooled within-class variation.
 *
 * Then each class is untangled into two subgroups sharing S_w (hard EM on the two means and the
 * mixing share, started from the tails of the class's top directions and from a balanced split).
 * A backdoor's rows are one subgroup: the trigger moves them together, far from the clean rows of
 * their label. The class statistic is the separation of the most separated split, D (the
 * Mahalanobis distance between the two subgroup means, less its small-group bias), and the class
 * test is SCAn's robust anomaly index of log D across the classes (median and 1.4826 MAD of the
 * other classes, a scale floor), with an effect size: D at least subgroup-ratio x the other
 * classes' median. A group that neither lies far out nor neighbours other labels is a natural
 * sub-style (detect/linalg.h): the test warns and flags nothing. Rows are scored by their log
 * odds of belonging to the smaller subgroup. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "detect/detector.h"
#include "detect/linalg.h"
#include "detect/params.h"
#include "detect/per_class.h"

#define SG_EM_ITERS 50 /* EM steps of the global model at most */
/* ... until S_w and S_b move by less than this (relative): directions where the classes' means
 * hardly differ converge linearly and slowly, and a change of 1e-5 moves no whitened row. */
#define SG_EM_TOL 1e-5
#define SG_RIDGE  1e-6 /* S_w += this x its mean variance: dead features stay invertible */
/* Whitening adds this x the mean within-class variance to every direction: a feature that is
 * almost dead (a ReLU unit a few dozen rows of a class switch on) otherwise becomes hundreds of
 * whitened SDs, and its rows a "subgroup" far beyond any backdoor's. */
#ifndef SG_FLOOR
#define SG_FLOOR 0.01
#endif
#define SG_DIRS       4   /* top class directions whose tails seed a split */
#define SG_SEED_Z     3.0 /* a seed group: rows beyond this many robust SDs on one side */
#define SG_SPLIT_ITER 30  /* hard-EM steps per split at most */
/* Posterior odds of the larger subgroup below this flag a row (the smaller one is 99% likely). */
#define SG_ROW_CUT 0.01
/* The index's scale floor on log D: natural classes of a dataset differ by a few percent. */
#define SG_MIN_SCALE 0.1
/* The smaller subgroup holds at least this share of its class (and subgroup-min-rows): a dozen
 * natural outliers of a 6,000-row class that happen to lie together are not a group (a 0.3%
 * poison rate puts about 3% of a class of a 10-class dataset in its group). */
#define SG_MIN_SHARE 0.005
/* A class needs this many rows per whitened dimension before it is split. */
#define SG_ROWS_PER_DIM 2

typedef struct sg_class {
    int tested; /* a split with a group of at least min_group rows was found */
    size_t n, group;
    double sep;      /* D, bias-corrected (0 when the bias exceeds it) */
    double share;    /* of the smaller subgroup */
    double median_z; /* the group's median robust z along the split, against the larger one */
    assay__tail_test t;
    assay__tail_group shape;
} sg_class;

typedef struct sg_job {
    const assay_dataset *ds;
    const assay__graph *graph;
    const size_t *rows, *start;
    const double *w; /* whitened rows, in the order of rows (r per row) */
    size_t r, min_group;
    double *llr; /* per position in rows: log odds of the smaller subgroup */
    sg_class *cls;
} sg_job;

/* ---- the global model ---- */

/* In place: a (r x r, column-major) <- L^-1 a L^-T for the lower Cholesky factor l. */
static void whiten_sym(const double *l, double *a, size_t r) {
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)r, (int)r,
                1.0, l, (int)r, a, (int)r);
    cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)r, (int)r,
                1.0, l, (int)r, a, (int)r);
}

static double rel_change(const double *a, const double *b, size_t m) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < m; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0.0 ? sqrt(num / den) : 0.0;
}

/* EM for S_w (sw) and S_b (sb), r x r column-major, from the classes' sizes cnt[k], means
 * mean[k * r] and scatter matrices about their means scat[k * r * r] (rows centred on the global
 * mean, the prior's mean). E-step: class c's identity has posterior covariance
 * P_c = (S_b^-1 + n_c S_w^-1)^-1 = T diag(l / (1 + n_c l)) T^T and mean m_c = P_c S_w^-1 n_c
 * xbar_c, with S_w = L L^T, L^-1 S_b L^-T = U diag(l) U^T and T = L U. M-step: S_b = mean over
 * classes of m_c m_c^T + P_c; S_w = sum over classes of (scatter + n_c (xbar_c - m_c)(...)^T + n_c
 * P_c) / N. Returns the steps taken, 0 on a LAPACK failure or when out of memory. */
static size_t em_global(const size_t *cnt, const double *mean, const double *scat, size_t k,
                        size_t r, double *sw, double *sb) {
    const size_t rr = r * r;
    double *l = malloc(rr * sizeof *l), *u = malloc(rr * sizeof *u), *t = malloc(rr * sizeof *t);
    double *lam = malloc(r * sizeof *lam), *g = malloc(r * sizeof *g), *v = malloc(r * sizeof *v);
    double *m = malloc(r * sizeof *m), *p = malloc(rr * sizeof *p), *tg = malloc(rr * sizeof *tg);
    double *nw = malloc(rr * sizeof *nw), *nb = malloc(rr * sizeof *nb);
    size_t it = 0, used = 0, total = 0;
    if (!l || !u || !t || !lam || !g || !v || !m || !p || !tg || !nw || !nb) goto done;
    for (size_t c = 0; c < k; c++)
        if (cnt[c] > 0) {
            used++;
            total += cnt[c];
        }
    for (it = 1; it <= SG_EM_ITERS; it++) {
        memcpy(l, sw, rr * sizeof *l);
        if (assay__cholesky(NULL, l, r) != ASSAY_OK) {
            it = 0;
            break;
        }
        memcpy(u, sb, rr * sizeof *u);
        whiten_sym(l, u, r);
        if (assay__sym_eig_top(NULL, u, r, r, lam, t) != ASSAY_OK) {
            it = 0;
            break;
        }
        memcpy(u, t, rr * sizeof *u); /* U */
        cblas_dtrmm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)r,
                    (int)r, 1.0, l, (int)r, t, (int)r); /* T = L U */
        memset(nw, 0, rr * sizeof *nw);
        memset(nb, 0, rr * sizeof *nb);
        for (size_t c = 0; c < k; c++) {
            if (cnt[c] == 0) continue;
            const double n = (double)cnt[c];
            const double *xb = mean + c * r;
            for (size_t j = 0; j < r; j++) {
                const double lj = lam[j] > 0.0 ? lam[j] : 0.0;
                g[j] = lj / (1.0 + n * lj);
            }
            /* m_c = T diag(g) U^T L^-1 (n xbar) */
            for (size_t j = 0; j < r; j++) v[j] = n * xb[j];
            cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)r, l, (int)r, v,
                        1);
            cblas_dgemv(CblasColMajor, CblasTrans, (int)r, (int)r, 1.0, u, (int)r, v, 1, 0.0, m, 1);
            for (size_t j = 0; j < r; j++) m[j] *= g[j];
            cblas_dgemv(CblasColMajor, CblasNoTrans, (int)r, (int)r, 1.0, t, (int)r, m, 1, 0.0, v,
                        1);
            /* P_c = T diag(g) T^T */
            for (size_t j = 0; j < r; j++)
                for (size_t i = 0; i < r; i++) tg[j * r + i] = t[j * r + i] * g[j];
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)r, (int)r, (int)r, 1.0, tg,
                        (int)r, t, (int)r, 0.0, p, (int)r);
            for (size_t j = 0; j < r; j++)
                for (size_t i = 0; i < r; i++) {
                    const double dij = (xb[i] - v[i]) * (xb[j] - v[j]);
                    nw[j * r + i] += scat[c * rr + j * r + i] + n * dij + n * p[j * r + i];
                    nb[j * r + i] += v[i] * v[j] + p[j * r + i];
                }
        }
        for (size_t i = 0; i < rr; i++) {
            nw[i] /= (double)total;
            nb[i] /= (double)used;
        }
        const double dw = rel_change(nw, sw, rr), db = rel_change(nb, sb, rr);
        memcpy(sw, nw, rr * sizeof *sw);
        memcpy(sb, nb, rr * sizeof *sb);
        if (dw < SG_EM_TOL && db < SG_EM_TOL) break;
    }
    if (it > SG_EM_ITERS) it = SG_EM_ITERS;
done:
    free(l);
    free(u);
    free(t);
    free(lam);
    free(g);
    free(v);
    free(m);
    free(p);
    free(tg);
    free(nw);
    free(nb);
    return it;
}

/* ---- the two-subgroup decomposition of one class ---- */

/* Hard EM for two subgroups with identity covariance (the rows are whitened) from the start
 * assignment in asg (1 = group), with the mixing share as a prior when `prior` (SCAn's model),
 * else plain 2-means (a split of a unimodal class into halves, which hard EM with the prior
 * collapses into one group). score holds n + r doubles. Returns the group's size. */
static size_t refine_split(const double *w, size_t n, size_t r, int prior, uint8_t *asg, double *m1,
                           double *m0, double *score) {
    size_t n1 = 0;
    for (int it = 0; it < SG_SPLIT_ITER; it++) {
        memset(m1, 0, r * sizeof *m1);
        memset(m0, 0, r * sizeof *m0);
        n1 = 0;
        for (size_t i = 0; i < n; i++) {
            double *m = asg[i] ? m1 : m0;
            n1 += asg[i];
            for (size_t j = 0; j < r; j++) m[j] += w[i * r + j];
        }
        if (n1 < 2 || n - n1 < 2) return n1;
        double h1 = 0.0, h0 = 0.0;
        for (size_t j = 0; j < r; j++) {
            m1[j] /= (double)n1;
            m0[j] /= (double)(n - n1);
            h1 += m1[j] * m1[j];
            h0 += m0[j] * m0[j];
        }
        /* row i joins the group when log(n1/n0) + w.(m1 - m0) - (|m1|^2 - |m0|^2)/2 > 0; the
         * products by one dgemv (a dot per row in order was a chain of dependent additions:
         * two thirds of the detector's time) */
        const double bias = (prior ? log((double)n1 / (double)(n - n1)) : 0.0) - 0.5 * (h1 - h0);
        double *dm = score + n;
        for (size_t j = 0; j < r; j++) dm[j] = m1[j] - m0[j];
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)r, 1.0, w, (int)r, dm, 1, 0.0, score,
                    1);
        size_t changed = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t a = bias + score[i] > 0.0;
            changed += a != asg[i];
            asg[i] = a;
        }
        if (changed == 0) break;
    }
    n1 = 0;
    for (size_t i = 0; i < n; i++) n1 += asg[i];
    return n1;
}

static assay_status subgroup_class(void *arg, size_t c, int worker, const size_t *rows, size_t n) {
    (void)worker;
    sg_job *job = arg;
    sg_class *out = &job->cls[c];
    const size_t r = job->r;
    out->n = n;
    size_t min_group = (size_t)ceil(SG_MIN_SHARE * (double)n);
    if (min_group < job->min_group) min_group = job->min_group;
    if (n < SG_ROWS_PER_DIM * r + 2 * min_group) return ASSAY_OK;
    const double *wc = job->w + job->start[c] * r;
    double *w = malloc(n * r * sizeof *w), *cov = malloc(r * r * sizeof *cov);
    double *vals = malloc(SG_DIRS * sizeof *vals), *vecs = malloc(r * SG_DIRS * sizeof *vecs);
    double *t = malloc(n * sizeof *t), *work = malloc(2 * n * sizeof *work);
    double *m1 = malloc(r * sizeof *m1), *m0 = malloc(r * sizeof *m0);
    double *b1 = malloc(r * sizeof *b1), *b0 = malloc(r * sizeof *b0);
    uint8_t *asg = malloc(n), *best = malloc(n);
    assay_status s = ASSAY_OK;
    if (!w || !cov || !vals || !vecs || !t || !work || !m1 || !m0 || !b1 || !b0 || !asg || !best) {
        s = ASSAY_E_NOMEM;
        goto done;
    }
    /* centred on the class mean */
    memset(m0, 0, r * sizeof *m0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < r; j++) m0[j] += wc[i * r + j];
    for (size_t j = 0; j < r; j++) m0[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < r; j++) w[i * r + j] = wc[i * r + j] - m0[j];
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)r, (int)n, 1.0 / (double)n, w, (int)r,
                0.0, cov, (int)r);
    const size_t dirs = r < SG_DIRS ? r : SG_DIRS;
    if ((s = assay__sym_eig_top(NULL, cov, r, dirs, vals, vecs)) != ASSAY_OK) goto done;

    double best_sep2 = -INFINITY;
    size_t best_n1 = 0;
    for (size_t dir = 0; dir < dirs; dir++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)r, 1.0, w, (int)r, vecs + dir * r, 1,
                    0.0, t, 1);
        double med = 0.0, mad = 0.0;
        memcpy(work, t, n * sizeof *t);
        assay__median_mad(work, n, work + n, &med, &mad);
        for (int start = 0; start < 3; start++) {
            /* the tail on each side, and (top direction only) the halves */
            if (start == 2 && dir > 0) break;
            for (size_t i = 0; i < n; i++) {
                const double z = mad > 0.0 ? (t[i] - med) / mad : 0.0;
                asg[i] = start == 0 ? z > SG_SEED_Z : start == 1 ? z < -SG_SEED_Z : t[i] > med;
            }
            size_t n1 = refine_split(w, n, r, start < 2, asg, m1, m0, work);
            if (n1 > n / 2) { /* the group is the smaller subgroup */
                for (size_t i = 0; i < n; i++) asg[i] = !asg[i];
                double *x = m1;
                m1 = m0;
                m0 = x;
                n1 = n - n1;
            }
            if (n1 < min_group) continue;
            double d2 = 0.0;
            for (size_t j = 0; j < r; j++) d2 += (m1[j] - m0[j]) * (m1[j] - m0[j]);
            /* E|mean1 - mean0|^2 of a random split of whitened rows is r (1/n1 + 1/n0) */
            d2 -= (double)r * (1.0 / (double)n1 + 1.0 / (double)(n - n1));
            if (d2 > best_sep2) {
                best_sep2 = d2;
                best_n1 = n1;
                memcpy(best, asg, n);
                memcpy(b1, m1, r * sizeof *m1);
                memcpy(b0, m0, r * sizeof *m0);
            }
        }
    }
    if (best_n1 == 0) goto done;
    out->tested = 1;
    out->group = best_n1;
    out->share = (double)best_n1 / (double)n;
    out->sep = best_sep2 > 0.0 ? sqrt(best_sep2) : 0.0;
    /* Row scores: log odds of the group; the projection on the split for its shape. */
    double h1 = 0.0, h0 = 0.0, dn = 0.0;
    for (size_t j = 0; j < r; j++) {
        h1 += b1[j] * b1[j];
        h0 += b0[j] * b0[j];
        dn += (b1[j] - b0[j]) * (b1[j] - b0[j]);
    }
    dn = sqrt(dn);
    const double bias = log((double)best_n1 / (double)(n - best_n1)) - 0.5 * (h1 - h0);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double s1 = 0.0;
        for (size_t j = 0; j < r; j++) s1 += w[i * r + j] * (b1[j] - b0[j]);
        job->llr[job->start[c] + i] = bias + s1;
        t[i] = dn > 0.0 ? s1 / dn : 0.0;
        if (!best[i]) work[m++] = t[i];
    }
    /* The group's shape as the class-subspace detectors judge it: a tail along the split,
     * measured against the larger subgroup. */
    double med = 0.0, mad = 0.0;
    assay__median_mad(work, m, work + n, &med, &mad);
    out->t.side = 1;
    out->t.med = med;
    out->t.mad = mad > 0.0 ? mad : 1e-12;
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (best[i]) work[m++] = assay__tail_z(&out->t, t[i]);
    out->median_z = assay__median(work, m);
    for (size_t i = 0; i < n; i++) out->t.count += assay__tail_z(&out->t, t[i]) > ASSAY__TAIL_Z;
    assay__tail_group_shape(&out->t, t, 1, rows, n, job->graph, job->ds->y, work, &out->shape);
done:
    free(w);
    free(cov);
    free(vals);
    free(vecs);
    free(t);
    free(work);
    free(m1);
    free(m0);
    free(b1);
    free(b0);
    free(asg);
    free(best);
    return s;
}

/* ---- the detector ---- */

/* Adds row zr (r values) to class c's count, sum (mean) and lower sum of products (scat). */
static void accumulate(const double *zr, size_t r, size_t c, size_t *cnt, double *mean,
                       double *scat) {
    double *mc = mean + c * r, *sc = scat + c * r * r;
    cnt[c]++;
    for (size_t a = 0; a < r; a++) {
        mc[a] += zr[a];
        for (size_t b = 0; b <= a; b++) sc[b * r + a] += zr[a] * zr[b];
    }
}

/* The global model's rows: the trusted ones when the scan has enough of them, else all. */
static int model_row(const assay__det_input *in, size_t r, int use_trusted) {
    return !use_trusted || (in->trusted != NULL && in->trusted->row != NULL && in->trusted->row[r]);
}

static assay_status detect_subgroup(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    const double ratio = assay__param(in->opts, ASSAY__P_SUBGROUP_RATIO);
    out->rule = "in a class whose subgroup test is significant: rows at least 99% likely to belong "
                "to the class's smaller subgroup";
    out->threshold = SG_ROW_CUT;
    if (ds->n_classes < ASSAY__TAIL_MIN_CLASSES || ds->d == 0) {
        out->note =
            ds->d == 0 ? "no features" : "fewer than 4 classes: no index across classes (not run)";
        return ASSAY_OK;
    }
    size_t *rows = NULL, *start = NULL;
    ASSAY_TRY(assay__class_rows(ctx, ds, in->graph, &rows, &start));
    const size_t nc = ds->n_classes, d = ds->d, used = start[nc];
    size_t r = (size_t)assay__param(in->opts, ASSAY__P_SUBGROUP_DIMS);
    if (r > d) r = d;
    if (used > 1 && r > used - 1) r = used - 1;
    assay_status s = ASSAY_OK;
    double *mu = calloc(d, sizeof *mu), *basis = NULL, *z = NULL, *vals = NULL;
    double *sw = NULL, *sb = NULL, *mean = NULL, *scat = NULL, *stat = NULL, *pidx = NULL;
    double *med = NULL, *p = NULL, *work = NULL, *llr = NULL, *zx = NULL;
    size_t *cnt = NULL, *extra = NULL;
    sg_class *cls = calloc(nc, sizeof *cls);
    int32_t *row_test = assay__out_row_tests(out);
    if (mu == NULL || cls == NULL || row_test == NULL || used < 2 || r == 0) {
        s = used < 2 || r == 0 ? ASSAY_OK
                               : assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (subgroup)");
        if (s == ASSAY_OK) out->note = "too few rows";
        goto done;
    }
    /* 1. The top r principal directions of the labelled rows (all of them when d <= r). */
    assay__rows_mean(ds->x, ds->ld, d, rows, used, mu);
    basis = calloc(d * r, sizeof *basis);
    vals = malloc(r * sizeof *vals);
    z = malloc(used * r * sizeof *z);
    if (basis == NULL || vals == NULL || z == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (subgroup)");
        goto done;
    }
    if (r < d) {
        size_t got = 0;
        s = assay__rows_pca(ctx, ds->x, ds->ld, d, rows, used, mu, r,
                            (uint64_t)assay__param(in->opts, ASSAY__P_SEED), basis, vals, &got);
        if (s != ASSAY_OK) goto done;
        r = got;
    } else {
        for (size_t j = 0; j < d; j++) basis[j * d + j] = 1.0;
    }
    if ((s = assay__rows_project(ctx, ds->x, ds->ld, d, rows, used, mu, basis, r, z)) != ASSAY_OK)
        goto done;

    /* 2. The global model by EM, over the trusted rows when there are enough of them. */
    const size_t rr = r * r;
    cnt = calloc(nc, sizeof *cnt);
    mean = calloc(nc * r, sizeof *mean);
    scat = calloc(nc * rr, sizeof *scat);
    sw = calloc(rr, sizeof *sw);
    sb = calloc(rr, sizeof *sb);
    if (!cnt || !mean || !scat || !sw || !sb) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (subgroup)");
        goto done;
    }
    /* The trusted rows: listed ids of the data, and the rows of a separate clean dataset,
     * projected like the data. */
    const assay__trusted *tr = in->trusted;
    size_t n_trusted = 0, n_extra = 0;
    if (tr != NULL && tr->row != NULL)
        for (size_t i = 0; i < used; i++) n_trusted += tr->row[rows[i]] != 0;
    if (tr != NULL && tr->data != NULL) {
        extra = malloc((tr->data->n ? tr->data->n : 1) * sizeof *extra);
        if (extra == NULL) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (subgroup)");
            goto done;
        }
        for (size_t i = 0; i < tr->data->n; i++)
            if (tr->data_class[i] >= 0) extra[n_extra++] = i;
        zx = malloc((n_extra ? n_extra : 1) * r * sizeof *zx);
        if (zx == NULL) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (subgroup)");
            goto done;
        }
        s = assay__rows_project(ctx, tr->data->x, tr->data->ld, d, extra, n_extra, mu, basis, r,
                                zx);
        if (s != ASSAY_OK) goto done;
        n_trusted += n_extra;
    }
    const int use_trusted = n_trusted >= 2 * r + 2 * nc;
    /* per class: the row count, sum and sum of products of the model's rows */
    for (size_t c = 0; c < nc; c++)
        for (size_t i = start[c]; i < start[c + 1]; i++)
            if (model_row(in, rows[i], use_trusted)) accumulate(z + i * r, r, c, cnt, mean, scat);
    for (size_t i = 0; use_trusted && i < n_extra; i++)
        accumulate(zx + i * r, r, (size_t)tr->data_class[extra[i]], cnt, mean, scat);
    for (size_t c = 0; c < nc; c++) {
        if (cnt[c] == 0) continue;
        double *mc = mean + c * r, *sc = scat + c * rr;
        for (size_t j = 0; j < r; j++) mc[j] /= (double)cnt[c];
        for (size_t a = 0; a < r; a++)
            for (size_t b = 0; b <= a; b++) {
                sc[b * r + a] -= (double)cnt[c] * mc[a] * mc[b];
                sc[a * r + b] = sc[b * r + a];
            }
    }
    /* Start: the pooled within-class scatter and the scatter of the class means. */
    size_t total = 0, with_rows = 0;
    for (size_t c = 0; c < nc; c++) {
        if (cnt[c] == 0) continue;
        total += cnt[c];
        with_rows++;
        for (size_t i = 0; i < rr; i++) sw[i] += scat[c * rr + i];
        for (size_t a = 0; a < r; a++)
            for (size_t b = 0; b < r; b++) sb[b * r + a] += mean[c * r + a] * mean[c * r + b];
    }
    double trace = 0.0;
    for (size_t i = 0; i < rr; i++) {
        sw[i] /= (double)total;
        sb[i] /= (double)with_rows;
    }
    for (size_t j = 0; j < r; j++) trace += sw[j * r + j];
    for (size_t j = 0; j < r; j++) {
        sw[j * r + j] += SG_RIDGE * trace / (double)r + 1e-300;
        sb[j * r + j] += SG_RIDGE * trace / (double)r + 1e-300;
    }
    const size_t em_steps = em_global(cnt, mean, scat, nc, r, sw, sb);
    if (em_steps == 0) {
        out->note = "the global model could not be fitted (a singular covariance): not run";
        goto done;
    }
    trace = 0.0;
    for (size_t j = 0; j < r; j++) trace += sw[j * r + j];
    for (size_t j = 0; j < r; j++) sw[j * r + j] += SG_FLOOR * trace / (double)r;
    if ((s = assay__cholesky(ctx, sw, r)) != ASSAY_OK) goto done;
    /* whitened rows: z <- z L^-T (row-major, where the column-major L reads as L^T, upper) */
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, (int)used,
                (int)r, 1.0, sw, (int)r, z, (int)r);

    /* 3. Each class untangled into two subgroups. */
    llr = malloc(used * sizeof *llr);
    if (llr == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (subgroup)");
        goto done;
    }
    const size_t min_group = (size_t)assay__param(in->opts, ASSAY__P_SUBGROUP_MIN_ROWS);
    sg_job job = {ds, in->graph, rows, start, z, r, min_group, llr, cls};
    const assay__per_class pc = {"subgroup", 1, 0, subgroup_class};
    if ((s = assay__per_class_run(in, rows, start, &pc, &job)) != ASSAY_OK) goto done;
    out->ran = 1;

    /* 4. The index across classes of log D, and the effect size. */
    stat = malloc(nc * sizeof *stat);
    pidx = malloc(nc * sizeof *pidx);
    med = malloc(nc * sizeof *med);
    p = malloc((used ? used : 1) * sizeof *p);
    work = malloc((used ? used : 1) * sizeof *work);
    if (!stat || !pidx || !med || !p || !work) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (subgroup)");
        goto done;
    }
    for (size_t c = 0; c < nc; c++)
        stat[c] = cls[c].tested && cls[c].sep > 0.0 ? log(cls[c].sep) : NAN;
    const size_t indexed = assay__index_across(stat, nc, SG_MIN_SCALE, med, NULL, pidx);
    size_t tested = 0;
    double max_ratio = 0.0, min_p = 1.0;
    for (size_t c = 0; c < nc && s == ASSAY_OK; c++) {
        sg_class *k = &cls[c];
        if (isnan(stat[c]) || indexed < ASSAY__TAIL_MIN_CLASSES) continue;
        tested++;
        const double rel = exp(stat[c] - med[c]);
        if (rel > max_ratio) max_ratio = rel;
        assay__test t = {0};
        t.det = ASSAY_DET_SUBGROUP;
        t.cls = (int32_t)c;
        t.stat_name = "separation_ratio";
        t.stat = rel;
        t.p = rel >= ratio ? pidx[c] : 1.0;
        t.null = "robust z of the class's log subgroup separation across the other classes "
                 "(median, 1.4826 MAD, scale at least 0.1; normal tail), when the separation is "
                 "at least subgroup-ratio x the other classes' median (else 1)";
        snprintf(t.detail, sizeof t.detail,
                 "a subgroup of %zu of %zu rows (%.1f%%) lies %.1f whitened SDs from the rest of "
                 "the class, %.2f x the other classes' separation (median robust z %.1f)",
                 k->group, k->n, 100.0 * k->share, k->sep, rel, k->median_z);
        if (t.p < min_p) min_p = t.p;
        const int substyle = assay__tail_group_judge(&k->shape, k->n, "split", &t);
        int32_t ti = -1;
        if ((s = assay__out_test(out, &t, &ti)) != ASSAY_OK) break;
        const size_t *cr = rows + start[c];
        const double *lc = llr + start[c];
        for (size_t i = 0; i < k->n; i++) p[i] = 1.0 / (1.0 + exp(lc[i]));
        for (size_t i = 0; i < k->n && s == ASSAY_OK; i++) {
            const size_t row = cr[i];
            out->score[row] = (float)lc[i];
            out->rows_scored++;
            row_test[row] = ti;
            if (t.p >= 1.0) continue; /* within the natural range: no evidence */
            out->evidence[row] = assay__evidence_from_p(p[i], SG_ROW_CUT);
            if (substyle) out->evidence[row] *= ASSAY__OBSERVATION_SCALE;
            if (p[i] > SG_ROW_CUT || substyle) continue;
            assay__finding f = {row,
                                ASSAY_DET_SUBGROUP,
                                ASSAY_SEV_HIGH,
                                0,
                                out->score[row],
                                lc[i],
                                k->sep,
                                rel,
                                (int64_t)k->group,
                                ti};
            s = assay__out_finding(out, &f);
        }
    }
    out->stat_name[0] = "classes_tested";
    out->stat[0] = (double)tested;
    out->stat_name[1] = "max_separation_ratio";
    out->stat[1] = max_ratio;
    out->stat_name[2] = "min_class_p";
    out->stat[2] = min_p;
    out->stat_name[3] = "em_steps";
    out->stat[3] = (double)em_steps;
    out->stat_name[4] = "dims";
    out->stat[4] = (double)r;
    out->stat_name[5] = "model_rows";
    out->stat[5] = (double)total;
    if (use_trusted)
        snprintf(out->note_text, sizeof out->note_text,
                 "global model fitted on %zu trusted rows (%zu of them from --trusted-data)", total,
                 n_extra);
    else if (tr != NULL)
        snprintf(out->note_text, sizeof out->note_text,
                 "%zu trusted rows: fewer than 2 x dims + 2 x classes, the model uses all rows",
                 n_trusted);
    if (tr != NULL) out->note = out->note_text;
done:
    free(rows);
    free(start);
    free(mu);
    free(basis);
    free(vals);
    free(z);
    free(cnt);
    free(mean);
    free(scat);
    free(sw);
    free(sb);
    free(cls);
    free(stat);
    free(pidx);
    free(med);
    free(p);
    free(work);
    free(llr);
    free(zx);
    free(extra);
    return s;
}

static void explain_subgroup(const assay__det_input *in, const assay__det_out *out,
                             const assay__finding *f, char *buf, size_t len) {
    const assay_dataset *ds = in->ds;
    int32_t c = ds->y[f->row];
    const char *name = c >= 0 && (size_t)c < ds->n_classes ? ds->class_name[c] : "?";
    char verdict[64];
    snprintf(buf, len,
             "in class '%s', this row belongs to a subgroup of %lld rows (log odds %.1f) that lies "
             "%.1f whitened SDs from the rest of the class, %.2f x the separation of the other "
             "classes' subgroups; the class's subgroup test is %s",
             name, (long long)f->ref, f->a, f->b, f->c,
             assay__finding_test_verdict(out, f, verdict, sizeof verdict));
}

static const char *const k_reasons[] = {"separated_subgroup", NULL};
static const assay__ev_field k_fields[] = {
    {"log_odds", ASSAY__EV_NUMBER, ASSAY__FROM_A,
     "the row's log odds of belonging to the smaller subgroup"},
    {"separation", ASSAY__EV_NUMBER, ASSAY__FROM_B,
     "distance between the two subgroups' means in whitened SDs (bias-corrected)"},
    {"separation_ratio", ASSAY__EV_NUMBER, ASSAY__FROM_C,
     "that distance over the median of the other classes'"},
    {"group_rows", ASSAY__EV_INTEGER, ASSAY__FROM_REF, "rows of the smaller subgroup"},
    {NULL, 0, 0, NULL}};

const assay__detector_desc assay__detector_subgroup = {
    .kind = ASSAY__KIND_BACKDOOR,
    .severity = ASSAY_SEV_HIGH,
    .family = "class subspace",
    .warns = "a sub-style (the subgroup neighbours rows of its own label and lies less than 8 "
             "robust SDs out: flags no row)",
    .on_clean = "A class made of two natural styles separates more than the others: if its rows "
                "are a real style, accept them or raise --subgroup-ratio above the ratio the "
                "test reports. With --trusted-ids or --trusted-data the global model is fitted on "
                "rows you trust.",
    .inputs = "features and labels (per class; at least 4 classes)",
    .run = detect_subgroup,
    .explain = explain_subgroup,
    .reasons = k_reasons,
    .fields = k_fields,
};

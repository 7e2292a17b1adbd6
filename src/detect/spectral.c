/* SPDX-License-Identifier: Apache-2.0 */
/* spectral: spectral signatures (Tran, Li, Madry, NeurIPS 2018). Per class, the rows are centred
 * and their top right singular directions found by block power iteration (on the class's
 * covariance, shared with spectre: detect/class_cov.h); a backdoor's rows sit
 * far out on one side of one of them. The row score is the paper's tau = ((R_i - mean) . v)^2.
 * (The evidence fields of its findings are named in the descriptor at the end.) */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/class_cov.h"
#include "detect/linalg.h"
#include "core/stats.h"
#include "detect/params.h"
#include "detect/per_class.h"
#include "detect/detector.h"

/* Extra vectors in the power block: direction j converges like (lambda_{m+p+1} / lambda_j)^steps
 * instead of (lambda_{j+1} / lambda_j)^steps. */
#define SP_OVERSAMPLE 4
/* Converged when every wanted Ritz vector moved by less than this (1 - |cos|: an angle of
 * 4.5e-3 rad, negligible next to a 4-SD cutoff), or when the wanted Ritz values stopped moving
 * (vectors inside a cluster of equal values never settle, and need not). */
#define SP_VEC_TOL 1e-5
#define SP_VAL_TOL 1e-10

typedef struct sp_class {
    int tested;
    size_t n, iters;
    double lambda; /* variance along the signature direction */
    assay__tail_test t;
    assay__tail_group group; /* what its far group looks like (sub-style or planted) */
} sp_class;

typedef struct sp_job {
    const assay_dataset *ds;
    const assay__graph *graph;
    const size_t *rows, *start;
    assay__class_covs *covs;
    size_t m, max_iters, min_rows;
    uint64_t seed;
    double tolerance;
    double *u; /* per dataset row: projection on its class's signature direction */
    double *z; /* per dataset row: robust z on the signature side */
    sp_class *cls;
} sp_job;

/* ---- block power iteration ---- */

/* Orthonormalises the b columns of a (d x b, column-major) by Gram-Schmidt done twice; a column
 * that vanishes (rank below b) is replaced by a random one. */
static void orthonormalise(double *a, size_t d, size_t b, assay__rng *rng) {
    for (size_t j = 0; j < b; j++) {
        double *aj = a + j * d;
        for (int attempt = 0; attempt < 4; attempt++) {
            double before = cblas_dnrm2((int)d, aj, 1);
            for (int pass = 0; pass < 2; pass++)
                for (size_t k = 0; k < j; k++) {
                    double dot = cblas_ddot((int)d, a + k * d, 1, aj, 1);
                    cblas_daxpy((int)d, -dot, a + k * d, 1, aj, 1);
                }
            double after = cblas_dnrm2((int)d, aj, 1);
            if (after > 1e-10 * before && after > 0.0) {
                cblas_dscal((int)d, 1.0 / after, aj, 1);
                break;
            }
            for (size_t i = 0; i < d; i++) aj[i] = assay__rng_normal(rng);
        }
    }
}

/* The top m directions of class c (rows[0..n)) by block power iteration with b >= m vectors on
 * the class's covariance C (assay__class_cov: shared with spectre, which starts from the same
 * matrix). Each step is G = C Q and a Rayleigh-Ritz step on Q^T G, O(d^2 b) instead of a pass over
 * the rows, so the steps cost little next to forming C. On return u (n x m, row-major) holds the
 * projections of the centred rows on the directions, lam (m) the variances along them, *iters the
 * steps taken. */
static assay_status power_directions(assay__class_covs *covs, const assay_dataset *ds, size_t c,
                                     const size_t *rows, size_t n, size_t m, size_t b,
                                     size_t max_iters, assay__rng *rng, double *u, double *lam,
                                     size_t *iters) {
    const size_t d = ds->d;
    assay_status s = ASSAY_OK;
    double *mu = malloc(d * sizeof *mu), *cov = malloc(d * d * sizeof *cov);
    double *q = malloc(d * b * sizeof *q), *g = malloc(d * b * sizeof *g);
    double *y = malloc(d * b * sizeof *y), *yprev = malloc(d * b * sizeof *yprev);
    double *h = malloc(b * b * sizeof *h), *sv = malloc(b * b * sizeof *sv);
    double *ev = malloc(b * sizeof *ev), *evprev = malloc(b * sizeof *evprev);
    if (!mu || !cov || !q || !g || !y || !yprev || !h || !sv || !ev || !evprev) {
        s = ASSAY_E_NOMEM;
        goto done;
    }
    if ((s = assay__class_cov(NULL, covs, ds, c, rows, n, mu, cov)) != ASSAY_OK) goto done;
    for (size_t i = 0; i < d * b; i++) q[i] = assay__rng_normal(rng);
    orthonormalise(q, d, b, rng);

    size_t it = 0;
    for (;;) {
        it++;
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)b, (int)d, 1.0, cov,
                    (int)d, q, (int)d, 0.0, g, (int)d);
        /* Rayleigh-Ritz: H = Q^T C Q = S diag(ev) S^T; Ritz vectors Y = Q S. */
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)b, (int)b, (int)d, 1.0, q, (int)d,
                    g, (int)d, 0.0, h, (int)b);
        for (size_t j = 0; j < b; j++)
            for (size_t i = 0; i < j; i++)
                h[j * b + i] = h[i * b + j] = 0.5 * (h[j * b + i] + h[i * b + j]);
        if ((s = assay__sym_eig_top(NULL, h, b, b, ev, sv)) != ASSAY_OK) goto done;
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)b, (int)b, 1.0, q,
                    (int)d, sv, (int)b, 0.0, y, (int)d);
        int converged = 0;
        if (it > 1) {
            double worst_vec = 0.0, worst_val = 0.0;
            for (size_t j = 0; j < m; j++) {
                double cj = fabs(cblas_ddot((int)d, y + j * d, 1, yprev + j * d, 1));
                if (1.0 - cj > worst_vec) worst_vec = 1.0 - cj;
                double dv = fabs(ev[j] - evprev[j]);
                if (dv > worst_val) worst_val = dv;
            }
            converged = worst_vec < SP_VEC_TOL || worst_val <= SP_VAL_TOL * fabs(ev[0]);
        }
        if (converged || it >= max_iters) break;
        memcpy(yprev, y, d * b * sizeof *y);
        memcpy(evprev, ev, b * sizeof *ev);
        /* Next block: C Y = G S, orthonormalised. */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)b, (int)b, 1.0, g,
                    (int)d, sv, (int)b, 0.0, q, (int)d);
        orthonormalise(q, d, b, rng);
    }
    if ((s = assay__rows_project(NULL, ds->x, ds->ld, d, rows, n, mu, y, m, u)) != ASSAY_OK)
        goto done;
    for (size_t j = 0; j < m; j++) lam[j] = ev[j];
    *iters = it;
done:
    free(mu);
    free(cov);
    free(q);
    free(g);
    free(y);
    free(yprev);
    free(h);
    free(sv);
    free(ev);
    free(evprev);
    return s;
}

static assay_status spectral_class(void *arg, size_t c, int worker, const size_t *rows, size_t n) {
    (void)worker;
    sp_job *job = arg;
    sp_class *out = &job->cls[c];
    const assay_dataset *ds = job->ds;
    out->n = n;
    if (n < job->min_rows) return ASSAY_OK;
    size_t d = ds->d, m = job->m < d ? job->m : d;
    size_t b = m + SP_OVERSAMPLE < d ? m + SP_OVERSAMPLE : d;
    double *u = malloc(n * m * sizeof *u), *lam = malloc(m * sizeof *lam);
    double *work = malloc(2 * n * sizeof *work);
    assay_status s = ASSAY_OK;
    if (u == NULL || lam == NULL || work == NULL) {
        s = ASSAY_E_NOMEM;
        goto done;
    }
    assay__rng rng = assay__rng_seed(job->seed, 0x5350u + c);
    s = power_directions(job->covs, ds, c, rows, n, m, b, job->max_iters, &rng, u, lam,
                         &out->iters);
    if (s != ASSAY_OK) goto done;
    assay__tail_test_run(u, n, m, m, job->tolerance, work, &out->t);
    assay__tail_group_shape(&out->t, u, m, rows, n, job->graph, ds->y, work, &out->group);
    out->lambda = lam[out->t.dir];
    for (size_t i = 0; i < n; i++) {
        double ui = u[i * m + out->t.dir];
        job->u[rows[i]] = ui;
        job->z[rows[i]] = assay__tail_z(&out->t, ui);
    }
    out->tested = 1;
done:
    free(u);
    free(lam);
    free(work);
    return s;
}

/* ---- the detector ---- */

static assay_status detect_spectral(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    assay__det_out *sum = out;
    float *score = out->score;
    float *evid = out->evidence;
    const double fdr = assay__param(in->opts, ASSAY__P_FDR);
    sum->rule = "in a class whose spectral test is significant: Benjamini-Hochberg at fdr over the "
                "class's rows on the normal tail of the row's robust z along the signature "
                "direction";
    sum->threshold = fdr;
    if (ds->n_classes == 0 || ds->d == 0) {
        sum->note = ds->d == 0 ? "no features" : "no labels";
        return ASSAY_OK;
    }
    sum->ran = 1;
    size_t *rows = NULL, *start = NULL;
    ASSAY_TRY(assay__class_rows(ctx, ds, in->graph, &rows, &start));
    const size_t nc = ds->n_classes, n = ds->n;
    sp_job job = {ds, in->graph, rows, start, in->class_covs, 0, 0, 0, 0, 0.0, NULL, NULL, NULL};
    job.m = (size_t)assay__param(in->opts, ASSAY__P_SPECTRAL_DIRECTIONS);
    job.max_iters = (size_t)assay__param(in->opts, ASSAY__P_SPECTRAL_ITERS);
    job.tolerance = assay__param(in->opts, ASSAY__P_SPECTRAL_TOLERANCE);
    job.seed = (uint64_t)assay__param(in->opts, ASSAY__P_SEED);
    job.min_rows = 2 * ds->d + 10;
    job.u = malloc((n ? n : 1) * sizeof *job.u);
    job.z = malloc((n ? n : 1) * sizeof *job.z);
    job.cls = calloc(nc, sizeof *job.cls);
    double *p = malloc((n ? n : 1) * sizeof *p), *work = malloc((n ? n : 1) * sizeof *work);
    int32_t *row_test = assay__out_row_tests(out);
    assay_status s = ASSAY_OK;
    double *allow = NULL; /* per class: the natural tail share allowed */
    if (job.u == NULL || job.z == NULL || job.cls == NULL || p == NULL || work == NULL ||
        row_test == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (spectral)");
        goto done;
    }
    /* One class per task, each with single-threaded BLAS: no oversubscription. */
    const assay__per_class pc = {"spectral", 1, 0, spectral_class};
    if ((s = assay__per_class_run(in, rows, start, &pc, &job)) != ASSAY_OK) goto done;

    size_t tested = 0, skipped = 0, iters = 0;
    double max_share = 0.0, min_p = 1.0;
    /* Each class's tail share against the other classes' (detect/linalg.h) */
    if ((allow = malloc((nc ? nc : 1) * sizeof *allow)) == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (spectral)");
        goto done;
    }
    const int across = assay__tail_calibrate(job.cls, sizeof *job.cls, offsetof(sp_class, t),
                                             offsetof(sp_class, n), offsetof(sp_class, tested), nc,
                                             job.m, job.tolerance, allow);
    for (size_t c = 0; c < nc && s == ASSAY_OK; c++) {
        sp_class *k = &job.cls[c];
        if (!k->tested) {
            skipped += k->n > 0;
            continue;
        }
        tested++;
        iters += k->iters;
        double share = (double)k->t.count / (double)k->n;
        if (share > max_share) max_share = share;
        if (k->t.p < min_p) min_p = k->t.p;
        assay__test t = {0};
        t.det = ASSAY_DET_SPECTRAL;
        t.cls = (int32_t)c;
        t.stat_name = "tail_share";
        t.stat = share;
        t.p = k->t.p;
        t.null = across ? "robust z of the class's log tail share across the other classes "
                          "(normal tail), and binomial against the natural tail those classes "
                          "allow (at least spectral-tolerance): the larger p; Bonferroni over "
                          "directions and sides"
                        : "per class (fewer than 4 classes: no index across classes): binomial, "
                          "natural tails hold at most spectral-tolerance of a class beyond 4 "
                          "robust SDs on one side of a top singular direction, and a sign-flip "
                          "test, the far rows no more one-sided than Binomial(far rows on both "
                          "sides, 1/2): the larger p; Bonferroni over directions and sides";
        snprintf(t.detail, sizeof t.detail,
                 "%zu of %zu rows (%.1f%%) lie beyond %.0f robust SDs on one side of the class's "
                 "%s singular direction (%zu searched); natural tails are allowed %.1f%%%s",
                 k->t.count, k->n, 100.0 * share, ASSAY__TAIL_Z, assay__ordinal(k->t.dir + 1),
                 job.m, 100.0 * allow[c], across ? " (from the other classes)" : "");
        const int substyle =
            assay__tail_group_judge(&k->group, k->n, assay__ordinal(k->t.dir + 1), &t);
        int32_t ti = -1;
        if ((s = assay__out_test(out, &t, &ti)) != ASSAY_OK) break;
        const size_t *cr = rows + start[c];
        for (size_t i = 0; i < k->n; i++) p[i] = assay__norm_sf(job.z[cr[i]]);
        double cut = assay__bh_cutoff(p, k->n, fdr, work);
        for (size_t i = 0; i < k->n && s == ASSAY_OK; i++) {
            size_t r = cr[i];
            double ui = job.u[r];
            score[r] = (float)(ui * ui);
            evid[r] = assay__evidence_from_p(p[i], cut);
            if (substyle) evid[r] *= ASSAY__OBSERVATION_SCALE; /* an observation: not flagged */
            row_test[r] = ti;
            sum->rows_scored++;
            if (p[i] > cut || substyle) continue;
            assay__finding f = {r,
                                ASSAY_DET_SPECTRAL,
                                ASSAY_SEV_HIGH,
                                0,
                                score[r],
                                job.z[r],
                                (double)k->t.count,
                                (double)(k->t.dir + 1),
                                (int64_t)k->n,
                                ti};
            s = assay__out_finding(out, &f);
        }
    }
    if (skipped > 0) sum->note = "classes with fewer than 2 d + 10 rows are not tested (no scores)";
    sum->stat_name[0] = "classes_tested";
    sum->stat[0] = (double)tested;
    sum->stat_name[1] = "max_tail_share";
    sum->stat[1] = max_share;
    sum->stat_name[2] = "min_class_p";
    sum->stat[2] = min_p;
    sum->stat_name[3] = "mean_power_steps";
    sum->stat[3] = tested ? (double)iters / (double)tested : 0.0;
done:
    free(allow);
    free(rows);
    free(start);
    free(job.u);
    free(job.z);
    free(job.cls);
    free(p);
    free(work);
    return s;
}

static void explain_spectral(const assay__det_input *in, const assay__det_out *out,
                             const assay__finding *f, char *buf, size_t len) {
    const assay_dataset *ds = in->ds;
    int32_t c = ds->y[f->row];
    const char *name = c >= 0 && (size_t)c < ds->n_classes ? ds->class_name[c] : "?";
    double share = f->ref > 0 ? 100.0 * f->b / (double)f->ref : 0.0;
    char verdict[64];
    snprintf(buf, len,
             "in class '%s', this row lies %.1f robust standard deviations along the class's %s "
             "singular direction, where %.0f rows (%.1f%%) lie beyond %.0f; the class's spectral "
             "test is %s",
             name, f->a, assay__ordinal((size_t)f->c), f->b, share, ASSAY__TAIL_Z,
             assay__finding_test_verdict(out, f, verdict, sizeof verdict));
}

static const char *const k_reasons[] = {"spectral_signature", NULL};
static const assay__ev_field k_fields[] =
    ASSAY__EV_ABC("the row's robust z along the signature direction",
                  "rows of the class beyond 4 robust SDs on that side",
                  "the direction's rank (1 = top)", "rows of the class that were scored");

const assay__detector_desc assay__detector_spectral = {
    .kind = ASSAY__KIND_BACKDOOR,
    .severity = ASSAY_SEV_HIGH,
    .family = "class subspace",
    .warns = "a sub-style (its far rows neighbour rows of their own label and lie less than 8 "
             "robust SDs out: flags no row)",
    .on_clean = "A natural sub-style of one class (a serif 1) only warns and flags nothing. It "
                "fails on a group whose rows neighbour other labels or lie 8 robust SDs out: look "
                "at the rows; if they are a real style, accept them or raise "
                "--spectral-tolerance above the share the test reports.",
    .inputs = "features and labels (per class)",
    .needs = ASSAY__NEEDS_CLASS_COV,
    .run = detect_spectral,
    .explain = explain_spectral,
    .reasons = k_reasons,
    .fields = k_fields,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* gram: higher-order feature statistics, after Beatrix (Ma et al., NDSS 2023). A dynamic trigger
 * (a warp, a per-sample pattern) need not move its rows along one direction that spectral
 * methods see; it changes how features co-activate. Beatrix measures that with Gram matrices of
 * the feature maps; from an embedding vector the same information is the second-order products
 * of its features, and a random sketch keeps it O(N d R) instead of O(N d^2): feature j of row x
 * in class c is (a_j . (x - mu_c)) (b_j . (x - mu_c)), a_j and b_j Gaussian (seeded), for
 * gram-sketch values of j. Each row's deviation is the mean over j of |f_j - median_j| / MAD_j
 * (per class; from the class's trusted rows when it has enough), and the robust z of its log
 * within the class. A class whose share of rows beyond 4 robust SDs stands out from the other
 * classes' (the tail test shared with spectral, detect/linalg.h) is significant; its far rows are
 * flagged like spectral's, and a group that is a natural sub-style only warns. */
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

#define GR_BLOCK       256  /* rows gathered per sgemm */
#define GR_MIN_ROWS    50   /* classes with fewer rows are not tested */
#define GR_MIN_TRUSTED 30   /* trusted rows of a class needed to take the reference from them */
#define GR_TOLERANCE   0.03 /* natural share beyond the cutoff (as spectral-tolerance) */
/* The tail cutoff on the log deviation: the log compresses a right tail, so fewer SDs than the
 * class-subspace detectors' 4 mark the same rows. */
#define GR_TAIL_Z 3.0

typedef struct gr_class {
    int tested, reference_trusted;
    size_t n;
    assay__tail_test t;
    assay__tail_group group;
} gr_class;

typedef struct gr_job {
    const assay__det_input *in;
    const float *proj; /* d x 2R column-major: a_j then b_j */
    size_t sketch;
    double *dev; /* per dataset row: deviation */
    double *z;   /* per dataset row: robust z of the deviation in its class */
    gr_class *cls;
} gr_job;

static assay_status gram_class(void *arg, size_t c, int worker, const size_t *rows, size_t n) {
    (void)worker;
    gr_job *job = arg;
    const assay_dataset *ds = job->in->ds;
    gr_class *out = &job->cls[c];
    const size_t d = ds->d, R = job->sketch, R2 = 2 * R;
    out->n = n;
    if (n < GR_MIN_ROWS) return ASSAY_OK;
    double *mu = malloc(d * sizeof *mu), *med = malloc(R * sizeof *med);
    double *mad = malloc(R * sizeof *mad), *col = malloc(n * sizeof *col);
    double *work = malloc(2 * n * sizeof *work);
    float *blk = malloc(d * GR_BLOCK * sizeof *blk), *pr = malloc(R2 * GR_BLOCK * sizeof *pr);
    float *f = malloc(n * R * sizeof *f);
    uint8_t *ref = malloc(n);
    assay_status s = ASSAY_OK;
    if (!mu || !med || !mad || !col || !work || !blk || !pr || !f || !ref) {
        s = ASSAY_E_NOMEM;
        goto done;
    }
    assay__rows_mean(ds->x, ds->ld, d, rows, n, mu);
    /* the sketch of every row's second-order products */
    for (size_t i0 = 0; i0 < n; i0 += GR_BLOCK) {
        const size_t nb = n - i0 < GR_BLOCK ? n - i0 : GR_BLOCK;
        for (size_t i = 0; i < nb; i++) {
            const float *xr = ds->x + rows[i0 + i] * ds->ld;
            for (size_t j = 0; j < d; j++) blk[i * d + j] = (float)(xr[j] - mu[j]);
        }
        /* pr (2R x nb, column-major) = proj^T blk */
        cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)R2, (int)nb, (int)d, 1.0f,
                    job->proj, (int)d, blk, (int)d, 0.0f, pr, (int)R2);
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < R; j++)
                f[(i0 + i) * R + j] = pr[i * R2 + j] * pr[i * R2 + R + j];
    }
    /* the reference: the class's trusted rows when there are enough of them, else all */
    const assay__trusted *tr = job->in->trusted;
    size_t n_ref = 0;
    for (size_t i = 0; i < n; i++) {
        ref[i] = tr != NULL && tr->row != NULL && tr->row[rows[i]];
        n_ref += ref[i];
    }
    out->reference_trusted = n_ref >= GR_MIN_TRUSTED;
    if (!out->reference_trusted) memset(ref, 1, n);
    for (size_t j = 0; j < R; j++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (ref[i]) col[m++] = f[i * R + j];
        assay__median_mad(col, m, work, &med[j], &mad[j]);
        if (!(mad[j] > 0.0)) mad[j] = 1e-30;
    }
    for (size_t i = 0; i < n; i++) {
        double dev = 0.0;
        for (size_t j = 0; j < R; j++) dev += fabs(f[i * R + j] - med[j]) / mad[j];
        job->dev[rows[i]] = dev / (double)R;
    }
    /* The deviations' robust z within the class (against the reference rows): on the log scale
     * for the test and the flags, since a mean of absolute deviations is skewed to the right and
     * its normal tail would flag the clean rows' own tail; on the linear scale for the group's
     * shape (how far out it lies, in the units the other class-subspace detectors use). */
    double lmed = 0.0, lmad = 0.0, dmed = 0.0, dmad = 0.0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (ref[i]) work[m++] = log(job->dev[rows[i]] + 1e-300);
    assay__median_mad(work, m, work + n, &lmed, &lmad);
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (ref[i]) work[m++] = job->dev[rows[i]];
    assay__median_mad(work, m, work + n, &dmed, &dmad);
    if (!(lmad > 0.0)) lmad = 1e-30;
    if (!(dmad > 0.0)) dmad = 1e-30;
    out->t.side = 1;
    out->t.med = 0.0;
    out->t.mad = 1.0;
    out->t.count = 0;
    for (size_t i = 0; i < n; i++) {
        const double dv = job->dev[rows[i]];
        job->z[rows[i]] = (log(dv + 1e-300) - lmed) / lmad;
        out->t.count += job->z[rows[i]] > GR_TAIL_Z;
        col[i] = (dv - dmed) / dmad;
    }
    out->t.p = fmin(1.0, assay__binom_sf((double)out->t.count, (double)n, GR_TOLERANCE));
    assay__tail_group_shape(&out->t, col, 1, rows, n, job->in->graph, ds->y, work, &out->group);
    out->tested = 1;
done:
    free(mu);
    free(med);
    free(mad);
    free(col);
    free(work);
    free(blk);
    free(pr);
    free(f);
    free(ref);
    return s;
}

static assay_status detect_gram(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    const double fdr = assay__param(in->opts, ASSAY__P_FDR);
    out->rule = "in a class whose gram test is significant: Benjamini-Hochberg at fdr over the "
                "class's rows on the normal tail of the robust z of the row's higher-order "
                "deviation";
    out->threshold = fdr;
    if (ds->n_classes < ASSAY__TAIL_MIN_CLASSES || ds->d == 0) {
        out->note =
            ds->d == 0 ? "no features" : "fewer than 4 classes: no index across classes (not run)";
        return ASSAY_OK;
    }
    size_t *rows = NULL, *start = NULL;
    ASSAY_TRY(assay__class_rows(ctx, ds, in->graph, &rows, &start));
    const size_t nc = ds->n_classes, n = ds->n, d = ds->d;
    const size_t R = (size_t)assay__param(in->opts, ASSAY__P_GRAM_SKETCH);
    gr_job job = {in, NULL, R, NULL, NULL, NULL};
    float *proj = malloc(d * 2 * R * sizeof *proj);
    job.dev = malloc((n ? n : 1) * sizeof *job.dev);
    job.z = malloc((n ? n : 1) * sizeof *job.z);
    job.cls = calloc(nc, sizeof *job.cls);
    double *p = malloc((n ? n : 1) * sizeof *p), *work = malloc((n ? n : 1) * sizeof *work);
    double *allow = malloc(nc * sizeof *allow);
    int32_t *row_test = assay__out_row_tests(out);
    assay_status s = ASSAY_OK;
    if (!proj || !job.dev || !job.z || !job.cls || !p || !work || !allow || !row_test) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (gram)");
        goto done;
    }
    /* Gaussian projections scaled by 1/sqrt(d): the products keep the features' scale. */
    assay__rng rng = assay__rng_seed((uint64_t)assay__param(in->opts, ASSAY__P_SEED), 0x4752u);
    for (size_t i = 0; i < d * 2 * R; i++)
        proj[i] = (float)(assay__rng_normal(&rng) / sqrt((double)d));
    job.proj = proj;
    const assay__per_class pc = {"gram", 1, 0, gram_class};
    if ((s = assay__per_class_run(in, rows, start, &pc, &job)) != ASSAY_OK) goto done;
    out->ran = 1;
    const int across = assay__tail_calibrate(job.cls, sizeof *job.cls, offsetof(gr_class, t),
                                             offsetof(gr_class, n), offsetof(gr_class, tested), nc,
                                             1, GR_TOLERANCE, allow);
    size_t tested = 0, trusted_classes = 0;
    double max_share = 0.0, min_p = 1.0;
    for (size_t c = 0; c < nc && s == ASSAY_OK; c++) {
        gr_class *k = &job.cls[c];
        if (!k->tested) continue;
        tested++;
        trusted_classes += (size_t)k->reference_trusted;
        const double share = (double)k->t.count / (double)k->n;
        if (share > max_share) max_share = share;
        if (k->t.p < min_p) min_p = k->t.p;
        assay__test t = {0};
        t.det = ASSAY_DET_GRAM;
        t.cls = (int32_t)c;
        t.stat_name = "tail_share";
        t.stat = share;
        t.p = across ? k->t.p : NAN;
        t.null = "robust z of the class's log tail share across the other classes (normal tail), "
                 "and binomial against the natural tail those classes allow: the larger p";
        snprintf(t.detail, sizeof t.detail,
                 "%zu of %zu rows (%.1f%%) deviate by more than %.0f robust SDs (log scale) in "
                 "their second-order feature statistics (%zu sketched products%s); natural tails "
                 "are allowed %.1f%%",
                 k->t.count, k->n, 100.0 * share, GR_TAIL_Z, R,
                 k->reference_trusted ? ", reference: trusted rows" : "", 100.0 * allow[c]);
        const int substyle = assay__tail_group_judge(&k->group, k->n, "deviation", &t);
        int32_t ti = -1;
        if ((s = assay__out_test(out, &t, &ti)) != ASSAY_OK) break;
        const size_t *cr = rows + start[c];
        for (size_t i = 0; i < k->n; i++) p[i] = assay__norm_sf(job.z[cr[i]]);
        const double cut = assay__bh_cutoff(p, k->n, fdr, work);
        for (size_t i = 0; i < k->n && s == ASSAY_OK; i++) {
            const size_t r = cr[i];
            out->score[r] = (float)job.dev[r];
            out->evidence[r] = assay__evidence_from_p(p[i], cut);
            if (substyle) out->evidence[r] *= ASSAY__OBSERVATION_SCALE;
            row_test[r] = ti;
            out->rows_scored++;
            if (p[i] > cut || substyle || !across) continue;
            assay__finding f = {r,
                                ASSAY_DET_GRAM,
                                ASSAY_SEV_HIGH,
                                0,
                                out->score[r],
                                job.z[r],
                                (double)k->t.count,
                                share,
                                (int64_t)k->n,
                                ti};
            s = assay__out_finding(out, &f);
        }
    }
    out->stat_name[0] = "classes_tested";
    out->stat[0] = (double)tested;
    out->stat_name[1] = "max_tail_share";
    out->stat[1] = max_share;
    out->stat_name[2] = "min_class_p";
    out->stat[2] = min_p;
    out->stat_name[3] = "sketch";
    out->stat[3] = (double)R;
    out->stat_name[4] = "classes_with_trusted_reference";
    out->stat[4] = (double)trusted_classes;
    if (!across) out->note = "fewer than 4 classes tested: no index across classes, no flags";
done:
    free(rows);
    free(start);
    free(proj);
    free(job.dev);
    free(job.z);
    free(job.cls);
    free(p);
    free(work);
    free(allow);
    return s;
}

static void explain_gram(const assay__det_input *in, const assay__det_out *out,
                         const assay__finding *f, char *buf, size_t len) {
    const assay_dataset *ds = in->ds;
    int32_t c = ds->y[f->row];
    const char *name = c >= 0 && (size_t)c < ds->n_classes ? ds->class_name[c] : "?";
    char verdict[64];
    snprintf(buf, len,
             "in class '%s', this row's second-order feature statistics deviate %.1f robust "
             "standard deviations (log scale) from the class's, where %.0f rows (%.1f%%) deviate "
             "beyond %.0f; "
             "the class's gram test is %s",
             name, f->a, f->b, 100.0 * f->c, GR_TAIL_Z,
             assay__finding_test_verdict(out, f, verdict, sizeof verdict));
}

static const char *const k_reasons[] = {"higher_order_deviation", NULL};
static const assay__ev_field k_fields[] = {
    {"robust_z", ASSAY__EV_NUMBER, ASSAY__FROM_A,
     "the robust z of the row's deviation within its class"},
    {"tail_rows", ASSAY__EV_NUMBER, ASSAY__FROM_B, "rows of the class beyond 4 robust SDs"},
    {"tail_share", ASSAY__EV_NUMBER, ASSAY__FROM_C, "their share of the class"},
    {"class_rows", ASSAY__EV_INTEGER, ASSAY__FROM_REF, "rows of the class that were scored"},
    {NULL, 0, 0, NULL}};

const assay__detector_desc assay__detector_gram = {
    .kind = ASSAY__KIND_BACKDOOR,
    .severity = ASSAY_SEV_HIGH,
    .family = "higher-order statistics",
    .warns = "a sub-style (its far rows neighbour rows of their own label and lie less than 8 "
             "robust SDs out: flags no row)",
    .on_clean = "A class with a rare natural style deviates in its feature co-activations: look "
                "at the rows; with --trusted-ids the class's reference is taken from rows you "
                "trust.",
    .inputs = "features and labels (per class; at least 4 classes)",
    .run = detect_gram,
    .explain = explain_gram,
    .reasons = k_reasons,
    .fields = k_fields,
};

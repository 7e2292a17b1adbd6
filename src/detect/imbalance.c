/* SPDX-License-Identifier: Apache-2.0 */
/* imbalance: class counts against the expected class distribution. A class whose share of the
 * labelled rows is below imbalance-ratio x its expected share (uniform 1/K unless a distribution
 * is given) is underrepresented (cleanlab's class-imbalance rule): its rows are flagged low, a
 * data-quality finding. Natural data is often imbalanced, so without a declared distribution the
 * chi-square statistic against uniform shares is reported for information only (p = NaN) and
 * never fails the gate; with expected shares it is a goodness-of-fit test (or, when the
 * expected shares come from counts, e.g. a previous scan, a test of homogeneity). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/numfmt.h"
#include "core/stats.h"
#include "detect/params.h"
#include "detect/detector.h"

/* What the rows are compared against. shares: K expected shares (summing to 1), NULL for
 * uniform. total: when the shares are counts / total of an earlier sample (a baseline), that
 * sample's size, so the test accounts for its noise too; 0 for exact (declared) shares. */
typedef struct imbalance_expect {
    const double *shares;
    double total;
} imbalance_expect;

static assay_status imbalance_run(const assay__det_input *in, assay__det_out *out,
                                  const imbalance_expect *ex) {
    const assay_dataset *ds = in->ds;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    const double ratio = assay__param(in->opts, ASSAY__P_IMBALANCE_RATIO);
    const size_t nc = ds->n_classes;
    sum->rule = ex->shares ? "class share of the labelled rows < imbalance-ratio x its expected "
                             "share: every row of the class, low"
                           : "class share of the labelled rows < imbalance-ratio x 1/K (K "
                             "classes): every row of the class, low";
    sum->threshold = ratio;
    if (nc < 2) {
        sum->note = "fewer than 2 classes";
        return ASSAY_OK;
    }
    double total = 0.0;
    for (size_t c = 0; c < nc; c++) total += (double)ds->class_count[c];
    if (!(total > 0.0)) {
        sum->note = "no labelled rows";
        return ASSAY_OK;
    }
    sum->ran = 1;
    double *rel = malloc(nc * sizeof *rel); /* share / expected share, per class */
    if (rel == NULL) return assay__fail(in->ctx, ASSAY_E_NOMEM, "out of memory (imbalance)");

    /* Chi-square: goodness of fit against exact shares, or homogeneity of the 2 x K table
     * (these counts against the baseline's) when the shares come from counts. */
    double chi2 = 0.0, smin = INFINITY, smax = -INFINITY;
    size_t cmin = 0, cmax = 0, df = 0, under = 0;
    for (size_t c = 0; c < nc; c++) {
        double e = ex->shares ? ex->shares[c] : 1.0 / (double)nc;
        double o = (double)ds->class_count[c], share = o / total;
        rel[c] = e > 0.0 ? share / e : INFINITY;
        if (share < smin) smin = share, cmin = c;
        if (share > smax) smax = share, cmax = c;
        under += rel[c] < ratio;
        if (!(e > 0.0)) continue;
        df++;
        if (ex->total > 0.0) {
            /* pooled share over both samples; expected counts in each */
            double b = e * ex->total, pool = (o + b) / (total + ex->total);
            double eo = pool * total, eb = pool * ex->total;
            if (eo > 0.0) chi2 += (o - eo) * (o - eo) / eo + (b - eb) * (b - eb) / eb;
        } else {
            double eo = e * total;
            chi2 += (o - eo) * (o - eo) / eo;
        }
    }
    double p = ex->shares && df >= 2 ? assay__chi2_sf(chi2, (double)(df - 1)) : NAN;
    assay__test t = {.det = ASSAY_DET_IMBALANCE,
                     .cls = -1,
                     .stat_name = ex->shares ? "chi_square" : "chi_square_vs_uniform",
                     .stat = chi2,
                     .p = p,
                     .null = ex->shares
                                 ? (ex->total > 0.0
                                        ? "chi-square test of homogeneity against the baseline's "
                                          "class counts, K - 1 degrees of freedom"
                                        : "chi-square goodness of fit against the declared class "
                                          "shares, K - 1 degrees of freedom")
                                 : "informational: no declared class distribution, and natural "
                                   "data is often imbalanced (p not computed)",
                     .q = NAN};
    snprintf(t.detail, sizeof t.detail,
             "%zu classes: largest %s %.2f%%, smallest %s %.2f%% of %.0f labelled rows (ratio "
             "%.3g); %zu class%s below %s x %s",
             nc, ds->class_name[cmax], 100.0 * smax, ds->class_name[cmin], 100.0 * smin, total,
             smin > 0.0 ? smax / smin : INFINITY, under, under == 1 ? "" : "es",
             assay__num(ratio).s, ex->shares ? "the expected share" : "the uniform share");
    /* The flags are a data-quality rule and do not depend on the test (no row_test). */
    assay_status s = assay__out_test(out, &t, NULL);

    /* Rows: score 1 - share / expected (0 for classes at or above their expected share), the
     * flag at share < ratio x expected, i.e. score > 1 - ratio. */
    const float thr = (float)(1.0 - ratio);
    for (size_t r = 0; r < ds->n && s == ASSAY_OK; r++) {
        int32_t y = ds->y[r];
        if (y < 0) continue;
        double rc = rel[y];
        float sc = (float)(rc < 1.0 ? 1.0 - rc : 0.0);
        score[r] = sc;
        float e = assay__evidence_from_threshold(sc, thr);
        int flag = rc < ratio;
        /* evidence >= 0.5 exactly for flagged rows, whatever the float rounding */
        if (flag && e < 0.5f) e = 0.5f;
        if (!flag && e >= 0.5f) e = nextafterf(0.5f, 0.0f);
        ev[r] = e;
        sum->rows_scored++;
        if (!flag) continue;
        double e_share = ex->shares ? ex->shares[y] : 1.0 / (double)nc;
        assay__finding f = {r,
                            ASSAY_DET_IMBALANCE,
                            ASSAY_SEV_LOW,
                            0,
                            sc,
                            (double)ds->class_count[y] / total,
                            e_share,
                            rc,
                            -1,
                            -1};
        s = assay__out_finding(out, &f);
    }
    sum->stat_name[0] = "classes_below_ratio";
    sum->stat[0] = (double)under;
    sum->stat_name[1] = "smallest_share";
    sum->stat[1] = smin;
    sum->stat_name[2] = "largest_share";
    sum->stat[2] = smax;
    sum->stat_name[3] = "chi_square";
    sum->stat[3] = chi2;
    free(rel);
    return s;
}

static assay_status detect_imbalance(const assay__det_input *in, assay__det_out *out) {
    /* No declared distribution yet: uniform shares, informational test. */
    const imbalance_expect uniform = {NULL, 0.0};
    return imbalance_run(in, out, &uniform);
}

static void explain_imbalance(const assay__det_input *in, const assay__det_out *out,
                              const assay__finding *f, char *buf, size_t len) {
    (void)out;
    const assay_dataset *ds = in->ds;
    double ratio = assay__param(in->opts, ASSAY__P_IMBALANCE_RATIO);
    const char *cls = ds->y[f->row] >= 0 ? ds->class_name[ds->y[f->row]] : "?";
    snprintf(buf, len,
             "class %s holds %.2f%% of the labelled rows, %.3g x its expected share of %.2f%% "
             "(underrepresented below %s x)",
             cls, 100.0 * f->a, f->c, 100.0 * f->b, assay__num(ratio).s);
}

static const char *const k_reasons[] = {"underrepresented_class", NULL};
static const assay__ev_field k_fields[] =
    ASSAY__EV_ABC("the class's share of the labelled rows", "its expected share",
                  "the share over the expected share", "unused (-1)");

const assay__detector_desc assay__detector_imbalance = {
    .kind = ASSAY__KIND_DISTRIBUTION,
    .severity = ASSAY_SEV_LOW,
    .family = "class balance",
    .on_clean = "Natural data is often imbalanced: only warns; declare the class distribution "
                "(policy class-shares or a baseline) to test against it.",
    .inputs = "labels",
    .run = detect_imbalance,
    .explain = explain_imbalance,
    .reasons = k_reasons,
    .fields = k_fields,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* confident: confident learning (Northcutt, Jiang, Chuang, JAIR 2021) from a model's predicted
 * probabilities, giving the same label issues as cleanlab's filter.find_label_issues with its
 * default arguments. The machinery (assay__cl_find_issues) is shared with knn-label, which feeds
 * it the neighbours' class distribution instead of a model's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/crossfit.h"
#include "detect/label.h"
#include "detect/params.h"

/* cleanlab's constants: the tolerance of the threshold comparison, the floor of a threshold,
 * the threshold of a class nobody carries, and its floor on divisors. */
#define CL_THRESHOLD_SLACK       1e-6
#define CL_THRESHOLD_FLOOR       1e-6
#define CL_EMPTY_CLASS_THRESHOLD 2.0
#define CL_TINY                  1e-100
/* Share of the cross-fitted model's out-of-fold error the label-noise test tolerates. */
#define CL_CROSSFIT_ERROR_SHARE 0.6

/* ---- rounding that preserves a row's total (cleanlab's round_preserving_sum) ---- */

typedef struct frac_key {
    double diff; /* value - its rounded value */
    size_t i;
} frac_key;

static int cmp_frac(const void *a, const void *b) {
    const frac_key *x = a, *y = b;
    if (x->diff != y->diff) return x->diff < y->diff ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* out[i] = f[i] rounded half to even, then adjusted one step at a time until the row sums to
 * round(sum f): upward steps go to the entries rounded down the most (ties: the higher index,
 * as numpy's reversed stable argsort gives), downward steps to the entries rounded up the most
 * (ties: the lower index). keys holds m entries. */
static void round_preserving_sum(const double *f, int64_t *out, size_t m, frac_key *keys) {
    double total = 0.0, itotal = 0.0;
    for (size_t i = 0; i < m; i++) {
        double r = nearbyint(f[i]);
        out[i] = (int64_t)r;
        total += f[i];
        itotal += r;
    }
    double want = nearbyint(total);
    while (fabs(itotal - want) > 1e-6) {
        double diff = nearbyint(want - itotal);
        int up = diff > 0.0;
        size_t changes = (size_t)fabs(diff);
        if (changes > m) changes = m;
        for (size_t i = 0; i < m; i++) keys[i] = (frac_key){f[i] - (double)out[i], i};
        qsort(keys, m, sizeof *keys, cmp_frac);
        for (size_t c = 0; c < changes; c++) {
            size_t i = up ? keys[m - 1 - c].i : keys[c].i;
            out[i] += up ? 1 : -1;
        }
        itotal = 0.0;
        for (size_t i = 0; i < m; i++) itotal += (double)out[i];
    }
}

/* ---- selection of the rows to prune ---- */

typedef struct row_key {
    double key;
    size_t row;
} row_key;

/* Largest key first, ties to the lower row. */
static int cmp_key_desc(const void *a, const void *b) {
    const row_key *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static size_t argmax_row(const float *p, size_t k) {
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (p[j] > p[best]) best = j;
    return best;
}

void assay__cl_result_free(assay__cl_result *r) {
    if (r == NULL) return;
    free(r->threshold);
    free(r->joint);
    free(r->calibrated);
    free(r->prune);
    memset(r, 0, sizeof *r);
}

assay_status assay__cl_find_issues(assay_ctx *ctx, const int32_t *y, const float *p, size_t n,
                                   size_t k, int filter, uint8_t *issue, assay__cl_result *out) {
    if (out != NULL) memset(out, 0, sizeof *out);
    memset(issue, 0, n);
    if (k == 0) return ASSAY_OK;
    size_t kk = k * k;
    double *thr = calloc(k, sizeof *thr);
    double *cal = malloc(kk * sizeof *cal);
    int64_t *joint = calloc(kk, sizeof *joint);
    int64_t *cj = malloc(kk * sizeof *cj);
    int64_t *prune = malloc(kk * sizeof *prune);
    size_t *count = calloc(k, sizeof *count);
    size_t *start = calloc(k + 1, sizeof *start);
    size_t *fill = malloc(k * sizeof *fill);
    float *cutf = malloc(k * sizeof *cutf);
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    frac_key *fk = malloc(k * sizeof *fk);
    row_key *rk = malloc((n ? n : 1) * sizeof *rk);
    assay_status s = ASSAY_OK;
    if (!thr || !cal || !joint || !cj || !prune || !count || !start || !fill || !cutf || !rows ||
        !fk || !rk) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (confident learning)");
        goto done;
    }
    /* Rows of each class in input order. */
    size_t used = 0;
    for (size_t r = 0; r < n; r++)
        if (y[r] >= 0) count[y[r]]++, used++;
    for (size_t c = 0; c < k; c++) start[c + 1] = start[c] + count[c];
    for (size_t c = 0; c < k; c++) fill[c] = start[c];
    for (size_t r = 0; r < n; r++)
        if (y[r] >= 0) rows[fill[y[r]]++] = r;

    /* Per-class thresholds: the mean self-confidence of the class. */
    for (size_t c = 0; c < k; c++) {
        double sum = 0.0;
        for (size_t i = start[c]; i < start[c + 1]; i++) sum += p[rows[i] * k + c];
        thr[c] = count[c] ? sum / (double)count[c] : CL_EMPTY_CLASS_THRESHOLD;
        if (thr[c] < CL_THRESHOLD_FLOOR) thr[c] = CL_THRESHOLD_FLOOR;
    }

    /* The confident joint: a row counts for the class whose probability reaches that class's
     * threshold (compared in float: cleanlab's arithmetic on float32 probabilities); when
     * several do, for the row's argmax over all classes (cleanlab's rule, even
     * if the argmax itself is below its threshold). Off-diagonal rows are the
     * confident_learning issues. */
    for (size_t j = 0; j < k; j++) cutf[j] = (float)((double)(float)thr[j] - CL_THRESHOLD_SLACK);
    for (size_t r = 0; r < n; r++) {
        if (y[r] < 0) continue;
        const float *pr = p + r * k;
        size_t passing = 0, first = 0;
        for (size_t j = 0; j < k; j++)
            if (pr[j] >= cutf[j]) {
                if (passing++ == 0) first = j;
            }
        if (passing == 0) continue;
        size_t guess = passing > 1 ? argmax_row(pr, k) : first;
        joint[(size_t)y[r] * k + guess]++;
        if (filter == ASSAY__CL_CONFIDENT_LEARNING && guess != (size_t)y[r]) issue[r] = 1;
    }
    for (size_t c = 0; c < k; c++)
        if (joint[c * k + c] < 1) joint[c * k + c] = 1;

    /* Calibration: each row scaled to its label count, the whole to N, rounded per row. */
    double total = 0.0;
    for (size_t i = 0; i < k; i++) {
        double rs = 0.0;
        for (size_t j = 0; j < k; j++) rs += (double)joint[i * k + j];
        if (rs < CL_TINY) rs = CL_TINY;
        for (size_t j = 0; j < k; j++) {
            cal[i * k + j] = (double)joint[i * k + j] / rs * (double)count[i];
            total += cal[i * k + j];
        }
    }
    if (total < CL_TINY) total = CL_TINY;
    for (size_t i = 0; i < kk; i++) cal[i] = cal[i] / total * (double)used;
    for (size_t i = 0; i < k; i++) round_preserving_sum(cal + i * k, cj + i * k, k, fk);

    /* The prune counts [true j][given i] = calibrated C[i][j], with each class keeping at least
     * one row (min_examples_per_class = 1): a diagonal raised to 1 is paid for by the nonzero
     * off-diagonals of its column, and the fractions are cut to whole rows (frac_noise = 1). */
    for (size_t c = 0; c < k; c++) {
        int64_t d = cj[c * k + c];
        int64_t nd = d < 1 ? 1 : d;
        size_t nonzero = 0;
        for (size_t j = 0; j < k; j++) nonzero += cj[c * k + j] != 0;
        double per = (double)(nd - d) / (nonzero > 1 ? (double)(nonzero - 1) : 1.0);
        for (size_t j = 0; j < k; j++) {
            if (j == c) {
                prune[c * k + c] = nd;
                continue;
            }
            double v = (double)cj[c * k + j] - per;
            prune[j * k + c] = v > 0.0 ? (int64_t)v : 0; /* truncation, as astype(int) */
        }
    }
    for (size_t j = 0; j < k; j++) { /* cleanlab rounds the (already whole) rows once more */
        for (size_t i = 0; i < k; i++) cal[i] = (double)prune[j * k + i];
        round_preserving_sum(cal, prune + j * k, k, fk);
    }

    if (filter == ASSAY__CL_PRUNE_BY_CLASS || filter == ASSAY__CL_BOTH) {
        /* Per class, the n_c - prune[c][c] rows with the lowest self-confidence. */
        for (size_t c = 0; c < k; c++) {
            size_t m = count[c];
            if (m <= 1) continue;
            int64_t drop = (int64_t)m - prune[c * k + c];
            if (drop < 1) continue;
            for (size_t i = 0; i < m; i++) {
                size_t r = rows[start[c] + i];
                rk[i] = (row_key){-(double)p[r * k + c], r};
            }
            qsort(rk, m, sizeof *rk, cmp_key_desc);
            for (size_t i = 0; i < m && (int64_t)i < drop; i++) issue[rk[i].row] = 1;
        }
    }
    if (filter == ASSAY__CL_PRUNE_BY_NOISE_RATE || filter == ASSAY__CL_BOTH) {
        /* Per given class c and true class j, the prune[j][c] rows labelled c with the largest
         * margin p(j|x) - p(c|x). With `both`, a row must be chosen by both rules. */
        uint8_t *mark = filter == ASSAY__CL_BOTH ? calloc(n ? n : 1, 1) : issue;
        if (mark == NULL) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (confident learning)");
            goto done;
        }
        for (size_t c = 0; c < k; c++) {
            size_t m = count[c];
            if (m <= 1) continue;
            for (size_t j = 0; j < k; j++) {
                int64_t take = prune[j * k + c];
                if (j == c || take <= 0) continue;
                for (size_t i = 0; i < m; i++) {
                    size_t r = rows[start[c] + i];
                    float margin = p[r * k + j] - p[r * k + c]; /* float, as numpy's */
                    rk[i] = (row_key){margin, r};
                }
                qsort(rk, m, sizeof *rk, cmp_key_desc);
                for (size_t i = 0; i < m && (int64_t)i < take; i++) mark[rk[i].row] = 1;
            }
        }
        if (filter == ASSAY__CL_BOTH) {
            for (size_t r = 0; r < n; r++) issue[r] = issue[r] && mark[r];
            free(mark);
        }
    }
    if (filter == ASSAY__CL_PREDICTED_NEQ_GIVEN)
        for (size_t r = 0; r < n; r++)
            if (y[r] >= 0) issue[r] = argmax_row(p + r * k, k) != (size_t)y[r];

    /* A row the model assigns to its own label is never an issue. */
    size_t issues = 0;
    for (size_t r = 0; r < n; r++) {
        if (y[r] < 0 || argmax_row(p + r * k, k) == (size_t)y[r]) issue[r] = 0;
        issues += issue[r];
    }
    if (out != NULL) {
        out->k = k;
        out->threshold = thr;
        out->joint = joint;
        out->calibrated = cj;
        out->prune = prune;
        out->rows = used;
        out->issues = issues;
        thr = NULL;
        joint = cj = prune = NULL;
    }
done:
    free(thr);
    free(cal);
    free(joint);
    free(cj);
    free(prune);
    free(count);
    free(start);
    free(fill);
    free(cutf);
    free(rows);
    free(fk);
    free(rk);
    return s;
}

/* ---- the detector ---- */

static const char *const k_filter_name[] = {"prune_by_noise_rate", "prune_by_class", "both",
                                            "confident_learning", "predicted_neq_given"};

static assay_status detect_confident(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    const size_t n = ds->n, k = ds->n_classes;
    for (size_t r = 0; r < n; r++) {
        score[r] = NAN;
        ev[r] = 0.0f;
    }
    /* The probabilities: the user's, or cross-fitted from the embeddings when none are given
     * (owned by this run, freed at its end). */
    const float *probs = ds->pred_probs;
    float *fitted = NULL;
    assay__crossfit_info cf;
    memset(&cf, 0, sizeof cf);
    if (probs == NULL) {
        const size_t folds = (size_t)assay__param(in->opts, ASSAY__P_CROSSFIT_FOLDS);
        const char *why = folds == 0 ? "no predicted probabilities (give --pred-probs or "
                                       "--pred-probs-file, or cross-fit with --crossfit-folds)"
                          : k < 2    ? "fewer than 2 classes"
                                     : assay__crossfit_unusable(ds, folds);
        if (why != NULL) {
            sum->ran = 0;
            sum->note = why;
            return ASSAY_OK;
        }
        if ((fitted = malloc(n * k * sizeof *fitted)) == NULL)
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (confident)");
        assay__crossfit_opts co = {folds, (uint64_t)assay__param(in->opts, ASSAY__P_SEED), 0.0, 0};
        assay_status cs = assay__crossfit_probs(ctx, ds, &co, fitted, &cf);
        if (cs != ASSAY_OK) {
            free(fitted);
            assay__errmsg_prefix(ctx, "confident");
            return cs;
        }
        probs = fitted;
        snprintf(sum->note_text, sizeof sum->note_text,
                 "predicted probabilities cross-fitted, %zu folds, %s (ridge %.0e, inverse "
                 "temperature %.3g): out-of-fold accuracy %.4f on the given labels",
                 folds, ASSAY__CROSSFIT_MODEL, cf.alpha_median, cf.temperature, cf.accuracy);
        sum->note = sum->note_text;
    } else if (ds->pp_rows != n || ds->pp_cols != k || k < 2) {
        sum->ran = 0;
        sum->note = "predicted probabilities do not have one column per class";
        return ASSAY_OK;
    }
    const int filter = (int)assay__param(in->opts, ASSAY__P_CONFIDENT_FILTER);
    const int margin_rank = (int)assay__param(in->opts, ASSAY__P_CONFIDENT_RANK) == 1;
    sum->ran = 1;
    sum->threshold = NAN;
    switch (filter) {
    case ASSAY__CL_PRUNE_BY_CLASS:
        sum->rule = "confident learning (prune_by_class): per class, the rows with the lowest "
                    "predicted probability of their label, as many as the calibrated confident "
                    "joint estimates to be mislabelled; never a row predicted as its label";
        break;
    case ASSAY__CL_BOTH:
        sum->rule = "confident learning (both): rows chosen by prune_by_noise_rate and by "
                    "prune_by_class; never a row predicted as its label";
        break;
    case ASSAY__CL_CONFIDENT_LEARNING:
        sum->rule = "confident learning (confident_learning): rows confidently counted for "
                    "another class than their label; never a row predicted as its label";
        break;
    case ASSAY__CL_PREDICTED_NEQ_GIVEN:
        sum->rule = "the model's most probable class is not the row's label";
        break;
    default:
        sum->rule = "confident learning (prune_by_noise_rate, cleanlab's default): for every "
                    "pair of given and true class, as many rows as the calibrated confident "
                    "joint holds there, those with the largest margin p(true) - p(given); never "
                    "a row predicted as its label";
    }

    int32_t *y = calloc(n ? n : 1, sizeof *y);
    uint8_t *issue = malloc(n ? n : 1);
    int32_t *rt = assay__out_row_tests(out);
    assay__cl_result cl;
    memset(&cl, 0, sizeof cl);
    assay_status s = ASSAY_OK;
    if (y == NULL || issue == NULL || rt == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (confident)");
        goto done;
    }
    /* Rows with a declared label and a finite probability row. */
    for (size_t r = 0; r < n; r++) {
        const float *pr = probs + r * k;
        int ok = ds->y[r] >= 0;
        for (size_t j = 0; j < k && ok; j++) ok = isfinite(pr[j]);
        y[r] = ok ? ds->y[r] : -1;
    }
    if ((s = assay__cl_find_issues(ctx, y, probs, n, k, filter, issue, &cl)) != ASSAY_OK) goto done;

    double sum_self = 0.0;
    size_t hits = 0;
    for (size_t r = 0; r < n; r++) {
        if (y[r] < 0) continue;
        const float *pr = probs + r * k;
        double own = pr[y[r]], other = -INFINITY;
        for (size_t j = 0; j < k; j++)
            if (j != (size_t)y[r] && pr[j] > other) other = pr[j];
        /* cleanlab's label quality scores: self-confidence p(given), or the normalised margin
         * (p(given) - max other + 1) / 2; the detector score is 1 - quality. */
        double sc = margin_rank ? (1.0 - (own - other)) / 2.0 : 1.0 - own;
        if (sc < 0.0) sc = 0.0;
        if (sc > 1.0) sc = 1.0;
        score[r] = (float)sc;
        sum_self += own;
        hits += argmax_row(pr, k) == (size_t)y[r];
        sum->rows_scored++;
    }

    /* With probabilities cross-fitted here, the model is a linear one whose own mistakes on
     * clean data confident learning marks as issues too: about half of its out-of-fold errors
     * (0.31 to 0.54 of them on clean blobs and Fashion-MNIST raw and PCA-64, 3,000 to 10,000
     * rows). So the tolerance is at least CL_CROSSFIT_ERROR_SHARE x its out-of-fold error. */
    double tolerance = assay__param(in->opts, ASSAY__P_CONFIDENT_TOLERANCE);
    if (fitted != NULL && CL_CROSSFIT_ERROR_SHARE * (1.0 - cf.accuracy) > tolerance)
        tolerance = CL_CROSSFIT_ERROR_SHARE * (1.0 - cf.accuracy);
    int32_t test = -1;
    s = assay__label_noise_test(out, cl.issues, cl.rows, tolerance,
                                fitted != NULL
                                    ? "are label issues by confident learning on cross-fitted "
                                      "probabilities (natural overlap and the model's own errors "
                                      "count too: tolerance at least 0.6 x its out-of-fold error)"
                                    : "are label issues by confident learning (natural overlap "
                                      "and the model's own errors count too)",
                                &test);
    for (size_t r = 0; r < n && s == ASSAY_OK; r++) {
        if (y[r] < 0) continue;
        /* Evidence: 0.5 and up for the rows flagged (resting on the test), rising with
         * 1 - quality; below 0.5 else, ranking the rows by 1 - self-confidence without the test
         * (scaled down with an insignificant test, it fell below other detectors' unsupported
         * evidence). Showing its rows without the test (a Bayes posterior from the model, or on
         * the consensus of both label detectors) was measured on the quality suite and not kept:
         * held out, it met fewer flag targets than knn-label's noise model alone (7 against 9). */
        rt[r] = issue[r] ? test : -1;
        ev[r] = issue[r] ? 0.5f + 0.5f * score[r] : 0.49f * score[r];
        if (!issue[r]) continue;
        const float *pr = probs + r * k;
        size_t best = argmax_row(pr, k);
        assay__finding f = {
            r,        ASSAY_DET_CONFIDENT, ASSAY_SEV_MEDIUM, filter, score[r], pr[y[r]],
            pr[best], cl.threshold[y[r]],  (int64_t)best,    test};
        s = assay__out_finding(out, &f);
    }
    sum->stat_name[0] = "label_issues";
    sum->stat[0] = (double)cl.issues;
    sum->stat_name[1] = "mean_self_confidence";
    sum->stat[1] = cl.rows ? sum_self / (double)cl.rows : NAN;
    {
        /* The calibrated joint's off-diagonal mass: confident learning's estimate of the
         * number of label errors. */
        int64_t off = 0;
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++)
                if (i != j) off += cl.calibrated[i * k + j];
        sum->stat_name[2] = "estimated_label_errors";
        sum->stat[2] = (double)off;
    }
    sum->stat_name[3] = "filter";
    sum->stat[3] = filter;
    /* How well the probabilities' most probable class matches the given labels (out of fold
     * when cross-fitted), and the folds (0: the probabilities were given). */
    sum->stat_name[4] = "accuracy";
    sum->stat[4] = cl.rows ? (double)hits / (double)cl.rows : NAN;
    sum->stat_name[5] = "crossfit_folds";
    sum->stat[5] = fitted != NULL ? (double)cf.folds : 0.0;
    if (fitted == NULL) {
        snprintf(sum->note_text, sizeof sum->note_text,
                 "predicted probabilities given: accuracy %.4f on the given labels", sum->stat[4]);
        sum->note = sum->note_text;
    }
done:
    assay__cl_result_free(&cl);
    free(y);
    free(issue);
    free(fitted);
    return s;
}

static void explain_confident(const assay__det_input *in, const assay__det_out *out,
                              const assay__finding *f, char *buf, size_t len) {
    (void)out;
    const assay_dataset *ds = in->ds;
    const char *own = ds->y[f->row] >= 0 ? ds->class_name[ds->y[f->row]] : "?";
    const char *best = f->ref >= 0 && (size_t)f->ref < ds->n_classes ? ds->class_name[f->ref] : "?";
    const char *mode = f->why >= 0 && f->why <= 4 ? k_filter_name[f->why] : "?";
    snprintf(buf, len,
             "labelled '%s' but the model gives it %.0f%% probability (the class's rows average "
             "%.0f%%) and %.0f%% to '%s'; confident learning (%s) marks it a label issue",
             own, 100.0 * f->a, 100.0 * f->c, 100.0 * f->b, best, mode);
}

static const char *const k_reasons[] = {"confident_learning_label_issue", NULL};
static const assay__ev_field k_fields[] = ASSAY__EV_ABC(
    "the model's probability of the row's label", "its probability of its most probable class",
    "the class's confident-learning threshold (mean probability of the class over its rows)",
    "the most probable class (index)");

const assay__detector_desc assay__detector_confident = {
    .kind = ASSAY__KIND_LABEL,
    .severity = ASSAY_SEV_HIGH,
    .family = "model labels",
    .on_clean = "Needs a model's out-of-sample probabilities (given, or cross-fitted from the "
                "embeddings when none are given); in-sample probabilities of an overfitted model "
                "hide flips, a weak model over-flags. Rows are for review; the test fails only "
                "beyond --confident-tolerance (with cross-fitted probabilities, at least 0.6 x "
                "their out-of-fold error).",
    .inputs = "labels and predicted probabilities (--pred-probs, else cross-fitted from the "
              "embeddings)",
    .run = detect_confident,
    .explain = explain_confident,
    .reasons = k_reasons,
    .fields = k_fields,
};

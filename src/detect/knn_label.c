/* SPDX-License-Identifier: Apache-2.0 */
/* knn-label: label consistency with the neighbourhood. A row's label is put to the vote of the
 * rows around it: its k nearest neighbours and the rows that count it among their k nearest
 * (the symmetrised k-NN graph). A row whose label gets few of the votes is a candidate for a
 * flipped label; the label with the most votes is the suggested correction. With
 * expected-poison given, Deep k-NN (Peri et al., ECCV workshops 2020) also flags every row whose
 * label is not the plurality label of its k nearest neighbours, with k = 2 x the expected
 * poisons per class. Those two flags wait for the dataset-level label-noise test (more rejected
 * labels than natural class overlap explains); a row whose label is more likely wrong than right
 * under the label noise estimated from the data (detect/noise_model.c) is shown whatever the
 * test says, and the test decides the gate. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/label.h"
#include "core/stats.h"
#include "detect/params.h"

/* Finding reason codes of knn-label (finding.why). */
#define KNN_WHY_THRESHOLD 0 /* score >= label threshold */
#define KNN_WHY_PLURALITY 1 /* Deep k-NN: the label is not the neighbours' plurality label */
#define KNN_WHY_NOISE     2 /* the label is more likely wrong than right (noise model) */

/* Classes above this many get no confident-learning statistic (it needs n x classes floats). */
#define KNN_CL_MAX_CLASSES 256
/* Fewer labelled rows in the graph than this: no label-noise model (nothing to estimate it on),
 * only the vote threshold. */
#define KNN_NOISE_MIN_ROWS 100

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Weight offset for distance weighting: the median nearest-neighbour distance over positive
 * values, so exact duplicates (distance 0) weigh a finite, comparable amount. */
static float weight_tau(const assay__graph *g, const uint8_t *in_graph) {
    size_t m = 0;
    float *d1 = malloc((g->n ? g->n : 1) * sizeof *d1);
    if (d1 == NULL) return 1e-6f;
    for (size_t r = 0; r < g->n; r++)
        if (in_graph[r] && g->dist[r * g->k] > 0.0f) d1[m++] = g->dist[r * g->k];
    float tau = 1e-6f;
    if (m > 0) {
        qsort(d1, m, sizeof *d1, cmp_float);
        tau = d1[m / 2];
    }
    free(d1);
    return tau > 0.0f ? tau : 1e-6f;
}

/* ---- shared with confident and valuation (detect/label.h) ---- */

void assay__knn_label_probs(const assay__det_input *in, float *p) {
    const assay_dataset *ds = in->ds;
    const assay__graph *g = in->graph;
    const size_t k = g->k, nc = ds->n_classes;
    memset(p, 0, ds->n * nc * sizeof *p);
    for (size_t r = 0; r < ds->n; r++) {
        if (g->ids[r * k] < 0) continue;
        size_t listed = 0;
        for (size_t c = 0; c < k; c++) {
            int64_t nb = g->ids[r * k + c];
            if (nb < 0) continue;
            listed++;
            if (ds->y[nb] >= 0) p[r * nc + (size_t)ds->y[nb]] += 1.0f;
        }
        for (size_t j = 0; j < nc && listed > 0; j++) p[r * nc + j] /= (float)listed;
    }
}

uint32_t assay__deep_knn_k(const assay_scan_opts *o, size_t rows, size_t n_classes) {
    double e = assay__param(o, ASSAY__P_EXPECTED_POISON);
    if (!(e > 0.0) || n_classes == 0 || rows < 2) return 0;
    double k = ceil(2.0 * e * (double)rows / (double)n_classes);
    if (k > ASSAY__DEEP_KNN_MAX_K) k = ASSAY__DEEP_KNN_MAX_K;
    if (k > (double)(rows - 1)) k = (double)(rows - 1);
    return k < 1.0 ? 1u : (uint32_t)k;
}

assay_status assay__label_noise_test(assay__det_out *out, size_t rejected, size_t rows,
                                     double tolerance, const char *what, int32_t *index) {
    double p = rows > 0 ? assay__binom_sf((double)rejected, (double)rows, tolerance) : NAN;
    assay__test t = {.det = out->id,
                     .cls = -1,
                     .stat_name = "rejected_label_rows",
                     .stat = (double)rejected,
                     .p = p,
                     .null =
                         "one-sided binomial tail against the tolerated share (what natural class "
                         "overlap may explain)",
                     .q = NAN};
    snprintf(t.detail, sizeof t.detail,
             "%zu of %zu rows (%.2f%%) %s; up to %.2f%% is tolerated as natural", rejected, rows,
             rows ? 100.0 * (double)rejected / (double)rows : 0.0, what, 100.0 * tolerance);
    return assay__out_test(out, &t, index);
}

/* ---- the detector ---- */

/* Reverse adjacency of the graph: for every row the graph positions (s * k + c) that list it,
 * in order of s. start has n + 1 entries. */
static assay_status reverse_graph(assay_ctx *ctx, const assay__graph *g, size_t **start,
                                  size_t **pos) {
    const size_t n = g->n, k = g->k;
    size_t *st = calloc(n + 1, sizeof *st);
    size_t *ps = malloc((n * k > 0 ? n * k : 1) * sizeof *ps);
    if (st == NULL || ps == NULL) {
        free(st);
        free(ps);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (knn-label)");
    }
    for (size_t i = 0; i < n * k; i++)
        if (g->ids[i] >= 0) st[g->ids[i] + 1]++;
    for (size_t r = 0; r < n; r++) st[r + 1] += st[r];
    for (size_t i = 0; i < n * k; i++)
        if (g->ids[i] >= 0) ps[st[g->ids[i]]++] = i;
    for (size_t r = n; r > 0; r--) st[r] = st[r - 1];
    st[0] = 0;
    *start = st;
    *pos = ps;
    return ASSAY_OK;
}

/* Votes for the labels around one row. Classes are kept in order of first appearance (nearest
 * neighbours first, then the rows that list this one, in row order), so a tie between classes
 * goes to the one seen first. */
typedef struct votes {
    double *w;     /* per class, 0 outside the touched list */
    int32_t *seen; /* touched classes in order of first appearance */
    size_t n_seen;
    double total; /* all votes, those of rows with an undeclared label included */
} votes;

static void vote(votes *v, int32_t y, double wt) {
    if (!(wt >= DBL_MIN)) wt = DBL_MIN; /* positive, so w[y] != 0 marks a touched class */
    v->total += wt;
    if (y < 0) return;
    if (v->w[y] == 0.0) v->seen[v->n_seen++] = y;
    v->w[y] += wt;
}

static void votes_clear(votes *v) {
    for (size_t i = 0; i < v->n_seen; i++) v->w[v->seen[i]] = 0.0;
    v->n_seen = 0;
    v->total = 0.0;
}

/* Deep k-NN on row r: the count of its own label among its kd nearest neighbours, the largest
 * count of another label (*top) and that label (*plur, the nearer one on ties). cnt holds a zero
 * per class and is left so. */
static uint32_t plurality(const assay_dataset *ds, const assay__graph *g, size_t r, size_t kd,
                          uint32_t *cnt, uint32_t *top, int32_t *plur) {
    const int64_t *nb = g->ids + r * g->k;
    const int32_t own = ds->y[r];
    for (size_t c = 0; c < kd; c++)
        if (nb[c] >= 0 && ds->y[nb[c]] >= 0) cnt[ds->y[nb[c]]]++;
    *top = 0;
    *plur = -1;
    for (size_t c = 0; c < kd; c++) {
        if (nb[c] < 0 || ds->y[nb[c]] < 0 || ds->y[nb[c]] == own) continue;
        if (cnt[ds->y[nb[c]]] > *top) {
            *top = cnt[ds->y[nb[c]]];
            *plur = ds->y[nb[c]];
        }
    }
    uint32_t mine = cnt[own];
    for (size_t c = 0; c < kd; c++)
        if (nb[c] >= 0 && ds->y[nb[c]] >= 0) cnt[ds->y[nb[c]]] = 0;
    return mine;
}

assay_status assay__knn_label_votes(const assay__det_input *in, float *score, int32_t *suggested,
                                    float *best_share, uint32_t *voters, size_t *rows_scored,
                                    size_t *rejected, float *tau_out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    const assay__graph *g = in->graph;
    const size_t k = g->k, n = ds->n, nc = ds->n_classes;
    const int weighted = in->opts->weighted;
    const float t = (float)in->opts->label_threshold;
    uint8_t *in_graph = malloc(n ? n : 1);
    double *w = calloc(nc ? nc : 1, sizeof *w);
    int32_t *seen = malloc((nc ? nc : 1) * sizeof *seen);
    size_t *rstart = NULL, *rpos = NULL;
    assay_status s = ASSAY_OK;
    if (in_graph == NULL || w == NULL || seen == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (knn-label)");
        goto done;
    }
    if ((s = reverse_graph(ctx, g, &rstart, &rpos)) != ASSAY_OK) goto done;
    for (size_t r = 0; r < n; r++) in_graph[r] = g->ids[r * k] >= 0;
    const float tau = weighted ? weight_tau(g, in_graph) : 0.0f;
    if (tau_out != NULL) *tau_out = tau;
    votes v = {w, seen, 0, 0.0};
    *rows_scored = *rejected = 0;
    for (size_t r = 0; r < n; r++) {
        score[r] = NAN;
        if (suggested != NULL) suggested[r] = -1;
        if (best_share != NULL) best_share[r] = 0.0f;
        if (voters != NULL) voters[r] = 0;
        int32_t own = ds->y[r];
        if (!in_graph[r] || own < 0) continue;
        /* The symmetrised neighbourhood: the k neighbours of r, then every row listing r. */
        votes_clear(&v);
        uint32_t nv = 0;
        for (size_t c = 0; c < k; c++) {
            int64_t nb = g->ids[r * k + c];
            if (nb < 0) continue;
            vote(&v, ds->y[nb], weighted ? 1.0 / ((double)g->dist[r * k + c] + tau) : 1.0);
            nv++;
        }
        for (size_t i = rstart[r]; i < rstart[r + 1]; i++) {
            vote(&v, ds->y[rpos[i] / k], weighted ? 1.0 / ((double)g->dist[rpos[i]] + tau) : 1.0);
            nv++;
        }
        double own_w = w[own], best_w = -1.0;
        int32_t best = -1;
        for (size_t j = 0; j < v.n_seen; j++)
            if (w[seen[j]] > best_w) {
                best_w = w[seen[j]];
                best = seen[j];
            }
        float sc = (float)(1.0 - own_w / v.total);
        score[r] = sc > 0.0f ? sc : 0.0f;
        (*rows_scored)++;
        *rejected += score[r] >= t;
        if (voters != NULL) voters[r] = nv;
        if (best >= 0 && best != own && best_w > own_w) {
            if (suggested != NULL) suggested[r] = best;
            if (best_share != NULL) best_share[r] = (float)(best_w / v.total);
        }
    }
done:
    free(in_graph);
    free(w);
    free(seen);
    free(rstart);
    free(rpos);
    return s;
}

static assay_status detect_knn_label(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    const assay__graph *g = in->graph;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    const float t = (float)in->opts->label_threshold;
    const size_t k = g->k, n = ds->n, nc = ds->n_classes;
    const int weighted = in->opts->weighted;
    sum->ran = 1;
    sum->threshold = t;

    uint32_t *cnt = calloc(nc ? nc : 1, sizeof *cnt);
    float *best_share = malloc((n ? n : 1) * sizeof *best_share);
    uint32_t *voters = malloc((n ? n : 1) * sizeof *voters);
    int32_t *sug = malloc((n ? n : 1) * sizeof *sug);
    int32_t *rt = assay__out_row_tests(out);
    int32_t *suggested = assay__out_suggested(out);
    float *probs = NULL, *post = NULL;
    uint8_t *issue = NULL;
    int32_t *yy = NULL;
    assay_status s = ASSAY_OK;
    if (cnt == NULL || best_share == NULL || voters == NULL || sug == NULL || rt == NULL ||
        suggested == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (knn-label)");
        goto done;
    }

    /* Deep k-NN: with expected-poison, the plurality label of the kd nearest neighbours. The
     * scan builds a graph with at least kd neighbours; a graph file may have fewer. */
    size_t usable = 0;
    for (size_t r = 0; r < n; r++) usable += g->ids[r * k] >= 0 && ds->y[r] >= 0;
    const uint32_t kd_want = assay__deep_knn_k(in->opts, usable, nc);
    const size_t kd = kd_want < k ? kd_want : k;
    if (kd_want > k)
        sum->note = "Deep k-NN wanted more neighbours than the graph has (a graph file built "
                    "with a smaller -k): it used all of them";
    /* The rule in words: the noise-model flag (shown whatever the test says), then the vote
     * threshold and Deep k-NN, which wait for the label-noise test. */
    static const char *const rules[2][2] = {
        {"label more likely wrong than right under the label-noise model estimated from the "
         "neighbours' labels (always shown); or 1 - share of the votes of the row's k neighbours "
         "and of the rows listing it as a neighbour that carry its label >= threshold, when the "
         "label-noise test is significant",
         "label more likely wrong than right under the label-noise model estimated from the "
         "neighbours' labels (always shown); or 1 - share of the votes of the row's k neighbours "
         "and of the rows listing it as a neighbour that carry its label >= threshold, or (Deep "
         "k-NN) its label is not the plurality label of its nearest neighbours, when the "
         "label-noise test is significant"},
        {"label more likely wrong than right under the label-noise model estimated from the "
         "neighbours' labels (always shown); or 1 - distance-weighted share of the votes of the "
         "row's k neighbours and of the rows listing it as a neighbour that carry its label >= "
         "threshold, when the label-noise test is significant",
         "label more likely wrong than right under the label-noise model estimated from the "
         "neighbours' labels (always shown); or 1 - distance-weighted share of the votes of the "
         "row's k neighbours and of the rows listing it as a neighbour that carry its label >= "
         "threshold, or (Deep k-NN) its label is not the plurality label of its nearest "
         "neighbours, when the label-noise test is significant"}};
    sum->rule = rules[weighted != 0][kd > 0];

    size_t rejected = 0, deep = 0, disagree = 0, noisy = 0;
    float tau = 0.0f;
    s = assay__knn_label_votes(in, score, sug, best_share, voters, &sum->rows_scored, &rejected,
                               &tau);
    if (s != ASSAY_OK) goto done;
    double sum_score = 0.0;
    for (size_t r = 0; r < n; r++) {
        ev[r] = 0.0f;
        if (isnan(score[r])) continue;
        sum_score += score[r];
        if (sug[r] >= 0) {
            suggested[r] = sug[r];
            disagree++;
        }
    }

    /* The neighbours' class distribution: confident learning on it (as cleanlab's Datalab
     * finds label issues from features; its count is reported), and the label-noise model whose
     * posterior flags rows whatever the dataset test says (detect/noise_model.c). */
    double cl_issues = NAN;
    if (nc >= 2 && nc <= KNN_CL_MAX_CLASSES) {
        probs = malloc(n * nc * sizeof *probs);
        issue = malloc(n ? n : 1);
        yy = malloc((n ? n : 1) * sizeof *yy);
        post = malloc((n ? n : 1) * sizeof *post);
        out->matrix = malloc(nc * nc * sizeof *out->matrix);
        if (probs == NULL || issue == NULL || yy == NULL || post == NULL || out->matrix == NULL) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (knn-label)");
            goto done;
        }
        assay__knn_label_probs(in, probs);
        for (size_t r = 0; r < n; r++) yy[r] = g->ids[r * k] >= 0 ? ds->y[r] : -1;
        assay__cl_result cl;
        s = assay__cl_find_issues(ctx, yy, probs, n, nc, ASSAY__CL_PRUNE_BY_NOISE_RATE, issue, &cl);
        if (s != ASSAY_OK) goto done;
        cl_issues = (double)cl.issues;
        if (cl.rows >= KNN_NOISE_MIN_ROWS) {
            s = assay__noise_posterior(ctx, yy, probs, n, nc, &cl, post, out->matrix);
            out->matrix_k = nc;
            out->matrix_name = "label_noise_transition";
        } else {
            free(post);
            free(out->matrix);
            post = NULL;
            out->matrix = NULL;
        }
        assay__cl_result_free(&cl);
        if (s != ASSAY_OK) goto done;
    }

    /* The dataset-level test every row's flag depends on. */
    int32_t test = -1;
    s = assay__label_noise_test(out, rejected, sum->rows_scored,
                                assay__param(in->opts, ASSAY__P_LABEL_NOISE_TOLERANCE),
                                "have a label their neighbourhood rejects (score >= the label "
                                "threshold)",
                                &test);
    for (size_t r = 0; r < n && s == ASSAY_OK; r++) {
        if (isnan(score[r])) continue;
        rt[r] = test;
        const float sc = score[r];
        ev[r] = assay__evidence_from_threshold(sc, t);
        uint32_t top = 0, mine = 0;
        int32_t plur = -1;
        if (kd > 0) {
            mine = plurality(ds, g, r, kd, cnt, &top, &plur);
            deep += top > mine;
        }
        if (post != NULL && post[r] > 0.5f) {
            /* Shown whatever the dataset test says: no row_test. Evidence is the probability
             * that the label is wrong, ties broken by the vote score. */
            rt[r] = -1;
            ev[r] = 0.999f * post[r] + 0.001f * sc;
            noisy++;
            /* a, b: the shares of the row's label and of the suggested one; c: P(wrong) */
            assay__finding f = {r,
                                ASSAY_DET_KNN_LABEL,
                                ASSAY_SEV_MEDIUM,
                                KNN_WHY_NOISE,
                                sc,
                                1.0 - (double)sc,
                                best_share[r],
                                post[r],
                                suggested[r],
                                -1};
            s = assay__out_finding(out, &f);
        } else if (sc >= t) {
            /* a, b: the shares of the row's label and of the suggested one; c: the voters. */
            assay__finding f = {r,
                                ASSAY_DET_KNN_LABEL,
                                ASSAY_SEV_MEDIUM,
                                KNN_WHY_THRESHOLD,
                                sc,
                                1.0 - (double)sc,
                                best_share[r],
                                (double)voters[r],
                                suggested[r],
                                test};
            s = assay__out_finding(out, &f);
        } else if (top > mine) {
            /* Deep k-NN alone: evidence from just above the flag line, rising with the score. */
            ev[r] = 0.5f + 0.25f * (t > 0.0f ? sc / t : 1.0f);
            assay__finding f = {r,
                                ASSAY_DET_KNN_LABEL,
                                ASSAY_SEV_MEDIUM,
                                KNN_WHY_PLURALITY,
                                sc,
                                (double)mine,
                                (double)top,
                                (double)kd,
                                plur,
                                test};
            s = assay__out_finding(out, &f);
        } else if (post != NULL) {
            /* Not flagged: below the flag line the row is ranked by the same probability that
             * its label is wrong, which stands without the dataset test as the flags above do
             * (scaled by an insignificant test, the vote evidence of 2% flipped labels fell
             * below clean rows' outlier evidence). */
            rt[r] = -1;
            ev[r] = fminf(0.999f * post[r] + 0.001f * sc, nextafterf(0.5f, 0.0f));
        }
    }
    if (s != ASSAY_OK) goto done;

    sum->stat_name[0] = "mean_score";
    sum->stat[0] = sum->rows_scored ? sum_score / (double)sum->rows_scored : 0.0;
    sum->stat_name[1] = kd > 0 ? "deep_knn_flagged_rows" : "majority_disagrees_rows";
    sum->stat[1] = kd > 0 ? (double)deep : (double)disagree;
    sum->stat_name[2] = kd > 0 ? "deep_knn_k" : "weight_tau";
    sum->stat[2] = kd > 0 ? (double)kd : (double)tau;
    sum->stat_name[3] = "confident_learning_issues";
    sum->stat[3] = cl_issues;
    sum->stat_name[4] = "likely_wrong_label_rows";
    sum->stat[4] = post != NULL ? (double)noisy : NAN;
done:
    free(cnt);
    free(best_share);
    free(voters);
    free(sug);
    free(probs);
    free(post);
    free(issue);
    free(yy);
    return s;
}

/* The row's class as "'Coat'" or, when the label is outside the declared set, its raw value. */
static const char *row_class(const assay_dataset *ds, size_t r, char *buf, size_t len) {
    if (ds->y[r] >= 0) return assay__class_text(ds, ds->y[r]);
    return assay__label_text(ds, r, buf, len);
}

static void explain_knn_label(const assay__det_input *in, const assay__det_out *out,
                              const assay__finding *f, char *buf, size_t len) {
    (void)out;
    const assay_dataset *ds = in->ds;
    char lb[32];
    const char *own = row_class(ds, f->row, lb, sizeof lb);
    /* why 0 (score >= threshold): a, b = shares of the row's label and of the suggested one
     * among the votes, c = voters (the k neighbours and the rows listing this one); why 1
     * (Deep k-NN): a, b = counts of the row's label and of the plurality label among the c
     * nearest neighbours. */
    size_t k = in->graph->k;
    double rev = f->c > (double)k ? f->c - (double)k : 0.0;
    if (f->why == KNN_WHY_NOISE) {
        int n = snprintf(buf, len,
                         "label '%s' is more likely wrong than right (probability %.2f under the "
                         "label noise estimated from this dataset): it has %.0f%% of the votes "
                         "of the rows around it (its %zu nearest neighbours and the rows that "
                         "count it among theirs)",
                         own, f->c, 100.0 * f->a, k);
        if (f->ref >= 0 && n > 0 && (size_t)n < len)
            snprintf(buf + n, len - (size_t)n, ", '%s' has %.0f%%",
                     assay__class_text(ds, (int32_t)f->ref), 100.0 * f->b);
    } else if (f->why == KNN_WHY_PLURALITY) {
        snprintf(buf, len,
                 "label '%s' is carried by %.0f of its %.0f nearest neighbours and '%s' by "
                 "%.0f: it is not their plurality label (Deep k-NN)",
                 own, f->a, f->c, assay__class_text(ds, (int32_t)f->ref), f->b);
    } else if (in->opts->weighted) {
        snprintf(buf, len,
                 "label '%s' has %.0f%% of the distance-weighted votes of the %.0f rows "
                 "around it (its %zu nearest neighbours and %.0f rows that count it among "
                 "theirs); '%s' has %.0f%%",
                 own, 100.0 * f->a, f->c, k, rev, assay__class_text(ds, (int32_t)f->ref),
                 100.0 * f->b);
    } else if (f->ref >= 0) {
        snprintf(buf, len,
                 "label '%s' is carried by %.0f of the %.0f rows around it (its %zu nearest "
                 "neighbours and %.0f rows that count it among theirs); %.0f of them are "
                 "labelled '%s'",
                 own, f->a * f->c, f->c, k, rev, f->b * f->c,
                 assay__class_text(ds, (int32_t)f->ref));
    } else {
        snprintf(buf, len,
                 "label '%s' is carried by only %.0f of the %.0f rows around it (its %zu "
                 "nearest neighbours and %.0f rows that count it among theirs), which are "
                 "split between other labels",
                 own, f->a * f->c, f->c, k, rev);
    }
}

/* The shares, and the neighbourhood the vote was taken in (the graph's k, weighting). */
static size_t evidence_knn_label(const assay__det_input *in, const assay__det_out *out,
                                 const assay__finding *f, assay__ev_value *v) {
    (void)out;
    v[0].num = f->a;
    v[1].num = f->b;
    v[2].num = (double)in->graph->k;
    v[3].num = in->opts->weighted;
    if (f->why != KNN_WHY_NOISE) return 4;
    v[4].num = f->c;
    return 5;
}

static const char *const k_reasons[] = {"label_disagrees_with_neighbours",
                                        "label_not_neighbours_plurality", "label_likely_wrong",
                                        NULL};
static const assay__ev_field k_fields[] = {
    {"own_label_share", ASSAY__EV_NUMBER, ASSAY__FROM_FN,
     "share of the votes carrying the row's label (Deep k-NN: its count among the nearest)"},
    {"suggested_label_share", ASSAY__EV_NUMBER, ASSAY__FROM_FN,
     "share of the votes carrying the suggested label (Deep k-NN: the plurality label's count)"},
    {"k", ASSAY__EV_INTEGER, ASSAY__FROM_FN, "neighbours per row in the graph"},
    {"weighted", ASSAY__EV_BOOL, ASSAY__FROM_FN, "votes weighted by inverse distance"},
    {"wrong_label_probability", ASSAY__EV_NUMBER, ASSAY__FROM_FN,
     "label_likely_wrong only: the probability that the label is wrong under the label noise "
     "estimated from the dataset (flagged above 0.5)"},
    {NULL, 0, 0, NULL}};

const assay__detector_desc assay__detector_knn_label = {
    .kind = ASSAY__KIND_LABEL,
    .severity = ASSAY_SEV_HIGH,
    .family = "neighbourhood labels",
    .on_clean =
        "Rows are flagged for review whatever the noise rate; the test fails only when "
        "more rows are rejected than the tolerance allows. If your classes overlap "
        "naturally, measure the share on data you trust and set --label-noise-tolerance to it.",
    .inputs = "labels and the neighbour graph",
    .run = detect_knn_label,
    .explain = explain_knn_label,
    .reasons = k_reasons,
    .fields = k_fields,
    .evidence = evidence_knn_label,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* ordering: is the row order independent of the content? In a shuffled (IID) file a row's
 * neighbours sit anywhere; poison appended as a block, or data concatenated from sources, puts
 * neighbours next to each other in the file. The dataset test compares the index gaps |i - j| of
 * the kNN pairs with the gaps of random pairs (cleanlab's non-IID check): the statistic is the
 * largest excess of the pairs' gap CDF over the random-pair CDF (one-sided Kolmogorov-Smirnov),
 * its p-value comes from random permutations of the row order. A row is flagged (low, for
 * review) when more of its neighbours lie within the window of that largest excess than random
 * order explains, and only when the dataset test is significant. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "detect/params.h"
#include "detect/detector.h"

/* Gaps are counted in bins of 2^shift rows, at most ORD_BINS bins: the histogram stays in L1
 * while the permutations fill it, and the statistic is the same sup over bin edges for the data
 * and for every permutation. */
#define ORD_BINS 4096

typedef struct ord_job {
    const uint32_t *nbpos; /* partner positions of the pairs, grouped by the first row */
    const size_t *off;     /* pairs of the row at position i: nbpos[off[i] .. off[i + 1]) */
    size_t m;
    unsigned shift;
    size_t nbins;
    const double *f0; /* f0[b] = P(gap <= upper edge of bin b) for random distinct pairs */
    double pairs;     /* number of kNN pairs */
    uint64_t seed;
    double *stat;   /* per permutation: D+ */
    uint32_t *perm; /* per worker: m */
    uint32_t *hist; /* per worker: nbins */
} ord_job;

/* Share of the largest excess that defines the rows' window (see ks_excess). */
#define ORD_WINDOW_SHARE 0.9

/* D+ = max over bin edges of (F_pairs - F0) from the binned gap histogram. *arg_b (may be NULL)
 * receives the window: the first bin whose excess reaches ORD_WINDOW_SHARE x D+. Past a block
 * of similar rows the excess stays on a plateau (F_pairs and F0 grow alike), where noise would
 * place the maximum anywhere; the start of the plateau is the block's length. */
static double ks_excess(const uint32_t *h, size_t nbins, const double *f0, double pairs,
                        size_t *arg_b) {
    double best = 0.0, cum = 0.0;
    for (size_t b = 0; b < nbins; b++) {
        cum += h[b];
        double dplus = cum / pairs - f0[b];
        if (dplus > best) best = dplus;
    }
    if (arg_b == NULL) return best;
    *arg_b = nbins - 1;
    cum = 0.0;
    for (size_t b = 0; b < nbins && best > 0.0; b++) {
        cum += h[b];
        if (cum / pairs - f0[b] >= ORD_WINDOW_SHARE * best) {
            *arg_b = b;
            break;
        }
    }
    return best;
}

/* Binned gap histogram of the kNN pairs when the row at position i is placed at order[i]. */
static void gap_hist(const ord_job *J, const uint32_t *order, uint32_t *h) {
    memset(h, 0, J->nbins * sizeof *h);
    for (size_t i = 0; i < J->m; i++) {
        int64_t pi = order[i];
        for (size_t t = J->off[i]; t < J->off[i + 1]; t++) {
            int64_t d = pi - (int64_t)order[J->nbpos[t]];
            h[(uint64_t)(d < 0 ? -d : d) >> J->shift]++;
        }
    }
}

/* Uniform draw in [0, n), 0 < n < 2^32, by multiply-and-shift with rejection (Lemire): no
 * division in the common case, exactly uniform. */
static uint32_t draw_below(assay__rng *rng, uint32_t n) {
    uint64_t x = (assay__rng_next(rng) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)x;
    if (low < n) {
        uint32_t t = (uint32_t)(0u - n) % n;
        while (low < t) {
            x = (assay__rng_next(rng) >> 32) * (uint64_t)n;
            low = (uint32_t)x;
        }
    }
    return (uint32_t)(x >> 32);
}

/* One permutation: a random order of the rows (its own random stream, so the result does not
 * depend on the thread that ran it), its gap histogram and D+. */
static void ord_task(void *arg, size_t task, int worker) {
    ord_job *J = arg;
    uint32_t *perm = J->perm + (size_t)worker * J->m;
    uint32_t *h = J->hist + (size_t)worker * J->nbins;
    assay__rng rng = assay__rng_seed(J->seed, 1000003u + task);
    for (size_t i = 0; i < J->m; i++) perm[i] = (uint32_t)i;
    for (size_t i = J->m; i > 1; i--) {
        uint32_t j = draw_below(&rng, (uint32_t)i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    gap_hist(J, perm, h);
    J->stat[task] = ks_excess(h, J->nbins, J->f0, J->pairs, NULL);
}

static assay_status detect_ordering(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    const assay__graph *g = in->graph;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    const size_t n = ds->n, k = g->k;
    const size_t B = (size_t)assay__param(in->opts, ASSAY__P_ORDERING_PERMUTATIONS);
    const uint64_t seed = (uint64_t)assay__param(in->opts, ASSAY__P_SEED);
    const double fdr = assay__param(in->opts, ASSAY__P_FDR);
    sum->rule = "more of the row's k neighbours within W rows of it in the file than random "
                "order explains (binomial, Benjamini-Hochberg at fdr), W = the first gap where "
                "the excess of close pairs reaches 90% of its largest value, when the dataset's "
                "row order test is significant";
    int workers = ctx->n_threads > 0 ? ctx->n_threads : 1;
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    uint32_t *pos = malloc((n ? n : 1) * sizeof *pos);
    double *f0 = malloc((n ? n : 1) * sizeof *f0);
    double *stat = malloc((B ? B : 1) * sizeof *stat);
    uint32_t *perm = malloc((size_t)workers * (n ? n : 1) * sizeof *perm);
    uint32_t *hist = malloc((size_t)(workers + 1) * ORD_BINS * sizeof *hist);
    uint32_t *nbpos = malloc((n ? n : 1) * (k ? k : 1) * sizeof *nbpos);
    size_t *off = malloc((n + 1) * sizeof *off);
    double *p = malloc((n ? n : 1) * sizeof *p);
    double *work = malloc((n ? n : 1) * sizeof *work);
    double *q_row = malloc((n ? n : 1) * sizeof *q_row);
    uint32_t *cnt_row = malloc((n ? n : 1) * sizeof *cnt_row);
    int32_t *rt = assay__out_row_tests(out);
    assay_status s = ASSAY_OK;
    if (rows == NULL || pos == NULL || f0 == NULL || stat == NULL || perm == NULL || hist == NULL ||
        nbpos == NULL || off == NULL || p == NULL || work == NULL || q_row == NULL ||
        cnt_row == NULL || rt == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (ordering)");
        goto done;
    }
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
        pos[r] = UINT32_MAX;
        if (k > 0 && g->ids[r * k] >= 0) {
            pos[r] = (uint32_t)m;
            rows[m++] = r;
        }
    }
    if (m < 3 || k == 0) {
        sum->note = "fewer than 3 rows in the neighbour graph";
        goto done;
    }
    sum->ran = 1;
    ord_job J = {nbpos, off, m, 0, 0, f0, 0.0, seed, stat, perm, hist + ORD_BINS};
    while ((m - 1) >> J.shift >= ORD_BINS) J.shift++;
    J.nbins = ((m - 1) >> J.shift) + 1;
    /* The kNN pairs, each unordered pair once: a pair that both rows list is kept at the
     * earlier row. */
    size_t np = 0;
    for (size_t i = 0; i < m; i++) {
        off[i] = np;
        for (size_t c = 0; c < k; c++) {
            int64_t nb = g->ids[rows[i] * k + c];
            if (nb < 0) continue;
            if (pos[nb] < i) {
                int mutual = 0;
                for (size_t c2 = 0; c2 < k && !mutual; c2++)
                    mutual = g->ids[(size_t)nb * k + c2] == (int64_t)rows[i];
                if (mutual) continue;
            }
            nbpos[np++] = pos[nb];
        }
    }
    off[m] = np;
    J.pairs = (double)np;
    /* Random distinct pairs of m positions: P(gap = g) = 2 (m - g) / (m (m - 1)), so
     * P(gap <= g) = (2 m g - g (g + 1)) / (m (m - 1)), taken at each bin's upper edge. */
    const double md = (double)m;
    for (size_t b = 0; b < J.nbins; b++) {
        size_t edge = ((b + 1) << J.shift) - 1;
        double x = (double)(edge < m - 1 ? edge : m - 1);
        f0[b] = (2.0 * md * x - x * (x + 1.0)) / (md * (md - 1.0));
    }
    /* the observed order: position i at i */
    for (size_t i = 0; i < m; i++) perm[i] = (uint32_t)i;
    gap_hist(&J, perm, hist);
    size_t wbin = 0;
    double dobs = ks_excess(hist, J.nbins, f0, J.pairs, &wbin);
    size_t wgap = ((wbin + 1) << J.shift) - 1;
    if (wgap > m - 1) wgap = m - 1;
    double share_obs = 0.0; /* share of pairs within the window */
    for (size_t b = 0; b <= wbin; b++) share_obs += hist[b];
    share_obs /= J.pairs;
    const double f0w = f0[wbin];

    s = assay__parallel_for(ctx, B, workers, ord_task, &J);
    if (s != ASSAY_OK) goto done;
    /* p-value: the permutation count, smoothed in the tail by the one-sided KS limit law
     * P(D+ >= x) = exp(-2 n x^2) with the effective n matched to the permutations
     * (E[D+^2] = 1 / (2 n)): p = exp(-D^2 / mean(D_b^2)). The smooth tail lets a strong
     * departure reach below 1 / (B + 1); p is never below the share of permutations that reach
     * the observed value. */
    double msq = 0.0, mean = 0.0;
    size_t ge = 0;
    for (size_t b = 0; b < B; b++) {
        msq += stat[b] * stat[b];
        mean += stat[b];
        ge += stat[b] >= dobs;
    }
    msq /= (double)B;
    mean /= (double)B;
    double p_tail = msq > 0.0 ? exp(-dobs * dobs / msq) : (dobs > 0.0 ? 0.0 : 1.0);
    double p_count = (double)ge / (double)(B + 1);
    double pval = p_tail > p_count ? p_tail : p_count;
    if (pval > 1.0) pval = 1.0;

    assay__test t = {.det = ASSAY_DET_ORDERING,
                     .cls = -1,
                     .stat_name = "ks_excess_small_gaps",
                     .stat = dobs,
                     .p = pval,
                     .null =
                         "random permutations of the row order (ordering-permutations, seed), tail "
                         "smoothed by the one-sided Kolmogorov-Smirnov law",
                     .q = NAN,
                     /* files are sorted by class, time or source: alone an observation */
                     .sev = ASSAY_SEV_LOW};
    snprintf(t.detail, sizeof t.detail,
             "%.2f%% of the %.0f neighbour pairs are within %zu rows of each other in the "
             "file, random order gives %.2f%% (excess %.4f; permutations: mean %.4f)",
             100.0 * share_obs, J.pairs, wgap, 100.0 * f0w, dobs, mean);
    int32_t ti = -1;
    s = assay__out_test(out, &t, &ti);
    if (s != ASSAY_OK) goto done;

    /* Rows: the share of neighbours within the window; p-value binomial with the chance that a
     * random other row lies within the window of this row's position. */
    for (size_t i = 0; i < m; i++) {
        size_t r = rows[i];
        size_t cnt = 0, kk = 0;
        for (size_t c = 0; c < k; c++) {
            int64_t nb = g->ids[r * k + c];
            if (nb < 0) continue;
            kk++;
            int64_t d = (int64_t)pos[r] - (int64_t)pos[nb];
            cnt += (size_t)(d < 0 ? -d : d) <= wgap;
        }
        size_t before = i < wgap ? i : wgap, after = m - 1 - i < wgap ? m - 1 - i : wgap;
        double q = (double)(before + after) / (md - 1.0);
        score[r] = kk ? (float)((double)cnt / (double)kk) : NAN;
        p[i] = assay__binom_sf((double)cnt, (double)kk, q);
        q_row[i] = q;
        cnt_row[i] = (uint32_t)cnt;
    }
    double cutoff = assay__bh_cutoff(p, m, fdr, work);
    size_t flagged = 0;
    for (size_t i = 0; i < m && s == ASSAY_OK; i++) {
        size_t r = rows[i];
        ev[r] = assay__evidence_from_p(p[i], cutoff);
        rt[r] = ti;
        if (p[i] > cutoff) continue;
        flagged++;
        assay__finding f = {r,
                            ASSAY_DET_ORDERING,
                            ASSAY_SEV_LOW,
                            0,
                            score[r],
                            (double)cnt_row[i],
                            (double)wgap,
                            q_row[i],
                            -1,
                            ti};
        s = assay__out_finding(out, &f);
    }
    sum->rows_scored = m;
    sum->threshold = (double)wgap;
    sum->stat_name[0] = "ks_excess";
    sum->stat[0] = dobs;
    sum->stat_name[1] = "window_rows";
    sum->stat[1] = (double)wgap;
    sum->stat_name[2] = "permutation_mean_excess";
    sum->stat[2] = mean;
    sum->stat_name[3] = "rows_beyond_cutoff";
    sum->stat[3] = (double)flagged;
done:
    free(rows);
    free(pos);
    free(f0);
    free(stat);
    free(perm);
    free(hist);
    free(nbpos);
    free(off);
    free(p);
    free(work);
    free(q_row);
    free(cnt_row);
    return s;
}

static void explain_ordering(const assay__det_input *in, const assay__det_out *out,
                             const assay__finding *f, char *buf, size_t len) {
    const assay__test *t = f->test >= 0 ? &out->tests[f->test] : NULL;
    snprintf(buf, len,
             "%.0f of its %zu nearest neighbours lie within %.0f rows of it in the file, where "
             "random order would put about %.2f there: the row sits in a block of similar "
             "rows%s%s",
             f->a, in->graph->k, f->b, f->c * (double)in->graph->k,
             t ? "; the file's row order is not random: " : "", t ? t->detail : "");
}

static const char *const k_reasons[] = {"non_iid_order", NULL};
static const assay__ev_field k_fields[] =
    ASSAY__EV_ABC("neighbours within the window of the row in the file", "the window (rows)",
                  "the share of neighbours random order would put there", "unused (-1)");

const assay__detector_desc assay__detector_ordering = {
    .kind = ASSAY__KIND_DISTRIBUTION,
    .severity = ASSAY_SEV_HIGH,
    .family = "row order",
    .warns = "a row-order effect alone (it fails only when the block it finds concentrates rows "
             "the evidence detectors flag)",
    .on_clean = "Files sorted by class, time or source show it: only warns. It fails only when the "
                "block it finds concentrates rows flagged by label, backdoor or duplicate evidence "
                "(an appended poisoned block); then read those rows.",
    .inputs = "the row order and the neighbour graph",
    .run = detect_ordering,
    .explain = explain_ordering,
    .reasons = k_reasons,
    .fields = k_fields,
};

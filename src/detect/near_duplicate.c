/* SPDX-License-Identifier: Apache-2.0 */
/* near-duplicate: rows much closer to each other than rows usually are (cleanlab's rule): a pair
 * is a near duplicate when its distance is at most near-dup-radius x the median
 * nearest-neighbour distance. The radius is taken on the graph's own distance, 1 - cos or
 * squared L2; both are squared Euclidean distances (1 - cos = |a - b|^2 / 2 for unit vectors), so
 * the rule is the same in both metrics (0.13 on squared distances = 0.36 on distances) and is
 * exactly cleanlab's default for cosine. The median is over positive distances, so exact copies
 * cannot shrink the radius to 0. Exact copies (same features SHA-256) are the duplicate
 * detector's findings: they score 1 here but are neither flagged nor counted again.
 *
 * Every row in a near-duplicate pair is flagged low (a fact about the data, for review, as the
 * duplicate detector flags plain repeats). Two dataset tests: near duplicates whose labels
 * conflict, against the label disagreement of the closest pairs beyond the radius (one-sided
 * Fisher exact
 * test; such rows get a high finding that stands only when the test is significant), and the
 * count of near duplicates against the power-law lower tail of the nearest-neighbour distances
 * (natural data has near duplicates of its own; planted copies exceed the tail). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/numfmt.h"
#include "core/stats.h"
#include "detect/params.h"
#include "detect/detector.h"

/* Reason codes of this detector's findings. */
enum { WHY_NEAR_COPY = 0, WHY_NEAR_CONFLICT = 1 };

/* Reference pairs for the label-conflict test: the closest pairs beyond the radius, at least
 * this many (and 10 x the near-duplicate pairs). */
#define ND_REF_MIN 1000
/* Copies are common (the conflict test only warns) where this share of the rows have an exact
 * or near copy, in a table of at least this many rows. */
#define ND_COMMON_SHARE    0.05
#define ND_COMMON_MIN_ROWS 100
#define ND_REF_PER_PAIR    10

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 1 if row b lists row a among its neighbours. */
static int lists(const assay__graph *g, size_t b, size_t a) {
    for (size_t c = 0; c < g->k; c++)
        if (g->ids[b * g->k + c] == (int64_t)a) return 1;
    return 0;
}

/* Per row: the nearest near-duplicate partner (and how many), and the nearest one with a
 * different label (and how many). */
typedef struct nd_row {
    float d_near, d_conf;
    int64_t ref_near, ref_conf;
    uint32_t n_near, n_conf;
} nd_row;

static void note_pair(nd_row *a, size_t b, float d, int conflict) {
    a->n_near++;
    if (a->ref_near < 0 || d < a->d_near) a->d_near = d, a->ref_near = (int64_t)b;
    if (!conflict) return;
    a->n_conf++;
    if (a->ref_conf < 0 || d < a->d_conf) a->d_conf = d, a->ref_conf = (int64_t)b;
}

static assay_status detect_near_duplicate(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    const assay__graph *g = in->graph;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    const size_t n = ds->n, k = g->k;
    const double factor = assay__param(in->opts, ASSAY__P_NEAR_DUP_RADIUS);
    sum->rule = "distance to another row (not an exact copy) <= near-dup-radius x the median "
                "positive nearest-neighbour distance: low; with a different label: high, when "
                "near duplicates conflict more often than the closest pairs beyond the radius";
    if (k == 0 || n < 2) {
        sum->note = "no neighbour graph";
        return ASSAY_OK;
    }
    double *d1 = malloc(n * sizeof *d1);
    nd_row *info = malloc(n * sizeof *info);
    float *beyond = malloc(n * k * sizeof *beyond), *sel = malloc(n * k * sizeof *sel);
    uint8_t *beyond_conf = malloc(n * k);
    assay_status s = ASSAY_OK;
    if (d1 == NULL || info == NULL || beyond == NULL || sel == NULL || beyond_conf == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (near-duplicate)");
        goto done;
    }
    size_t m = 0, m_pos = 0;
    for (size_t r = 0; r < n; r++) {
        info[r] = (nd_row){0.0f, 0.0f, -1, -1, 0, 0};
        if (g->ids[r * k] < 0) continue;
        m++;
        if (g->dist[r * k] > 0.0f) d1[m_pos++] = g->dist[r * k];
    }
    if (m < 2) {
        sum->note = "fewer than 2 rows in the neighbour graph";
        goto done;
    }
    sum->ran = 1;
    /* Median of the positive nearest-neighbour distances (0 when every row has an exact copy
     * or a zero-distance partner; then only zero distances are near). */
    double med = 0.0;
    if (m_pos > 0) {
        qsort(d1, m_pos, sizeof *d1, cmp_double);
        med = m_pos % 2 ? d1[m_pos / 2] : 0.5 * (d1[m_pos / 2 - 1] + d1[m_pos / 2]);
    }
    const double radius = factor * med;

    /* Every kNN pair once (from the lower row when both list each other), exact copies left
     * out: the near ones are noted per row; the labelled ones beyond the radius are kept (their
     * distance and whether the labels differ) for the reference of the conflict test. */
    double in_pairs = 0, in_conf = 0, all_pairs = 0;
    size_t n_beyond = 0;
    for (size_t r = 0; r < n; r++) {
        if (g->ids[r * k] < 0) continue;
        double d0 = g->dist[r * k];
        score[r] = med > 0.0 ? (float)exp(-d0 / med) : (d0 == 0.0 ? 1.0f : 0.0f);
        for (size_t c = 0; c < k; c++) {
            int64_t nb = g->ids[r * k + c];
            float d = g->dist[r * k + c];
            if (nb < 0) break;
            if (memcmp(ds->content_digest[r], ds->content_digest[nb], 32) == 0) continue;
            if ((size_t)nb < r && lists(g, (size_t)nb, r)) continue; /* counted from nb */
            int32_t ya = ds->y[r], yb = ds->y[nb];
            int labelled = ya >= 0 && yb >= 0, conflict = labelled && ya != yb;
            if (d <= radius) {
                note_pair(&info[r], (size_t)nb, d, conflict);
                note_pair(&info[nb], r, d, conflict);
                all_pairs++;
                in_pairs += labelled;
                in_conf += conflict;
            } else if (labelled) {
                beyond[n_beyond] = d;
                beyond_conf[n_beyond++] = (uint8_t)conflict;
            }
        }
    }
    /* The reference: the closest labelled pairs beyond the radius, at least ND_REF_MIN of them
     * and ND_REF_PER_PAIR per near-duplicate pair (all of them when there are fewer). */
    double ref_pairs = 0, ref_conf = 0, ref_edge = radius;
    size_t target = (size_t)in_pairs * ND_REF_PER_PAIR;
    if (target < ND_REF_MIN) target = ND_REF_MIN;
    if (n_beyond > 0) {
        float edge = INFINITY;
        if (n_beyond > target) {
            memcpy(sel, beyond, n_beyond * sizeof *sel);
            edge = assay__select_kthf(sel, n_beyond, target - 1);
        }
        for (size_t i = 0; i < n_beyond; i++) {
            if (beyond[i] > edge) continue;
            ref_pairs++;
            ref_conf += beyond_conf[i];
            if (beyond[i] > ref_edge) ref_edge = beyond[i];
        }
    }
    size_t near_rows = 0, conf_rows = 0;
    for (size_t r = 0; r < n; r++) {
        near_rows += info[r].n_near > 0;
        conf_rows += info[r].n_conf > 0;
    }

    /* Test 1: label conflicts among near duplicates against the conflict rate of the closest
     * pairs beyond the radius. Labels agree more the closer two rows are, so the reference rate
     * is an upper bound of the natural rate inside the radius: the test is conservative. */
    double p_conf = NAN;
    if (in_pairs > 0 && ref_pairs > 0)
        p_conf = assay__hypergeom_sf(in_conf, in_pairs, in_conf + ref_conf, in_pairs + ref_pairs);
    else if (in_pairs > 0 && in_conf == 0)
        p_conf = 1.0;
    /* Where many rows have an exact or near copy (coarse columns, a corpus of near-identical
     * texts), copies with other labels are natural collisions: the test then only warns. */
    size_t copied = 0;
    for (size_t r = 0; r < n; r++) {
        int has = info[r].n_near > 0;
        for (size_t c = 0; c < k && !has && g->ids[r * k] >= 0; c++) {
            int64_t nb = g->ids[r * k + c];
            has = nb >= 0 && memcmp(ds->content_digest[nb], ds->content_digest[r], 32) == 0;
        }
        copied += (size_t)has;
    }
    const int common = n >= ND_COMMON_MIN_ROWS && (double)copied >= ND_COMMON_SHARE * (double)n;
    assay__test t1 = {.det = ASSAY_DET_NEAR_DUPLICATE,
                      .cls = -1,
                      .stat_name = "conflicting_near_duplicate_pairs",
                      .stat = in_conf,
                      .p = p_conf,
                      .null = "one-sided Fisher exact test against the label disagreement of the "
                              "closest pairs beyond the radius",
                      .q = NAN,
                      .sev = common ? ASSAY_SEV_LOW : ASSAY_SEV_NONE};
    int w = snprintf(t1.detail, sizeof t1.detail,
                     "%.0f of %.0f labelled near-duplicate pairs carry different labels, against "
                     "%.0f of the %.0f closest pairs beyond the radius (%.2f%%, distance up to "
                     "%.3g)",
                     in_conf, in_pairs, ref_conf, ref_pairs,
                     ref_pairs > 0 ? 100.0 * ref_conf / ref_pairs : 0.0, ref_edge);
    if (common && w > 0 && (size_t)w < sizeof t1.detail)
        snprintf(t1.detail + w, sizeof t1.detail - (size_t)w, "; copies are common here: warns");
    int32_t t1i = -1;
    s = assay__out_test(out, &t1, &t1i);

    /* Test 2: more near duplicates than the distances' own lower tail predicts. Under IID
     * sampling from a continuous distribution the nearest-neighbour distance has a power-law
     * lower tail, F(r) ~ r^a (a = half the intrinsic dimension on these squared distances), so
     * F(R) / F(2R) = F(2R) / F(4R). Given the Y rows whose nearest other row (not an exact copy)
     * is within 2R, the X of them within R are then Binomial(Y, Y / Z), Z = rows within 4R.
     * Natural data have near duplicates of their own (Fashion-MNIST: 0.4% to 3.8% of the rows,
     * depending on the embedding), but their count follows the tail; copies planted at tiny
     * distances add rows to X beyond it. 4R = 0.52 x the median is where the CDF starts to
     * bend, which lowers Y / Z below the tail's true ratio: conservative (clean Fashion-MNIST
     * has X / Y at 0.5-0.8 of Y / Z). Rows come in pairs: the binomial counts halves. */
    size_t xr = 0, yr = 0, zr = 0;
    for (size_t r = 0; r < n; r++) {
        if (g->ids[r * k] < 0) continue;
        for (size_t c = 0; c < k; c++) {
            int64_t nb = g->ids[r * k + c];
            if (nb < 0) break;
            if (memcmp(ds->content_digest[r], ds->content_digest[nb], 32) == 0) continue;
            double d = g->dist[r * k + c];
            xr += d <= radius;
            yr += d <= 2.0 * radius;
            zr += d <= 4.0 * radius;
            break;
        }
    }
    double pi = zr > 0 ? (double)yr / (double)zr : NAN;
    double p_many = yr >= 2 ? assay__binom_sf(ceil(0.5 * (double)xr), floor(0.5 * (double)yr), pi)
                            : (xr == 0 ? 1.0 : NAN);
    assay__test t2 = {.det = ASSAY_DET_NEAR_DUPLICATE,
                      .cls = -1,
                      .stat_name = "near_duplicate_share_within_2_radii",
                      .stat = yr > 0 ? (double)xr / (double)yr : 0.0,
                      .p = p_many,
                      .null =
                          "binomial (over pairs of rows) against the power-law lower tail of the "
                          "nearest-neighbour distances, fitted between 2 and 4 radii",
                      .q = NAN,
                      /* many near copies is an observation about the data (a corpus with natural
                       * near duplicates has them), not evidence of poisoning: it warns */
                      .sev = ASSAY_SEV_LOW};
    snprintf(t2.detail, sizeof t2.detail,
             "%zu rows have a near duplicate within the radius %.3g, %zu within 2 and %zu within "
             "4 radii: %.1f%% of the second group where the distances' tail predicts %.1f%%",
             xr, radius, yr, zr, yr > 0 ? 100.0 * (double)xr / (double)yr : 0.0,
             100.0 * (zr > 0 ? pi : 0.0));
    if (s == ASSAY_OK) s = assay__out_test(out, &t2, NULL);

    /* Evidence: 0.5 at the radius, rising to 1 at distance 0 for near-duplicate rows; below 0.5
     * (radius / distance to the nearest non-copy) for the others. */
    for (size_t r = 0; r < n && s == ASSAY_OK; r++) {
        if (g->ids[r * k] < 0) continue;
        const nd_row *a = &info[r];
        if (a->n_near == 0) {
            float dn = NAN; /* nearest row that is not an exact copy */
            for (size_t c = 0; c < k && isnan(dn); c++) {
                int64_t nb = g->ids[r * k + c];
                if (nb >= 0 && memcmp(ds->content_digest[r], ds->content_digest[nb], 32) != 0)
                    dn = g->dist[r * k + c];
            }
            float e = dn > 0.0f ? (float)(0.5 * radius / dn) : 0.0f;
            ev[r] = e < 0.5f ? e : nextafterf(0.5f, 0.0f);
            continue;
        }
        float e = radius > 0.0 ? (float)(0.5 + 0.5 * (1.0 - a->d_near / radius)) : 1.0f;
        ev[r] = e < 0.5f ? 0.5f : e;
        assay__finding f = {r,
                            ASSAY_DET_NEAR_DUPLICATE,
                            ASSAY_SEV_LOW,
                            WHY_NEAR_COPY,
                            score[r],
                            a->d_near,
                            radius,
                            (double)a->n_near,
                            a->ref_near,
                            -1};
        s = assay__out_finding(out, &f);
        if (s != ASSAY_OK || a->n_conf == 0) continue;
        f.sev = ASSAY_SEV_HIGH;
        f.why = WHY_NEAR_CONFLICT;
        f.a = a->d_conf;
        f.c = (double)a->n_conf;
        f.ref = a->ref_conf;
        f.test = t1i;
        s = assay__out_finding(out, &f);
    }
    sum->rows_scored = m;
    sum->threshold = radius;
    sum->stat_name[0] = "median_nn_distance";
    sum->stat[0] = med;
    sum->stat_name[1] = "near_duplicate_rows";
    sum->stat[1] = (double)near_rows;
    sum->stat_name[2] = "conflicting_rows";
    sum->stat[2] = (double)conf_rows;
    sum->stat_name[3] = "near_duplicate_pairs";
    sum->stat[3] = all_pairs;
done:
    free(d1);
    free(info);
    free(beyond);
    free(sel);
    free(beyond_conf);
    return s;
}

static void explain_near_duplicate(const assay__det_input *in, const assay__det_out *out,
                                   const assay__finding *f, char *buf, size_t len) {
    const assay_dataset *ds = in->ds;
    double factor = assay__param(in->opts, ASSAY__P_NEAR_DUP_RADIUS);
    if (f->why == WHY_NEAR_CONFLICT) {
        int32_t ya = ds->y[f->row], yb = f->ref >= 0 ? ds->y[f->ref] : -1;
        const assay__test *t = f->test >= 0 ? &out->tests[f->test] : NULL;
        snprintf(buf, len,
                 "row %lld is a near duplicate of it (distance %.3g, radius %.3g) but is labelled "
                 "%s, not %s; %.0f such conflicting near duplicate%s%s%s",
                 (long long)f->ref, f->a, f->b, yb >= 0 ? ds->class_name[yb] : "?",
                 ya >= 0 ? ds->class_name[ya] : "?", f->c, f->c == 1.0 ? "" : "s",
                 t ? "; dataset: " : "", t ? t->detail : "");
        return;
    }
    snprintf(buf, len,
             "near duplicate of row %lld: distance %.3g, within the radius %.3g (%s x the median "
             "nearest-neighbour distance); %.0f near duplicate%s of this row in all",
             (long long)f->ref, f->a, f->b, assay__num(factor).s, f->c, f->c == 1.0 ? "" : "s");
}

/* Severity, not the reason code, names the finding: a policy that lowers the severity of
 * near-duplicate findings turns a conflicting one into a plain one for the report. */
static const char *reason_near_duplicate(const assay__finding *f) {
    return f->sev >= ASSAY_SEV_HIGH ? "conflicting_near_duplicate" : "near_duplicate";
}

static const char *const k_reasons[] = {"near_duplicate", "conflicting_near_duplicate", NULL};
static const assay__ev_field k_fields[] = ASSAY__EV_ABC(
    "distance to the nearest near duplicate (conflicting: to the nearest one with another label)",
    "the radius (near-dup-radius x the median nearest-neighbour distance)",
    "near duplicates of the row (conflicting: those with another label)", "the nearest such row");

const assay__detector_desc assay__detector_near_duplicate = {
    .kind = ASSAY__KIND_DUPLICATE,
    .severity = ASSAY_SEV_HIGH,
    .family = "duplicates",
    .warns = "the excess of near copies (an observation), and conflicting near copies where "
             "copies are common in the data (natural collisions)",
    .on_clean =
        "Many near copies with one label (corpora, augmented or video data) only warn. Conflicting "
        "near copies fail: check a few pairs in report.html; if the labels are ambiguous by "
        "nature, accept them, or lower --near-dup-radius.",
    .inputs = "features, labels and the neighbour graph",
    .run = detect_near_duplicate,
    .explain = explain_near_duplicate,
    .reasons = k_reasons,
    .reason_of = reason_near_duplicate,
    .fields = k_fields,
};

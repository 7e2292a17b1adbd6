/* SPDX-License-Identifier: Apache-2.0 */
/* The comparison of a baseline with the current data, shared by `assay scan --baseline` and
 * `assay diff`: rows matched by id (or by row digest when a side has no ids or the ids changed
 * wholesale) into added, removed, changed and relabelled; the class-distribution shift as a
 * chi-square test of homogeneity on the 2 x C table of class counts; and per class the drift of the
 * centroid (in class radii and as a cosine distance) next to the old and new detector-score
 * quantiles. Matching sorts both sides (n log n, deterministic; repeated keys pair up in row
 * order). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline.h"
#include "core/stats.h"

typedef struct row_key {
    const void *key; /* id text, or a 32-byte digest (of the row, or of its features) */
    size_t row;
} row_key;

static int cmp_text_key(const void *a, const void *b) {
    const row_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0) return c;
    return (x->row > y->row) - (x->row < y->row);
}

static int cmp_digest_key(const void *a, const void *b) {
    const row_key *x = a, *y = b;
    int c = memcmp(x->key, y->key, 32);
    if (c != 0) return c;
    return (x->row > y->row) - (x->row < y->row);
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int cmp_changed(const void *a, const void *b) {
    const assay__bl_changed *x = a, *y = b;
    return (x->new_index > y->new_index) - (x->new_index < y->new_index);
}

static row_key *sorted_keys(const assay__bl_side *s, int by_id, int by_content) {
    row_key *k = malloc((s->n ? s->n : 1) * sizeof *k);
    if (k == NULL) return NULL;
    for (size_t r = 0; r < s->n; r++)
        k[r] = (row_key){by_id        ? (const void *)s->id[r]
                         : by_content ? (const void *)s->content[r]
                                      : (const void *)s->digest[r],
                         r};
    if (s->n > 1) qsort(k, s->n, sizeof *k, by_id ? cmp_text_key : cmp_digest_key);
    return k;
}

static assay_status match_rows(assay_ctx *ctx, const assay__bl_side *o, const assay__bl_side *n,
                               assay__bl_diff *df) {
    const int by_id = df->by_id, by_content = !by_id && df->by_content;
    row_key *ko = sorted_keys(o, by_id, by_content), *kn = sorted_keys(n, by_id, by_content);
    df->added = malloc((n->n ? n->n : 1) * sizeof *df->added);
    df->removed = malloc((o->n ? o->n : 1) * sizeof *df->removed);
    df->changed = malloc(((o->n < n->n ? o->n : n->n) + 1) * sizeof *df->changed);
    if (!ko || !kn || !df->added || !df->removed || !df->changed) {
        free(ko);
        free(kn);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory matching baseline rows");
    }
    size_t i = 0, j = 0;
    while (i < o->n || j < n->n) {
        int c = i >= o->n   ? 1
                : j >= n->n ? -1
                : by_id     ? strcmp(ko[i].key, kn[j].key)
                            : memcmp(ko[i].key, kn[j].key, 32);
        if (c < 0) {
            df->removed[df->n_removed++] = ko[i++].row;
        } else if (c > 0) {
            df->added[df->n_added++] = kn[j++].row;
        } else {
            size_t ro = ko[i++].row, rn = kn[j++].row;
            /* matched by the features: the same row when its label is the same (its id may
             * differ); by id or by row digest: the same row when the row digests are equal */
            if (by_content ? strcmp(o->label[ro], n->label[rn]) == 0
                           : memcmp(o->digest[ro], n->digest[rn], 32) == 0) {
                df->n_unchanged++;
            } else {
                int relabelled = strcmp(o->label[ro], n->label[rn]) != 0;
                df->changed[df->n_changed++] = (assay__bl_changed){ro, rn, relabelled};
                df->n_relabelled += (size_t)relabelled;
            }
        }
    }
    free(ko);
    free(kn);
    if (df->n_added > 1) qsort(df->added, df->n_added, sizeof *df->added, cmp_size);
    if (df->n_removed > 1) qsort(df->removed, df->n_removed, sizeof *df->removed, cmp_size);
    if (df->n_changed > 1) qsort(df->changed, df->n_changed, sizeof *df->changed, cmp_changed);
    return ASSAY_OK;
}

/* ---- class-distribution shift ---- */

typedef struct label_count {
    const char *label;
    size_t old_count, new_count;
    size_t order; /* position for the report: old class list, new class list, then by text */
} label_count;

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_order(const void *a, const void *b) {
    const label_count *x = a, *y = b;
    if (x->order != y->order) return (x->order > y->order) - (x->order < y->order);
    return strcmp(x->label, y->label);
}

/* Distinct labels of a side with their counts, sorted by text. */
static label_count *count_labels(const assay__bl_side *s, size_t *m, int is_new) {
    const char **sorted = malloc((s->n ? s->n : 1) * sizeof *sorted);
    label_count *out = malloc((s->n ? s->n : 1) * sizeof *out);
    if (sorted == NULL || out == NULL) {
        free(sorted);
        free(out);
        return NULL;
    }
    memcpy(sorted, s->label, s->n * sizeof *sorted);
    if (s->n > 1) qsort(sorted, s->n, sizeof *sorted, cmp_str_ptr);
    *m = 0;
    for (size_t r = 0; r < s->n; r++) {
        if (*m > 0 && strcmp(out[*m - 1].label, sorted[r]) == 0) {
            if (is_new)
                out[*m - 1].new_count++;
            else
                out[*m - 1].old_count++;
            continue;
        }
        out[(*m)++] = (label_count){sorted[r], is_new ? 0 : 1, is_new ? 1 : 0, 0};
    }
    free(sorted);
    return out;
}

/* Labels sorted with their positions: a label is found in log time (a manifest can list a
 * class per row; a linear search per class made a comparison quadratic). */
typedef struct lab_pos {
    const char *label;
    size_t pos;
} lab_pos;

static int cmp_lab_pos(const void *a, const void *b) {
    const lab_pos *x = a, *y = b;
    int c = strcmp(x->label, y->label);
    return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static lab_pos *index_labels(const char *(*label_at)(const void *, size_t), const void *src,
                             size_t n) {
    lab_pos *ix = malloc((n ? n : 1) * sizeof *ix);
    if (ix == NULL) return NULL;
    for (size_t i = 0; i < n; i++) ix[i] = (lab_pos){label_at(src, i), i};
    if (n > 1) qsort(ix, n, sizeof *ix, cmp_lab_pos);
    return ix;
}

/* The first position of `label` (SIZE_MAX when absent). */
static size_t find_label(const lab_pos *ix, size_t n, const char *label) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix[mid].label, label) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(ix[lo].label, label) == 0 ? ix[lo].pos : SIZE_MAX;
}

static const char *side_class_label(const void *side, size_t i) {
    return ((const assay__bl_side *)side)->class_label[i];
}

static const char *stats_class_label(const void *st, size_t i) {
    return ((const assay__bl_stats *)st)->classes[i].label;
}

static const char *class_name_of(const assay__bl_side *s, const lab_pos *ix, const char *label,
                                 size_t *pos) {
    size_t c = find_label(ix, s->n_classes, label);
    if (c == SIZE_MAX) return NULL;
    if (pos) *pos = c;
    return s->class_name[c];
}

static assay_status class_shift(assay_ctx *ctx, const assay__bl_side *o, const assay__bl_side *n,
                                assay__bl_diff *df) {
    size_t mo = 0, mn = 0;
    label_count *lo = count_labels(o, &mo, 0), *ln = count_labels(n, &mn, 1);
    label_count *u = malloc((mo + mn + 1) * sizeof *u);
    lab_pos *io = index_labels(side_class_label, o, o->n_classes);
    lab_pos *in = index_labels(side_class_label, n, n->n_classes);
    if (lo == NULL || ln == NULL || u == NULL || io == NULL || in == NULL) {
        free(lo);
        free(ln);
        free(u);
        free(io);
        free(in);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (class shift)");
    }
    size_t m = 0, i = 0, j = 0;
    while (i < mo || j < mn) {
        int c = i >= mo ? 1 : j >= mn ? -1 : strcmp(lo[i].label, ln[j].label);
        if (c < 0)
            u[m++] = lo[i++];
        else if (c > 0)
            u[m++] = ln[j++];
        else {
            u[m] = lo[i++];
            u[m++].new_count = ln[j++].new_count;
        }
    }
    free(lo);
    free(ln);
    for (size_t k = 0; k < m; k++) {
        size_t pos;
        if (class_name_of(o, io, u[k].label, &pos))
            u[k].order = pos;
        else if (class_name_of(n, in, u[k].label, &pos))
            u[k].order = o->n_classes + pos;
        else
            u[k].order = o->n_classes + n->n_classes;
    }
    if (m > 1) qsort(u, m, sizeof *u, cmp_order);
    df->shift = malloc((m ? m : 1) * sizeof *df->shift);
    if (df->shift == NULL) {
        free(u);
        free(io);
        free(in);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (class shift)");
    }
    df->n_shift = m;
    for (size_t k = 0; k < m; k++) {
        const char *name = class_name_of(o, io, u[k].label, NULL);
        if (name == NULL) name = class_name_of(n, in, u[k].label, NULL);
        df->shift[k] = (assay__bl_shift_class){u[k].label, name ? name : u[k].label, u[k].old_count,
                                               u[k].new_count};
    }
    free(u);
    free(io);
    free(in);
    /* Pearson's chi-square test of homogeneity: are the old and the new rows drawn from the same
     * class distribution? Expected count of a cell = row total x column total / grand total;
     * df = (2 - 1)(C - 1) over the C classes seen in either side. */
    df->chi2 = df->p_value = NAN;
    df->df = 0;
    const double n1 = (double)o->n, n2 = (double)n->n, total = n1 + n2;
    if (o->n == 0 || n->n == 0) {
        df->shift_note = "one side has no rows: no class distribution to compare";
        return ASSAY_OK;
    }
    if (m < 2) {
        df->shift_note = "both sides have a single class: the class distribution cannot shift";
        return ASSAY_OK;
    }
    double chi2 = 0.0;
    for (size_t k = 0; k < m; k++) {
        double col = (double)(df->shift[k].old_count + df->shift[k].new_count);
        double e1 = n1 * col / total, e2 = n2 * col / total;
        double d1 = (double)df->shift[k].old_count - e1, d2 = (double)df->shift[k].new_count - e2;
        chi2 += d1 * d1 / e1 + d2 * d2 / e2;
    }
    df->chi2 = chi2;
    df->df = (int)(m - 1);
    df->p_value = assay__chi2_sf(chi2, (double)df->df);
    return ASSAY_OK;
}

/* ---- drift ---- */

static assay_status drift(assay_ctx *ctx, const assay__bl_side *o, const assay__bl_side *n,
                          assay__bl_diff *df) {
    const assay__bl_stats *so = &o->stats, *sn = &n->stats;
    if (!so->present) {
        df->drift_note = "the baseline manifest has no class statistics (written by an assay "
                         "version that did not keep them): drift cannot be measured";
        return ASSAY_OK;
    }
    if (!sn->present) {
        df->drift_note = "the current manifest has no class statistics: drift cannot be measured";
        return ASSAY_OK;
    }
    if (so->metric != sn->metric || so->normalised != sn->normalised) {
        df->drift_note = "the two scans used different metrics, so their centroids live in "
                         "different representations: drift is not compared";
        return ASSAY_OK;
    }
    if (so->d != sn->d) {
        df->drift_note = "the embeddings have a different number of dimensions: drift is not "
                         "compared";
        return ASSAY_OK;
    }
    df->drift = calloc(so->n_classes ? so->n_classes : 1, sizeof *df->drift);
    lab_pos *ix = index_labels(stats_class_label, sn, sn->n_classes);
    if (df->drift == NULL || ix == NULL) {
        free(ix);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (drift)");
    }
    for (size_t c = 0; c < so->n_classes; c++) {
        const assay__bl_class_stats *a = &so->classes[c];
        size_t at = find_label(ix, sn->n_classes, a->label);
        const assay__bl_class_stats *b = at == SIZE_MAX ? NULL : &sn->classes[at];
        if (b == NULL || a->centroid == NULL || b->centroid == NULL) continue;
        double dd = 0.0, dot = 0.0, na = 0.0, nb = 0.0;
        for (size_t j = 0; j < so->d; j++) {
            double e = b->centroid[j] - a->centroid[j];
            dd += e * e;
            dot += a->centroid[j] * b->centroid[j];
            na += a->centroid[j] * a->centroid[j];
            nb += b->centroid[j] * b->centroid[j];
        }
        assay__bl_drift_class *k = &df->drift[df->n_drift++];
        k->label = a->label;
        k->name = a->name;
        k->old_rows = a->rows;
        k->new_rows = b->rows;
        k->centroid_shift = sqrt(dd);
        k->old_spread = a->spread;
        k->new_spread = b->spread;
        k->shift_radii = a->spread > 0.0 ? k->centroid_shift / a->spread : NAN;
        k->cosine_distance = na > 0.0 && nb > 0.0 ? 1.0 - dot / sqrt(na * nb) : NAN;
        k->old_stats = a;
        k->new_stats = b;
    }
    free(ix);
    return ASSAY_OK;
}

void assay__bl_diff_free(assay__bl_diff *df) {
    if (df == NULL) return;
    free(df->added);
    free(df->removed);
    free(df->changed);
    free(df->shift);
    free(df->drift);
    memset(df, 0, sizeof *df);
}

assay_status assay__bl_compare(assay_ctx *ctx, const assay__bl_side *old_side,
                               const assay__bl_side *new_side, assay__bl_diff *df) {
    memset(df, 0, sizeof *df);
    df->by_id = old_side->has_ids && new_side->has_ids;
    /* Without ids on both sides rows are matched by content when both sides kept the
     * features-only digest (a manifest written before it was kept has only the row digest). */
    df->by_content = old_side->content != NULL && new_side->content != NULL;
    if (df->by_id)
        df->matching_note = "rows matched by id: a changed row has the same id and a different "
                            "row digest (features or label); relabelled rows are changed rows "
                            "whose label differs";
    else if (df->by_content)
        df->matching_note =
            "a side has no row ids, so rows are matched by the digest of their features: a row "
            "with the same features and label is unchanged, with the same features and another "
            "label relabelled; a row whose features changed cannot be told from a removed row "
            "plus an added one";
    else
        df->matching_note =
            !old_side->has_ids && !new_side->has_ids
                ? "neither side has row ids, so rows are matched by row digest only: a changed "
                  "row cannot be told from a removed row plus an added one, so every changed or "
                  "relabelled row is counted as removed and added"
            : !old_side->has_ids
                ? "the baseline has no row ids, so rows are matched by row digest only: a "
                  "changed row cannot be told from a removed row plus an added one, so every "
                  "changed or relabelled row is counted as removed and added (and as the row "
                  "digest "
                  "covers the id, no row of a side with ids matches a row of a side without)"
                : "the current data has no row ids, so rows are matched by row digest only: a "
                  "changed row cannot be told from a removed row plus an added one, so every "
                  "changed or relabelled row is counted as removed and added (and as the row "
                  "digest "
                  "covers the id, no row of a side with ids matches a row of a side without)";
    assay_status s = match_rows(ctx, old_side, new_side, df);
    size_t common = df->n_unchanged + df->n_changed;
    size_t fewer = old_side->n < new_side->n ? old_side->n : new_side->n;
    if (s == ASSAY_OK && df->by_id && fewer > 0 && common <= fewer / 100) {
        /* Every row "added" and "removed" with nothing changed would read as a clean pass:
         * say that the ids cannot be matched and match what can be, by row digest. */
        free(df->added);
        free(df->removed);
        free(df->changed);
        df->added = df->removed = NULL;
        df->changed = NULL;
        df->n_added = df->n_removed = df->n_changed = df->n_relabelled = df->n_unchanged = 0;
        df->by_id = 0;
        df->ids_replaced = 1;
        df->ids_in_common = common;
        df->matching_note =
            df->by_content
                ? "the ids changed wholesale (at most 1% of the rows share an id with the other "
                  "side), so rows cannot be matched by id; they are matched by the digest of "
                  "their features instead: a row with the same features and label under a new id "
                  "is unchanged, with another label relabelled, and a row whose features changed "
                  "counts as removed and added"
                : "the ids changed wholesale (at most 1% of the rows share an id with the other "
                  "side), so rows cannot be matched by id; they are matched by row digest "
                  "instead, which covers the id too (the baseline manifest predates the "
                  "features-only digest): a row whose id changed counts as removed and added "
                  "even when its features and label did not change";
        s = match_rows(ctx, old_side, new_side, df);
    }
    if (s == ASSAY_OK) s = class_shift(ctx, old_side, new_side, df);
    if (s == ASSAY_OK) s = drift(ctx, old_side, new_side, df);
    if (s != ASSAY_OK) assay__bl_diff_free(df);
    return s;
}

const assay__bl_drift_class *assay__bl_largest_drift(const assay__bl_diff *df) {
    const assay__bl_drift_class *best = NULL;
    for (size_t i = 0; i < df->n_drift; i++)
        if (isfinite(df->drift[i].shift_radii) &&
            (best == NULL || df->drift[i].shift_radii > best->shift_radii))
            best = &df->drift[i];
    return best;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* duplicate: exact duplicate rows, found from the features-only SHA-256 of each row. Copies
 * that carry different labels contradict each other (one of them is wrong, possibly planted):
 * every member is flagged high -- unless the collision looks natural. In a table of few, coarse
 * columns different rows share features by chance, and where classes overlap such a collision
 * carries different labels. A planted copy brings a label its place does not have: so in a
 * table where collisions are common, a conflicting group whose every label is also carried by
 * rows around it (natural_collision) is a natural collision, flagged low for review. Plain repeats
 * are flagged low, except the first occurrence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "detect/detector.h"

/* Reason codes (finding.why). */
enum {
    WHY_CONFLICT = 0, /* identical features, different labels */
    WHY_COPY = 1,     /* identical features and label: a repeated row */
    WHY_NATURAL = 2   /* identical features, different labels all found around them */
};

/* Rows sorted by (digest, index); the digest is copied in so qsort needs no context. */
typedef struct dup_key {
    unsigned char digest[32];
    size_t row;
} dup_key;

/* The rows around a group (its rows' graph neighbours outside it) must number at least this
 * many to judge it (the rows within two hops of the graph); a label of the group is foreign
 * when so few of them carry it that a label
 * as common there as in the group would have fewer with probability below DUP_FOREIGN_P. */
#define DUP_NATURAL_MIN_VOTERS 5
#define DUP_FOREIGN_P          0.01
/* ... the group's share taken at most this: the rows around a large group lie in other cells of
 * a coarse table, whose label mix differs; only a label rare around the group is foreign. */
#define DUP_SHARE_CAP (1.0 / 3.0)
/* Collisions are common in a table where this share of the rows repeat another's features. */
#define DUP_COARSE_SHARE 0.05

/* Whether the conflicting group (rows keys[g0..g1), sorted labels) looks natural. A planted copy
 * brings a label no row around it has: for each label, carried by m of the group's `size` rows
 * and by c of the `around` rows around it, the chance of c or fewer if a row around carried it
 * with probability m / (size + 1) (the group's share, shrunk toward none; at most
 * DUP_SHARE_CAP); below DUP_FOREIGN_P
 * the label is foreign and the group planted. Only where collisions are common (coarse): in
 * other data a collision itself is the anomaly. A group too large for its rows to list anything
 * outside it, in a table where collisions are common (coarse), is what coarse features make:
 * natural. *least receives the smallest of those chances (0 when nothing is around). cnt holds
 * a zero per class, seen one per row (both are left so); touched has room for every row. */
/* Adds row r's graph neighbours outside the group (digest) and not yet seen to the rows around. */
static void visit(const assay__det_input *in, size_t r, const unsigned char *digest, uint32_t *cnt,
                  uint8_t *seen, size_t *touched, size_t *around) {
    const assay__graph *g = in->graph;
    const assay_dataset *ds = in->ds;
    for (size_t c = 0; c < g->k; c++) {
        int64_t nb = g->ids[r * g->k + c];
        if (nb < 0 || ds->y[nb] < 0 || seen[nb]) continue;
        if (memcmp(ds->content_digest[nb], digest, 32) == 0) continue;
        seen[nb] = 1;
        cnt[ds->y[nb]]++;
        touched[(*around)++] = (size_t)nb;
    }
}

static int natural_collision(const assay__det_input *in, const dup_key *keys, size_t g0, size_t g1,
                             const int32_t *labels, size_t size, int coarse, uint32_t *cnt,
                             uint8_t *seen, size_t *touched, double *least) {
    const assay_dataset *ds = in->ds;
    *least = 0.0;
    if (in->graph == NULL || in->graph->ids == NULL || ds->n_classes == 0) return 0;
    /* the rows around: the group rows' neighbours and theirs (two hops: a copy lists what its
     * source lists, k - 1 rows, too few to call a label foreign), each row once */
    size_t around = 0;
    for (size_t a = g0; a < g1; a++)
        visit(in, keys[a].row, keys[g0].digest, cnt, seen, touched, &around);
    const size_t hop1 = around;
    for (size_t i = 0; i < hop1; i++)
        visit(in, touched[i], keys[g0].digest, cnt, seen, touched, &around);
    double lo = around > 0 ? 1.0 : 0.0;
    for (size_t i = 0; i < size && around > 0;) {
        size_t j = i;
        while (j < size && labels[j] == labels[i]) j++; /* labels are sorted: m = j - i */
        double tail = 0.0;
        if (labels[i] >= 0) {
            double p = (double)(j - i) / (double)(size + 1), c = (double)cnt[labels[i]];
            if (p > DUP_SHARE_CAP) p = DUP_SHARE_CAP;
            tail = 1.0 - assay__binom_sf(c + 1.0, (double)around, p);
        }
        if (tail < lo) lo = tail;
        i = j;
    }
    for (size_t i = 0; i < around; i++) {
        seen[touched[i]] = 0;
        cnt[ds->y[touched[i]]] = 0;
    }
    *least = lo;
    if (!coarse) return 0; /* exact collisions are rare in this data: none is natural */
    return around < DUP_NATURAL_MIN_VOTERS ? size >= 3 : lo >= DUP_FOREIGN_P;
}

static int cmp_keys(const void *a, const void *b) {
    const dup_key *x = a, *y = b;
    int c = memcmp(x->digest, y->digest, 32);
    if (c != 0) return c;
    return (x->row > y->row) - (x->row < y->row);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static assay_status detect_duplicate(const assay__det_input *in, assay__det_out *out) {
    assay_ctx *ctx = in->ctx;
    const assay_dataset *ds = in->ds;
    assay__det_out *sum = out;
    float *score = out->score;
    float *ev = out->evidence;
    size_t n = ds->n;
    sum->ran = 1;
    sum->rule = "identical features (SHA-256) with different labels: high, every copy (low when "
                "at least 5% of the rows repeat another's features and every label of the group is "
                "also carried by rows around it: a natural collision); identical features and "
                "label: low, every copy after the first";
    sum->threshold = 0.5;
    dup_key *keys = malloc((n ? n : 1) * sizeof *keys);
    int32_t *labels = malloc((n ? n : 1) * sizeof *labels);
    uint32_t *cnt = calloc(ds->n_classes ? ds->n_classes : 1, sizeof *cnt);
    uint8_t *seen = calloc(n ? n : 1, 1);
    size_t *touched = malloc((n ? n : 1) * sizeof *touched);
    if (keys == NULL || labels == NULL || cnt == NULL || seen == NULL || touched == NULL) {
        free(touched);
        free(keys);
        free(labels);
        free(cnt);
        free(seen);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (duplicate detector)");
    }
    for (size_t r = 0; r < n; r++) {
        memcpy(keys[r].digest, ds->content_digest[r], 32);
        keys[r].row = r;
        score[r] = 0.0f;
        ev[r] = 0.0f;
    }
    qsort(keys, n, sizeof *keys, cmp_keys);
    /* coarse features: at least DUP_COARSE_SHARE of the rows repeat another row's features */
    size_t repeats = 0;
    for (size_t i = 1; i < n; i++) repeats += memcmp(keys[i].digest, keys[i - 1].digest, 32) == 0;
    const int coarse = (double)repeats >= DUP_COARSE_SHARE * (double)n;

    size_t groups = 0, dup_rows = 0, conflict_groups = 0, conflict_rows = 0, natural_groups = 0;
    assay_status s = ASSAY_OK;
    for (size_t g0 = 0; g0 < n && s == ASSAY_OK;) {
        size_t g1 = g0 + 1;
        while (g1 < n && memcmp(keys[g0].digest, keys[g1].digest, 32) == 0) g1++;
        size_t size = g1 - g0;
        if (size >= 2) {
            for (size_t a = g0; a < g1; a++) labels[a - g0] = ds->y[keys[a].row];
            qsort(labels, size, sizeof *labels, cmp_i32);
            size_t distinct = 1;
            for (size_t a = 1; a < size; a++) distinct += labels[a] != labels[a - 1];
            groups++;
            dup_rows += size - 1;
            int conflict = distinct > 1, natural = 0;
            double least = 0.0;
            if (conflict) {
                conflict_groups++;
                conflict_rows += size;
                natural = natural_collision(in, keys, g0, g1, labels, size, coarse, cnt, seen,
                                            touched, &least);
                natural_groups += (size_t)natural;
            }
            /* keys[g0].row is the lowest row of the group (ties in the sort go by index). */
            size_t first = keys[g0].row;
            for (size_t a = g0; a < g1 && s == ASSAY_OK; a++) {
                size_t r = keys[a].row;
                if (!conflict && r == first) continue; /* the original of a plain repeat */
                /* c: the smallest share a group label has around a conflicting group */
                assay__finding f = {r,
                                    ASSAY_DET_DUPLICATE,
                                    conflict && !natural ? ASSAY_SEV_HIGH : ASSAY_SEV_LOW,
                                    natural    ? WHY_NATURAL
                                    : conflict ? WHY_CONFLICT
                                               : WHY_COPY,
                                    conflict && !natural ? 1.0f : 0.5f,
                                    (double)size,
                                    (double)distinct,
                                    conflict ? least : 0.0,
                                    (int64_t)(r == first ? keys[g0 + 1].row : first),
                                    -1};
                score[r] = ev[r] = f.score;
                sum->flagged++;
                sum->by_sev[f.sev]++;
                s = assay__out_finding(out, &f);
            }
        }
        g0 = g1;
    }
    free(keys);
    free(labels);
    free(cnt);
    free(seen);
    free(touched);
    sum->rows_scored = n;
    sum->stat_name[0] = "duplicate_groups";
    sum->stat[0] = (double)groups;
    sum->stat_name[1] = "repeated_rows";
    sum->stat[1] = (double)dup_rows;
    sum->stat_name[2] = "conflicting_groups";
    sum->stat[2] = (double)conflict_groups;
    sum->stat_name[3] = "conflicting_rows";
    sum->stat[3] = (double)conflict_rows;
    sum->stat_name[4] = "natural_collision_groups";
    sum->stat[4] = (double)natural_groups;
    return s;
}

static void explain_duplicate(const assay__det_input *in, const assay__det_out *out,
                              const assay__finding *f, char *buf, size_t len) {
    (void)out;
    if (f->why == WHY_NATURAL) {
        snprintf(buf, len,
                 "identical features to row %lld (%.0f copies in all) carrying %.0f different "
                 "labels, but each label is also carried by rows around them (p = %.2g that "
                 "one is foreign): a natural collision of coarse features, for review",
                 (long long)f->ref, f->a, f->b, f->c);
    } else if (f->why == WHY_CONFLICT) {
        char lb[32];
        const assay_dataset *ds = in->ds;
        const char *own = ds->y[f->row] >= 0 ? assay__class_text(ds, ds->y[f->row])
                                             : assay__label_text(ds, f->row, lb, sizeof lb);
        snprintf(buf, len,
                 "identical features to row %lld (%.0f copies in all) but the copies carry "
                 "%.0f different labels; this row is labelled '%s'",
                 (long long)f->ref, f->a, f->b, own);
    } else {
        snprintf(buf, len, "exact copy (features and label) of row %lld", (long long)f->ref);
    }
}

static const char *const k_reasons[] = {"conflicting_duplicate", "repeated_row",
                                        "natural_collision", NULL};
static const assay__ev_field k_fields[] = {
    {"group_size", ASSAY__EV_INTEGER, ASSAY__FROM_A, "rows with these exact features"},
    {"distinct_labels", ASSAY__EV_INTEGER, ASSAY__FROM_B, "different labels among them"},
    {"foreign_label_p", ASSAY__EV_NUMBER, ASSAY__FROM_C,
     "conflicting copies: the smallest chance, over the group's labels, that so few rows around "
     "the group (its rows' graph neighbours outside it) carry it if it were as common there as "
     "in the group; below 0.01 a label is foreign (planted); 0 for plain repeats"},
    {"other_row", ASSAY__EV_INTEGER, ASSAY__FROM_REF,
     "another row of the group (the first one, or for the first the second)"},
    {NULL, 0, 0, NULL}};

const assay__detector_desc assay__detector_duplicate = {
    .kind = ASSAY__KIND_DUPLICATE,
    .severity = ASSAY_SEV_HIGH,
    .family = "duplicates",
    .on_clean = "Repeated rows with one label, and conflicting copies whose labels are all "
                "common around them (natural collisions of coarse features), only warn (low). "
                "Conflicting copies whose label is foreign to their place fail: check the pair; "
                "if it is natural, accept the rows by row-sha256 with a reason.",
    .inputs = "features (their SHA-256), labels and the neighbour graph",
    .run = detect_duplicate,
    .explain = explain_duplicate,
    .reasons = k_reasons,
    .fields = k_fields,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* duplicate: exact duplicate rows, found from the features-only SHA-256 of each row. Copies
 * that carry different labels contradict each other (one of them is wrong, possibly planted):
 * every member is flagged high -- unless the collision looks natural. In a table of few, coarse
 * columns different rows share features by chance, and where classes overlap such a collision
 * carries different labels. A planted copy brings a label its place does not have: so in a
 * table where collisions are common, a conflicting group whose every label is also carried by
 * rows around it (natural_collision) is a natural collision, flagged low for review. Plain repeats
 * are flagged low, except the first occurrence -- unless the table is coarse, where repeats are
 * what coarse features make: they are counted (stats, note), not flagged (a 6-column table listed
 * 1,091 of its 5,000 rows for review). */
#include <math.h>
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
/* Score of a conflicting copy whose label is at home while another copy's is foreign. */
#define DUP_AT_HOME_SCORE 0.75f
/* Collisions are common in a table where this share of the rows repeat another's features (a
 * table of fewer rows cannot show it). */
#define DUP_COARSE_SHARE    0.05
#define DUP_COARSE_MIN_ROWS 100

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
/* The chance that `c` or fewer of `around` rows carry a label that a share p of them would
 * carry: below DUP_FOREIGN_P the label is foreign there. */
static double foreign_tail(double c, double around, double p) {
    if (p > DUP_SHARE_CAP) p = DUP_SHARE_CAP;
    return 1.0 - assay__binom_sf(c + 1.0, around, p);
}

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
                             const int32_t *labels, size_t size, uint8_t *dupmark, uint32_t *cnt,
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
    size_t repeating = 0; /* rows around that repeat another row's features */
    for (size_t i = 0; i < around; i++) repeating += dupmark[touched[i]] & 1u;
    double lo = around > 0 ? 1.0 : 0.0;
    for (size_t i = 0; i < size && around > 0;) {
        size_t j = i;
        while (j < size && labels[j] == labels[i]) j++; /* labels are sorted: m = j - i */
        double tail = 0.0;
        if (labels[i] >= 0) {
            tail = foreign_tail((double)cnt[labels[i]], (double)around,
                                (double)(j - i) / (double)(size + 1));
        }
        if (tail < lo) lo = tail;
        i = j;
    }
    /* bit 2 of a row: its label is foreign around the group (the row to suspect) */
    for (size_t a = g0; a < g1 && around >= DUP_NATURAL_MIN_VOTERS; a++) {
        const int32_t ya = ds->y[keys[a].row];
        size_t m = 0;
        for (size_t i = 0; i < size; i++) m += labels[i] == ya;
        if (ya < 0 || foreign_tail((double)cnt[ya], (double)around,
                                   (double)m / (double)(size + 1)) < DUP_FOREIGN_P)
            dupmark[keys[a].row] |= 4u;
    }
    for (size_t i = 0; i < around; i++) {
        seen[touched[i]] = 0;
        cnt[ds->y[touched[i]]] = 0;
    }
    *least = lo;
    /* where the rows around do not repeat, a collision is itself the anomaly */
    if (around > 0 && (double)repeating < DUP_COARSE_SHARE * (double)around) return 0;
    return around < DUP_NATURAL_MIN_VOTERS ? size >= 3 : lo >= DUP_FOREIGN_P;
}

static int cmp_keys(const void *a, const void *b) {
    const dup_key *x = a, *y = b;
    int c = memcmp(x->digest, y->digest, 32);
    if (c != 0) return c;
    return (x->row > y->row) - (x->row < y->row);
}

/* The end of the group of equal digests that starts at keys[g0] (keys sorted by digest). */
static size_t group_end(const dup_key *keys, size_t n, size_t g0) {
    size_t g1 = g0 + 1;
    while (g1 < n && memcmp(keys[g0].digest, keys[g1].digest, 32) == 0) g1++;
    return g1;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Rows outside conflicting groups whose own label is foreign where they lie, by the test a
 * conflicting group gets (the rows within two graph hops, exact copies aside; a label carried by
 * one row of two): the natural label outliers that collide with rows of another label as often
 * as rows repeat in a coarse table. */
static size_t label_outliers(const assay__det_input *in, size_t n, const uint8_t *dupmark,
                             uint32_t *cnt, uint8_t *seen, size_t *touched) {
    const assay_dataset *ds = in->ds;
    size_t out = 0;
    for (size_t r = 0; r < n; r++) {
        if (ds->y[r] < 0 || in->graph->ids[r * in->graph->k] < 0 || (dupmark[r] & 2u)) continue;
        size_t around = 0;
        visit(in, r, ds->content_digest[r], cnt, seen, touched, &around);
        const size_t hop1 = around;
        for (size_t i = 0; i < hop1; i++)
            visit(in, touched[i], ds->content_digest[r], cnt, seen, touched, &around);
        out += around >= DUP_NATURAL_MIN_VOTERS &&
               foreign_tail((double)cnt[ds->y[r]], (double)around, 0.5) < DUP_FOREIGN_P;
        for (size_t i = 0; i < around; i++) {
            seen[touched[i]] = 0;
            cnt[ds->y[touched[i]]] = 0;
        }
    }
    return out;
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
    assay_status s = ASSAY_OK;
    dup_key *keys = malloc((n ? n : 1) * sizeof *keys);
    int32_t *labels = malloc((n ? n : 1) * sizeof *labels);
    uint32_t *cnt = calloc(ds->n_classes ? ds->n_classes : 1, sizeof *cnt);
    uint8_t *seen = calloc(n ? n : 1, 1);
    size_t *touched = malloc((n ? n : 1) * sizeof *touched);
    uint8_t *kind = malloc(n ? n : 1), *dupmark = malloc(n ? n : 1),
            *suspects = calloc(n ? n : 1, 1);
    uint32_t *ndistinct = malloc((n ? n : 1) * sizeof *ndistinct);
    double *least = malloc((n ? n : 1) * sizeof *least);
    if (keys == NULL || labels == NULL || cnt == NULL || seen == NULL || touched == NULL ||
        kind == NULL || dupmark == NULL || suspects == NULL || ndistinct == NULL || least == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (duplicate detector)");
        goto done;
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
    const int coarse = n >= DUP_COARSE_MIN_ROWS && (double)repeats >= DUP_COARSE_SHARE * (double)n;
    /* per row: bit 0 in a group of copies, bit 1 in a group with different labels */
    for (size_t g0 = 0; g0 < n;) {
        const size_t g1 = group_end(keys, n, g0);
        size_t conflict = 0;
        for (size_t a = g0 + 1; a < g1; a++) conflict |= ds->y[keys[a].row] != ds->y[keys[g0].row];
        for (size_t a = g0; a < g1; a++)
            dupmark[keys[a].row] = (uint8_t)((g1 - g0 >= 2) | (conflict ? 2u : 0u));
        g0 = g1;
    }

    /* Pass 1: judge every group; a group is stored at its first key: 1 repeat, 2 conflicting
     * with a foreign label, 3 natural collision. */
    size_t groups = 0, dup_rows = 0, conflict_groups = 0, conflict_rows = 0, natural_groups = 0,
           foreign = 0;
    for (size_t g0 = 0; g0 < n;) {
        const size_t g1 = group_end(keys, n, g0);
        size_t size = g1 - g0;
        kind[g0] = 0;
        if (size >= 2) {
            for (size_t a = g0; a < g1; a++) labels[a - g0] = ds->y[keys[a].row];
            qsort(labels, size, sizeof *labels, cmp_i32);
            size_t distinct = 1;
            for (size_t a = 1; a < size; a++) distinct += labels[a] != labels[a - 1];
            groups++;
            dup_rows += size - 1;
            kind[g0] = 1;
            ndistinct[g0] = (uint32_t)distinct;
            least[g0] = 0.0;
            if (distinct > 1) {
                conflict_groups++;
                conflict_rows += size;
                int natural = natural_collision(in, keys, g0, g1, labels, size, dupmark, cnt, seen,
                                                touched, &least[g0]) &&
                              coarse;
                kind[g0] = natural ? 3 : 2;
                size_t foreign_rows = 0;
                for (size_t a = g0; a < g1; a++) foreign_rows += (dupmark[keys[a].row] >> 2) & 1u;
                suspects[g0] = foreign_rows > 0 && foreign_rows < size;
                foreign += !natural;
            }
        }
        g0 = g1;
    }
    /* In a coarse table a row whose label is foreign where it lies (a natural label outlier)
     * lands on an occupied cell as often as rows repeat: conflicting groups with a foreign label
     * are evidence only beyond that rate (Poisson, at least twice the expected count). */
    double expected = 0.0, p_excess = 1.0;
    if (coarse && foreign > 0) {
        expected = (double)label_outliers(in, n, dupmark, cnt, seen, touched) * (double)repeats /
                   (double)n;
        p_excess = expected > 0.0 ? 1.0 - assay__gamma_q((double)foreign, expected) : 0.0;
        if (!(p_excess < DUP_FOREIGN_P && (double)foreign >= 2.0 * expected))
            for (size_t g = 0; g < n; g++) kind[g] = kind[g] == 2 ? 3 : kind[g];
    }
    /* Pass 2: the findings. */
    for (size_t g0 = 0; g0 < n && s == ASSAY_OK;) {
        const size_t g1 = group_end(keys, n, g0);
        const int k = kind[g0];
        if (k == 3) natural_groups++;
        /* keys[g0].row is the lowest row of the group (ties in the sort go by index). */
        size_t first = keys[g0].row;
        for (size_t a = g0; a < g1 && k != 0 && s == ASSAY_OK; a++) {
            size_t r = keys[a].row;
            if (k == 1 && r == first) continue; /* the original of a plain repeat */
            if (k == 1 && coarse) { /* an observation of a coarse table: ranked, not flagged */
                score[r] = 0.5f;
                ev[r] = 0.5f * ASSAY__OBSERVATION_SCALE;
                continue;
            }
            /* a conflicting group where some labels are at home and others foreign: the rows
             * carrying a foreign label are the suspects and rank first; the others are flagged
             * too (the contradiction is certain, and a source row can be the natural outlier) */
            const float conflict_score =
                k == 2 && suspects[g0] && !(dupmark[r] & 4u) ? DUP_AT_HOME_SCORE : 1.0f;
            /* c: the smallest chance that a label of a conflicting group is at home there */
            assay__finding f = {r,
                                ASSAY_DET_DUPLICATE,
                                k == 2 ? ASSAY_SEV_HIGH : ASSAY_SEV_LOW,
                                k == 3   ? WHY_NATURAL
                                : k == 2 ? WHY_CONFLICT
                                         : WHY_COPY,
                                k == 2 ? conflict_score : 0.5f,
                                (double)(g1 - g0),
                                (double)ndistinct[g0],
                                k == 1 ? 0.0 : least[g0],
                                (int64_t)(r == first ? keys[g0 + 1].row : first),
                                -1};
            score[r] = ev[r] = f.score;
            sum->flagged++;
            sum->by_sev[f.sev]++;
            s = assay__out_finding(out, &f);
        }
        g0 = g1;
    }
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
    sum->stat_name[5] = "foreign_label_groups_expected";
    sum->stat[5] = coarse ? expected : NAN;
    if (coarse) {
        snprintf(sum->note_text, sizeof sum->note_text,
                 "coarse features: %zu rows repeat another row's features (at least %.0f%%); plain "
                 "repeats are counted, not flagged",
                 repeats, 100.0 * DUP_COARSE_SHARE);
        sum->note = sum->note_text;
    }
done:
    free(keys);
    free(labels);
    free(cnt);
    free(seen);
    free(touched);
    free(kind);
    free(dupmark);
    free(suspects);
    free(ndistinct);
    free(least);
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
    .on_clean = "Repeated rows with one label (not flagged at all where repeats are common), and "
                "conflicting copies whose labels are all common around them (natural collisions "
                "of coarse features), only warn (low). "
                "Conflicting copies whose label is foreign to their place fail: check the pair; "
                "if it is natural, accept the rows by row-sha256 with a reason.",
    .inputs = "features (their SHA-256), labels and the neighbour graph",
    .run = detect_duplicate,
    .explain = explain_duplicate,
    .reasons = k_reasons,
    .fields = k_fields,
};

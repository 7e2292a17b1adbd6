/* SPDX-License-Identifier: Apache-2.0 */
/* duplicate: exact duplicate rows, found from the features-only SHA-256 of each row. Copies
 * that carry different labels contradict each other (one of them is wrong, possibly planted):
 * every member is flagged high. Plain repeats are flagged low, except the first occurrence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detector.h"

/* Reason codes (finding.why). */
enum {
    WHY_CONFLICT = 0, /* identical features, different labels */
    WHY_COPY = 1      /* identical features and label: a repeated row */
};

/* Rows sorted by (digest, index); the digest is copied in so qsort needs no context. */
typedef struct dup_key {
    unsigned char digest[32];
    size_t row;
} dup_key;

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
    sum->rule = "identical features (SHA-256) with different labels: high, every copy; identical "
                "features and label: low, every copy after the first";
    sum->threshold = 0.5;
    dup_key *keys = malloc((n ? n : 1) * sizeof *keys);
    int32_t *labels = malloc((n ? n : 1) * sizeof *labels);
    if (keys == NULL || labels == NULL) {
        free(keys);
        free(labels);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (duplicate detector)");
    }
    for (size_t r = 0; r < n; r++) {
        memcpy(keys[r].digest, ds->content_digest[r], 32);
        keys[r].row = r;
        score[r] = 0.0f;
        ev[r] = 0.0f;
    }
    qsort(keys, n, sizeof *keys, cmp_keys);

    size_t groups = 0, dup_rows = 0, conflict_groups = 0, conflict_rows = 0;
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
            int conflict = distinct > 1;
            if (conflict) {
                conflict_groups++;
                conflict_rows += size;
            }
            /* keys[g0].row is the lowest row of the group (ties in the sort go by index). */
            size_t first = keys[g0].row;
            for (size_t a = g0; a < g1 && s == ASSAY_OK; a++) {
                size_t r = keys[a].row;
                if (!conflict && r == first) continue; /* the original of a plain repeat */
                assay__finding f = {r,
                                    ASSAY_DET_DUPLICATE,
                                    conflict ? ASSAY_SEV_HIGH : ASSAY_SEV_LOW,
                                    conflict ? WHY_CONFLICT : WHY_COPY,
                                    conflict ? 1.0f : 0.5f,
                                    (double)size,
                                    (double)distinct,
                                    0.0,
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
    sum->rows_scored = n;
    sum->stat_name[0] = "duplicate_groups";
    sum->stat[0] = (double)groups;
    sum->stat_name[1] = "repeated_rows";
    sum->stat[1] = (double)dup_rows;
    sum->stat_name[2] = "conflicting_groups";
    sum->stat[2] = (double)conflict_groups;
    sum->stat_name[3] = "conflicting_rows";
    sum->stat[3] = (double)conflict_rows;
    return s;
}

static void explain_duplicate(const assay__det_input *in, const assay__det_out *out,
                              const assay__finding *f, char *buf, size_t len) {
    (void)out;
    if (f->why == WHY_CONFLICT) {
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

static const char *const k_reasons[] = {"conflicting_duplicate", "repeated_row", NULL};
static const assay__ev_field k_fields[] = {
    {"group_size", ASSAY__EV_INTEGER, ASSAY__FROM_A, "rows with these exact features"},
    {"distinct_labels", ASSAY__EV_INTEGER, ASSAY__FROM_B, "different labels among them"},
    {"other_row", ASSAY__EV_INTEGER, ASSAY__FROM_REF,
     "another row of the group (the first one, or for the first the second)"},
    {NULL, 0, 0, NULL}};

const assay__detector_desc assay__detector_duplicate = {
    .kind = ASSAY__KIND_DUPLICATE,
    .severity = ASSAY_SEV_HIGH,
    .family = "duplicates",
    .on_clean = "Repeated rows with one label only warn (low). Conflicting copies fail: if the "
                "features are coarse (few columns, rounded values) copies with other labels can be "
                "natural collisions: accept the rows by row-sha256 with a reason.",
    .inputs = "features (their SHA-256) and labels",
    .run = detect_duplicate,
    .explain = explain_duplicate,
    .reasons = k_reasons,
    .fields = k_fields,
};

/* SPDX-License-Identifier: Apache-2.0 */
/* `assay diff`'s outputs: diff.json (committed as a set of one, docs/atomic-output.md) and the
 * summary for a person. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

assay_status assay_diff_write(assay_ctx *ctx, const assay_diff *d, const char *dir, int exit_code) {
    if (d == NULL || dir == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_diff_write: NULL argument");
    json_t *etsi = NULL;
    ASSAY_TRY(assay__etsi_load(ctx, &etsi));
    char ts[32];
    assay__utc_timestamp(ts, sizeof ts);
    json_t *doc = json_object();
    json_object_set_new(doc, "schema", json_string("assay-diff/1"));
    json_object_set_new(doc, "tool",
                        json_pack("{s:s, s:s}", "name", "assay", "version", assay_version()));
    json_object_set_new(doc, "created", json_string(ts));
    json_object_set_new(doc, "exit_code", json_integer(exit_code));
    json_object_set_new(doc, "baseline", assay__baseline_json(d->b, etsi));
    const assay__bl_diff *df = &d->b->diff;
    json_object_set_new(
        doc, "ids_changed_wholesale",
        df->ids_replaced
            ? json_pack("{s:I, s:I, s:I, s:s, s:I, s:s}", "old_rows", (json_int_t)d->b->old_side.n,
                        "new_rows", (json_int_t)d->b->new_side.n, "ids_in_common",
                        (json_int_t)df->ids_in_common, "matched_by",
                        df->by_content ? "content" : "digest", "rows_matched_by_digest",
                        (json_int_t)(df->n_unchanged + df->n_changed), "reason",
                        ASSAY__IDS_REPLACED_REASON)
            : json_null());
    json_decref(etsi);
    /* staged and committed like a report set, so the folder's commit record lists it */
    assay__outset set;
    FILE *fp = NULL;
    char final[PATH_MAX];
    assay_status s = assay__outset_begin(ctx, &set, dir);
    if (s == ASSAY_OK) s = assay__outset_add(ctx, &set, "diff.json", &fp);
    if (s == ASSAY_OK)
        s = assay__dump_json(ctx, doc, fp, 1,
                             assay__outset_final(&set, "diff.json", final, sizeof final));
    if (s == ASSAY_OK) s = assay__outset_commit(ctx, &set);
    assay__outset_discard(&set);
    json_decref(doc);
    return s;
}

/* Up to `max` rows of a list, as ids (or digests when there are no ids). */
static void list_rows(FILE *fp, const char *what, const assay__bl_side *s, const size_t *rows,
                      size_t n, size_t max) {
    if (n == 0) return;
    fprintf(fp, "  %s:", what);
    for (size_t i = 0; i < n && i < max; i++) {
        char hex[65];
        assay__hex32(s->digest[rows[i]], hex);
        if (s->has_ids)
            fprintf(fp, "%s %s", i ? "," : "", s->id[rows[i]]);
        else
            fprintf(fp, "%s row %zu (%.12s...)", i ? "," : "", rows[i], hex);
    }
    fprintf(fp, "%s\n", n > max ? ", ..." : "");
}

void assay_diff_summary(const assay_diff *d, FILE *fp) {
    if (d == NULL || fp == NULL) return;
    const assay__baseline *b = d->b;
    const assay__bl_diff *df = &b->diff;
    fprintf(fp, "assay %s diff: %s (%zu rows) -> %s (%zu rows)\n", assay_version(),
            b->old_side.path, b->old_side.n, b->new_side.path, b->new_side.n);
    if (df->ids_replaced)
        fprintf(fp,
                "  ids changed wholesale: %zu of %zu baseline rows share an id with the %zu "
                "current rows; cannot match rows by id\n"
                "  matched by %s instead: %zu rows matched\n",
                df->ids_in_common, b->old_side.n, b->new_side.n,
                df->by_content ? "the digest of their features" : "row digest (it covers the id)",
                df->n_unchanged + df->n_changed);
    else
        fprintf(fp, "  matched by %s\n",
                df->by_id        ? "id"
                : df->by_content ? "the digest of their features (a side has no ids)"
                                 : "row digest only (no ids)");
    if (!df->by_id) fprintf(fp, "  note: %s\n", df->matching_note);
    fprintf(fp, "  rows: %zu added, %zu removed, %zu changed (%zu relabelled), %zu unchanged\n",
            df->n_added, df->n_removed, df->n_changed, df->n_relabelled, df->n_unchanged);
    const size_t max = 10;
    list_rows(fp, "added", &b->new_side, df->added, df->n_added, max);
    list_rows(fp, "removed", &b->old_side, df->removed, df->n_removed, max);
    if (df->n_changed > 0) {
        fprintf(fp, "  changed:");
        for (size_t i = 0; i < df->n_changed && i < max; i++) {
            const assay__bl_changed *c = &df->changed[i];
            fprintf(fp, "%s %s", i ? "," : "", b->new_side.id[c->new_index]);
            if (c->relabelled)
                fprintf(fp, " (label %s -> %s)", b->old_side.label[c->old_index],
                        b->new_side.label[c->new_index]);
        }
        fprintf(fp, "%s\n", df->n_changed > max ? ", ..." : "");
    }
    if (isfinite(df->p_value))
        fprintf(fp, "  class distribution: chi-square %.4g on %d df, p = %.3g\n", df->chi2, df->df,
                df->p_value);
    else
        fprintf(fp, "  class distribution: %s\n", df->shift_note ? df->shift_note : "not tested");
    const assay__bl_drift_class *top = assay__bl_largest_drift(df);
    if (top != NULL)
        fprintf(fp,
                "  largest drift: class '%s' centroid moved %.2f class radii (cosine distance "
                "%.3g)\n",
                top->name, top->shift_radii, top->cosine_distance);
    else if (df->drift_note)
        fprintf(fp, "  drift: %s\n", df->drift_note);
    fprintf(fp, "  previous report: %s\n",
            b->has_previous_report ? "hashed (previous_report_sha256)" : b->previous_report_note);
    if (df->ids_replaced) fprintf(fp, "  verdict: FAIL: %s\n", ASSAY__IDS_REPLACED_REASON);
}

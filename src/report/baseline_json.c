/* SPDX-License-Identifier: Apache-2.0 */
/* The baseline comparison as JSON: the "baseline" block that report.json and diff.json both
 * carry, and the per-class statistics a manifest keeps for the next comparison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

static json_t *row_json(const assay__bl_side *s, size_t r) {
    char hex[65];
    assay__hex32(s->digest[r], hex);
    return json_pack("{s:I, s:o, s:o, s:s}", "index", (json_int_t)r, "id",
                     s->has_ids ? assay__json_typed(s->id[r], s->ids_int) : json_null(), "label",
                     assay__json_typed(s->label[r], s->labels_int), "sha256", hex);
}

static json_t *capped(json_t *rows, size_t total) {
    return json_pack("{s:b, s:I, s:o}", "truncated", total > ASSAY__BL_LIST_CAP, "count",
                     (json_int_t)total, "rows", rows);
}

static json_t *quantiles_json(const double *q) {
    return json_pack("{s:o, s:o, s:o}", "p50", assay__json_num(q[0]), "p90", assay__json_num(q[1]),
                     "p99", assay__json_num(q[2]));
}

static json_t *drift_json(const assay__bl_side *o, const assay__bl_diff *df) {
    json_t *arr = json_array();
    for (size_t i = 0; i < df->n_drift; i++) {
        const assay__bl_drift_class *k = &df->drift[i];
        json_t *dets = json_array();
        for (int det = 0; det < ASSAY_DET_COUNT; det++) {
            const double *qa = k->old_stats->q[det], *qb = k->new_stats->q[det];
            if (k->old_stats->scored[det] == 0 || k->new_stats->scored[det] == 0) continue;
            double shift[ASSAY__BL_NQ];
            for (int q = 0; q < ASSAY__BL_NQ; q++) shift[q] = qb[q] - qa[q];
            json_array_append_new(
                dets,
                json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "detector", assay_detector_name(det),
                          "old_scored", (json_int_t)k->old_stats->scored[det], "new_scored",
                          (json_int_t)k->new_stats->scored[det], "old", quantiles_json(qa), "new",
                          quantiles_json(qb), "shift", quantiles_json(shift)));
        }
        json_array_append_new(
            arr,
            json_pack("{s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "label",
                      assay__json_typed(k->label, o->labels_int), "name", assay__json_str(k->name),
                      "old_rows", (json_int_t)k->old_rows, "new_rows", (json_int_t)k->new_rows,
                      "centroid_shift", assay__json_num(k->centroid_shift), "centroid_shift_radii",
                      assay__json_num(k->shift_radii), "centroid_cosine_distance",
                      assay__json_num(k->cosine_distance), "old_spread",
                      assay__json_num(k->old_spread), "new_spread", assay__json_num(k->new_spread),
                      "detectors", dets));
    }
    return arr;
}

/* One paragraph: what changed, the class shift, the largest drift. */
static void summary_text(const assay__baseline *b, char *buf, size_t len) {
    const assay__bl_diff *df = &b->diff;
    int w = snprintf(buf, len,
                     "%zu row%s added, %zu removed, %zu changed (%zu relabelled), %zu unchanged; "
                     "matched by %s",
                     df->n_added, df->n_added == 1 ? "" : "s", df->n_removed, df->n_changed,
                     df->n_relabelled, df->n_unchanged,
                     df->by_id        ? "id"
                     : df->by_content ? "features digest"
                                      : "row digest only");
    if (w < 0 || (size_t)w >= len) return;
    if (isfinite(df->p_value))
        w += snprintf(buf + w, len - (size_t)w,
                      "; class distribution: chi-square %.4g on %d df, p = %.3g", df->chi2, df->df,
                      df->p_value);
    if (w < 0 || (size_t)w >= len) return;
    const assay__bl_drift_class *k = assay__bl_largest_drift(df);
    if (k != NULL)
        snprintf(buf + w, len - (size_t)w,
                 "; largest drift: class '%s', centroid moved %.2f class radii (cosine distance "
                 "%.3g)",
                 k->name, k->shift_radii, k->cosine_distance);
}

json_t *assay__baseline_json(const assay__baseline *b, const json_t *etsi) {
    if (b == NULL || !b->compared) return json_null();
    const assay__bl_side *o = &b->old_side, *n = &b->new_side;
    const assay__bl_diff *df = &b->diff;
    char hex[65], text[1024];
    json_t *added = json_array(), *removed = json_array(), *changed = json_array(),
           *relabelled = json_array();
    for (size_t i = 0; i < df->n_added && i < ASSAY__BL_LIST_CAP; i++)
        json_array_append_new(added, row_json(n, df->added[i]));
    for (size_t i = 0; i < df->n_removed && i < ASSAY__BL_LIST_CAP; i++)
        json_array_append_new(removed, row_json(o, df->removed[i]));
    size_t n_rel = 0;
    for (size_t i = 0; i < df->n_changed; i++) {
        const assay__bl_changed *c = &df->changed[i];
        char oh[65], nh[65];
        assay__hex32(o->digest[c->old_index], oh);
        assay__hex32(n->digest[c->new_index], nh);
        json_t *id = assay__json_typed(n->id[c->new_index], n->ids_int);
        json_t *ol = assay__json_typed(o->label[c->old_index], o->labels_int);
        json_t *nl = assay__json_typed(n->label[c->new_index], n->labels_int);
        if (i < ASSAY__BL_LIST_CAP)
            json_array_append_new(
                changed, json_pack("{s:I, s:I, s:O, s:s, s:s, s:O, s:O, s:b}", "index",
                                   (json_int_t)c->new_index, "old_index", (json_int_t)c->old_index,
                                   "id", id, "old_sha256", oh, "new_sha256", nh, "old_label", ol,
                                   "new_label", nl, "relabelled", c->relabelled));
        if (c->relabelled && n_rel++ < ASSAY__BL_LIST_CAP)
            json_array_append_new(relabelled, json_pack("{s:I, s:I, s:O, s:O, s:O}", "index",
                                                        (json_int_t)c->new_index, "old_index",
                                                        (json_int_t)c->old_index, "id", id,
                                                        "old_label", ol, "new_label", nl));
        json_decref(id);
        json_decref(ol);
        json_decref(nl);
    }
    json_t *classes = json_array();
    for (size_t i = 0; i < df->n_shift; i++)
        json_array_append_new(
            classes,
            json_pack("{s:o, s:o, s:I, s:I}", "label",
                      assay__json_typed(df->shift[i].label, o->labels_int || n->labels_int), "name",
                      assay__json_str(df->shift[i].name), "old", (json_int_t)df->shift[i].old_count,
                      "new", (json_int_t)df->shift[i].new_count));
    json_t *class_shift = json_pack(
        "{s:s, s:o, s:i, s:o, s:o, s:o}", "test",
        "Pearson chi-square test of homogeneity on the 2 x C table of class counts (old, new)",
        "chi2", assay__json_num(df->chi2), "df", df->df, "p_value", assay__json_num(df->p_value),
        "note", df->shift_note ? json_string(df->shift_note) : json_null(), "classes", classes);
    const assay__bl_stats *st = o->stats.present ? &o->stats : &n->stats;
    json_t *basis = json_pack(
        "{s:o, s:o, s:s, s:o}", "metric",
        st->present ? json_string(assay_metric_name(st->metric)) : json_null(), "normalised",
        st->present ? json_boolean(st->normalised) : json_null(), "units",
        "centroid_shift: Euclidean distance between the class centroids in the representation "
        "the detectors see; centroid_shift_radii: that distance over the baseline's class "
        "radius (RMS distance of its rows to its centroid); detector quantiles: new minus old, "
        "in the detector's score units",
        "note", df->drift_note ? json_string(df->drift_note) : json_null());
    summary_text(b, text, sizeof text);
    assay__hex32(o->file_sha256, hex);
    json_t *manifest =
        json_pack("{s:o, s:s, s:s, s:s, s:s, s:I}", "path", assay__json_str(o->path), "sha256", hex,
                  "dataset_sha256", o->dataset_sha256, "created", o->created, "tool_version",
                  o->tool_version, "rows", (json_int_t)o->n);
    assay__hex32(n->file_sha256, hex);
    json_t *current = json_pack("{s:o, s:o, s:s, s:I}", "path", assay__json_str(n->path), "sha256",
                                n->from_manifest ? json_string(hex) : json_null(), "dataset_sha256",
                                n->dataset_sha256, "rows", (json_int_t)n->n);
    assay__hex32(b->previous_report_sha256, hex);
    json_t *doc = json_object();
    json_object_set_new(doc, "summary", assay__json_str(text));
    json_object_set_new(doc, "manifest", manifest);
    json_object_set_new(doc, "current", current);
    json_object_set_new(doc, "previous_report_sha256",
                        b->has_previous_report ? json_string(hex) : json_null());
    json_object_set_new(
        doc, "previous_report",
        json_pack("{s:o, s:s}", "path",
                  assay__json_str(b->previous_report_path ? b->previous_report_path : ""), "note",
                  b->previous_report_note ? b->previous_report_note : ""));
    json_object_set_new(doc, "matched_by",
                        json_string(df->by_id        ? "id"
                                    : df->by_content ? "content"
                                                     : "digest"));
    json_object_set_new(doc, "matching_note", json_string(df->matching_note));
    json_object_set_new(doc, "rows",
                        json_pack("{s:I, s:I, s:I}", "old", (json_int_t)o->n, "new",
                                  (json_int_t)n->n, "unchanged", (json_int_t)df->n_unchanged));
    json_object_set_new(doc, "counts",
                        json_pack("{s:I, s:I, s:I, s:I}", "added", (json_int_t)df->n_added,
                                  "removed", (json_int_t)df->n_removed, "changed",
                                  (json_int_t)df->n_changed, "relabelled",
                                  (json_int_t)df->n_relabelled));
    json_object_set_new(doc, "list_cap", json_integer(ASSAY__BL_LIST_CAP));
    json_object_set_new(doc, "added", capped(added, df->n_added));
    json_object_set_new(doc, "removed", capped(removed, df->n_removed));
    json_object_set_new(doc, "changed", capped(changed, df->n_changed));
    json_object_set_new(doc, "relabelled", capped(relabelled, df->n_relabelled));
    json_object_set_new(doc, "class_shift", class_shift);
    json_object_set_new(doc, "drift_basis", basis);
    json_object_set_new(doc, "drift", drift_json(o, df));
    json_object_set_new(doc, "etsi",
                        json_pack("{s:o, s:o}", "tampering",
                                  etsi ? assay__etsi_refs(etsi, "tampering") : json_array(),
                                  "drift", etsi ? assay__etsi_refs(etsi, "drift") : json_array()));
    return doc;
}

json_t *assay__bl_stats_json(const assay__bl_stats *st) {
    if (st == NULL || !st->present) return json_null();
    json_t *classes = json_array(), *qs = json_array();
    for (int q = 0; q < ASSAY__BL_NQ; q++)
        json_array_append_new(qs, json_real(assay__bl_quantiles[q]));
    for (size_t c = 0; c < st->n_classes; c++) {
        const assay__bl_class_stats *k = &st->classes[c];
        json_t *centroid = json_array(), *dets = json_object();
        for (size_t j = 0; k->centroid != NULL && j < st->d; j++)
            json_array_append_new(centroid, assay__json_num(k->centroid[j]));
        for (int det = 0; det < ASSAY_DET_COUNT; det++) {
            if (k->scored[det] == 0) continue;
            json_object_set_new(
                dets, assay_detector_name(det),
                json_pack("{s:I, s:o, s:o, s:o}", "scored", (json_int_t)k->scored[det], "p50",
                          assay__json_num(k->q[det][0]), "p90", assay__json_num(k->q[det][1]),
                          "p99", assay__json_num(k->q[det][2])));
        }
        if (k->centroid == NULL) {
            json_decref(centroid);
            centroid = json_null();
        }
        json_array_append_new(
            classes,
            json_pack("{s:o, s:o, s:I, s:o, s:o, s:o}", "label", assay__json_str(k->label), "name",
                      assay__json_str(k->name), "rows", (json_int_t)k->rows, "spread",
                      assay__json_num(k->spread), "centroid", centroid, "detectors", dets));
    }
    return json_pack(
        "{s:s, s:s, s:b, s:I, s:s, s:s, s:o, s:o}", "representation",
        st->normalised ? "rows scaled to unit length, as the cosine neighbour graph sees them"
                       : "rows as loaded, as the l2 neighbour graph sees them",
        "metric", assay_metric_name(st->metric), "normalised", st->normalised, "dims",
        (json_int_t)st->d, "rows_counted",
        "rows in the neighbour graph with a declared label (finite, non-zero under cosine)",
        "spread", "RMS distance of the class's rows to its centroid (the class radius)",
        "quantiles", qs, "classes", classes);
}

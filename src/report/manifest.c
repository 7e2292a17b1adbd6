/* SPDX-License-Identifier: Apache-2.0 */
/* manifest.json: the dataset's fingerprint -- input files with their SHA-256, shape, label set,
 * the dataset digest and two digests per row (of the whole row, and of its features alone, which
 * matches a row whose id changed), tool version and parameters,
 * and per-class statistics (centroid, spread, detector-score quantiles). It is the inventory
 * entry for the data and the baseline a later scan compares against (`--baseline`, `assay diff`;
 * schema in schemas/assay-manifest-1.schema.json). */
#include <stdio.h>

#include "report/report_internal.h"

json_t *assay__manifest_json(const assay_dataset *ds, const assay_result *res,
                             const assay_report_opts *opts, const json_t *etsi) {
    char hex[65], ts[32];
    assay__utc_timestamp(ts, sizeof ts);
    json_t *files = assay__files_json(ds);
    json_t *classes = json_array();
    for (size_t c = 0; c < ds->n_classes; c++)
        json_array_append_new(classes, json_pack("{s:o, s:o, s:I}", "label",
                                                 assay__json_str(ds->class_label[c]), "name",
                                                 assay__json_str(ds->class_name[c]), "count",
                                                 (json_int_t)ds->class_count[c]));
    json_t *rows = json_array();
    char content[65];
    for (size_t r = 0; r < ds->n; r++) {
        assay__hex32(ds->row_digest[r], hex);
        assay__hex32(ds->content_digest[r], content);
        json_array_append_new(rows,
                              json_pack("[I, o, o, s, s]", (json_int_t)r, assay__id_json(ds, r),
                                        assay__label_json(ds, r), hex, content));
    }
    assay__hex32(ds->digest, hex);
    const char *src = opts && opts->input_source ? opts->input_source : NULL;
    json_t *doc = json_object();
    json_object_set_new(doc, "schema", json_string("assay-manifest/1"));
    json_object_set_new(doc, "tool",
                        json_pack("{s:s, s:s}", "name", "assay", "version", assay_version()));
    json_object_set_new(doc, "created", json_string(ts));
    json_object_set_new(
        doc, "input",
        json_pack("{s:o, s:s, s:o, s:I, s:I, s:o, s:o}", "path", assay__json_str(ds->path),
                  "format", assay_format_name(ds->format), "files", files, "rows",
                  (json_int_t)ds->n, "dims", (json_int_t)ds->d, "embeddings_dataset",
                  ds->h5_embeddings ? assay__json_str(ds->h5_embeddings) : json_null(), "source",
                  src ? assay__json_str(src) : json_null()));
    json_object_set_new(doc, "hash",
                        json_pack("{s:s, s:s, s:s, s:s}", "algorithm", "SHA-256", "row_encoding",
                                  "assay-row/v1", "dataset_rule",
                                  "SHA-256 of the 32-byte row digests concatenated in row order",
                                  "dataset_sha256", hex));
    json_object_set_new(doc, "labels",
                        json_pack("{s:s, s:b, s:o}", "type",
                                  ds->labels.type == ASSAY__COL_INT ? "integer" : "string",
                                  "declared", ds->classes_declared, "classes", classes));
    json_object_set_new(doc, "ids",
                        json_pack("{s:b, s:s}", "present", ds->ids.type != ASSAY__COL_NONE, "type",
                                  ds->ids.type == ASSAY__COL_INT   ? "integer"
                                  : ds->ids.type == ASSAY__COL_STR ? "string"
                                                                   : "none"));
    if (res != NULL)
        json_object_set_new(doc, "scan",
                            json_pack("{s:I, s:s, s:s, s:I, s:s}", "k", (json_int_t)res->opts.k,
                                      "metric", assay_metric_name(res->opts.metric), "gate",
                                      res->gate_passed ? "pass" : "fail", "flagged",
                                      (json_int_t)res->n_flagged, "report", "report.json"));
    /* Per-class statistics: what the next scan measures drift against (docs/pipelines.md,
     * "Scheduled scans"); null when they could not be computed (no scan, or out of memory). */
    json_t *stats = json_null();
    if (res != NULL) {
        assay__bl_stats st;
        const assay__bl_scan scan = assay__result_bl_scan(ds, res);
        if (assay__bl_stats_compute(NULL, &scan, &st) == ASSAY_OK) {
            json_decref(stats);
            stats = assay__bl_stats_json(&st);
            assay__bl_stats_free(&st);
        }
    }
    json_object_set_new(doc, "class_statistics", stats);
    json_object_set_new(doc, "etsi", assay__etsi_refs(etsi, "manifest"));
    json_object_set_new(
        doc, "row_columns",
        json_pack("[s, s, s, s, s]", "index", "id", "label", "sha256", "content_sha256"));
    json_object_set_new(doc, "rows", rows);
    return doc;
}

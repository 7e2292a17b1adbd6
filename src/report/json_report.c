/* SPDX-License-Identifier: Apache-2.0 */
/* report.json: everything a CI system or an auditor needs from one scan -- tool, command,
 * input digests, parameters, per-detector summaries (even when passing), findings with their
 * evidence and ETSI EN 304 223 references, the gate verdict, timings. Fields are documented in
 * docs/reports.md ("report.json"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/graph_h5.h"
#include "report/plots.h"
#include "report/render.h"
#include "report/report_internal.h"

/* Where row r lives in the input, for tools that point at it (SARIF regions, editors): the
 * path as given, a logical address, and the CSV line or the .npy byte range. HDF5 rows have no
 * byte range (chunked or compressed datasets have none to give). */
static json_t *location_json(const assay_dataset *ds, size_t r) {
    char logical[600];
    if (ds->format == ASSAY_FORMAT_HDF5 && ds->h5_embeddings != NULL)
        snprintf(logical, sizeof logical, "%s%s[%zu]", ds->h5_embeddings[0] == '/' ? "" : "/",
                 ds->h5_embeddings, r);
    else
        snprintf(logical, sizeof logical, "/rows[%zu]", r);
    json_t *loc = json_pack("{s:o, s:o}", "uri", assay__json_str(ds->path), "logical",
                            assay__json_str(logical));
    if (ds->format == ASSAY_FORMAT_CSV && ds->csv_line != NULL)
        json_object_set_new(loc, "line", json_integer((json_int_t)ds->csv_line[r]));
    if (ds->format == ASSAY_FORMAT_NPY && ds->npy_row_bytes > 0) {
        uint64_t off = ds->npy_data_offset + (uint64_t)r * ds->npy_row_bytes;
        json_object_set_new(loc, "byte_offset", json_integer((json_int_t)off));
        json_object_set_new(loc, "byte_length", json_integer((json_int_t)ds->npy_row_bytes));
    }
    return loc;
}

assay_status assay__report_findings(assay_ctx *ctx, const assay_dataset *ds,
                                    const assay_result *res, const json_t *etsi,
                                    assay__findings_spool *sp) {
    json_t *kind_refs[ASSAY_DET_COUNT];
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        kind_refs[d] = assay__etsi_refs(etsi, assay__detector_kind_name(d));
    assay_status s = ASSAY_OK;
    char why[512], digest[65];
    for (size_t i = 0; s == ASSAY_OK && i < res->n_flagged; i++) {
        size_t r = res->order[i];
        assay__hex32(ds->row_digest[r], digest);
        for (size_t j = res->finding_start[r]; s == ASSAY_OK && j < res->finding_start[r + 1];
             j++) {
            const assay__finding *f = &res->findings[j];
            assay__explain(ds, res, f, why, sizeof why);
            int32_t sug = res->suggested[r];
            json_t *o = json_pack(
                "{s:I, s:I, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:O, "
                "s:s, s:o}",
                "rank", (json_int_t)(i + 1), "index", (json_int_t)r, "id", assay__id_json(ds, r),
                "label", assay__label_json(ds, r), "class",
                assay__json_str(assay__class_text(ds, ds->y[r])), "score",
                assay__json_float(res->score[r]), "severity", assay_severity_name(f->sev), "kind",
                assay__detector_kind_name(f->det), "detector", assay_detector_name(f->det),
                "detector_score", assay__json_float(f->score), "reason", assay__finding_reason(f),
                "evidence", assay__evidence_json(ds, res, f), "explanation", assay__json_str(why),
                "suggested_label", sug >= 0 ? assay__json_str(ds->class_label[sug]) : json_null(),
                "etsi", kind_refs[f->det], "row_sha256", digest, "location", location_json(ds, r));
            /* accepted by the policy's allowlist: reported, not counted by the gate */
            json_object_set_new(o, "allowlisted",
                                json_boolean(res->allowlisted != NULL && res->allowlisted[r]));
            /* the class/dataset test the flag rests on (index into "tests") */
            int32_t ti = assay__result_test_of(res, f);
            if (ti >= 0)
                json_object_set_new(o, "test",
                                    json_pack("{s:I, s:o}", "index", (json_int_t)ti, "q_value",
                                              assay__json_num(res->tests[ti].q)));
            s = assay__findings_spool_add(ctx, sp, o);
            json_decref(o);
        }
    }
    for (int d = 0; d < ASSAY_DET_COUNT; d++) json_decref(kind_refs[d]);
    return s == ASSAY_OK ? assay__findings_spool_done(ctx, sp) : s;
}

static json_t *severity_counts(const size_t *counts) {
    json_t *o = json_object();
    for (int s = ASSAY_SEV_LOW; s <= ASSAY_SEV_CRITICAL; s++)
        json_object_set_new(o, assay_severity_name(s), json_integer((json_int_t)counts[s]));
    return o;
}

/* Findings per kind, and per kind and severity. Every kind is listed (zero when none), so a
 * consumer can index by kind; several detectors share a kind and add up. */
/* The rows the scan was told to trust (--trusted-ids, --trusted-data). */
static json_t *trusted_json(const assay_result *res) {
    json_t *o = json_object();
    if (res->trusted_ids_path != NULL)
        json_object_set_new(o, "ids",
                            json_pack("{s:o, s:I, s:I, s:I}", "file",
                                      assay__json_str(res->trusted_ids_path), "listed",
                                      (json_int_t)res->trusted_ids_listed, "rows_matched",
                                      (json_int_t)res->trusted.n_rows, "unknown",
                                      (json_int_t)res->trusted_ids_unknown));
    if (res->trusted_data_path != NULL)
        json_object_set_new(o, "data",
                            json_pack("{s:o, s:I, s:I}", "file",
                                      assay__json_str(res->trusted_data_path), "rows",
                                      (json_int_t)res->trusted_data_rows, "rows_used",
                                      (json_int_t)res->trusted.n_data));
    return o;
}

static json_t *kind_counts_json(const assay_result *res, json_t **by_kind_and_severity) {
    static const char *const all_kinds[] = {"label",    "outlier",      "duplicate", "integrity",
                                            "backdoor", "distribution", "tampering", "drift"};
    size_t counts[ASSAY_DET_COUNT][ASSAY__SEV_COUNT] = {{0}};
    for (size_t i = 0; i < res->n_findings; i++)
        counts[res->findings[i].det][res->findings[i].sev]++;
    json_t *by_kind = json_object(), *by_sev = json_object();
    for (size_t k = 0; k < sizeof all_kinds / sizeof all_kinds[0]; k++) {
        json_object_set_new(by_kind, all_kinds[k], json_integer(0));
        json_object_set_new(by_sev, all_kinds[k], severity_counts((size_t[ASSAY__SEV_COUNT]){0}));
    }
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        const char *kind = assay__detector_kind_name(d);
        json_t *sev = json_object_get(by_sev, kind);
        if (sev == NULL) { /* a kind missing from the list above: listed all the same */
            json_object_set_new(by_kind, kind, json_integer(0));
            json_object_set_new(by_sev, kind, severity_counts((size_t[ASSAY__SEV_COUNT]){0}));
            sev = json_object_get(by_sev, kind);
        }
        json_t *total = json_object_get(by_kind, kind);
        for (int s = ASSAY_SEV_LOW; s <= ASSAY_SEV_CRITICAL; s++) {
            json_t *c = json_object_get(sev, assay_severity_name(s));
            json_integer_set(c, json_integer_value(c) + (json_int_t)counts[d][s]);
            json_integer_set(total, json_integer_value(total) + (json_int_t)counts[d][s]);
        }
    }
    *by_kind_and_severity = by_sev;
    return by_kind;
}

/* A detector's class-by-class matrix: the class names (rows and columns in that order) and the
 * rows, with its largest off-diagonal cell named (a targeted flip shows as one such cell). */
static json_t *matrix_json(const assay_dataset *ds, const assay__det_out *s) {
    const size_t k = s->matrix_k;
    json_t *classes = json_array(), *rows = json_array();
    for (size_t i = 0; i < k; i++) {
        json_array_append_new(classes, json_string(assay__class_text(ds, (int32_t)i)));
        json_t *row = json_array();
        for (size_t j = 0; j < k; j++) {
            double v = s->matrix[i * k + j];
            json_array_append_new(row, assay__json_num(v));
        }
        json_array_append_new(rows, row);
    }
    json_t *o = json_pack("{s:s, s:o, s:o}", "about",
                          "P(given label = column | true class = row), estimated from the "
                          "neighbours' labels (calibrated confident joint)",
                          "classes", classes, "matrix", rows);
    size_t bi = 0, bj = 0;
    double best = assay__out_matrix_peak(s, &bi, &bj);
    if (best > 0.0)
        json_object_set_new(o, "largest_off_diagonal",
                            json_pack("{s:s, s:s, s:o}", "true_class",
                                      assay__class_text(ds, (int32_t)bi), "given_label",
                                      assay__class_text(ds, (int32_t)bj), "probability",
                                      assay__json_num(best)));
    return o;
}

static json_t *detectors_json(const assay_dataset *ds, const assay_result *res,
                              const json_t *etsi) {
    json_t *arr = json_array();
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        const assay__det_out *s = &res->det[d];
        json_t *stats = json_object();
        for (int i = 0; i < ASSAY__DET_STATS; i++)
            if (s->stat_name[i])
                json_object_set_new(stats, s->stat_name[i], assay__json_num_f32(s->stat[i]));
        json_t *o = json_pack(
            "{s:s, s:s, s:b, s:s, s:o, s:I, s:I, s:o, s:o, s:o, s:o}", "name",
            assay_detector_name(d), "kind", assay__detector_kind_name(d), "ran", s->ran, "rule",
            s->rule ? s->rule : "", "threshold", assay__json_num_f32(s->threshold), "rows_scored",
            (json_int_t)s->rows_scored, "flagged", (json_int_t)s->flagged, "by_severity",
            severity_counts(s->by_sev), "stats", stats, "seconds", assay__json_num(s->seconds),
            "etsi", assay__etsi_refs(etsi, assay__detector_kind_name(d)));
        if (s->note) json_object_set_new(o, "note", json_string(s->note));
        if (s->capped) json_object_set_new(o, "capped", json_true());
        if (s->matrix != NULL) json_object_set_new(o, s->matrix_name, matrix_json(ds, s));
        static const char *const verdicts[] = {"pass", "warn", "fail", "not_run"};
        json_object_set_new(o, "verdict", json_string(verdicts[res->det_verdict[d] & 3]));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* Every parameter with its effective value: the fixed scan options, then the detector and
 * verdict parameters of the library's table (whether set or default), and the skipped
 * detectors. */
static json_t *parameters_json(const assay_result *res) {
    const assay_scan_opts *o = &res->opts;
    json_t *p =
        json_pack("{s:I, s:s, s:b, s:o, s:o, s:s, s:o}", "k", (json_int_t)o->k, "metric",
                  assay_metric_name(o->metric), "weighted", o->weighted, "label_threshold",
                  assay__json_num(o->label_threshold), "outlier_iqr",
                  assay__json_num(o->outlier_iqr), "fail_on", assay_severity_name(o->fail_on),
                  "max_flagged_fraction", assay__json_num(o->max_flagged_fraction));
    for (size_t i = 0; i < assay_param_count(); i++)
        json_object_set_new(p, assay_param_info_at(i)->name,
                            assay__json_num(assay_param_value(o, i)));
    json_t *skip = json_array();
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        if (o->skip >> d & 1u) json_array_append_new(skip, json_string(assay_detector_name(d)));
    json_object_set_new(p, "skip", skip);
    return p;
}

/* The per-class and per-dataset tests against "no poison", with their BH-adjusted q-values:
 * the evidence the gate decides on, kept apart from the per-row findings. */
static json_t *tests_json(const assay_dataset *ds, const assay_result *res) {
    json_t *arr = json_array();
    for (size_t i = 0; i < res->n_tests; i++) {
        assay_test_info t;
        assay_result_test(res, i, &t);
        json_t *o =
            json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:b, s:s, s:o, s:s, s:o}", "detector",
                      assay_detector_name(t.detector), "class",
                      t.cls >= 0 ? assay__json_str(assay__class_text(ds, t.cls)) : json_null(),
                      "statistic", t.statistic, "value", assay__json_num(t.value), "p_value",
                      assay__json_num(t.p), "q_value", assay__json_num(t.q), "significant",
                      t.significant, "severity", assay_severity_name(t.severity), "gate",
                      t.gate != NULL ? json_string(t.gate) : json_null(), "null", t.null, "detail",
                      assay__json_str(t.detail));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *input_json(const assay_dataset *ds, const assay_result *res) {
    char hex[65];
    json_t *files = assay__files_json(ds);
    json_t *classes = json_array(), *small = json_array();
    for (size_t c = 0; c < ds->n_classes; c++) {
        json_array_append_new(classes, json_pack("{s:I, s:o, s:o, s:I}", "index", (json_int_t)c,
                                                 "label", assay__json_str(ds->class_label[c]),
                                                 "name", assay__json_str(ds->class_name[c]),
                                                 "count", (json_int_t)ds->class_count[c]));
        if (ds->class_count[c] < 2)
            json_array_append_new(small, assay__json_str(ds->class_label[c]));
    }
    assay__hex32(ds->digest, hex);
    json_t *pp =
        ds->pred_probs == NULL
            ? json_null()
            : json_pack("{s:o, s:I}", "source", assay__json_str(ds->pp_source ? ds->pp_source : ""),
                        "columns", (json_int_t)ds->pp_cols);
    const assay_limits *l = &ds->limits;
    json_t *limits = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "max_file_size", (json_int_t)l->max_file_bytes,
        "max_rows", (json_int_t)l->max_rows, "max_dims", (json_int_t)l->max_dims, "max_field_bytes",
        (json_int_t)l->max_field_bytes, "max_line_bytes", (json_int_t)l->max_line_bytes,
        "max_label_bytes", (json_int_t)l->max_label_bytes, "max_depth", (json_int_t)l->max_depth);
    return json_pack("{s:o, s:s, s:o, s:I, s:I, s:s, s:s, s:b, s:o, s:o, s:b, s:o, s:I, s:I, s:o}",
                     "path", assay__json_str(ds->path), "format", assay_format_name(ds->format),
                     "files", files, "rows", (json_int_t)ds->n, "dims", (json_int_t)ds->d,
                     "dataset_sha256", hex, "row_hash", "assay-row/v1 (see README)", "ids",
                     ds->ids.type != ASSAY__COL_NONE, "pred_probs", pp, "classes", classes,
                     "classes_declared", ds->classes_declared, "classes_with_fewer_than_2_rows",
                     small, "rows_in_graph", (json_int_t)res->n_in_graph, "rows_left_out_of_graph",
                     (json_int_t)(ds->n - res->n_in_graph), "limits", limits);
}

/* A graph merged from shard files: each shard, and the counts the shards recorded. */
static json_t *shards_json(const assay_result *res) {
    const assay__graph_source *g = &res->graph_file;
    json_t *parts = json_array();
    for (size_t i = 0; i < g->n_parts; i++) {
        const assay__graph_part *p = &g->parts[i];
        char hex[65];
        assay__hex32(p->sha256, hex);
        json_array_append_new(
            parts,
            json_pack("{s:o, s:I, s:s, s:I, s:I, s:o}", "path", assay__json_str(p->path), "bytes",
                      (json_int_t)p->bytes, "sha256", hex, "row_begin", (json_int_t)p->row_begin,
                      "row_end", (json_int_t)p->row_end, "written_by", assay__json_str(p->tool)));
    }
    json_t *ranking =
        g->counts_known
            ? json_pack("{s:I,s:I,s:I}", "certified_rows", (json_int_t)res->graph.n_certified,
                        "radius_rows", (json_int_t)res->graph.n_radius, "exhaustive_rows",
                        (json_int_t)res->graph.n_exhaustive)
            : json_null();
    return json_pack("{s:s, s:s, s:s, s:o, s:o}", "source", "shards", "method", "exact", "format",
                     ASSAY__GRAPH_FORMAT, "shards", parts, "exact_ranking", ranking);
}

/* Where the neighbour graph came from: built by this scan, a checked graph file, or checked
 * shard files. */
static json_t *graph_json(const assay_result *res) {
    const assay__graph_source *g = &res->graph_file;
    if (g->n_parts > 0) return shards_json(res);
    /* The candidate pass (its arithmetic: --precision, and the kernels it ran on), and how the
     * exact order was established: rows certified from the candidates, rows that needed the
     * radius search, rows searched exhaustively (docs/kernels.md). */
    if (g->path == NULL) {
        json_t *pilots = json_array();
        for (int p = 0; p < res->graph.n_pilot; p++)
            json_array_append_new(
                pilots, json_pack("{s:s,s:I,s:I}", "precision",
                                  assay_precision_name(res->graph.pilot[p].precision), "rows",
                                  (json_int_t)res->graph.pilot[p].rows, "certified",
                                  (json_int_t)res->graph.pilot[p].certified));
        json_t *o =
            json_pack("{s:s,s:{s:s,s:s,s:s,s:o},s:{s:I,s:I,s:I}}", "source", "built", "candidates",
                      "precision", assay_precision_name(res->graph.precision), "requested",
                      assay_precision_name(res->graph.requested), "kernels",
                      res->graph.kernels ? res->graph.kernels : assay_isa_name(res->isa), "pilots",
                      pilots, "exact_ranking", "certified_rows", (json_int_t)res->graph.n_certified,
                      "radius_rows", (json_int_t)res->graph.n_radius, "exhaustive_rows",
                      (json_int_t)res->graph.n_exhaustive);
        const assay__approx_info *a = &res->graph.approx;
        json_object_set_new(o, "method", json_string(a->used ? "approx" : "exact"));
        if (a->requested) {
            static const char *const fallback[] = {"none", "few-rows", "probes", "range"};
            json_object_set_new(
                o, "approx",
                json_pack("{s:b,s:s,s:I,s:I,s:I,s:o,s:I,s:o,s:I,s:o,s:o,s:I}", "used", a->used,
                          "fallback", fallback[a->fallback], "lists", (json_int_t)a->lists,
                          "probes", (json_int_t)a->probes, "max_probes", (json_int_t)a->max_probes,
                          "target_recall", assay__json_num(a->target), "pilot_rows",
                          (json_int_t)a->pilot_rows, "pilot_recall",
                          assay__json_num(a->pilot_recall), "sample_rows",
                          (json_int_t)a->sample_rows, "recall",
                          a->used ? assay__json_num(a->recall) : json_null(), "rows_exact",
                          a->used ? assay__json_num(a->rows_exact) : json_null(), "short_rows",
                          (json_int_t)a->short_rows));
        }
        return o;
    }
    char hex[65];
    assay__hex32(g->sha256, hex);
    json_t *o = json_pack("{s:s, s:o, s:I, s:s, s:s, s:o, s:s}", "source", "file", "path",
                          assay__json_str(g->path), "bytes", (json_int_t)g->bytes, "sha256", hex,
                          "format", ASSAY__GRAPH_FORMAT, "written_by", assay__json_str(g->tool),
                          "method", g->approx ? "approx" : "exact");
    if (g->approx) json_object_set_new(o, "approx_recall", assay__json_num(g->approx_recall));
    return o;
}

static json_t *evaluation_json(const assay_result *res) {
    const assay__eval *e = &res->eval;
    json_t *groups = json_array(), *dets = json_object();
    for (size_t g = 0; g < e->n_groups; g++)
        json_array_append_new(groups, json_pack("{s:o, s:I, s:I, s:o, s:o}", "attack",
                                                assay__json_str(e->groups[g].name), "rows",
                                                (json_int_t)e->groups[g].rows, "flagged",
                                                (json_int_t)e->groups[g].flagged, "recall",
                                                assay__json_num(e->groups[g].recall), "auroc",
                                                assay__json_num(e->groups[g].auroc)));
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        json_object_set_new(dets, assay_detector_name(d), assay__json_num(e->det_auroc[d]));
    return json_pack("{s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "truth",
                     assay__json_str(e->truth_path), "poisons", (json_int_t)e->poisons, "flagged",
                     (json_int_t)e->flagged, "true_positives", (json_int_t)e->true_positives,
                     "precision", assay__json_num(e->precision), "recall",
                     assay__json_num(e->recall), "auroc", assay__json_num(e->auroc),
                     "detector_auroc", dets, "attacks", groups);
}

static json_t *warnings_json(const assay_dataset *ds, const assay_result *res) {
    json_t *w = json_array();
    char buf[256];
    if (res->small_classes > 0) {
        snprintf(buf, sizeof buf,
                 "%zu class%s fewer than 2 rows: label consistency cannot be judged for %s",
                 res->small_classes, res->small_classes == 1 ? " has" : "es have",
                 res->small_classes == 1 ? "it" : "them");
        json_array_append_new(w, json_string(buf));
    }
    if (ds->n > res->n_in_graph) {
        snprintf(buf, sizeof buf, "%zu row%s left out of the neighbour graph (see integrity)",
                 ds->n - res->n_in_graph, ds->n - res->n_in_graph == 1 ? " is" : "s are");
        json_array_append_new(w, json_string(buf));
    }
    if (ds->pred_probs != NULL)
        json_array_append_new(w, json_string("predicted probabilities were loaded and checked, "
                                             "but no detector of this version uses them"));
    return w;
}

static json_t *etsi_json(const json_t *etsi) {
    json_t *ev = json_object();
    static const char *const keys[] = {"label",    "outlier",      "duplicate", "integrity",
                                       "backdoor", "distribution", "tampering", "drift",
                                       "manifest", "report",       "gate"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *e = json_object_get(json_object_get(etsi, "evidence"), keys[i]);
        json_object_set_new(ev, keys[i],
                            json_pack("{s:O, s:o}", "what", json_object_get(e, "what"),
                                      "provisions", assay__etsi_refs(etsi, keys[i])));
    }
    return json_pack("{s:O, s:O, s:O, s:o, s:O}", "document", json_object_get(etsi, "document"),
                     "version", json_object_get(etsi, "version"), "disclaimer",
                     json_object_get(etsi, "disclaimer"), "evidence", ev, "not_evidenced",
                     json_object_get(etsi, "not_evidenced"));
}

json_t *assay__report_json(const assay_dataset *ds, const assay_result *res,
                           const assay_report_opts *opts, const json_t *etsi, const char *dir) {
    (void)dir;
    json_t *cmd = json_array();
    for (int i = 0; opts && i < opts->argc; i++)
        json_array_append_new(cmd, assay__json_str(opts->argv[i]));
    json_t *kinds_by_sev = NULL, *kinds = kind_counts_json(res, &kinds_by_sev);

    json_t *doc = json_object();
    json_object_set_new(doc, "schema", json_string("assay-report/1"));
    json_object_set_new(doc, "tool",
                        json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "name", "assay", "version",
                                  assay_version(), "isa", assay_isa_name(res->isa), "blas",
                                  assay_blas_info(), "threads", res->n_threads, "ranks",
                                  res->n_ranks > 0 ? res->n_ranks : 1));
    json_object_set_new(doc, "command", cmd);
    json_t *env = json_array();
    for (int i = 0; opts && i < opts->n_environment; i++)
        json_array_append_new(env, assay__json_str(opts->environment[i]));
    json_object_set_new(doc, "environment", env);
    json_object_set_new(doc, "started", json_string(res->started));
    json_object_set_new(doc, "finished", json_string(res->finished));
    json_object_set_new(doc, "input", input_json(ds, res));
    json_object_set_new(doc, "parameters", parameters_json(res));
    json_object_set_new(doc, "graph", graph_json(res));
    if (res->trusted_ids_path != NULL || res->trusted_data_path != NULL)
        json_object_set_new(doc, "trusted", trusted_json(res));
    json_object_set_new(doc, "detectors", detectors_json(ds, res, etsi));
    json_object_set_new(doc, "tests", tests_json(ds, res));
    json_object_set_new(
        doc, "summary",
        json_pack("{s:I, s:I, s:o, s:I, s:o, s:o, s:o, s:o}", "rows", (json_int_t)res->n, "flagged",
                  (json_int_t)res->n_flagged, "flagged_fraction",
                  assay__json_num(res->n ? (double)res->n_flagged / (double)res->n : 0.0),
                  "findings", (json_int_t)res->n_findings, "findings_by_severity",
                  severity_counts(res->findings_by_sev), "rows_by_severity",
                  severity_counts(res->rows_by_sev), "findings_by_kind", kinds,
                  "by_kind_and_severity", kinds_by_sev));
    json_t *reasons = json_array();
    for (size_t i = 0; i < res->n_gate_reasons; i++)
        json_array_append_new(reasons, assay__json_str(res->gate_reasons[i]));
    const size_t counted = res->n_flagged - res->allowlisted_flagged;
    json_object_set_new(
        doc, "gate",
        json_pack("{s:s, s:b, s:i, s:b, s:s, s:s, s:o, s:I, s:I, s:o, s:s, s:o, s:o}", "verdict",
                  assay_verdict_name((assay_verdict)res->verdict), "passed", res->gate_passed,
                  "exit_code", res->exit_code, "exit_zero", res->exit_zero, "fail_on",
                  assay_severity_name(res->opts.fail_on), "warn_on",
                  assay_severity_name(res->warn_on), "max_flagged_fraction",
                  assay__json_num(res->opts.max_flagged_fraction), "counted_flagged",
                  (json_int_t)counted, "allowlisted_flagged", (json_int_t)res->allowlisted_flagged,
                  "counted_flagged_fraction",
                  assay__json_num(res->n ? (double)counted / (double)res->n : 0.0), "reason",
                  res->gate_reason, "reasons", reasons, "etsi", assay__etsi_refs(etsi, "gate")));
    /* the effective policy with its sources and allowlist (null: no policy was applied) */
    json_object_set(doc, "policy", res->policy_doc ? res->policy_doc : json_null());
    if (res->eval.present) json_object_set_new(doc, "evaluation", evaluation_json(res));
    json_object_set_new(doc, "warnings", warnings_json(ds, res));
    json_object_set_new(doc, "baseline", assay__baseline_json(res->baseline, etsi)); /* or null */
    /* the findings are spooled (assay__report_findings) and written in this member's place */
    json_object_set_new(doc, "findings", json_array());
    json_object_set_new(doc, "etsi", etsi_json(etsi));
    json_object_set_new(doc, "plots", assay__plots_json(ds, res)); /* report.html's figures */
    json_object_set_new(
        doc, "timings_seconds",
        json_pack("{s:o, s:o, s:o, s:o, s:o}", "load", assay__json_num(ds->t_load), "fingerprint",
                  assay__json_num(ds->t_fingerprint), "knn", assay__json_num(res->t_knn), "detect",
                  assay__json_num(res->t_detect), "scan_total", assay__json_num(res->t_total)));
    json_t *outputs =
        json_pack("{s:s, s:s, s:s, s:s}", "scores", "scores.csv", "flagged", "flagged.csv",
                  "manifest", "manifest.json", "report", "report.json");
    for (size_t f = 0; f < assay__doc_format_count; f++)
        json_object_set_new(outputs, assay__doc_formats[f].option,
                            json_string(assay__doc_formats[f].file));
    json_object_set_new(doc, "outputs", outputs);
    return doc;
}

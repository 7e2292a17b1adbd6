/* SPDX-License-Identifier: Apache-2.0 */
/* findings.jsonl: one JSON object per line per flagged row, most suspicious first, for tools
 * that quarantine rows (jq, pandas.read_json(lines=True), Spark). Rendered from the report
 * document's findings, which are listed per finding, grouped by row: a row's line merges its
 * findings (kinds, detectors with their evidence, the highest severity, the union of the ETSI
 * provisions they give evidence toward). */
#include <string.h>

#include "core/internal.h"
#include "core/outfile.h"
#include "report/render.h"

/* The keys every finding must have for a row line (others are copied when present). */
static const char *const k_row_keys[] = {"index", "id",         "label",    "class",
                                         "score", "row_sha256", "location", "suggested_label"};
static const char *const k_detector_keys[] = {
    "detector", "kind", "severity", "detector_score", "reason", "evidence", "explanation"};

static assay_status check_finding(assay_ctx *ctx, const json_t *f, size_t i, const char *path) {
    if (!json_is_object(f))
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: report findings[%zu] is not an object", path,
                           i);
    for (size_t k = 0; k < sizeof k_row_keys / sizeof k_row_keys[0]; k++)
        if (json_object_get(f, k_row_keys[k]) == NULL)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: report findings[%zu] lacks \"%s\" (a report.json from an older "
                               "version? scan again)",
                               path, i, k_row_keys[k]);
    for (size_t k = 0; k < sizeof k_detector_keys / sizeof k_detector_keys[0]; k++)
        if (json_object_get(f, k_detector_keys[k]) == NULL)
            return assay__fail(ctx, ASSAY_E_FORMAT, "%s: report findings[%zu] lacks \"%s\"", path,
                               i, k_detector_keys[k]);
    if (!json_is_integer(json_object_get(f, "index")) ||
        assay__doc_severity(json_string_value(json_object_get(f, "severity"))) < 0)
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: report findings[%zu]: expected an integer \"index\" and a "
                           "severity low|medium|high|critical",
                           path, i);
    if (!json_is_array(json_object_get(f, "etsi")))
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: report findings[%zu] lacks the \"etsi\" list of provisions", path,
                           i);
    return ASSAY_OK;
}

static int is_primary(const json_t *ref) {
    const char *role = json_string_value(json_object_get(ref, "role"));
    return role != NULL && strcmp(role, "primary") == 0;
}

/* Adds the provisions of `refs` to `etsi` (a list), once per id; a provision that is primary
 * evidence for any finding of the row is listed as primary. */
static void merge_etsi(json_t *etsi, const json_t *refs) {
    size_t i, j;
    const json_t *r;
    json_array_foreach(refs, i, r) {
        const char *id = json_string_value(json_object_get(r, "id"));
        json_t *have = NULL, *e;
        json_array_foreach(etsi, j, e) {
            const char *other = json_string_value(json_object_get(e, "id"));
            if (id != NULL && other != NULL && strcmp(id, other) == 0) {
                have = e;
                break;
            }
        }
        if (have == NULL) {
            if (id != NULL) json_array_append_new(etsi, json_deep_copy(r));
        } else if (is_primary(r)) {
            json_object_set_new(have, "role", json_string("primary"));
        }
    }
}

/* Primary provisions first (stable otherwise): the order a reader wants. */
static json_t *primary_first(json_t *etsi) {
    json_t *out = json_array();
    for (int pass = 0; pass < 2; pass++) {
        size_t i;
        json_t *e;
        json_array_foreach(etsi, i, e) {
            int primary = is_primary(e);
            if (primary == (pass == 0)) json_array_append(out, e);
        }
    }
    json_decref(etsi);
    return out;
}

/* The line of the row whose findings are findings[first .. end). */
static json_t *row_line(assay__findings *fs, size_t first, size_t end) {
    const json_t *f0 = assay__findings_at(fs, first);
    json_t *kinds = json_array(), *dets = json_array(), *etsi = json_array();
    const char *severity = "none";
    int allowlisted = -1; /* absent */
    for (size_t i = first; i < end; i++) {
        const json_t *f = assay__findings_at(fs, i);
        const char *sev = json_string_value(json_object_get(f, "severity"));
        if (assay__doc_severity(sev) > assay__doc_severity(severity)) severity = sev;
        const json_t *kind = json_object_get(f, "kind");
        int seen = 0;
        size_t k;
        const json_t *have;
        json_array_foreach(kinds, k, have) seen |= json_equal(have, kind);
        if (!seen) json_array_append(kinds, (json_t *)kind);
        json_t *d = json_object();
        for (size_t j = 0; j < sizeof k_detector_keys / sizeof k_detector_keys[0]; j++)
            json_object_set(d, k_detector_keys[j], json_object_get(f, k_detector_keys[j]));
        if (json_object_get(f, "test") != NULL)
            json_object_set(d, "test", json_object_get(f, "test"));
        json_array_append_new(dets, d);
        merge_etsi(etsi, json_object_get(f, "etsi"));
        const json_t *al = json_object_get(f, "allowlisted");
        if (json_is_boolean(al)) allowlisted = allowlisted == 1 || json_is_true(al);
    }
    json_t *o = json_object();
    if (json_object_get(f0, "rank") != NULL)
        json_object_set(o, "rank", json_object_get(f0, "rank"));
    static const char *const head[] = {"index", "id", "label", "class", "score"};
    for (size_t j = 0; j < sizeof head / sizeof head[0]; j++)
        json_object_set(o, head[j], json_object_get(f0, head[j]));
    json_object_set_new(o, "severity", json_string(severity));
    json_object_set_new(o, "kinds", kinds);
    json_object_set_new(o, "detectors", dets);
    static const char *const tail[] = {"suggested_label", "row_sha256", "location"};
    for (size_t j = 0; j < sizeof tail / sizeof tail[0]; j++)
        json_object_set(o, tail[j], json_object_get(f0, tail[j]));
    json_object_set_new(o, "etsi", primary_first(etsi));
    if (allowlisted >= 0) json_object_set_new(o, "allowlisted", json_boolean(allowlisted));
    return o;
}

assay_status assay__render_findings_jsonl(assay_ctx *ctx, const json_t *doc, assay__findings *fs,
                                          FILE *fp, const char *path) {
    if (!json_is_array(json_object_get(doc, "findings")))
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: the report has no \"findings\" list", path);
    /* Findings of one row are adjacent (report.json lists them row by row, rank order); each
     * row's are checked before its line is written (a failure discards the whole set). */
    const size_t n = assay__findings_count(fs);
    for (size_t first = 0, end; first < n; first = end) {
        end = assay__doc_row_end(fs, first);
        for (size_t i = first; i < end; i++)
            ASSAY_TRY(check_finding(ctx, assay__findings_at(fs, i), i, path));
        json_t *line = row_line(fs, first, end);
        if (line == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
        int rc = assay__json_dumpf(line, fp, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(line);
        if (rc != 0 || fputc('\n', fp) == EOF) return assay__write_failed(ctx, fp, path);
    }
    return assay__findings_status(ctx, fs, path);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The one-line JSON summary of a run that orchestrators read back (Airflow's XCom, Argo and
 * Kubeflow output files), built from report.json's document so it says what the report says. */
#include <stdlib.h>

#include "report/report_internal.h"

/* json_object_get along a path of keys; NULL when any step is missing. */
static json_t *get(const json_t *doc, const char *block, const char *key) {
    return json_object_get(json_object_get(doc, block), key);
}

/* A copy of v, or null when absent (every key is always present in the summary). */
static json_t *copy_or_null(json_t *v) {
    return v != NULL ? json_deep_copy(v) : json_null();
}

static json_t *str_or_null(const char *s) {
    return s != NULL ? json_string(s) : json_null();
}

static char *dump_line(json_t *o) {
    char *line = assay__json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    return line;
}

char *assay__summary_json(const json_t *doc, const char *report, const char *out) {
    const json_t *gate = json_object_get(doc, "gate");
    json_t *verdict = json_object_get(gate, "verdict");
    json_t *code = json_object_get(gate, "exit_code");
    json_t *passed = json_object_get(gate, "passed");
    /* Reports from before the verdict field carry only "passed". */
    const char *status = json_is_string(verdict)   ? json_string_value(verdict)
                         : json_is_boolean(passed) ? (json_is_true(passed) ? "pass" : "fail")
                                                   : NULL;
    json_int_t exit_code = json_is_integer(code)     ? json_integer_value(code)
                           : json_is_boolean(passed) ? (json_is_true(passed) ? 0 : 1)
                                                     : -1;
    json_t *o = json_object();
    if (o == NULL) return NULL;
    json_object_set_new(o, "tool", json_string("assay"));
    json_object_set_new(o, "version", json_string(assay_version()));
    json_object_set_new(o, "status", str_or_null(status));
    json_object_set_new(o, "exit_code", exit_code >= 0 ? json_integer(exit_code) : json_null());
    /* why the gate decided so, without opening report.json (escaped: the line stays one line) */
    json_object_set_new(o, "reasons", copy_or_null(json_object_get(gate, "reasons")));
    json_object_set_new(o, "rows", copy_or_null(get(doc, "summary", "rows")));
    json_object_set_new(o, "flagged", copy_or_null(get(doc, "summary", "flagged")));
    json_object_set_new(o, "flagged_fraction",
                        copy_or_null(get(doc, "summary", "flagged_fraction")));
    json_object_set_new(o, "findings_by_severity",
                        copy_or_null(get(doc, "summary", "findings_by_severity")));
    json_object_set_new(o, "dataset_sha256", copy_or_null(get(doc, "input", "dataset_sha256")));
    json_object_set_new(o, "report", str_or_null(report));
    json_object_set_new(o, "out", str_or_null(out));
    return dump_line(o);
}

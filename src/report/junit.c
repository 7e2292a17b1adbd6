/* SPDX-License-Identifier: Apache-2.0 */
/* junit.xml: the gate as a test report, for the test tabs of GitLab, Jenkins and Azure DevOps:
 * one test case per detector (skipped when it could not run), one for the gate itself and one
 * for the baseline comparison when there is one. A case fails when it fails the gate; its text
 * lists the first flagged rows and points to findings.jsonl for the rest. Ids, labels and paths
 * come from user files, so every string is escaped and characters XML 1.0 forbids are dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/outfile.h"
#include "report/render.h"

#define FIRST_ROWS 10

/* What the cases are written from: the document, and per detector (in "detectors" order) how
 * many findings it has and the first FIRST_ROWS of them (indices), from one pass over the
 * findings. */
typedef struct junit_doc {
    const json_t *doc;
    assay__findings *fs;
    size_t *total;
    size_t (*first)[FIRST_ROWS];
} junit_doc;

/* What one test case says: its verdict and the text of its failure or output. */
typedef struct case_verdict {
    int skipped, failed;
    char message[512];
} case_verdict;

/* Rows at or above the gate's fail_on among a detector's findings (by_severity counts). */
static size_t rows_at_or_above(const json_t *det, int fail_on) {
    if (fail_on <= 0) return 0;
    size_t n = 0;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(det, "by_severity"), key, v) {
        if (assay__doc_severity(key) >= fail_on) n += (size_t)json_integer_value(v);
    }
    return n;
}

static size_t significant_tests(const json_t *doc, const char *detector) {
    size_t i, n = 0;
    const json_t *t;
    json_array_foreach(json_object_get(doc, "tests"), i, t) {
        n += strcmp(assay__doc_str(t, "detector"), detector) == 0 &&
             json_is_true(json_object_get(t, "significant"));
    }
    return n;
}

static case_verdict detector_verdict(const json_t *doc, const json_t *det) {
    case_verdict v = {0, 0, ""};
    const char *name = assay__doc_str(det, "name");
    const char *verdict = json_string_value(json_object_get(det, "verdict"));
    int fail_on = assay__doc_severity(assay__doc_str(json_object_get(doc, "gate"), "fail_on"));
    size_t at_or_above = rows_at_or_above(det, fail_on);
    size_t sig = significant_tests(doc, name);
    if ((verdict && strcmp(verdict, "not_run") == 0) ||
        (!verdict && !json_is_true(json_object_get(det, "ran")))) {
        v.skipped = 1;
        snprintf(v.message, sizeof v.message, "not run: %s",
                 assay__doc_str(det, "note")[0] ? assay__doc_str(det, "note")
                                                : "not applicable to this data set");
        return v;
    }
    v.failed = verdict ? strcmp(verdict, "fail") == 0 : at_or_above > 0 || sig > 0;
    size_t flagged = (size_t)json_integer_value(json_object_get(det, "flagged"));
    int len = snprintf(v.message, sizeof v.message, "%zu row%s flagged", flagged,
                       flagged == 1 ? "" : "s");
    if (fail_on > 0)
        len += snprintf(v.message + len, sizeof v.message - (size_t)len,
                        ", %zu at or above fail-on=%s", at_or_above,
                        assay__doc_str(json_object_get(doc, "gate"), "fail_on"));
    snprintf(v.message + len, sizeof v.message - (size_t)len, "; %zu significant test%s", sig,
             sig == 1 ? "" : "s");
    return v;
}

/* The body of a detector's case: its significant tests, then its first flagged rows. */
static void detector_body(FILE *fp, const junit_doc *jd, size_t d) {
    const json_t *doc = jd->doc;
    const char *name = assay__doc_str(json_array_get(json_object_get(doc, "detectors"), d), "name");
    size_t i, shown = 0, total = jd->total[d];
    const json_t *t;
    json_array_foreach(json_object_get(doc, "tests"), i, t) {
        if (strcmp(assay__doc_str(t, "detector"), name) != 0 ||
            !json_is_true(json_object_get(t, "significant")))
            continue;
        char b[64];
        const json_t *c = json_object_get(t, "class");
        fputs("significant test on ", fp);
        if (c != NULL && !json_is_null(c)) {
            fputs("class ", fp);
            assay__xml_put(fp, assay__doc_scalar_text(c, b, sizeof b), 0);
        } else {
            fputs("the whole data set", fp);
        }
        fputs(": ", fp);
        assay__xml_put(fp, assay__doc_str(t, "detail"), 0);
        fprintf(fp, " (q = %.3g)\n", json_number_value(json_object_get(t, "q_value")));
    }
    for (; shown < total && shown < FIRST_ROWS; shown++) {
        t = assay__findings_at(jd->fs, jd->first[d][shown]);
        if (shown == 0) fputs("first rows (most suspicious first):\n", fp);
        char idb[64], lab[64];
        fprintf(fp, "  row %lld (id ", (long long)json_integer_value(json_object_get(t, "index")));
        assay__xml_put(fp, assay__doc_scalar_text(json_object_get(t, "id"), idb, sizeof idb), 0);
        fputs(", label ", fp);
        assay__xml_put(fp, assay__doc_scalar_text(json_object_get(t, "label"), lab, sizeof lab), 0);
        fprintf(fp, ", %s): ", assay__doc_str(t, "severity"));
        assay__xml_put(fp, assay__doc_str(t, "explanation"), 0);
        fputc('\n', fp);
    }
    if (total > 0)
        fprintf(fp, "%s%zu row%s in all; the full list with evidence is in findings.jsonl\n",
                total > shown ? "... " : "", total, total == 1 ? "" : "s");
}

static void open_case(FILE *fp, const char *classname, const char *name, double seconds) {
    fputs("    <testcase classname=\"", fp);
    assay__xml_put(fp, classname, 1);
    fputs("\" name=\"", fp);
    assay__xml_put(fp, name, 1);
    fprintf(fp, "\" time=\"%.3f\"", seconds >= 0 ? seconds : 0.0);
}

/* <failure>/<skipped>/<system-out> of a case and its end; body writes the text (may be NULL). */
static void close_case(FILE *fp, const case_verdict *v, const char *type,
                       void (*body)(FILE *, const junit_doc *, size_t), const junit_doc *jd,
                       size_t body_arg) {
    if (v->skipped) {
        fputs(">\n      <skipped message=\"", fp);
        assay__xml_put(fp, v->message, 1);
        fputs("\"/>\n    </testcase>\n", fp);
        return;
    }
    const char *tag = v->failed ? "failure" : "system-out";
    if (v->failed) {
        fputs(">\n      <failure type=\"", fp);
        assay__xml_put(fp, type, 1);
        fputs("\" message=\"", fp);
        assay__xml_put(fp, v->message, 1);
        fputs("\">", fp);
    } else {
        fputs(">\n      <system-out>", fp);
        assay__xml_put(fp, v->message, 0);
        fputc('\n', fp);
    }
    if (body) body(fp, jd, body_arg);
    fprintf(fp, "</%s>\n    </testcase>\n", tag);
}

static void gate_body(FILE *fp, const junit_doc *jd, size_t unused) {
    (void)unused;
    const json_t *doc = jd->doc;
    const json_t *gate = json_object_get(doc, "gate");
    const json_t *reasons = json_object_get(gate, "reasons");
    size_t i;
    const json_t *r;
    if (json_array_size(reasons) > 0) {
        json_array_foreach(reasons, i, r) {
            fputs("- ", fp);
            assay__xml_put(fp, json_string_value(r) ? json_string_value(r) : "", 0);
            fputc('\n', fp);
        }
    }
    const json_t *summary = json_object_get(doc, "summary");
    fprintf(fp, "%lld of %lld rows flagged; the full list is in findings.jsonl\n",
            (long long)json_integer_value(json_object_get(summary, "flagged")),
            (long long)json_integer_value(json_object_get(summary, "rows")));
}

static void baseline_body(FILE *fp, const junit_doc *jd, size_t unused) {
    (void)unused;
    const json_t *doc = jd->doc;
    const json_t *b = json_object_get(doc, "baseline");
    assay__xml_put(fp, assay__doc_str(b, "summary"), 0);
    fputc('\n', fp);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(b, "counts"), key, v) {
        if (!json_is_integer(v)) continue;
        fputs("  ", fp);
        assay__xml_put(fp, key, 0);
        fprintf(fp, ": %lld\n", (long long)json_integer_value(v));
    }
}

/* One pass over the findings: each detector's count and its first FIRST_ROWS findings. */
static void collect_rows(junit_doc *jd, size_t n_det) {
    const json_t *dets = json_object_get(jd->doc, "detectors");
    size_t i;
    const json_t *f;
    assay__findings_foreach(jd->fs, i, f) {
        const char *det = assay__doc_str(f, "detector");
        for (size_t d = 0; d < n_det; d++) {
            if (strcmp(assay__doc_str(json_array_get(dets, d), "name"), det) != 0) continue;
            if (jd->total[d] < FIRST_ROWS) jd->first[d][jd->total[d]] = i;
            jd->total[d]++;
            break;
        }
    }
}

assay_status assay__render_junit(assay_ctx *ctx, const json_t *doc, assay__findings *fs, FILE *fp,
                                 const char *path) {
    assay_status s = ASSAY_OK;
    assay__doc_need(ctx, &s, path, doc, "top level", "detectors", JSON_ARRAY);
    assay__doc_need(ctx, &s, path, doc, "top level", "tests", JSON_ARRAY);
    assay__doc_need(ctx, &s, path, doc, "top level", "findings", JSON_ARRAY);
    assay__doc_need(ctx, &s, path, doc, "top level", "gate", JSON_OBJECT);
    assay__doc_need(ctx, &s, path, doc, "top level", "input", JSON_OBJECT);
    assay__doc_need(ctx, &s, path, json_object_get(doc, "gate"), "gate", "verdict", JSON_STRING);
    assay__doc_need(ctx, &s, path, json_object_get(doc, "gate"), "gate", "fail_on", JSON_STRING);
    assay__doc_need(ctx, &s, path, json_object_get(doc, "input"), "input", "path", JSON_STRING);
    size_t i;
    const json_t *det;
    char where[48];
    json_array_foreach(json_object_get(doc, "detectors"), i, det) {
        snprintf(where, sizeof where, "detectors[%zu]", i);
        assay__doc_need(ctx, &s, path, det, where, "name", JSON_STRING);
        assay__doc_need(ctx, &s, path, det, where, "flagged", JSON_INTEGER);
    }
    if (s != ASSAY_OK) return s;

    const json_t *gate = json_object_get(doc, "gate");
    const json_t *baseline = json_object_get(doc, "baseline");
    int has_baseline = json_is_object(baseline);
    size_t n_det = json_array_size(json_object_get(doc, "detectors"));
    size_t tests = n_det + 1 + (size_t)has_baseline, failures = 0, skipped = 0;
    case_verdict *v = calloc(n_det + 2, sizeof *v);
    junit_doc jd = {doc, fs, calloc(n_det + 1, sizeof *jd.total),
                    calloc(n_det + 1, sizeof *jd.first)};
    if (v == NULL || jd.total == NULL || jd.first == NULL) {
        free(v);
        free(jd.total);
        free(jd.first);
        return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    }
    collect_rows(&jd, n_det);
    int tampering_failed = -1; /* no tampering detector */
    json_array_foreach(json_object_get(doc, "detectors"), i, det) {
        v[i] = detector_verdict(doc, det);
        failures += (size_t)v[i].failed;
        skipped += (size_t)v[i].skipped;
        if (strcmp(assay__doc_str(det, "kind"), "tampering") == 0) tampering_failed = v[i].failed;
    }
    case_verdict *gv = &v[n_det], *bv = &v[n_det + 1];
    gv->failed = strcmp(assay__doc_str(gate, "verdict"), "fail") == 0;
    snprintf(gv->message, sizeof gv->message, "gate %s: %s", assay__doc_str(gate, "verdict"),
             assay__doc_str(gate, "reason"));
    failures += (size_t)gv->failed;
    if (has_baseline) {
        const json_t *changed = json_object_get(json_object_get(baseline, "counts"), "changed");
        bv->failed = tampering_failed >= 0 ? tampering_failed : json_integer_value(changed) > 0;
        snprintf(bv->message, sizeof bv->message, "%lld row%s changed since the baseline",
                 (long long)json_integer_value(changed),
                 json_integer_value(changed) == 1 ? "" : "s");
        failures += (size_t)bv->failed;
    }

    double total =
        json_number_value(json_object_get(json_object_get(doc, "timings_seconds"), "scan_total"));
    const char *input = assay__doc_str(json_object_get(doc, "input"), "path");
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", fp);
    fprintf(fp,
            "<testsuites name=\"assay\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
            "skipped=\"%zu\" time=\"%.3f\">\n",
            tests, failures, skipped, total);
    fputs("  <testsuite name=\"assay:", fp);
    assay__xml_put(fp, input, 1);
    fprintf(fp, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\"",
            tests, failures, skipped, total);
    if (assay__doc_str(doc, "started")[0]) {
        fputs(" timestamp=\"", fp);
        assay__xml_put(fp, assay__doc_str(doc, "started"), 1);
        fputc('"', fp);
    }
    fputs(">\n    <properties>\n", fp);
    static const char *const props[][2] = {{"dataset_sha256", "dataset_sha256"},
                                           {"format", "format"}};
    for (size_t p = 0; p < sizeof props / sizeof props[0]; p++) {
        fprintf(fp, "      <property name=\"%s\" value=\"", props[p][0]);
        assay__xml_put(fp, assay__doc_str(json_object_get(doc, "input"), props[p][1]), 1);
        fputs("\"/>\n", fp);
    }
    fputs("      <property name=\"assay_version\" value=\"", fp);
    assay__xml_put(fp, assay__doc_str(json_object_get(doc, "tool"), "version"), 1);
    fputs("\"/>\n    </properties>\n", fp);

    json_array_foreach(json_object_get(doc, "detectors"), i, det) {
        char classname[96], name[160], type[64];
        snprintf(classname, sizeof classname, "assay.%s", assay__doc_str(det, "name"));
        snprintf(name, sizeof name, "%s (%s)", assay__doc_str(det, "name"),
                 assay__doc_str(det, "kind"));
        snprintf(type, sizeof type, "%s", assay__doc_str(det, "kind"));
        open_case(fp, classname, name, json_number_value(json_object_get(det, "seconds")));
        int has_rows = json_integer_value(json_object_get(det, "flagged")) > 0 ||
                       significant_tests(doc, assay__doc_str(det, "name")) > 0;
        close_case(fp, &v[i], type, has_rows ? detector_body : NULL, &jd, i);
    }
    char gate_name[128];
    snprintf(gate_name, sizeof gate_name, "gate (fail-on %s)", assay__doc_str(gate, "fail_on"));
    open_case(fp, "assay.gate", gate_name, 0.0);
    close_case(fp, gv, "gate", gate_body, &jd, 0);
    if (has_baseline) {
        open_case(fp, "assay.baseline", "baseline comparison", 0.0);
        close_case(fp, bv, "tampering", baseline_body, &jd, 0);
    }
    fputs("  </testsuite>\n</testsuites>\n", fp);
    free(v);
    free(jd.total);
    free(jd.first);
    if (ferror(fp)) return assay__write_failed(ctx, fp, path);
    return assay__findings_status(ctx, fs, path);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* report.json, findings.jsonl, report.sarif and junit.xml from real scans of HDF5, CSV and .npy
 * inputs: each validated against its schema (tests/schema_check.py: the repo's report and
 * findings schemas, the OASIS SARIF 2.1.0 schema), plus what schemas cannot say -- GitHub's
 * upload rules for SARIF (a physical location on every result, <= 25,000 results, <= 1,000
 * related locations), regions that point at the right line or bytes, aggregation above 5,000
 * flagged rows, JUnit counts and failures as GitLab parses them, and escaping of ids and labels
 * that come from user files. */
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "report/render.h"
#include "test_cli_util.h"
#include "test_data.h"

#define JUNIT_SUMMARY   ASSAY_SOURCE_DIR "/tests/junit_summary.py"
#define REPORT_SCHEMA   TU_SCHEMA("assay-report-1.schema.json")
#define FINDINGS_SCHEMA TU_SCHEMA("assay-findings-1.schema.json")
#define SARIF_SCHEMA    ASSAY_SHARED_SCHEMAS "/sarif-schema-2.1.0.json"

/* The lines of a JSON-lines file as an array. */
static json_t *load_jsonl(const char *path) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) > 0) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        if (j == NULL) fail_msg("%s: line %zu: %s", path, json_array_size(arr) + 1, e.text);
        json_array_append_new(arr, j);
    }
    free(line);
    fclose(fp);
    return arr;
}

/* junit_summary.py's JSON for a junit.xml (it fails on malformed XML or inconsistent counts). */
static json_t *junit_summary(const char *xml) {
    char out[1200], cmd[4096];
    snprintf(out, sizeof out, "%s.summary.json", xml);
    snprintf(cmd, sizeof cmd, "%s %s %s > %s", ASSAY_PYTHON3, JUNIT_SUMMARY, xml, out);
    if (system(cmd) != 0) fail_msg("%s: junit_summary.py failed (reason above)", xml);
    return tu_load_json(out);
}

static const json_t *junit_case(const json_t *summary, const char *classname) {
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(summary, "cases"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "classname")), classname) == 0) return c;
    }
    fail_msg("junit.xml has no test case of class %s", classname);
    return NULL;
}

static json_int_t iget(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* Scans `input` (with extra arguments) into out; returns the exit code. */
static int scan(const char *out, const char *input, const char *const *extra) {
    const char *argv[32] = {"assay", "scan", input, "--out", out, "-q"};
    int n = 6;
    for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    return tu_run_assay("formats", argv);
}

static void make_data(const char *path, datagen_format fmt, size_t n, double flips, double dups,
                      double outliers) {
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = n;
    o.d = 16;
    o.classes = 4;
    o.separation = 12.0;
    o.plant.random_flip = flips;
    o.plant.duplicates = dups;
    o.plant.outliers = outliers;
    tu_write_synth(&o, fmt, path, NULL, NULL);
}

typedef enum { REGION_NONE, REGION_LINE, REGION_BYTES } region_kind;

/* Number of distinct rows in report.json's findings (they are grouped by row). */
static size_t flagged_rows(const json_t *findings) {
    size_t rows = 0, i;
    const json_t *f;
    json_int_t last = -1;
    json_array_foreach(findings, i, f) {
        rows += i == 0 || iget(f, "index") != last;
        last = iget(f, "index");
    }
    return rows;
}

/* findings.jsonl against report.json: one line per flagged row in the same order, merged. */
static void check_jsonl(const char *dir, const json_t *report) {
    char p[1200];
    snprintf(p, sizeof p, "%s/findings.jsonl", dir);
    tu_schema_valid(FINDINGS_SCHEMA, p);
    json_t *lines = load_jsonl(p);
    const json_t *findings = json_object_get(report, "findings");
    assert_int_equal(json_array_size(lines), flagged_rows(findings));
    assert_int_equal(json_array_size(lines), iget(json_object_get(report, "summary"), "flagged"));
    static const char *const order[] = {"none", "low", "medium", "high", "critical"};
    size_t fi = 0, li;
    const json_t *line;
    json_array_foreach(lines, li, line) {
        const json_t *f = json_array_get(findings, fi);
        assert_int_equal(iget(line, "index"), iget(f, "index"));
        assert_string_equal(tu_json_str(line, "row_sha256"), tu_json_str(f, "row_sha256"));
        assert_true(json_equal(json_object_get(line, "location"), json_object_get(f, "location")));
        /* severity: the highest of the row's findings; detectors: one per finding */
        int top = 0;
        size_t n = 0;
        for (; fi < json_array_size(findings) &&
               iget(json_array_get(findings, fi), "index") == iget(line, "index");
             fi++, n++) {
            for (int s = 0; s < 5; s++)
                if (strcmp(tu_json_str(json_array_get(findings, fi), "severity"), order[s]) == 0 &&
                    s > top)
                    top = s;
        }
        assert_string_equal(tu_json_str(line, "severity"), order[top]);
        assert_int_equal(json_array_size(json_object_get(line, "detectors")), n);
        /* ETSI: each provision once, primary ones first */
        size_t i, j;
        const json_t *a, *b;
        int seen_supporting = 0;
        json_array_foreach(json_object_get(line, "etsi"), i, a) {
            int primary = strcmp(tu_json_str(a, "role"), "primary") == 0;
            assert_false(primary && seen_supporting);
            seen_supporting |= !primary;
            json_array_foreach(json_object_get(line, "etsi"), j, b) {
                if (j > i) assert_string_not_equal(tu_json_str(a, "id"), tu_json_str(b, "id"));
            }
        }
    }
    assert_int_equal(fi, json_array_size(findings));
    json_decref(lines);
}

/* report.sarif: the schema, GitHub's upload rules, rules/taxonomy links, and regions. */
static json_t *check_sarif_file(const char *p, const json_t *report, region_kind region) {
    tu_schema_valid(SARIF_SCHEMA, p);
    json_t *log = tu_load_json(p);
    assert_string_equal(tu_json_str(log, "version"), "2.1.0");
    const json_t *run = json_array_get(json_object_get(log, "runs"), 0);
    const json_t *rules =
        json_object_get(json_object_get(json_object_get(run, "tool"), "driver"), "rules");
    const json_t *taxa =
        json_object_get(json_array_get(json_object_get(run, "taxonomies"), 0), "taxa");
    assert_string_equal(tu_json_str(json_array_get(json_object_get(run, "taxonomies"), 0), "name"),
                        "ETSI EN 304 223");
    assert_true(json_array_size(taxa) > 0);
    size_t i, j;
    const json_t *r, *x;
    /* every rule: security-severity in 0.0..10.0; relationships point at existing taxa */
    json_array_foreach(rules, i, r) {
        const char *sev = tu_json_str(json_object_get(r, "properties"), "security-severity");
        double v = atof(sev);
        assert_true(v >= 0.0 && v <= 10.0);
        json_array_foreach(json_object_get(r, "relationships"), j, x) {
            const json_t *t = json_object_get(x, "target");
            const json_t *taxon = json_array_get(taxa, (size_t)iget(t, "index"));
            assert_non_null(taxon);
            assert_string_equal(tu_json_str(taxon, "id"), tu_json_str(t, "id"));
        }
    }
    /* the label kind relates to the main anchor, 5.2.1-4.1, as primary evidence */
    int anchored = 0;
    json_array_foreach(json_object_get(json_array_get(rules, 0), "relationships"), j, x) {
        anchored |= strcmp(tu_json_str(json_object_get(x, "target"), "id"), "5.2.1-4.1") == 0 &&
                    strcmp(tu_json_str(json_object_get(x, "properties"), "role"), "primary") == 0;
    }
    assert_true(anchored);
    const json_t *results = json_object_get(run, "results");
    assert_true(json_array_size(results) <= 25000);
    const char *input = tu_json_str(json_object_get(report, "input"), "path");
    json_array_foreach(results, i, r) {
        /* GitHub rejects the upload if a result has no physical location with a uri */
        const json_t *loc = json_array_get(json_object_get(r, "locations"), 0);
        const json_t *art =
            json_object_get(json_object_get(loc, "physicalLocation"), "artifactLocation");
        /* the input as given: relative to %SRCROOT%, or an absolute file:// URI */
        if (input[0] == '/') {
            assert_true(strncmp(tu_json_str(art, "uri"), "file://", 7) == 0);
            assert_string_equal(tu_json_str(art, "uri") + 7, input);
            assert_null(json_object_get(art, "uriBaseId"));
        } else {
            assert_string_equal(tu_json_str(art, "uri"), input);
            assert_string_equal(tu_json_str(art, "uriBaseId"), "%SRCROOT%");
        }
        assert_true(json_array_size(json_object_get(r, "relatedLocations")) <= 1000);
        assert_true(json_object_size(json_object_get(r, "partialFingerprints")) > 0);
        const json_t *rule = json_array_get(rules, (size_t)iget(r, "ruleIndex"));
        assert_string_equal(tu_json_str(rule, "id"), tu_json_str(r, "ruleId"));
        const json_t *props = json_object_get(r, "properties");
        if (json_object_get(props, "row") == NULL) continue; /* dataset-level result */
        /* a row result: its region and logical location are those of report.json */
        json_int_t row = iget(props, "row");
        const json_t *f = NULL, *g;
        json_array_foreach(json_object_get(report, "findings"), j, g) {
            if (iget(g, "index") == row) {
                f = g;
                break;
            }
        }
        assert_non_null(f);
        const json_t *floc = json_object_get(f, "location");
        const json_t *reg = json_object_get(json_object_get(loc, "physicalLocation"), "region");
        switch (region) {
        case REGION_NONE:
            assert_null(reg);
            break;
        case REGION_LINE:
            assert_int_equal(iget(reg, "startLine"), iget(floc, "line"));
            assert_int_equal(iget(floc, "line"), row + 2); /* header line, then one per row */
            break;
        case REGION_BYTES:
            assert_int_equal(iget(reg, "byteOffset"), iget(floc, "byte_offset"));
            assert_int_equal(iget(reg, "byteLength"), 16 * 4);
            break;
        }
        assert_string_equal(tu_json_str(json_array_get(json_object_get(loc, "logicalLocations"), 0),
                                        "fullyQualifiedName"),
                            tu_json_str(floc, "logical"));
        char fp[80];
        snprintf(fp, sizeof fp, "%.32s:", tu_json_str(f, "row_sha256"));
        assert_true(
            strncmp(tu_json_str(json_object_get(r, "partialFingerprints"), "assayRowHash/v1"), fp,
                    strlen(fp)) == 0);
    }
    return log;
}

/* Scans one input and checks every format; returns report.json (caller frees). */
static json_t *check_scan(const char *dir, region_kind region, int expect_exit) {
    char p[1200];
    snprintf(p, sizeof p, "%s/report.json", dir);
    tu_schema_valid(REPORT_SCHEMA, p);
    json_t *report = tu_load_json(p);
    assert_int_equal(iget(json_object_get(report, "gate"), "exit_code"), expect_exit);
    check_jsonl(dir, report);
    snprintf(p, sizeof p, "%s/report.sarif", dir);
    json_t *log = check_sarif_file(p, report, region);
    const json_t *run = json_array_get(json_object_get(log, "runs"), 0);
    const json_t *inv = json_array_get(json_object_get(run, "invocations"), 0);
    assert_true(json_is_true(json_object_get(inv, "executionSuccessful")));
    assert_int_equal(iget(inv, "exitCode"), expect_exit);
    assert_string_equal(tu_json_str(json_object_get(run, "properties"), "datasetSha256"),
                        tu_json_str(json_object_get(report, "input"), "dataset_sha256"));
    json_decref(log);
    /* junit.xml: one case per detector, plus the gate; counts as GitLab sees them */
    snprintf(p, sizeof p, "%s/junit.xml", dir);
    json_t *ju = junit_summary(p);
    size_t n_det = json_array_size(json_object_get(report, "detectors"));
    assert_int_equal(iget(ju, "tests"),
                     n_det + 1 + json_is_object(json_object_get(report, "baseline")));
    const json_t *gate = junit_case(ju, "assay.gate");
    assert_string_equal(tu_json_str(gate, "result"), expect_exit == 1 ? "failure" : "passed");
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(report, "detectors"), i, d) {
        char cls[96];
        snprintf(cls, sizeof cls, "assay.%s", tu_json_str(d, "name"));
        const json_t *c = junit_case(ju, cls);
        if (!json_is_true(json_object_get(d, "ran")))
            assert_string_equal(tu_json_str(c, "result"), "skipped");
    }
    json_decref(ju);
    return report;
}

static void test_formats_csv(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "formats.csv");
    tu_path(out, sizeof out, "formats_csv_out");
    make_data(data, DATAGEN_FORMAT_CSV, 800, 0.02, 0.01, 0.005);
    assert_int_equal(scan(out, data, NULL), 1);
    json_t *report = check_scan(out, REGION_LINE, 1);
    /* the conflicting duplicates fail the gate, and their JUnit case says so with the rows */
    snprintf(p, sizeof p, "%s/junit.xml", out);
    json_t *ju = junit_summary(p);
    const json_t *dup = junit_case(ju, "assay.duplicate");
    assert_string_equal(tu_json_str(dup, "result"), "failure");
    assert_contains(tu_json_str(dup, "message"), "at or above fail-on=high");
    assert_contains(tu_json_str(dup, "text"), "first rows");
    assert_contains(tu_json_str(dup, "text"), "findings.jsonl");
    json_decref(ju);
    /* by_kind_and_severity adds up to the findings by kind */
    const json_t *sum = json_object_get(report, "summary");
    const char *kind;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(sum, "by_kind_and_severity"), kind, v) {
        json_int_t t = 0;
        const char *s;
        const json_t *c;
        json_object_foreach((json_t *)v, s, c) t += json_integer_value(c);
        assert_int_equal(t, iget(json_object_get(sum, "findings_by_kind"), kind));
    }
    assert_true(iget(json_object_get(json_object_get(sum, "by_kind_and_severity"), "duplicate"),
                     "high") > 0);
    json_decref(report);
}

/* Byte offset of the data in a .npy file (versions 1 and 2). */
static long npy_data_offset(const char *path) {
    unsigned char h[12];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(h, 1, sizeof h, fp), sizeof h);
    fclose(fp);
    if (h[6] == 1) return 10 + (h[8] | h[9] << 8);
    return 12 + (h[8] | h[9] << 8 | (long)h[10] << 16 | (long)h[11] << 24);
}

static void test_formats_npy(void **state) {
    (void)state;
    char dir[1024], emb[1200], lab[1200], ids[1200], out[1024];
    tu_path(dir, sizeof dir, "formats_npy/");
    mkdir(dir, 0777);
    make_data(dir, DATAGEN_FORMAT_NPY, 800, 0.02, 0.01, 0.005);
    snprintf(emb, sizeof emb, "%semb.npy", dir);
    snprintf(lab, sizeof lab, "%slabels.npy", dir);
    snprintf(ids, sizeof ids, "%sids.npy", dir);
    tu_path(out, sizeof out, "formats_npy_out");
    const char *extra[] = {"--labels-file", lab, "--ids-file", ids, NULL};
    assert_int_equal(scan(out, emb, extra), 1);
    json_t *report = check_scan(out, REGION_BYTES, 1);
    /* the byte range is row i of the file: data offset + i * d * 4 */
    long off = npy_data_offset(emb);
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(report, "findings"), i, f) {
        const json_t *loc = json_object_get(f, "location");
        assert_int_equal(iget(loc, "byte_offset"), off + iget(f, "index") * 64);
        assert_int_equal(iget(loc, "byte_length"), 64);
    }
    json_decref(report);
}

static void test_formats_h5(void **state) {
    (void)state;
    char data[1024], out[1024];
    tu_path(data, sizeof data, "formats.h5");
    tu_path(out, sizeof out, "formats_h5_out");
    make_data(data, DATAGEN_FORMAT_H5, 800, 0.02, 0.01, 0.005);
    assert_int_equal(scan(out, data, NULL), 1);
    json_t *report = check_scan(out, REGION_NONE, 1);
    const json_t *f = json_array_get(json_object_get(report, "findings"), 0);
    char want[64];
    snprintf(want, sizeof want, "/embeddings[%lld]", (long long)iget(f, "index"));
    assert_string_equal(tu_json_str(json_object_get(f, "location"), "logical"), want);
    assert_null(json_object_get(json_object_get(f, "location"), "line"));
    /* etsi is a list of provisions with level and role, primary first */
    const json_t *e = json_array_get(json_object_get(f, "etsi"), 0);
    assert_string_equal(tu_json_str(e, "id"), "5.2.1-4.1");
    assert_string_equal(tu_json_str(e, "role"), "primary");
    assert_string_equal(tu_json_str(e, "level"), "shall");
    json_decref(report);
}

/* Clean data passes: every case of junit.xml passes or is skipped, SARIF has no errors. */
static void test_formats_clean_data_passes(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "formats_clean.h5");
    tu_path(out, sizeof out, "formats_clean_out");
    make_data(data, DATAGEN_FORMAT_H5, 600, 0, 0, 0);
    assert_int_equal(scan(out, data, NULL), 0);
    json_t *report = check_scan(out, REGION_NONE, 0);
    snprintf(p, sizeof p, "%s/junit.xml", out);
    json_t *ju = junit_summary(p);
    assert_int_equal(iget(ju, "failures"), 0);
    assert_int_equal(iget(ju, "errors"), 0);
    json_decref(ju);
    snprintf(p, sizeof p, "%s/report.sarif", out);
    json_t *log = tu_load_json(p);
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(json_array_get(json_object_get(log, "runs"), 0), "results"),
                       i, r) assert_string_not_equal(tu_json_str(r, "level"), "error");
    json_decref(log);
    json_decref(report);
}

/* A gate failed by the flagged-row budget with only low-severity rows: SARIF still carries an
 * error on the dataset file (the gate rule), JUnit fails the gate case. */
static void test_formats_gate_failure_without_severe_rows(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "formats_budget.h5");
    tu_path(out, sizeof out, "formats_budget_out");
    make_data(data, DATAGEN_FORMAT_H5, 600, 0, 0, 0.01);
    const char *extra[] = {"--fail-on", "critical", "--max-flagged-fraction", "0.001", NULL};
    assert_int_equal(scan(out, data, extra), 1);
    json_t *report = check_scan(out, REGION_NONE, 1);
    snprintf(p, sizeof p, "%s/report.sarif", out);
    json_t *log = tu_load_json(p);
    const json_t *run = json_array_get(json_object_get(log, "runs"), 0);
    size_t i, gate_results = 0;
    const json_t *r;
    json_array_foreach(json_object_get(run, "results"), i, r) {
        if (strcmp(tu_json_str(r, "ruleId"), "ASSAY-GATE") != 0) continue;
        gate_results++;
        assert_string_equal(tu_json_str(r, "level"), "error");
        assert_contains(tu_json_str(json_object_get(r, "message"), "text"), "exceeds the maximum");
        assert_null(json_object_get(
            json_object_get(json_array_get(json_object_get(r, "locations"), 0), "physicalLocation"),
            "region"));
    }
    assert_int_equal(gate_results, 1);
    json_decref(log);
    json_decref(report);
}

/* More than 5,000 flagged rows (a real scan): one SARIF result per rule, at most 1,000 related
 * locations each, the message pointing to findings.jsonl, which keeps every row. */
static void test_sarif_aggregates_above_5000_rows(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "formats_big.h5");
    tu_path(out, sizeof out, "formats_big_out");
    make_data(data, DATAGEN_FORMAT_H5, 12000, 0.05, 0.45, 0);
    /* more than a detector may flag by default (flag-cap): lift the cap */
    const char *const uncapped[] = {"--flag-cap", "1", NULL};
    assert_int_equal(scan(out, data, uncapped), 1);
    snprintf(p, sizeof p, "%s/report.json", out);
    json_t *report = tu_load_json(p);
    size_t rows = flagged_rows(json_object_get(report, "findings"));
    assert_true(rows > 5000);
    check_jsonl(out, report);
    snprintf(p, sizeof p, "%s/report.sarif", out);
    json_t *log = check_sarif_file(p, report, REGION_NONE);
    const json_t *run = json_array_get(json_object_get(log, "runs"), 0);
    assert_true(json_is_true(json_object_get(json_object_get(run, "properties"), "aggregated")));
    assert_int_equal(iget(json_object_get(run, "properties"), "aggregateAbove"), 5000);
    size_t i, aggregated = 0, related_max = 0;
    const json_t *r;
    json_array_foreach(json_object_get(run, "results"), i, r) {
        const json_t *rel = json_object_get(r, "relatedLocations");
        if (rel == NULL) continue;
        aggregated++;
        if (json_array_size(rel) > related_max) related_max = json_array_size(rel);
        assert_contains(tu_json_str(json_object_get(r, "message"), "text"), "findings.jsonl");
        assert_contains(tu_json_str(json_object_get(r, "message"), "text"), "More than 5000 rows");
    }
    assert_true(aggregated >= 2 && aggregated <= 8);
    assert_int_equal(related_max, 1000); /* 3,000 duplicate rows, capped */
    json_decref(log);
    json_decref(report);
}

/* A scan's findings are spooled to a temporary file and read back through a window: the report
 * set written with every finding read back (no pinned findings) is byte for byte the one
 * written with every finding kept parsed, with more findings than the window holds. */
static void test_spooled_findings_same_reports(void **state) {
    (void)state;
    char data[1024], dir[2][1024];
    tu_path(data, sizeof data, "formats_spool.h5");
    make_data(data, DATAGEN_FORMAT_H5, 3000, 0.2, 0.01, 0.005);
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assay_dataset *ds = NULL;
    assay_result *res = NULL;
    assert_int_equal(assay_dataset_load(ctx, data, NULL, &ds), ASSAY_OK);
    assert_int_equal(assay_scan(ctx, ds, NULL, &res), ASSAY_OK);
    assert_true(assay_result_finding_count(res) > 2 * ASSAY__FINDINGS_WINDOW);
    const size_t pins[2] = {ASSAY__FINDINGS_PIN_BYTES, 0};
    for (int k = 0; k < 2; k++) {
        tu_path(dir[k], sizeof dir[k], "formats_spool_%d", k);
        tu_remove_dir(dir[k]);
        assay__findings_pin_bytes = pins[k];
        assert_int_equal(assay_report_write(ctx, ds, res, dir[k], NULL), ASSAY_OK);
    }
    assay__findings_pin_bytes = ASSAY__FINDINGS_PIN_BYTES;
    static const char *const files[] = {"report.json", "findings.jsonl", "report.sarif",
                                        "junit.xml",   "bom.cdx.json",   "report.html"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/%s", dir[0], files[f]);
        snprintf(b, sizeof b, "%s/%s", dir[1], files[f]);
        if (strcmp(files[f], "bom.cdx.json") != 0) tu_assert_same_file(a, b); /* serial number */
    }
    /* and report.json's findings are the result's, row by row in rank order */
    char p[1200];
    snprintf(p, sizeof p, "%s/report.json", dir[1]);
    json_t *report = tu_load_json(p);
    assert_int_equal(json_array_size(json_object_get(report, "findings")),
                     assay_result_finding_count(res));
    json_decref(report);
    assay_result_destroy(res);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

/* The spool itself: findings read back in any order (also after the window moved on), by two
 * readers at once, and a spool that lost its text reports the failure instead of rendering from
 * nothing. */
static void test_findings_spool_reads_back(void **state) {
    (void)state;
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assay__findings_spool sp;
    const size_t n = 3 * ASSAY__FINDINGS_WINDOW + 7;
    assay__findings_pin_bytes = 200; /* the first few stay parsed, the others are windowed */
    assert_int_equal(assay__findings_spool_open(ctx, &sp, NULL), ASSAY_OK);
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_pack("{s:I, s:f}", "index", (json_int_t)i, "score", 0.1 * (double)i);
        assert_int_equal(assay__findings_spool_add(ctx, &sp, f), ASSAY_OK);
        json_decref(f);
    }
    assert_int_equal(assay__findings_spool_done(ctx, &sp), ASSAY_OK);
    assay__findings_pin_bytes = ASSAY__FINDINGS_PIN_BYTES;
    assert_true(sp.n_pinned > 0 && sp.n_pinned < n);
    assay__findings a, b;
    assert_int_equal(assay__findings_of_spool(ctx, &a, &sp), ASSAY_OK);
    assert_int_equal(assay__findings_of_spool(ctx, &b, &sp), ASSAY_OK);
    assert_int_equal(assay__findings_count(&a), n);
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < n; k++) {
            size_t i = pass == 0 ? k : (k * 7919) % n; /* then in a scattered order */
            const json_t *fa = assay__findings_at(&a, i), *fb = assay__findings_at(&b, n - 1 - i);
            assert_int_equal(json_integer_value(json_object_get(fa, "index")), (json_int_t)i);
            assert_int_equal(json_integer_value(json_object_get(fb, "index")),
                             (json_int_t)(n - 1 - i));
        }
    assert_int_equal(assay__findings_status(ctx, &a, "test"), ASSAY_OK);
    /* the text lost (a truncated file): an empty finding, and the status names the failure */
    assert_int_equal(ftruncate(fileno(sp.file), 16), 0);
    assay__findings c;
    assert_int_equal(assay__findings_of_spool(ctx, &c, &sp), ASSAY_OK);
    assert_int_equal(json_integer_value(json_object_get(assay__findings_at(&c, 0), "index")), 0);
    assert_int_equal(json_object_size(assay__findings_at(&c, n - 1)), 0);
    assert_int_not_equal(assay__findings_status(ctx, &c, "report.sarif"), ASSAY_OK);
    assert_contains(assay_ctx_errmsg(ctx), "report.sarif");
    assay__findings_free(&a);
    assay__findings_free(&c);
    assay__findings_free(&b);
    assay__findings_spool_free(&sp);
    assay_ctx_destroy(ctx);
}

/* The aggregation limit is a parameter of the renderer: a low one aggregates a small report. */
static void test_sarif_aggregation_limit_parameter(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200], sarif[1200];
    tu_path(data, sizeof data, "formats_limit.csv");
    tu_path(out, sizeof out, "formats_limit_out");
    make_data(data, DATAGEN_FORMAT_CSV, 800, 0.02, 0.01, 0.005);
    assert_int_equal(scan(out, data, NULL), 1);
    snprintf(p, sizeof p, "%s/report.json", out);
    json_t *report = tu_load_json(p);
    tu_path(sarif, sizeof sarif, "formats_limit.sarif");
    FILE *fp = fopen(sarif, "w");
    assert_non_null(fp);
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assay__findings fs;
    assay__findings_of_doc(&fs, report);
    assert_int_equal(assay__render_sarif_limited(ctx, report, &fs, fp, sarif, 3), ASSAY_OK);
    fclose(fp);
    json_t *log = check_sarif_file(sarif, report, REGION_NONE);
    const json_t *run = json_array_get(json_object_get(log, "runs"), 0);
    size_t i, related = 0;
    const json_t *r;
    json_array_foreach(json_object_get(run, "results"), i, r) {
        const json_t *rel = json_object_get(r, "relatedLocations");
        if (rel == NULL) continue;
        related += json_array_size(rel);
        /* related rows keep their CSV line */
        const json_t *reg =
            json_object_get(json_object_get(json_array_get(rel, 0), "physicalLocation"), "region");
        assert_true(iget(reg, "startLine") >= 2);
    }
    /* every flagged row is related to its kind's result (no kind has more than 1,000 here) */
    size_t kinds_rows = 0, fi;
    const json_t *f;
    json_array_foreach(json_object_get(report, "findings"), fi, f) {
        int earlier = 0;
        for (size_t j = 0; j < fi; j++) {
            const json_t *g = json_array_get(json_object_get(report, "findings"), j);
            earlier |= iget(g, "index") == iget(f, "index") &&
                       strcmp(tu_json_str(g, "kind"), tu_json_str(f, "kind")) == 0;
        }
        kinds_rows += !earlier;
    }
    assert_int_equal(related, kinds_rows);
    /* a report without findings' locations (another version) is refused, naming the key */
    json_object_del(json_array_get(json_object_get(report, "findings"), 0), "location");
    fp = fopen(sarif, "w");
    assay__findings_of_doc(&fs, report);
    assert_int_equal(assay__render_sarif(ctx, report, &fs, fp, sarif), ASSAY_E_FORMAT);
    fclose(fp);
    assert_contains(assay_ctx_errmsg(ctx), "\"location\"");
    assay_ctx_destroy(ctx);
    json_decref(log);
    json_decref(report);
}

/* Ids and labels from user files end up in XML and JSON: markup characters are escaped and
 * characters XML 1.0 forbids are dropped, so junit.xml stays well-formed. */
static void test_formats_escape_user_strings(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "formats_escape.csv");
    tu_path(out, sizeof out, "formats_escape_out");
    FILE *fp = fopen(data, "w");
    assert_non_null(fp);
    fputs("id,label,f0,f1,f2,f3\n", fp);
    uint64_t seed = 7;
    for (int i = 0; i < 200; i++) {
        int c = i % 2;
        fprintf(fp, "row%d,%s,%.6f,%.6f,%.6f,%.6f\n", i, c ? "\"<cat & \"\"dog\"\">\"" : "plain",
                10.0 * c + tu_normal(&seed), tu_normal(&seed), tu_normal(&seed), tu_normal(&seed));
    }
    /* a conflicting duplicate group deep among the 'plain' rows: its two copies labelled with
     * the foreign label, which carry hostile ids, are flagged high and listed in the failure */
    fputs("anchor,plain,-5.0,1.25,-0.5,2\n", fp);
    fputs("\"]]></x>&\x01\x1f id\",\"<cat & \"\"dog\"\">\",-5.0,1.25,-0.5,2\n", fp);
    fputs("\"<b>'\"\"\",\"<cat & \"\"dog\"\">\",-5.0,1.25,-0.5,2\n", fp);
    fclose(fp);
    assert_int_equal(scan(out, data, NULL), 1);
    json_t *report = check_scan(out, REGION_LINE, 1);
    snprintf(p, sizeof p, "%s/junit.xml", out);
    json_t *ju = junit_summary(p);
    const char *text = tu_json_str(junit_case(ju, "assay.duplicate"), "text");
    assert_contains(text, "(id ]]></x>& id, label <cat & \"dog\">");
    assert_contains(text, "(id <b>'\", label <cat & \"dog\">");
    json_decref(ju);
    json_decref(report);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_csv),
        cmocka_unit_test(test_formats_npy),
        cmocka_unit_test(test_formats_h5),
        cmocka_unit_test(test_formats_clean_data_passes),
        cmocka_unit_test(test_formats_gate_failure_without_severe_rows),
        cmocka_unit_test(test_sarif_aggregation_limit_parameter),
        cmocka_unit_test(test_formats_escape_user_strings),
        cmocka_unit_test(test_sarif_aggregates_above_5000_rows),
        cmocka_unit_test(test_spooled_findings_same_reports),
        cmocka_unit_test(test_findings_spool_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

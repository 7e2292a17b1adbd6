/* SPDX-License-Identifier: Apache-2.0 */
/* The policy through the assay command, started as users start it: exit codes for pass, warn,
 * fail, allowlisted and expired rows, bad policies (2, naming file, line and key), --exit-zero,
 * precedence flag > environment > file recorded per key in report.json, class budgets,
 * fail-kinds and per-detector settings. Every report.json is validated against its schema, and
 * the example policy against the policy schema. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "test_cli_util.h"
#include "test_data.h"

static char g_clean[1024], g_dups[1024];

static int run(const char *const *argv) {
    return tu_run_assay("cli_policy", argv);
}

static void expect_in_file(const char *path, const char *want) {
    char *s = tu_slurp(path, NULL);
    assert_non_null(s);
    if (strstr(s, want) == NULL) fail_msg("'%s' not in %s:\n%s", want, path, s);
    free(s);
}

/* 600 rows in 4 separated blobs (HDF5 with ids 0..599); dups: conflicting duplicates planted. */
static void make_data(const char *path, double dups) {
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = 600;
    o.d = 16;
    o.classes = 4;
    o.separation = 12.0;
    o.plant.duplicates = dups;
    tu_write_synth(&o, DATAGEN_FORMAT_H5, path, NULL, NULL);
}

static int setup(void **state) {
    (void)state;
    tu_path(g_clean, sizeof g_clean, "clipol_clean.h5");
    tu_path(g_dups, sizeof g_dups, "clipol_dups.h5");
    make_data(g_clean, 0.0);
    make_data(g_dups, 0.01);
    return 0;
}

/* report.json of the folder, validated against the report schema. */
static json_t *report(const char *out) {
    char p[1200];
    snprintf(p, sizeof p, "%s/report.json", out);
    tu_schema_valid(TU_SCHEMA("assay-report-1.schema.json"), p);
    return tu_load_json(p);
}

static const char *gate_str(const json_t *r, const char *key) {
    return json_string_value(json_object_get(json_object_get(r, "gate"), key));
}

static json_int_t gate_int(const json_t *r, const char *key) {
    return json_integer_value(json_object_get(json_object_get(r, "gate"), key));
}

static const char *source_of(const json_t *r, const char *key) {
    return json_string_value(
        json_object_get(json_object_get(json_object_get(r, "policy"), "sources"), key));
}

/* The detector entry of report.json "detectors" named `name`. */
static const json_t *detector(const json_t *r, const char *name) {
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(r, "detectors"), i,
                       d) if (strcmp(json_string_value(json_object_get(d, "name")), name) ==
                              0) return d;
    fail_msg("no detector %s", name);
    return NULL;
}

static int reasons_contain(const json_t *r, const char *want) {
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(json_object_get(r, "gate"), "reasons"), i,
                       s) if (strstr(json_string_value(s), want)) return 1;
    return 0;
}

/* A policy allowlisting every flagged row of report r by id, expiring on `expires`. */
static void write_allowlist_policy(const char *path, const json_t *r, const char *expires) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("version: 1\nallowlist:\n", fp);
    size_t i;
    const json_t *f;
    json_int_t last = -1;
    json_array_foreach(json_object_get(r, "findings"), i, f) {
        json_int_t id = json_integer_value(json_object_get(f, "id"));
        if (id == last) continue; /* findings come grouped by row */
        last = id;
        fprintf(fp,
                "  - id: %lld\n    reason: reviewed duplicate\n    owner: data-team\n"
                "    expires: %s\n",
                (long long)id, expires);
    }
    fclose(fp);
}

static void test_cli_policy_pass_and_fail(void **state) {
    (void)state;
    char out[1024];
    tu_path(out, sizeof out, "clipol_pass");
    const char *a1[] = {"assay", "scan", g_clean, "--out", out, "-q", NULL};
    assert_int_equal(run(a1), 0);
    json_t *r = report(out);
    assert_string_equal(gate_str(r, "verdict"), "pass");
    assert_int_equal(gate_int(r, "exit_code"), 0);
    assert_string_equal(source_of(r, "gate.fail-on"), "default");
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_object_get(r, "policy"), "sha256"))), 64);
    assert_true(json_is_null(json_object_get(json_object_get(r, "policy"), "file")));
    assert_true(reasons_contain(r, "no finding at or above severity high"));
    json_decref(r);

    tu_path(out, sizeof out, "clipol_fail");
    const char *a2[] = {"assay", "scan", g_dups, "--out", out, NULL};
    assert_int_equal(run(a2), 1);
    expect_in_file(g_out, "gate: FAIL (exit 1)");
    r = report(out);
    assert_string_equal(gate_str(r, "verdict"), "fail");
    assert_int_equal(gate_int(r, "exit_code"), 1);
    assert_true(reasons_contain(r, "at or above severity high (duplicate: "));
    assert_string_equal(json_string_value(json_object_get(detector(r, "duplicate"), "verdict")),
                        "fail");
    const json_t *f = json_array_get(json_object_get(r, "findings"), 0);
    assert_true(json_is_false(json_object_get(f, "allowlisted")));
    json_decref(r);
}

static void test_cli_policy_allowlist_active_and_expired(void **state) {
    (void)state;
    char out[1024], pol[1024], p2[1024];
    tu_path(out, sizeof out, "clipol_allow0");
    const char *a0[] = {"assay", "scan", g_dups, "--out", out, "-q", NULL};
    assert_int_equal(run(a0), 1);
    json_t *base = report(out);

    /* the failing rows allowlisted: exit 0, findings still reported */
    tu_path(pol, sizeof pol, "clipol_allow.yml");
    write_allowlist_policy(pol, base, "2999-12-31");
    tu_path(out, sizeof out, "clipol_allow1");
    const char *a1[] = {"assay", "scan", g_dups, "--out", out, "--policy", pol, "-q", NULL};
    assert_int_equal(run(a1), 0);
    json_t *r = report(out);
    assert_string_not_equal(gate_str(r, "verdict"), "fail");
    assert_int_equal(json_array_size(json_object_get(r, "findings")),
                     json_array_size(json_object_get(base, "findings")));
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(r, "findings"), 0), "allowlisted")));
    const json_t *policy = json_object_get(r, "policy");
    assert_string_equal(json_string_value(json_object_get(policy, "file")), pol);
    assert_int_equal(strlen(json_string_value(json_object_get(policy, "file_sha256"))), 64);
    const json_t *e0 = json_array_get(json_object_get(policy, "allowlist"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "status")), "active");
    assert_int_equal(json_array_size(json_object_get(e0, "rows")), 1);
    assert_string_equal(source_of(r, "allowlist"), "file");
    assert_true(gate_int(r, "allowlisted_flagged") > 0);
    json_decref(r);

    /* the same entries expired: the rows count again, and the report says so */
    tu_path(p2, sizeof p2, "clipol_expired.yml");
    write_allowlist_policy(p2, base, "2001-01-01");
    tu_path(out, sizeof out, "clipol_allow2");
    const char *a2[] = {"assay", "scan", g_dups, "--out", out, "--policy", p2, "-q", NULL};
    assert_int_equal(run(a2), 1);
    r = report(out);
    assert_string_equal(gate_str(r, "verdict"), "fail");
    e0 = json_array_get(json_object_get(json_object_get(r, "policy"), "allowlist"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "status")), "expired");
    assert_true(reasons_contain(r, "expired on 2001-01-01"));
    assert_true(json_is_false(
        json_object_get(json_array_get(json_object_get(r, "findings"), 0), "allowlisted")));
    json_decref(r);

    /* --allowlist FILE (the allowlist only) overrides the file's list: active again */
    char list[1024];
    tu_path(list, sizeof list, "clipol_list.yml");
    char *text = tu_slurp(pol, NULL);
    tu_write_text(list, strstr(text, "allowlist:\n") + strlen("allowlist:\n"));
    free(text);
    tu_path(out, sizeof out, "clipol_allow3");
    const char *a3[] = {"assay", "scan",        g_dups, "--out", out, "--policy",
                        p2,      "--allowlist", list,   "-q",    NULL};
    assert_int_equal(run(a3), 0);
    r = report(out);
    assert_string_equal(source_of(r, "allowlist"), "flag");
    json_decref(r);
    json_decref(base);
}

static void expect_bad_policy(const char *tag, const char *text, const char *want) {
    char pol[1024], out[1024], msg[1400];
    tu_path(pol, sizeof pol, "clipol_bad_%s.yml", tag);
    tu_path(out, sizeof out, "clipol_bad_out");
    tu_write_text(pol, text);
    const char *a[] = {"assay", "scan", g_clean, "--out", out, "--policy", pol, NULL};
    assert_int_equal(run(a), 2);
    snprintf(msg, sizeof msg, "%s:%s", pol, want);
    expect_in_file(g_err, msg);
    char p[1200];
    snprintf(p, sizeof p, "%s/report.json", out);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0); /* nothing was scanned or written */
}

static void test_cli_policy_bad_policy_exits_2(void **state) {
    (void)state;
    expect_bad_policy("key", "version: 1\ngate:\n  fail_on: high\n",
                      "3:3: gate.fail_on: unknown key (did you mean 'fail-on'?)");
    expect_bad_policy("value", "version: 1\ngate:\n  fail-on: hgh\n",
                      "3:12: gate.fail-on: expected one of low, medium, high, critical, none, "
                      "got 'hgh'");
    expect_bad_policy("type", "version: 1\ngate:\n  fail-kinds: label\n",
                      "3:15: gate.fail-kinds: expected a list, got a single value");
    expect_bad_policy("date",
                      "version: 1\nallowlist:\n  - id: 3\n    reason: r\n    owner: o\n"
                      "    expires: 03/01/2027\n",
                      "6:14: allowlist[0].expires: expected a date YYYY-MM-DD");
    expect_bad_policy("reason",
                      "version: 1\nallowlist:\n  - id: 3\n    owner: o\n"
                      "    expires: 2027-03-01\n",
                      "3:5: allowlist[0]: missing 'reason'");
    expect_bad_policy("version", "gate: {fail-on: high}\n", "1:1: version: missing");
    /* a missing file, a bad variable and a bad flag are usage errors too */
    char out[1024];
    tu_path(out, sizeof out, "clipol_bad_out");
    const char *a1[] = {"assay", "scan", g_clean, "--out", out, "--policy", "/nonexistent.yml",
                        NULL};
    assert_int_equal(run(a1), 2);
    expect_in_file(g_err, "/nonexistent.yml");
    setenv("ASSAY_FAIL_ON", "hgh", 1);
    const char *a2[] = {"assay", "scan", g_clean, "--out", out, NULL};
    assert_int_equal(run(a2), 2);
    unsetenv("ASSAY_FAIL_ON");
    expect_in_file(g_err, "ASSAY_FAIL_ON: gate.fail-on: expected one of");
    const char *a3[] = {"assay", "scan", g_clean, "--out", out, "--threshold", "knn-label=2", NULL};
    assert_int_equal(run(a3), 2);
    expect_in_file(g_err, "--threshold expects a number in [0.5, 1], got '2'");
}

static void test_cli_policy_warn_and_exit_zero(void **state) {
    (void)state;
    char out[1024];
    tu_path(out, sizeof out, "clipol_warn");
    /* (outlier tests may be significant on this data: not a failing kind here) */
    const char *a1[] = {"assay",
                        "scan",
                        g_dups,
                        "--out",
                        out,
                        "--fail-on",
                        "critical",
                        "--warn-on",
                        "high",
                        "--fail-kinds",
                        "duplicate,label,integrity",
                        NULL};
    assert_int_equal(run(a1), 0);
    expect_in_file(g_out, "gate: WARN (exit 0)");
    json_t *r = report(out);
    assert_string_equal(gate_str(r, "verdict"), "warn");
    assert_true(reasons_contain(r, "at or above severity high that do not fail the gate"));
    assert_string_equal(json_string_value(json_object_get(detector(r, "duplicate"), "verdict")),
                        "warn");
    json_decref(r);

    tu_path(out, sizeof out, "clipol_exit_zero");
    const char *a2[] = {"assay", "scan", g_dups, "--out", out, "--exit-zero", NULL};
    assert_int_equal(run(a2), 0);
    expect_in_file(g_out, "gate: FAIL (exit 0, --exit-zero)");
    r = report(out);
    assert_string_equal(gate_str(r, "verdict"), "fail");
    assert_int_equal(gate_int(r, "exit_code"), 0);
    assert_true(json_is_true(json_object_get(json_object_get(r, "gate"), "exit_zero")));
    json_decref(r);
    /* errors still exit 2 */
    const char *a3[] = {"assay", "scan", "/nonexistent.h5", "--out", out, "--exit-zero", NULL};
    assert_int_equal(run(a3), 2);
}

static void test_cli_policy_precedence_flag_env_file(void **state) {
    (void)state;
    char pol[1024], bad[1024], out[1024];
    tu_path(pol, sizeof pol, "clipol_prec.yml");
    tu_write_text(pol, "version: 1\n"
                       "scan: {k: 8}\n"
                       "gate: {fail-on: critical, warn-on: high, max-flagged-fraction: 0.9}\n");
    tu_path(bad, sizeof bad, "clipol_prec_bad.yml");
    tu_write_text(bad, "version: 7\n");
    tu_path(out, sizeof out, "clipol_prec");
    setenv("ASSAY_WARN_ON", "medium", 1);
    setenv("ASSAY_FAIL_ON", "low", 1);
    setenv("ASSAY_POLICY", bad, 1); /* --policy wins: this file is not read */
    const char *a[] = {"assay", "scan",      g_dups, "--out", out, "--policy",
                       pol,     "--fail-on", "high", "-q",    NULL};
    int rc = run(a);
    unsetenv("ASSAY_WARN_ON");
    unsetenv("ASSAY_FAIL_ON");
    unsetenv("ASSAY_POLICY");
    assert_int_equal(rc, 1);
    json_t *r = report(out);
    const json_t *eff = json_object_get(json_object_get(r, "policy"), "effective");
    const json_t *gate = json_object_get(eff, "gate");
    assert_string_equal(json_string_value(json_object_get(gate, "fail-on")), "high");
    assert_string_equal(json_string_value(json_object_get(gate, "warn-on")), "medium");
    assert_true(json_real_value(json_object_get(gate, "max-flagged-fraction")) == 0.9);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(eff, "scan"), "k")), 8);
    assert_string_equal(source_of(r, "gate.fail-on"), "flag");
    assert_string_equal(source_of(r, "gate.warn-on"), "env");
    assert_string_equal(source_of(r, "gate.max-flagged-fraction"), "file");
    assert_string_equal(source_of(r, "scan.k"), "file");
    assert_string_equal(source_of(r, "scan.metric"), "default");
    /* the scan used the policy's k, and the gate its fail-on */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "parameters"), "k")), 8);
    assert_string_equal(gate_str(r, "fail_on"), "high");
    json_decref(r);
}

static void test_cli_policy_class_budget_and_fail_kinds(void **state) {
    (void)state;
    char out[1024];
    tu_path(out, sizeof out, "clipol_budget");
    const char *a1[] = {"assay", "scan",           g_dups, "--out", out, "--fail-on",
                        "none",  "--class-budget", "*=0",  "-q",    NULL};
    assert_int_equal(run(a1), 1);
    json_t *r = report(out);
    assert_true(reasons_contain(r, "exceeds its budget 0"));
    assert_string_equal(source_of(r, "gate.class-budgets.*"), "flag");
    json_decref(r);

    /* duplicates are not a failing kind: their high findings only warn */
    tu_path(out, sizeof out, "clipol_kinds");
    const char *a2[] = {"assay",        "scan",      g_dups, "--out", out,
                        "--fail-kinds", "integrity", "-q",   NULL};
    assert_int_equal(run(a2), 0);
    r = report(out);
    assert_string_equal(gate_str(r, "verdict"), "warn");
    assert_string_equal(json_string_value(json_object_get(detector(r, "duplicate"), "verdict")),
                        "warn");
    json_decref(r);
}

static void test_cli_policy_detector_settings(void **state) {
    (void)state;
    char pol[1024], out[1024];
    tu_path(pol, sizeof pol, "clipol_det.yml");
    tu_write_text(pol, "version: 1\n"
                       "detectors:\n"
                       "  duplicate: {severity: low}\n"
                       "  ecod: {enabled: false}\n");
    tu_path(out, sizeof out, "clipol_det");
    const char *a1[] = {"assay", "scan", g_dups, "--out", out, "--policy", pol, "-q", NULL};
    run(a1);
    json_t *r = report(out);
    size_t i, dup = 0;
    const json_t *f;
    json_array_foreach(json_object_get(r, "findings"), i, f) {
        if (strcmp(json_string_value(json_object_get(f, "detector")), "duplicate") != 0) continue;
        dup++;
        assert_string_equal(json_string_value(json_object_get(f, "severity")), "low");
    }
    assert_true(dup > 0);
    assert_string_equal(json_string_value(json_object_get(detector(r, "ecod"), "verdict")),
                        "not_run");
    assert_string_equal(source_of(r, "detectors.duplicate.severity"), "file");
    json_decref(r);

    /* a threshold above every duplicate's evidence removes their findings and flags; the
     * strictest threshold 1 keeps only evidence 1 */
    tu_path(out, sizeof out, "clipol_thr");
    const char *a2[] = {"assay",       "scan",         g_dups,      "--out", out, "--threshold",
                        "duplicate=1", "--fail-kinds", "duplicate", "-q",    NULL};
    int rc = run(a2);
    r = report(out);
    size_t kept = 0;
    json_array_foreach(json_object_get(r, "findings"), i, f) kept +=
        strcmp(json_string_value(json_object_get(f, "detector")), "duplicate") == 0;
    const json_t *d = detector(r, "duplicate");
    assert_int_equal(json_integer_value(json_object_get(d, "flagged")), kept);
    assert_int_equal(rc, kept > 0 ? 1 : 0);
    json_decref(r);
}

static void test_cli_policy_show_validates(void **state) {
    (void)state;
    char ex[1200], out[1024];
    snprintf(ex, sizeof ex, "%s/examples/assay.yml", ASSAY_SOURCE_DIR);
    const char *a1[] = {"assay", "policy", "show", "--policy", ex, NULL};
    assert_int_equal(run(a1), 0);
    tu_path(out, sizeof out, "clipol_example.json");
    char *text = tu_slurp(g_out, NULL);
    tu_write_text(out, text);
    free(text);
    tu_schema_valid(TU_SCHEMA("assay-policy-1.schema.json"), out);
    expect_in_file(out, "\"fail-on\": \"high\"");
    /* the defaults, overridden by a flag and a variable, are a valid policy too */
    setenv("ASSAY_CLASS_BUDGET", "Coat=0.5", 1);
    const char *a2[] = {"assay", "policy", "show", "--severity", "spectral=critical", NULL};
    int rc = run(a2);
    unsetenv("ASSAY_CLASS_BUDGET");
    assert_int_equal(rc, 0);
    text = tu_slurp(g_out, NULL);
    tu_write_text(out, text);
    free(text);
    tu_schema_valid(TU_SCHEMA("assay-policy-1.schema.json"), out);
    expect_in_file(out, "\"Coat\": 0.5");
    expect_in_file(out, "\"severity\": \"critical\"");
    const char *a3[] = {"assay", "policy", "show", "--out", "x", NULL};
    assert_int_equal(run(a3), 2);
}

/* Fewest significant digits that read back to v (strtof's float when is_float): each length's
 * nearest rounding tried, independently of src/core/numfmt.c. */
static int fewest_digits(double v, int is_float) {
    char t[64];
    for (int p = 1; p < 17; p++) {
        snprintf(t, sizeof t, "%.*e", p - 1, v);
        if (is_float ? strtof(t, NULL) == (float)v : strtod(t, NULL) == v) return p;
    }
    return 17;
}

/* Significant digits of a number's text (sign, point, exponent, zeros at either end not
 * counted). */
static int digits_of(const char *s, size_t n) {
    int d = 0, lead = 1, zeros = 0;
    for (size_t i = 0; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] < '0' || s[i] > '9' || (lead && s[i] == '0')) continue;
        lead = 0;
        d++;
        zeros = s[i] == '0' ? zeros + 1 : 0;
    }
    return d - zeros > 0 ? d - zeros : 1;
}

/* Every real of JSON text outside strings has the fewest digits that read back to its value,
 * a point or an exponent (it stays a real); returns how many reals there were. */
static size_t expect_shortest_reals(const char *text) {
    size_t reals = 0;
    for (const char *s = text; *s;) {
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++)
                if (*s == '\\' && s[1]) s++;
            if (*s) s++;
            continue;
        }
        if (*s != '-' && (*s < '0' || *s > '9')) {
            s++;
            continue;
        }
        size_t n = strspn(s, "+-0123456789.eE");
        if (strcspn(s, ".eE") < n) {
            double v = strtod(s, NULL);
            if (digits_of(s, n) != fewest_digits(v, 0))
                fail_msg("'%.*s' is not the shortest text of its value", (int)n, s);
            reals++;
        }
        s += n;
    }
    return reals;
}

/* Numbers are written as the shortest text that reads back to the same value: `policy show`
 * echoes 0.7 (jansson's default wrote 0.69999999999999996), report.json and the other JSON
 * files have no 17-digit artefacts (0.1 stays 0.1; float32 scores have their float's text), and
 * the CSV scores read back to the same float32 with no extra digit. */
static void test_cli_numbers_shortest(void **state) {
    (void)state;
    const char *a1[] = {"assay", "policy", "show", "--label-threshold", "0.7", NULL};
    assert_int_equal(run(a1), 0);
    char *text = tu_slurp(g_out, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"label-threshold\": 0.7,"));
    assert_null(strstr(text, "0.69999999999999996"));
    assert_non_null(strstr(text, "\"cluster-gap\": 0.1,")); /* a default, was 0.10000000000000001 */
    assert_non_null(strstr(text, "\"threshold\": 0.5"));    /* a real keeps its point */
    assert_true(expect_shortest_reals(text) > 10);
    free(text);

    char out[1024], p[1200];
    tu_path(out, sizeof out, "clipol_numbers");
    const char *a2[] = {
        "assay", "scan", g_dups, "--out", out, "--label-threshold", "0.7", "--max-flagged-fraction",
        "0.1",   "-q",   NULL};
    int rc = run(a2);
    assert_true(rc == 0 || rc == 1);
    json_decref(report(out)); /* schema-valid */
    static const char *const files[] = {"report.json", "findings.jsonl", "manifest.json",
                                        "report.sarif", "bom.cdx.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        text = tu_slurp(p, NULL);
        assert_non_null(text);
        if (i == 0) {
            assert_non_null(strstr(text, "\"label_threshold\": 0.7,"));
            assert_non_null(strstr(text, "\"max_flagged_fraction\": 0.1"));
            assert_null(strstr(text, "0.10000000000000001"));
            assert_null(strstr(text, "0.69999999999999996"));
            assert_true(expect_shortest_reals(text) > 50);
        } else {
            expect_shortest_reals(text);
        }
        free(text);
    }
    /* findings' scores are float32 values: written with their float's digits, at most 9 */
    json_t *r = tu_load_json((snprintf(p, sizeof p, "%s/report.json", out), p));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(r, "findings"), i, f) {
        double s = json_real_value(json_object_get(f, "score"));
        assert_int_equal(fewest_digits(s, 0), fewest_digits((float)s, 1));
        assert_true(fewest_digits(s, 0) <= 9);
        /* evidence taken from float32 scores has the float's text, not 0.8999999761581421 */
        const char *key;
        json_t *e;
        json_object_foreach(json_object_get(f, "evidence"), key, e) {
            double x = json_real_value(e);
            if (json_is_real(e) && (double)(float)x == x && fewest_digits(x, 0) > 9)
                fail_msg("evidence %s = %.17g: a float32 value with a double's digits", key, x);
        }
    }
    json_decref(r);
    /* scores.csv: every score field has the fewest digits its float32 needs */
    snprintf(p, sizeof p, "%s/scores.csv", out);
    text = tu_slurp(p, NULL);
    assert_non_null(text);
    size_t fields = 0;
    char *line = strchr(text, '\n');
    while (line != NULL && line[1] != '\0') {
        char *s = line + 1, *end = strchr(s, '\n');
        int col = 0;
        for (char *c = s; c <= end; c++) {
            if (*c != ',' && *c != '\n') continue;
            /* index,id,label,score,flagged,<detectors>: numbers from column 3, flagged aside */
            if (col >= 3 && col != 4 && c > s) {
                float v = strtof(s, NULL);
                assert_int_equal(digits_of(s, (size_t)(c - s)), fewest_digits(v, 1));
                fields++;
            }
            col++;
            s = c + 1;
        }
        line = end;
    }
    assert_true(fields > 600);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_policy_pass_and_fail),
        cmocka_unit_test(test_cli_policy_allowlist_active_and_expired),
        cmocka_unit_test(test_cli_policy_bad_policy_exits_2),
        cmocka_unit_test(test_cli_policy_warn_and_exit_zero),
        cmocka_unit_test(test_cli_policy_precedence_flag_env_file),
        cmocka_unit_test(test_cli_policy_class_budget_and_fail_kinds),
        cmocka_unit_test(test_cli_policy_detector_settings),
        cmocka_unit_test(test_cli_policy_show_validates),
        cmocka_unit_test(test_cli_numbers_shortest),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

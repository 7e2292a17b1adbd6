/* SPDX-License-Identifier: Apache-2.0 */
/* What schedulers and CI see of a run: the --json-summary line (the last line of stdout, what
 * Airflow's BashOperator pushes to XCom), --quiet, progress only on a terminal, NO_COLOR, and
 * reports identical across --threads once timestamps are removed (tests/normalize_report.py). */
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "test_cli_util.h"
#include "test_data.h"

static int run_assay(const char *const *argv) {
    return tu_run_assay("cli_orch", argv);
}

/* 600 rows in 4 blobs; flips > 0 plants label flips that fail the gate. */
static void make_data(const char *path, size_t n, double flips) {
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = n;
    o.d = 16;
    o.classes = 4;
    o.separation = 12.0;
    o.plant.random_flip = flips;
    o.plant.duplicates = flips > 0 ? 0.01 : 0.0;
    tu_write_synth(&o, DATAGEN_FORMAT_H5, path, NULL, NULL);
}

/* The last line of text (without its newline), parsed as JSON; fails when it is not JSON. */
static json_t *last_line_json(const char *text) {
    assert_non_null(text);
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n') fail_msg("stdout does not end with a newline: %s", text);
    size_t start = len - 1;
    while (start > 0 && text[start - 1] != '\n') start--;
    json_error_t e;
    json_t *j = json_loadb(text + start, len - 1 - start, 0, &e);
    if (j == NULL) fail_msg("last line of stdout is not JSON (%s): %s", e.text, text + start);
    assert_true(json_is_object(j));
    return j;
}

/* The summary agrees with report.json and the exit code, key by key. */
static void check_summary(const json_t *sum, const char *out, int rc, const char *status) {
    char report[1200];
    snprintf(report, sizeof report, "%s/report.json", out);
    json_t *doc = tu_load_json(report);
    static const char *const keys[] = {"tool",           "version",          "status",
                                       "exit_code",      "reasons",          "rows",
                                       "flagged",        "flagged_fraction", "findings_by_severity",
                                       "dataset_sha256", "report",           "out"};
    assert_int_equal(json_object_size(sum), sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_object_get(sum, keys[i]) == NULL) fail_msg("summary lacks \"%s\"", keys[i]);
    assert_string_equal(tu_json_str(sum, "tool"), "assay");
    assert_string_equal(tu_json_str(sum, "version"), assay_version());
    assert_string_equal(tu_json_str(sum, "status"), status);
    assert_int_equal(json_integer_value(json_object_get(sum, "exit_code")), rc);
    /* the gate's sentences, as report.json has them, in the same order */
    const json_t *reasons = json_object_get(sum, "reasons");
    assert_true(json_is_array(reasons));
    assert_true(json_equal(reasons, json_object_get(json_object_get(doc, "gate"), "reasons")));
    if (rc != 0) assert_true(json_array_size(reasons) > 0);
    const json_t *s = json_object_get(doc, "summary");
    assert_true(json_equal(json_object_get(sum, "rows"), json_object_get(s, "rows")));
    assert_true(json_equal(json_object_get(sum, "flagged"), json_object_get(s, "flagged")));
    assert_true(json_equal(json_object_get(sum, "flagged_fraction"),
                           json_object_get(s, "flagged_fraction")));
    assert_true(json_equal(json_object_get(sum, "findings_by_severity"),
                           json_object_get(s, "findings_by_severity")));
    assert_string_equal(
        tu_json_str(sum, "dataset_sha256"),
        json_string_value(json_object_get(json_object_get(doc, "input"), "dataset_sha256")));
    assert_int_equal(strlen(tu_json_str(sum, "dataset_sha256")), 64);
    assert_string_equal(tu_json_str(sum, "report"), report);
    assert_string_equal(tu_json_str(sum, "out"), out);
    json_decref(doc);
}

static void test_json_summary_is_the_last_line_of_stdout(void **state) {
    (void)state;
    char data[1024], bad[1024], out[1024], file[1024];
    tu_path(data, sizeof data, "orch_clean.h5");
    tu_path(bad, sizeof bad, "orch_flips.h5");
    tu_path(out, sizeof out, "orch_out");
    tu_path(file, sizeof file, "orch_summary.json");
    make_data(data, 600, 0);
    make_data(bad, 600, 0.03);
    tu_remove_dir(out);
    unlink(file);

    /* pass: the human summary first, then the JSON line; also written to FILE */
    char opt[1200];
    snprintf(opt, sizeof opt, "--json-summary=%s", file);
    const char *pass[] = {"assay", "scan", data, "--out", out, opt, NULL};
    int rc = run_assay(pass);
    assert_int_equal(rc, 0);
    char *so = tu_slurp(g_out, NULL);
    assert_contains(so, "gate: PASS");
    assert_null(strchr(so, '\033')); /* stdout is a file: no colour */
    json_t *sum = last_line_json(so);
    check_summary(sum, out, rc, "pass");
    assert_int_equal(json_integer_value(json_object_get(sum, "rows")), 600);
    char *written = tu_slurp(file, NULL);
    assert_non_null(written);
    assert_string_equal(strstr(so, "{\"tool\""), written); /* the same line, byte for byte */
    json_decref(sum);
    free(so);
    free(written);

    /* fail: the summary says so and carries the process's exit code */
    const char *fail[] = {"assay", "scan", bad, "--out", out, "--json-summary", NULL};
    rc = run_assay(fail);
    assert_int_equal(rc, 1);
    so = tu_slurp(g_out, NULL);
    sum = last_line_json(so);
    check_summary(sum, out, rc, "fail");
    assert_true(json_integer_value(json_object_get(sum, "flagged")) > 0);
    json_decref(sum);
    free(so);

    /* a scan that cannot complete: status "error", exit code 2, the message */
    char missing[1024];
    tu_path(missing, sizeof missing, "orch_missing.h5");
    unlink(missing);
    const char *err[] = {"assay", "scan", missing, "--out", out, "--json-summary", NULL};
    rc = run_assay(err);
    assert_int_equal(rc, 2);
    so = tu_slurp(g_out, NULL);
    sum = last_line_json(so);
    assert_string_equal(tu_json_str(sum, "status"), "error");
    assert_int_equal(json_integer_value(json_object_get(sum, "exit_code")), 2);
    assert_contains(tu_json_str(sum, "error"), missing);
    json_decref(sum);
    free(so);

    /* knn has no gate: the flag is refused */
    const char *knn[] = {"assay", "knn", data, "--out", file, "--json-summary", NULL};
    assert_int_equal(run_assay(knn), 2);
}

/* --quiet with --json-summary: stdout is exactly the JSON line, stderr is empty. */
static void test_quiet_prints_only_the_json_line(void **state) {
    (void)state;
    char data[1024], out[1024];
    tu_path(data, sizeof data, "orch_quiet.h5");
    tu_path(out, sizeof out, "orch_quiet_out");
    make_data(data, 400, 0);
    tu_remove_dir(out);
    const char *argv[] = {"assay", "scan", data, "--out", out, "-q", "--json-summary", NULL};
    assert_int_equal(run_assay(argv), 0);
    char *so = tu_slurp(g_out, NULL), *se = tu_slurp(g_err, NULL);
    assert_string_equal(se, "");
    assert_true(so[0] == '{');
    assert_int_equal(strchr(so, '\n') - so, (long)strlen(so) - 1); /* one line */
    json_t *sum = last_line_json(so);
    check_summary(sum, out, 0, "pass");
    json_decref(sum);
    free(so);
    free(se);
    /* --quiet alone: nothing at all on stdout */
    const char *silent[] = {"assay", "scan", data, "--out", out, "-q", NULL};
    assert_int_equal(run_assay(silent), 0);
    so = tu_slurp(g_out, NULL);
    assert_string_equal(so, "");
    free(so);
}

/* stderr redirected to a file (a log collector): no progress at all, unless --progress. */
static void test_no_progress_when_stderr_is_not_a_terminal(void **state) {
    (void)state;
    char data[1024], out[1024], graph[1024];
    tu_path(data, sizeof data, "orch_progress.h5");
    tu_path(out, sizeof out, "orch_progress_out");
    tu_path(graph, sizeof graph, "orch_progress_graph.h5");
    make_data(data, 400, 0);
    const char *scan[] = {"assay", "scan", data, "--out", out, NULL};
    assert_int_equal(run_assay(scan), 0);
    char *so = tu_slurp(g_out, NULL), *se = tu_slurp(g_err, NULL);
    assert_string_equal(se, "");
    assert_contains(so, "gate: PASS");
    free(so);
    free(se);
    const char *knn[] = {"assay", "knn", data, "--out", graph, NULL};
    assert_int_equal(run_assay(knn), 0);
    se = tu_slurp(g_err, NULL);
    assert_string_equal(se, "");
    free(se);
    /* forced: plain lines, no terminal control sequences */
    const char *forced[] = {"assay", "scan", data, "--out", out, "--progress", NULL};
    assert_int_equal(run_assay(forced), 0);
    se = tu_slurp(g_err, NULL);
    assert_contains(se, "assay: knn         started\n");
    assert_contains(se, "assay: knn         done in");
    assert_null(strchr(se, '\r'));
    assert_null(strchr(se, '\033'));
    free(se);
    /* --quiet wins over --progress */
    const char *both[] = {"assay", "scan", data, "--out", out, "--progress", "-q", NULL};
    assert_int_equal(run_assay(both), 0);
    se = tu_slurp(g_err, NULL);
    assert_string_equal(se, "");
    free(se);
    tu_remove_dir(out);
    unlink(graph);
}

/* Runs `assay scan` on a pseudo-terminal (util-linux script) with the environment prefix env;
 * returns what the terminal showed. */
static char *scan_on_a_terminal(const char *env, const char *data, const char *out,
                                const char *tag) {
    char log[1024], cmd[4096];
    tu_path(log, sizeof log, "orch_tty_%s.log", tag);
    snprintf(cmd, sizeof cmd, "%s /usr/bin/script -qec \"%s scan %s --out %s\" %s > /dev/null", env,
             ASSAY_BIN, data, out, log);
    assert_int_equal(system(cmd), 0);
    return tu_slurp(log, NULL);
}

/* On a terminal the verdict is coloured, unless NO_COLOR is set to something non-empty. */
static void test_no_color_is_respected(void **state) {
    (void)state;
    if (access("/usr/bin/script", X_OK) != 0 ||
        system("/usr/bin/script -qec true /dev/null > /dev/null 2>&1") != 0)
        skip();
    char data[1024], out[1024];
    tu_path(data, sizeof data, "orch_tty.h5");
    tu_path(out, sizeof out, "orch_tty_out");
    make_data(data, 400, 0);
    char *plain_env = scan_on_a_terminal("env -u NO_COLOR", data, out, "color");
    assert_contains(plain_env, "gate: \033[1;32mPASS\033[0m (exit 0)");
    free(plain_env);
    char *empty = scan_on_a_terminal("env NO_COLOR=", data, out, "empty");
    assert_contains(empty, "gate: \033[1;32mPASS\033[0m"); /* empty means unset (no-color.org) */
    free(empty);
    char *no_color = scan_on_a_terminal("env NO_COLOR=1", data, out, "nocolor");
    assert_contains(no_color, "gate: PASS (exit 0)");
    assert_null(strstr(no_color, "\033[1;"));
    assert_contains(no_color, "\r\033[Kassay: knn"); /* the progress bar is not colour */
    free(no_color);
    tu_remove_dir(out);
}

/* report.json, findings.jsonl, SARIF, JUnit, CycloneDX, HTML, manifest and CSVs are the same
 * for 1, 2 and 3 threads once tests/normalize_report.py removed timestamps and timings. The
 * folders have the same name at scan time (the report records it), then are moved aside. */
static void test_reports_identical_across_threads(void **state) {
    (void)state;
    char data[1024], out[1024], kept[3][1024], cmd[8192];
    tu_path(data, sizeof data, "orch_threads.h5");
    tu_path(out, sizeof out, "orch_threads_out");
    make_data(data, 1200, 0.03);
    static const char *const threads[] = {"1", "2", "3"};
    for (int t = 0; t < 3; t++) {
        tu_path(kept[t], sizeof kept[t], "orch_threads_%s", threads[t]);
        tu_remove_dir(kept[t]);
        tu_remove_dir(out);
        const char *argv[] = {"assay",     "scan",     data, "--out", out,
                              "--threads", threads[t], "-q", NULL};
        assert_int_equal(run_assay(argv), 1);
        assert_int_equal(rename(out, kept[t]), 0);
    }
    snprintf(cmd, sizeof cmd, "%s %s/tests/normalize_report.py --compare %s %s %s", ASSAY_PYTHON3,
             ASSAY_SOURCE_DIR, kept[0], kept[1], kept[2]);
    int rc = system(cmd);
    if (rc != 0) fail_msg("reports differ across --threads (see the output above): %s", cmd);
    /* the comparison can fail: a changed flag in one copy is caught */
    char p[1200];
    snprintf(p, sizeof p, "%s/flagged.csv", kept[2]);
    FILE *fp = fopen(p, "ab");
    assert_non_null(fp);
    fputs("tampered\n", fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s %s/tests/normalize_report.py --compare %s %s > /dev/null 2>&1",
             ASSAY_PYTHON3, ASSAY_SOURCE_DIR, kept[0], kept[2]);
    assert_int_not_equal(system(cmd), 0);
}

/* An orchestrator sets options through the environment (a Kubernetes pod spec, a CI job):
 * ASSAY_OUT, ASSAY_QUIET, ASSAY_JSON_SUMMARY, ASSAY_THREADS... act as their flags, a flag on the
 * command line overrides its variable, report.json records the variables used, and a bad value
 * names the variable. */
static void test_options_from_assay_variables(void **state) {
    (void)state;
    char data[1024], env_out[1024], flag_out[1024], p[1200];
    tu_path(data, sizeof data, "orch_env.h5");
    tu_path(env_out, sizeof env_out, "orch_env_out");
    tu_path(flag_out, sizeof flag_out, "orch_env_flag_out");
    make_data(data, 400, 0);
    tu_remove_dir(env_out);
    tu_remove_dir(flag_out);
    setenv("ASSAY_OUT", env_out, 1);
    setenv("ASSAY_QUIET", "true", 1);
    setenv("ASSAY_JSON_SUMMARY", "1", 1);
    setenv("ASSAY_THREADS", "1", 1);
    const char *by_env[] = {"assay", "scan", data, NULL};
    assert_int_equal(run_assay(by_env), 0);
    char *so = tu_slurp(g_out, NULL);
    json_t *sum = last_line_json(so);
    check_summary(sum, env_out, 0, "pass"); /* written into ASSAY_OUT, quiet: one line */
    assert_int_equal(strchr(so, '\n') - so, (long)strlen(so) - 1);
    json_decref(sum);
    free(so);
    snprintf(p, sizeof p, "%s/report.json", env_out);
    json_t *doc = tu_load_json(p);
    const json_t *env = json_object_get(doc, "environment");
    assert_int_equal(json_array_size(env), 4);
    char want[1200];
    snprintf(want, sizeof want, "ASSAY_OUT=%s", env_out);
    int seen = 0;
    for (size_t i = 0; i < json_array_size(env); i++)
        seen += strcmp(json_string_value(json_array_get(env, i)), want) == 0;
    assert_int_equal(seen, 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "tool"), "threads")),
                     1);
    json_decref(doc);
    /* the flag wins over the variable; a switch variable can be turned off */
    setenv("ASSAY_QUIET", "no", 1);
    const char *by_flag[] = {"assay", "scan", data, "--out", flag_out, NULL};
    assert_int_equal(run_assay(by_flag), 0);
    snprintf(p, sizeof p, "%s/report.json", flag_out);
    assert_true(tu_exists(p));
    so = tu_slurp(g_out, NULL);
    assert_non_null(strstr(so, "gate: PASS")); /* not quiet */
    free(so);
    /* a bad value: exit 2, the message names the variable */
    setenv("ASSAY_THREADS", "many", 1);
    assert_int_equal(run_assay(by_env), 2);
    char *se = tu_slurp(g_err, NULL);
    assert_non_null(strstr(se, "ASSAY_THREADS=many"));
    free(se);
    setenv("ASSAY_THREADS", "1", 1);
    setenv("ASSAY_QUIET", "maybe", 1);
    assert_int_equal(run_assay(by_env), 2);
    se = tu_slurp(g_err, NULL);
    assert_non_null(strstr(se, "ASSAY_QUIET expects true or false"));
    free(se);
    unsetenv("ASSAY_OUT");
    unsetenv("ASSAY_QUIET");
    unsetenv("ASSAY_JSON_SUMMARY");
    unsetenv("ASSAY_THREADS");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_summary_is_the_last_line_of_stdout),
        cmocka_unit_test(test_quiet_prints_only_the_json_line),
        cmocka_unit_test(test_no_progress_when_stderr_is_not_a_terminal),
        cmocka_unit_test(test_no_color_is_respected),
        cmocka_unit_test(test_reports_identical_across_threads),
        cmocka_unit_test(test_options_from_assay_variables),
    };
    return cmocka_run_group_tests_name("cli_orchestrator", tests, NULL, NULL);
}

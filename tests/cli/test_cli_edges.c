/* SPDX-License-Identifier: Apache-2.0 */
/* What a new user of the command line runs into: --out creating missing parent folders (and
 * refusing, before the scan, an ancestor that is a file), "did you mean" for mistyped flags,
 * commands and detector names, --threads 0 (all CPUs) on the command line and in
 * ASSAY_THREADS, and --graph-method approx. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "test_cli_util.h"
#include "test_data.h"

static int run_assay(const char *const *argv) {
    return tu_run_assay("cli_edges", argv);
}

static void make_data(const char *path) {
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = 300;
    o.d = 8;
    o.classes = 3;
    o.separation = 12.0;
    tu_write_synth(&o, DATAGEN_FORMAT_H5, path, NULL, NULL);
}

/* Runs argv, expects `rc` and every needle (NULL-terminated) in stderr. */
static void expect_stderr(const char *const *argv, int rc, const char *const *needles) {
    int got = run_assay(argv);
    char *se = tu_slurp(g_err, NULL);
    if (got != rc) fail_msg("exit %d, expected %d; stderr: %s", got, rc, se ? se : "");
    for (size_t i = 0; needles[i] != NULL; i++) assert_contains(se, needles[i]);
    free(se);
}

/* --out a/b/c with only the test folder existing: scan, report render and diff create the chain
 * (like mkdir -p) when they write; an ancestor that is a regular file exits 2 naming it, before
 * the scan, and a scan that fails on its input creates no folder at all. */
static void test_out_creates_missing_parents(void **state) {
    (void)state;
    char base[1024], data[1024], out[1200], p[1400], file[1200], bad[1300];
    tu_path(base, sizeof base, "edges_out");
    char cmd[1100]; /* nested folders from an earlier run (tu_remove_dir is one level) */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mkdir(base, 0777), 0);
    tu_path(data, sizeof data, "edges_out.h5");
    make_data(data);

    snprintf(out, sizeof out, "%s/a/b/c", base);
    const char *scan[] = {"assay", "scan", data, "--out", out, "-q", NULL};
    assert_int_equal(run_assay(scan), 0);
    snprintf(p, sizeof p, "%s/report.json", out);
    assert_true(tu_exists(p));

    char render_out[1300];
    snprintf(render_out, sizeof render_out, "%s/r/s/t", base);
    const char *render[] = {"assay", "report", "render", p, "--html", "--out", render_out, NULL};
    assert_int_equal(run_assay(render), 0);
    char html[1400];
    snprintf(html, sizeof html, "%s/report.html", render_out);
    assert_true(tu_exists(html));

    char manifest[1400], diff_out[1300], diff_json[1400];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", out);
    snprintf(diff_out, sizeof diff_out, "%s/d/e", base);
    const char *diff[] = {"assay", "diff", manifest, manifest, "--out", diff_out, "-q", NULL};
    assert_int_equal(run_assay(diff), 0);
    snprintf(diff_json, sizeof diff_json, "%s/diff.json", diff_out);
    assert_true(tu_exists(diff_json));

    /* a regular file among the ancestors: refused before any work, naming it */
    snprintf(file, sizeof file, "%s/plain", base);
    tu_write_file(file, "x", 1);
    snprintf(bad, sizeof bad, "%s/plain/x/y", base);
    const char *scan_bad[] = {"assay", "scan", data, "--out", bad, "-q", NULL};
    expect_stderr(scan_bad, 2, (const char *const[]){file, "is not a folder", NULL});
    const char *diff_bad[] = {"assay", "diff", manifest, manifest, "--out", bad, "-q", NULL};
    expect_stderr(diff_bad, 2, (const char *const[]){file, "is not a folder", NULL});
    const char *render_bad[] = {"assay", "report", "render", p, "--html", "--out", bad, NULL};
    expect_stderr(render_bad, 2, (const char *const[]){file, "is not a folder", NULL});

    /* the folders are created only when the reports are written */
    char missing[1200], never[1300];
    snprintf(missing, sizeof missing, "%s/no-such-input.h5", base);
    snprintf(never, sizeof never, "%s/never/made", base);
    const char *scan_fail[] = {"assay", "scan", missing, "--out", never, "-q", NULL};
    assert_int_equal(run_assay(scan_fail), 2);
    snprintf(p, sizeof p, "%s/never", base);
    assert_false(tu_exists(p));
}

/* Mistyped flags, commands and detector names name the nearest known one. */
static void test_did_you_mean(void **state) {
    (void)state;
    char data[1024], manifest[1200];
    tu_path(data, sizeof data, "edges_typo.h5");
    tu_path(manifest, sizeof manifest, "edges_typo_manifest.json");
    const char *flag[] = {"assay", "scan", data, "--max-flaged-fraction", "0.1", NULL};
    expect_stderr(flag, 2,
                  (const char *const[]){"unknown option '--max-flaged-fraction'",
                                        "did you mean '--max-flagged-fraction'?", NULL});
    const char *out[] = {"assay", "scan", data, "--ouput", "x", NULL};
    expect_stderr(out, 2, (const char *const[]){"did you mean '--out'?", NULL});
    const char *out_eq[] = {"assay", "scan", data, "--output=x", NULL};
    expect_stderr(out_eq, 2, (const char *const[]){"did you mean '--out'?", NULL});
    const char *knn[] = {"assay", "knn", data, "--thraeds", "2", NULL};
    expect_stderr(knn, 2, (const char *const[]){"did you mean '--threads'?", NULL});
    const char *diff[] = {"assay", "diff", manifest, manifest, "--jsn-summary", NULL};
    expect_stderr(diff, 2, (const char *const[]){"did you mean '--json-summary'?", NULL});
    const char *render[] = {"assay", "report", "render", manifest, "--htlm", NULL};
    expect_stderr(render, 2, (const char *const[]){"did you mean '--html'?", NULL});
    const char *cmd[] = {"assay", "scna", data, NULL};
    expect_stderr(cmd, 2,
                  (const char *const[]){"unknown command 'scna'", "did you mean 'scan'?", NULL});
    const char *help[] = {"assay", "help", "polcy", NULL};
    expect_stderr(help, 2, (const char *const[]){"did you mean 'policy'?", NULL});
    /* far from every name: no guess */
    const char *far[] = {"assay", "scan", data, "--frobnicate", NULL};
    int rc = run_assay(far);
    char *se = tu_slurp(g_err, NULL);
    assert_int_equal(rc, 2);
    assert_contains(se, "unknown option '--frobnicate'");
    assert_null(strstr(se, "did you mean"));
    free(se);

    /* detector names: --skip, DET=VALUE lists, and the variables */
    const char *skip[] = {"assay", "policy", "show", "--skip", "duplicate,spectrl", NULL};
    expect_stderr(
        skip, 2,
        (const char *const[]){"unknown detector 'spectrl'", "did you mean 'spectral'?", NULL});
    const char *thr[] = {"assay", "policy", "show", "--threshold", "knn-lable=0.5", NULL};
    expect_stderr(
        thr, 2,
        (const char *const[]){"unknown detector 'knn-lable'", "did you mean 'knn-label'?", NULL});
}

/* --threads 0 (and ASSAY_THREADS=0) is the library's 0: every online CPU; negative stays an
 * error. */
static void test_threads_zero_means_all_cpus(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "edges_threads.h5");
    tu_path(out, sizeof out, "edges_threads_out");
    make_data(data);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(p, sizeof p, "%s/report.json", out);

    tu_remove_dir(out);
    const char *zero[] = {"assay", "scan", data, "--out", out, "-q", "--threads", "0", NULL};
    assert_int_equal(run_assay(zero), 0);
    json_t *r = tu_load_json(p);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "tool"), "threads")),
                     cpus > 0 ? cpus : 1);
    json_decref(r);

    tu_remove_dir(out);
    setenv("ASSAY_THREADS", "0", 1);
    const char *env[] = {"assay", "scan", data, "--out", out, "-q", NULL};
    assert_int_equal(run_assay(env), 0);
    r = tu_load_json(p);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "tool"), "threads")),
                     cpus > 0 ? cpus : 1);
    json_decref(r);

    setenv("ASSAY_THREADS", "-1", 1);
    expect_stderr(env, 2, (const char *const[]){"--threads expects an integer from 0", NULL});
    unsetenv("ASSAY_THREADS");
    const char *neg[] = {"assay", "scan", data, "--out", out, "-q", "--threads", "-2", NULL};
    expect_stderr(neg, 2,
                  (const char *const[]){"--threads expects an integer from 0", "'-2'", NULL});
    const char *big[] = {"assay", "knn", data, "--out", p, "--threads", "1025", NULL};
    expect_stderr(big, 2, (const char *const[]){"to 1024", NULL});
}

/* --graph-method approx as a user starts it: report.json says which graph the detectors used
 * and its measured recall, the summary prints it; too few rows build the exact graph and say
 * so; bad values exit 2 naming the flag. */
static void test_graph_method_approx(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "edges_approx.h5");
    tu_path(out, sizeof out, "edges_approx_out");
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = 3000; /* 40 well separated classes: structure an inverted file can use */
    o.d = 8;
    o.classes = 40;
    o.separation = 12.0;
    tu_write_synth(&o, DATAGEN_FORMAT_H5, data, NULL, NULL);
    snprintf(p, sizeof p, "%s/report.json", out);

    tu_remove_dir(out);
    const char *approx[] = {
        "assay",           "scan", data, "--out", out, "--graph-method", "approx",
        "--approx-recall", "0.95", NULL};
    assert_int_equal(run_assay(approx), 0);
    char *so = tu_slurp(g_out, NULL);
    assert_contains(so, "approximate (");
    assert_contains(so, "recall@10 ");
    free(so);
    json_t *r = tu_load_json(p), *g = json_object_get(r, "graph");
    json_t *a = json_object_get(g, "approx");
    assert_string_equal(json_string_value(json_object_get(g, "method")), "approx");
    assert_true(json_is_true(json_object_get(a, "used")));
    assert_string_equal(json_string_value(json_object_get(a, "fallback")), "none");
    assert_true(json_real_value(json_object_get(a, "target_recall")) == 0.95);
    assert_true(json_real_value(json_object_get(a, "recall")) >= 0.9);
    assert_true(json_integer_value(json_object_get(a, "sample_rows")) > 0);
    json_decref(r);

    /* 300 rows: the exact graph, and the reason */
    tu_path(data, sizeof data, "edges_approx_small.h5");
    make_data(data);
    tu_remove_dir(out);
    setenv("ASSAY_GRAPH_METHOD", "approx", 1);
    const char *small[] = {"assay", "scan", data, "--out", out, NULL};
    assert_int_equal(run_assay(small), 0);
    unsetenv("ASSAY_GRAPH_METHOD");
    so = tu_slurp(g_out, NULL);
    assert_contains(so, "the exact graph was built: too few rows");
    free(so);
    r = tu_load_json(p);
    g = json_object_get(r, "graph");
    assert_string_equal(json_string_value(json_object_get(g, "method")), "exact");
    a = json_object_get(g, "approx");
    assert_false(json_is_true(json_object_get(a, "used")));
    assert_string_equal(json_string_value(json_object_get(a, "fallback")), "few-rows");
    assert_true(json_is_null(json_object_get(a, "recall")));
    json_decref(r);

    const char *bad[] = {"assay", "scan", data, "--out", out, "--graph-method", "ivf", NULL};
    expect_stderr(bad, 2, (const char *const[]){"--graph-method expects exact or approx", NULL});
    const char *rec[] = {"assay", "scan", data, "--out", out, "--approx-recall", "1.5", NULL};
    expect_stderr(rec, 2,
                  (const char *const[]){"--approx-recall expects a number in (0, 1]", NULL});
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_creates_missing_parents),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_threads_zero_means_all_cpus),
        cmocka_unit_test(test_graph_method_approx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

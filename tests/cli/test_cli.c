/* SPDX-License-Identifier: Apache-2.0 */
/* The assay command end to end, started as users start it: exit codes 0/1/2, the report files,
 * clear errors that name the culprit, nothing half-written after an error or a kill, the same
 * results for any --threads, progress only on stderr. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "test_cli_util.h"
#include "test_data.h"

#include "assay/assay.h"

static int run_assay(const char *const *argv) {
    return tu_run_assay("cli", argv);
}

/* A synthetic dataset: 4 well-separated blobs in 16 dims, with the requested attacks. */
static void make_data(const char *path, datagen_format fmt, size_t n, double flips, double dups,
                      double nonfinite, const char *truth_path) {
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = n;
    o.d = 16;
    o.classes = 4;
    o.separation = 12.0;
    o.plant.random_flip = flips;
    o.plant.duplicates = dups;
    o.plant.nonfinite = nonfinite;
    tu_write_synth(&o, fmt, path, truth_path, NULL);
}

static void test_cli_clean_data_passes(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "cli_clean.h5");
    tu_path(out, sizeof out, "cli_clean_out");
    tu_remove_dir(out);
    make_data(data, DATAGEN_FORMAT_H5, 600, 0, 0, 0, NULL);
    const char *argv[] = {"assay", "scan", data, "--out", out, NULL};
    assert_int_equal(run_assay(argv), 0);
    char *so = tu_slurp(g_out, NULL), *se = tu_slurp(g_err, NULL);
    assert_contains(so, "gate: PASS (exit 0)");
    assert_contains(so, "600 rows x 16 dims, 4 classes");
    assert_string_equal(se, ""); /* stderr is not a terminal: no progress */
    free(so);
    free(se);
    tu_report_dir_valid(out);
    snprintf(p, sizeof p, "%s/report.json", out);
    json_t *r = tu_load_json(p);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "gate"), "verdict")),
                        "pass");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "gate"), "exit_code")),
                     0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "input"), "rows")), 600);
    json_decref(r);
    snprintf(p, sizeof p, "%s/scores.csv", out);
    char *scores = tu_slurp(p, NULL);
    assert_non_null(scores);
    /* a column per detector, in the order of their enum values */
    char header[1024] = "index,id,label,score,flagged";
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        strcat(header, ",");
        strcat(header, assay_detector_name((assay_detector)d));
    }
    strcat(header, "\n");
    assert_true(strncmp(scores, header, strlen(header)) == 0);
    size_t lines = 0;
    for (char *c = scores; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 601);
    free(scores);
    snprintf(p, sizeof p, "%s/manifest.json", out);
    json_t *m = tu_load_json(p);
    assert_int_equal(json_array_size(json_object_get(m, "rows")), 600);
    json_decref(m);
    assert_int_equal(tu_count_temp_files(out), 0);
}

static void test_cli_conflicting_duplicates_fail_the_gate(void **state) {
    (void)state;
    char data[1024], out[1024], truth[1024];
    tu_path(data, sizeof data, "cli_dups.csv");
    tu_path(truth, sizeof truth, "cli_dups_truth.csv");
    tu_path(out, sizeof out, "cli_dups_out");
    tu_remove_dir(out);
    make_data(data, DATAGEN_FORMAT_CSV, 800, 0.02, 0.01, 0, truth);
    const char *argv[] = {"assay", "scan", data, "--out", out, "--truth", truth, NULL};
    assert_int_equal(run_assay(argv), 1);
    char *so = tu_slurp(g_out, NULL), *se = tu_slurp(g_err, NULL);
    assert_contains(so, "gate: FAIL (exit 1)");
    assert_contains(so, "at or above severity high");
    assert_contains(so, "precision");
    assert_contains(so, "duplicate_conflict");
    /* not a terminal: no progress on stderr (--progress forces it), none on stdout */
    assert_null(strstr(se, "assay: knn"));
    assert_null(strstr(so, "assay: knn"));
    free(so);
    free(se);
    /* --fail-on none: findings are reported but do not fail the gate */
    const char *argv2[] = {"assay", "scan", data, "--out", out, "--fail-on", "none", "-q", NULL};
    assert_int_equal(run_assay(argv2), 0);
    /* ...unless more rows are flagged than allowed */
    const char *argv3[] = {"assay", "scan",      data,       "--out",
                           out,     "--fail-on", "critical", "--max-flagged-fraction",
                           "0",     NULL};
    assert_int_equal(run_assay(argv3), 1);
    so = tu_slurp(g_out, NULL);
    assert_contains(so, "exceeds the maximum");
    free(so);
}

static void test_cli_nonfinite_rows_are_findings_not_crashes(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "cli_nan.h5");
    tu_path(out, sizeof out, "cli_nan_out");
    tu_remove_dir(out);
    make_data(data, DATAGEN_FORMAT_H5, 500, 0, 0, 0.01, NULL);
    const char *argv[] = {"assay", "scan", data, "--out", out, "-q", NULL};
    assert_int_equal(run_assay(argv), 1);
    tu_report_dir_valid(out);
    snprintf(p, sizeof p, "%s/report.json", out);
    json_t *r = tu_load_json(p);
    json_t *integ = json_array_get(json_object_get(r, "detectors"), 3);
    assert_string_equal(json_string_value(json_object_get(integ, "name")), "integrity");
    assert_int_equal(json_integer_value(json_object_get(integ, "flagged")), 5);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r, "input"), "rows_left_out_of_graph")),
        5);
    json_decref(r);
}

static void test_cli_same_results_for_any_thread_count(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "cli_threads.h5");
    make_data(data, DATAGEN_FORMAT_H5, 1500, 0.03, 0.01, 0, NULL);
    char *ref_scores = NULL, *ref_flagged = NULL;
    static const char *const threads[] = {"1", "2", "3", "5"};
    for (int t = 0; t < 4; t++) {
        tu_path(out, sizeof out, "cli_threads_%s", threads[t]);
        tu_remove_dir(out);
        const char *argv[] = {"assay",     "scan",     data, "--out", out,
                              "--threads", threads[t], "-q", NULL};
        assert_int_equal(run_assay(argv), 1);
        snprintf(p, sizeof p, "%s/scores.csv", out);
        char *s = tu_slurp(p, NULL);
        snprintf(p, sizeof p, "%s/flagged.csv", out);
        char *f = tu_slurp(p, NULL);
        assert_non_null(s);
        assert_non_null(f);
        if (ref_scores == NULL) {
            ref_scores = s;
            ref_flagged = f;
            continue;
        }
        assert_string_equal(ref_scores, s);
        assert_string_equal(ref_flagged, f);
        free(s);
        free(f);
    }
    free(ref_scores);
    free(ref_flagged);
}

/* Every bad input: exit 2, a message naming the culprit, and the previous report untouched. */
static void expect_input_error(const char *const *argv, const char *needle, const char *out) {
    int rc = run_assay(argv);
    char *se = tu_slurp(g_err, NULL);
    if (rc != 2) fail_msg("expected exit 2, got %d; stderr: %s", rc, se ? se : "");
    assert_contains(se, needle);
    assert_contains(se, "assay: error:");
    free(se);
    char p[1200];
    snprintf(p, sizeof p, "%s/report.json", out);
    char *old = tu_slurp(p, NULL);
    assert_non_null(old);
    assert_string_equal(old, "previous report\n");
    free(old);
    for (const char *n = "scores.csv"; n; n = strcmp(n, "scores.csv") == 0 ? "flagged.csv" : NULL) {
        snprintf(p, sizeof p, "%s/%s", out, n);
        assert_false(tu_exists(p));
    }
    assert_int_equal(tu_count_temp_files(out), 0);
}

static void test_cli_bad_input_exit_2_and_nothing_written(void **state) {
    (void)state;
    char out[1024], p[1200], good[1024], ragged[1024], text[1024], emb[1024], lab[1024],
        empty[1024], trunc[1024], small[1024];
    tu_path(out, sizeof out, "cli_err_out");
    tu_remove_dir(out);
    mkdir(out, 0777);
    snprintf(p, sizeof p, "%s/report.json", out);
    tu_write_text(p, "previous report\n");

    const char *missing = ASSAY_TEST_TMP "/no-such-file.h5";
    const char *a1[] = {"assay", "scan", missing, "--out", out, "-q", NULL};
    expect_input_error(a1, "no-such-file.h5", out);

    tu_path(good, sizeof good, "cli_err_good.h5");
    make_data(good, DATAGEN_FORMAT_H5, 200, 0, 0, 0, NULL);
    const char *a2[] = {"assay", "scan", good, "--embeddings", "/nope", "--out", out, "-q", NULL};
    expect_input_error(a2, "/nope", out);
    /* a mistyped dataset path: the suggestion comes from the sandboxed reader */
    const char *a2b[] = {"assay", "scan", good, "--embeddings", "/embeddigns", "--out",
                         out,     "-q",   NULL};
    expect_input_error(a2b, "did you mean '/embeddings'?", out);

    tu_path(ragged, sizeof ragged, "cli_err_ragged.csv");
    tu_write_text(ragged, "label,a,b\n0,1,2\n1,3\n0,5,6\n");
    const char *a3[] = {"assay", "scan", ragged, "--out", out, "-q", NULL};
    expect_input_error(a3, "cli_err_ragged.csv:3", out);

    tu_path(text, sizeof text, "cli_err_text.csv");
    tu_write_text(text, "label,a,b\n0,1,2\n1,3,x7\n0,5,6\n");
    const char *a4[] = {"assay", "scan", text, "--out", out, "-q", NULL};
    expect_input_error(a4, "column 'b'", out);
    const char *a4b[] = {"assay", "scan", text, "--label-column", "lable", "--out",
                         out,     "-q",   NULL};
    expect_input_error(a4b,
                       "no column 'lable' in the header (columns: label, a, b); did you mean "
                       "'label'?",
                       out);

    tu_path(emb, sizeof emb, "cli_err_emb.npy");
    tu_path(lab, sizeof lab, "cli_err_lab.npy");
    float x[40 * 3];
    int64_t y[39];
    for (int i = 0; i < 120; i++) x[i] = (float)(i % 7);
    for (int i = 0; i < 39; i++) y[i] = i % 2;
    datagen_error err;
    assert_int_equal(datagen_write_npy_f32(emb, x, 40, 3, &err), ASSAY_OK);
    assert_int_equal(datagen_write_npy_i64(lab, y, 39, &err), ASSAY_OK);
    const char *a5[] = {"assay", "scan", emb, "--labels-file", lab, "--out", out, "-q", NULL};
    expect_input_error(a5, "39 rows", out);

    tu_path(small, sizeof small, "cli_err_small.h5");
    make_data(small, DATAGEN_FORMAT_H5, 20, 0, 0, 0, NULL);
    const char *a6[] = {"assay", "scan", small, "-k", "25", "--out", out, "-q", NULL};
    expect_input_error(a6, "k = 25 needs at least 26", out);

    tu_path(empty, sizeof empty, "cli_err_empty.csv");
    tu_write_text(empty, "");
    const char *a7[] = {"assay", "scan", empty, "--out", out, "-q", NULL};
    expect_input_error(a7, "empty", out);

    /* truncated HDF5: a valid file cut in half */
    tu_path(trunc, sizeof trunc, "cli_err_trunc.h5");
    char *whole = tu_slurp(good, NULL);
    struct stat st;
    assert_int_equal(stat(good, &st), 0);
    tu_write_file(trunc, whole, (size_t)st.st_size / 2);
    free(whole);
    const char *a8[] = {"assay", "scan", trunc, "--out", out, "-q", NULL};
    expect_input_error(a8, "cli_err_trunc.h5", out);

    /* truncated .npy */
    char *npy = tu_slurp(emb, NULL);
    assert_int_equal(stat(emb, &st), 0);
    tu_write_file(trunc, npy, (size_t)st.st_size - 10);
    free(npy);
    const char *a9[] = {"assay", "scan",  trunc, "--format", "npy", "--labels-file",
                        lab,     "--out", out,   "-q",       NULL};
    expect_input_error(a9, "truncated", out);

    /* an output folder that cannot be created: its parent is a regular file */
    char bad_out[1200];
    snprintf(bad_out, sizeof bad_out, "%s/sub", ragged);
    const char *a10[] = {"assay", "scan", good, "--out", bad_out, "-q", NULL};
    expect_input_error(a10, "output folder", out);

    /* usage errors */
    const char *a11[] = {"assay", "scan", good, "--metric", "manhattan", NULL};
    expect_input_error(a11, "--metric expects cosine or l2", out);
    const char *a12[] = {"assay", "frobnicate", NULL};
    expect_input_error(a12, "unknown command", out);
}

/* Whether the file at path contains text. */
static int file_contains(const char *path, const char *text) {
    char *all = tu_slurp(path, NULL);
    int hit = all != NULL && strstr(all, text) != NULL;
    free(all);
    return hit;
}

/* --trusted-ids and --trusted-data: matched rows are recorded in report.json "trusted" and the
 * subgroup detector fits its model on them; a list matching no id, a missing list and trusted
 * data of another width exit 2 naming the file, and leave the previous report alone. */
static void test_cli_trusted_rows(void **state) {
    (void)state;
    char data[1024], other[1024], ids[1024], none[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "cli_trusted.h5");
    make_data(data, DATAGEN_FORMAT_H5, 800, 0, 0, 0, NULL);
    tu_path(ids, sizeof ids, "cli_trusted_ids.txt");
    FILE *fp = fopen(ids, "w");
    assert_non_null(fp);
    fprintf(fp, "# rows checked by hand\n");
    for (int i = 0; i < 400; i++) fprintf(fp, "%d\n", i);
    fprintf(fp, "999999\n");
    fclose(fp);
    tu_path(out, sizeof out, "cli_trusted_out");
    tu_remove_dir(out);
    const char *a1[] = {
        "assay", "scan", data, "--trusted-ids", ids, "--trusted-data", data, "--out",
        out,     "-q",   NULL};
    assert_int_equal(run_assay(a1), 0);
    snprintf(p, sizeof p, "%s/report.json", out);
    json_t *doc = tu_load_json(p);
    const json_t *tr = json_object_get(doc, "trusted");
    assert_non_null(tr);
    const json_t *ti = json_object_get(tr, "ids");
    assert_int_equal(json_integer_value(json_object_get(ti, "listed")), 401);
    assert_int_equal(json_integer_value(json_object_get(ti, "rows_matched")), 400);
    assert_int_equal(json_integer_value(json_object_get(ti, "unknown")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(tr, "data"), "rows_used")),
                     800);
    int noted = 0;
    const json_t *dets = json_object_get(doc, "detectors");
    for (size_t i = 0; i < json_array_size(dets); i++) {
        const json_t *d = json_array_get(dets, i);
        const char *note = json_string_value(json_object_get(d, "note"));
        if (strcmp(tu_json_str(d, "name"), "subgroup") == 0 && note != NULL)
            noted = strstr(note, "1200 trusted rows") != NULL;
    }
    assert_true(noted);
    json_decref(doc);
    char before[65], after[65];
    tu_sha256_hex(p, before);

    tu_path(none, sizeof none, "cli_trusted_none.txt");
    tu_write_text(none, "img_1\nimg_2\n");
    const char *a2[] = {"assay", "scan", data, "--trusted-ids", none, "--out", out, "-q", NULL};
    assert_int_equal(run_assay(a2), 2);
    assert_true(file_contains(g_err, "cli_trusted_none.txt: none of its 2 ids"));
    const char *a3[] = {
        "assay", "scan", data, "--trusted-ids", ASSAY_TEST_TMP "/no-such-ids.txt", "--out",
        out,     "-q",   NULL};
    assert_int_equal(run_assay(a3), 2);
    assert_true(file_contains(g_err, "no-such-ids.txt"));
    tu_path(other, sizeof other, "cli_trusted_other.csv");
    tu_write_text(other, "label,a,b\n0,1,2\n1,3,4\n");
    const char *a4[] = {"assay", "scan", data, "--trusted-data", other, "--out", out, "-q", NULL};
    assert_int_equal(run_assay(a4), 2);
    assert_true(file_contains(g_err, "2 features per row, the dataset 16"));
    tu_sha256_hex(p, after);
    assert_string_equal(before, after);
}

static void test_cli_help_and_version(void **state) {
    (void)state;
    const char *a1[] = {"assay", "--help", NULL};
    assert_int_equal(run_assay(a1), 0);
    char *so = tu_slurp(g_out, NULL);
    assert_contains(so, "exit codes:");
    assert_contains(so, "2  bad input or usage");
    free(so);
    const char *a2[] = {"assay", "scan", "--help", NULL};
    assert_int_equal(run_assay(a2), 0);
    so = tu_slurp(g_out, NULL);
    assert_contains(so, "--max-flagged-fraction");
    free(so);
    const char *a3[] = {"assay", "--version", NULL};
    assert_int_equal(run_assay(a3), 0);
    so = tu_slurp(g_out, NULL);
    assert_contains(so, "assay 0.1.0");
    free(so);
    const char *a4[] = {"assay", "info", NULL};
    assert_int_equal(run_assay(a4), 0);
    so = tu_slurp(g_out, NULL);
    assert_contains(so, "kernels used:");
    assert_contains(so, "blas:");
    free(so);
}

/* A scan killed at any moment leaves either no report or a complete one under the final names
 * (files are renamed into place only when complete). */
static void test_cli_killed_scan_leaves_no_half_report(void **state) {
    (void)state;
    char data[1024], out[1024], p[1200];
    tu_path(data, sizeof data, "cli_kill.h5");
    make_data(data, DATAGEN_FORMAT_H5, 20000, 0.02, 0.01, 0, NULL);
    static const int delays_ms[] = {20, 80, 150, 250, 400, 600, 900, 1300};
    int killed_mid_run = 0;
    for (size_t i = 0; i < sizeof delays_ms / sizeof delays_ms[0]; i++) {
        tu_path(out, sizeof out, "cli_kill_out");
        tu_remove_dir(out);
        const char *args[] = {"assay", "scan", data, "--out", out, "-q", NULL};
        killed_mid_run += tu_kill_assay_after(args, delays_ms[i]);
        static const char *const names[] = {"report.json", "manifest.json"};
        for (int n = 0; n < 2; n++) {
            snprintf(p, sizeof p, "%s/%s", out, names[n]);
            if (!tu_exists(p)) continue;
            json_error_t e;
            json_t *j = json_load_file(p, 0, &e);
            if (j == NULL) fail_msg("half-written %s after a kill at %d ms", p, delays_ms[i]);
            json_decref(j);
        }
    }
    assert_true(killed_mid_run > 0); /* the test killed at least one scan before it finished */
}

/* On a terminal the progress is a bar redrawn in place; util-linux `script` gives the command a
 * pseudo-terminal as a user's shell would. */
static void test_cli_progress_bar_on_a_terminal(void **state) {
    (void)state;
    /* Needs util-linux script and working pseudo-terminals (absent in bare chroots): probe by
     * running a trivial command the same way. */
    if (access("/usr/bin/script", X_OK) != 0 ||
        system("/usr/bin/script -qec true /dev/null > /dev/null 2>&1") != 0)
        skip();
    char data[1024], out[1024], log[1024], cmd[4096];
    tu_path(data, sizeof data, "cli_tty.h5");
    tu_path(out, sizeof out, "cli_tty_out");
    tu_path(log, sizeof log, "cli_tty.log");
    make_data(data, DATAGEN_FORMAT_H5, 400, 0, 0, 0, NULL);
    snprintf(cmd, sizeof cmd,
             "env -u NO_COLOR /usr/bin/script -qec \"%s scan %s --out %s\" %s > /dev/null",
             ASSAY_BIN, data, out, log);
    assert_int_equal(system(cmd), 0);
    char *typed = tu_slurp(log, NULL);
    assert_non_null(typed);
    /* the bar after the first half of the detectors (as cli/progress.c draws it) */
    char bar[96];
    const int done = ASSAY_DET_COUNT / 2 + 1, pct = 100 * done / ASSAY_DET_COUNT;
    int u = snprintf(bar, sizeof bar, "\rassay: detect      [");
    for (int i = 0; i < 30; i++) bar[u++] = i < pct * 30 / 100 ? '#' : '-';
    snprintf(bar + u, sizeof bar - (size_t)u, "] %3d%%", pct);
    assert_contains(typed, bar);
    assert_contains(typed, "\r\033[Kassay: detect      done in");
    assert_contains(typed, "\r\033[Kassay: knn         done in");
    assert_contains(typed, "gate: \033[1;32mPASS\033[0m"); /* a terminal: in colour */
    free(typed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_progress_bar_on_a_terminal),
        cmocka_unit_test(test_cli_clean_data_passes),
        cmocka_unit_test(test_cli_conflicting_duplicates_fail_the_gate),
        cmocka_unit_test(test_cli_nonfinite_rows_are_findings_not_crashes),
        cmocka_unit_test(test_cli_same_results_for_any_thread_count),
        cmocka_unit_test(test_cli_bad_input_exit_2_and_nothing_written),
        cmocka_unit_test(test_cli_trusted_rows),
        cmocka_unit_test(test_cli_help_and_version),
        cmocka_unit_test(test_cli_killed_scan_leaves_no_half_report),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}

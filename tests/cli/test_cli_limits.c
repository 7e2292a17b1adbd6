/* SPDX-License-Identifier: Apache-2.0 */
/* The input bounds through the real binary (docs/limits.md): /dev/zero, a FIFO and a directory
 * are refused at once with exit 2, as the dataset and as a side file; '-' reads a CSV dataset
 * from standard input (a file or a pipe) and records its SHA-256; a NUL byte in a CSV label
 * exits 2 naming line, byte and column; the --max-* flags override the policy file's limits:,
 * and report.json records the limits in force (and still validates against its schema); a tiny
 * .npy declaring a huge array exits 2 at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "test_cli_util.h"

static char g_csv[1024];

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int setup(void **state) {
    (void)state;
    tu_path(g_csv, sizeof g_csv, "cli_limits.csv");
    FILE *fp = fopen(g_csv, "w");
    if (fp == NULL) return -1;
    fprintf(fp, "id,label,a,b,c\n");
    uint64_t rng = 7;
    for (int i = 0; i < 80; i++)
        fprintf(fp, "r%d,%s,%.4f,%.4f,%.4f\n", i, i % 2 ? "cat" : "dog", tu_uniform(&rng),
                tu_uniform(&rng) + (i % 2), tu_uniform(&rng));
    fclose(fp);
    return 0;
}

static void assert_stderr_has(const char *needle) {
    char *err = tu_slurp(g_err, NULL);
    assert_non_null(err);
    if (strstr(err, needle) == NULL) fail_msg("stderr lacks \"%s\":\n%s", needle, err);
    free(err);
}

/* Runs assay, expecting exit `code` within `seconds`. */
static void run_expect(const char *tag, const char *const *argv, int code, double seconds) {
    double t0 = now_s();
    int rc = tu_run_assay(tag, argv);
    double dt = now_s() - t0;
    if (rc != code) {
        char *err = tu_slurp(g_err, NULL);
        fail_msg("%s: exit %d, expected %d: %s", tag, rc, code, err ? err : "");
    }
    if (dt > seconds) fail_msg("%s: took %.2f s, expected under %.1f s", tag, dt, seconds);
}

static void test_special_files_exit_2(void **state) {
    (void)state;
    char out[1024], fifo[1024], dir[1024];
    tu_path(out, sizeof out, "cli_limits_out_special");
    tu_path(fifo, sizeof fifo, "cli_limits_fifo");
    tu_path(dir, sizeof dir, "cli_limits_dir");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    mkdir(dir, 0700);
    const char *zero[] = {"assay", "scan", "/dev/zero", "-q", "-o", out, NULL};
    run_expect("cli_limits_zero", zero, 2, 2.0);
    assert_stderr_has("/dev/zero: is a character device, not a regular file");
    const char *f[] = {"assay", "scan", fifo, "-q", "-o", out, NULL};
    run_expect("cli_limits_fifo", f, 2, 2.0);
    assert_stderr_has("is a FIFO (named pipe), not a regular file");
    const char *d[] = {"assay", "scan", dir, "-q", "-o", out, NULL};
    run_expect("cli_limits_dir", d, 2, 2.0);
    assert_stderr_has("is a directory");
    const char *side[] = {"assay", "scan", g_csv, "--labels-file", fifo, "-q", "-o", out, NULL};
    run_expect("cli_limits_side_fifo", side, 2, 2.0);
    assert_stderr_has("cli_limits_fifo: is a FIFO");
    const char *ids[] = {"assay", "scan", g_csv, "--trusted-ids", "/dev/zero", "-q",
                         "-o",    out,    NULL};
    run_expect("cli_limits_ids_zero", ids, 2, 2.0);
    assert_stderr_has("/dev/zero: is a character device");
    unlink(fifo);
    rmdir(dir);
}

/* Runs `sh -c cmd`; returns its exit code. */
static int run_sh(const char *cmd) {
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void check_stdin_report(const char *out) {
    char rep[1100], want[65];
    snprintf(rep, sizeof rep, "%s/report.json", out);
    json_t *r = tu_load_json(rep);
    json_t *files = json_object_get(json_object_get(r, "input"), "files");
    assert_int_equal(json_array_size(files), 1);
    json_t *f0 = json_array_get(files, 0);
    assert_string_equal(tu_json_str(f0, "path"), "-");
    tu_sha256_hex(g_csv, want);
    assert_string_equal(tu_json_str(f0, "sha256"), want);
    struct stat st;
    assert_int_equal(stat(g_csv, &st), 0);
    assert_int_equal(json_integer_value(json_object_get(f0, "bytes")), st.st_size);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "input"), "rows")), 80);
    json_decref(r);
    tu_schema_valid(TU_SCHEMA("assay-report-1.schema.json"), rep);
}

static void test_stdin_dash(void **state) {
    (void)state;
    char out[1024], cmd[4096], log[1024];
    tu_path(log, sizeof log, "cli_limits_stdin.log");
    /* through a pipe */
    tu_path(out, sizeof out, "cli_limits_out_pipe");
    snprintf(cmd, sizeof cmd, "cat '%s' | '%s' scan - -q -o '%s' --threads 2 >'%s' 2>&1", g_csv,
             ASSAY_BIN, out, log);
    int rc = run_sh(cmd);
    if (rc != 0 && rc != 1) fail_msg("scan - (pipe): exit %d (%s)", rc, log);
    check_stdin_report(out);
    /* a file on standard input */
    tu_path(out, sizeof out, "cli_limits_out_redirect");
    snprintf(cmd, sizeof cmd, "'%s' scan - -q -o '%s' --threads 2 <'%s' >'%s' 2>&1", ASSAY_BIN, out,
             g_csv, log);
    rc = run_sh(cmd);
    if (rc != 0 && rc != 1) fail_msg("scan - (file): exit %d (%s)", rc, log);
    check_stdin_report(out);
    /* /dev/zero through a pipe: the NUL byte stops it at once */
    snprintf(cmd, sizeof cmd, "timeout 20 sh -c \"cat /dev/zero | '%s' scan - -q -o '%s' 2>'%s'\"",
             ASSAY_BIN, out, log);
    double t0 = now_s();
    assert_int_equal(run_sh(cmd), 2);
    if (now_s() - t0 > 5) fail_msg("cat /dev/zero | assay scan - took %.1f s", now_s() - t0);
    char *err = tu_slurp(log, NULL);
    assert_non_null(strstr(err, "-: line 1, byte 1: a NUL byte"));
    free(err);
    /* '-' is refused for a side file and for --trusted-data */
    snprintf(cmd, sizeof cmd, "'%s' scan '%s' --ids-file - -q -o '%s' </dev/null 2>'%s'", ASSAY_BIN,
             g_csv, out, log);
    assert_int_equal(run_sh(cmd), 2);
    err = tu_slurp(log, NULL);
    assert_non_null(strstr(err, "standard input is accepted only for a CSV dataset"));
    free(err);
    const char *td[] = {"assay", "scan", g_csv, "--trusted-data", "-", "-q", "-o", out, NULL};
    run_expect("cli_limits_trusted_dash", td, 2, 5.0);
    assert_stderr_has("--trusted-data cannot be '-'");
}

static void test_nul_in_csv_label(void **state) {
    (void)state;
    char path[1024], out[1024];
    tu_path(path, sizeof path, "cli_limits_nul.csv");
    tu_path(out, sizeof out, "cli_limits_out_nul");
    FILE *fp = fopen(path, "wb");
    static const char text[] = "id,label,a\n1,c\0at,0.5\n2,dog,0.3\n";
    fwrite(text, 1, sizeof text - 1, fp);
    fclose(fp);
    const char *argv[] = {"assay", "scan", path, "-q", "-o", out, NULL};
    run_expect("cli_limits_nul", argv, 2, 5.0);
    assert_stderr_has("cli_limits_nul.csv: line 2, byte 4: a NUL byte in field 2 (column 'label')");
}

/* The summary printed to the terminal shows control bytes of input-supplied text (here the
 * file name; equally labels and attack names) as \xNN: an escape sequence must not reach the
 * user's terminal. */
static void test_summary_escapes_control_bytes(void **state) {
    (void)state;
    char path[1024], out[1024];
    tu_path(path, sizeof path, "cli_limits_\x1b[2Jred.csv");
    tu_path(out, sizeof out, "cli_limits_out_escape");
    char *csv = tu_slurp(g_csv, NULL);
    assert_non_null(csv);
    tu_write_text(path, csv);
    free(csv);
    const char *argv[] = {"assay", "scan", path, "--threads", "2", "-o", out, NULL};
    int rc = tu_run_assay("cli_limits_escape", argv);
    assert_in_range(rc, 0, 1);
    char *text = tu_slurp(g_out, NULL);
    assert_non_null(text);
    if (strchr(text, '\x1b') != NULL) fail_msg("an ESC byte reached the terminal:\n%s", text);
    if (strstr(text, "cli_limits_\\x1b[2Jred.csv") == NULL)
        fail_msg("the file name is not shown escaped:\n%s", text);
    free(text);
}

static void test_flags_override_policy_limits(void **state) {
    (void)state;
    char pol[1024], out[1024];
    tu_path(pol, sizeof pol, "cli_limits_policy.yml");
    tu_path(out, sizeof out, "cli_limits_out_policy");
    tu_write_text(pol, "version: 1\nlimits:\n  max-rows: 50\n  max-label-bytes: 64\n");
    const char *refused[] = {"assay", "scan", g_csv, "--policy", pol, "-q", "-o", out, NULL};
    run_expect("cli_limits_policy", refused, 2, 5.0);
    assert_stderr_has("cli_limits.csv: line 52: more than 50 data rows, exceeds --max-rows (50)");
    const char *over[] = {"assay", "scan",      g_csv, "--policy", pol, "--max-rows", "1024",
                          "-q",    "--threads", "2",   "-o",       out, NULL};
    int rc = tu_run_assay("cli_limits_policy_flag", over);
    if (rc != 0 && rc != 1) fail_msg("exit %d", rc);
    char rep[1100];
    snprintf(rep, sizeof rep, "%s/report.json", out);
    json_t *r = tu_load_json(rep);
    json_t *lim = json_object_get(json_object_get(r, "input"), "limits");
    assert_int_equal(json_integer_value(json_object_get(lim, "max_rows")), 1024);
    assert_int_equal(json_integer_value(json_object_get(lim, "max_label_bytes")), 64);
    assert_int_equal(json_integer_value(json_object_get(lim, "max_field_bytes")), 1 << 20);
    json_decref(r);
    tu_schema_valid(TU_SCHEMA("assay-report-1.schema.json"), rep);
    /* an ASSAY_MAX_* variable: below the flag, above the file */
    setenv("ASSAY_MAX_ROWS", "20", 1);
    const char *env[] = {"assay", "scan", g_csv, "--policy", pol, "-q", "-o", out, NULL};
    run_expect("cli_limits_env", env, 2, 5.0);
    unsetenv("ASSAY_MAX_ROWS");
    assert_stderr_has("exceeds --max-rows (20)");
}

static void test_tiny_npy_huge_shape(void **state) {
    (void)state;
    char path[1024], labels[1024], out[1024];
    tu_path(path, sizeof path, "cli_limits_huge.npy");
    tu_path(labels, sizeof labels, "cli_limits_huge_labels.csv");
    tu_path(out, sizeof out, "cli_limits_out_huge");
    static const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, "
                               "1000000), }";
    unsigned char buf[256];
    size_t dl = sizeof dict - 1, h = 128 - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)h;
    buf[9] = 0;
    memcpy(buf + 10, dict, dl);
    memset(buf + 10 + dl, ' ', h - dl - 1);
    buf[127] = '\n';
    memset(buf + 128, 0, 64);
    FILE *fp = fopen(path, "wb");
    fwrite(buf, 1, 192, fp);
    fclose(fp);
    tu_write_text(labels, "label\n0\n1\n");
    const char *argv[] = {"assay", "scan", path, "--labels-file", labels, "-q", "-o", out, NULL};
    run_expect("cli_limits_huge", argv, 2, 1.0);
    assert_stderr_has("truncated: header says 4000000000x1000000 <f4");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_special_files_exit_2),
        cmocka_unit_test(test_stdin_dash),
        cmocka_unit_test(test_nul_in_csv_label),
        cmocka_unit_test(test_summary_escapes_control_bytes),
        cmocka_unit_test(test_flags_override_policy_limits),
        cmocka_unit_test(test_tiny_npy_huge_shape),
    };
    return cmocka_run_group_tests_name("cli_limits", tests, setup, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The structured documents assay reads (policy and allowlist YAML, manifest.json, report.json,
 * the --truth file) refuse what they used to accept silently or choke on: nesting deeper than
 * --max-depth (refused fast, before parsing), a second YAML document, YAML tags, a manifest
 * whose rows disagree with what it declares, a report.json with a wrong-typed field (it
 * crashed `report render`), non-regular files. Each is exit 2 with a message naming the file
 * and the place, and a failed render leaves no temporary file. */
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "test_cli_util.h"
#include "test_data.h"

#define CORPUS ASSAY_SOURCE_DIR "/tests/fuzz/corpus"

static int run_assay(const char *const *argv) {
    return tu_run_assay("cli_documents", argv);
}

static double now_s(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

/* Runs argv, expects exit 2 with every one of `want` (NULL-terminated) in stderr. */
static void expect_refused(const char *const *argv, const char *const *want) {
    int rc = run_assay(argv);
    char *se = tu_slurp(g_err, NULL);
    if (rc != 2) fail_msg("exit %d, expected 2; stderr: %s", rc, se ? se : "");
    for (size_t i = 0; want[i] != NULL; i++)
        if (se == NULL || strstr(se, want[i]) == NULL)
            fail_msg("stderr lacks '%s': %s", want[i], se ? se : "");
    free(se);
}

static void write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* 100,000 levels of '[' in a policy file: refused by the depth pre-scan in well under a
 * second (it took 25 s before, growing quadratically). The same for report.json. */
static void test_deep_nesting_refused_fast(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "cli_documents_deep.yml");
    enum { LEVELS = 100000 };
    char *text = malloc(2 * LEVELS + 32);
    assert_non_null(text);
    size_t u = (size_t)sprintf(text, "version: 1\nscan: ");
    memset(text + u, '[', LEVELS);
    memset(text + u + LEVELS, ']', LEVELS);
    text[u + 2 * LEVELS] = '\0';
    write_text(path, text);
    const char *show[] = {"assay", "policy", "show", "--policy", path, NULL};
    const char *want[] = {"cli_documents_deep.yml: line 2: nesting deeper than 64 (--max-depth)",
                          NULL};
    double t0 = now_s();
    expect_refused(show, want);
    double dt = now_s() - t0;
    if (dt > 0.5) fail_msg("the deep policy took %.2f s to refuse", dt);

    tu_path(path, sizeof path, "cli_documents_deep.json");
    u = 0;
    memset(text, '[', LEVELS);
    memset(text + LEVELS, ']', LEVELS);
    text[2 * LEVELS] = '\0';
    write_text(path, text);
    char out[1024];
    tu_path(out, sizeof out, "cli_documents_deep_out");
    const char *render[] = {"assay", "report", "render", path, "--out", out, NULL};
    const char *want_json[] = {"cli_documents_deep.json: line 1: nesting deeper than 64", NULL};
    t0 = now_s();
    expect_refused(render, want_json);
    dt = now_s() - t0;
    if (dt > 0.5) fail_msg("the deep report.json took %.2f s to refuse", dt);
    assert_int_equal(tu_count_temp_files(out), 0);
    free(text);
}

/* A second YAML document and tags YAML does not define were ignored; now refused with line and
 * column. A folder or a device as the policy file is refused before any read. */
static void test_policy_second_document_tags_and_non_files(void **state) {
    (void)state;
    const char *second[] = {
        "assay", "policy", "show", "--policy", CORPUS "/policy/bad_second_document.yml", NULL};
    const char *want_second[] = {"bad_second_document.yml:2:1: a second YAML document", NULL};
    expect_refused(second, want_second);
    const char *tag[] = {"assay", "policy", "show", "--policy", CORPUS "/policy/bad_python_tag.yml",
                         NULL};
    const char *want_tag[] = {
        "bad_python_tag.yml:2:7: tag 'tag:yaml.org,2002:python/object:os.system'", NULL};
    expect_refused(tag, want_tag);
    char path[1024];
    tu_path(path, sizeof path, "cli_documents_allow.yml");
    write_text(path, "- !custom {id: r1, reason: ok, owner: me, expires: 2030-01-01}\n");
    const char *allow[] = {"assay", "policy", "show", "--allowlist", path, NULL};
    const char *want_allow[] = {"cli_documents_allow.yml:1:3: tag '!custom'", NULL};
    expect_refused(allow, want_allow);
    const char *dir[] = {"assay", "policy", "show", "--policy", ASSAY_SOURCE_DIR, NULL};
    const char *want_dir[] = {"is a folder; expected the policy file as a regular file", NULL};
    expect_refused(dir, want_dir);
    const char *dev[] = {"assay", "policy", "show", "--policy", "/dev/zero", NULL};
    const char *want_dev[] = {"/dev/zero: is a character device", NULL};
    expect_refused(dev, want_dev);
    /* The valid seeds are still read. */
    const char *ok[] = {"assay", "policy", "show", "--policy", CORPUS "/policy/json_syntax.json",
                        NULL};
    assert_int_equal(run_assay(ok), 0);
}

/* A manifest whose row list disagrees with what it declares was accepted as a baseline. */
static void test_manifest_inconsistent_refused(void **state) {
    (void)state;
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"bad_rows_count.json", "key 'input.rows': declares 17 rows, but 'rows' lists 16"},
        {"bad_row_missing.json", "key 'labels.classes[1].count': declares 9 rows of class 'dog', "
                                 "but 'rows' lists 8"},
        {"bad_class_count.json", "key 'labels.classes[0].count': declares 8 rows of class 'cat', "
                                 "but 'rows' lists 7"},
        {"bad_unknown_label.json", "key 'rows[1]': expected a label listed in labels.classes"},
        {"bad_deep.json", "bad_deep.json: line 1: nesting deeper than 64 (--max-depth)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char bad[1200];
        snprintf(bad, sizeof bad, CORPUS "/manifest/%s", cases[i].file);
        const char *argv[] = {"assay", "diff", CORPUS "/manifest/scan1.json", bad, NULL};
        const char *want[] = {cases[i].file, cases[i].want, NULL};
        expect_refused(argv, want);
    }
    const char *ok[] = {"assay", "diff", CORPUS "/manifest/scan1.json",
                        CORPUS "/manifest/scan2.json", NULL};
    int rc = run_assay(ok);
    if (rc != 0 && rc != 1) fail_msg("diff of two valid manifests: exit %d", rc);
}

/* A report.json whose provision id is a number crashed `report render` (NULL into strcmp)
 * and left temporary files; wrong types anywhere are now refused with the field's JSON
 * pointer, before any file is opened, and the folder is left as it was. */
static void test_render_wrong_types_refused(void **state) {
    (void)state;
    char out[1024], keep[1200];
    tu_path(out, sizeof out, "cli_documents_render");
    tu_remove_dir(out);
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(keep, sizeof keep, "%s/report.html", out);
    write_text(keep, "previous");
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"bad_provision_id_number.json", "/etsi/evidence/label/provisions/0/id: expected a string"},
        {"bad_finding_id_array.json", "/findings/0/id: expected"},
        {"bad_negative_index.json", "/findings/0/index: expected at least 0, got -5"},
        {"bad_schema.json", "not an assay report"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char bad[1200];
        snprintf(bad, sizeof bad, CORPUS "/report_json/%s", cases[i].file);
        const char *argv[] = {"assay", "report", "render", bad, "--out", out, NULL};
        const char *want[] = {cases[i].file, cases[i].want, NULL};
        expect_refused(argv, want);
        assert_int_equal(tu_count_temp_files(out), 0);
        char *kept = tu_slurp(keep, NULL);
        assert_string_equal(kept, "previous");
        free(kept);
    }
    const char *ok[] = {"assay", "report", "render", CORPUS "/report_json/scan_baseline.json",
                        "--out", out,      NULL};
    assert_int_equal(run_assay(ok), 0);
    assert_int_equal(tu_count_temp_files(out), 0);
}

/* A --truth file of one column was read as index, is_poison and attack at once (the CSV reader
 * takes a one-column file whatever its header says); now the missing column is named. */
static void test_truth_one_column_refused(void **state) {
    (void)state;
    char data[1024], truth[1024], out[1024];
    tu_path(data, sizeof data, "cli_documents_truth_data.csv");
    tu_path(truth, sizeof truth, "cli_documents_truth.csv");
    tu_path(out, sizeof out, "cli_documents_truth_out");
    tu_remove_dir(out);
    FILE *fp = fopen(data, "wb");
    assert_non_null(fp);
    fprintf(fp, "f0,f1,label\n");
    for (int i = 0; i < 2; i++) fprintf(fp, "%d.0,%d.5,%d\n", 3 * i, i, i);
    fclose(fp);
    write_text(truth, "index\n0\n1\n");
    const char *argv[] = {"assay", "scan",  data, "--k", "1", "--truth",
                          truth,   "--out", out,  "-q",  NULL};
    const char *want[] = {"cli_documents_truth.csv: no column 'is_poison'", NULL};
    expect_refused(argv, want);
    assert_int_equal(tu_count_temp_files(out), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_nesting_refused_fast),
        cmocka_unit_test(test_policy_second_document_tags_and_non_files),
        cmocka_unit_test(test_manifest_inconsistent_refused),
        cmocka_unit_test(test_render_wrong_types_refused),
        cmocka_unit_test(test_truth_one_column_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

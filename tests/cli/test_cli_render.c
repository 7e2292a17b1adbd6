/* SPDX-License-Identifier: Apache-2.0 */
/* `assay report render`: every format rendered again from a saved report.json is byte-identical
 * to the file the scan wrote (one in-memory result, one document, the same renderers), only the
 * requested formats are written, and a report.json that is missing, not JSON or of another
 * schema is exit 2 with a message naming the file. */
#include <sys/stat.h>
#include <unistd.h>

#include "test_cli_util.h"
#include "test_data.h"

#include "report/render.h"

static int run_assay(const char *const *argv) {
    return tu_run_assay("cli_render", argv);
}

/* A scan of 600 rows with label flips and duplicates, so every format has findings to show. */
static void scan_once(char *out, size_t out_len) {
    char data[1024];
    tu_path(data, sizeof data, "cli_render.h5");
    tu_path(out, out_len, "cli_render_scan");
    tu_remove_dir(out);
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = 600;
    o.d = 16;
    o.classes = 4;
    o.separation = 12.0;
    o.plant.random_flip = 0.03;
    o.plant.duplicates = 0.01;
    tu_write_synth(&o, DATAGEN_FORMAT_H5, data, NULL, NULL);
    const char *argv[] = {"assay", "scan", data, "--out", out, "-q", NULL};
    int rc = run_assay(argv);
    if (rc != 0 && rc != 1) {
        char *se = tu_slurp(g_err, NULL);
        fail_msg("scan exit %d: %s", rc, se ? se : "");
    }
}

/* One format at a time, into the report's own folder (the default): the scan's files are moved
 * aside, each format is rendered again and compared, and the formats not asked for yet stay
 * absent (a flag renders its format only). */
static void test_render_each_format_reproduces_the_scan(void **state) {
    (void)state;
    char out[1024], report[1200], kept[1200], file[1200], flag[64];
    scan_once(out, sizeof out);
    snprintf(report, sizeof report, "%s/report.json", out);
    assert_true(assay__doc_format_count > 0);
    for (size_t f = 0; f < assay__doc_format_count; f++) {
        snprintf(file, sizeof file, "%s/%s", out, assay__doc_formats[f].file);
        snprintf(kept, sizeof kept, "%s/scan-%s", out, assay__doc_formats[f].file);
        if (!tu_exists(file)) fail_msg("the scan did not write %s", file);
        assert_int_equal(rename(file, kept), 0);
    }
    for (size_t f = 0; f < assay__doc_format_count; f++) {
        const assay__doc_format *fmt = &assay__doc_formats[f];
        snprintf(flag, sizeof flag, "--%s", fmt->option);
        const char *argv[] = {"assay", "report", "render", report, flag, NULL};
        int rc = run_assay(argv);
        if (rc != 0) {
            char *se = tu_slurp(g_err, NULL);
            fail_msg("render %s: exit %d: %s", flag, rc, se ? se : "");
        }
        snprintf(file, sizeof file, "%s/%s", out, fmt->file);
        snprintf(kept, sizeof kept, "%s/scan-%s", out, fmt->file);
        tu_assert_same_file(kept, file);
        for (size_t g = f + 1; g < assay__doc_format_count; g++) {
            snprintf(file, sizeof file, "%s/%s", out, assay__doc_formats[g].file);
            if (tu_exists(file)) fail_msg("%s rendered %s too", flag, file);
        }
        char *so = tu_slurp(g_out, NULL);
        assert_string_equal(so, ""); /* nothing on stdout */
        free(so);
    }
    assert_int_equal(tu_count_temp_files(out), 0);
}

/* No format flag: every format, into another folder given with --out. */
static void test_render_all_formats_into_another_folder(void **state) {
    (void)state;
    char out[1024], other[1024], report[1200], a[1200], b[1200];
    scan_once(out, sizeof out);
    tu_path(other, sizeof other, "cli_render_again");
    tu_remove_dir(other);
    snprintf(report, sizeof report, "%s/report.json", out);
    const char *argv[] = {"assay", "report", "render", report, "--out", other, NULL};
    assert_int_equal(run_assay(argv), 0);
    for (size_t f = 0; f < assay__doc_format_count; f++) {
        snprintf(a, sizeof a, "%s/%s", out, assay__doc_formats[f].file);
        snprintf(b, sizeof b, "%s/%s", other, assay__doc_formats[f].file);
        tu_assert_same_file(a, b);
    }
    /* render writes document formats only: not report.json, the CSVs or the manifest */
    static const char *const not_rendered[] = {"report.json", "scores.csv", "flagged.csv",
                                               "manifest.json"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(b, sizeof b, "%s/%s", other, not_rendered[i]);
        assert_false(tu_exists(b));
    }
    assert_int_equal(tu_count_temp_files(other), 0);
    tu_remove_dir(other);
}

/* Exit 2, the file named in the message with `needle`, nothing written. */
static void expect_exit_2(const char *report, const char *needle, const char *out_dir) {
    const char *argv[] = {"assay", "report", "render", report, "--out", out_dir, NULL};
    int rc = run_assay(argv);
    char *se = tu_slurp(g_err, NULL);
    if (rc != 2) fail_msg("%s: expected exit 2, got %d; stderr: %s", report, rc, se ? se : "");
    assert_contains(se, "assay: error:");
    assert_contains(se, report);
    assert_contains(se, needle);
    free(se);
    for (size_t f = 0; f < assay__doc_format_count; f++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", out_dir, assay__doc_formats[f].file);
        assert_false(tu_exists(p));
    }
}

static void test_render_bad_report_is_exit_2_naming_the_file(void **state) {
    (void)state;
    char missing[1024], text[1024], other[1024], nested[1024], out[1024], manifest[1200];
    tu_path(out, sizeof out, "cli_render_bad_out");
    tu_remove_dir(out);
    tu_path(missing, sizeof missing, "cli_render_missing.json");
    unlink(missing);
    expect_exit_2(missing, "cannot open the report", out);

    tu_path(text, sizeof text, "cli_render_not_json.json");
    tu_write_text(text, "{\n  \"schema\": \"assay-report/1\",\n  \"tool\": oops\n}\n");
    expect_exit_2(text, "line 3", out);
    expect_exit_2(text, "not valid JSON", out);

    tu_path(other, sizeof other, "cli_render_other.json");
    tu_write_text(other, "{\n  \"tool\": {},\n  \"schema\": \"assay-manifest/1\"\n}\n");
    expect_exit_2(other, "line 3: not an assay report: \"schema\" is \"assay-manifest/1\"", out);
    expect_exit_2(other, "expected \"schema\": \"assay-report/1\"", out);

    tu_path(nested, sizeof nested, "cli_render_array.json");
    tu_write_text(nested, "[1, 2, 3]\n");
    expect_exit_2(nested, "not a JSON object", out);

    /* a real file of another schema: the scan's own manifest */
    char scan_out[1024];
    scan_once(scan_out, sizeof scan_out);
    snprintf(manifest, sizeof manifest, "%s/manifest.json", scan_out);
    expect_exit_2(manifest, "not an assay report", out);

    /* usage errors */
    const char *no_file[] = {"assay", "report", "render", NULL};
    assert_int_equal(run_assay(no_file), 2);
    const char *bad_flag[] = {"assay", "report", "render", manifest, "--pdf", NULL};
    assert_int_equal(run_assay(bad_flag), 2);
    char *se = tu_slurp(g_err, NULL);
    assert_contains(se, "unknown option '--pdf'");
    free(se);
    const char *bad_sub[] = {"assay", "report", "print", manifest, NULL};
    assert_int_equal(run_assay(bad_sub), 2);
    const char *help[] = {"assay", "report", "render", "--help", NULL};
    assert_int_equal(run_assay(help), 0);
    char *so = tu_slurp(g_out, NULL);
    for (size_t f = 0; f < assay__doc_format_count; f++)
        assert_contains(so, assay__doc_formats[f].option);
    free(so);
    tu_remove_dir(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_each_format_reproduces_the_scan),
        cmocka_unit_test(test_render_all_formats_into_another_folder),
        cmocka_unit_test(test_render_bad_report_is_exit_2_naming_the_file),
    };
    return cmocka_run_group_tests_name("cli_render", tests, NULL, NULL);
}

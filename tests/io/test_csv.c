/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the CSV loader: values, label/id/feature column roles, physical line numbers with
 * quoted newlines and CRLF, separate label files, and the text of every load error. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "io/dataset_internal.h"

/* ---- helpers ---- */

/* Writes `text` to a scratch file called `name` and returns its path (static buffer per slot). */
static const char *fixture(int slot, const char *name, const char *text) {
    static char paths[4][1024];
    tu_path(paths[slot], sizeof paths[slot], "%s", name);
    tu_write_text(paths[slot], text);
    return paths[slot];
}

/* Calls the loader directly (no finishing step), so raw values and csv_line can be checked. */
static assay_dataset *load_raw(assay_ctx *ctx, const char *path, const assay_load_opts *o) {
    assay_dataset *ds = calloc(1, sizeof *ds);
    assert_non_null(ds);
    assay_status s = assay__csv_load(ctx, ds, path, o);
    if (s != ASSAY_OK) fail_msg("assay__csv_load(%s): %s", path, assay_ctx_errmsg(ctx));
    return ds;
}

static assay_dataset *load_public(assay_ctx *ctx, const char *path, const assay_load_opts *o) {
    assay_dataset *ds = NULL;
    assay_status s = assay_dataset_load(ctx, path, o, &ds);
    if (s != ASSAY_OK) fail_msg("assay_dataset_load(%s): %s", path, assay_ctx_errmsg(ctx));
    assert_non_null(ds);
    return ds;
}

/* Loads `text` directly and expects status `want` with every NULL-terminated needle in the
 * message. The dataset is destroyed as assay_dataset_load would on error (leaks show in ASan). */
static void expect_error(assay_ctx *ctx, const char *name, const char *text,
                         const assay_load_opts *o, assay_status want, ...) {
    const char *path = fixture(0, name, text);
    assay_dataset *ds = calloc(1, sizeof *ds);
    assert_non_null(ds);
    assay_status s = assay__csv_load(ctx, ds, path, o);
    assay_dataset_destroy(ds);
    if (s != want)
        fail_msg("%s: expected status %d (%s), got %d (%s): %s", name, (int)want,
                 assay_status_str(want), (int)s, assay_status_str(s), assay_ctx_errmsg(ctx));
    va_list ap;
    va_start(ap, want);
    for (const char *needle = va_arg(ap, const char *); needle != NULL;
         needle = va_arg(ap, const char *))
        assert_contains(assay_ctx_errmsg(ctx), needle);
    va_end(ap);
}

static void assert_row(const assay_dataset *ds, size_t i, const float *want, size_t d) {
    assert_true(i < ds->n);
    const float *row = ds->x + i * ds->ld;
    for (size_t j = 0; j < d; j++)
        if (memcmp(&row[j], &want[j], sizeof(float)) != 0)
            fail_msg("row %zu col %zu: expected %.9g, got %.9g", i, j, (double)want[j],
                     (double)row[j]);
    for (size_t j = d; j < ds->ld; j++)
        if (row[j] != 0.0f) fail_msg("row %zu: padding col %zu is %g, not 0", i, j, (double)row[j]);
}

static void assert_id(const assay_dataset *ds, size_t i, const char *want) {
    char buf[128];
    assert_int_equal(assay_dataset_row_id(ds, i, buf, sizeof buf), ASSAY_OK);
    assert_string_equal(buf, want);
}

/* ---- values and roles ---- */

static void test_csv_basic_values_labels_ids(void **state) {
    assay_ctx *ctx = *state;
    const char *path = fixture(0, "basic.csv",
                               "id,x1,x2,label\n"
                               "10,0.5,-2,cat\n"
                               "11,1e-3,3.25,dog\n"
                               "12,  7 ,0,bird\n"
                               "13,-0.125,1.5,cat\n");
    assay_dataset *ds = load_public(ctx, path, NULL);
    assert_int_equal(assay_dataset_rows(ds), 4);
    assert_int_equal(assay_dataset_dims(ds), 2);
    assert_int_equal(ds->ld, 16);
    const float r0[] = {0.5f, -2.0f}, r1[] = {1e-3f, 3.25f}, r2[] = {7.0f, 0.0f},
                r3[] = {-0.125f, 1.5f};
    assert_row(ds, 0, r0, 2);
    assert_row(ds, 1, r1, 2);
    assert_row(ds, 2, r2, 2);
    assert_row(ds, 3, r3, 2);
    /* string labels map to classes sorted by string */
    assert_int_equal(assay_dataset_classes(ds), 3);
    assert_string_equal(assay_dataset_class_label(ds, 0), "bird");
    assert_string_equal(assay_dataset_class_label(ds, 1), "cat");
    assert_string_equal(assay_dataset_class_label(ds, 2), "dog");
    assert_int_equal(assay_dataset_class_count(ds, 0), 1);
    assert_int_equal(assay_dataset_class_count(ds, 1), 2);
    assert_int_equal(assay_dataset_class_count(ds, 2), 1);
    assert_int_equal(assay_dataset_row_class(ds, 0), 1);
    assert_int_equal(assay_dataset_row_class(ds, 1), 2);
    assert_int_equal(assay_dataset_row_class(ds, 2), 0);
    assert_int_equal(assay_dataset_row_class(ds, 3), 1);
    /* integer ids become INT; the id column is not a feature */
    assert_int_equal(ds->ids.type, ASSAY__COL_INT);
    assert_id(ds, 0, "10");
    assert_id(ds, 3, "13");
    assert_int_equal(ds->labels.type, ASSAY__COL_STR);
    assert_contains(ds->labels.source, "basic.csv (column 'label')");
    assert_contains(ds->ids.source, "basic.csv (column 'id')");
    for (size_t i = 0; i < 4; i++) assert_int_equal(ds->csv_line[i], i + 2);
    assay_dataset_destroy(ds);
}

static void test_csv_integer_labels_become_int(void **state) {
    assay_ctx *ctx = *state;
    const char *path = fixture(0, "intlab.csv", "label,f\n2,0\n10,1\n2,2\n1,3\n-4,4\n");
    assay_dataset *ds = load_public(ctx, path, NULL);
    assert_int_equal(ds->labels.type, ASSAY__COL_INT);
    assert_null(ds->ids.source); /* no "id" column: no ids */
    assert_int_equal(ds->ids.type, ASSAY__COL_NONE);
    assert_int_equal(assay_dataset_dims(ds), 1);
    /* numeric order, not string order ("10" < "2") */
    assert_int_equal(assay_dataset_classes(ds), 4);
    assert_string_equal(assay_dataset_class_label(ds, 0), "-4");
    assert_string_equal(assay_dataset_class_label(ds, 1), "1");
    assert_string_equal(assay_dataset_class_label(ds, 2), "2");
    assert_string_equal(assay_dataset_class_label(ds, 3), "10");
    assert_int_equal(assay_dataset_class_count(ds, 2), 2);
    assert_int_equal(assay_dataset_row_class(ds, 1), 3);
    assay_dataset_destroy(ds);
}

/* Records with quoted commas, doubled quotes and newlines inside ids and labels, a blank line,
 * and no newline at the end; the same content with CRLF and with LF line endings. */
static void test_csv_line_numbers_quoted_multiline(void **state) {
    assay_ctx *ctx = *state;
    const char *lines[] = {
        "id,x,y,label",                       /* 1 */
        "a,1,2,plain",                        /* 2: row 0 */
        "b,3,4,\"two",                        /* 3: row 1 */
        "lines\"",                            /* 4 */
        "",                                   /* 5: blank, skipped */
        "\"c,d\",5,6,\"say \"\"hi\"\", ok\"", /* 6: row 2 */
        "\"e",                                /* 7: row 3 */
        "",                                   /* 8: inside the quoted id */
        "f\",7,8,\"x",                        /* 9 */
        "y\"",                                /* 10 */
        "g,9,10,last",                        /* 11: row 4, no final newline */
    };
    const size_t nl = sizeof lines / sizeof lines[0];
    for (int crlf = 0; crlf < 2; crlf++) {
        const char *eol = crlf ? "\r\n" : "\n";
        char text[1024] = "";
        for (size_t i = 0; i < nl; i++) {
            strcat(text, lines[i]);
            if (i + 1 < nl) strcat(text, eol);
        }
        const char *path = fixture(0, crlf ? "multi_crlf.csv" : "multi_lf.csv", text);
        assay_dataset *ds = load_raw(ctx, path, NULL);
        assert_int_equal(ds->n, 5);
        assert_int_equal(ds->d, 2);
        const uint64_t want_line[] = {2, 3, 6, 7, 11};
        for (size_t i = 0; i < 5; i++)
            if (ds->csv_line[i] != want_line[i])
                fail_msg("%s row %zu: line %llu, expected %llu", eol[0] == '\r' ? "CRLF" : "LF", i,
                         (unsigned long long)ds->csv_line[i], (unsigned long long)want_line[i]);
        const float r4[] = {9.0f, 10.0f};
        assert_row(ds, 4, r4, 2);
        assert_int_equal(ds->labels.type, ASSAY__COL_STR);
        assert_string_equal(ds->labels.s[0], "plain");
        assert_string_equal(ds->labels.s[1], crlf ? "two\r\nlines" : "two\nlines");
        assert_string_equal(ds->labels.s[2], "say \"hi\", ok");
        assert_string_equal(ds->labels.s[4], "last");
        assert_int_equal(ds->ids.type, ASSAY__COL_STR);
        assert_string_equal(ds->ids.s[2], "c,d");
        assert_string_equal(ds->ids.s[3], crlf ? "e\r\n\r\nf" : "e\n\nf");
        assay_dataset_destroy(ds);
    }
}

static void test_csv_bom_is_stripped(void **state) {
    assay_ctx *ctx = *state;
    const char *path = fixture(0, "bom.csv", "\xEF\xBB\xBFlabel,x\r\n1,2.5\r\n0,-1\r\n");
    assay_dataset *ds = load_public(ctx, path, NULL);
    assert_int_equal(assay_dataset_dims(ds), 1); /* "label" was found despite the BOM */
    const float r0[] = {2.5f};
    assert_row(ds, 0, r0, 1);
    assert_int_equal(ds->csv_line[1], 3);
    assay_dataset_destroy(ds);
}

static void test_csv_feature_columns_select_and_order(void **state) {
    assay_ctx *ctx = *state;
    /* column b is not numeric: an unselected column is never parsed */
    const char *path =
        fixture(0, "sel.csv", "a,b,c,label,id\n1,zzz,3,p,u\n4,yyy,6,q,v\n7,xxx,9,p,w\n");
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.feature_columns = " c ,a";
    assay_dataset *ds = load_public(ctx, path, &o);
    assert_int_equal(assay_dataset_dims(ds), 2);
    const float r0[] = {3.0f, 1.0f}, r2[] = {9.0f, 7.0f};
    assert_row(ds, 0, r0, 2);
    assert_row(ds, 2, r2, 2);
    assert_id(ds, 1, "v");
    assay_dataset_destroy(ds);
}

/* Only the chosen label/id columns leave the features: a column that happens to be called
 * "label" is an ordinary feature once another column is the label. */
static void test_csv_custom_label_and_id_columns(void **state) {
    assay_ctx *ctx = *state;
    const char *path = fixture(0, "custom.csv",
                               "key,f1,target,f2,label\n"
                               "k1,1,dog,2,3\n"
                               "k2,4,cat,5,6\n");
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.label_column = "target";
    o.id_column = "key";
    assay_dataset *ds = load_public(ctx, path, &o);
    assert_int_equal(assay_dataset_dims(ds), 3);
    const float r1[] = {4.0f, 5.0f, 6.0f};
    assert_row(ds, 1, r1, 3);
    assert_string_equal(assay_dataset_class_label(ds, 0), "cat");
    assert_int_equal(assay_dataset_row_class(ds, 0), 1);
    assert_id(ds, 0, "k1");
    assert_contains(ds->labels.source, "(column 'target')");
    assay_dataset_destroy(ds);
}

/* --labels-file: the table needs no label column; an id file by column name. */
static void test_csv_labels_file_without_label_column(void **state) {
    assay_ctx *ctx = *state;
    const char *table = fixture(0, "nolab.csv", "x1,x2\n1,2\n3,4\n5,6\n");
    const char *labels = fixture(1, "nolab_labels.csv", "y\n7\n8\n7\n");
    const char *ids = fixture(2, "nolab_ids.csv", "name,id\r\nq,\"id,1\"\r\nr,id2\r\ns,id3\r\n");
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.labels_file = labels;
    o.ids_file = ids;
    assay_dataset *ds = load_public(ctx, table, &o);
    assert_int_equal(assay_dataset_rows(ds), 3);
    assert_int_equal(assay_dataset_dims(ds), 2);
    const float r2[] = {5.0f, 6.0f};
    assert_row(ds, 2, r2, 2);
    assert_int_equal(ds->labels.type, ASSAY__COL_INT);
    assert_int_equal(assay_dataset_classes(ds), 2);
    assert_string_equal(assay_dataset_class_label(ds, 1), "8");
    assert_int_equal(assay_dataset_class_count(ds, 0), 2);
    assert_id(ds, 0, "id,1");
    assert_id(ds, 2, "id3");
    assay_dataset_destroy(ds);
}

/* With a labels file, a label column in the table is dropped, not used as a feature. */
static void test_csv_labels_file_overrides_table_label(void **state) {
    assay_ctx *ctx = *state;
    const char *table = fixture(0, "over.csv", "x,label\n1,cat\n2,dog\n");
    const char *labels = fixture(1, "over_labels.csv", "label,other\n0,a\n1,b\n");
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.labels_file = labels;
    assay_dataset *ds = load_public(ctx, table, &o);
    assert_int_equal(assay_dataset_dims(ds), 1);
    assert_int_equal(ds->labels.type, ASSAY__COL_INT);
    assert_string_equal(assay_dataset_class_label(ds, 1), "1");
    assert_contains(ds->labels.source, "over_labels.csv (column 'label')");
    assay_dataset_destroy(ds);
}

static void test_csv_nonfinite_cells_accepted(void **state) {
    assay_ctx *ctx = *state;
    const char *path =
        fixture(0, "nonfinite.csv", "x,y,label\nnan,1,a\ninf,-inf,b\n1,2,a\n\" -INF \",NaN,b\n");
    assay_dataset *ds = load_raw(ctx, path, NULL);
    assert_int_equal(ds->n, 4);
    assert_true(isnan(ds->x[0]));
    assert_true(isinf(ds->x[ds->ld]) && ds->x[ds->ld] > 0);
    assert_true(isinf(ds->x[ds->ld + 1]) && ds->x[ds->ld + 1] < 0);
    assert_true(isinf(ds->x[3 * ds->ld]) && ds->x[3 * ds->ld] < 0);
    assert_true(isnan(ds->x[3 * ds->ld + 1]));
    assay_dataset_destroy(ds);
    /* and the public load keeps those rows (they become integrity findings) */
    ds = load_public(ctx, path, NULL);
    assert_int_equal(assay_dataset_rows(ds), 4);
    assay_dataset_destroy(ds);
}

/* More than one fread block (1 MiB), rows with multi-line labels scattered through it; every
 * value printed with %.9g must come back bit for bit. */
static void test_csv_large_file_exact_values(void **state) {
    assay_ctx *ctx = *state;
    const size_t n = 4000, d = 37;
    char path[1024];
    tu_path(path, sizeof path, "large.csv");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("id", fp);
    for (size_t j = 0; j < d; j++) fprintf(fp, ",f%zu", j);
    fputs(",label\n", fp);
    float *want = malloc(n * d * sizeof *want);
    uint64_t *want_line = malloc(n * sizeof *want_line);
    assert_non_null(want);
    assert_non_null(want_line);
    uint64_t seed = 42, line = 2;
    for (size_t i = 0; i < n; i++) {
        want_line[i] = line;
        fprintf(fp, "r%zu", i);
        for (size_t j = 0; j < d; j++) {
            float v = (float)(tu_normal(&seed) * pow(10.0, (double)(tu_next(&seed) % 9) - 4.0));
            want[i * d + j] = v;
            fprintf(fp, ",%.9g", (double)v);
        }
        if (i % 500 == 7) {
            fprintf(fp, ",\"multi\nline\"\n");
            line += 2;
        } else {
            fprintf(fp, ",c%zu\n", i % 3);
            line += 1;
        }
    }
    assert_int_equal(fclose(fp), 0);
    assay_dataset *ds = load_raw(ctx, path, NULL);
    assert_int_equal(ds->n, n);
    assert_int_equal(ds->d, d);
    assert_int_equal(ds->ld, 48);
    for (size_t i = 0; i < n; i++) {
        assert_row(ds, i, want + i * d, d);
        assert_int_equal(ds->csv_line[i], want_line[i]);
    }
    assert_string_equal(ds->labels.s[7], "multi\nline");
    assert_string_equal(ds->ids.s[n - 1], "r3999");
    assay_dataset_destroy(ds);
    free(want);
    free(want_line);
}

/* Every accepted spelling of a number must give exactly strtof's float (the loader has a fast
 * path for short decimals): integers around 2^24, 1-12 significant digits, exponents, signs,
 * leading/trailing zeros, and the forms only strtof handles. */
static void test_csv_numbers_match_strtof(void **state) {
    assay_ctx *ctx = *state;
    static const char *fixed[] = {
        "0",
        "-0",
        "+0.0",
        ".5",
        "5.",
        "000123.4500",
        "1e10",
        "1e-10",
        "1E+3",
        "16777216",
        "16777217",
        "16777218",
        "33554431",
        "0.1",
        "0.3",
        "-7.038531e-26",
        "3.4028235e38",
        "1e39",
        "1e-50",
        "1.17549435e-38",
        "0x1p-3",
        "infinity",
        "-Infinity",
        "0.50000000000000000000",
        "123456789012345678901234567890",
        "9.999999e9",
        "4.2949673e9",
        "2.5e-10",
        "1234567e-13",
    };
    const size_t n_fixed = sizeof fixed / sizeof fixed[0], n = 20000;
    char path[1024];
    tu_path(path, sizeof path, "numbers.csv");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("x,label\n", fp);
    char(*text)[64] = calloc(n, sizeof *text);
    assert_non_null(text);
    uint64_t seed = 7;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = tu_next(&seed);
        if (i < n_fixed) {
            snprintf(text[i], sizeof text[i], "%s", fixed[i]);
        } else if (k % 4 == 0) { /* integers on both sides of 2^24 */
            snprintf(text[i], sizeof text[i], "%s%llu", (k >> 8) & 1 ? "-" : "",
                     (unsigned long long)((k >> 16) % 40000000u));
        } else if (k % 4 == 1) { /* a float printed with 1..9 significant digits */
            float v = (float)(tu_normal(&seed) * pow(10.0, (double)((k >> 8) % 25) - 12.0));
            snprintf(text[i], sizeof text[i], "%.*g", (int)((k >> 40) % 9) + 1, (double)v);
        } else if (k % 4 == 2) { /* plain decimals with up to 12 digits and trailing zeros */
            unsigned long long m = (k >> 12) % 1000000000000ull;
            int frac = (int)((k >> 4) % 13);
            char digits[32];
            snprintf(digits, sizeof digits, "%013llu", m);
            snprintf(text[i], sizeof text[i], "%.*s.%s%s", 13 - frac, digits, digits + 13 - frac,
                     (k >> 60) & 1 ? "000" : "");
        } else { /* mantissa and exponent */
            snprintf(text[i], sizeof text[i], "%llue%d",
                     (unsigned long long)((k >> 20) % 100000000u), (int)((k >> 8) % 31) - 15);
        }
        fprintf(fp, "%s,a\n", text[i]);
    }
    assert_int_equal(fclose(fp), 0);
    assay_dataset *ds = load_raw(ctx, path, NULL);
    assert_int_equal(ds->n, n);
    for (size_t i = 0; i < n; i++) {
        float want = strtof(text[i], NULL), got = ds->x[i * ds->ld];
        if (memcmp(&want, &got, sizeof want) != 0)
            fail_msg("'%s': strtof gives %.9g, the loader %.9g", text[i], (double)want,
                     (double)got);
    }
    assay_dataset_destroy(ds);
    free(text);
}

/* ---- errors ---- */

static void test_csv_error_bad_number_names_line_and_column(void **state) {
    assay_ctx *ctx = *state;
    /* the bad record starts on line 4 because row 0 spans lines 2-3 */
    expect_error(ctx, "badnum.csv", "x1,x2,x3,label\n1,2,3,\"a\nb\"\n4,5,abc,c\n", NULL,
                 ASSAY_E_FORMAT,
                 "badnum.csv:4: column 'x3' (field 3): expected a number, got 'abc'", NULL);
    /* a number followed by text is not a number */
    expect_error(ctx, "badnum2.csv", "x1,label\r\n1.5,a\r\n2.5kg,b\r\n", NULL, ASSAY_E_FORMAT,
                 "badnum2.csv:3: column 'x1' (field 1): expected a number, got '2.5kg'", NULL);
}

/* An empty feature cell is how pandas writes NaN: a missing value, so the row is left out of
 * the graph as an integrity finding (like the text "nan"), not a load error. */
static void test_csv_empty_cell_is_missing(void **state) {
    assay_ctx *ctx = *state;
    const char *path =
        fixture(0, "emptycell.csv", "x1,x2,label\n1,2,a\n3,,b\n\"  \",4,a\n5,6,b\n7,8,a\n");
    assay_dataset *ds = load_raw(ctx, path, NULL);
    assert_int_equal(ds->n, 5);
    assert_true(isnan(ds->x[1 * ds->ld + 1]));
    assert_true(isnan(ds->x[2 * ds->ld + 0])); /* only spaces, quoted: empty too */
    assert_true(ds->x[1 * ds->ld + 0] == 3.0f);
    assay_dataset_destroy(ds);
    ds = load_public(ctx, path, NULL);
    assert_true(ds->row_flags[1] & ASSAY__ROW_NONFINITE);
    assert_true(ds->row_flags[2] & ASSAY__ROW_NONFINITE);
    assert_false(ds->row_flags[0] & ASSAY__ROW_NONFINITE);
    assay_dataset_destroy(ds);
    /* text is still not a number */
    expect_error(ctx, "emptycell2.csv", "x1,x2,label\n1,2,a\n3,-,b\n", NULL, ASSAY_E_FORMAT,
                 "emptycell2.csv:3: column 'x2' (field 2): expected a number, got '-'", NULL);
}

static void test_csv_error_bad_text_is_truncated(void **state) {
    assay_ctx *ctx = *state;
    char text[512];
    char junk[201];
    memset(junk, 'z', 200);
    junk[200] = '\0';
    snprintf(text, sizeof text, "label,x\n1,\"%s\nmore\"\n", junk);
    expect_error(ctx, "longbad.csv", text, NULL, ASSAY_E_FORMAT, "longbad.csv:2: column 'x'",
                 "got 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz...'", NULL);
    /* a bad multi-line cell is shown on one line */
    expect_error(ctx, "nlbad.csv", "label,x\n1,\"1\n2\"\n", NULL, ASSAY_E_FORMAT,
                 "nlbad.csv:2: column 'x' (field 2): expected a number, got '1\\n2'", NULL);
}

static void test_csv_error_ragged_rows(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "short.csv", "x1,x2,x3,label\n1,2,3,a\n4,5,6,b\n7,8,c\n", NULL,
                 ASSAY_E_FORMAT, "short.csv:4: expected 4 fields as in the header, got 3", NULL);
    expect_error(ctx, "long.csv", "x1,label\n1,a\n\"2\n\",b,extra\n", NULL, ASSAY_E_FORMAT,
                 "long.csv:3: expected 2 fields as in the header, got 3", NULL);
    /* the last record, without a final newline, is checked too */
    expect_error(ctx, "shortlast.csv", "x1,x2,label\n1,2,a\n3,4", NULL, ASSAY_E_FORMAT,
                 "shortlast.csv:3: expected 3 fields as in the header, got 2", NULL);
}

/* A missing field shifts the label into a feature column: the field count is the real fault. */
static void test_csv_error_ragged_reported_before_bad_cell(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "shift.csv", "x1,x2,label\n1,2,a\n3,b\n", NULL, ASSAY_E_FORMAT,
                 "shift.csv:3: expected 3 fields as in the header, got 2", NULL);
    assert_null(strstr(assay_ctx_errmsg(ctx), "expected a number"));
}

/* A mistyped column name gets the nearest header name; a far one only the list. */
static void test_csv_error_missing_column_suggests(void **state) {
    assay_ctx *ctx = *state;
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.label_column = "lable";
    expect_error(ctx, "typo_label.csv", "x,label,row_id\n1,a,r1\n", &o, ASSAY_E_NOTFOUND,
                 "typo_label.csv: no column 'lable' in the header (columns: x, label, row_id); "
                 "did you mean 'label'?",
                 NULL);
    o.label_column = NULL;
    o.id_column = "rowid";
    expect_error(ctx, "typo_id.csv", "x,label,row_id\n1,a,r1\n", &o, ASSAY_E_NOTFOUND,
                 "no id column 'rowid' in the header (columns: x, label, row_id); did you mean "
                 "'row_id'?",
                 NULL);
    o.id_column = NULL;
    o.feature_columns = "alpha,bta";
    expect_error(ctx, "typo_feat.csv", "alpha,beta,label\n1,2,a\n", &o, ASSAY_E_NOTFOUND,
                 "no feature column 'bta' in the header (columns: alpha, beta, label); did you "
                 "mean 'beta'?",
                 NULL);
    /* a name past the ten listed is still suggested */
    char text[4096] = "";
    for (int j = 0; j < 25; j++) {
        char name[24];
        snprintf(name, sizeof name, "%sfeature_%02d", j ? "," : "", j);
        strcat(text, name);
    }
    strcat(text, ",label\n");
    for (int j = 0; j < 25; j++) strcat(text, "0,");
    strcat(text, "a\n");
    o.feature_columns = "feature_00,featrue_24";
    expect_error(ctx, "typo_wide.csv", text, &o, ASSAY_E_NOTFOUND, "did you mean 'feature_24'?",
                 NULL);
    o.feature_columns = "something_else";
    expect_error(ctx, "typo_far.csv", "alpha,beta,label\n1,2,a\n", &o, ASSAY_E_NOTFOUND,
                 "no feature column 'something_else' in the header (columns: alpha, beta, label)",
                 NULL);
    assert_null(strstr(assay_ctx_errmsg(ctx), "did you mean"));
    /* a labels file's column */
    assay__column col;
    memset(&col, 0, sizeof col);
    const char *path = fixture(1, "typo_labels_col.csv", "row,target\n1,a\n");
    assert_int_equal(assay__csv_load_column(ctx, path, "traget", 1, &col), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "did you mean 'target'?");
    assay__column_free(&col);
}

static void test_csv_error_missing_label_lists_columns(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "nolabel.csv", "a,b,c\n1,2,3\n", NULL, ASSAY_E_NOTFOUND,
                 "nolabel.csv: no column 'label' in the header (columns: a, b, c)", NULL);
    /* a wide header is cut after ten names */
    char text[4096] = "";
    for (int j = 0; j < 25; j++) {
        char name[16];
        snprintf(name, sizeof name, "%sc%d", j ? "," : "", j);
        strcat(text, name);
    }
    strcat(text, "\n");
    for (int j = 0; j < 25; j++) strcat(text, j ? ",0" : "0");
    strcat(text, "\n");
    expect_error(ctx, "wide.csv", text, NULL, ASSAY_E_NOTFOUND,
                 "(columns: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ... 25 in all)", NULL);
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.label_column = "target";
    expect_error(ctx, "notarget.csv", "a,label\n1,2\n", &o, ASSAY_E_NOTFOUND,
                 "no column 'target' in the header (columns: a, label)", NULL);
}

static void test_csv_error_missing_id_and_feature_columns(void **state) {
    assay_ctx *ctx = *state;
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.id_column = "uid";
    expect_error(ctx, "noid.csv", "x,label\n1,a\n", &o, ASSAY_E_NOTFOUND,
                 "noid.csv: no id column 'uid' in the header (columns: x, label)", NULL);
    assay_load_opts f = ASSAY_LOAD_OPTS_INIT;
    f.feature_columns = "x,zz";
    expect_error(ctx, "nofeat.csv", "x,y,label\n1,2,a\n", &f, ASSAY_E_NOTFOUND,
                 "nofeat.csv: no feature column 'zz' in the header (columns: x, y, label)", NULL);
}

static void test_csv_error_feature_columns_misuse(void **state) {
    assay_ctx *ctx = *state;
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.feature_columns = "x,label";
    expect_error(ctx, "featlabel.csv", "x,label\n1,2\n", &o, ASSAY_E_INVAL,
                 "column 'label' is the label column", NULL);
    o.feature_columns = "x, x";
    expect_error(ctx, "feattwice.csv", "x,label\n1,2\n", &o, ASSAY_E_INVAL, "'x' is listed twice",
                 NULL);
    o.feature_columns = "x,,y";
    expect_error(ctx, "featempty.csv", "x,y,label\n1,2,3\n", &o, ASSAY_E_INVAL, "empty name", NULL);
}

static void test_csv_error_bad_header_names(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "dup.csv", "a,b,a,label\n1,2,3,x\n", NULL, ASSAY_E_FORMAT,
                 "dup.csv:1: duplicate column name 'a' in the header (fields 1 and 3)", NULL);
    expect_error(ctx, "emptyname.csv", ",a,label\n0,1,x\n", NULL, ASSAY_E_FORMAT,
                 "emptyname.csv:1: column 1 of the header has an empty name", "index=False", NULL);
    expect_error(ctx, "emptyname2.csv", "a,\"\",label\n0,1,x\n", NULL, ASSAY_E_FORMAT,
                 "emptyname2.csv:1: column 2 of the header has an empty name", NULL);
}

static void test_csv_error_no_data_rows(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "headeronly.csv", "x,label\n", NULL, ASSAY_E_FORMAT,
                 "headeronly.csv: the header (line 1) is not followed by any data rows", NULL);
    expect_error(ctx, "headeronly2.csv", "\r\nx,label\r\n\r\n\r\n", NULL, ASSAY_E_FORMAT,
                 "headeronly2.csv: the header (line 2) is not followed by any data rows", NULL);
    expect_error(ctx, "empty.csv", "", NULL, ASSAY_E_FORMAT,
                 "empty.csv: the file is empty, expected a header row", NULL);
    expect_error(ctx, "bomonly.csv", "\xEF\xBB\xBF\n", NULL, ASSAY_E_FORMAT, "is empty", NULL);
    /* through the public API too */
    const char *path = fixture(0, "headeronly3.csv", "x,label\n");
    assay_dataset *ds = (assay_dataset *)1;
    assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_E_FORMAT);
    assert_null(ds);
    assert_contains(assay_ctx_errmsg(ctx), "headeronly3.csv");
}

static void test_csv_error_no_feature_columns(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "onlylabel.csv", "id,label\n1,a\n", NULL, ASSAY_E_FORMAT,
                 "onlylabel.csv: no feature columns", "(columns: id, label)", NULL);
}

static void test_csv_error_empty_label(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "emptylabel.csv", "x,label\n1,a\n2,\n", NULL, ASSAY_E_FORMAT,
                 "emptylabel.csv:3: column 'label' (field 2): empty label", NULL);
    expect_error(ctx, "emptylabel2.csv", "x,label,id\n1,a,r1\n2,\"\",r2\n", NULL, ASSAY_E_FORMAT,
                 "emptylabel2.csv:3: column 'label' (field 2): empty label", NULL);
    /* an empty id would leave a row that no baseline can match */
    expect_error(ctx, "emptyid.csv", "x,label,id\n1,a,r1\n2,b,\n", NULL, ASSAY_E_FORMAT,
                 "emptyid.csv:3: column 'id' (field 3): empty id; expected an id in every row",
                 NULL);
    /* a separate labels file */
    assay__column col;
    memset(&col, 0, sizeof col);
    const char *path = fixture(1, "emptylabels_col.csv", "label\na\n\"\"\nb\n");
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 1, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx),
                    "emptylabels_col.csv:3: column 'label' (field 1): empty");
    assay__column_free(&col);
}

static void test_csv_error_missing_file(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    tu_path(path, sizeof path, "does_not_exist.csv");
    assay_dataset *ds = calloc(1, sizeof *ds);
    assert_non_null(ds);
    assert_int_equal(assay__csv_load(ctx, ds, path, NULL), ASSAY_E_NOTFOUND);
    assay_dataset_destroy(ds);
    assert_contains(assay_ctx_errmsg(ctx), "does_not_exist.csv: cannot open: No such file");
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 1, &col), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "does_not_exist.csv");
    assert_int_equal(col.type, ASSAY__COL_NONE);
}

static void test_csv_error_unterminated_quote(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "unterminated.csv", "x,label\n1,a\n2,\"open\n3,b\n4,c\n", NULL,
                 ASSAY_E_FORMAT, "unterminated.csv:3: a quoted field", "never closed", NULL);
}

static void test_csv_error_stray_quote(void **state) {
    assay_ctx *ctx = *state;
    expect_error(ctx, "stray.csv", "x,label\n1,a\n2,ab\"c\n", NULL, ASSAY_E_FORMAT,
                 "stray.csv:3:5: malformed CSV", "libcsv:", NULL);
    /* text after a closing quote, in a record that started on an earlier line */
    expect_error(ctx, "stray2.csv", "x,label\n1,\"a\nb\"c\n", NULL, ASSAY_E_FORMAT,
                 "stray2.csv:3:3: malformed CSV (record starting on line 2)", NULL);
}

static void test_csv_error_utf16(void **state) {
    assay_ctx *ctx = *state;
    const char *path = fixture(0, "utf16.csv", "");
    tu_write_file(path, "\xFF\xFEx\0,\0l\0\n\0", 10);
    assay_dataset *ds = calloc(1, sizeof *ds);
    assert_non_null(ds);
    assert_int_equal(assay__csv_load(ctx, ds, path, NULL), ASSAY_E_FORMAT);
    assay_dataset_destroy(ds);
    assert_contains(assay_ctx_errmsg(ctx), "utf16.csv: the file is UTF-16 encoded");
}

/* ---- one column of a labels/ids file ---- */

static void test_csv_load_column_single_column_any_header(void **state) {
    assay_ctx *ctx = *state;
    const char *path = fixture(0, "col1.csv", "\xEF\xBB\xBFtarget\r\n3\r\n-1\r\n\r\n 12 \r\n");
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 1, &col), ASSAY_OK);
    assert_int_equal(col.type, ASSAY__COL_INT);
    assert_int_equal(col.n, 3);
    assert_int_equal(col.i[0], 3);
    assert_int_equal(col.i[1], -1);
    assert_int_equal(col.i[2], 12);
    assert_contains(col.source, "col1.csv (column 'target')");
    assay__column_free(&col);
    /* the same file kept as strings */
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 0, &col), ASSAY_OK);
    assert_int_equal(col.type, ASSAY__COL_STR);
    assert_string_equal(col.s[1], "-1");
    assay__column_free(&col);
}

static void test_csv_load_column_named(void **state) {
    assay_ctx *ctx = *state;
    const char *path = fixture(0, "colN.csv",
                               "id,label,score\n"
                               "1,cat,0.5\n"
                               "2,\"big\n\"\"dog\"\"\",0.7\n"
                               "3,cat,0.1\n");
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 1, &col), ASSAY_OK);
    assert_int_equal(col.type, ASSAY__COL_STR);
    assert_int_equal(col.n, 3);
    assert_string_equal(col.s[0], "cat");
    assert_string_equal(col.s[1], "big\n\"dog\"");
    assert_contains(col.source, "colN.csv (column 'label')");
    assay__column_free(&col);
    assert_int_equal(assay__csv_load_column(ctx, path, "id", 1, &col), ASSAY_OK);
    assert_int_equal(col.type, ASSAY__COL_INT);
    assert_int_equal(col.i[2], 3);
    assay__column_free(&col);
}

static void test_csv_load_column_errors(void **state) {
    assay_ctx *ctx = *state;
    assay__column col;
    memset(&col, 0, sizeof col);
    const char *path = fixture(0, "colmiss.csv", "a,b\n1,2\n");
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 1, &col), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx),
                    "colmiss.csv: no column 'label' in the header (columns: a, b)");
    assert_int_equal(col.type, ASSAY__COL_NONE);
    path = fixture(0, "colrag.csv", "id,label\n1,a\n\"2\n\"\n3,c\n");
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 1, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx),
                    "colrag.csv:3: expected 2 fields as in the header, got 1");
    assert_null(col.s);
    path = fixture(0, "colempty.csv", "label\n");
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 1, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "colempty.csv: the header (line 1) is not followed");
    path = fixture(0, "colblank.csv", "id,label\n1,a\n2,\n");
    assert_int_equal(assay__csv_load_column(ctx, path, "label", 1, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "colblank.csv:3: column 'label' (field 2)");
}

/* Labels file with fewer rows than the table: caught by the finishing step, naming both. */
static void test_csv_labels_file_length_mismatch(void **state) {
    assay_ctx *ctx = *state;
    const char *table = fixture(0, "mis.csv", "x\n1\n2\n3\n");
    const char *labels = fixture(1, "mis_labels.csv", "label\n0\n1\n");
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.labels_file = labels;
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_load(ctx, table, &o, &ds), ASSAY_E_SHAPE);
    assert_null(ds);
    assert_contains(assay_ctx_errmsg(ctx), "mis_labels.csv (column 'label')");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_basic_values_labels_ids),
        cmocka_unit_test(test_csv_integer_labels_become_int),
        cmocka_unit_test(test_csv_line_numbers_quoted_multiline),
        cmocka_unit_test(test_csv_bom_is_stripped),
        cmocka_unit_test(test_csv_feature_columns_select_and_order),
        cmocka_unit_test(test_csv_custom_label_and_id_columns),
        cmocka_unit_test(test_csv_labels_file_without_label_column),
        cmocka_unit_test(test_csv_labels_file_overrides_table_label),
        cmocka_unit_test(test_csv_nonfinite_cells_accepted),
        cmocka_unit_test(test_csv_large_file_exact_values),
        cmocka_unit_test(test_csv_numbers_match_strtof),
        cmocka_unit_test(test_csv_error_bad_number_names_line_and_column),
        cmocka_unit_test(test_csv_empty_cell_is_missing),
        cmocka_unit_test(test_csv_error_missing_column_suggests),
        cmocka_unit_test(test_csv_error_bad_text_is_truncated),
        cmocka_unit_test(test_csv_error_ragged_rows),
        cmocka_unit_test(test_csv_error_ragged_reported_before_bad_cell),
        cmocka_unit_test(test_csv_error_missing_label_lists_columns),
        cmocka_unit_test(test_csv_error_missing_id_and_feature_columns),
        cmocka_unit_test(test_csv_error_feature_columns_misuse),
        cmocka_unit_test(test_csv_error_bad_header_names),
        cmocka_unit_test(test_csv_error_no_data_rows),
        cmocka_unit_test(test_csv_error_no_feature_columns),
        cmocka_unit_test(test_csv_error_empty_label),
        cmocka_unit_test(test_csv_error_missing_file),
        cmocka_unit_test(test_csv_error_unterminated_quote),
        cmocka_unit_test(test_csv_error_stray_quote),
        cmocka_unit_test(test_csv_error_utf16),
        cmocka_unit_test(test_csv_load_column_single_column_any_header),
        cmocka_unit_test(test_csv_load_column_named),
        cmocka_unit_test(test_csv_load_column_errors),
        cmocka_unit_test(test_csv_labels_file_length_mismatch),
    };
    return cmocka_run_group_tests_name("csv", tests, tu_setup_ctx, tu_teardown_ctx);
}

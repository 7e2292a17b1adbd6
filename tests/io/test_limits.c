/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the input bounds (docs/limits.md) in the data parsers: for every limit, one byte or
 * row over gives ASSAY_E_LIMIT with a message naming the file, the place and the flag, and
 * exactly at the limit loads; special files (FIFO, device, directory) are refused at once;
 * standard input is read as '-' for a CSV dataset only; a NUL byte in a CSV field and a control
 * byte in a .npy header string are errors; a tiny file declaring a huge array is refused within
 * 1 s and 100 MB. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "test_util.h"

#include "io/dataset_internal.h"
#include "io/id_list.h"

/* ---- helpers ---- */

static assay_ctx *make_ctx(void) {
    assay_ctx *ctx = NULL;
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = 1;
    assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_OK);
    return ctx;
}

typedef enum { L_FILE, L_ROWS, L_DIMS, L_FIELD, L_LINE, L_LABEL } which_limit;

/* Sets one limit, the others at their defaults. */
static void limit(assay_ctx *ctx, which_limit w, uint64_t v) {
    assay_limits l;
    assay_limits_default(&l);
    switch (w) {
    case L_FILE:
        l.max_file_bytes = v;
        break;
    case L_ROWS:
        l.max_rows = v;
        break;
    case L_DIMS:
        l.max_dims = v;
        break;
    case L_FIELD:
        l.max_field_bytes = v;
        break;
    case L_LINE:
        l.max_line_bytes = v;
        break;
    case L_LABEL:
        l.max_label_bytes = v;
        break;
    }
    assert_int_equal(assay_ctx_set_limits(ctx, &l), ASSAY_OK);
}

/* Loads CSV text as a table from a buffer; returns the status, the message checked for every
 * NULL-terminated needle. */
static assay_status csv_table(assay_ctx *ctx, const char *text, size_t len, ...) {
    assay_dataset *ds = calloc(1, sizeof *ds);
    assert_non_null(ds);
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    assay_status s = assay__csv_load_buf(ctx, ds, "t.csv", text, len, &o);
    assay_dataset_destroy(ds);
    va_list ap;
    va_start(ap, len);
    for (const char *needle = va_arg(ap, const char *); needle != NULL;
         needle = va_arg(ap, const char *)) {
        if (s == ASSAY_OK) fail_msg("loaded, expected an error with \"%s\"", needle);
        assert_contains(assay_ctx_errmsg(ctx), needle);
    }
    va_end(ap);
    return s;
}

static assay_status csv_text(assay_ctx *ctx, const char *text) {
    return csv_table(ctx, text, strlen(text), NULL);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long max_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A .npy file (v1) with the dict dict[0..dl) and `data_len` bytes of zeros after it. */
static size_t npy_buf(unsigned char *buf, size_t cap, const char *dict, size_t dl,
                      size_t data_len) {
    size_t hl = 10 + dl + 1;
    size_t pad = (64 - hl % 64) % 64;
    size_t total = hl + pad + data_len;
    assert_true(total <= cap);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t h = dl + pad + 1;
    buf[8] = (unsigned char)(h & 0xff);
    buf[9] = (unsigned char)(h >> 8);
    memcpy(buf + 10, dict, dl);
    memset(buf + 10 + dl, ' ', pad);
    buf[10 + dl + pad] = '\n';
    memset(buf + hl + pad, 0, data_len);
    return total;
}

#define NPY(buf, dict, data_len) npy_buf(buf, sizeof buf, dict, sizeof dict - 1, data_len)

/* ---- CSV: one test per limit, just over and exactly at ---- */

static void test_csv_field_limit(void **state) {
    assay_ctx *ctx = *state;
    limit(ctx, L_FIELD, 6);
    assert_int_equal(csv_text(ctx, "label,a\ncat,0.1234\n"), ASSAY_OK); /* 6 bytes */
    assert_int_equal(csv_table(ctx, "label,a\ncat,0.12345\n", 20,
                               "t.csv: line 2: field 2 (column 'a') of 7 bytes exceeds "
                               "--max-field-bytes (6)",
                               NULL),
                     ASSAY_E_LIMIT);
    /* a quoted field still open: caught while it is collected, not at its end */
    limit(ctx, L_FIELD, 1000);
    size_t n = 200000;
    char *big = malloc(n + 32);
    strcpy(big, "label,a\n\"");
    memset(big + 9, 'x', n);
    strcpy(big + 9 + n, "\",1\n");
    assert_int_equal(csv_table(ctx, big, strlen(big),
                               "t.csv: line 2: field 1 (column 'label') of more than 1000 bytes "
                               "exceeds --max-field-bytes (1000)",
                               NULL),
                     ASSAY_E_LIMIT);
    free(big);
}

static void test_csv_line_limit(void **state) {
    assay_ctx *ctx = *state;
    limit(ctx, L_LINE, 12);
    assert_int_equal(csv_text(ctx, "label,a\ncat,0.123456\n"), ASSAY_OK); /* 12 bytes */
    assert_int_equal(csv_table(ctx, "label,a\ncat,0.1234567\n", 22,
                               "t.csv: line 2: line of 13 bytes exceeds --max-line-bytes (12)",
                               NULL),
                     ASSAY_E_LIMIT);
    /* a last line without a newline */
    assert_int_equal(csv_table(ctx, "label,a\ncat,0.1234567", 21,
                               "t.csv: line 2: line of more than 12 bytes", NULL),
                     ASSAY_E_LIMIT);
}

static void test_csv_rows_limit(void **state) {
    assay_ctx *ctx = *state;
    limit(ctx, L_ROWS, 3);
    assert_int_equal(csv_text(ctx, "label,a\nx,1\ny,2\nz,3\n"), ASSAY_OK);
    assert_int_equal(csv_table(ctx, "label,a\nx,1\ny,2\nz,3\nw,4\n", 24,
                               "t.csv: line 5: more than 3 data rows, exceeds --max-rows (3)",
                               NULL),
                     ASSAY_E_LIMIT);
}

static void test_csv_dims_limit(void **state) {
    assay_ctx *ctx = *state;
    limit(ctx, L_DIMS, 3);
    assert_int_equal(csv_text(ctx, "id,label,a,b,c\n1,x,1,2,3\n"), ASSAY_OK);
    assert_int_equal(csv_table(ctx, "label,a,b,c,d\nx,1,2,3,4\n", 24,
                               "t.csv: line 1: 4 feature columns exceed --max-dims (3)", NULL),
                     ASSAY_E_LIMIT);
    /* the header stops growing at max_dims + 2 names */
    assert_int_equal(csv_table(ctx, "id,label,a,b,c,d\n", 17,
                               "t.csv: line 1: the header has more than 5 columns, exceeds "
                               "--max-dims (3)",
                               NULL),
                     ASSAY_E_LIMIT);
}

static void test_csv_label_limit(void **state) {
    assay_ctx *ctx = *state;
    limit(ctx, L_LABEL, 5);
    assert_int_equal(csv_text(ctx, "label,a\nhorse,1\n"), ASSAY_OK);
    assert_int_equal(csv_table(ctx, "label,a\nhorses,1\n", 17,
                               "t.csv: line 2: column 'label' (field 1): label of 6 bytes exceeds "
                               "--max-label-bytes (5)",
                               NULL),
                     ASSAY_E_LIMIT);
    assert_int_equal(csv_table(ctx, "id,label,a\nrow-17,x,1\n", 22,
                               "t.csv: line 2: column 'id' (field 1): id of 6 bytes exceeds "
                               "--max-label-bytes (5)",
                               NULL),
                     ASSAY_E_LIMIT);
    assert_int_equal(csv_table(ctx, "label,alpha1,a\nx,1,2\n", 21,
                               "t.csv: line 1: column name 2 of 6 bytes exceeds --max-label-bytes",
                               NULL),
                     ASSAY_E_LIMIT);
    /* a labels file read as one column */
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__csv_load_column_buf(ctx, "y.csv", "label\nhorses\n", 13, NULL, 1, &col),
                     ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx), "y.csv: line 2: column 'label' (field 1): value of 6");
    assert_null(col.s);
}

static void test_csv_file_limit(void **state) {
    assay_ctx *ctx = *state;
    const char *text = "label,a\nx,1\ny,2\n"; /* 16 bytes */
    limit(ctx, L_FILE, 16);
    assert_int_equal(csv_text(ctx, text), ASSAY_OK);
    limit(ctx, L_FILE, 15);
    assert_int_equal(csv_table(ctx, text, 16,
                               "t.csv: file of more than 15 bytes exceeds "
                               "--max-file-size (15)",
                               NULL),
                     ASSAY_E_LIMIT);
    /* a file on disk is refused from its size, before it is read */
    char path[1024];
    tu_path(path, sizeof path, "limits_file.csv");
    tu_write_text(path, text);
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx), "limits_file.csv: file of 16 bytes exceeds "
                                           "--max-file-size (15)");
    assert_null(ds);
}

/* ---- silent acceptances that are now errors ---- */

static void test_csv_nul_byte(void **state) {
    assay_ctx *ctx = *state;
    static const char label[] = "id,label,a\n1,c\0at,0.5\n2,dog,1\n";
    assert_int_equal(csv_table(ctx, label, sizeof label - 1,
                               "t.csv: line 2, byte 4: a NUL byte in field 2 (column 'label')",
                               NULL),
                     ASSAY_E_FORMAT);
    static const char feature[] = "label,a\ncat,0.5\0\n";
    assert_int_equal(csv_table(ctx, feature, sizeof feature - 1,
                               "t.csv: line 2, byte 8: a NUL byte in field 2 (column 'a')", NULL),
                     ASSAY_E_FORMAT);
    static const char header[] = "label,\0a\ncat,1\n";
    assert_int_equal(csv_table(ctx, header, sizeof header - 1,
                               "t.csv: line 1, byte 7: a NUL byte in field 2 of the header", NULL),
                     ASSAY_E_FORMAT);
    static const char quoted[] = "label,a\n\"c\nx\0\",1\n";
    assert_int_equal(csv_table(ctx, quoted, sizeof quoted - 1, "t.csv: line 3, byte 2", NULL),
                     ASSAY_E_FORMAT);
}

/* Labels, ids and column names are UTF-8 (control bytes are kept: the reports escape them). */
static void test_csv_label_text(void **state) {
    assay_ctx *ctx = *state;
    assert_int_equal(csv_text(ctx, "id,label,a\nx\x01,\"caf\xc3\xa9\",1\ny,\"two\nlines\",2\n"
                                   "z,\xe2\x82\xac,3\nw,\"t\tab\",4\nv,\xf0\x9f\x90\x88,5\n"),
                     ASSAY_OK);
    assert_int_equal(csv_table(ctx,
                               "label,a\nc\xff"
                               "at,1\n",
                               14,
                               "t.csv: line 2: column 'label' (field 1): byte 2 of the label is "
                               "0xff, not valid UTF-8; save the file as UTF-8",
                               NULL),
                     ASSAY_E_FORMAT);
    assert_int_equal(csv_table(ctx, "id,label,a\nx\xc3,cat,1\n", 20,
                               "t.csv: line 2: column 'id' (field 1): byte 2 of the id is 0xc3",
                               NULL),
                     ASSAY_E_FORMAT);
    static const char *const bad_utf8[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                           "\xe2\x82", "\x80",         "\xf8\x88\x80\x80\x80"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "label,a\nx%s,1\n", bad_utf8[i]);
        assert_int_equal(csv_table(ctx, text, strlen(text), "not valid UTF-8", NULL),
                         ASSAY_E_FORMAT);
    }
    assert_int_equal(csv_table(ctx, "label,a\xe9\nx,1\n", 14,
                               "t.csv: line 1: column 2 of the header: byte 2 is 0xe9, not valid "
                               "UTF-8",
                               NULL),
                     ASSAY_E_FORMAT);
}

static void test_npy_descr_control_bytes(void **state) {
    assay_ctx *ctx = *state;
    unsigned char buf[256];
    float *x = NULL;
    size_t n, d, ld;
    size_t len = NPY(buf, "{'descr': '<f4\0', 'fortran_order': False, 'shape': (2, 2), }", 16);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "e.npy", buf, len, 1, &x, &n, &d, &ld, NULL),
                     ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "e.npy: malformed .npy header at byte 24: control byte "
                                           "0x00 inside a string");
    assert_null(x);
    len = NPY(buf, "{'descr\x01': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 16);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "e.npy", buf, len, 1, &x, &n, &d, &ld, NULL),
                     ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "control byte 0x01");
    len = NPY(buf, "{'descr': '<f04', 'fortran_order': False, 'shape': (2, 2), }", 16);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "e.npy", buf, len, 1, &x, &n, &d, &ld, NULL),
                     ASSAY_E_UNSUPPORTED);
    /* and the plain one loads from the buffer */
    len = NPY(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 16);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "e.npy", buf, len, 1, &x, &n, &d, &ld, NULL),
                     ASSAY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ld, 16);
    free(x);
}

/* ---- .npy limits ---- */

static void test_npy_rows_dims_limits(void **state) {
    assay_ctx *ctx = *state;
    unsigned char buf[1024];
    float *x = NULL;
    size_t n, d, ld;
    size_t len = NPY(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 48);
    limit(ctx, L_ROWS, 4);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "m.npy", buf, len, 0, &x, &n, &d, &ld, NULL),
                     ASSAY_OK);
    free(x);
    x = NULL;
    limit(ctx, L_ROWS, 3);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "m.npy", buf, len, 0, &x, &n, &d, &ld, NULL),
                     ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx), "m.npy: header declares 4 rows, exceeds --max-rows (3)");
    limit(ctx, L_DIMS, 2);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "m.npy", buf, len, 0, &x, &n, &d, &ld, NULL),
                     ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx),
                    "m.npy: header declares 3 columns, exceeds --max-dims (2)");
    assert_null(x);
    limit(ctx, L_FILE, len - 1);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "m.npy", buf, len, 0, &x, &n, &d, &ld, NULL),
                     ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx), "exceeds --max-file-size");
    /* a label vector */
    len = NPY(buf, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", 40);
    limit(ctx, L_ROWS, 4);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column_buf(ctx, "y.npy", buf, len, &col), ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx), "y.npy: header declares 5 rows, exceeds --max-rows (4)");
    limit(ctx, L_ROWS, 5);
    assert_int_equal(assay__npy_load_column_buf(ctx, "y.npy", buf, len, &col), ASSAY_OK);
    assert_int_equal(col.n, 5);
    assay__column_free(&col);
}

/* A 128-byte file declaring 4e9 x 1e6 float32 (16 PB), and one declaring 2^31 - 1 rows that
 * would fit the row limit: both refused from the file size, fast and without allocating. */
static void test_npy_tiny_file_huge_shape(void **state) {
    assay_ctx *ctx = *state;
    unsigned char buf[256];
    size_t len = NPY(buf,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000, "
                     "1000000), }",
                     16);
    char path[1024];
    tu_path(path, sizeof path, "limits_huge.npy");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    long rss0 = max_rss_kb();
    double t0 = now_s();
    float *x = NULL;
    size_t n, d, ld;
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "truncated: header says 4000000000x1000000 <f4");
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "h.npy", buf, len, 1, &x, &n, &d, &ld, NULL),
                     ASSAY_E_FORMAT);
    len = NPY(buf, "{'descr': '<i8', 'fortran_order': False, 'shape': (2147483647,), }", 16);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column_buf(ctx, "h.npy", buf, len, &col), ASSAY_E_FORMAT);
    double dt = now_s() - t0;
    long grown_kb = max_rss_kb() - rss0;
    assert_null(x);
    if (dt > 1.0) fail_msg("refusing took %.3f s", dt);
    if (grown_kb > 100 * 1024) fail_msg("refusing grew the RSS by %ld kB", grown_kb);
}

/* The CSV counterpart: a tiny file with a header of many names and one huge quoted field. */
static void test_csv_tiny_file_huge_claims(void **state) {
    assay_ctx *ctx = *state;
    long rss0 = max_rss_kb();
    double t0 = now_s();
    size_t n = 8 << 20; /* 8 MiB of one field: over the 1 MiB default */
    char *big = malloc(n + 16);
    memcpy(big, "label,a\n\"", 9);
    memset(big + 9, 'x', n);
    assert_int_equal(csv_table(ctx, big, n + 9, "exceeds --max-field-bytes (1048576)", NULL),
                     ASSAY_E_LIMIT);
    free(big);
    double dt = now_s() - t0;
    if (dt > 1.0) fail_msg("refusing took %.3f s", dt);
    if (max_rss_kb() - rss0 > 100 * 1024) fail_msg("refusing grew the RSS by more than 100 MB");
}

/* ---- id lists ---- */

static void test_id_list_limits(void **state) {
    assay_ctx *ctx = *state;
    assay__id_list l;
    limit(ctx, L_ROWS, 2);
    assert_int_equal(assay__id_list_parse(ctx, "a\n# c\nb\n", 8, "ids.txt", &l), ASSAY_OK);
    assert_int_equal(l.n, 2);
    assay__id_list_free(&l);
    assert_int_equal(assay__id_list_parse(ctx, "a\nb\nc\n", 6, "ids.txt", &l), ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx), "ids.txt:3: more than 2 ids, exceeds --max-rows (2)");
    limit(ctx, L_LABEL, 3);
    assert_int_equal(assay__id_list_parse(ctx, "abc\n", 4, "ids.txt", &l), ASSAY_OK);
    assay__id_list_free(&l);
    assert_int_equal(assay__id_list_parse(ctx, "x\nabcd\n", 7, "ids.txt", &l), ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx),
                    "ids.txt:2: an id of 4 bytes exceeds --max-label-bytes (3)");
    limit(ctx, L_LINE, 5);
    assert_int_equal(assay__id_list_parse(ctx, "#2345\n", 6, "ids.txt", &l), ASSAY_OK);
    assay__id_list_free(&l);
    assert_int_equal(assay__id_list_parse(ctx, "#23456\n", 7, "ids.txt", &l), ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx),
                    "ids.txt: line 1: line of 6 bytes exceeds --max-line-bytes (5)");
}

/* ---- special files and standard input ---- */

static void test_special_files_refused(void **state) {
    assay_ctx *ctx = *state;
    char fifo[1024], dir[1024];
    tu_path(fifo, sizeof fifo, "limits_fifo");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    tu_path(dir, sizeof dir, "limits_dir");
    mkdir(dir, 0700);
    const char *paths[] = {"/dev/zero", fifo, dir};
    const char *kinds[] = {"is a character device", "is a FIFO", "is a directory"};
    double t0 = now_s();
    for (int i = 0; i < 3; i++) {
        assay_dataset *ds = NULL;
        assert_int_equal(assay_dataset_load(ctx, paths[i], NULL, &ds), ASSAY_E_IO);
        assert_contains(assay_ctx_errmsg(ctx), paths[i]);
        assert_contains(assay_ctx_errmsg(ctx), kinds[i]);
        assert_contains(assay_ctx_errmsg(ctx), "not a regular file");
        /* each loader checks for itself too */
        ds = calloc(1, sizeof *ds);
        assert_int_equal(assay__csv_load(ctx, ds, paths[i], NULL), ASSAY_E_IO);
        assay_dataset_destroy(ds);
        float *x = NULL;
        size_t n, d, ld;
        assert_int_equal(assay__npy_load_matrix(ctx, paths[i], 1, &x, &n, &d, &ld, NULL),
                         ASSAY_E_IO);
        assay__column col;
        memset(&col, 0, sizeof col);
        assert_int_equal(assay__csv_load_column(ctx, paths[i], "label", 1, &col), ASSAY_E_IO);
        assay__id_list l;
        assert_int_equal(assay__id_list_read(ctx, paths[i], &l), ASSAY_E_IO);
        /* as a side file */
        char csv[1024];
        tu_path(csv, sizeof csv, "limits_ok.csv");
        tu_write_text(csv, "a\n1\n2\n");
        assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
        o.labels_file = paths[i];
        assert_int_equal(assay_dataset_load(ctx, csv, &o, &ds), ASSAY_E_IO);
        assert_contains(assay_ctx_errmsg(ctx), paths[i]);
    }
    if (now_s() - t0 > 1.0) fail_msg("refusing special files took %.3f s", now_s() - t0);
    unlink(fifo);
    rmdir(dir);
}

/* Runs assay_dataset_load(ctx, "-") with `fd` as standard input. */
static assay_status load_stdin(assay_ctx *ctx, int fd, assay_dataset **ds) {
    int saved = dup(0);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, 0), 0);
    assay_status s = assay_dataset_load(ctx, "-", NULL, ds);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
    return s;
}

static void test_stdin_csv(void **state) {
    assay_ctx *ctx = *state;
    const char text[] = "id,label,a,b\nr1,cat,1,2\nr2,dog,3,4\nr3,cat,5,6\n";
    unsigned char want[32];
    unsigned int wl = 0;
    assert_true(EVP_Digest(text, sizeof text - 1, want, &wl, EVP_sha256(), NULL));
    /* a pipe: read once, hashed while read */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(p[1]);
    assay_dataset *ds = NULL;
    assay_status s = load_stdin(ctx, p[0], &ds);
    close(p[0]);
    if (s != ASSAY_OK) fail_msg("stdin: %s", assay_ctx_errmsg(ctx));
    assert_int_equal(assay_dataset_rows(ds), 3);
    assert_int_equal(assay_dataset_format(ds), ASSAY_FORMAT_CSV);
    assert_int_equal(ds->n_files, 1);
    assert_string_equal(ds->files[0].path, "-");
    assert_int_equal(ds->files[0].bytes, sizeof text - 1);
    assert_memory_equal(ds->files[0].sha256, want, 32);
    assay_dataset_destroy(ds);

    /* a limit applies to what comes through the pipe */
    limit(ctx, L_FILE, 20);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(p[1]);
    ds = NULL;
    assert_int_equal(load_stdin(ctx, p[0], &ds), ASSAY_E_LIMIT);
    close(p[0]);
    assert_contains(assay_ctx_errmsg(ctx), "-: file of more than 20 bytes exceeds --max-file-size");
    limit(ctx, L_FILE, 1ull << 40);

    /* '-' is not accepted for side files, nor as .npy */
    char csv[1024];
    tu_path(csv, sizeof csv, "limits_stdin.csv");
    tu_write_text(csv, text);
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.ids_file = "-";
    assert_int_equal(assay_dataset_load(ctx, csv, &o, &ds), ASSAY_E_IO);
    assert_contains(assay_ctx_errmsg(ctx), "standard input is accepted only for a CSV dataset");
    o = (assay_load_opts)ASSAY_LOAD_OPTS_INIT;
    o.format = ASSAY_FORMAT_NPY;
    assert_int_equal(assay_dataset_load(ctx, "-", &o, &ds), ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "standard input is read only as CSV");
    assay__id_list l;
    assert_int_equal(assay__id_list_read(ctx, "-", &l), ASSAY_E_IO);
}

static int setup(void **state) {
    *state = make_ctx();
    return 0;
}

static int teardown(void **state) {
    assay_ctx_destroy(*state);
    return 0;
}

/* Each test starts from the default limits. */
static int reset(void **state) {
    assay_limits l;
    assay_limits_default(&l);
    return assay_ctx_set_limits(*state, &l) == ASSAY_OK ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_csv_field_limit, reset),
        cmocka_unit_test_setup(test_csv_line_limit, reset),
        cmocka_unit_test_setup(test_csv_rows_limit, reset),
        cmocka_unit_test_setup(test_csv_dims_limit, reset),
        cmocka_unit_test_setup(test_csv_label_limit, reset),
        cmocka_unit_test_setup(test_csv_file_limit, reset),
        cmocka_unit_test_setup(test_csv_nul_byte, reset),
        cmocka_unit_test_setup(test_csv_label_text, reset),
        cmocka_unit_test_setup(test_npy_descr_control_bytes, reset),
        cmocka_unit_test_setup(test_npy_rows_dims_limits, reset),
        cmocka_unit_test_setup(test_npy_tiny_file_huge_shape, reset),
        cmocka_unit_test_setup(test_csv_tiny_file_huge_claims, reset),
        cmocka_unit_test_setup(test_id_list_limits, reset),
        cmocka_unit_test_setup(test_special_files_refused, reset),
        cmocka_unit_test_setup(test_stdin_csv, reset),
    };
    return cmocka_run_group_tests_name("limits", tests, setup, teardown);
}

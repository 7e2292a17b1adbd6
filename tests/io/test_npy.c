/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the NumPy .npy reader: header parsing (versions, key order, refusals), exact dtype
 * conversion, truncation checks, the column loader and loading a dataset through the public API. */
#include <stdint.h>
#include <float.h>
#include <string.h>
#include <sys/stat.h>

#include "test_util.h"

#include "io/dataset_internal.h"
#include "io/npy_header.h"

/* ---- fixtures ---- */

/* Builds a .npy header as np.save does: magic, version, length field (uint16 for v1, uint32
 * otherwise), the dict, spaces up to a multiple of 64 bytes (at least min_len) and '\n'.
 * Returns the header length. */
static size_t build_header(unsigned char *buf, size_t cap, unsigned major, unsigned minor,
                           const char *dict, size_t min_len) {
    size_t pre = major == 1 ? 10 : 12;
    size_t dl = strlen(dict);
    size_t total = pre + dl + 1;
    total = (total + 63) / 64 * 64;
    if (total < min_len) total = (min_len + 63) / 64 * 64;
    assert_true(total <= cap);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    size_t hl = total - pre;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', total - pre - dl - 1);
    buf[total - 1] = '\n';
    return total;
}

static const char *make_dict(char *buf, size_t len, const char *descr, int fortran,
                             const char *shape) {
    snprintf(buf, len, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
             fortran ? "True" : "False", shape);
    return buf;
}

/* Writes a v1 (or other version) .npy file with the given dict and raw data bytes. */
static const char *write_npy_v(char *path, size_t plen, const char *name, unsigned major,
                               const char *dict, const void *data, size_t len) {
    tu_path(path, plen, "%s", name);
    unsigned char hdr[4096];
    size_t hl = build_header(hdr, sizeof hdr, major, 0, dict, 0);
    unsigned char *img = malloc(hl + len + 1);
    assert_non_null(img);
    memcpy(img, hdr, hl);
    if (len) memcpy(img + hl, data, len);
    tu_write_file(path, img, hl + len);
    free(img);
    return path;
}

static const char *write_npy(char *path, size_t plen, const char *name, const char *descr,
                             const char *shape, const void *data, size_t len) {
    char dict[256];
    return write_npy_v(path, plen, name, 1, make_dict(dict, sizeof dict, descr, 0, shape), data,
                       len);
}

static void put16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void putf32(unsigned char *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put32(p, u);
}
static void putf64(unsigned char *p, double f) {
    uint64_t u;
    memcpy(&u, &f, 8);
    put64(p, u);
}
static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Parses a header built from `dict` with the given version. */
static assay_status parse_dict(assay_ctx *ctx, unsigned major, const char *dict,
                               assay__npy_header *h) {
    unsigned char buf[4096];
    size_t hl = build_header(buf, sizeof buf, major, 0, dict, 0);
    return assay__npy_parse_header(ctx, "x.npy", buf, hl, h);
}

static void assert_starts_with(const char *s, const char *prefix) {
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("expected \"%s\" to start with \"%s\"", s, prefix);
}

/* Loads a matrix that must load; frees nothing (caller frees *x). */
static float *load_ok(assay_ctx *ctx, const char *path, int pad, size_t *n, size_t *d, size_t *ld) {
    float *x = NULL;
    assay_status s = assay__npy_load_matrix(ctx, path, pad, &x, n, d, ld, NULL);
    if (s != ASSAY_OK) fail_msg("%s: status %d: %s", path, (int)s, assay_ctx_errmsg(ctx));
    assert_non_null(x);
    return x;
}

/* ---- header parsing ---- */

static void test_npy_parse_v1(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 768), }";
    assert_int_equal(parse_dict(ctx, 1, dict, &h), ASSAY_OK);
    assert_int_equal(h.major, 1);
    assert_int_equal(h.minor, 0);
    assert_int_equal(h.header_len, 128);
    assert_int_equal(h.kind, 'f');
    assert_int_equal(h.itemsize, 4);
    assert_int_equal(h.byteorder, '<');
    assert_string_equal(h.descr, "<f4");
    assert_int_equal(h.fortran_order, 0);
    assert_int_equal(h.ndim, 2);
    assert_int_equal(h.shape[0], 1000);
    assert_int_equal(h.shape[1], 768);
    assert_int_equal(h.count, 768000);
    assert_int_equal(h.data_bytes, 3072000);

    /* The total-length probe agrees with the parser from the preamble alone. */
    unsigned char buf[256];
    size_t hl = build_header(buf, sizeof buf, 1, 0, dict, 0);
    assert_int_equal(assay__npy_header_total(buf, 10), hl);
    assert_int_equal(assay__npy_header_total(buf, 9), 0);
}

static void test_npy_parse_v2(void **state) {
    assay_ctx *ctx = *state;
    /* Version 2 exists for headers longer than a uint16 can say. */
    static unsigned char buf[70100];
    const char *dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (7,), }";
    size_t hl = build_header(buf, sizeof buf, 2, 0, dict, 70000);
    assert_true(hl > 65535);
    assay__npy_header h;
    assert_int_equal(assay__npy_parse_header(ctx, "x.npy", buf, hl, &h), ASSAY_OK);
    assert_int_equal(h.major, 2);
    assert_int_equal(h.header_len, hl);
    assert_int_equal(h.kind, 'i');
    assert_int_equal(h.itemsize, 8);
    assert_int_equal(h.ndim, 1);
    assert_int_equal(h.shape[0], 7);
    assert_int_equal(h.data_bytes, 56);
    assert_int_equal(assay__npy_header_total(buf, 12), hl);
}

static void test_npy_parse_v3(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    assert_int_equal(
        parse_dict(ctx, 3, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", &h),
        ASSAY_OK);
    assert_int_equal(h.major, 3);
    assert_int_equal(h.header_len, 128);
    assert_int_equal(h.kind, 'u');
    assert_int_equal(h.itemsize, 1);
    assert_int_equal(h.byteorder, '|');
    assert_int_equal(h.count, 6);
    /* v1 must be ASCII; v3 is UTF-8, where such bytes are only legal inside strings. */
    assert_int_equal(
        parse_dict(ctx, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } \xc3\xa9",
                   &h),
        ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "expected ASCII");
}

static void test_npy_parse_key_order_and_quotes(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    assert_int_equal(
        parse_dict(ctx, 1, "{\"shape\": (3, 4L), \"fortran_order\": False, \"descr\": \"<i8\"}",
                   &h),
        ASSAY_OK);
    assert_int_equal(h.kind, 'i');
    assert_int_equal(h.itemsize, 8);
    assert_int_equal(h.ndim, 2);
    assert_int_equal(h.shape[0], 3);
    assert_int_equal(h.shape[1], 4);
    assert_int_equal(h.data_bytes, 96);

    assert_int_equal(parse_dict(ctx, 1,
                                "{ 'fortran_order' : True , 'shape' : ( 5 , ) , 'descr' : "
                                "'<u2' , }",
                                &h),
                     ASSAY_OK);
    /* fortran_order True on a vector is the same layout as C order. */
    assert_int_equal(h.fortran_order, 1);
    assert_int_equal(h.kind, 'u');
    assert_int_equal(h.itemsize, 2);
    assert_int_equal(h.shape[0], 5);

    assert_int_equal(
        parse_dict(ctx, 1, "{'descr':'<f2','shape':(10L, 2L,),'fortran_order':False,}", &h),
        ASSAY_OK);
    assert_int_equal(h.kind, 'f');
    assert_int_equal(h.itemsize, 2);
    assert_int_equal(h.shape[0], 10);
    assert_int_equal(h.shape[1], 2);
}

static void test_npy_parse_shapes(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    char dict[256];
    assert_int_equal(parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f8", 0, "()"), &h),
                     ASSAY_OK);
    assert_int_equal(h.ndim, 0);
    assert_int_equal(h.count, 1);
    assert_int_equal(h.data_bytes, 8);
    assert_int_equal(parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f4", 0, "(5,)"), &h),
                     ASSAY_OK);
    assert_int_equal(h.ndim, 1);
    assert_int_equal(h.shape[0], 5);
    assert_int_equal(parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f4", 0, "(2, 3, 4,)"), &h),
                     ASSAY_OK);
    assert_int_equal(h.ndim, 3);
    assert_int_equal(h.count, 24);
    assert_int_equal(parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f4", 0, "(5)"), &h),
                     ASSAY_OK);
    assert_int_equal(h.ndim, 1);
    assert_int_equal(h.shape[0], 5);
    /* A zero extent makes the product 0 even when the others are huge. */
    assert_int_equal(
        parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f4", 0, "(0, 9223372036854775807, 1000)"),
                   &h),
        ASSAY_OK);
    assert_int_equal(h.count, 0);
    assert_int_equal(h.data_bytes, 0);
    assert_int_equal(
        parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f4", 0, "(1, 2, 3, 4, 5, 6, 7, 8, 9)"),
                   &h),
        ASSAY_E_UNSUPPORTED);
    assert_contains(assay_ctx_errmsg(ctx), "more than 8 dimensions");
}

static void test_npy_parse_bad_version(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    unsigned char buf[256];
    size_t hl = build_header(buf, sizeof buf, 1, 0, dict, 0);
    const unsigned char versions[][2] = {{4, 0}, {0, 0}, {1, 1}, {2, 5}};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        buf[6] = versions[i][0];
        buf[7] = versions[i][1];
        assert_int_equal(assay__npy_parse_header(ctx, "v.npy", buf, hl, &h), ASSAY_E_FORMAT);
        char want[64];
        snprintf(want, sizeof want, "version %u.%u is not supported; expected 1.0, 2.0 or 3.0",
                 versions[i][0], versions[i][1]);
        assert_contains(assay_ctx_errmsg(ctx), want);
        assert_starts_with(assay_ctx_errmsg(ctx), "v.npy: ");
    }
}

static void test_npy_bad_magic(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    unsigned char buf[256];
    size_t hl = build_header(buf, sizeof buf, 1, 0, dict, 0);
    buf[5] = 'Z';
    assert_int_equal(assay__npy_parse_header(ctx, "m.npy", buf, hl, &h), ASSAY_E_FORMAT);
    assert_starts_with(assay_ctx_errmsg(ctx), "m.npy: ");
    assert_contains(assay_ctx_errmsg(ctx), "expected the magic");
    assert_contains(assay_ctx_errmsg(ctx), "NUMPZ");

    const unsigned char zip[] = "PK\x03\x04\x14\x00\x00\x00";
    assert_int_equal(assay__npy_parse_header(ctx, "a.npz", zip, 8, &h), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "zip archive");
    assert_contains(assay_ctx_errmsg(ctx), "np.save");

    /* Through the file loader: a text file named .npy. */
    char path[1024];
    tu_path(path, sizeof path, "npy_text.npy");
    tu_write_text(path, "0.5,1.5\n2.5,3.5\n");
    float *x = NULL;
    size_t n = 0, d = 0, ld = 0;
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL), ASSAY_E_FORMAT);
    assert_null(x);
    assert_starts_with(assay_ctx_errmsg(ctx), path);
    assert_contains(assay_ctx_errmsg(ctx), "not a NumPy .npy file");
    assert_contains(assay_ctx_errmsg(ctx), "found \"0.5,1.5\\x0a\"");
}

static void test_npy_truncated_header(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 768), }";
    unsigned char buf[256];
    size_t hl = build_header(buf, sizeof buf, 1, 0, dict, 0);
    assert_int_equal(hl, 128);
    assert_int_equal(assay__npy_parse_header(ctx, "t.npy", buf, 0, &h), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "t.npy: file is empty");
    assert_int_equal(assay__npy_parse_header(ctx, "t.npy", buf, 4, &h), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "found only 4 bytes");
    assert_int_equal(assay__npy_parse_header(ctx, "t.npy", buf, 9, &h), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "found only 9 bytes");
    assert_int_equal(assay__npy_parse_header(ctx, "t.npy", buf, 100, &h), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx),
                    "t.npy: truncated .npy header: expected 128 header bytes (as its length field "
                    "says), found only 100");

    /* A file cut inside its header. */
    char path[1024];
    tu_path(path, sizeof path, "npy_cut_header.npy");
    tu_write_file(path, buf, 60);
    float *x = NULL;
    size_t n = 0, d = 0, ld = 0;
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL), ASSAY_E_FORMAT);
    assert_null(x);
    assert_starts_with(assay_ctx_errmsg(ctx), path);
    assert_contains(assay_ctx_errmsg(ctx),
                    "expected 128 header bytes (as its length field says), found only 60");

    /* A v2 length field larger than the cap is called damage, not an allocation. */
    unsigned char big[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xf0, 0xff, 0xff, 0xff};
    assert_int_equal(assay__npy_header_total(big, sizeof big), 0);
    assert_int_equal(assay__npy_parse_header(ctx, "t.npy", big, sizeof big, &h), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "probably damaged");
}

static void test_npy_malformed_header(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    static const struct {
        const char *dict, *msg;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False}", "found no 'shape'"},
        {"{'shape': (2,), 'fortran_order': False}", "found no 'descr'"},
        {"{'descr': '<f4', 'shape': (2,)}", "found no 'fortran_order'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
         "key 'descr' appears twice"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
         "expected one of the keys 'descr', 'fortran_order', 'shape', found \"'extra'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
         "expected a non-negative dimension, found \"-2,)"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",
         "expected True or False, found \"false"},
        {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}", "expected True or False"},
        {"['descr', '<f4']", "expected '{' opening the header dict, found \"['descr'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected ',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", "expected only padding"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}' after"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "expected a shape tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2; 3)}", "expected ',' or ')'"},
        {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}", "without escapes"},
        {"{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", "expected ':' after a key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2x,)}", "after a dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
         "does not fit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assay_status s = parse_dict(ctx, 1, cases[i].dict, &h);
        if (s != ASSAY_E_FORMAT)
            fail_msg("case %zu (%s): status %d, msg %s", i, cases[i].dict, (int)s,
                     assay_ctx_errmsg(ctx));
        assert_starts_with(assay_ctx_errmsg(ctx), "x.npy: ");
        assert_contains(assay_ctx_errmsg(ctx), cases[i].msg);
    }
}

static void test_npy_shape_overflow(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    char dict[256];
    /* 2^32 * 2^32 elements does not fit in size_t. */
    assert_int_equal(
        parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f4", 0, "(4294967296, 4294967296)"), &h),
        ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "shape (4294967296, 4294967296) overflows");
    /* 2^61 elements fit, 2^61 * 8 bytes do not. */
    assert_int_equal(
        parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f8", 0, "(2305843009213693952,)"), &h),
        ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "shape (2305843009213693952,) of <f8 overflows");
    /* Fits in size_t but the file cannot hold it: the loader reports a truncation. */
    char path[1024];
    float one = 1.0f;
    write_npy(path, sizeof path, "npy_huge.npy", "<f4", "(4294967296, 4096)", &one, 4);
    float *x = NULL;
    size_t n = 0, d = 0, ld = 0;
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL), ASSAY_E_FORMAT);
    assert_null(x);
    assert_contains(assay_ctx_errmsg(ctx), "truncated: header says 4294967296x4096 <f4 = "
                                           "70368744177664 bytes of data, file has only 4");
}

/* ---- refusals ---- */

/* Parses a header with this descr and checks status and message pieces. */
static void check_refused(assay_ctx *ctx, const char *descr, int fortran, const char *shape,
                          const char *msg1, const char *msg2) {
    char dict[256];
    assay__npy_header h;
    assay_status s = parse_dict(ctx, 1, make_dict(dict, sizeof dict, descr, fortran, shape), &h);
    if (s != ASSAY_E_UNSUPPORTED)
        fail_msg("descr %s: status %d, msg %s", descr, (int)s, assay_ctx_errmsg(ctx));
    assert_starts_with(assay_ctx_errmsg(ctx), "x.npy: ");
    assert_contains(assay_ctx_errmsg(ctx), "expected");
    assert_contains(assay_ctx_errmsg(ctx), msg1);
    if (msg2 != NULL) assert_contains(assay_ctx_errmsg(ctx), msg2);
}

static void test_npy_refuse_object(void **state) {
    assay_ctx *ctx = *state;
    check_refused(ctx, "|O", 0, "(3,)", "object arrays are pickles and could run code",
                  "arr.astype(str)) (dtype '<U') or as a CSV file");
    check_refused(ctx, "|O8", 0, "(3,)", "'|O8'", "pickles");

    /* The file loader refuses it before reading any data. */
    char path[1024];
    unsigned char junk[24] = {0x80, 0x04, 0x95};
    write_npy(path, sizeof path, "npy_object.npy", "|O", "(3,)", junk, sizeof junk);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_UNSUPPORTED);
    assert_starts_with(assay_ctx_errmsg(ctx), path);
    assert_contains(assay_ctx_errmsg(ctx), "could run code");
    assert_int_equal(col.type, ASSAY__COL_NONE);
    assert_null(col.i);
}

static void test_npy_refuse_big_endian(void **state) {
    assay_ctx *ctx = *state;
    check_refused(ctx, ">f4", 0, "(3, 2)", "big-endian", "arr.astype('<f4')");
    check_refused(ctx, ">f8", 0, "(3, 2)", "big-endian", "arr.astype('<f8')");
    check_refused(ctx, ">i8", 0, "(3,)", "big-endian", "arr.astype('<i8')");
    check_refused(ctx, ">u2", 0, "(3,)", "expected little-endian '<u2'", NULL);
    /* Byte order means nothing for one-byte types. */
    char dict[256];
    assay__npy_header h;
    assert_int_equal(parse_dict(ctx, 1, make_dict(dict, sizeof dict, ">u1", 0, "(3,)"), &h),
                     ASSAY_OK);
    assert_int_equal(h.byteorder, '|');
    assert_int_equal(parse_dict(ctx, 1, make_dict(dict, sizeof dict, "|i1", 0, "(3,)"), &h),
                     ASSAY_OK);
    assert_int_equal(h.kind, 'i');
}

static void test_npy_refuse_structured(void **state) {
    assay_ctx *ctx = *state;
    assay__npy_header h;
    assert_int_equal(parse_dict(ctx, 1,
                                "{'descr': [('x', '<f4', (4,)), ('y', '<i8')], 'fortran_order': "
                                "False, 'shape': (10,), }",
                                &h),
                     ASSAY_E_UNSUPPORTED);
    assert_starts_with(assay_ctx_errmsg(ctx), "x.npy: ");
    assert_contains(assay_ctx_errmsg(ctx), "structured/record dtype");
    assert_contains(assay_ctx_errmsg(ctx), "expected a plain numeric dtype");
    check_refused(ctx, "|V16", 0, "(10,)", "structured", NULL);
}

/* ---- text arrays ('<U', '>U', '|S') for labels and ids ---- */

/* A whole v1 .npy file in img: header for descr/shape, then len data bytes. */
static size_t npy_image(unsigned char *img, size_t cap, const char *descr, const char *shape,
                        const void *data, size_t len) {
    char dict[256];
    size_t hl = build_header(img, cap, 1, 0, make_dict(dict, sizeof dict, descr, 0, shape), 0);
    assert_true(hl + len <= cap);
    if (len) memcpy(img + hl, data, len);
    return hl + len;
}

/* Code points into `chars`-wide UCS-4 elements (0 ends a row early: NUL padding). */
static void put_ucs4(unsigned char *p, const uint32_t *cp, size_t n, int big) {
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++)
            p[4 * i + b] = (unsigned char)(cp[i] >> (8 * (big ? 3 - b : b)));
}

static void test_npy_unicode_labels(void **state) {
    assay_ctx *ctx = *state;
    /* np.array(['a', 'h\u00e9\u00e9', '\U0001F600x', 'abc']).astype('<U3'), NUL padded */
    const uint32_t cp[4][3] = {{'a', 0, 0}, {'h', 0xE9, 0xE9}, {0x1F600, 'x', 0}, {'a', 'b', 'c'}};
    unsigned char data[4 * 12], img[512];
    for (int big = 0; big < 2; big++) {
        for (int r = 0; r < 4; r++) put_ucs4(data + 12 * r, cp[r], 3, big);
        size_t len = npy_image(img, sizeof img, big ? ">U3" : "<U3", "(4,)", data, sizeof data);
        assay__column col;
        memset(&col, 0, sizeof col);
        assay_status st = assay__npy_load_column_buf(ctx, "u.npy", img, len, &col);
        if (st != ASSAY_OK) fail_msg("%s", assay_ctx_errmsg(ctx));
        assert_int_equal(col.type, ASSAY__COL_STR);
        assert_int_equal(col.n, 4);
        assert_string_equal(col.s[0], "a");
        assert_string_equal(col.s[1], "h\xc3\xa9\xc3\xa9");
        assert_string_equal(col.s[2], "\xf0\x9f\x98\x80x");
        assert_string_equal(col.s[3], "abc");
        assert_string_equal(col.source, "u.npy");
        assay__column_free(&col);
    }
    /* (N, 1) too */
    for (int r = 0; r < 4; r++) put_ucs4(data + 12 * r, cp[r], 3, 0);
    size_t len = npy_image(img, sizeof img, "<U3", "(4, 1)", data, sizeof data);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column_buf(ctx, "u.npy", img, len, &col), ASSAY_OK);
    assert_int_equal(col.n, 4);
    assay__column_free(&col);
}

static void test_npy_bytes_labels(void **state) {
    assay_ctx *ctx = *state;
    const char data[] = "cat\0dog\0x\0\0\0bird"; /* |S4: 'cat', 'dog', 'x', 'bird' */
    unsigned char img[512];
    size_t len = npy_image(img, sizeof img, "|S4", "(4,)", data, 16);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column_buf(ctx, "s.npy", img, len, &col), ASSAY_OK);
    assert_int_equal(col.type, ASSAY__COL_STR);
    assert_int_equal(col.n, 4);
    assert_string_equal(col.s[0], "cat");
    assert_string_equal(col.s[2], "x");
    assert_string_equal(col.s[3], "bird");
    assay__column_free(&col);
    /* not UTF-8 */
    len = npy_image(img, sizeof img, "|S2", "(2,)", "ab\xff\0", 4);
    assert_int_equal(assay__npy_load_column_buf(ctx, "s.npy", img, len, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "s.npy: row 1: byte 1 is 0xff, not valid UTF-8");
    assert_int_equal(col.type, ASSAY__COL_NONE);
}

static void expect_text_refused(assay_ctx *ctx, const char *descr, const void *data, size_t n,
                                size_t rows, assay_status want, const char *msg) {
    unsigned char img[512];
    char shape[32];
    snprintf(shape, sizeof shape, "(%zu,)", rows);
    size_t len = npy_image(img, sizeof img, descr, shape, data, n);
    assay__column col;
    memset(&col, 0, sizeof col);
    assay_status s = assay__npy_load_column_buf(ctx, "t.npy", img, len, &col);
    if (s != want) fail_msg("%s: status %d: %s", descr, (int)s, assay_ctx_errmsg(ctx));
    assert_starts_with(assay_ctx_errmsg(ctx), "t.npy: ");
    assert_contains(assay_ctx_errmsg(ctx), msg);
    assert_int_equal(col.type, ASSAY__COL_NONE);
    assert_null(col.s);
}

static void test_npy_text_refusals(void **state) {
    assay_ctx *ctx = *state;
    unsigned char d[32];
    const uint32_t ok[2] = {'o', 'k'}, sur[2] = {'a', 0xD800}, high[2] = {0x110000, 'a'},
                   nul[2] = {0, 'a'}, empty[2] = {0, 0};
    put_ucs4(d, ok, 2, 0);
    put_ucs4(d + 8, sur, 2, 0);
    expect_text_refused(ctx, "<U2", d, 16, 2, ASSAY_E_FORMAT,
                        "row 1: character 2 is 0xD800, a UTF-16 surrogate");
    put_ucs4(d + 8, high, 2, 0);
    expect_text_refused(ctx, "<U2", d, 16, 2, ASSAY_E_FORMAT,
                        "row 1: character 1 is 0x110000, past U+10FFFF");
    put_ucs4(d + 8, nul, 2, 0);
    expect_text_refused(ctx, "<U2", d, 16, 2, ASSAY_E_FORMAT,
                        "row 1: character 1 is NUL inside the text");
    put_ucs4(d + 8, empty, 2, 0);
    expect_text_refused(ctx, "<U2", d, 16, 2, ASSAY_E_FORMAT, "row 1 is empty");
    expect_text_refused(ctx, "|S3", "a\0cxy\0", 6, 2, ASSAY_E_FORMAT,
                        "row 0: byte 2 is NUL inside the text");
    /* header: no size, a leading zero, absurd widths */
    check_refused(ctx, "<U", 0, "(2,)", "not a string dtype assay reads", NULL);
    check_refused(ctx, "|S0", 0, "(2,)", "not a string dtype assay reads", NULL);
    check_refused(ctx, "<U07", 0, "(2,)", "not a string dtype assay reads", NULL);
    check_refused(ctx, "<U99999999999", 0, "(2,)", "not a string dtype assay reads", NULL);

    /* limits: bytes per value after UTF-8 encoding, and rows */
    assay_limits lim;
    assay_limits_default(&lim);
    lim.max_label_bytes = 5;
    assert_int_equal(assay_ctx_set_limits(ctx, &lim), ASSAY_OK);
    const uint32_t two_e[2] = {0xE9, 0xE9}, three_e[3] = {0xE9, 0xE9, 'x'};
    memset(d, 0, sizeof d);
    put_ucs4(d, two_e, 2, 0);        /* 4 bytes as UTF-8: fits */
    put_ucs4(d + 12, three_e, 3, 0); /* 5 bytes: fits */
    unsigned char img[512];
    size_t len = npy_image(img, sizeof img, "<U3", "(2,)", d, 24);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column_buf(ctx, "t.npy", img, len, &col), ASSAY_OK);
    assay__column_free(&col);
    lim.max_label_bytes = 4;
    assert_int_equal(assay_ctx_set_limits(ctx, &lim), ASSAY_OK);
    expect_text_refused(ctx, "<U3", d, 24, 2, ASSAY_E_LIMIT,
                        "row 1: more than 4 bytes as UTF-8, exceeds --max-label-bytes (4)");
    expect_text_refused(ctx, "|S8", "abcdefgh", 8, 1, ASSAY_E_LIMIT,
                        "row 0: 8 bytes exceed --max-label-bytes (4)");
    assay_limits_default(&lim);
    lim.max_rows = 1;
    assert_int_equal(assay_ctx_set_limits(ctx, &lim), ASSAY_OK);
    expect_text_refused(ctx, "<U3", d, 24, 2, ASSAY_E_LIMIT, "exceeds --max-rows (1)");
    assay_limits_default(&lim);
    assert_int_equal(assay_ctx_set_limits(ctx, &lim), ASSAY_OK);
}

/* Text is for labels and ids: embeddings and predicted probabilities must be numbers. */
static void test_npy_text_embeddings_refused(void **state) {
    assay_ctx *ctx = *state;
    unsigned char d[64] = {'a'}, img[512];
    size_t len = npy_image(img, sizeof img, "<U2", "(2, 4)", d, 64);
    float *x = NULL;
    size_t n, dd, ld;
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "e.npy", img, len, 1, &x, &n, &dd, &ld, NULL),
                     ASSAY_E_UNSUPPORTED);
    assert_contains(assay_ctx_errmsg(ctx),
                    "e.npy: dtype '<U2' is a string array; expected numbers");
    assert_contains(assay_ctx_errmsg(ctx), "labels or ids");
    assert_null(x);
    len = npy_image(img, sizeof img, "|S4", "(2, 4)", d, 32);
    assert_int_equal(assay__npy_load_matrix_buf(ctx, "e.npy", img, len, 1, &x, &n, &dd, &ld, NULL),
                     ASSAY_E_UNSUPPORTED);
    assert_contains(assay_ctx_errmsg(ctx), "'|S4' is a string array");
}

static void test_npy_refuse_bool_complex_other(void **state) {
    assay_ctx *ctx = *state;
    check_refused(ctx, "|b1", 0, "(4,)", "'|b1' is boolean", "astype('<i4')");
    check_refused(ctx, "<c8", 0, "(4, 2)", "'<c8' is complex", "real numbers");
    check_refused(ctx, "<c16", 0, "(4, 2)", "complex", NULL);
    check_refused(ctx, "<f16", 0, "(4, 2)", "'<f16' is not supported", "astype('<f4')");
    check_refused(ctx, "<i3", 0, "(4,)", "'<i3' is not supported", NULL);
    check_refused(ctx, "<M8[ns]", 0, "(4,)", "date or time", NULL);
    check_refused(ctx, "float32", 0, "(4,)", "'float32' is not supported", NULL);
    check_refused(ctx, "<x4", 0, "(4,)", "not a NumPy type string", NULL);
    check_refused(ctx, "", 0, "(4,)", "dtype ''", NULL);
}

static void test_npy_refuse_fortran(void **state) {
    assay_ctx *ctx = *state;
    check_refused(ctx, "<f4", 1, "(2, 3)", "fortran_order is True", "np.ascontiguousarray");
    check_refused(ctx, "<f4", 1, "(2, 1, 3)", "np.ascontiguousarray", NULL);
    /* Same bytes in either order when at most one extent exceeds 1. */
    char dict[256];
    assay__npy_header h;
    assert_int_equal(parse_dict(ctx, 1, make_dict(dict, sizeof dict, "<f4", 1, "(1, 7)"), &h),
                     ASSAY_OK);
}

/* ---- conversion ---- */

static void test_npy_convert_f4_exact(void **state) {
    assay_ctx *ctx = *state;
    const float v[] = {0.0f,    -0.0f,    1.0f,       -3.25f,    0x1p-149f,
                       FLT_MAX, -FLT_MIN, INFINITY,   -INFINITY, 0x1.fffffep+127f,
                       0.1f,    1e-30f,   (float)NAN, 12345.678f};
    const size_t m = sizeof v / sizeof v[0];
    unsigned char data[sizeof v];
    for (size_t i = 0; i < m; i++) putf32(data + 4 * i, v[i]);
    char path[1024], shape[32];
    snprintf(shape, sizeof shape, "(%zu, 1)", m);
    write_npy(path, sizeof path, "npy_f4.npy", "<f4", shape, data, sizeof data);
    size_t n, d, ld;
    float *x = load_ok(ctx, path, 0, &n, &d, &ld);
    assert_int_equal(n, m);
    assert_int_equal(d, 1);
    assert_int_equal(ld, 1);
    for (size_t i = 0; i < m; i++) assert_int_equal(bits_of(x[i]), bits_of(v[i]));
    free(x);
}

static void test_npy_convert_f8_rounding(void **state) {
    assay_ctx *ctx = *state;
    /* Expected values written out, not computed by the same cast. */
    const double in[] = {0.1,
                         1.0 + 0x1p-24,           /* halfway, ties to even: 1 */
                         1.0 + 0x1p-24 * 3,       /* halfway, ties to even: 1 + 2^-22 */
                         1.0 + 0x1p-24 + 0x1p-40, /* just above halfway: up */
                         -2.5,
                         16777217.0,
                         1e300,
                         -1e300,
                         1e-50,
                         0x1p-149,
                         -0.0};
    const float want[] = {0x1.99999ap-4f, 1.0f,        0x1.000004p0f, 0x1.000002p0f,
                          -2.5f,          16777216.0f, INFINITY,      -INFINITY,
                          0.0f,           0x1p-149f,   -0.0f};
    const size_t m = sizeof in / sizeof in[0];
    unsigned char data[sizeof in];
    for (size_t i = 0; i < m; i++) putf64(data + 8 * i, in[i]);
    char path[1024], shape[32];
    snprintf(shape, sizeof shape, "(1, %zu)", m);
    write_npy(path, sizeof path, "npy_f8.npy", "<f8", shape, data, sizeof data);
    size_t n, d, ld;
    float *x = load_ok(ctx, path, 1, &n, &d, &ld);
    assert_int_equal(n, 1);
    assert_int_equal(d, m);
    assert_int_equal(ld, 16);
    for (size_t i = 0; i < m; i++)
        if (bits_of(x[i]) != bits_of(want[i]))
            fail_msg("f8 %zu: %a -> %a, expected %a", i, in[i], (double)x[i], (double)want[i]);
    free(x);
}

static void test_npy_convert_f2(void **state) {
    assay_ctx *ctx = *state;
    const uint16_t in[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0200, 0x0400, 0x3c00,
                           0xc000, 0x3555, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7c01};
    const float want[] = {0.0f,      -0.0f,        0x1p-24f, /* smallest subnormal */
                          -0x1p-24f, 0x1.ff8p-15f,           /* largest subnormal: 1023 * 2^-24 */
                          0x1p-15f,  0x1p-14f,               /* smallest normal */
                          1.0f,      -2.0f,        0x1.554p-2f, /* 0.333251953125 */
                          65504.0f,                             /* largest finite */
                          -65504.0f, INFINITY,     -INFINITY};
    const size_t m = sizeof in / sizeof in[0];
    unsigned char data[sizeof in];
    for (size_t i = 0; i < m; i++) put16(data + 2 * i, in[i]);
    char path[1024], shape[32];
    snprintf(shape, sizeof shape, "(%zu, 1)", m);
    write_npy(path, sizeof path, "npy_f2.npy", "<f2", shape, data, sizeof data);
    size_t n, d, ld;
    float *x = load_ok(ctx, path, 1, &n, &d, &ld);
    assert_int_equal(n, m);
    assert_int_equal(ld, 16);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (bits_of(x[i * ld]) != bits_of(want[i]))
            fail_msg("f2 0x%04x -> %a, expected %a", in[i], (double)x[i * ld], (double)want[i]);
    assert_true(isnan(x[14 * ld]));
    assert_true(isnan(x[15 * ld]));
    free(x);
}

static void test_npy_convert_integers(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    size_t n, d, ld;
    float *x;

    const unsigned char u1[] = {0, 1, 127, 128, 255};
    write_npy(path, sizeof path, "npy_u1.npy", "|u1", "(1, 5)", u1, sizeof u1);
    x = load_ok(ctx, path, 0, &n, &d, &ld);
    const float u1w[] = {0, 1, 127, 128, 255};
    for (int i = 0; i < 5; i++) assert_true(x[i] == u1w[i]);
    free(x);

    const unsigned char i1[] = {0x80, 0xff, 0x00, 0x7f};
    write_npy(path, sizeof path, "npy_i1.npy", "|i1", "(2, 2)", i1, sizeof i1);
    x = load_ok(ctx, path, 0, &n, &d, &ld);
    const float i1w[] = {-128, -1, 0, 127};
    for (int i = 0; i < 4; i++) assert_true(x[i] == i1w[i]);
    free(x);

    unsigned char b16[8];
    put16(b16, 0x8000);
    put16(b16 + 2, 0x7fff);
    put16(b16 + 4, 0xffff);
    put16(b16 + 6, 1);
    write_npy(path, sizeof path, "npy_i2.npy", "<i2", "(2, 2)", b16, sizeof b16);
    x = load_ok(ctx, path, 0, &n, &d, &ld);
    const float i2w[] = {-32768, 32767, -1, 1};
    for (int i = 0; i < 4; i++) assert_true(x[i] == i2w[i]);
    free(x);
    write_npy(path, sizeof path, "npy_u2.npy", "<u2", "(2, 2)", b16, sizeof b16);
    x = load_ok(ctx, path, 0, &n, &d, &ld);
    const float u2w[] = {32768, 32767, 65535, 1};
    for (int i = 0; i < 4; i++) assert_true(x[i] == u2w[i]);
    free(x);

    unsigned char b32[12];
    put32(b32, 0x80000000u);
    put32(b32 + 4, 0x7fffffffu);
    put32(b32 + 8, 16777217u);
    write_npy(path, sizeof path, "npy_i4.npy", "<i4", "(3, 1)", b32, sizeof b32);
    x = load_ok(ctx, path, 0, &n, &d, &ld);
    assert_true(x[0] == -2147483648.0f);
    assert_true(x[1] == 2147483648.0f);
    assert_true(x[2] == 16777216.0f); /* 2^24 + 1 rounds to even */
    free(x);
    write_npy(path, sizeof path, "npy_u4.npy", "<u4", "(3, 1)", b32, sizeof b32);
    x = load_ok(ctx, path, 0, &n, &d, &ld);
    assert_true(x[0] == 2147483648.0f);
    assert_true(x[2] == 16777216.0f);
    free(x);

    unsigned char b64[40];
    put64(b64, (uint64_t)INT64_MIN);
    put64(b64 + 8, 123456789012ull);
    /* 2^60 + 2^36 + 1: rounding once gives 2^60 + 2^37; through double it would round twice
     * and give 2^60. */
    put64(b64 + 16, (1ull << 60) + (1ull << 36) + 1);
    put64(b64 + 24, (uint64_t)-7);
    put64(b64 + 32, 0);
    write_npy(path, sizeof path, "npy_i8.npy", "<i8", "(5, 1)", b64, sizeof b64);
    x = load_ok(ctx, path, 1, &n, &d, &ld);
    assert_int_equal(ld, 16);
    assert_true(x[0] == -0x1p63f);
    assert_true(x[ld] == 0x1.cbe992p36f);
    assert_true(x[2 * ld] == 0x1.000002p60f);
    assert_true(x[3 * ld] == -7.0f);
    assert_true(x[4 * ld] == 0.0f);
    free(x);
    put64(b64, UINT64_MAX);
    write_npy(path, sizeof path, "npy_u8.npy", "<u8", "(5, 1)", b64, sizeof b64);
    x = load_ok(ctx, path, 0, &n, &d, &ld);
    assert_true(x[0] == 0x1p64f);
    assert_true(x[2] == 0x1.000002p60f);
    assert_true(x[3] == 0x1p64f); /* 2^64 - 7 */
    free(x);
}

static void test_npy_matrix_padding(void **state) {
    assay_ctx *ctx = *state;
    const size_t dims[] = {1, 5, 15, 16, 17, 33};
    char path[1024], shape[32];
    for (size_t t = 0; t < sizeof dims / sizeof dims[0]; t++) {
        size_t dd = dims[t], rows = 3;
        unsigned char *data = malloc(rows * dd * 4);
        assert_non_null(data);
        for (size_t i = 0; i < rows * dd; i++) putf32(data + 4 * i, (float)i + 0.5f);
        snprintf(shape, sizeof shape, "(%zu, %zu)", rows, dd);
        write_npy(path, sizeof path, "npy_pad.npy", "<f4", shape, data, rows * dd * 4);
        free(data);
        for (int pad = 0; pad <= 1; pad++) {
            float *x = NULL;
            size_t n, d, ld;
            assay__npy_matrix_info info = {0, 0};
            assert_int_equal(assay__npy_load_matrix(ctx, path, pad, &x, &n, &d, &ld, &info),
                             ASSAY_OK);
            assert_int_equal(n, rows);
            assert_int_equal(d, dd);
            assert_int_equal(ld, pad ? (dd + 15) / 16 * 16 : dd);
            assert_int_equal(info.data_offset, 128);
            assert_int_equal(info.itemsize, 4);
            assert_int_equal((uintptr_t)x % 64, 0);
            for (size_t r = 0; r < rows; r++) {
                for (size_t c = 0; c < dd; c++)
                    assert_true(x[r * ld + c] == (float)(r * dd + c) + 0.5f);
                for (size_t c = dd; c < ld; c++) assert_true(bits_of(x[r * ld + c]) == 0);
            }
            free(x);
        }
    }
    /* A version 2 header (uint32 length field) loads the same way. */
    float v[2] = {1.0f, 2.0f};
    write_npy_v(path, sizeof path, "npy_v2.npy", 2,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", v, sizeof v);
    float *x = NULL;
    size_t n, d, ld;
    assay__npy_matrix_info info = {0, 0};
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, &info), ASSAY_OK);
    assert_int_equal(info.data_offset, 128);
    assert_true(x[0] == 1.0f && x[1] == 2.0f);
    free(x);
}

static void test_npy_matrix_shape_errors(void **state) {
    assay_ctx *ctx = *state;
    static const struct {
        const char *shape;
        assay_status s;
        const char *msg;
    } cases[] = {
        {"(5,)", ASSAY_E_SHAPE, "expected a 2-D array (rows, features), found 1-D shape (5,)"},
        {"(2, 3, 4)", ASSAY_E_SHAPE, "found 3-D shape (2, 3, 4)"},
        {"()", ASSAY_E_SHAPE, "found 0-D shape ()"},
        {"(0, 4)", ASSAY_E_FORMAT, "expected at least one row and one column, found shape (0, 4)"},
        {"(4, 0)", ASSAY_E_FORMAT, "found shape (4, 0)"},
    };
    unsigned char data[24 * 4] = {0};
    char path[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_npy(path, sizeof path, "npy_shape.npy", "<f4", cases[i].shape, data, sizeof data);
        float *x = NULL;
        size_t n = 99, d = 99, ld = 99;
        assay_status s = assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL);
        if (s != cases[i].s)
            fail_msg("%s: status %d: %s", cases[i].shape, (int)s, assay_ctx_errmsg(ctx));
        assert_null(x);
        assert_int_equal(n, 99);
        assert_starts_with(assay_ctx_errmsg(ctx), path);
        assert_contains(assay_ctx_errmsg(ctx), cases[i].msg);
    }
}

static void test_npy_truncated_data(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    static unsigned char data[1000];
    write_npy(path, sizeof path, "npy_trunc.npy", "<f4", "(1000, 768)", data, sizeof data);
    float *x = NULL;
    size_t n, d, ld;
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL), ASSAY_E_FORMAT);
    assert_null(x);
    char want[1200];
    snprintf(want, sizeof want,
             "%s: truncated: header says 1000x768 <f4 = 3072000 bytes of data, file has only 1000",
             path);
    assert_string_equal(assay_ctx_errmsg(ctx), want);

    /* One byte short is still short; exactly right and one byte long both load. */
    float v[6] = {1, 2, 3, 4, 5, 6};
    write_npy(path, sizeof path, "npy_trunc.npy", "<f4", "(2, 3)", v, sizeof v - 1);
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "2x3 <f4 = 24 bytes of data, file has only 23");
    unsigned char longer[25] = {0};
    memcpy(longer, v, sizeof v);
    write_npy(path, sizeof path, "npy_trunc.npy", "<f4", "(2, 3)", longer, sizeof longer);
    x = load_ok(ctx, path, 0, &n, &d, &ld);
    assert_true(x[5] == 6.0f);
    free(x);

    /* Same check for a column. */
    write_npy(path, sizeof path, "npy_trunc_col.npy", "<i8", "(10,)", data, 79);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx),
                    "header says 10 <i8 = 80 bytes of data, file has only 79");
    assert_null(col.i);
}

static void test_npy_missing_file(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    tu_path(path, sizeof path, "npy_does_not_exist.npy");
    remove(path);
    float *x = NULL;
    size_t n, d, ld;
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL), ASSAY_E_NOTFOUND);
    assert_starts_with(assay_ctx_errmsg(ctx), path);
    assert_contains(assay_ctx_errmsg(ctx), "No such file or directory");
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "cannot open");

    tu_path(path, sizeof path, "npy_dir.npy");
    mkdir(path, 0700);
    assert_int_equal(assay__npy_load_matrix(ctx, path, 1, &x, &n, &d, &ld, NULL), ASSAY_E_IO);
    assert_starts_with(assay_ctx_errmsg(ctx), path);
    assert_contains(assay_ctx_errmsg(ctx), "not a regular file");
}

/* ---- column loader ---- */

static void test_npy_column_1d(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    unsigned char b[16];
    put32(b, 3);
    put32(b + 4, (uint32_t)-1);
    put32(b + 8, 0);
    put32(b + 12, 2147483647u);
    write_npy(path, sizeof path, "npy_col_i4.npy", "<i4", "(4,)", b, sizeof b);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_OK);
    assert_int_equal(col.type, ASSAY__COL_INT);
    assert_int_equal(col.n, 4);
    assert_int_equal(col.i[0], 3);
    assert_int_equal(col.i[1], -1);
    assert_int_equal(col.i[2], 0);
    assert_int_equal(col.i[3], 2147483647);
    assert_string_equal(col.source, path);

    /* Loading into a used column replaces it (the old values are freed, ASan checks). */
    const unsigned char u1[] = {9, 200, 0};
    write_npy(path, sizeof path, "npy_col_u1.npy", "|u1", "(3,)", u1, sizeof u1);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_OK);
    assert_int_equal(col.n, 3);
    assert_int_equal(col.i[0], 9);
    assert_int_equal(col.i[1], 200);
    assert_string_equal(col.source, path);
    assay__column_free(&col);

    unsigned char b8[16];
    put64(b8, (uint64_t)INT64_MAX);
    put64(b8 + 8, 1ull << 63);
    write_npy(path, sizeof path, "npy_col_u8.npy", "<u8", "(2,)", b8, sizeof b8);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "row 1 is 9223372036854775808");
    assert_int_equal(col.type, ASSAY__COL_NONE);
    write_npy(path, sizeof path, "npy_col_u8.npy", "<u8", "(1,)", b8, 8);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_OK);
    assert_true(col.i[0] == INT64_MAX);
    assay__column_free(&col);

    write_npy(path, sizeof path, "npy_col_empty.npy", "<i8", "(0,)", b8, 0);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "expected at least one value, found shape (0,)");
}

static void test_npy_column_n1(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    unsigned char b[48] = {0};
    put64(b, (uint64_t)INT64_MIN);
    put64(b + 8, 42);
    put64(b + 16, (uint64_t)-42);
    write_npy(path, sizeof path, "npy_col_n1.npy", "<i8", "(3, 1)", b, 24);
    assay__column col;
    memset(&col, 0, sizeof col);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_OK);
    assert_int_equal(col.n, 3);
    assert_true(col.i[0] == INT64_MIN);
    assert_true(col.i[1] == 42);
    assert_true(col.i[2] == -42);
    assay__column_free(&col);

    write_npy(path, sizeof path, "npy_col_n2.npy", "<i8", "(3, 2)", b, sizeof b);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_SHAPE);
    assert_starts_with(assay_ctx_errmsg(ctx), path);
    assert_contains(assay_ctx_errmsg(ctx),
                    "expected a vector of shape (N,) or (N, 1), found shape (3, 2)");
    write_npy(path, sizeof path, "npy_col_0d.npy", "<i8", "()", b, 8);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_SHAPE);
    assert_contains(assay_ctx_errmsg(ctx), "found shape ()");
    assert_int_equal(col.type, ASSAY__COL_NONE);
}

static void test_npy_column_float_integral(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    assay__column col;
    memset(&col, 0, sizeof col);
    unsigned char b8[32];
    putf64(b8, 0.0);
    putf64(b8 + 8, -3.0);
    putf64(b8 + 16, 1e15);
    putf64(b8 + 24, -0.0);
    write_npy(path, sizeof path, "npy_col_f8.npy", "<f8", "(4,)", b8, sizeof b8);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_OK);
    assert_int_equal(col.type, ASSAY__COL_INT);
    assert_true(col.i[0] == 0 && col.i[1] == -3 && col.i[2] == 1000000000000000LL && col.i[3] == 0);
    assay__column_free(&col);

    unsigned char b4[8];
    putf32(b4, 7.0f);
    putf32(b4 + 4, 16777216.0f);
    write_npy(path, sizeof path, "npy_col_f4.npy", "<f4", "(2, 1)", b4, sizeof b4);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_OK);
    assert_true(col.i[0] == 7 && col.i[1] == 16777216);
    assay__column_free(&col);

    unsigned char b2[4];
    put16(b2, 0x4200);     /* 3.0 */
    put16(b2 + 2, 0xfbff); /* -65504 */
    write_npy(path, sizeof path, "npy_col_f2.npy", "<f2", "(2,)", b2, sizeof b2);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_OK);
    assert_true(col.i[0] == 3 && col.i[1] == -65504);
    assay__column_free(&col);
}

static void test_npy_column_float_nonintegral(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    assay__column col;
    memset(&col, 0, sizeof col);
    unsigned char b4[16];
    putf32(b4, 1.0f);
    putf32(b4 + 4, 2.0f);
    putf32(b4 + 8, 2.5f);
    putf32(b4 + 12, 3.7f);
    write_npy(path, sizeof path, "npy_col_frac.npy", "<f4", "(4,)", b4, sizeof b4);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_FORMAT);
    char want[1200];
    snprintf(want, sizeof want, "%s: row 2 is 2.5, not an integer: labels must be integers", path);
    assert_contains(assay_ctx_errmsg(ctx), want);
    assert_int_equal(col.type, ASSAY__COL_NONE);
    assert_null(col.i);

    unsigned char b8[16];
    putf64(b8, 4.0);
    putf64(b8 + 8, NAN);
    write_npy(path, sizeof path, "npy_col_nan.npy", "<f8", "(2,)", b8, sizeof b8);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "row 1 is nan, not an integer");
    putf64(b8 + 8, 0x1p63);
    write_npy(path, sizeof path, "npy_col_big.npy", "<f8", "(2,)", b8, sizeof b8);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "row 1 is 9.2233720368547758e+18");
    putf64(b8 + 8, -INFINITY);
    write_npy(path, sizeof path, "npy_col_inf.npy", "<f8", "(2,)", b8, sizeof b8);
    assert_int_equal(assay__npy_load_column(ctx, path, &col), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "row 1 is -inf");
}

/* ---- through the public API ---- */

static void test_npy_dataset_end_to_end(void **state) {
    assay_ctx *ctx = *state;
    enum { N = 6, D = 3 };
    unsigned char emb[N * D * 4];
    for (int i = 0; i < N * D; i++) putf32(emb + 4 * i, (float)(i * 0.25 - 1.0));
    const int64_t labels[N] = {1, 0, 1, 2, 1, 0};
    unsigned char lab[N * 8], ids[N * 4], pp[N * 3 * 8];
    for (int i = 0; i < N; i++) {
        put64(lab + 8 * i, (uint64_t)labels[i]);
        put32(ids + 4 * i, (uint32_t)(1000 + 7 * i));
        for (int c = 0; c < 3; c++) putf64(pp + 8 * (3 * i + c), c == labels[i] ? 0.8 : 0.1);
    }
    char emb_path[1024], lab_path[1024], ids_path[1024], pp_path[1024];
    write_npy(emb_path, sizeof emb_path, "npy_emb.npy", "<f4", "(6, 3)", emb, sizeof emb);
    write_npy(lab_path, sizeof lab_path, "npy_labels.npy", "<i8", "(6,)", lab, sizeof lab);
    write_npy(ids_path, sizeof ids_path, "npy_ids.npy", "<i4", "(6, 1)", ids, sizeof ids);
    write_npy(pp_path, sizeof pp_path, "npy_pp.npy", "<f8", "(6, 3)", pp, sizeof pp);

    assay_load_opts opts = ASSAY_LOAD_OPTS_INIT;
    opts.labels_file = lab_path;
    opts.ids_file = ids_path;
    opts.pred_probs_file = pp_path;
    assay_dataset *ds = NULL;
    assay_status s = assay_dataset_load(ctx, emb_path, &opts, &ds);
    if (s != ASSAY_OK) fail_msg("status %d: %s", (int)s, assay_ctx_errmsg(ctx));
    assert_int_equal(assay_dataset_format(ds), ASSAY_FORMAT_NPY);
    assert_int_equal(assay_dataset_rows(ds), N);
    assert_int_equal(assay_dataset_dims(ds), D);
    assert_int_equal(assay_dataset_classes(ds), 3);
    assert_string_equal(assay_dataset_class_label(ds, 0), "0");
    assert_string_equal(assay_dataset_class_label(ds, 1), "1");
    assert_string_equal(assay_dataset_class_label(ds, 2), "2");
    assert_int_equal(assay_dataset_class_count(ds, 0), 2);
    assert_int_equal(assay_dataset_class_count(ds, 1), 3);
    assert_int_equal(assay_dataset_class_count(ds, 2), 1);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(assay_dataset_row_class(ds, i), labels[i]);
        const float *row = assay_dataset_row(ds, i);
        assert_non_null(row);
        for (size_t c = 0; c < D; c++)
            assert_true(row[c] == (float)((double)(i * D + c) * 0.25 - 1.0));
        char id[32], want[32];
        assert_int_equal(assay_dataset_row_id(ds, i, id, sizeof id), ASSAY_OK);
        snprintf(want, sizeof want, "%zu", 1000 + 7 * i);
        assert_string_equal(id, want);
    }
    /* Where rows live in the file, for binary SARIF regions. */
    assert_int_equal(ds->npy_data_offset, 128);
    assert_int_equal(ds->npy_row_bytes, D * 4);
    assert_int_equal(ds->ld, 16);
    assert_int_equal(ds->pp_rows, N);
    assert_int_equal(ds->pp_cols, 3);
    assert_true(ds->pred_probs[3 * 3 + 2] == 0.8f);
    assert_true(ds->pred_probs[3 * 3 + 0] == 0.1f);
    assay_dataset_destroy(ds);
}

/* np.save(labels.astype(str)) and a bytes ids array, through the public loader. */
static void test_npy_dataset_text_labels_and_ids(void **state) {
    assay_ctx *ctx = *state;
    enum { N = 6, D = 3 };
    unsigned char emb[N * D * 4];
    for (int i = 0; i < N * D; i++) putf32(emb + 4 * i, (float)(i % 5));
    const char *labels[N] = {"cat", "dog", "cat", "bird", "dog", "cat"};
    unsigned char lab[N * 16] = {0};
    char ids[N * 6] = {0};
    for (int i = 0; i < N; i++) {
        for (size_t c = 0; labels[i][c]; c++) lab[16 * i + 4 * c] = (unsigned char)labels[i][c];
        snprintf(ids + 6 * i, 6, "img-%d", i); /* the NUL is the padding */
    }
    char emb_path[1024], lab_path[1024], ids_path[1024];
    write_npy(emb_path, sizeof emb_path, "npy_t_emb.npy", "<f4", "(6, 3)", emb, sizeof emb);
    write_npy(lab_path, sizeof lab_path, "npy_t_labels.npy", "<U4", "(6,)", lab, sizeof lab);
    write_npy(ids_path, sizeof ids_path, "npy_t_ids.npy", "|S6", "(6,)", ids, sizeof ids);
    assay_load_opts opts = ASSAY_LOAD_OPTS_INIT;
    opts.labels_file = lab_path;
    opts.ids_file = ids_path;
    assay_dataset *ds = NULL;
    assay_status s = assay_dataset_load(ctx, emb_path, &opts, &ds);
    if (s != ASSAY_OK) fail_msg("status %d: %s", (int)s, assay_ctx_errmsg(ctx));
    assert_int_equal(assay_dataset_classes(ds), 3);
    for (size_t i = 0; i < N; i++) {
        int32_t c = assay_dataset_row_class(ds, i);
        assert_string_equal(assay_dataset_class_label(ds, (size_t)c), labels[i]);
        char id[32], want[32];
        assert_int_equal(assay_dataset_row_id(ds, i, id, sizeof id), ASSAY_OK);
        snprintf(want, sizeof want, "img-%zu", i);
        assert_string_equal(id, want);
    }
    assay_dataset_destroy(ds);
    /* a text array as the embeddings is refused naming the file */
    opts.ids_file = NULL;
    assert_int_equal(assay_dataset_load(ctx, lab_path, &opts, &ds), ASSAY_E_UNSUPPORTED);
    assert_starts_with(assay_ctx_errmsg(ctx), lab_path);
    assert_contains(assay_ctx_errmsg(ctx), "string array");
}

static void test_npy_dataset_length_mismatch(void **state) {
    assay_ctx *ctx = *state;
    unsigned char emb[6 * 2 * 4] = {0};
    for (int i = 0; i < 12; i++) putf32(emb + 4 * i, (float)i);
    unsigned char lab[5 * 4] = {0};
    char emb_path[1024], lab_path[1024];
    write_npy(emb_path, sizeof emb_path, "npy_mm_emb.npy", "<f4", "(6, 2)", emb, sizeof emb);
    write_npy(lab_path, sizeof lab_path, "npy_mm_labels.npy", "<i4", "(5,)", lab, sizeof lab);
    assay_load_opts opts = ASSAY_LOAD_OPTS_INIT;
    opts.labels_file = lab_path;
    assay_dataset *ds = (assay_dataset *)&opts; /* must be reset to NULL on failure */
    assert_int_equal(assay_dataset_load(ctx, emb_path, &opts, &ds), ASSAY_E_SHAPE);
    assert_null(ds);
    assert_contains(assay_ctx_errmsg(ctx), lab_path);
    assert_contains(assay_ctx_errmsg(ctx), emb_path);
    assert_contains(assay_ctx_errmsg(ctx), "5 rows");
    assert_contains(assay_ctx_errmsg(ctx), "6 rows");

    /* A refused labels file surfaces its own message through the public API. */
    write_npy(lab_path, sizeof lab_path, "npy_mm_labels.npy", ">i4", "(6,)", emb, 24);
    assert_int_equal(assay_dataset_load(ctx, emb_path, &opts, &ds), ASSAY_E_UNSUPPORTED);
    assert_starts_with(assay_ctx_errmsg(ctx), lab_path);
    assert_contains(assay_ctx_errmsg(ctx), "astype('<i4')");
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_ctx, tu_teardown_ctx)
    const struct CMUnitTest tests[] = {
        T(test_npy_parse_v1),
        T(test_npy_parse_v2),
        T(test_npy_parse_v3),
        T(test_npy_parse_key_order_and_quotes),
        T(test_npy_parse_shapes),
        T(test_npy_parse_bad_version),
        T(test_npy_bad_magic),
        T(test_npy_truncated_header),
        T(test_npy_malformed_header),
        T(test_npy_shape_overflow),
        T(test_npy_refuse_object),
        T(test_npy_refuse_big_endian),
        T(test_npy_refuse_structured),
        T(test_npy_unicode_labels),
        T(test_npy_bytes_labels),
        T(test_npy_text_refusals),
        T(test_npy_text_embeddings_refused),
        T(test_npy_dataset_text_labels_and_ids),
        T(test_npy_refuse_bool_complex_other),
        T(test_npy_refuse_fortran),
        T(test_npy_convert_f4_exact),
        T(test_npy_convert_f8_rounding),
        T(test_npy_convert_f2),
        T(test_npy_convert_integers),
        T(test_npy_matrix_padding),
        T(test_npy_matrix_shape_errors),
        T(test_npy_truncated_data),
        T(test_npy_missing_file),
        T(test_npy_column_1d),
        T(test_npy_column_n1),
        T(test_npy_column_float_integral),
        T(test_npy_column_float_nonintegral),
        T(test_npy_dataset_end_to_end),
        T(test_npy_dataset_length_mismatch),
    };
#undef T
    return cmocka_run_group_tests_name("npy", tests, NULL, NULL);
}

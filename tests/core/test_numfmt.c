/* SPDX-License-Identifier: Apache-2.0 */
/* Shortest round-trip number text (core/numfmt.c): hand-checked edge cases, random doubles and
 * floats reading back bit for bit with no shorter text possible, and the JSON real rewrite. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "core/json_text.h"
#include "core/numfmt.h"
#include "core/stats.h"

static void expect_double(double v, const char *want) {
    char buf[ASSAY__NUM_BUF];
    size_t n = assay__fmt_double(buf, v);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void expect_float(float v, const char *want) {
    char buf[ASSAY__NUM_BUF];
    size_t n = assay__fmt_float(buf, v);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_numfmt_double_edges(void **state) {
    (void)state;
    expect_double(0.0, "0");
    expect_double(-0.0, "-0");
    expect_double(0.1, "0.1");
    expect_double(0.7, "0.7");
    expect_double(1.0 / 3.0, "0.3333333333333333");
    expect_double(2.0 / 3.0, "0.6666666666666666");
    expect_double(0.1 + 0.2, "0.30000000000000004");
    expect_double(1.0, "1");
    expect_double(-1.5, "-1.5");
    expect_double(123456.0, "123456");
    expect_double(1e16, "10000000000000000");
    expect_double(1e17, "1e17");
    expect_double(0.0001, "0.0001");
    expect_double(0.00001, "1e-5");
    expect_double(1e300, "1e300");
    expect_double(-1e-300, "-1e-300");
    expect_double(DBL_MAX, "1.7976931348623157e308");
    expect_double(DBL_MIN, "2.2250738585072014e-308");
    expect_double(DBL_TRUE_MIN, "5e-324"); /* the smallest subnormal */
    expect_double(9007199254740993.0, "9007199254740992");
    expect_double(NAN, "nan");
    expect_double(INFINITY, "inf");
    expect_double(-INFINITY, "-inf");
    assert_string_equal(assay__num(0.05).s, "0.05");
}

static void test_numfmt_float_edges(void **state) {
    (void)state;
    expect_float(0.0f, "0");
    expect_float(-0.0f, "-0");
    expect_float(0.1f, "0.1"); /* the double 0.1f is 0.10000000149011612 */
    expect_float(0.7f, "0.7");
    expect_float(1.0f / 3.0f, "0.33333334");
    expect_float(FLT_MAX, "3.4028235e38");
    expect_float(FLT_MIN, "1.1754944e-38");
    expect_float(FLT_TRUE_MIN, "1e-45");
    expect_float(16777216.0f, "16777216");
    expect_float(0.5f, "0.5");
    expect_float(NAN, "nan");
    /* stored in JSON as the double nearest the float's text */
    assert_true(assay__float_as_double(0.1f) == 0.1);
    assert_true(isnan(assay__float_as_double(NAN)));
}

/* Significant digits of text (exponent, sign, point and zeros at either end not counted). */
static int sig_digits(const char *s) {
    int n = 0, lead = 1, zeros = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (lead && *s == '0') continue;
        lead = 0;
        n++;
        zeros = *s == '0' ? zeros + 1 : 0;
    }
    return n - zeros > 0 ? n - zeros : 1;
}

static uint64_t bits_of(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static void check_double(double v) {
    char buf[ASSAY__NUM_BUF], t[64];
    assay__fmt_double(buf, v);
    assert_true(bits_of(strtod(buf, NULL)) == bits_of(v)); /* -0 included */
    int d = sig_digits(buf);
    snprintf(t, sizeof t, "%.17g", v);
    assert_true(strlen(buf) <= strlen(t) + 1);
    /* no text with fewer digits reads back (the nearest one of each length is tried) */
    if (d > 1) {
        snprintf(t, sizeof t, "%.*e", d - 2, v);
        assert_true(strtod(t, NULL) != v);
    }
}

static void test_numfmt_random_doubles(void **state) {
    (void)state;
    assay__rng r = assay__rng_seed(20261207, 1);
    size_t shorter = 0, n = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t u = assay__rng_next(&r);
        double v;
        memcpy(&v, &u, sizeof v); /* any bit pattern: subnormals and huge values included */
        if (!isfinite(v)) continue;
        check_double(v);
        double w = assay__rng_uniform(&r) * pow(10.0, (double)(int)(u % 40) - 20.0);
        check_double(w);
        /* values with few digits, as a user or a threshold writes them */
        double x = (double)(u % 100000) / 1000.0;
        check_double(x);
        char a[ASSAY__NUM_BUF], b[64];
        assay__fmt_double(a, x);
        snprintf(b, sizeof b, "%.17g", x);
        shorter += strlen(a) < strlen(b);
        n++;
    }
    assert_true(shorter > n / 2); /* most such values are shorter than at 17 digits */
}

static void test_numfmt_random_floats(void **state) {
    (void)state;
    assay__rng r = assay__rng_seed(20261207, 2);
    for (int i = 0; i < 100000; i++) {
        uint32_t u = (uint32_t)assay__rng_next(&r);
        float v;
        memcpy(&v, &u, sizeof v);
        if (!isfinite(v)) continue;
        char buf[ASSAY__NUM_BUF], t[64], again[ASSAY__NUM_BUF];
        assay__fmt_float(buf, v);
        float back = strtof(buf, NULL);
        assert_memory_equal(&back, &v, sizeof v);
        int d = sig_digits(buf);
        assert_true(d <= 9);
        if (d > 1) {
            snprintf(t, sizeof t, "%.*e", d - 2, (double)v);
            assert_true(strtof(t, NULL) != v);
        }
        /* a float stored in JSON as a double writes the float's text */
        assay__fmt_double(again, assay__float_as_double(v));
        assert_string_equal(again, buf);
    }
}

/* Consecutive floats where the scores live, and their doubles: every one reads back exactly. */
static void test_numfmt_consecutive(void **state) {
    (void)state;
    float v = 0.1f;
    double w = 0.7;
    for (int i = 0; i < 300000; i++, v = nextafterf(v, 1.0f), w = nextafter(w, 1.0)) {
        char buf[ASSAY__NUM_BUF];
        assay__fmt_float(buf, v);
        assert_true(strtof(buf, NULL) == v);
        assay__fmt_double(buf, w);
        assert_true(strtod(buf, NULL) == w);
    }
}

static void test_numfmt_json_rewrite(void **state) {
    (void)state;
    char text[] = "{\"a\":0.69999999999999996,\"s\":\"0.10000000000000001 \\\" 1.0 \\\\\","
                  "\"c\":[1,-2,1.0,1e+300,-0.0,2.5000000000000001e-05,10000000000000000.0,"
                  "0.30000000000000004,5e-324],\"k 0.5\":-12}";
    assert_string_equal(assay__json_shortest_reals(text),
                        "{\"a\":0.7,\"s\":\"0.10000000000000001 \\\" 1.0 \\\\\","
                        "\"c\":[1,-2,1.0,1e300,-0.0,2.5e-5,10000000000000000.0,"
                        "0.30000000000000004,5e-324],\"k 0.5\":-12}");
    /* through jansson: reals stay reals, integers integers, floats their float text */
    json_t *doc = json_pack("{s:f, s:f, s:I, s:o, s:o, s:o}", "a", 0.7, "b", 1.0, "c",
                            (json_int_t)3, "d", assay__json_float(0.1f), "e", assay__json_num(NAN),
                            "f", assay__json_float(INFINITY));
    char *out = assay__json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(out);
    assert_string_equal(out, "{\"a\":0.7,\"b\":1.0,\"c\":3,\"d\":0.1,\"e\":null,\"f\":null}");
    free(out);
    json_decref(doc);
    /* a double holding a float32 value writes the float's text; any other double its own */
    doc = json_pack("[o, o, o, o]", assay__json_num_f32((double)0.9f), assay__json_num_f32(0.9),
                    assay__json_num_f32(1.0 / 3.0), assay__json_num_f32(1e300));
    out = assay__json_dumps(doc, JSON_COMPACT);
    assert_string_equal(out, "[0.9,0.9,0.3333333333333333,1e300]");
    free(out);
    json_decref(doc);
}

/* The streamed rewrite gives the in-place one's text whatever the chunks: split at every
 * position and in chunks of every size up to 9, across strings, escapes, number tokens and one
 * of 64+ characters (left as is) next to one of 63 (rewritten). */
typedef struct grow {
    char buf[1024];
    size_t n;
} grow;

static int grow_emit(const char *s, size_t n, void *user) {
    grow *g = user;
    if (g->n + n >= sizeof g->buf) return -1;
    memcpy(g->buf + g->n, s, n);
    g->n += n;
    return 0;
}

static void test_numfmt_json_rewrite_in_chunks(void **state) {
    (void)state;
    char long_tok[80], just_fits[64];
    memset(long_tok, '1', 70);
    memcpy(long_tok, "0.", 2);
    long_tok[70] = '\0';
    memset(just_fits, '3', 63);
    memcpy(just_fits, "0.", 2);
    just_fits[63] = '\0';
    char text[600];
    snprintf(text, sizeof text,
             "{\"a\":0.69999999999999996,\"s\":\"0.10000000000000001 \\\" 1.0 \\\\\","
             "\"c\":[1,-2,1.0,1e+300,-0.0,2.5000000000000001e-05,%s,%s,true,null],"
             "\"k 0.5\":-12}",
             long_tok, just_fits);
    char expect[600];
    memcpy(expect, text, sizeof text);
    assay__json_shortest_reals(expect);
    assert_non_null(strstr(expect, long_tok)); /* 70 characters: as is */
    assert_null(strstr(expect, just_fits));    /* 63: rewritten */
    char literal[600]; /* the rewrite written out, so the two forms cannot agree on a wrong text */
    snprintf(literal, sizeof literal,
             "{\"a\":0.7,\"s\":\"0.10000000000000001 \\\" 1.0 \\\\\","
             "\"c\":[1,-2,1.0,1e300,-0.0,2.5e-5,%s,0.3333333333333333,true,null],"
             "\"k 0.5\":-12}",
             long_tok);
    assert_string_equal(expect, literal);
    size_t n = strlen(text);
    for (size_t step = 1; step <= 9; step++)
        for (size_t first = 0; first <= n; first++) {
            grow g = {{0}, 0};
            assay__reals_filter f = {.emit = grow_emit, .user = &g};
            assay__reals_filter_feed(&f, text, first);
            for (size_t at = first; at < n; at += step)
                assay__reals_filter_feed(&f, text + at, at + step <= n ? step : n - at);
            assert_int_equal(assay__reals_filter_end(&f), 0);
            g.buf[g.n] = '\0';
            assert_string_equal(g.buf, expect);
        }
    /* a failed write is reported, and nothing more is written after it */
    grow g = {{0}, sizeof g.buf - 4};
    assay__reals_filter f = {.emit = grow_emit, .user = &g};
    assay__reals_filter_feed(&f, text, n);
    assert_int_equal(assay__reals_filter_end(&f), -1);
    /* a document written to a file is the string assay__json_dumps gives */
    json_t *doc = json_pack("{s:f, s:[f, f, s], s:I}", "a", 0.7, "b", 1e-5, 2.0 / 3.0,
                            "0.30000000000000004", "c", (json_int_t)12);
    char *whole = assay__json_dumps(doc, JSON_INDENT(2)), *streamed = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&streamed, &len);
    assert_int_equal(assay__json_dumpf(doc, mem, JSON_INDENT(2)), 0);
    fclose(mem);
    assert_string_equal(streamed, whole);
    free(whole);
    free(streamed);
    json_decref(doc);
}

/* Sign, significant digits without leading or trailing zeros, and the decimal exponent of the
 * first one: the number a text names, whatever its layout. */
static void canon(const char *t, char *out, size_t len) {
    int neg = *t == '-', e = 0, seen = 0, point = 0;
    char dg[64];
    size_t n = 0;
    for (t += neg; *t && *t != 'e' && *t != 'E'; t++) {
        if (*t == '.') {
            point = 1;
            continue;
        }
        if (!seen && *t == '0') {
            if (point) e--;
            continue;
        }
        if (!seen) seen = 1, e--; /* counted below: one per digit before the point */
        if (!point) e++;
        if (n < sizeof dg - 1) dg[n++] = *t;
    }
    if (*t) e += atoi(t + 1);
    while (n > 0 && dg[n - 1] == '0') n--;
    dg[n] = '\0';
    snprintf(out, len, "%s%s@%d", neg ? "-" : "", n ? dg : "0", n ? e : 0);
}

/* The digits printf gives at the first precision from `lo` that reads back: what the text must
 * name (the formatter gets its digits without printf where that is exact, and must agree). */
static void expect_as_printf(double v, int is_float) {
    char t[64], want[80], got[80], buf[ASSAY__NUM_BUF];
    int lo = is_float ? 6 : 15, most = is_float ? 9 : 17;
    for (int p = lo; p <= most; p++) {
        snprintf(t, sizeof t, "%.*e", p - 1, v);
        if (is_float ? strtof(t, NULL) == (float)v : strtod(t, NULL) == v) break;
    }
    canon(t, want, sizeof want);
    if (is_float)
        assay__fmt_float(buf, (float)v);
    else
        assay__fmt_double(buf, v);
    canon(buf, got, sizeof got);
    if (strcmp(want, got) != 0) fprintf(stderr, "%a: printf %s, formatter %s\n", v, t, buf);
    assert_string_equal(got, want);
}

/* Near powers of ten, at exact and near ties of the last printed digit, and random values of
 * every magnitude the fast digit paths take: the same digits as printf. */
static void test_numfmt_digits_as_printf(void **state) {
    (void)state;
    for (int k = -30; k <= 30; k++) {
        float f = (float)pow(10.0, k), g = f;
        double d = pow(10.0, k), h = d;
        for (int i = 0; i < 300; i++) {
            expect_as_printf(f, 1), expect_as_printf(g, 1);
            expect_as_printf(d, 0), expect_as_printf(h, 0);
            f = nextafterf(f, 0.0f), g = nextafterf(g, INFINITY);
            d = nextafter(d, 0.0), h = nextafter(h, INFINITY);
        }
    }
    for (int i = 1; i < 200000; i += 7) {
        expect_as_printf((float)i + 0.5f, 1);             /* exact ties in the last digits */
        expect_as_printf((float)i * 1024.0f + 512.0f, 1); /* 10-digit values, ties at 9 */
        expect_as_printf((double)i * 1e9 + 0.5, 0);
        expect_as_printf((double)i * 123456789.5, 0);
        /* exact ties at the last digit printed (9 for a float, 17 for a double): printf rounds
         * them to even, a rounded product cannot tell them from near ties */
        expect_as_printf((float)(1048576 + i) + 0.125f, 1);
        expect_as_printf((float)(1048576 + i) + 0.375f, 1);
        expect_as_printf((double)(i % 1000 + 1) * 1e12 + 0.625, 0);
        expect_as_printf((double)(i % 1000 + 1) * 1e12 + 0.375, 0);
    }
    assay__rng r = assay__rng_seed(20261207, 4);
    for (int i = 0; i < 200000; i++) {
        double m = assay__rng_uniform(&r) * pow(10.0, (double)(int)(assay__rng_next(&r) % 60) - 30);
        expect_as_printf((float)m, 1);
        expect_as_printf(m, 0);
        expect_as_printf(-m, 0);
    }
}

/* Every real of a dumped document reads back to the same double, at any size. */
static void test_numfmt_json_round_trip(void **state) {
    (void)state;
    assay__rng r = assay__rng_seed(7, 3);
    json_t *arr = json_array();
    for (int i = 0; i < 5000; i++) {
        uint64_t u = assay__rng_next(&r);
        double v;
        memcpy(&v, &u, sizeof v);
        json_array_append_new(arr, isfinite(v) ? json_real(v) : json_real(0.25));
    }
    char *out = assay__json_dumps(arr, JSON_COMPACT);
    json_error_t err;
    json_t *back = json_loads(out, 0, &err);
    assert_non_null(back);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        assert_true(json_is_real(json_array_get(back, i)));
        assert_true(bits_of(json_real_value(json_array_get(back, i))) ==
                    bits_of(json_real_value(json_array_get(arr, i))));
    }
    free(out);
    json_decref(back);
    json_decref(arr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numfmt_double_edges),
        cmocka_unit_test(test_numfmt_float_edges),
        cmocka_unit_test(test_numfmt_random_doubles),
        cmocka_unit_test(test_numfmt_random_floats),
        cmocka_unit_test(test_numfmt_consecutive),
        cmocka_unit_test(test_numfmt_json_rewrite),
        cmocka_unit_test(test_numfmt_json_rewrite_in_chunks),
        cmocka_unit_test(test_numfmt_json_round_trip),
        cmocka_unit_test(test_numfmt_digits_as_printf),
    };
    return cmocka_run_group_tests_name("numfmt", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The id list of --trusted-ids, parsed from buffers: trimming, comments, blank lines, CRLF, no
 * final newline; a NUL byte and an overlong id are errors naming the line; a file that is not a
 * regular file, or is missing, is refused. */
#include <string.h>

#include "test_util.h"

#include "io/id_list.h"

static void parse_ok(const char *text, size_t len, size_t want_n, const char *const *want) {
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assay__id_list l;
    assert_int_equal(assay__id_list_parse(ctx, text, len, "ids.txt", &l), ASSAY_OK);
    assert_int_equal(l.n, want_n);
    for (size_t i = 0; i < want_n; i++) assert_string_equal(l.id[i], want[i]);
    assay__id_list_free(&l);
    assay_ctx_destroy(ctx);
}

static void test_id_list_lines(void **state) {
    (void)state;
    const char text[] = "# trusted rows\n 17 \r\nimg_004.png\n\n\t#not a comment? no: a comment\n"
                        "a b\nlast";
    const char *const want[] = {"17", "img_004.png", "a b", "last"};
    parse_ok(text, sizeof text - 1, 4, want);
    parse_ok("", 0, 0, NULL);
    parse_ok("\n\n  \r\n", 5, 0, NULL);
}

static void test_id_list_refusals(void **state) {
    (void)state;
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assay__id_list l;
    const char nul[] = "1\n2\n3\0x\n";
    assert_int_equal(assay__id_list_parse(ctx, nul, sizeof nul - 1, "ids.txt", &l), ASSAY_E_FORMAT);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "ids.txt:3"));
    assert_int_equal(l.n, 0);
    size_t big = ASSAY__ID_MAX + 10;
    char *longline = malloc(big + 3);
    memcpy(longline, "a\n", 2);
    memset(longline + 2, 'x', big);
    assert_int_equal(assay__id_list_parse(ctx, longline, big + 2, "ids.txt", &l), ASSAY_E_LIMIT);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "ids.txt:2"));
    free(longline);
    assert_int_equal(assay__id_list_read(ctx, "/nonexistent/ids.txt", &l), ASSAY_E_NOTFOUND);
    assert_int_equal(assay__id_list_read(ctx, "/dev/zero", &l), ASSAY_E_IO);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "not a regular file"));
    assay_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_list_lines),
        cmocka_unit_test(test_id_list_refusals),
    };
    return cmocka_run_group_tests_name("id_list", tests, NULL, NULL);
}

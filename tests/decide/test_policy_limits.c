/* SPDX-License-Identifier: Apache-2.0 */
/* The `limits:` section of a policy (docs/limits.md): its keys in a file, as flags and as
 * ASSAY_MAX_* variables with flag > variable > file, byte counts with K/M/G/T suffixes, the
 * refusals of bad values and unknown keys, the effective policy and the sources, and
 * assay_policy_apply_limits: only the keys something set replace the context's limits. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "test_util.h"

#include "decide/policy_internal.h"

static const char *policy_file(const char *tag, const char *text) {
    static char path[4][1024];
    static int next;
    char *p = path[next++ % 4];
    tu_path(p, 1024, "policy_limits_%s.yml", tag);
    tu_write_text(p, text);
    return p;
}

static void test_limits_from_file_env_and_flags(void **state) {
    assay_ctx *ctx = *state;
    assay_policy *p = NULL;
    assert_int_equal(assay_policy_create(ctx, &p), ASSAY_OK);
    const char *path = policy_file("all", "version: 1\n"
                                          "limits:\n"
                                          "  max-file-size: 2G\n"
                                          "  max-rows: 1000\n"
                                          "  max-dims: 512\n"
                                          "  max-field-bytes: 64K\n"
                                          "  max-line-bytes: 1M\n"
                                          "  max-label-bytes: 100\n"
                                          "  max-depth: 16\n");
    assert_int_equal(assay_policy_load_file(ctx, p, path), ASSAY_OK);
    setenv("ASSAY_MAX_ROWS", "2000", 1);
    setenv("ASSAY_MAX_DIMS", "256", 1);
    assert_int_equal(assay_policy_load_env(ctx, p), ASSAY_OK);
    unsetenv("ASSAY_MAX_ROWS");
    unsetenv("ASSAY_MAX_DIMS");
    assert_int_equal(assay_policy_set_option(ctx, p, "max-rows", "3000", ASSAY_SRC_FLAG), ASSAY_OK);
    assert_int_equal(assay_policy_set_option(ctx, p, "max-label-bytes", "1k", ASSAY_SRC_FLAG),
                     ASSAY_OK);

    assert_int_equal(assay_policy_apply_limits(ctx, p), ASSAY_OK);
    const assay_limits *l = assay_ctx_limits(ctx);
    assert_int_equal(l->max_file_bytes, 2ull << 30); /* file */
    assert_int_equal(l->max_rows, 3000);             /* flag over variable over file */
    assert_int_equal(l->max_dims, 256);              /* variable over file */
    assert_int_equal(l->max_field_bytes, 64 * 1024); /* file, suffix */
    assert_int_equal(l->max_line_bytes, 1 << 20);    /* file */
    assert_int_equal(l->max_label_bytes, 1024);      /* flag, lower-case suffix */
    assert_int_equal(l->max_depth, 16);              /* file */

    json_t *src = assay__policy_sources(p);
    assert_string_equal(json_string_value(json_object_get(src, "limits.max-rows")), "flag");
    assert_string_equal(json_string_value(json_object_get(src, "limits.max-dims")), "env");
    assert_string_equal(json_string_value(json_object_get(src, "limits.max-depth")), "file");
    json_decref(src);
    json_t *eff = assay__policy_effective(p);
    json_t *lim = json_object_get(eff, "limits");
    assert_int_equal(json_integer_value(json_object_get(lim, "max-rows")), 3000);
    assert_int_equal(json_integer_value(json_object_get(lim, "max-file-size")), 2ll << 30);
    json_decref(eff);
    assay_policy_destroy(p);
}

/* A policy that sets nothing keeps what the caller gave the context. */
static void test_apply_keeps_unset_limits(void **state) {
    assay_ctx *ctx = *state;
    assay_limits l;
    assay_limits_default(&l);
    l.max_rows = 77;
    l.max_dims = 88;
    assert_int_equal(assay_ctx_set_limits(ctx, &l), ASSAY_OK);
    assay_policy *p = NULL;
    assert_int_equal(assay_policy_create(ctx, &p), ASSAY_OK);
    assert_int_equal(assay_policy_set_option(ctx, p, "max-dims", "99", ASSAY_SRC_FLAG), ASSAY_OK);
    assert_int_equal(assay_policy_apply_limits(ctx, p), ASSAY_OK);
    assert_int_equal(assay_ctx_limits(ctx)->max_rows, 77);
    assert_int_equal(assay_ctx_limits(ctx)->max_dims, 99);
    assay_policy_destroy(p);
}

static void test_bad_limit_values(void **state) {
    assay_ctx *ctx = *state;
    assay_policy *p = NULL;
    assert_int_equal(assay_policy_create(ctx, &p), ASSAY_OK);
    static const struct {
        const char *name, *value, *msg;
    } bad[] = {
        {"max-rows", "0", "--max-rows expects an integer from 1 to"},
        {"max-rows", "1k", "--max-rows expects an integer"},
        {"max-rows", "-5", "got '-5'"},
        {"max-file-size", "12X", "--max-file-size expects a byte count"},
        {"max-file-size", "G", "got 'G'"},
        {"max-file-size", "1.5", "got '1.5'"},
        {"max-field-bytes", "2000000T", "from 1 to 1152921504606846976"},
        {"max-dims", "4294967296", "--max-dims expects an integer from 1 to 2147483646"},
        {"max-depth", "0", "--max-depth expects"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(assay_policy_set_option(ctx, p, bad[i].name, bad[i].value, ASSAY_SRC_FLAG),
                         ASSAY_E_INVAL);
        assert_contains(assay_ctx_errmsg(ctx), bad[i].msg);
    }
    /* fractions are fine with a suffix: 1.5K = 1536 */
    assert_int_equal(assay_policy_set_option(ctx, p, "max-field-bytes", "1.5K", ASSAY_SRC_FLAG),
                     ASSAY_OK);
    assert_int_equal(assay__policy_limit(p, 3), 1536);
    assay_policy_destroy(p);

    /* in a file: the place and the key */
    const char *path = policy_file("bad", "version: 1\nlimits:\n  max-rows: lots\n");
    assert_int_equal(assay_policy_create(ctx, &p), ASSAY_OK);
    assert_int_equal(assay_policy_load_file(ctx, p, path), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "policy_limits_bad.yml:3");
    assert_contains(assay_ctx_errmsg(ctx), "limits.max-rows");
    assay_policy_destroy(p);
    path = policy_file("unknown", "version: 1\nlimits:\n  max-row: 5\n");
    assert_int_equal(assay_policy_create(ctx, &p), ASSAY_OK);
    assert_int_equal(assay_policy_load_file(ctx, p, path), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "limits.max-row");
    assert_contains(assay_ctx_errmsg(ctx), "max-rows");
    assay_policy_destroy(p);
    path = policy_file("scalar", "version: 1\nlimits: 5\n");
    assert_int_equal(assay_policy_create(ctx, &p), ASSAY_OK);
    assert_int_equal(assay_policy_load_file(ctx, p, path), ASSAY_E_FORMAT);
    assay_policy_destroy(p);
}

static int setup(void **state) {
    assay_ctx *ctx = NULL;
    if (assay_ctx_create(&ctx, NULL) != ASSAY_OK) return -1;
    *state = ctx;
    return 0;
}

static int teardown(void **state) {
    assay_ctx_destroy(*state);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_from_file_env_and_flags),
        cmocka_unit_test(test_apply_keeps_unset_limits),
        cmocka_unit_test(test_bad_limit_values),
    };
    return cmocka_run_group_tests_name("policy_limits", tests, setup, teardown);
}

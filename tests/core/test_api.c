/* SPDX-License-Identifier: Apache-2.0 */
/* The public API contract: status strings and classes, NULL handling, destroy(NULL), option
 * validation, the ISA choice and its environment override, names and their parsers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "assay/assay.h"
#include "core/dispatch.h"
#include "core/internal.h"

static void test_api_status_strings_and_classes(void **state) {
    (void)state;
    assert_string_equal(assay_status_str(ASSAY_OK), "success");
    assert_string_equal(assay_status_str(ASSAY_E_FORMAT), "malformed input file");
    assert_string_equal(assay_status_str((assay_status)999), "unknown status");
    /* exit code 2 for bad input, 3 for the tool or the machine */
    assert_true(assay_status_is_input_error(ASSAY_E_FORMAT));
    assert_true(assay_status_is_input_error(ASSAY_E_NOTFOUND));
    assert_true(assay_status_is_input_error(ASSAY_E_SHAPE));
    assert_true(assay_status_is_input_error(ASSAY_E_IO));
    assert_false(assay_status_is_input_error(ASSAY_E_NOMEM));
    assert_false(assay_status_is_input_error(ASSAY_E_INTERNAL));
    assert_false(assay_status_is_input_error(ASSAY_OK));
    /* pinned values */
    assert_int_equal(ASSAY_E_INVAL, 1);
    assert_int_equal(ASSAY_E_HDF5, 9);
}

static void test_api_null_handling(void **state) {
    (void)state;
    assay_ctx_destroy(NULL);
    assay_dataset_destroy(NULL);
    assay_result_destroy(NULL);
    assert_string_equal(assay_ctx_errmsg(NULL), "");
    assert_int_equal(assay_ctx_create(NULL, NULL), ASSAY_E_INVAL);
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assert_true(assay_ctx_threads(ctx) >= 1);
    assert_string_equal(assay_ctx_errmsg(ctx), "");
    assay_dataset *ds = (assay_dataset *)&ds;
    assert_int_equal(assay_dataset_load(ctx, NULL, NULL, &ds), ASSAY_E_INVAL);
    assert_null(ds);
    assay_result *res = (assay_result *)&res;
    assert_int_equal(assay_scan(ctx, NULL, NULL, &res), ASSAY_E_INVAL);
    assert_null(res);
    assert_true(isnan(assay_result_score(NULL, 0)));
    assert_int_equal(assay_dataset_rows(NULL), 0);
    char buf[65];
    assert_int_equal(assay_dataset_digest_hex(NULL, buf, sizeof buf), ASSAY_E_INVAL);
    assay_ctx_destroy(ctx);
}

static void test_api_options_are_validated(void **state) {
    (void)state;
    assay_ctx *ctx = NULL;
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = -1;
    assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_E_INVAL);
    assert_null(ctx);
    o.n_threads = 3;
    assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_OK);
    assert_int_equal(assay_ctx_threads(ctx), 3);
    assay_ctx_destroy(ctx);
}

static int no_exchange(void *user, const void *send, const size_t *sc, const size_t *so, void *recv,
                       const size_t *rc, const size_t *ro) {
    (void)user, (void)send, (void)sc, (void)so, (void)recv, (void)rc, (void)ro;
    return 1;
}

/* Ranks: one process unless set; a rank outside [0, size), several ranks without an exchange or
 * a negative thread count are refused and leave the context as it was; NULL is one process. */
static void test_api_ranks_are_validated(void **state) {
    (void)state;
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assert_int_equal(assay_ctx_rank(ctx), 0);
    assert_int_equal(assay_ctx_ranks(ctx), 1);
    const assay_ranks bad[] = {{2, 2, NULL, no_exchange, 0},
                               {-1, 2, NULL, no_exchange, 0},
                               {0, 0, NULL, no_exchange, 0},
                               {1, 3, NULL, NULL, 0},
                               {1, 3, NULL, no_exchange, -2}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(assay_ctx_set_ranks(ctx, &bad[i]), ASSAY_E_INVAL);
        assert_int_equal(assay_ctx_ranks(ctx), 1);
    }
    const assay_ranks ok = {1, 3, NULL, no_exchange, 4};
    assert_int_equal(assay_ctx_set_ranks(ctx, &ok), ASSAY_OK);
    assert_int_equal(assay_ctx_rank(ctx), 1);
    assert_int_equal(assay_ctx_ranks(ctx), 3);
    assert_int_equal(assay_ctx_set_ranks(ctx, NULL), ASSAY_OK);
    assert_int_equal(assay_ctx_ranks(ctx), 1);
    assert_int_equal(assay_ctx_rank(ctx), 0);
    assay_ctx_destroy(ctx);
}

/* --memory-limit's pieces: the size parser, the limit's validation, and bulk memory in a scratch
 * file, whose contents survive its pages being given back (written or not). */
static void test_api_memory_limit(void **state) {
    (void)state;
    uint64_t v = 0;
    const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {{"123", 123},
                {"64K", 65536},
                {"512M", (uint64_t)512 << 20},
                {"2G", (uint64_t)2 << 30},
                {"1.5GiB", (uint64_t)3 << 29},
                {"3kB", 3072}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(assay_size_parse(good[i].text, &v), ASSAY_OK);
        assert_true(v == good[i].bytes);
    }
    const char *bad[] = {"", "abc", "1.5", "-1G", "64Q", "12 M", "1e30T", "G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(assay_size_parse(bad[i], &v), ASSAY_E_INVAL);

    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assert_true(assay_ctx_memory_limit(ctx) == 0);
    assert_int_equal(assay_ctx_set_memory_limit(ctx, (uint64_t)10 << 20, NULL), ASSAY_E_INVAL);
    assert_true(assay_ctx_memory_limit(ctx) == 0);
    char dir[] = "/tmp/assay-bulk-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(assay_ctx_set_memory_limit(ctx, ASSAY_MEMORY_LIMIT_MIN, dir), ASSAY_OK);
    assert_true(assay_ctx_memory_limit(ctx) == ASSAY_MEMORY_LIMIT_MIN);

    /* 4 MiB (bulk: a scratch file), filled, given back, read; rewritten, given back, read. */
    size_t n = (size_t)1 << 20;
    void *p = NULL;
    assert_int_equal(assay__bulk_alloc(ctx, n * sizeof(uint32_t), "a test array", &p), ASSAY_OK);
    uint32_t *a = p;
    for (size_t i = 0; i < n; i++) a[i] = (uint32_t)(i * 2654435761u);
    size_t trims = assay__resident_trims();
    assay__resident_trim();
    assert_true(assay__resident_trims() == trims + 1);
    for (size_t i = 0; i < n; i++) assert_true(a[i] == (uint32_t)(i * 2654435761u));
    for (size_t i = 0; i < n; i += 1024) a[i] = (uint32_t)i;
    assay__resident_trim();
    for (size_t i = 0; i < n; i++)
        assert_true(a[i] == (i % 1024 == 0 ? (uint32_t)i : (uint32_t)(i * 2654435761u)));
    assay__bulk_free(a);
    /* small arrays stay on the heap; bulk_free takes them too */
    assert_int_equal(assay__bulk_alloc(ctx, 4096, "a small array", &p), ASSAY_OK);
    assay__bulk_free(p);
    /* the scratch folder holds nothing afterwards: the files had no name */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rmdir %s", dir);
    assert_int_equal(system(cmd), 0);

    /* a scratch folder that does not exist: an error naming it and the option */
    assert_int_equal(assay_ctx_set_memory_limit(ctx, ASSAY_MEMORY_LIMIT_MIN, dir), ASSAY_OK);
    assert_int_not_equal(assay__bulk_alloc(ctx, (size_t)8 << 20, "the float32 matrix", &p),
                         ASSAY_OK);
    assert_null(p);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), dir));
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "--memory-limit"));
    assert_int_equal(assay_ctx_set_memory_limit(ctx, 0, NULL), ASSAY_OK);
    assay_ctx_destroy(ctx);
}

static void test_api_isa_choice_and_override(void **state) {
    (void)state;
    assert_true(assay_isa_supported(ASSAY_ISA_SCALAR));
    assert_false(assay_isa_supported(ASSAY_ISA_COUNT));
    assert_string_equal(assay_isa_name(ASSAY_ISA_SCALAR), "scalar");
    assert_string_equal(assay_isa_name(ASSAY_ISA_AUTO), "auto");
    assert_int_equal(assay__isa_parse("AVX2"), ASSAY_ISA_AVX2);
    assert_int_equal(assay__isa_parse("auto"), ASSAY_ISA_AUTO);
    assert_int_equal(assay__isa_parse("mmx"), -2);

    /* The override can lower the choice to the reference... */
    const char *saved = getenv("ASSAY_ISA");
    setenv("ASSAY_ISA", "scalar", 1);
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    assert_int_equal(assay_ctx_isa(ctx), ASSAY_ISA_SCALAR);
    assay_ctx_destroy(ctx);
    /* ...an unknown name is an error, not silently ignored... */
    setenv("ASSAY_ISA", "mmx", 1);
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_E_INVAL);
    /* ...and it never raises the choice above what the CPU and build support. */
    for (int isa = 0; isa < ASSAY_ISA_COUNT; isa++) {
        setenv("ASSAY_ISA", assay_isa_name((assay_isa)isa), 1);
        assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
        assert_true(assay_isa_supported(assay_ctx_isa(ctx)));
        if (assay_isa_supported((assay_isa)isa)) assert_int_equal(assay_ctx_isa(ctx), isa);
        assay_ctx_destroy(ctx);
    }
    if (saved)
        setenv("ASSAY_ISA", saved, 1);
    else
        unsetenv("ASSAY_ISA");
    /* An explicit unsupported request fails. */
    for (int isa = 0; isa < ASSAY_ISA_COUNT; isa++) {
        if (assay_isa_supported((assay_isa)isa)) continue;
        assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
        o.isa = (assay_isa)isa;
        assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_E_UNSUPPORTED);
        assert_null(ctx);
    }
}

static void test_api_names_round_trip(void **state) {
    (void)state;
    for (int s = ASSAY_SEV_NONE; s <= ASSAY_SEV_CRITICAL; s++) {
        assay_severity out;
        assert_int_equal(assay_severity_parse(assay_severity_name((assay_severity)s), &out),
                         ASSAY_OK);
        assert_int_equal(out, s);
    }
    assay_severity sev;
    assert_int_equal(assay_severity_parse("severe", &sev), ASSAY_E_INVAL);
    assay_metric m;
    assert_int_equal(assay_metric_parse("L2", &m), ASSAY_OK);
    assert_int_equal(m, ASSAY_METRIC_L2);
    assert_int_equal(assay_metric_parse("manhattan", &m), ASSAY_E_INVAL);
    assert_string_equal(assay_detector_name(ASSAY_DET_KNN_LABEL), "knn-label");
    assert_string_equal(assay_format_name(ASSAY_FORMAT_NPY), "npy");
    assert_string_equal(assay_version(), ASSAY_VERSION_STRING);
    assert_non_null(strstr(assay_blas_info(), "OpenBLAS"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_status_strings_and_classes),
        cmocka_unit_test(test_api_null_handling),
        cmocka_unit_test(test_api_options_are_validated),
        cmocka_unit_test(test_api_ranks_are_validated),
        cmocka_unit_test(test_api_memory_limit),
        cmocka_unit_test(test_api_isa_choice_and_override),
        cmocka_unit_test(test_api_names_round_trip),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}

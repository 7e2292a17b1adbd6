/* SPDX-License-Identifier: Apache-2.0 */
/* "Did you mean" (core/suggest.c): a typo of a known name finds it -- one letter changed, added,
 * dropped, or two neighbours swapped ("scna" for "scan") -- case-insensitively; a word far from
 * every name, or a very short one, finds nothing; assay_suggest is the same for tools. */
#include "test_util.h"

#include "core/internal.h"

static const char *const k_names[] = {"scan", "knn",    "report", "diff", "policy",
                                      "out",  "output", "k",      "id",   "max-flagged-fraction"};
#define N_NAMES (sizeof k_names / sizeof k_names[0])

static void test_suggest_typos(void **state) {
    (void)state;
    assert_string_equal(assay__suggest_pick("scna", k_names, N_NAMES), "scan");
    assert_string_equal(assay__suggest_pick("sacn", k_names, N_NAMES), "scan");
    assert_string_equal(assay__suggest_pick("SCAN", k_names, N_NAMES), "scan");
    assert_string_equal(assay__suggest_pick("repot", k_names, N_NAMES), "report");
    assert_string_equal(assay__suggest_pick("ouput", k_names, N_NAMES), "output");
    assert_string_equal(assay__suggest_pick("max-flaged-fraction", k_names, N_NAMES),
                        "max-flagged-fraction");
    assert_string_equal(assay_suggest("polciy", k_names, N_NAMES), "policy");
}

static void test_suggest_no_wild_guesses(void **state) {
    (void)state;
    assert_null(assay__suggest_pick("frobnicate", k_names, N_NAMES));
    assert_null(assay__suggest_pick("x", k_names, N_NAMES)); /* "k" is one edit, too short */
    assert_null(assay__suggest_pick("scanner", k_names, N_NAMES));
    assert_null(assay_suggest(NULL, k_names, N_NAMES));
    assert_null(assay_suggest("scan", NULL, 0));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suggest_typos),
        cmocka_unit_test(test_suggest_no_wild_guesses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

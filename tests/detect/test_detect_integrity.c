/* SPDX-License-Identifier: Apache-2.0 */
/* integrity: non-finite, all-zero and undeclared-label rows are findings, never crashes. */
#include "test_detect_util.h"

static void test_detect_integrity_rows(void **state) {
    (void)state;
    const int32_t y[5] = {0, 0, -1, 0, 0};
    int64_t ids[5] = {1, 2, 3, 4, 0};
    float dist[5] = {1, 1, 1, 1, 1};
    td_fixture f;
    td_init_graph(&f, 5, y, 1, 1, ids, dist);
    f.ds.row_flags[1] = ASSAY__ROW_NONFINITE;
    f.ds.row_flags[2] = ASSAY__ROW_BADLABEL;
    f.ds.row_flags[3] = ASSAY__ROW_ZERO;
    f.ds.bad_rows = calloc(1, sizeof *f.ds.bad_rows);
    f.ds.bad_rows[0] = (assay__bad_row){1, 3, 7};
    f.ds.n_bad_rows = 1;
    assert_int_equal(td_run(&f, ASSAY_DET_INTEGRITY), ASSAY_OK);
    const assay__finding *nf = td_find(&f, ASSAY_DET_INTEGRITY, 1);
    assert_non_null(nf);
    assert_int_equal(nf->sev, ASSAY_SEV_HIGH);
    assert_int_equal((int)nf->a, 3);
    assert_int_equal((int)nf->b, 7);
    assert_string_equal(assay__finding_reason(td_find(&f, ASSAY_DET_INTEGRITY, 2)),
                        "undeclared_label");
    assert_int_equal(td_find(&f, ASSAY_DET_INTEGRITY, 3)->sev, ASSAY_SEV_MEDIUM);
    assert_null(td_find(&f, ASSAY_DET_INTEGRITY, 0));
    assert_int_equal(f.res.det[ASSAY_DET_INTEGRITY].flagged, 3);
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_integrity_rows),
    };
    return cmocka_run_group_tests_name("detect_integrity", tests, NULL, NULL);
}

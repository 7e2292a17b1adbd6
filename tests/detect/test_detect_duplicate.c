/* SPDX-License-Identifier: Apache-2.0 */
/* duplicate: exact copies found from the features-only digest; conflicting copies high, plain
 * repeats low, on a case worked out by hand. */
#include "test_detect_util.h"

/* Rows 0 and 3 have identical features but labels 0 and 1: both high. Rows 1, 4, 5 are the same
 * row with the same label: 4 and 5 are low "copy of row 1"; row 1 is not flagged. */
static void test_detect_duplicates_conflicting_and_repeated(void **state) {
    (void)state;
    const int32_t y[6] = {0, 1, 0, 1, 1, 1};
    int64_t ids[6] = {1, 2, 3, 4, 5, 0};
    float dist[6] = {1, 1, 1, 1, 1, 1};
    td_fixture f;
    td_init_graph(&f, 6, y, 2, 1, ids, dist);
    memset(f.ds.content_digest[3], 0, 32);
    memcpy(f.ds.content_digest[3], f.ds.content_digest[0], 32);
    memcpy(f.ds.content_digest[4], f.ds.content_digest[1], 32);
    memcpy(f.ds.content_digest[5], f.ds.content_digest[1], 32);
    assert_int_equal(td_run(&f, ASSAY_DET_DUPLICATE), ASSAY_OK);
    const assay__finding *a = td_find(&f, ASSAY_DET_DUPLICATE, 0);
    const assay__finding *b = td_find(&f, ASSAY_DET_DUPLICATE, 3);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->sev, ASSAY_SEV_HIGH);
    assert_int_equal(a->ref, 3);
    assert_int_equal(b->ref, 0);
    assert_string_equal(assay__finding_reason(a), "conflicting_duplicate");
    assert_null(td_find(&f, ASSAY_DET_DUPLICATE, 1));
    const assay__finding *c = td_find(&f, ASSAY_DET_DUPLICATE, 5);
    assert_non_null(c);
    assert_int_equal(c->sev, ASSAY_SEV_LOW);
    assert_int_equal(c->ref, 1);
    assert_string_equal(assay__finding_reason(c), "repeated_row");
    assert_null(td_find(&f, ASSAY_DET_DUPLICATE, 2));
    const assay__det_out *s = &f.res.det[ASSAY_DET_DUPLICATE];
    assert_int_equal(s->flagged, 4);
    assert_int_equal((int)s->stat[0], 2); /* groups */
    assert_int_equal((int)s->stat[2], 1); /* conflicting groups */
    assert_close(1.0, f.res.det[ASSAY_DET_DUPLICATE].score[0], 0);
    assert_close(0.5, f.res.det[ASSAY_DET_DUPLICATE].score[4], 0);
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_duplicates_conflicting_and_repeated),
    };
    return cmocka_run_group_tests_name("detect_duplicate", tests, NULL, NULL);
}

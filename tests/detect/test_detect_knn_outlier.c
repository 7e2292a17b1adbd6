/* SPDX-License-Identifier: Apache-2.0 */
/* knn-outlier: the far-out fence on the rows' mean neighbour distances (cleanlab's rule), on a
 * case worked out by hand. */
#include "test_detect_util.h"

/* Mean distances 1..9 and 100. Sorted, linear-interpolated quartiles: Q1 = 3.25, Q3 = 7.75,
 * IQR 4.5, fence 7.75 + 1.7 * 4.5 = 15.4: only the row at 100 is flagged. */
static void test_detect_knn_outlier_fence(void **state) {
    (void)state;
    int32_t y[10] = {0};
    int64_t ids[10];
    float dist[10];
    for (int r = 0; r < 10; r++) {
        ids[r] = (r + 1) % 10;
        dist[r] = r < 9 ? (float)(r + 1) : 100.0f;
    }
    td_fixture f;
    td_init_graph(&f, 10, y, 1, 1, ids, dist);
    assert_int_equal(td_run(&f, ASSAY_DET_KNN_OUTLIER), ASSAY_OK);
    const assay__det_out *s = &f.res.det[ASSAY_DET_KNN_OUTLIER];
    assert_close(15.4, s->threshold, 1e-9);
    assert_close(3.25, s->stat[1], 1e-12);
    assert_close(7.75, s->stat[2], 1e-12);
    assert_int_equal(s->flagged, 1);
    assert_int_equal(td_count(&f, ASSAY_DET_KNN_OUTLIER, 9), 1);
    const float *sc = f.res.det[ASSAY_DET_KNN_OUTLIER].score;
    assert_close(1.0, sc[9], 1e-7);
    assert_close(0.0, sc[0], 1e-7);
    assert_close(4.0 / 9.0, sc[4], 1e-6);
    const float *ev = f.res.det[ASSAY_DET_KNN_OUTLIER].evidence;
    assert_close(1.0, ev[9], 1e-6);
    assert_close(0.0, ev[6], 1e-7);                               /* 7 <= Q3 */
    assert_close(0.25 * (8 - 7.75) / (15.4 - 7.75), ev[7], 1e-6); /* below the fence: <= 0.25 */
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_knn_outlier_fence),
    };
    return cmocka_run_group_tests_name("detect_knn_outlier", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The statistics shared by the class-subspace detectors (src/detect/linalg.c), with answers
 * worked by hand: the robust index across classes, the cross-class calibration of the tail
 * test, and the shape of a tail group (foreign neighbours, distance) that tells a natural
 * sub-style from a planted group. */
#include "test_detect_util.h"

#include "core/stats.h"
#include "detect/linalg.h"

/* Statistics 0, 1, 2, 3, 10 and one untested class. Class 4 against {0, 1, 2, 3}: median 1.5,
 * deviations {1.5, 0.5, 0.5, 1.5}, median 1, scale 1.4826, z = 8.5 / 1.4826. Class 0 against
 * {1, 2, 3, 10}: median 2.5, deviations {1.5, 0.5, 0.5, 7.5}, scale 1.4826, z = -2.5 / 1.4826.
 * With min_scale 2 the scale is 2. Under four classes there is no index. */
static void test_index_across_by_hand(void **state) {
    (void)state;
    const double stat[6] = {0.0, 1.0, 2.0, 3.0, 10.0, NAN};
    double p[6], med[6], scale[6];
    assert_int_equal(assay__index_across(stat, 6, 0.35, med, scale, p), 5);
    assert_close(1.5, med[4], 1e-15);
    assert_close(1.4826, scale[4], 1e-12);
    assert_close(assay__norm_sf(8.5 / 1.4826), p[4], 1e-15);
    assert_close(2.5, med[0], 1e-15);
    assert_close(assay__norm_sf(-2.5 / 1.4826), p[0], 1e-15);
    assert_true(isnan(p[5]));
    assert_int_equal(assay__index_across(stat, 6, 2.0, med, scale, p), 5);
    assert_close(2.0, scale[4], 0.0);
    assert_close(assay__norm_sf(8.5 / 2.0), p[4], 1e-15);
    const double three[4] = {0.0, 1.0, 9.0, NAN};
    assert_int_equal(assay__index_across(three, 4, 0.35, NULL, NULL, p), 3);
    for (int c = 0; c < 4; c++) assert_true(isnan(p[c]));
}

typedef struct rec {
    int tested;
    size_t n;
    assay__tail_test t;
} rec;

/* Five classes of 1,000 rows with 2, 3, 4, 3 and 80 rows beyond the cutoff. Class 4: the
 * others' log smoothed shares log((c + 0.5) / 1001) have median log(3.5 / 1001) and scale
 * 1.4826 x 0.1257 = 0.186, floored at 0.35: z = log(80.5 / 3.5) / 0.35; the allowance
 * exp(median + 3 x 0.35) = 0.0100 is raised to the tolerance 0.03; p = the larger of the
 * index's tail and 2 m binomial tails of 80 in 1,000 at 0.03. With three classes tested the
 * per-class binomial stays. */
static void test_tail_calibrate_by_hand(void **state) {
    (void)state;
    const size_t counts[5] = {2, 3, 4, 3, 80};
    rec r[5];
    double allow[5];
    for (int c = 0; c < 5; c++) {
        memset(&r[c], 0, sizeof r[c]);
        r[c].tested = 1;
        r[c].n = 1000;
        r[c].t.count = counts[c];
        r[c].t.p = 0.5;
    }
    assert_int_equal(assay__tail_calibrate(r, sizeof *r, offsetof(rec, t), offsetof(rec, n),
                                           offsetof(rec, tested), 5, 2, 0.03, allow),
                     1);
    const double z = log(80.5 / 3.5) / 0.35;
    const double tail = fmin(1.0, 4.0 * assay__binom_sf(80.0, 1000.0, 0.03));
    assert_close(0.03, allow[4], 0.0);
    assert_close(fmax(assay__norm_sf(z), tail), r[4].t.p, 1e-15);
    assert_true(r[4].t.p < 1e-3);
    assert_true(r[0].t.p > 0.5); /* a class with fewer tail rows than the others */

    /* three classes: each against itself, p the larger of its binomial (set here) and the
     * sign-flip test, 2 m = 4 Bonferroni: class 0, 2 far rows on one side and none on the
     * other: 4 x 1/4 = 1; class 1, 3 and 3: 4 x 42/64 > 1; class 2, 4 and 0: 4 x 1/16 = 0.25
     * above its binomial 0.1; with 12 and 0 the binomial 1e-9 gives way to 4 / 4096 */
    r[3].tested = r[4].tested = 0;
    r[0].t.p = 0.25;
    r[1].t.p = 0.01;
    r[1].t.opposite = 3;
    r[2].t.p = 0.1;
    assert_int_equal(assay__tail_calibrate(r, sizeof *r, offsetof(rec, t), offsetof(rec, n),
                                           offsetof(rec, tested), 5, 2, 0.03, allow),
                     0);
    assert_close(1.0, r[0].t.p, 0.0);
    assert_close(1.0, r[1].t.p, 0.0);
    assert_close(0.25, r[2].t.p, 1e-15);
    assert_close(0.03, allow[0], 0.0);
    r[2].t.count = 12;
    r[2].t.p = 1e-9;
    assay__tail_calibrate(r, sizeof *r, offsetof(rec, t), offsetof(rec, n), offsetof(rec, tested),
                          5, 2, 0.03, allow);
    assert_close(4.0 / 4096.0, r[2].t.p, 1e-15);
    assert_close(4.0 / 4096.0, assay__tail_sign_p(&r[2].t, 2), 1e-15);
}

/* A class of rows 0-9 (label 0) and two rows of label 1 (10, 11); one direction, median 0,
 * scale 1, so row i's z is u[i]. Rows 6-9 lie beyond 4 (z 5, 6, 7, 9: median 6.5). */
static void shape_case(const int64_t *ids, const double *u, assay__tail_group *out) {
    static const int32_t y[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    static const size_t rows[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    float dist[24] = {0};
    assay__graph g = {
        .n = 12, .k = 2, .metric = ASSAY_METRIC_L2, .ids = (int64_t *)ids, .dist = dist};
    assay__tail_test t = {.dir = 0, .side = 1, .count = 4, .med = 0.0, .mad = 1.0, .p = 0.0};
    double work[10];
    assay__tail_group_shape(&t, u, 1, rows, 10, &g, y, work, out);
}

static void test_tail_group_shape_by_hand(void **state) {
    (void)state;
    const double u[10] = {0.0, 0.5, -0.5, 1.0, -1.0, 0.2, 5.0, 6.0, 7.0, 9.0};
    /* the group's neighbours: half of label 1; the rest's: 1 of 12 */
    const int64_t foreign[24] = {1, 10, 0, 2,  1, 3,  2, 4,  3, 5, 4, 0,
                                 7, 10, 6, 11, 9, 10, 8, 11, 0, 1, 0, 1};
    assay__tail_group g;
    shape_case(foreign, u, &g);
    assert_int_equal(g.rows, 4);
    assert_close(6.5, g.median_z, 0.0);
    assert_close(0.5, g.foreign, 0.0);
    assert_close(1.0 / 12.0, g.foreign_rest, 1e-15);
    assert_false(g.substyle); /* foreign: 0.5 >= 0.3, and 0.42 more than the rest */

    /* the same rows whose neighbours are each other: a sub-style (6.5 < 8 robust SDs) */
    const int64_t own[24] = {1, 10, 0, 2, 1, 3, 2, 4, 3, 5, 4, 0,
                             7, 8,  6, 8, 9, 6, 8, 7, 0, 1, 0, 1};
    shape_case(own, u, &g);
    assert_close(0.0, g.foreign, 0.0);
    assert_true(g.substyle);
    assay__test t = {.sev = ASSAY_SEV_HIGH};
    assert_int_equal(assay__tail_group_judge(&g, 10, "top", &t), 1);
    assert_int_equal(t.sev, ASSAY_SEV_LOW);
    assert_contains(t.detail, "sub-style: 4 of 10 rows beyond 4 robust SDs on the top direction, "
                              "a median 6.5 out; 0% of their neighbours have another label "
                              "(rest 8%)");

    /* far: the group a median of 10.5 robust SDs out is evidence whatever its neighbours */
    const double far[10] = {0.0, 0.5, -0.5, 1.0, -1.0, 0.2, 9.0, 10.0, 11.0, 12.0};
    shape_case(own, far, &g);
    assert_close(10.5, g.median_z, 0.0);
    assert_false(g.substyle);
    t.sev = ASSAY_SEV_HIGH;
    assert_int_equal(assay__tail_group_judge(&g, 10, "top", &t), 0);
    assert_int_equal(t.sev, ASSAY_SEV_HIGH);

    /* a foreign share under the excess over the rest is not foreign: rest 5 of 12 foreign */
    const int64_t mixed[24] = {10, 11, 10, 11, 1, 10, 2, 4,  3, 5, 4, 0,
                               7,  10, 6,  11, 9, 10, 8, 11, 0, 1, 0, 1};
    shape_case(mixed, u, &g);
    assert_close(5.0 / 12.0, g.foreign_rest, 1e-15);
    assert_true(g.substyle); /* 0.5 - 0.42 < 0.25 */

    /* two rows beyond the cutoff are too few to judge; without a graph nothing is judged */
    const double two[10] = {0.0, 0.5, -0.5, 1.0, -1.0, 0.2, 0.0, 0.0, 7.0, 9.0};
    shape_case(own, two, &g);
    assert_int_equal(g.rows, 2);
    assert_false(g.substyle);
    const size_t rows[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    const int32_t y[10] = {0};
    assay__tail_test tt = {.dir = 0, .side = 1, .count = 4, .med = 0.0, .mad = 1.0};
    double work[10];
    assay__tail_group_shape(&tt, u, 1, rows, 10, NULL, y, work, &g);
    assert_int_equal(g.rows, 4);
    assert_true(isnan(g.foreign));
    assert_false(g.substyle);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_across_by_hand),
        cmocka_unit_test(test_tail_calibrate_by_hand),
        cmocka_unit_test(test_tail_group_shape_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

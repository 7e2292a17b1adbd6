/* SPDX-License-Identifier: Apache-2.0 */
/* duplicate: exact copies found from the features-only digest; conflicting copies high, plain
 * repeats low, on a case worked out by hand; natural collisions of a coarse table low. */
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

/* A table of 3 coarse columns (values 0..4: 125 cells, 1,500 rows) where the label of a cell
 * is 0 or 1 with chances between 1/4 and 3/4: most cells hold several rows, with both labels,
 * by nature. Those collisions are low "natural_collision" (plain repeats are not flagged in such a
 * table); 5 copies of rows of a separate
 * class-2 cluster relabelled 0 are high -- the copies, whose label is foreign there, above
 * their sources -- and the summary counts the natural groups. */
static void test_duplicate_natural_collisions_are_low(void **state) {
    (void)state;
    enum { N = 1500, NC = 50, P = 5, R = 10, D = 3 };
    float x[(N + P + R) * D];
    int32_t y[N + P + R];
    uint64_t s = 5;
    for (size_t r = 0; r < N; r++) {
        if (r < N - NC) {
            for (size_t c = 0; c < D; c++) x[r * D + c] = (float)(tu_next(&s) % 5);
            y[r] = tu_uniform(&s) < 0.25 + 0.5 * x[r * D] / 4.0 ? 1 : 0;
        } else { /* the class-2 cluster, each row distinct */
            for (size_t c = 0; c < D; c++) x[r * D + c] = 20.0f + (float)tu_uniform(&s);
            y[r] = 2;
        }
    }
    for (size_t i = 0; i < P; i++) { /* relabelled copies of cluster rows */
        size_t src = N - NC + 3 * i, r = N + i;
        memcpy(x + r * D, x + src * D, D * sizeof *x);
        y[r] = 0;
    }
    for (size_t i = 0; i < R; i++) { /* plain repeats: copies of other cluster rows, label kept */
        size_t src = N - NC + 1 + 3 * i, r = N + P + i;
        memcpy(x + r * D, x + src * D, D * sizeof *x);
        y[r] = 2;
    }
    td_fixture f;
    td_init(&f, x, N + P + R, D, y, 3, 10, ASSAY_METRIC_L2, NULL, NULL);
    /* the digest of a row is its features' */
    for (size_t r = 0; r < N + P + R; r++) {
        memset(f.ds.content_digest[r], 0, 32);
        memcpy(f.ds.content_digest[r], x + r * D, D * sizeof *x);
    }
    assert_int_equal(td_run(&f, ASSAY_DET_DUPLICATE), ASSAY_OK);
    size_t high = 0, natural = 0;
    for (size_t i = 0; i < f.res.det[ASSAY_DET_DUPLICATE].n_findings; i++) {
        const assay__finding *fd = &f.res.det[ASSAY_DET_DUPLICATE].findings[i];
        if (fd->sev == ASSAY_SEV_HIGH) {
            high++;
            /* the relabelled copies, whose label is foreign there, rank first; their sources
             * are flagged too, below them */
            if (fd->row < N - NC)
                fail_msg("row %zu high: size %.0f, least share %.3f", fd->row, fd->a, fd->c);
            assert_string_equal(assay__finding_reason(fd), "conflicting_duplicate");
            assert_close(fd->row >= N ? 1.0 : 0.75, fd->score, 0.0);
        }
        if (fd->why == 2) {
            natural++;
            assert_int_equal(fd->sev, ASSAY_SEV_LOW);
            /* each label also found around it, or a group the graph cannot see past */
            if (!(fd->c >= 0.01 || fd->a >= 3))
                fail_msg("row %zu natural: c %g size %.0f; expected %g, natural %g of %g", fd->row,
                         fd->c, fd->a, f.res.det[ASSAY_DET_DUPLICATE].stat[5],
                         f.res.det[ASSAY_DET_DUPLICATE].stat[4],
                         f.res.det[ASSAY_DET_DUPLICATE].stat[2]);
        }
    }
    assert_int_equal(high, 2 * P);
    const assay__det_out *o = &f.res.det[ASSAY_DET_DUPLICATE];
    /* a coarse table: plain repeats (one label) are counted, never flagged, and rank far below
     * the flag line */
    for (size_t i = 0; i < o->n_findings; i++)
        assert_string_not_equal(assay__finding_reason(&o->findings[i]), "repeated_row");
    for (size_t i = 0; i < R; i++) assert_close(0.05, o->evidence[N + P + i], 1e-7);
    assert_contains(o->note, "plain repeats are counted, not flagged");
    assert_true(o->stat[4] >= 100); /* natural collision groups: nearly every cell */
    assert_int_equal((int)o->stat[2] - (int)o->stat[4], P);
    assert_true(natural > 1000);
    td_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_duplicates_conflicting_and_repeated),
        cmocka_unit_test(test_duplicate_natural_collisions_are_low),
    };
    return cmocka_run_group_tests_name("detect_duplicate", tests, NULL, NULL);
}

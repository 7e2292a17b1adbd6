/* SPDX-License-Identifier: Apache-2.0 */
/* The baseline comparison (src/baseline): row matching by id and by digest, the chi-square test
 * of the class shift against values computed here by hand, the drift of a class moved by a known
 * vector, the manifest read back, and manifests that are not manifests. */
#include <jansson.h>

#include "test_data.h"

#include "assay/assay.h"
#include "baseline/baseline.h"
#include "decide/result.h"

/* ---- hand-built sides ---- */

typedef struct test_side {
    assay__bl_side side;
    const char *ids[32], *labels[32];
    unsigned char digest[32][32];
} test_side;

/* n rows with the given labels, ids (NULL: none) and one digest byte per row (the "content"). */
static void make_side(test_side *t, size_t n, const char *const *labels, const char *const *ids,
                      const unsigned char *content) {
    memset(t, 0, sizeof *t);
    for (size_t r = 0; r < n; r++) {
        t->labels[r] = labels[r];
        t->ids[r] = ids ? ids[r] : NULL;
        memset(t->digest[r], 0, 32);
        t->digest[r][0] = content[r];
        /* the label is part of a row digest */
        t->digest[r][1] = (unsigned char)labels[r][0];
    }
    t->side.n = n;
    t->side.has_ids = ids != NULL;
    t->side.id = t->ids;
    t->side.label = t->labels;
    t->side.digest = t->digest;
}

static void test_match_by_id(void **state) {
    (void)state;
    static const char *const ids_old[] = {"a", "b", "c", "d", "e", "f", "g"};
    static const char *const lab_old[] = {"0", "0", "1", "1", "0", "1", "0"};
    static const unsigned char c_old[] = {1, 2, 3, 4, 5, 6, 7};
    /* c: new content; e: relabelled 0 -> 1; g removed; h, i added; rows reordered */
    static const char *const ids_new[] = {"h", "b", "a", "c", "d", "e", "f", "i"};
    static const char *const lab_new[] = {"1", "0", "0", "1", "1", "1", "1", "0"};
    static const unsigned char c_new[] = {9, 2, 1, 33, 4, 5, 6, 10};
    test_side o, n;
    make_side(&o, 7, lab_old, ids_old, c_old);
    make_side(&n, 8, lab_new, ids_new, c_new);
    assay__bl_diff df;
    assert_int_equal(assay__bl_compare(NULL, &o.side, &n.side, &df), ASSAY_OK);
    assert_true(df.by_id);
    assert_int_equal(df.n_added, 2);
    assert_int_equal(df.added[0], 0); /* h */
    assert_int_equal(df.added[1], 7); /* i */
    assert_int_equal(df.n_removed, 1);
    assert_int_equal(df.removed[0], 6); /* g */
    assert_int_equal(df.n_changed, 2);
    assert_int_equal(df.changed[0].new_index, 3); /* c: same label, new content */
    assert_int_equal(df.changed[0].old_index, 2);
    assert_false(df.changed[0].relabelled);
    assert_int_equal(df.changed[1].new_index, 5); /* e: relabelled */
    assert_int_equal(df.changed[1].old_index, 4);
    assert_true(df.changed[1].relabelled);
    assert_int_equal(df.n_relabelled, 1);
    assert_int_equal(df.n_unchanged, 4);
    assay__bl_diff_free(&df);
}

static void test_match_by_digest_without_ids(void **state) {
    (void)state;
    static const char *const lab_old[] = {"0", "0", "1", "1"};
    static const unsigned char c_old[] = {1, 1, 3, 4}; /* a repeated row */
    static const char *const lab_new[] = {"0", "1", "1", "0"};
    static const unsigned char c_new[] = {1, 3, 5, 1};
    test_side o, n;
    make_side(&o, 4, lab_old, NULL, c_old);
    make_side(&n, 4, lab_new, NULL, c_new);
    assay__bl_diff df;
    assert_int_equal(assay__bl_compare(NULL, &o.side, &n.side, &df), ASSAY_OK);
    assert_false(df.by_id);
    assert_contains(df.matching_note, "cannot be told from a removed row plus an added one");
    /* the two copies of row content 1 match both copies; 4 is gone, 5 is new */
    assert_int_equal(df.n_unchanged, 3);
    assert_int_equal(df.n_removed, 1);
    assert_int_equal(df.removed[0], 3);
    assert_int_equal(df.n_added, 1);
    assert_int_equal(df.added[0], 2);
    assert_int_equal(df.n_changed, 0);
    assay__bl_diff_free(&df);
}

/* Ids renamed wholesale (0..N-1 re-exported as "img-0"...): matching by id would report every
 * row added and removed and nothing changed. The comparison says the ids changed wholesale and
 * matches by row digest instead; a few shared ids (at most 1%) do not make a match. */
static void test_ids_changed_wholesale(void **state) {
    (void)state;
    static const char *const lab[] = {"0", "1", "0", "1"};
    static const char *const ids_old[] = {"0", "1", "2", "3"};
    static const char *const ids_new[] = {"img-0", "img-1", "img-2", "img-3"};
    static const unsigned char c[] = {1, 2, 3, 4};
    test_side o, n;
    make_side(&o, 4, lab, ids_old, c);
    make_side(&n, 4, lab, ids_new, c);
    /* these hand-built digests leave the id out, so rows 0 and 1 match by digest; 2 and 3 get
     * new content */
    n.digest[2][5] = 0xEE;
    n.digest[3][5] = 0xEE;
    assay__bl_diff df;
    assert_int_equal(assay__bl_compare(NULL, &o.side, &n.side, &df), ASSAY_OK);
    assert_true(df.ids_replaced);
    assert_false(df.by_id);
    assert_int_equal(df.ids_in_common, 0);
    assert_contains(df.matching_note, "the ids changed wholesale");
    assert_int_equal(df.n_unchanged, 2);
    assert_int_equal(df.n_added, 2);
    assert_int_equal(df.n_removed, 2);
    assay__bl_diff_free(&df);

    /* one shared id in 4 rows is more than 1%: matched by id as before */
    static const char *const ids_one[] = {"0", "img-1", "img-2", "img-3"};
    make_side(&n, 4, lab, ids_one, c);
    assert_int_equal(assay__bl_compare(NULL, &o.side, &n.side, &df), ASSAY_OK);
    assert_false(df.ids_replaced);
    assert_true(df.by_id);
    assert_int_equal(df.n_unchanged, 1);
    assay__bl_diff_free(&df);

    /* one side empty: nothing to match, not "changed wholesale" */
    make_side(&n, 0, lab, ids_new, c);
    assert_int_equal(assay__bl_compare(NULL, &o.side, &n.side, &df), ASSAY_OK);
    assert_false(df.ids_replaced);
    assay__bl_diff_free(&df);
}

/* Pearson's statistic for a 2 x C table, computed here from the definition. */
static double chi2_by_hand(const size_t *a, const size_t *b, size_t c) {
    double n1 = 0, n2 = 0;
    for (size_t j = 0; j < c; j++) {
        n1 += (double)a[j];
        n2 += (double)b[j];
    }
    double x = 0;
    for (size_t j = 0; j < c; j++) {
        double col = (double)(a[j] + b[j]);
        double e1 = n1 * col / (n1 + n2), e2 = n2 * col / (n1 + n2);
        x += ((double)a[j] - e1) * ((double)a[j] - e1) / e1;
        x += ((double)b[j] - e2) * ((double)b[j] - e2) / e2;
    }
    return x;
}

/* Sides whose labels have the given counts (labels "0", "1", ...), no ids. */
static void counts_side(test_side *t, const char **labels, size_t cap, const size_t *counts,
                        size_t c, unsigned char salt) {
    static const char *const names[] = {"0", "1", "2", "3"};
    size_t n = 0;
    for (size_t j = 0; j < c; j++)
        for (size_t k = 0; k < counts[j]; k++) {
            assert_true(n < cap);
            labels[n++] = names[j];
        }
    memset(t, 0, sizeof *t);
    t->side.n = n;
    t->side.label = labels;
    t->side.digest = calloc(n, 32);
    assert_non_null(t->side.digest);
    for (size_t r = 0; r < n; r++) {
        t->side.digest[r][0] = salt;
        t->side.digest[r][1] = (unsigned char)r;
    }
}

static void test_class_shift_chi_square(void **state) {
    (void)state;
    const char **lo = calloc(400, sizeof *lo), **ln = calloc(400, sizeof *ln);
    assert_true(lo && ln);
    test_side o, n;
    assay__bl_diff df;

    /* two classes: 60/40 -> 30/70. Expected counts 45/55 on both sides, so
     * chi2 = 2 (15^2/45 + 15^2/55) = 18.1818...; with 1 df, P(X >= x) = erfc(sqrt(x / 2)). */
    const size_t a2[] = {60, 40}, b2[] = {30, 70};
    counts_side(&o, lo, 400, a2, 2, 1);
    counts_side(&n, ln, 400, b2, 2, 2);
    assert_int_equal(assay__bl_compare(NULL, &o.side, &n.side, &df), ASSAY_OK);
    const double x2 = 2.0 * (225.0 / 45.0 + 225.0 / 55.0);
    assert_close(x2, chi2_by_hand(a2, b2, 2), 1e-12);
    assert_close(x2, df.chi2, 1e-9);
    assert_int_equal(df.df, 1);
    assert_close(erfc(sqrt(x2 / 2.0)), df.p_value, 1e-9 * erfc(sqrt(x2 / 2.0)) + 1e-15);
    assert_int_equal(df.n_shift, 2);
    assert_string_equal(df.shift[1].label, "1");
    assert_int_equal(df.shift[1].old_count, 40);
    assert_int_equal(df.shift[1].new_count, 70);
    assay__bl_diff_free(&df);
    free(o.side.digest);
    free(n.side.digest);

    /* three classes: 50/30/20 -> 30/30/40: expected 40/30/30 on both sides, so
     * chi2 = 2 (10^2/40 + 0 + 10^2/30) = 11.666...; with 2 df, P(X >= x) = exp(-x / 2). */
    const size_t a3[] = {50, 30, 20}, b3[] = {30, 30, 40};
    counts_side(&o, lo, 400, a3, 3, 1);
    counts_side(&n, ln, 400, b3, 3, 2);
    assert_int_equal(assay__bl_compare(NULL, &o.side, &n.side, &df), ASSAY_OK);
    const double x3 = 2.0 * (100.0 / 40.0 + 100.0 / 30.0);
    assert_close(x3, chi2_by_hand(a3, b3, 3), 1e-12);
    assert_close(x3, df.chi2, 1e-9);
    assert_int_equal(df.df, 2);
    assert_close(exp(-x3 / 2.0), df.p_value, 1e-9 * exp(-x3 / 2.0));
    assert_close(0.0029283, df.p_value, 1e-7); /* the same, as a reviewer reads it */
    assay__bl_diff_free(&df);

    /* the same distribution: chi2 = 0, p = 1 */
    free(o.side.digest);
    free(n.side.digest);
    counts_side(&o, lo, 400, a3, 3, 1);
    counts_side(&n, ln, 400, a3, 3, 3);
    assert_int_equal(assay__bl_compare(NULL, &o.side, &n.side, &df), ASSAY_OK);
    assert_close(0.0, df.chi2, 1e-12);
    assert_close(1.0, df.p_value, 1e-12);
    assay__bl_diff_free(&df);
    free(o.side.digest);
    free(n.side.digest);
    free(lo);
    free(ln);
}

/* ---- a scanned dataset, then the same with one class moved by a known vector ---- */

static assay_dataset *load_h5(assay_ctx *ctx, const char *path) {
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_OK);
    return ds;
}

static void write_data(const char *path, const datagen_data *data) {
    datagen_error err;
    assert_int_equal(datagen_write_h5(path, data, 0, &err), ASSAY_OK);
}

static void test_drift_of_a_moved_class(void **state) {
    assay_ctx *ctx = *state;
    datagen_synth_opts so = DATAGEN_SYNTH_OPTS_INIT;
    so.n = 400;
    so.d = 8;
    so.classes = 4;
    so.seed = 7;
    so.plant.random_flip = 0;
    so.plant.duplicates = 0;
    so.plant.outliers = 0;
    datagen_data data;
    datagen_truth truth;
    datagen_error err;
    assert_int_equal(datagen_synth(&so, &data, &truth, NULL, &err), ASSAY_OK);
    char p_old[1024], p_new[1024];
    write_data(tu_path(p_old, sizeof p_old, "baseline_drift_old.h5"), &data);
    /* class 1 moves by v = (3, 0, 4, 0, ...): |v| = 5 */
    const double v[8] = {3, 0, 4, 0, 0, 0, 0, 0};
    for (size_t r = 0; r < data.n; r++)
        if (data.labels[r] == 1)
            for (size_t j = 0; j < data.d; j++) data.x[r * data.d + j] += (float)v[j];
    write_data(tu_path(p_new, sizeof p_new, "baseline_drift_new.h5"), &data);

    assay_scan_opts opts = ASSAY_SCAN_OPTS_INIT;
    opts.metric = ASSAY_METRIC_L2; /* raw rows: a translation moves the centroid by v exactly */
    assay_dataset *dso = load_h5(ctx, p_old), *dsn = load_h5(ctx, p_new);
    assay_result *ro = NULL, *rn = NULL;
    assert_int_equal(assay_scan(ctx, dso, &opts, &ro), ASSAY_OK);
    assert_int_equal(assay_scan(ctx, dsn, &opts, &rn), ASSAY_OK);
    assay__bl_side so_side, sn_side;
    const assay__bl_scan scan_old = assay__result_bl_scan(dso, ro);
    const assay__bl_scan scan_new = assay__result_bl_scan(dsn, rn);
    assert_int_equal(assay__bl_side_from_scan(ctx, &scan_old, &so_side), ASSAY_OK);
    assert_int_equal(assay__bl_side_from_scan(ctx, &scan_new, &sn_side), ASSAY_OK);
    assert_false(so_side.stats.normalised);

    /* the class radius, from the definition: RMS distance of class 1's rows to their mean */
    double mean[8] = {0}, ss = 0;
    size_t m = 0;
    datagen_data_free(&data);
    datagen_truth_free(&truth);
    assert_int_equal(datagen_synth(&so, &data, &truth, NULL, &err), ASSAY_OK);
    for (size_t r = 0; r < data.n; r++)
        if (data.labels[r] == 1) {
            m++;
            for (size_t j = 0; j < 8; j++) mean[j] += data.x[r * 8 + j];
        }
    for (size_t j = 0; j < 8; j++) mean[j] /= (double)m;
    for (size_t r = 0; r < data.n; r++)
        if (data.labels[r] == 1)
            for (size_t j = 0; j < 8; j++)
                ss += (data.x[r * 8 + j] - mean[j]) * (data.x[r * 8 + j] - mean[j]);
    const double radius = sqrt(ss / (double)m);
    /* the cosine distance between the old and the moved centroid */
    double dot = 0, na = 0, nb = 0;
    for (size_t j = 0; j < 8; j++) {
        dot += mean[j] * (mean[j] + v[j]);
        na += mean[j] * mean[j];
        nb += (mean[j] + v[j]) * (mean[j] + v[j]);
    }
    const double cosd = 1.0 - dot / sqrt(na * nb);

    assay__bl_diff df;
    assert_int_equal(assay__bl_compare(ctx, &so_side, &sn_side, &df), ASSAY_OK);
    assert_int_equal(df.n_changed, m); /* every row of class 1 changed */
    assert_int_equal(df.n_added + df.n_removed, 0);
    assert_int_equal(df.n_drift, 4);
    for (size_t i = 0; i < df.n_drift; i++) {
        const assay__bl_drift_class *k = &df.drift[i];
        assert_int_equal(k->old_rows, 100);
        if (strcmp(k->label, "1") == 0) {
            assert_close(5.0, k->centroid_shift, 1e-5);
            assert_close(radius, k->old_spread, 1e-5);
            assert_close(radius, k->new_spread, 1e-4); /* a translation keeps the spread */
            assert_close(5.0 / radius, k->shift_radii, 1e-4);
            assert_close(cosd, k->cosine_distance, 1e-6);
        } else {
            assert_close(0.0, k->centroid_shift, 1e-9);
        }
    }
    /* a detector's quantiles against the scores in the result (type 7, p50 of an even count:
     * the mean of the two middle values) */
    double s[400];
    size_t got = 0;
    for (size_t r = 0; r < dso->n; r++)
        if (strcmp(so_side.label[r], "1") == 0)
            s[got++] = assay_result_detector_score(ro, ASSAY_DET_KNN_OUTLIER, r);
    for (size_t i = 1; i < got; i++)
        for (size_t j = i; j > 0 && s[j - 1] > s[j]; j--) {
            double t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    const assay__bl_class_stats *c1 = NULL;
    for (size_t c = 0; c < so_side.stats.n_classes; c++)
        if (strcmp(so_side.stats.classes[c].label, "1") == 0) c1 = &so_side.stats.classes[c];
    assert_non_null(c1);
    assert_int_equal(c1->scored[ASSAY_DET_KNN_OUTLIER], got);
    assert_close(0.5 * (s[got / 2 - 1] + s[got / 2]), c1->q[ASSAY_DET_KNN_OUTLIER][0], 1e-6);
    assert_int_equal(c1->scored[ASSAY_DET_TAMPERING], 0); /* not summarised */
    /* every quantile of every detector, exactly: type 7 on the sorted finite scores (the
     * statistics select the two order statistics instead of sorting) */
    for (int det = 0; det < ASSAY_DET_COUNT; det++) {
        if (det == ASSAY_DET_TAMPERING) continue;
        got = 0;
        for (size_t r = 0; r < dso->n; r++) {
            double x = assay_result_detector_score(ro, (assay_detector)det, r);
            if (strcmp(so_side.label[r], "1") == 0 && isfinite(x)) s[got++] = x;
        }
        for (size_t i = 1; i < got; i++)
            for (size_t j = i; j > 0 && s[j - 1] > s[j]; j--) {
                double t = s[j];
                s[j] = s[j - 1];
                s[j - 1] = t;
            }
        assert_int_equal(c1->scored[det], got);
        for (int q = 0; q < ASSAY__BL_NQ && got > 1; q++) {
            double h = assay__bl_quantiles[q] * (double)(got - 1);
            size_t lo = (size_t)floor(h);
            double want = s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]);
            assert_true(c1->q[det][q] == want);
        }
    }

    assay__bl_diff_free(&df);
    assay__bl_side_free(&so_side);
    assay__bl_side_free(&sn_side);
    datagen_data_free(&data);
    datagen_truth_free(&truth);
    assay_result_destroy(ro);
    assay_result_destroy(rn);
    assay_dataset_destroy(dso);
    assay_dataset_destroy(dsn);
}

/* manifest.json read back gives the side the scan had in memory (statistics to 7 digits). */
static void test_manifest_round_trip(void **state) {
    assay_ctx *ctx = *state;
    datagen_synth_opts so = DATAGEN_SYNTH_OPTS_INIT;
    so.n = 300;
    so.d = 6;
    so.classes = 3;
    char h5[1024], dir[1024], man[1200];
    tu_write_synth(&so, DATAGEN_FORMAT_H5, tu_path(h5, sizeof h5, "baseline_rt.h5"), NULL, NULL);
    assay_dataset *ds = load_h5(ctx, h5);
    assay_result *res = NULL;
    assert_int_equal(assay_scan(ctx, ds, NULL, &res), ASSAY_OK);
    tu_path(dir, sizeof dir, "baseline_rt_out");
    assert_int_equal(assay_report_prepare_dir(ctx, dir), ASSAY_OK);
    assert_int_equal(assay_report_write(ctx, ds, res, dir, NULL), ASSAY_OK);
    snprintf(man, sizeof man, "%s/manifest.json", dir);
    assay__bl_side mem, file;
    const assay__bl_scan scan = assay__result_bl_scan(ds, res);
    assert_int_equal(assay__bl_side_from_scan(ctx, &scan, &mem), ASSAY_OK);
    assert_int_equal(assay__bl_side_read(ctx, man, &file), ASSAY_OK);
    assert_int_equal(file.n, mem.n);
    assert_int_equal(file.has_ids, 1);
    assert_string_equal(file.dataset_sha256, mem.dataset_sha256);
    for (size_t r = 0; r < mem.n; r++) {
        assert_memory_equal(file.digest[r], mem.digest[r], 32);
        assert_string_equal(file.id[r], mem.id[r]);
        assert_string_equal(file.label[r], mem.label[r]);
    }
    assert_true(file.stats.present);
    assert_int_equal(file.stats.n_classes, 3);
    assert_int_equal(file.stats.metric, ASSAY_METRIC_COSINE);
    assert_true(file.stats.normalised);
    for (size_t c = 0; c < 3; c++) {
        const assay__bl_class_stats *a = &mem.stats.classes[c], *b = &file.stats.classes[c];
        assert_string_equal(a->label, b->label);
        assert_int_equal(a->rows, b->rows);
        assert_close(a->spread, b->spread, 1e-6 * a->spread);
        for (size_t j = 0; j < 6; j++) assert_close(a->centroid[j], b->centroid[j], 1e-6);
        for (int det = 0; det < ASSAY_DET_COUNT; det++) {
            assert_int_equal(a->scored[det], b->scored[det]);
            if (a->scored[det] > 0)
                assert_close(a->q[det][1], b->q[det][1], 1e-6 * fabs(a->q[det][1]) + 1e-12);
        }
    }
    /* a manifest compared with itself: nothing differs, no drift */
    assay__bl_diff df;
    assert_int_equal(assay__bl_compare(ctx, &file, &mem, &df), ASSAY_OK);
    assert_int_equal(df.n_unchanged, 300);
    assert_int_equal(df.n_added + df.n_removed + df.n_changed, 0);
    assert_close(1.0, df.p_value, 1e-12);
    for (size_t i = 0; i < df.n_drift; i++) assert_close(0.0, df.drift[i].shift_radii, 1e-5);
    assay__bl_diff_free(&df);
    assay__bl_side_free(&mem);
    assay__bl_side_free(&file);
    assay_result_destroy(res);
    assay_dataset_destroy(ds);
}

/* Files that are not manifests: exit-2 errors naming the file and the key. */
static void test_bad_manifests(void **state) {
    assay_ctx *ctx = *state;
    static const struct {
        const char *text, *key;
        assay_status status;
    } cases[] = {
        {"{not json", "not valid JSON", ASSAY_E_FORMAT},
        {"{\"schema\": \"assay-report/1\"}", "key 'schema'", ASSAY_E_FORMAT},
        {"{\"schema\": \"assay-manifest/1\", \"hash\": {\"dataset_sha256\": \"" /* 64 x 'a' */
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}, \"rows\": 3}",
         "key 'row_columns'", ASSAY_E_FORMAT},
        {"{\"schema\": \"assay-manifest/1\", \"hash\": {\"dataset_sha256\": \"" /* 64 x 'a' */
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}, \"rows\": 3, "
         "\"row_columns\": [\"index\", \"id\", \"label\", \"sha256\"]}",
         "key 'rows'", ASSAY_E_FORMAT},
        {"{\"schema\": \"assay-manifest/1\", \"hash\": {\"dataset_sha256\": "
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}, "
         "\"ids\": {\"present\": false}, \"labels\": {\"classes\": []}, "
         "\"row_columns\": [\"index\", \"id\", \"label\", \"sha256\"], "
         "\"rows\": [[0, null, 1, \"00\"]]}",
         "key 'rows[0]'", ASSAY_E_FORMAT},
    };
    char path[1024];
    tu_path(path, sizeof path, "baseline_bad_manifest.json");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_write_text(path, cases[i].text);
        assay__bl_side side;
        assert_int_equal(assay__bl_side_read(ctx, path, &side), cases[i].status);
        assert_contains(assay_ctx_errmsg(ctx), path);
        assert_contains(assay_ctx_errmsg(ctx), cases[i].key);
    }
    tu_path(path, sizeof path, "baseline_no_such_manifest.json");
    assay__baseline *b = NULL;
    assert_int_equal(assay__baseline_open(ctx, path, &b), ASSAY_E_NOTFOUND);
    assert_null(b);
    assert_contains(assay_ctx_errmsg(ctx), path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_by_id),
        cmocka_unit_test(test_match_by_digest_without_ids),
        cmocka_unit_test(test_ids_changed_wholesale),
        cmocka_unit_test(test_class_shift_chi_square),
        cmocka_unit_test(test_drift_of_a_moved_class),
        cmocka_unit_test(test_manifest_round_trip),
        cmocka_unit_test(test_bad_manifests),
    };
    return cmocka_run_group_tests(tests, tu_setup_ctx, tu_teardown_ctx);
}

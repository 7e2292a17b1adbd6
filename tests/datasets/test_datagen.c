/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of assay_datagen: IDX reading, poison planting and its ground truth, PCA, the synthetic
 * generator, the writers (layout checked directly, then read back through assay_dataset_load). */
#include <errno.h>
#include <stdint.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <hdf5.h>

#include "test_util.h"

#include "assay/assay.h"
#include "datagen.h"

/* ---- helpers ---- */

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void write_gz(const char *path, const void *data, size_t len) {
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    if (len > 0) assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* An idx3 file of `count` rows x cols images whose pixel k of image i is (i * 7 + k) & 0xff;
 * `pixel_bytes` lets a test cut the data short or add to it. */
static void write_idx_images(const char *path, uint32_t magic, uint32_t count, uint32_t rows,
                             uint32_t cols, size_t pixel_bytes) {
    size_t len = 16 + pixel_bytes;
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    put_be32(buf, magic);
    put_be32(buf + 4, count);
    put_be32(buf + 8, rows);
    put_be32(buf + 12, cols);
    size_t per = (size_t)rows * cols;
    for (size_t k = 0; k < pixel_bytes; k++)
        buf[16 + k] = (unsigned char)(((k / per) * 7 + k % per) & 0xff);
    write_gz(path, buf, len);
    free(buf);
}

static void write_idx_labels(const char *path, uint32_t count, const uint8_t *labels) {
    unsigned char *buf = malloc(8 + count);
    assert_non_null(buf);
    put_be32(buf, 0x00000801u);
    put_be32(buf + 4, count);
    memcpy(buf + 8, labels, count);
    write_gz(path, buf, 8 + count);
    free(buf);
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    assert_true(size >= 0);
    rewind(fp);
    unsigned char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    *len = (size_t)size;
    return buf;
}

static int files_equal(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    unsigned char *x = read_all(a, &la), *y = read_all(b, &lb);
    int same = la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Counts entries of `dir` whose name contains ".tmp-" (leftover temporary outputs). */
static int count_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
        if (strstr(e->d_name, ".tmp-") != NULL) n++;
    closedir(d);
    return n;
}

/* 28x28 "images" with pixels in [0, 0.9] (so the white patch always changes something) and
 * balanced labels 0..9. */
static void make_images(datagen_data *data, size_t n, uint64_t seed) {
    datagen_error err = {""};
    assert_int_equal(datagen_data_alloc(data, n, 784, 10, &err), ASSAY_OK);
    datagen_rng rng = datagen_rng_stream(seed, 0);
    for (size_t i = 0; i < n * 784; i++) data->x[i] = (float)(0.9 * datagen_rng_uniform(&rng));
    for (size_t i = 0; i < n; i++) data->labels[i] = (int32_t)(i % 10);
}

static void copy_data(datagen_data *dst, const datagen_data *src) {
    datagen_error err = {""};
    assert_int_equal(datagen_data_alloc(dst, src->n, src->d, src->n_classes, &err), ASSAY_OK);
    memcpy(dst->x, src->x, src->n * src->d * sizeof *src->x);
    memcpy(dst->labels, src->labels, src->n * sizeof *src->labels);
    memcpy(dst->ids, src->ids, src->n * sizeof *src->ids);
    dst->class_names = src->class_names;
}

/* Every attack at once, on 1000 images. */
static datagen_plant_opts all_attacks(uint64_t seed) {
    datagen_plant_opts o = DATAGEN_PLANT_OPTS_INIT;
    o.seed = seed;
    o.random_flip = 0.05;
    o.targeted[0] = (datagen_targeted){0, 6, 0.1};
    o.targeted[1] = (datagen_targeted){7, 5, 0.2};
    o.n_targeted = 2;
    o.badnets = 0.03;
    o.badnets_target = 0;
    o.duplicates = 0.02;
    o.outliers = 0.01;
    o.nonfinite = 0.01;
    return o;
}

static size_t truth_count(const datagen_truth *t, datagen_attack a) {
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) n += t->attack[i] == a;
    return n;
}

/* ---- IDX ---- */

static void test_datagen_idx_reads_gzip_images_and_labels(void **state) {
    (void)state;
    char ipath[1024], lpath[1024];
    tu_path(ipath, sizeof ipath, "dg_ok-images-idx3-ubyte.gz");
    tu_path(lpath, sizeof lpath, "dg_ok-labels-idx1-ubyte.gz");
    write_idx_images(ipath, 0x00000803u, 5, 3, 4, 5 * 12);
    const uint8_t labels[5] = {0, 9, 3, 3, 7};
    write_idx_labels(lpath, 5, labels);

    datagen_idx_images img;
    datagen_error err = {""};
    assert_int_equal(datagen_idx_read_images(ipath, &img, &err), ASSAY_OK);
    assert_int_equal(img.count, 5);
    assert_int_equal(img.rows, 3);
    assert_int_equal(img.cols, 4);
    for (size_t i = 0; i < 5; i++)
        for (size_t k = 0; k < 12; k++)
            assert_int_equal(img.pixels[i * 12 + k], (i * 7 + k) & 0xff);
    datagen_idx_images_free(&img);
    datagen_idx_images_free(&img); /* twice is harmless */

    uint8_t *got = NULL;
    size_t n = 0;
    assert_int_equal(datagen_idx_read_labels(lpath, &got, &n, &err), ASSAY_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(got, labels, 5);
    free(got);
}

static void test_datagen_idx_rejects_wrong_magic(void **state) {
    (void)state;
    char ipath[1024], lpath[1024];
    tu_path(ipath, sizeof ipath, "dg_magic-images.gz");
    tu_path(lpath, sizeof lpath, "dg_magic-labels.gz");
    write_idx_images(ipath, 0x00000801u, 2, 2, 2, 8); /* a labels magic on an images file */
    const uint8_t labels[2] = {1, 2};
    write_idx_labels(lpath, 2, labels);

    datagen_idx_images img;
    datagen_error err = {""};
    assert_int_equal(datagen_idx_read_images(ipath, &img, &err), ASSAY_E_FORMAT);
    assert_contains(err.msg, ipath);
    assert_contains(err.msg, "0x00000801");
    assert_contains(err.msg, "expected 0x00000803");
    assert_null(img.pixels);

    /* And an images file where labels are expected. */
    tu_path(ipath, sizeof ipath, "dg_magic-real-images.gz");
    write_idx_images(ipath, 0x00000803u, 2, 2, 2, 8);
    uint8_t *got = NULL;
    size_t n = 0;
    assert_int_equal(datagen_idx_read_labels(ipath, &got, &n, &err), ASSAY_E_FORMAT);
    assert_contains(err.msg, "expected 0x00000801");
    assert_null(got);
}

static void test_datagen_idx_rejects_short_and_long_data(void **state) {
    (void)state;
    char path[1024];
    datagen_idx_images img;
    datagen_error err = {""};

    tu_path(path, sizeof path, "dg_short-images.gz");
    write_idx_images(path, 0x00000803u, 5, 3, 4, 5 * 12 - 7);
    assert_int_equal(datagen_idx_read_images(path, &img, &err), ASSAY_E_FORMAT);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "53 of the 60 bytes");
    assert_contains(err.msg, "truncated");

    tu_path(path, sizeof path, "dg_long-images.gz");
    write_idx_images(path, 0x00000803u, 5, 3, 4, 5 * 12 + 1);
    assert_int_equal(datagen_idx_read_images(path, &img, &err), ASSAY_E_FORMAT);
    assert_contains(err.msg, "continues after");

    /* A header cut inside the dimensions. */
    tu_path(path, sizeof path, "dg_header-images.gz");
    unsigned char head[10] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0};
    write_gz(path, head, sizeof head);
    assert_int_equal(datagen_idx_read_images(path, &img, &err), ASSAY_E_FORMAT);
    assert_contains(err.msg, "header ends after 10 bytes");

    /* Zero rows is not an image. */
    tu_path(path, sizeof path, "dg_zero-images.gz");
    write_idx_images(path, 0x00000803u, 5, 0, 4, 0);
    assert_int_equal(datagen_idx_read_images(path, &img, &err), ASSAY_E_FORMAT);
    assert_contains(err.msg, "is 0");

    /* Labels file shorter than its count. */
    tu_path(path, sizeof path, "dg_short-labels.gz");
    unsigned char lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3};
    write_gz(path, lab, sizeof lab);
    uint8_t *got = NULL;
    size_t n = 0;
    assert_int_equal(datagen_idx_read_labels(path, &got, &n, &err), ASSAY_E_FORMAT);
    assert_contains(err.msg, "3 of the 4 bytes");
    assert_null(got);
    assert_int_equal(n, 0);
}

static void test_datagen_idx_missing_and_corrupt_files(void **state) {
    (void)state;
    char path[1024];
    datagen_idx_images img;
    datagen_error err = {""};
    tu_path(path, sizeof path, "dg_does-not-exist.gz");
    assert_int_equal(datagen_idx_read_images(path, &img, &err), ASSAY_E_NOTFOUND);
    assert_contains(err.msg, path);

    /* A gzip header followed by garbage: zlib must report it, not return short data silently. */
    tu_path(path, sizeof path, "dg_corrupt.gz");
    unsigned char bad[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (size_t i = 10; i < sizeof bad; i++) bad[i] = (unsigned char)(0xA5 ^ i);
    tu_write_file(path, bad, sizeof bad);
    assert_int_not_equal(datagen_idx_read_images(path, &img, &err), ASSAY_OK);
    assert_contains(err.msg, path);
}

/* ---- planting ---- */

static void test_datagen_plant_counts_match_fractions(void **state) {
    (void)state;
    datagen_data data;
    make_images(&data, 1000, 1);
    datagen_truth truth;
    datagen_plant_report rep;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&truth, data.n, &err), ASSAY_OK);
    datagen_plant_opts o = all_attacks(42);
    assert_int_equal(datagen_plant(&data, &o, &truth, &rep, &err), ASSAY_OK);

    /* round(fraction * pool): pools are 1000 rows, or the 100 rows of class 0 / class 7. */
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_RANDOM_FLIP], 50);
    assert_int_equal(rep.targeted[0], 10);
    assert_int_equal(rep.targeted_of[0], 100);
    assert_int_equal(rep.targeted[1], 20);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_TARGETED_FLIP], 30);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_BADNETS], 30);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_DUPLICATE_CONFLICT], 20);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_OUTLIER], 10);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_NONFINITE], 10);
    assert_int_equal(rep.poisoned, 150);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_NONE], 850);
    /* The truth agrees with the report, attack by attack (one attack per row by construction). */
    for (int a = 0; a < DATAGEN_ATTACK_COUNT; a++)
        assert_int_equal(truth_count(&truth, (datagen_attack)a), rep.by_attack[a]);
    datagen_truth_free(&truth);
    datagen_data_free(&data);
}

static void test_datagen_plant_changes_each_row_only_by_its_attack(void **state) {
    (void)state;
    datagen_data data, orig;
    make_images(&data, 1000, 2);
    copy_data(&orig, &data);
    datagen_truth truth;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&truth, data.n, &err), ASSAY_OK);
    datagen_plant_opts o = all_attacks(7);
    assert_int_equal(datagen_plant(&data, &o, &truth, NULL, &err), ASSAY_OK);

    /* The clean radius, to tell the outliers are far. */
    double centre[784] = {0}, radius = 0.0;
    for (size_t i = 0; i < orig.n; i++)
        for (size_t c = 0; c < 784; c++) centre[c] += orig.x[i * 784 + c] / (double)orig.n;
    for (size_t i = 0; i < orig.n; i++) {
        double r2 = 0;
        for (size_t c = 0; c < 784; c++) {
            double t = orig.x[i * 784 + c] - centre[c];
            r2 += t * t;
        }
        if (sqrt(r2) > radius) radius = sqrt(r2);
    }

    size_t per_spec[2] = {0, 0};
    uint8_t *used_as_source = calloc(data.n, 1);
    assert_non_null(used_as_source);
    for (size_t i = 0; i < data.n; i++) {
        const float *row = data.x + i * 784, *before = orig.x + i * 784;
        int32_t y = data.labels[i], y0 = orig.labels[i];
        size_t row_bytes = 784 * sizeof(float);
        switch ((datagen_attack)truth.attack[i]) {
        case DATAGEN_ATTACK_NONE:
            assert_int_equal(y, y0);
            assert_memory_equal(row, before, row_bytes);
            assert_int_equal(truth.source[i], -1);
            break;
        case DATAGEN_ATTACK_RANDOM_FLIP:
            assert_int_not_equal(y, y0);
            assert_true(y >= 0 && y < 10);
            assert_memory_equal(row, before, row_bytes);
            break;
        case DATAGEN_ATTACK_TARGETED_FLIP:
            assert_true((y0 == 0 && y == 6) || (y0 == 7 && y == 5));
            per_spec[y0 == 7]++;
            assert_memory_equal(row, before, row_bytes);
            break;
        case DATAGEN_ATTACK_BADNETS:
            assert_int_not_equal(y0, 0);
            assert_int_equal(y, 0);
            for (size_t r = 0; r < 28; r++)
                for (size_t c = 0; c < 28; c++) {
                    size_t k = r * 28 + c;
                    if (r >= 24 && c >= 24)
                        assert_true(row[k] == 1.0f);
                    else
                        assert_true(row[k] == before[k]);
                }
            break;
        case DATAGEN_ATTACK_DUPLICATE_CONFLICT: {
            int64_t s = truth.source[i];
            assert_true(s >= 0 && (size_t)s < data.n && (size_t)s != i);
            assert_int_equal(truth.attack[s], DATAGEN_ATTACK_NONE);
            assert_memory_equal(row, data.x + (size_t)s * 784, row_bytes);
            assert_memory_equal(data.x + (size_t)s * 784, orig.x + (size_t)s * 784, row_bytes);
            assert_int_not_equal(y, data.labels[s]);
            assert_int_equal(y, y0); /* the row keeps its own label, which conflicts */
            assert_int_equal(used_as_source[s], 0);
            used_as_source[s] = 1;
            break;
        }
        case DATAGEN_ATTACK_OUTLIER: {
            assert_int_equal(y, y0);
            double r2 = 0;
            for (size_t c = 0; c < 784; c++) r2 += (row[c] - centre[c]) * (row[c] - centre[c]);
            assert_true(sqrt(r2) > 5.0 * radius);
            break;
        }
        case DATAGEN_ATTACK_NONFINITE: {
            assert_int_equal(y, y0);
            size_t nans = 0;
            for (size_t c = 0; c < 784; c++) {
                if (isnan(row[c]))
                    nans++;
                else
                    assert_true(row[c] == before[c]);
            }
            assert_int_equal(nans, 1);
            break;
        }
        default:
            fail_msg("row %zu has unknown attack %d", i, truth.attack[i]);
        }
        if (truth.attack[i] != DATAGEN_ATTACK_DUPLICATE_CONFLICT)
            assert_int_equal(truth.source[i], -1);
    }
    assert_int_equal(per_spec[0], 10);
    assert_int_equal(per_spec[1], 20);
    free(used_as_source);
    datagen_truth_free(&truth);
    datagen_data_free(&data);
    datagen_data_free(&orig);
}

static void test_datagen_plant_same_seed_same_result(void **state) {
    (void)state;
    datagen_data a, b, c;
    make_images(&a, 600, 3);
    copy_data(&b, &a);
    copy_data(&c, &a);
    datagen_truth ta, tb, tc;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&ta, a.n, &err), ASSAY_OK);
    assert_int_equal(datagen_truth_init(&tb, b.n, &err), ASSAY_OK);
    assert_int_equal(datagen_truth_init(&tc, c.n, &err), ASSAY_OK);
    datagen_plant_opts o = all_attacks(99);
    assert_int_equal(datagen_plant(&a, &o, &ta, NULL, &err), ASSAY_OK);
    assert_int_equal(datagen_plant(&b, &o, &tb, NULL, &err), ASSAY_OK);
    o.seed = 100;
    assert_int_equal(datagen_plant(&c, &o, &tc, NULL, &err), ASSAY_OK);

    assert_memory_equal(ta.attack, tb.attack, a.n);
    assert_memory_equal(ta.source, tb.source, a.n * sizeof *ta.source);
    assert_memory_equal(a.labels, b.labels, a.n * sizeof *a.labels);
    /* memcmp, not ==: NaN rows must match bit for bit too. */
    assert_memory_equal(a.x, b.x, a.n * a.d * sizeof *a.x);
    assert_true(memcmp(ta.attack, tc.attack, a.n) != 0);
    assert_true(memcmp(a.labels, c.labels, a.n * sizeof *a.labels) != 0);
    datagen_truth_free(&ta);
    datagen_truth_free(&tb);
    datagen_truth_free(&tc);
    datagen_data_free(&a);
    datagen_data_free(&b);
    datagen_data_free(&c);
}

static void test_datagen_plant_same_seed_byte_identical_files(void **state) {
    (void)state;
    const char *kinds[2] = {"a", "b"};
    char h5[2][1024], csv[2][1024], truth_csv[2][1024], npy[2][1024], emb[2][1100];
    for (int k = 0; k < 2; k++) {
        datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
        o.n = 300;
        o.d = 5;
        o.seed = 5;
        o.plant.random_flip = 0.05;
        o.plant.duplicates = 0.02;
        o.plant.outliers = 0.01;
        o.plant.nonfinite = 0.01;
        datagen_data data;
        datagen_truth truth;
        datagen_error err = {""};
        assert_int_equal(datagen_synth(&o, &data, &truth, NULL, &err), ASSAY_OK);
        tu_path(h5[k], sizeof h5[k], "dg_same_%s.h5", kinds[k]);
        tu_path(csv[k], sizeof csv[k], "dg_same_%s.csv", kinds[k]);
        tu_path(truth_csv[k], sizeof truth_csv[k], "dg_same_%s_truth.csv", kinds[k]);
        tu_path(npy[k], sizeof npy[k], "dg_same_%s_npy", kinds[k]);
        snprintf(emb[k], sizeof emb[k], "%s/emb.npy", npy[k]);
        assert_int_equal(datagen_write_h5(h5[k], &data, 0, &err), ASSAY_OK);
        assert_int_equal(datagen_write_csv(csv[k], &data, &err), ASSAY_OK);
        assert_int_equal(datagen_write_truth(truth_csv[k], &truth, &err), ASSAY_OK);
        assert_int_equal(datagen_write(DATAGEN_FORMAT_NPY, npy[k], &data, 0, &err), ASSAY_OK);
        datagen_data_free(&data);
        datagen_truth_free(&truth);
        /* HDF5 stores object times with one-second resolution unless told not to; crossing a
         * second boundary between the two runs makes that regression visible. */
        if (k == 0) nanosleep(&(struct timespec){1, 100000000}, NULL);
    }
    assert_true(files_equal(h5[0], h5[1]));
    assert_true(files_equal(csv[0], csv[1]));
    assert_true(files_equal(truth_csv[0], truth_csv[1]));
    assert_true(files_equal(emb[0], emb[1]));
}

static void test_datagen_plant_impossible_request_changes_nothing(void **state) {
    (void)state;
    datagen_data data, orig;
    make_images(&data, 200, 4);
    copy_data(&orig, &data);
    datagen_truth truth;
    datagen_plant_report rep;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&truth, data.n, &err), ASSAY_OK);

    /* The last attack (duplicates) cannot be met: earlier choices must not have been applied. */
    datagen_plant_opts o = all_attacks(1);
    o.duplicates = 0.6;
    assert_int_equal(datagen_plant(&data, &o, &truth, &rep, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "duplicates");
    assert_memory_equal(data.x, orig.x, data.n * data.d * sizeof *data.x);
    assert_memory_equal(data.labels, orig.labels, data.n * sizeof *data.labels);
    assert_int_equal(truth_count(&truth, DATAGEN_ATTACK_NONE), data.n);
    assert_int_equal(rep.poisoned, 0);

    /* More of class 0 than there is. */
    o = all_attacks(1);
    o.targeted[0].fraction = 1.0;
    o.badnets = 0.0;
    datagen_plant_opts o2 = o;
    o2.targeted[1] = (datagen_targeted){0, 3, 0.5}; /* class 0 is used up by the first spec */
    assert_int_equal(datagen_plant(&data, &o2, &truth, NULL, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "targeted flip 0:3");

    struct {
        datagen_plant_opts o;
        const char *msg;
    } bad[6];
    for (size_t i = 0; i < 6; i++) bad[i].o = all_attacks(1);
    bad[0].o.random_flip = 1.5, bad[0].msg = "random flip fraction 1.5";
    bad[1].o.targeted[0].to = 10, bad[1].msg = "classes must be in 0..9";
    bad[2].o.targeted[0].to = 0, bad[2].msg = "same";
    bad[3].o.badnets_target = -1, bad[3].msg = "badnets target class -1";
    bad[4].o.image_cols = 27, bad[4].msg = "28 x 27 images";
    bad[5].o.nonfinite = NAN, bad[5].msg = "nonfinite fraction";
    for (size_t i = 0; i < 6; i++) {
        err.msg[0] = '\0';
        assert_int_equal(datagen_plant(&data, &bad[i].o, &truth, NULL, &err), ASSAY_E_INVAL);
        assert_contains(err.msg, bad[i].msg);
    }
    assert_memory_equal(data.labels, orig.labels, data.n * sizeof *data.labels);

    /* A label outside the declared classes. */
    data.labels[17] = 10;
    assert_int_equal(datagen_plant(&data, &o, &truth, NULL, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "row 17 has label 10");
    datagen_truth_free(&truth);
    datagen_data_free(&data);
    datagen_data_free(&orig);
}

static void test_datagen_plant_never_repoisons_a_row(void **state) {
    (void)state;
    datagen_data data;
    make_images(&data, 500, 5);
    datagen_truth truth;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&truth, data.n, &err), ASSAY_OK);
    datagen_plant_opts o = DATAGEN_PLANT_OPTS_INIT;
    o.duplicates = 0.1;
    assert_int_equal(datagen_plant(&data, &o, &truth, NULL, &err), ASSAY_OK);
    uint8_t first[500];
    memcpy(first, truth.attack, sizeof first);

    /* A second call with the same seed must pick other rows: only clean, non-source rows. */
    o.duplicates = 0.0;
    o.random_flip = 0.5;
    datagen_plant_report rep;
    assert_int_equal(datagen_plant(&data, &o, &truth, &rep, &err), ASSAY_OK);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_RANDOM_FLIP], 250);
    for (size_t i = 0; i < data.n; i++) {
        if (first[i] != DATAGEN_ATTACK_NONE) assert_int_equal(truth.attack[i], first[i]);
        if (truth.attack[i] == DATAGEN_ATTACK_DUPLICATE_CONFLICT)
            assert_int_equal(truth.attack[truth.source[i]], DATAGEN_ATTACK_NONE);
    }
    /* 50 duplicates + 50 sources + 250 flips leave 150 rows: 0.31 * 500 = 155 cannot fit. */
    o.random_flip = 0.31;
    assert_int_equal(datagen_plant(&data, &o, &truth, NULL, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "only 150 eligible rows");
    datagen_truth_free(&truth);
    datagen_data_free(&data);
}

static void test_datagen_parse_attack_specs(void **state) {
    (void)state;
    datagen_targeted t;
    datagen_error err = {""};
    assert_int_equal(datagen_parse_targeted("0:6:0.05", &t, &err), ASSAY_OK);
    assert_int_equal(t.from, 0);
    assert_int_equal(t.to, 6);
    assert_close(0.05, t.fraction, 0);
    const char *bad_targeted[] = {"0:6", "0:6:", "a:6:0.1", "0:6:1.5", "0:6:0.1x", "-1:6:0.1", ""};
    for (size_t i = 0; i < sizeof bad_targeted / sizeof *bad_targeted; i++) {
        assert_int_equal(datagen_parse_targeted(bad_targeted[i], &t, &err), ASSAY_E_INVAL);
        assert_contains(err.msg, "FROM:TO:FRACTION");
    }
    int32_t target = -1;
    double f = -1;
    assert_int_equal(datagen_parse_badnets("3:0.01", &target, &f, &err), ASSAY_OK);
    assert_int_equal(target, 3);
    assert_close(0.01, f, 0);
    assert_int_equal(datagen_parse_badnets("3", &target, &f, &err), ASSAY_E_INVAL);
    assert_int_equal(datagen_parse_badnets("3:nan", &target, &f, &err), ASSAY_E_INVAL);
    assert_int_equal(datagen_parse_fraction("1", "--x", &f, &err), ASSAY_OK);
    assert_int_equal(datagen_parse_fraction("-0.1", "--x", &f, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "--x");

    datagen_format fmt;
    assert_int_equal(datagen_format_parse("hdf5", &fmt, &err), ASSAY_OK);
    assert_int_equal(fmt, DATAGEN_FORMAT_H5);
    assert_int_equal(datagen_format_parse("parquet", &fmt, &err), ASSAY_E_INVAL);
    assert_int_equal(datagen_format_from_path("x.CSV"), DATAGEN_FORMAT_CSV);
    assert_int_equal(datagen_format_from_path("dir/"), DATAGEN_FORMAT_NPY);
    assert_int_equal(datagen_format_from_path("x.h5"), DATAGEN_FORMAT_H5);
    assert_string_equal(datagen_attack_name(DATAGEN_ATTACK_DUPLICATE_CONFLICT),
                        "duplicate_conflict");
    assert_string_equal(datagen_attack_name(DATAGEN_ATTACK_COUNT), "unknown");
    assert_int_equal(datagen_exit_code(ASSAY_OK), 0);
    assert_int_equal(datagen_exit_code(ASSAY_E_FORMAT), 2);
    assert_int_equal(datagen_exit_code(ASSAY_E_NOMEM), 3);
}

/* ---- PCA ---- */

static double dot(const double *a, const float *b, size_t stride, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; i++) s += a[i] * b[i * stride];
    return s;
}

static void test_datagen_pca_recovers_known_axes(void **state) {
    (void)state;
    const size_t n = 4000, d = 12, p = 3;
    /* Two orthonormal directions u, v; data = 5 g1 u + 2 g2 v + 0.3 noise + offset. */
    double u[12], v[12];
    datagen_rng rng = datagen_rng_stream(11, 0);
    double nu = 0, uv = 0, nv = 0;
    for (size_t i = 0; i < d; i++) u[i] = datagen_rng_normal(&rng), nu += u[i] * u[i];
    for (size_t i = 0; i < d; i++) u[i] /= sqrt(nu);
    for (size_t i = 0; i < d; i++) v[i] = datagen_rng_normal(&rng), uv += v[i] * u[i];
    for (size_t i = 0; i < d; i++) v[i] -= uv * u[i], nv += v[i] * v[i];
    for (size_t i = 0; i < d; i++) v[i] /= sqrt(nv);
    float *x = malloc(n * d * sizeof *x);
    assert_non_null(x);
    for (size_t r = 0; r < n; r++) {
        double g1 = 5.0 * datagen_rng_normal(&rng), g2 = 2.0 * datagen_rng_normal(&rng);
        for (size_t i = 0; i < d; i++)
            x[r * d + i] =
                (float)(100.0 + g1 * u[i] + g2 * v[i] + 0.3 * datagen_rng_normal(&rng) + (double)i);
    }
    datagen_pca pca;
    datagen_error err = {""};
    assert_int_equal(datagen_pca_fit(x, n, d, p, &pca, &err), ASSAY_OK);
    assert_int_equal(pca.p, p);
    assert_true(fabs(dot(u, pca.components + 0, p, d)) > 0.999);
    assert_true(fabs(dot(v, pca.components + 1, p, d)) > 0.995);
    /* Variances: ~25 and ~4 (+0.09 noise), then noise only; strictly descending. */
    assert_close(25.0, pca.variance[0], 2.5);
    assert_close(4.0, pca.variance[1], 0.5);
    assert_true(pca.variance[0] > pca.variance[1] && pca.variance[1] > pca.variance[2]);
    assert_true(pca.variance[2] < 0.2);
    double total = 0;
    for (size_t i = 0; i < 3; i++) total += pca.variance[i];
    assert_true(pca.total_variance > total);
    assert_close(pca.total_variance, pca.variance[0] + pca.variance[1] + 0.09 * (double)(d - 2),
                 0.1 * pca.total_variance);
    /* Each axis is unit length, and its largest component is positive (fixed sign). */
    for (size_t k = 0; k < p; k++) {
        double norm = 0, big = 0;
        for (size_t i = 0; i < d; i++) {
            double c = pca.components[i * p + k];
            norm += c * c;
            if (fabs(c) > fabs(big)) big = c;
        }
        assert_close(1.0, norm, 1e-5);
        assert_true(big > 0);
    }
    /* The projection is centred and its column variances are the eigenvalues. */
    float *proj = malloc(n * p * sizeof *proj);
    assert_non_null(proj);
    assert_int_equal(datagen_pca_project(&pca, x, n, proj, &err), ASSAY_OK);
    for (size_t k = 0; k < p; k++) {
        double mean = 0, var = 0;
        for (size_t r = 0; r < n; r++) mean += proj[r * p + k] / (double)n;
        for (size_t r = 0; r < n; r++) var += pow(proj[r * p + k] - mean, 2) / (double)(n - 1);
        assert_close(0.0, mean, 1e-3 * sqrt(pca.variance[k]) + 1e-4);
        assert_close(pca.variance[k], var, 1e-3 * pca.variance[k]);
    }
    free(proj);
    datagen_pca_free(&pca);
    datagen_pca_free(&pca);

    /* All d axes: the eigenvalues add up to the trace. */
    assert_int_equal(datagen_pca_fit(x, n, d, d, &pca, &err), ASSAY_OK);
    total = 0;
    for (size_t k = 0; k < d; k++) total += pca.variance[k];
    assert_close(pca.total_variance, total, 1e-9 * total);
    datagen_pca_free(&pca);
    free(x);
}

static void test_datagen_pca_keeps_exact_duplicates_exact(void **state) {
    (void)state;
    /* Copies far apart (different sgemm blocks, tiles and threads), as conflicting duplicates are.
     */
    const size_t n = 5003, d = 100, p = 16, copies = 300;
    float *x = malloc(n * d * sizeof *x), *proj = malloc(n * p * sizeof *proj);
    size_t *source = malloc(n * sizeof *source);
    assert_non_null(x);
    assert_non_null(proj);
    assert_non_null(source);
    datagen_rng rng = datagen_rng_stream(12, 0);
    for (size_t i = 0; i < n * d; i++) x[i] = (float)datagen_rng_normal(&rng);
    for (size_t i = 0; i < n; i++) source[i] = i;
    for (size_t j = 0; j < copies; j++) {
        size_t a = (size_t)datagen_rng_below(&rng, n), b = (size_t)datagen_rng_below(&rng, n);
        if (a == b || source[a] != a) continue;
        memcpy(x + b * d, x + a * d, d * sizeof *x);
        source[b] = a;
    }
    datagen_pca pca;
    datagen_error err = {""};
    assert_int_equal(datagen_pca_fit(x, n, d, p, &pca, &err), ASSAY_OK);
    assert_int_equal(datagen_pca_project(&pca, x, n, proj, &err), ASSAY_OK);
    size_t checked = 0;
    for (size_t i = 0; i < n; i++) {
        if (source[i] == i || memcmp(x + i * d, x + source[i] * d, d * sizeof *x) != 0) continue;
        assert_memory_equal(proj + i * p, proj + source[i] * p, p * sizeof *proj);
        checked++;
    }
    assert_true(checked > copies / 2);
    datagen_pca_free(&pca);
    free(x);
    free(proj);
    free(source);
}

static void test_datagen_pca_rejects_bad_arguments(void **state) {
    (void)state;
    float x[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 0, 1};
    datagen_pca pca;
    datagen_error err = {""};
    assert_int_equal(datagen_pca_fit(x, 4, 3, 0, &pca, &err), ASSAY_E_INVAL);
    assert_int_equal(datagen_pca_fit(x, 4, 3, 4, &pca, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "expected 1..3");
    assert_int_equal(datagen_pca_fit(x, 1, 3, 1, &pca, &err), ASSAY_E_INVAL);
    x[7] = NAN;
    assert_int_equal(datagen_pca_fit(x, 4, 3, 1, &pca, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "row 2 column 1");
    assert_null(pca.mean);
}

/* ---- synthetic data ---- */

static void test_datagen_synth_blobs_and_planted_rows(void **state) {
    (void)state;
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = 2000;
    o.d = 8;
    o.classes = 4;
    o.plant.random_flip = 0.02;
    o.plant.duplicates = 0.01;
    o.plant.outliers = 0.005;
    o.plant.nonfinite = 0.005;
    datagen_data data;
    datagen_truth truth;
    datagen_plant_report rep;
    datagen_error err = {""};
    assert_int_equal(datagen_synth(&o, &data, &truth, &rep, &err), ASSAY_OK);
    assert_int_equal(data.n, 2000);
    assert_int_equal(data.d, 8);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_RANDOM_FLIP], 40);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_DUPLICATE_CONFLICT], 20);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_OUTLIER], 10);
    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_NONFINITE], 10);
    size_t per_class[4] = {0};
    for (size_t i = 0; i < data.n; i++) {
        int nan_row = 0;
        for (size_t c = 0; c < data.d; c++) nan_row |= isnan(data.x[i * data.d + c]);
        assert_int_equal(nan_row, truth.attack[i] == DATAGEN_ATTACK_NONFINITE);
        if (truth.attack[i] == DATAGEN_ATTACK_NONE) per_class[data.labels[i]]++;
        assert_int_equal(data.ids[i], (int64_t)i);
    }
    /* Balanced classes before planting: the clean rows are still close to 500 per class. */
    for (size_t c = 0; c < 4; c++) assert_true(per_class[c] > 450 && per_class[c] <= 500);

    /* Clean rows sit nearer their own class mean than any other (separation 8 sds). */
    double mean[4][8] = {{0}};
    for (size_t i = 0; i < data.n; i++)
        if (truth.attack[i] == DATAGEN_ATTACK_NONE)
            for (size_t c = 0; c < 8; c++)
                mean[data.labels[i]][c] += data.x[i * 8 + c] / (double)per_class[data.labels[i]];
    size_t nearest_own = 0, clean = 0;
    for (size_t i = 0; i < data.n; i++) {
        if (truth.attack[i] != DATAGEN_ATTACK_NONE) continue;
        size_t best = 0;
        double best_d = INFINITY;
        for (size_t k = 0; k < 4; k++) {
            double dd = 0;
            for (size_t c = 0; c < 8; c++) dd += pow(data.x[i * 8 + c] - mean[k][c], 2);
            if (dd < best_d) best_d = dd, best = k;
        }
        nearest_own += best == (size_t)data.labels[i];
        clean++;
    }
    assert_true(nearest_own >= clean - clean / 100);
    datagen_data_free(&data);
    datagen_truth_free(&truth);

    o.classes = 1;
    assert_int_equal(datagen_synth(&o, &data, &truth, NULL, &err), ASSAY_E_INVAL);
    assert_null(data.x);
}

/* ---- writers: layout checked without the library's loaders ---- */

static datagen_data small_dataset(datagen_truth *truth, size_t n, size_t d) {
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = n;
    o.d = d;
    o.classes = 3;
    o.seed = 77;
    o.plant.random_flip = 0.05;
    o.plant.duplicates = 0.05;
    datagen_data data;
    datagen_error err = {""};
    assert_int_equal(datagen_synth(&o, &data, truth, NULL, &err), ASSAY_OK);
    for (size_t i = 0; i < n; i++) data.ids[i] = 1000000007LL * (int64_t)i; /* > int32 */
    return data;
}

static void test_datagen_npy_header_layout(void **state) {
    (void)state;
    datagen_truth truth;
    datagen_data data = small_dataset(&truth, 37, 5);
    char dir[1024], path[1100];
    tu_path(dir, sizeof dir, "dg_npy_layout");
    datagen_error err = {""};
    assert_int_equal(datagen_write(DATAGEN_FORMAT_NPY, dir, &data, 0, &err), ASSAY_OK);

    const struct {
        const char *file, *dict;
        size_t data_bytes;
    } expect[3] = {
        {"emb.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (37, 5), }", 37 * 5 * 4},
        {"labels.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (37,), }", 37 * 4},
        {"ids.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (37,), }", 37 * 8}};
    for (size_t f = 0; f < 3; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, expect[f].file);
        size_t len = 0;
        unsigned char *buf = read_all(path, &len);
        assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
        size_t header_len = buf[8] | (size_t)buf[9] << 8;
        assert_int_equal((10 + header_len) % 64, 0);
        assert_int_equal(buf[10 + header_len - 1], '\n');
        size_t dict_len = strlen(expect[f].dict);
        assert_memory_equal(buf + 10, expect[f].dict, dict_len);
        for (size_t k = 10 + dict_len; k < 10 + header_len - 1; k++) assert_int_equal(buf[k], ' ');
        assert_int_equal(len, 10 + header_len + expect[f].data_bytes);
        const unsigned char *payload = buf + 10 + header_len;
        if (f == 0) assert_memory_equal(payload, data.x, expect[f].data_bytes);
        if (f == 1) assert_memory_equal(payload, data.labels, expect[f].data_bytes);
        if (f == 2) assert_memory_equal(payload, data.ids, expect[f].data_bytes);
        free(buf);
    }
    /* A .npy name for the folder is refused with a hint. */
    snprintf(path, sizeof path, "%s/x.npy", dir);
    assert_int_equal(datagen_write(DATAGEN_FORMAT_NPY, path, &data, 0, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "folder");
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

static void test_datagen_csv_floats_round_trip_exactly(void **state) {
    (void)state;
    datagen_truth truth;
    datagen_data data = small_dataset(&truth, 2500, 4);
    /* 10,000 consecutive floats from 1000: their spacing (2^-14) is finer than 8 significant
     * digits can tell apart (1e-4), so these need the 9th digit to come back. */
    float next = 1000.0f;
    for (size_t i = 0; i < data.n * data.d; i++, next = nextafterf(next, INFINITY))
        data.x[i] = next;
    /* Values at the edges of the range, plus the special ones. */
    data.x[0] = 0.1f;
    data.x[1] = 16777217.0f;
    data.x[2] = 1.17549435e-38f;
    data.x[3] = -3.40282347e+38f;
    data.x[4] = 1e-45f; /* smallest subnormal */
    data.x[5] = NAN;
    data.x[6] = INFINITY;
    data.x[7] = -INFINITY;
    char path[1024];
    tu_path(path, sizeof path, "dg_exact.csv");
    datagen_error err = {""};
    assert_int_equal(datagen_write_csv(path, &data, &err), ASSAY_OK);

    size_t len = 0;
    char *text = (char *)read_all(path, &len);
    assert_non_null(strstr(text, ",nan,inf,-inf\n")); /* not "-nan" or "1.#INF" */
    char *line = strtok(text, "\n");
    assert_string_equal(line, "id,label,f0,f1,f2,f3");
    for (size_t i = 0; i < data.n; i++) {
        line = strtok(NULL, "\n");
        assert_non_null(line);
        char *end = NULL;
        assert_int_equal(strtoll(line, &end, 10), data.ids[i]);
        assert_int_equal(*end, ',');
        assert_int_equal(strtol(end + 1, &end, 10), data.labels[i]);
        for (size_t c = 0; c < 4; c++) {
            assert_int_equal(*end, ',');
            float v = strtof(end + 1, &end);
            float want = data.x[i * 4 + c];
            if (isnan(want))
                assert_true(isnan(v));
            else
                assert_memory_equal(&v, &want, sizeof v);
        }
        assert_int_equal(*end, '\0');
    }
    assert_null(strtok(NULL, "\n"));
    free(text);
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

static void test_datagen_truth_file_lists_every_row(void **state) {
    (void)state;
    datagen_truth truth;
    datagen_data data = small_dataset(&truth, 40, 3);
    char path[1024];
    tu_path(path, sizeof path, "dg_truth.csv");
    datagen_error err = {""};
    assert_int_equal(datagen_write_truth(path, &truth, &err), ASSAY_OK);
    size_t len = 0;
    char *text = (char *)read_all(path, &len);
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    assert_string_equal(line, "index,is_poison,attack,source");
    size_t dups = 0;
    for (size_t i = 0; i < truth.n; i++) {
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        char want[128];
        datagen_attack a = (datagen_attack)truth.attack[i];
        if (truth.source[i] >= 0)
            snprintf(want, sizeof want, "%zu,1,%s,%lld", i, datagen_attack_name(a),
                     (long long)truth.source[i]);
        else
            snprintf(want, sizeof want, "%zu,%d,%s,", i, a != DATAGEN_ATTACK_NONE,
                     datagen_attack_name(a));
        assert_string_equal(line, want);
        dups += a == DATAGEN_ATTACK_DUPLICATE_CONFLICT;
    }
    assert_int_equal(dups, 2); /* round(0.05 * 40) */
    assert_null(strtok_r(NULL, "\n", &save));
    free(text);
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

static const char *const three_names[3] = {"T-shirt/top", "Ankle boot", "Ünïcode ✓"};

static void check_h5_dataset(hid_t file, const char *name, hid_t want_type, int rank,
                             const hsize_t *want_dims, int chunked) {
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(ds >= 0);
    hid_t type = H5Dget_type(ds);
    assert_true(H5Tequal(type, want_type) > 0);
    hid_t space = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    assert_int_equal(H5Sget_simple_extent_ndims(space), rank);
    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; i < rank; i++) assert_int_equal(dims[i], want_dims[i]);
    hid_t dcpl = H5Dget_create_plist(ds);
    assert_int_equal(H5Pget_layout(dcpl), chunked ? H5D_CHUNKED : H5D_CONTIGUOUS);
    if (chunked) {
        unsigned flags = 0, level = 0;
        size_t n_values = 1;
        assert_true(H5Pget_filter_by_id2(dcpl, H5Z_FILTER_DEFLATE, &flags, &n_values, &level, 0,
                                         NULL, NULL) >= 0);
        assert_int_equal(level, 6);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(ds);
}

static void test_datagen_h5_layout(void **state) {
    (void)state;
    datagen_truth truth;
    datagen_data data = small_dataset(&truth, 64, 6);
    data.class_names = three_names;
    data.description = "unit test";
    for (int gz = 0; gz <= 6; gz += 6) {
        char path[1024];
        tu_path(path, sizeof path, "dg_layout_%d.h5", gz);
        datagen_error err = {""};
        assert_int_equal(datagen_write_h5(path, &data, gz, &err), ASSAY_OK);

        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        assert_true(file >= 0);
        hsize_t d2[2] = {64, 6}, d1[1] = {64};
        check_h5_dataset(file, "/embeddings", H5T_IEEE_F32LE, 2, d2, gz > 0);
        check_h5_dataset(file, "/labels", H5T_STD_I32LE, 1, d1, gz > 0);
        check_h5_dataset(file, "/ids", H5T_STD_I64LE, 1, d1, gz > 0);

        float *x = malloc(64 * 6 * sizeof *x);
        int64_t ids[64];
        hid_t ds = H5Dopen2(file, "/embeddings", H5P_DEFAULT);
        assert_true(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
        assert_memory_equal(x, data.x, 64 * 6 * sizeof *x);
        H5Dclose(ds);
        ds = H5Dopen2(file, "/ids", H5P_DEFAULT);
        assert_true(H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids) >= 0);
        assert_memory_equal(ids, data.ids, sizeof ids);
        H5Dclose(ds);
        free(x);

        /* class_names: 1-D, variable-length, UTF-8 strings on /labels. */
        ds = H5Dopen2(file, "/labels", H5P_DEFAULT);
        hid_t attr = H5Aopen(ds, "class_names", H5P_DEFAULT);
        assert_true(attr >= 0);
        hid_t type = H5Aget_type(attr);
        assert_int_equal(H5Tget_class(type), H5T_STRING);
        assert_true(H5Tis_variable_str(type) > 0);
        assert_int_equal(H5Tget_cset(type), H5T_CSET_UTF8);
        hid_t space = H5Aget_space(attr);
        hsize_t n_names = 0;
        assert_int_equal(H5Sget_simple_extent_ndims(space), 1);
        H5Sget_simple_extent_dims(space, &n_names, NULL);
        assert_int_equal(n_names, 3);
        char *names[3] = {NULL, NULL, NULL};
        assert_true(H5Aread(attr, type, names) >= 0);
        for (int i = 0; i < 3; i++) assert_string_equal(names[i], three_names[i]);
        H5Dvlen_reclaim(type, space, H5P_DEFAULT, names);
        H5Sclose(space);
        H5Tclose(type);
        H5Aclose(attr);
        H5Dclose(ds);
        assert_true(H5Aexists(file, "description") > 0);
        H5Fclose(file);
    }
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

static void test_datagen_writes_are_atomic(void **state) {
    (void)state;
    datagen_truth truth;
    datagen_data data = small_dataset(&truth, 20, 2);
    char dir[1024], path[1100];
    tu_path(dir, sizeof dir, "dg_atomic");
    mkdir(dir, 0777);
    datagen_error err = {""};

    /* Replacing an existing file: the old content is gone, no temporary stays behind. */
    for (int fmt = 0; fmt < 2; fmt++) {
        snprintf(path, sizeof path, "%s/out.%s", dir, fmt ? "csv" : "h5");
        tu_write_text(path, "old content");
        assert_int_equal(
            datagen_write(fmt ? DATAGEN_FORMAT_CSV : DATAGEN_FORMAT_H5, path, &data, 0, &err),
            ASSAY_OK);
        size_t len = 0;
        unsigned char *buf = read_all(path, &len);
        assert_true(len > 11 && memcmp(buf, "old content", 11) != 0);
        free(buf);
    }
    snprintf(path, sizeof path, "%s/truth.csv", dir);
    assert_int_equal(datagen_write_truth(path, &truth, &err), ASSAY_OK);
    assert_int_equal(count_temporaries(dir), 0);

    /* A folder that does not exist: an error naming the file, and nothing created. */
    snprintf(path, sizeof path, "%s/missing/out.h5", dir);
    assert_int_equal(datagen_write_h5(path, &data, 0, &err), ASSAY_E_IO);
    assert_contains(err.msg, path);
    snprintf(path, sizeof path, "%s/missing/out.csv", dir);
    assert_int_equal(datagen_write_csv(path, &data, &err), ASSAY_E_IO);
    /* The final rename failing (a folder holds the name): the temporary is removed. */
    snprintf(path, sizeof path, "%s/sub", dir);
    mkdir(path, 0777);
    assert_int_not_equal(datagen_write_h5(path, &data, 0, &err), ASSAY_OK);
    assert_int_not_equal(datagen_write_csv(path, &data, &err), ASSAY_OK);
    assert_int_equal(count_temporaries(dir), 0);
    assert_int_equal(datagen_write_h5(path, &data, 10, &err), ASSAY_E_INVAL);
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

/* ---- round trips through the library's loader ---- */

static int setup_ctx(void **state) {
    assay_ctx *ctx = NULL;
    if (assay_ctx_create(&ctx, NULL) != ASSAY_OK) return -1;
    *state = ctx;
    return 0;
}

static int teardown_ctx(void **state) {
    assay_ctx_destroy(*state);
    return 0;
}

/* Loads `path` with `opts` and checks every value against `data`. */
static void check_loaded(assay_ctx *ctx, const char *path, const assay_load_opts *opts,
                         const datagen_data *data) {
    assay_dataset *ds = NULL;
    assay_status s = assay_dataset_load(ctx, path, opts, &ds);
    if (s != ASSAY_OK) fail_msg("%s: %s", path, assay_ctx_errmsg(ctx));
    assert_int_equal(assay_dataset_rows(ds), data->n);
    assert_int_equal(assay_dataset_dims(ds), data->d);
    assert_int_equal(assay_dataset_classes(ds), data->n_classes);
    for (size_t i = 0; i < data->n; i++) {
        const float *row = assay_dataset_row(ds, i);
        assert_non_null(row);
        assert_memory_equal(row, data->x + i * data->d, data->d * sizeof *row);
        int32_t c = assay_dataset_row_class(ds, i);
        assert_true(c >= 0);
        const char *label = assay_dataset_class_label(ds, (size_t)c);
        assert_non_null(label);
        assert_int_equal(strtol(label, NULL, 10), data->labels[i]);
        char id[32], want[32];
        assert_int_equal(assay_dataset_row_id(ds, i, id, sizeof id), ASSAY_OK);
        snprintf(want, sizeof want, "%lld", (long long)data->ids[i]);
        assert_string_equal(id, want);
    }
    assay_dataset_destroy(ds);
}

static void test_datagen_h5_round_trip_through_loader(void **state) {
    datagen_truth truth;
    datagen_data data = small_dataset(&truth, 120, 7);
    data.class_names = three_names;
    char path[1024];
    datagen_error err = {""};
    for (int gz = 0; gz <= 4; gz += 4) {
        tu_path(path, sizeof path, "dg_rt_%d.h5", gz);
        assert_int_equal(datagen_write_h5(path, &data, gz, &err), ASSAY_OK);
        check_loaded(*state, path, NULL, &data);
    }
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

static void test_datagen_csv_round_trip_through_loader(void **state) {
    datagen_truth truth;
    datagen_data data = small_dataset(&truth, 120, 7);
    char path[1024];
    tu_path(path, sizeof path, "dg_rt.csv");
    datagen_error err = {""};
    assert_int_equal(datagen_write_csv(path, &data, &err), ASSAY_OK);
    check_loaded(*state, path, NULL, &data);
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

static void test_datagen_npy_round_trip_through_loader(void **state) {
    datagen_truth truth;
    datagen_data data = small_dataset(&truth, 120, 7);
    char dir[1024], emb[1100], labels[1100], ids[1100];
    tu_path(dir, sizeof dir, "dg_rt_npy");
    datagen_error err = {""};
    assert_int_equal(datagen_write(DATAGEN_FORMAT_NPY, dir, &data, 0, &err), ASSAY_OK);
    snprintf(emb, sizeof emb, "%s/emb.npy", dir);
    snprintf(labels, sizeof labels, "%s/labels.npy", dir);
    snprintf(ids, sizeof ids, "%s/ids.npy", dir);
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.labels_file = labels;
    o.ids_file = ids;
    check_loaded(*state, emb, &o, &data);
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

/* ---- the assay-fmnist tool end to end, on a tiny fake Fashion-MNIST ---- */

static int run(const char *fmt, ...) DATAGEN_PRINTF(1, 2);
static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_datagen_fmnist_tool_end_to_end(void **state) {
    (void)state;
    char tool[1024];
    snprintf(tool, sizeof tool, "%s/assay-fmnist", ASSAY_BINARY_DIR);
    if (access(tool, X_OK) != 0) {
        print_message("%s not built; build the assay-fmnist target to run this test\n", tool);
        skip();
    }
    char dir[1024], path[1100], out[1100], truth[1100];
    tu_path(dir, sizeof dir, "dg_fake_fmnist");
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    write_idx_images(path, 0x00000803u, 200, 28, 28, 200 * 784);
    uint8_t labels[200];
    for (int i = 0; i < 200; i++) labels[i] = (uint8_t)(i % 10);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
    write_idx_labels(path, 200, labels);
    snprintf(out, sizeof out, "%s/demo.h5", dir);
    snprintf(truth, sizeof truth, "%s/truth.csv", dir);

    assert_int_equal(run("%s --idx-dir %s --out %s --truth %s 2>/dev/null", tool, dir, out, truth),
                     0);
    /* Defaults on 200 rows: 4 random flips, 1 + 1 targeted, 2 badnets, 1 duplicate. */
    size_t len = 0;
    char *text = (char *)read_all(truth, &len);
    size_t lines = 0, poisoned = 0;
    for (char *p = text; *p; p++) lines += *p == '\n';
    for (char *p = strstr(text, ",1,"); p; p = strstr(p + 1, ",1,")) poisoned++;
    assert_int_equal(lines, 201);
    assert_int_equal(poisoned, 9);
    free(text);
    hid_t file = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    hsize_t d2[2] = {200, 784};
    check_h5_dataset(file, "/embeddings", H5T_IEEE_F32LE, 2, d2, 0);
    H5Fclose(file);

    assert_int_equal(
        run("%s --idx-dir %s --out %s/pca.csv --pca 8 --clean 2>/dev/null", tool, dir, dir), 0);
    text = (char *)read_all(strcat(strcpy(path, dir), "/pca.csv"), &len);
    assert_true(strncmp(text, "id,label,f0,f1,f2,f3,f4,f5,f6,f7\n", 33) == 0);
    free(text);

    /* Bad usage and bad input exit 2 and leave no output behind. */
    assert_int_equal(run("%s --out %s/x.h5 --split dev 2>/dev/null", tool, dir), 2);
    assert_int_equal(run("%s --out %s/x.h5 --clean --random-flip 0.1 2>/dev/null", tool, dir), 2);
    assert_int_equal(run("%s --out %s/x.h5 --targeted 0:6 2>/dev/null", tool, dir), 2);
    assert_int_equal(run("%s --idx-dir %s/none --out %s/x.h5 2>/dev/null", tool, dir, dir), 2);
    assert_int_equal(run("%s --idx-dir %s --out %s/x.h5 --pca 785 2>/dev/null", tool, dir, dir), 2);
    assert_int_equal(
        run("%s --idx-dir %s --out %s/x.h5 --badnets 0:0.9 2>/dev/null", tool, dir, dir), 2);
    assert_int_equal(run("%s 2>/dev/null", tool), 2);
    assert_int_equal(access(strcat(strcpy(path, dir), "/x.h5"), F_OK), -1);
    assert_int_equal(count_temporaries(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datagen_idx_reads_gzip_images_and_labels),
        cmocka_unit_test(test_datagen_idx_rejects_wrong_magic),
        cmocka_unit_test(test_datagen_idx_rejects_short_and_long_data),
        cmocka_unit_test(test_datagen_idx_missing_and_corrupt_files),
        cmocka_unit_test(test_datagen_plant_counts_match_fractions),
        cmocka_unit_test(test_datagen_plant_changes_each_row_only_by_its_attack),
        cmocka_unit_test(test_datagen_plant_same_seed_same_result),
        cmocka_unit_test(test_datagen_plant_same_seed_byte_identical_files),
        cmocka_unit_test(test_datagen_plant_impossible_request_changes_nothing),
        cmocka_unit_test(test_datagen_plant_never_repoisons_a_row),
        cmocka_unit_test(test_datagen_parse_attack_specs),
        cmocka_unit_test(test_datagen_pca_recovers_known_axes),
        cmocka_unit_test(test_datagen_pca_keeps_exact_duplicates_exact),
        cmocka_unit_test(test_datagen_pca_rejects_bad_arguments),
        cmocka_unit_test(test_datagen_synth_blobs_and_planted_rows),
        cmocka_unit_test(test_datagen_npy_header_layout),
        cmocka_unit_test(test_datagen_csv_floats_round_trip_exactly),
        cmocka_unit_test(test_datagen_truth_file_lists_every_row),
        cmocka_unit_test(test_datagen_h5_layout),
        cmocka_unit_test(test_datagen_writes_are_atomic),
        cmocka_unit_test_setup_teardown(test_datagen_h5_round_trip_through_loader, setup_ctx,
                                        teardown_ctx),
        cmocka_unit_test_setup_teardown(test_datagen_csv_round_trip_through_loader, setup_ctx,
                                        teardown_ctx),
        cmocka_unit_test_setup_teardown(test_datagen_npy_round_trip_through_loader, setup_ctx,
                                        teardown_ctx),
        cmocka_unit_test(test_datagen_fmnist_tool_end_to_end),
    };
    return cmocka_run_group_tests_name("datagen", tests, NULL, NULL);
}

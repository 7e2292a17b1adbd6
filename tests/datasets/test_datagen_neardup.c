/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the near-duplicate attack of assay_datagen: a row is overwritten by a copy of another
 * clean row of its own class with a few features moved by a few steps, and the truth names it. */
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"

#include "datagen.h"

/* ---- helpers ---- */

/* 28x28 "images" of whole grey levels (k/255, as assay-fmnist makes them) with balanced labels;
 * with `binary` every pixel is 0 or 1, so every move starts at the edge of the range. */
static void make_images(datagen_data *data, size_t n, uint64_t seed, int binary) {
    datagen_error err = {""};
    assert_int_equal(datagen_data_alloc(data, n, 784, 10, &err), ASSAY_OK);
    datagen_rng rng = datagen_rng_stream(seed, 0);
    for (size_t i = 0; i < n * 784; i++) {
        uint64_t level = binary ? 255 * datagen_rng_below(&rng, 2) : datagen_rng_below(&rng, 256);
        data->x[i] = (float)level / 255.0f;
    }
    for (size_t i = 0; i < n; i++) data->labels[i] = (int32_t)(i % 10);
}

static void copy_data(datagen_data *dst, const datagen_data *src) {
    datagen_error err = {""};
    assert_int_equal(datagen_data_alloc(dst, src->n, src->d, src->n_classes, &err), ASSAY_OK);
    memcpy(dst->x, src->x, src->n * src->d * sizeof *src->x);
    memcpy(dst->labels, src->labels, src->n * sizeof *src->labels);
    memcpy(dst->ids, src->ids, src->n * sizeof *src->ids);
}

/* Every attack but near-duplicates, as the datagen tests plant them. */
static datagen_plant_opts other_attacks(uint64_t seed) {
    datagen_plant_opts o = DATAGEN_PLANT_OPTS_INIT;
    o.seed = seed;
    o.random_flip = 0.05;
    o.targeted[0] = (datagen_targeted){0, 6, 0.1};
    o.n_targeted = 1;
    o.badnets = 0.03;
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

/* Checks every near-duplicate row against its source and the untouched original: same label as
 * the source, the source clean, unchanged and copied once, exactly `moved` features different,
 * each by 1..levels grey levels and inside [0, 1]. Returns the number of near-duplicate rows. */
static size_t check_near_duplicates(const datagen_data *data, const datagen_data *orig,
                                    const datagen_truth *truth, const datagen_plant_opts *o,
                                    size_t moved) {
    uint8_t *used = calloc(data->n, 1);
    assert_non_null(used);
    size_t rows = 0, d = data->d;
    for (size_t i = 0; i < data->n; i++) {
        if (truth->attack[i] != DATAGEN_ATTACK_NEAR_DUPLICATE) continue;
        rows++;
        int64_t s = truth->source[i];
        assert_true(s >= 0 && (size_t)s < data->n && (size_t)s != i);
        assert_int_equal(truth->attack[s], DATAGEN_ATTACK_NONE);
        assert_int_equal(used[s], 0);
        used[s] = 1;
        const float *row = data->x + i * d, *src = data->x + (size_t)s * d;
        assert_memory_equal(src, orig->x + (size_t)s * d, d * sizeof *src);
        assert_int_equal(data->labels[i], orig->labels[i]); /* the label is kept ... */
        assert_int_equal(data->labels[i], data->labels[s]); /* ... and is the source's */
        size_t changed = 0;
        for (size_t c = 0; c < d; c++) {
            if (row[c] == src[c]) continue;
            changed++;
            double steps = fabs((double)row[c] - (double)src[c]) / (double)o->near_dup_step;
            assert_true(row[c] >= o->value_min && row[c] <= o->value_max);
            assert_true(steps > 0.999 && steps < (double)o->near_dup_levels + 0.001);
            assert_close(round(steps), steps, 1e-3); /* whole steps */
        }
        assert_int_equal(changed, moved);
    }
    free(used);
    return rows;
}

/* ---- planting ---- */

static void test_datagen_neardup_rows_are_perturbed_copies_of_their_class(void **state) {
    (void)state;
    datagen_data data, orig;
    make_images(&data, 1000, 1, 0);
    copy_data(&orig, &data);
    datagen_truth truth;
    datagen_plant_report rep;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&truth, data.n, &err), ASSAY_OK);
    datagen_plant_opts o = DATAGEN_PLANT_OPTS_INIT;
    o.seed = 42;
    o.near_duplicates = 0.05;
    assert_int_equal(datagen_plant(&data, &o, &truth, &rep, &err), ASSAY_OK);

    assert_int_equal(rep.by_attack[DATAGEN_ATTACK_NEAR_DUPLICATE], 50);
    assert_int_equal(rep.poisoned, 50);
    assert_int_equal(truth_count(&truth, DATAGEN_ATTACK_NEAR_DUPLICATE), 50);
    /* round(0.03 * 784) = 24 pixels per copy. */
    assert_int_equal(check_near_duplicates(&data, &orig, &truth, &o, 24), 50);
    /* Every other row is untouched and has no source. */
    for (size_t i = 0; i < data.n; i++) {
        if (truth.attack[i] == DATAGEN_ATTACK_NEAR_DUPLICATE) continue;
        assert_int_equal(truth.source[i], -1);
        assert_int_equal(data.labels[i], orig.labels[i]);
        assert_memory_equal(data.x + i * 784, orig.x + i * 784, 784 * sizeof(float));
    }
    assert_string_equal(datagen_attack_name(DATAGEN_ATTACK_NEAR_DUPLICATE), "near_duplicate");
    datagen_truth_free(&truth);
    datagen_data_free(&data);
    datagen_data_free(&orig);
}

static void test_datagen_neardup_stays_in_range_at_the_edges(void **state) {
    (void)state;
    /* Pixels at 0 and 1 only: half the random moves point out of the range and must turn back. */
    datagen_data data, orig;
    make_images(&data, 400, 2, 1);
    copy_data(&orig, &data);
    datagen_truth truth;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&truth, data.n, &err), ASSAY_OK);
    datagen_plant_opts o = DATAGEN_PLANT_OPTS_INIT;
    o.seed = 3;
    o.near_duplicates = 0.1;
    o.near_dup_share = 0.5;
    o.near_dup_levels = 5;
    assert_int_equal(datagen_plant(&data, &o, &truth, NULL, &err), ASSAY_OK);
    assert_int_equal(check_near_duplicates(&data, &orig, &truth, &o, 392), 40);

    /* A share so small it rounds to no feature still moves one. */
    datagen_data one;
    make_images(&one, 100, 4, 0);
    datagen_data_free(&orig);
    copy_data(&orig, &one);
    datagen_truth t1;
    assert_int_equal(datagen_truth_init(&t1, one.n, &err), ASSAY_OK);
    o.near_dup_share = 1e-6;
    assert_int_equal(datagen_plant(&one, &o, &t1, NULL, &err), ASSAY_OK);
    assert_int_equal(check_near_duplicates(&one, &orig, &t1, &o, 1), 10);
    datagen_truth_free(&t1);
    datagen_data_free(&one);
    datagen_truth_free(&truth);
    datagen_data_free(&data);
    datagen_data_free(&orig);
}

static void test_datagen_neardup_leaves_other_attacks_unchanged(void **state) {
    (void)state;
    /* The same seed with and without near-duplicates: every row the other attacks chose is
     * chosen and written the same way, and near-duplicates only take rows that stayed clean. */
    datagen_data a, b, orig;
    make_images(&a, 1000, 5, 0);
    copy_data(&b, &a);
    copy_data(&orig, &a);
    datagen_truth ta, tb;
    datagen_plant_report ra, rb;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&ta, a.n, &err), ASSAY_OK);
    assert_int_equal(datagen_truth_init(&tb, b.n, &err), ASSAY_OK);
    datagen_plant_opts o = other_attacks(11);
    assert_int_equal(datagen_plant(&a, &o, &ta, &ra, &err), ASSAY_OK);
    o.near_duplicates = 0.03;
    assert_int_equal(datagen_plant(&b, &o, &tb, &rb, &err), ASSAY_OK);

    assert_int_equal(rb.by_attack[DATAGEN_ATTACK_NEAR_DUPLICATE], 30);
    assert_int_equal(rb.poisoned, ra.poisoned + 30);
    for (int k = 0; k < DATAGEN_ATTACK_COUNT; k++)
        if (k != DATAGEN_ATTACK_NONE && k != DATAGEN_ATTACK_NEAR_DUPLICATE)
            assert_int_equal(ra.by_attack[k], rb.by_attack[k]);
    for (size_t i = 0; i < a.n; i++) {
        if (tb.attack[i] == DATAGEN_ATTACK_NEAR_DUPLICATE) {
            assert_int_equal(ta.attack[i], DATAGEN_ATTACK_NONE);
            continue;
        }
        assert_int_equal(ta.attack[i], tb.attack[i]);
        assert_int_equal(ta.source[i], tb.source[i]);
        assert_int_equal(a.labels[i], b.labels[i]);
        assert_memory_equal(a.x + i * 784, b.x + i * 784, 784 * sizeof(float));
    }
    /* A near-duplicate never copies a row another attack changed or a duplicate's source. */
    assert_int_equal(check_near_duplicates(&b, &orig, &tb, &o, 24), 30);
    for (size_t i = 0; i < b.n; i++)
        if (tb.attack[i] == DATAGEN_ATTACK_DUPLICATE_CONFLICT)
            assert_int_not_equal(tb.attack[tb.source[i]], DATAGEN_ATTACK_NEAR_DUPLICATE);

    /* And the same seed gives the same rows and the same noise. */
    datagen_data c;
    copy_data(&c, &orig);
    datagen_truth tc;
    assert_int_equal(datagen_truth_init(&tc, c.n, &err), ASSAY_OK);
    assert_int_equal(datagen_plant(&c, &o, &tc, NULL, &err), ASSAY_OK);
    assert_memory_equal(tb.attack, tc.attack, b.n);
    assert_memory_equal(tb.source, tc.source, b.n * sizeof *tb.source);
    assert_memory_equal(b.x, c.x, b.n * b.d * sizeof *b.x);
    datagen_truth_free(&ta);
    datagen_truth_free(&tb);
    datagen_truth_free(&tc);
    datagen_data_free(&a);
    datagen_data_free(&b);
    datagen_data_free(&c);
    datagen_data_free(&orig);
}

static void test_datagen_neardup_rejects_impossible_requests(void **state) {
    (void)state;
    datagen_data data, orig;
    make_images(&data, 200, 6, 0);
    copy_data(&orig, &data);
    datagen_truth truth;
    datagen_error err = {""};
    assert_int_equal(datagen_truth_init(&truth, data.n, &err), ASSAY_OK);
    const struct {
        double fraction, share;
        int levels;
        float lo, hi;
        const char *msg;
    } bad[] = {
        {1.5, 0.03, 3, 0.0f, 1.0f, "near-duplicates fraction 1.5"},
        {0.6, 0.03, 3, 0.0f, 1.0f, "needs 240 clean rows"},
        {0.1, 0.0, 3, 0.0f, 1.0f, "share of perturbed features 0"},
        {0.1, 0.03, 0, 0.0f, 1.0f, "noise of 0 steps"},
        {0.1, 0.03, 3, 1.0f, 1.0f, "value range [1, 1]"},
    };
    for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
        datagen_plant_opts o = DATAGEN_PLANT_OPTS_INIT;
        o.near_duplicates = bad[j].fraction;
        o.near_dup_share = bad[j].share;
        o.near_dup_levels = bad[j].levels;
        o.value_min = bad[j].lo;
        o.value_max = bad[j].hi;
        assert_int_equal(datagen_plant(&data, &o, &truth, NULL, &err), ASSAY_E_INVAL);
        assert_contains(err.msg, bad[j].msg);
        assert_memory_equal(data.x, orig.x, data.n * data.d * sizeof *data.x);
        assert_int_equal(truth_count(&truth, DATAGEN_ATTACK_NONE), data.n);
    }
    /* Every row in its own class: there is no same-class row to copy. */
    for (size_t i = 0; i < 10; i++) data.labels[i] = (int32_t)i;
    datagen_data ten = data;
    ten.n = 10;
    datagen_truth t10;
    assert_int_equal(datagen_truth_init(&t10, 10, &err), ASSAY_OK);
    datagen_plant_opts o = DATAGEN_PLANT_OPTS_INIT;
    o.near_duplicates = 0.2;
    assert_int_equal(datagen_plant(&ten, &o, &t10, NULL, &err), ASSAY_E_INVAL);
    assert_contains(err.msg, "no clean row with a label equal to");
    assert_memory_equal(data.x, orig.x, data.n * data.d * sizeof *data.x);
    datagen_truth_free(&t10);
    datagen_truth_free(&truth);
    datagen_data_free(&data);
    datagen_data_free(&orig);
}

/* ---- assay-fmnist --near-duplicates, on a tiny fake Fashion-MNIST ---- */

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX file: `magic`, then the dimensions, then `len` bytes. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int rank,
                      const unsigned char *bytes, size_t len) {
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    unsigned char head[16];
    put_be32(head, magic);
    for (int r = 0; r < rank; r++) put_be32(head + 4 + 4 * r, dims[r]);
    assert_int_equal(gzwrite(gz, head, (unsigned)(4 + 4 * rank)), 4 + 4 * rank);
    assert_int_equal(gzwrite(gz, bytes, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

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

static void test_datagen_neardup_fmnist_option(void **state) {
    (void)state;
    char tool[1024];
    snprintf(tool, sizeof tool, "%s/assay-fmnist", ASSAY_BINARY_DIR);
    if (access(tool, X_OK) != 0) {
        print_message("%s not built; build the assay-fmnist target to run this test\n", tool);
        skip();
    }
    char dir[1024], path[1100], out[1100], truth[1100];
    tu_path(dir, sizeof dir, "dgnd_fake_fmnist");
    mkdir(dir, 0777);
    enum { N = 300 };
    unsigned char *pixels = malloc((size_t)N * 784), labels[N];
    assert_non_null(pixels);
    datagen_rng rng = datagen_rng_stream(9, 0);
    for (size_t k = 0; k < (size_t)N * 784; k++)
        pixels[k] = (unsigned char)datagen_rng_below(&rng, 256);
    for (int i = 0; i < N; i++) labels[i] = (unsigned char)(i % 10);
    const uint32_t idims[3] = {N, 28, 28}, ldims[1] = {N};
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    write_idx(path, 0x00000803u, idims, 3, pixels, (size_t)N * 784);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
    write_idx(path, 0x00000801u, ldims, 1, labels, N);
    free(pixels);
    snprintf(out, sizeof out, "%s/nd.csv", dir);
    snprintf(truth, sizeof truth, "%s/truth.csv", dir);

    /* Only near-duplicates: 0.05 of 300 rows. */
    assert_int_equal(run("%s --idx-dir %s --out %s --truth %s --random-flip 0 --badnets 0:0 "
                         "--duplicates 0 --targeted 0:6:0 --near-duplicates 0.05 2>/dev/null",
                         tool, dir, out, truth),
                     0);
    FILE *fp = fopen(truth, "r");
    assert_non_null(fp);
    char line[256];
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "index,is_poison,attack,source\n");
    size_t rows = 0, near = 0;
    while (fgets(line, sizeof line, fp) != NULL) {
        long idx = -1, source = -1;
        int poison = -1;
        char attack[64] = "";
        int got = sscanf(line, "%ld,%d,%63[^,],%ld", &idx, &poison, attack, &source);
        assert_int_equal(idx, (long)rows);
        if (poison) {
            assert_int_equal(got, 4);
            assert_string_equal(attack, "near_duplicate");
            assert_true(source >= 0 && source < N && source != idx);
            assert_int_equal(labels[source], labels[idx]);
            near++;
        } else {
            assert_int_equal(got, 3);
            assert_string_equal(attack, "none");
        }
        rows++;
    }
    fclose(fp);
    assert_int_equal(rows, N);
    assert_int_equal(near, 15);

    /* --rows keeps a prefix of the split (the quality benchmark's quick runs): 0.05 of 100. */
    assert_int_equal(run("%s --idx-dir %s --out %s --truth %s --rows 100 --random-flip 0 "
                         "--badnets 0:0 --duplicates 0 --targeted 0:6:0 --near-duplicates 0.05 "
                         "2>/dev/null",
                         tool, dir, out, truth),
                     0);
    fp = fopen(truth, "r");
    assert_non_null(fp);
    rows = near = 0;
    while (fgets(line, sizeof line, fp) != NULL) {
        rows++;
        near += strstr(line, ",near_duplicate,") != NULL;
    }
    fclose(fp);
    assert_int_equal(rows, 101);
    assert_int_equal(near, 5);
    assert_int_equal(run("%s --idx-dir %s --out %s/x.h5 --rows 301 2>/dev/null", tool, dir, dir),
                     2);

    /* A bad fraction and --clean with the attack are usage errors. */
    assert_int_equal(
        run("%s --idx-dir %s --out %s/x.h5 --near-duplicates 1.5 2>/dev/null", tool, dir, dir), 2);
    assert_int_equal(run("%s --idx-dir %s --out %s/x.h5 --clean --near-duplicates 0.01 2>/dev/null",
                         tool, dir, dir),
                     2);
    assert_int_equal(access(strcat(strcpy(path, dir), "/x.h5"), F_OK), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_datagen_neardup_rows_are_perturbed_copies_of_their_class),
        cmocka_unit_test(test_datagen_neardup_stays_in_range_at_the_edges),
        cmocka_unit_test(test_datagen_neardup_leaves_other_attacks_unchanged),
        cmocka_unit_test(test_datagen_neardup_rejects_impossible_requests),
        cmocka_unit_test(test_datagen_neardup_fmnist_option),
    };
    return cmocka_run_group_tests_name("datagen_neardup", tests, NULL, NULL);
}

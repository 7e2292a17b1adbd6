/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour-graph files: the HDF5 reader and writer alone (round trip, every structural and
 * attribute defect refused with a message naming it, damaged files never crash), their use by
 * assay_scan (the same scores as a built graph, every mismatch refused), and the `assay knn` /
 * `assay scan --graph` commands (byte-identical reports, exit 2 and nothing written on error). */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <jansson.h>

#include "test_cli_util.h"
#include "test_data.h"

#include "graph/knn.h"
#include "io/graph_h5.h"
#include "decide/result.h"

static void copy_file(const char *from, const char *to) {
    size_t len;
    char *b = tu_slurp(from, &len);
    assert_non_null(b);
    tu_write_file(to, b, len);
    free(b);
}

/* A synthetic dataset: 4 blobs in 16 dims; `seed` varies the data. */
static void make_data(const char *path, datagen_format fmt, size_t n, uint64_t seed, double flips,
                      double nonfinite) {
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = n;
    o.d = 16;
    o.classes = 4;
    o.seed = seed;
    o.separation = 12.0;
    o.plant.random_flip = flips;
    o.plant.duplicates = 0.01;
    o.plant.nonfinite = nonfinite;
    tu_write_synth(&o, fmt, path, NULL, NULL);
}

/* A small hand-made graph: n rows, k columns, rows in `out` left out; row r lists the next
 * rows in the graph (cyclically) at distances 0.1 * (c + 1). */
static void make_graph(assay__graph *g, size_t n, size_t k, assay_metric metric,
                       const uint8_t *out) {
    memset(g, 0, sizeof *g);
    g->n = n;
    g->k = k;
    g->metric = metric;
    g->ids = malloc(n * k * sizeof *g->ids);
    g->dist = malloc(n * k * sizeof *g->dist);
    assert_non_null(g->ids);
    assert_non_null(g->dist);
    for (size_t r = 0; r < n; r++) {
        size_t j = r;
        for (size_t c = 0; c < k; c++) {
            if (out && out[r]) {
                g->ids[r * k + c] = -1;
                g->dist[r * k + c] = NAN;
                continue;
            }
            do j = (j + 1) % n;
            while (out && out[j]);
            g->ids[r * k + c] = (int64_t)j;
            g->dist[r * k + c] = 0.1f * (float)(c + 1);
        }
    }
}

static const unsigned char k_digest[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                           12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                           23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* Opens and reads a graph file; returns the status, the message in ctx. */
static assay_status read_graph(assay_ctx *ctx, const char *path, assay__graph_meta *meta,
                               assay__graph *g) {
    assay__graph_h5 *h = NULL;
    assay__graph_meta m;
    memset(g, 0, sizeof *g);
    assay_status s = assay__graph_h5_open(ctx, path, &h, meta ? meta : &m);
    if (s == ASSAY_OK) s = assay__graph_h5_read(h, g);
    assay__graph_h5_close(h);
    return s;
}

static void expect_read_error(assay_ctx *ctx, const char *path, const char *needle) {
    assay__graph g;
    assay_status s = read_graph(ctx, path, NULL, &g);
    if (s == ASSAY_OK) fail_msg("%s: expected an error containing \"%s\"", path, needle);
    assert_true(assay_status_is_input_error(s));
    assert_contains(assay_ctx_errmsg(ctx), needle);
    assert_null(g.ids);
}

/* ---- editing graph files the way another tool (or an attacker) would ---- */

static hid_t open_rw(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

static void del_attr(const char *path, const char *name) {
    hid_t f = open_rw(path);
    assert_true(H5Adelete(f, name) >= 0);
    H5Fclose(f);
}

/* Replaces a root attribute by a fixed-length (fixed = 1) or variable-length string. */
static void set_str_attr(const char *path, const char *name, const char *value, int fixed) {
    hid_t f = open_rw(path);
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    assert_true(H5Tset_size(t, fixed ? strlen(value) : H5T_VARIABLE) >= 0);
    if (fixed) assert_true(H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0); /* as numpy bytes */
    hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true((fixed ? H5Awrite(a, t, value) : H5Awrite(a, t, &value)) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
}

static void set_int_attr(const char *path, const char *name, int64_t value) {
    hid_t f = open_rw(path);
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, &value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Fclose(f);
}

/* Overwrites one element of /neighbors (is_id) or /distances. */
static void poke(const char *path, int is_id, size_t row, size_t col, double value) {
    hid_t f = open_rw(path);
    hid_t d = H5Dopen2(f, is_id ? "neighbors" : "distances", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {row, col}, one[2] = {1, 1};
    assert_true(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, one, NULL) >= 0);
    hid_t ms = H5Screate_simple(2, one, NULL);
    int64_t iv = (int64_t)value;
    float fv = (float)value;
    assert_true(H5Dwrite(d, is_id ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT,
                         is_id ? (void *)&iv : (void *)&fv) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
}

/* An ann-benchmarks-style file: neighbors/distances and a `distance` attribute only. */
static void write_foreign(const char *path, size_t n, size_t k) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t dims[2] = {n, k};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    int32_t *ids = calloc(n * k, sizeof *ids);
    float *dist = calloc(n * k, sizeof *dist);
    hid_t d1 = H5Dcreate2(f, "neighbors", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t d2 =
        H5Dcreate2(f, "distances", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(d1, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids) >= 0);
    assert_true(H5Dwrite(d2, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dist) >= 0);
    H5Dclose(d1);
    H5Dclose(d2);
    H5Sclose(sp);
    H5Fclose(f);
    free(ids);
    free(dist);
    set_str_attr(path, "distance", "angular", 0);
}

/* ---- the file format alone ---- */

static void test_graph_file_round_trip(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    for (int m = 0; m < 2; m++) {
        assay_metric metric = m ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
        uint8_t out[50] = {0};
        out[3] = out[17] = out[49] = 1;
        assay__graph g, back;
        make_graph(&g, 50, 4, metric, out);
        tu_path(path, sizeof path, "graph_round_trip_%d.h5", m);
        assert_int_equal(assay__graph_h5_write(ctx, path, NULL, &g, k_digest, 0, 0), ASSAY_OK);
        assay__graph_meta meta;
        assert_int_equal(read_graph(ctx, path, &meta, &back), ASSAY_OK);
        assert_int_equal(meta.n_rows, 50);
        assert_int_equal(meta.k, 4);
        assert_int_equal(meta.metric, metric);
        assert_memory_equal(meta.dataset_digest, k_digest, 32);
        assert_contains(meta.tool, "assay ");
        assert_int_equal(back.n, 50);
        assert_int_equal(back.k, 4);
        assert_int_equal(back.metric, metric);
        assert_memory_equal(back.ids, g.ids, 50 * 4 * sizeof *g.ids);
        for (size_t i = 0; i < 50 * 4; i++) {
            if (isnan(g.dist[i]))
                assert_true(isnan(back.dist[i]));
            else
                assert_true(back.dist[i] == g.dist[i]);
        }
        assay__graph_free(&g);
        assay__graph_free(&back);
    }
    /* Fixed-length strings (numpy bytes attributes) are read as well as h5py's str. */
    set_str_attr(path, "metric", "l2", 1);
    set_str_attr(path, "dataset_sha256",
                 "0102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F20", 1);
    assay__graph back;
    assay__graph_meta meta;
    assert_int_equal(read_graph(ctx, path, &meta, &back), ASSAY_OK);
    assert_memory_equal(meta.dataset_digest, k_digest, 32);
    assay__graph_free(&back);
}

/* A shard holds only its rows' lists, with its attributes; bounds that do not follow from its
 * index and count, a shape that is not the shard's, and lists naming the shard's own rows out of
 * the graph are refused. */
static void test_graph_file_shard_round_trip_and_refused(void **state) {
    assay_ctx *ctx = *state;
    char path[1024];
    tu_path(path, sizeof path, "graph_shard.h5");
    uint8_t out[20] = {0};
    out[8] = 1;
    assay__graph g;
    make_graph(&g, 20, 3, ASSAY_METRIC_COSINE, out);
    g.n_certified = 5;
    g.n_radius = 1;
    assert_int_equal(assay__graph_h5_write(ctx, path, NULL, &g, k_digest, 3, 3), ASSAY_E_INVAL);
    assert_int_equal(assay__graph_h5_write(ctx, path, NULL, &g, k_digest, 0, 21), ASSAY_E_INVAL);
    assert_int_equal(assay__graph_h5_write(ctx, path, NULL, &g, k_digest, 1, 3), ASSAY_OK);
    assay__graph back;
    assay__graph_meta meta;
    assert_int_equal(read_graph(ctx, path, &meta, &back), ASSAY_OK);
    assert_int_equal(meta.n_rows, 20);
    assert_int_equal(meta.shard_index, 1);
    assert_int_equal(meta.shard_count, 3);
    assert_int_equal(meta.row_begin, 6); /* floor(20 / 3) */
    assert_int_equal(meta.row_end, 13);
    assert_int_equal(meta.certified_rows, 5);
    assert_int_equal(meta.radius_rows, 1);
    assert_int_equal(meta.exhaustive_rows, 0);
    assert_int_equal(back.n, 7);
    assert_memory_equal(back.ids, g.ids + 6 * 3, 7 * 3 * sizeof *g.ids);
    assay__graph_free(&back);
    /* a whole graph: no shard, counts read back */
    char whole[1024];
    tu_path(whole, sizeof whole, "graph_whole.h5");
    assert_int_equal(assay__graph_h5_write(ctx, whole, NULL, &g, k_digest, 0, 0), ASSAY_OK);
    assert_int_equal(read_graph(ctx, whole, &meta, &back), ASSAY_OK);
    assert_int_equal(meta.shard_count, 0);
    assert_int_equal(meta.row_begin, 0);
    assert_int_equal(meta.row_end, 20);
    assert_int_equal(back.n, 20);
    assay__graph_free(&back);

    char bad[1024];
    tu_path(bad, sizeof bad, "graph_shard_bad.h5");
    static const struct {
        const char *attr;
        int64_t value; /* -1: delete the attribute */
        const char *needle;
    } cases[] = {
        {"row_begin", 5, "holds rows [6, 13) of 20, not [5, 13)"},
        {"row_end", 14, "not [6, 14)"},
        {"shard_index", 3, "'shard_index' = 3 is out of range"},
        {"shard_count", 21, "'shard_count' = 21 is out of range"},
        {"shard_count", 2, "shard 1 of 2 holds rows [10, 20)"},
        {"row_begin", -1, "attribute 'row_begin' is missing"},
        {"certified_rows", 8, "'certified_rows' = 8 is out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        copy_file(path, bad);
        if (cases[i].value < 0)
            del_attr(bad, cases[i].attr);
        else
            set_int_attr(bad, cases[i].attr, cases[i].value);
        expect_read_error(ctx, bad, cases[i].needle);
        assert_contains(assay_ctx_errmsg(ctx), "graph_shard_bad.h5");
    }
    /* a shard listing one of its own rows that is out of the graph */
    g.ids[7 * 3] = 8;
    assert_int_equal(assay__graph_h5_write(ctx, bad, NULL, &g, k_digest, 1, 3), ASSAY_OK);
    expect_read_error(ctx, bad, "row 7, column 0 (neighbour 8");
    assay__graph_free(&g);
}

/* Every structural defect is refused, with the row, the column and the rule. */
static void test_graph_file_structure_refused(void **state) {
    assay_ctx *ctx = *state;
    static const struct {
        size_t row, col;
        int64_t id; /* -2: keep */
        float dist; /* -1: keep */
        const char *needle;
    } cases[] = {
        {5, 1, 20, -1, "row 5, column 1 (neighbour 20"}, /* 20 == n: out of range */
        {5, 1, -7, -1, "out of range [-1, n_rows)"},
        {5, 0, 5, -1, "never its own neighbour"},
        {5, 2, 7, -1, "listed twice"}, /* row 5 lists 6, 7, 8 */
        {5, 2, -1, -1, "either k neighbours or none"},
        {5, 1, -2, 0.05f, "sorted nearest first"},
        {5, 1, -2, -0.5f, "finite and >= 0"},
        {5, 1, -2, NAN, "finite and >= 0"},
        {5, 1, -2, INFINITY, "finite and >= 0"},
        {3, 0, -2, 0.5f, "must have distances NaN"}, /* row 3 is out */
        {6, 0, 3, -1, "a row out of the graph"},     /* row 3 is out */
    };
    char path[1024];
    tu_path(path, sizeof path, "graph_structure.h5");
    uint8_t out[20] = {0};
    out[3] = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assay__graph g;
        make_graph(&g, 20, 3, ASSAY_METRIC_L2, out);
        size_t at = cases[i].row * 3 + cases[i].col;
        if (cases[i].id != -2) g.ids[at] = cases[i].id;
        if (!(cases[i].dist == -1.0f)) g.dist[at] = cases[i].dist;
        assert_int_equal(assay__graph_h5_write(ctx, path, NULL, &g, k_digest, 0, 0), ASSAY_OK);
        assay__graph_free(&g);
        expect_read_error(ctx, path, cases[i].needle);
        assert_contains(assay_ctx_errmsg(ctx), "graph_structure.h5");
    }
}

/* Missing or malformed attributes, foreign files and wrong shapes: refused, the attribute named. */
static void test_graph_file_attributes_refused(void **state) {
    assay_ctx *ctx = *state;
    char good[1024], path[1024];
    tu_path(good, sizeof good, "graph_attrs_good.h5");
    tu_path(path, sizeof path, "graph_attrs.h5");
    assay__graph g;
    make_graph(&g, 30, 4, ASSAY_METRIC_COSINE, NULL);
    assert_int_equal(assay__graph_h5_write(ctx, good, NULL, &g, k_digest, 0, 0), ASSAY_OK);
    assay__graph_free(&g);

    static const char *const required[] = {"n_rows", "k", "metric", "dataset_sha256"};
    for (size_t i = 0; i < 4; i++) {
        copy_file(good, path);
        del_attr(path, required[i]);
        char needle[128];
        snprintf(needle, sizeof needle, "attribute '%s' is missing", required[i]);
        expect_read_error(ctx, path, needle);
    }
    copy_file(good, path);
    del_attr(path, "assay_format");
    expect_read_error(ctx, path, "not an assay graph file: attribute 'assay_format' is missing");
    /* the optional ones may go */
    copy_file(good, path);
    del_attr(path, "distance");
    del_attr(path, "tool");
    del_attr(path, "distance_definition");
    del_attr(path, "rows_in_graph");
    assert_int_equal(read_graph(ctx, path, NULL, &g), ASSAY_OK);
    assay__graph_free(&g);

    tu_path(path, sizeof path, "graph_attrs_foreign.h5");
    write_foreign(path, 30, 4);
    expect_read_error(ctx, path, "attribute 'assay_format' is missing");
    assert_contains(assay_ctx_errmsg(ctx), "ann-benchmarks");

    tu_path(path, sizeof path, "graph_attrs.h5");
    static const struct {
        const char *name, *value;
        const char *needle;
    } strs[] = {
        {"assay_format", "assay-graph/2", "graph format 'assay-graph/2' is not supported"},
        {"metric", "manhattan", "attribute 'metric' = 'manhattan'"},
        {"distance", "euclidean", "attribute 'distance' = 'euclidean' contradicts metric cosine"},
        {"dataset_sha256", "abc", "'dataset_sha256' is not 64 hexadecimal digits"},
        {"dataset_sha256", "zz02030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
         "'dataset_sha256' is not 64 hexadecimal digits"},
        {"k", "4", "attribute 'k' must be one integer"},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        copy_file(good, path);
        set_str_attr(path, strs[i].name, strs[i].value, 0);
        expect_read_error(ctx, path, strs[i].needle);
    }
    static const struct {
        const char *name;
        int64_t value;
        const char *needle;
    } ints[] = {
        {"k", 0, "attribute 'k' = 0 is out of range"},
        {"k", 30, "k = 30 needs more than 30 rows"},
        {"n_rows", -3, "attribute 'n_rows' = -3 is out of range"},
        {"n_rows", 31, "dataset '/neighbors' must have shape [31, 4] (n_rows, k)"},
        {"k", 5, "dataset '/neighbors' must have shape [30, 5]"},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        copy_file(good, path);
        set_int_attr(path, ints[i].name, ints[i].value);
        expect_read_error(ctx, path, ints[i].needle);
    }
    copy_file(good, path);
    set_int_attr(path, "metric", 1);
    expect_read_error(ctx, path, "attribute 'metric' must be one string");

    const char *missing = ASSAY_TEST_TMP "/no-such-graph.h5";
    assay__graph_h5 *h = NULL;
    assay__graph_meta meta;
    assert_int_equal(assay__graph_h5_open(ctx, missing, &h, &meta), ASSAY_E_NOTFOUND);
    assert_null(h);
    assert_contains(assay_ctx_errmsg(ctx), "no-such-graph.h5");
    tu_path(path, sizeof path, "graph_attrs_text.h5");
    tu_write_text(path, "neighbors,distances\n");
    expect_read_error(ctx, path, "not an HDF5 file");
}

/* Damaged files never crash the reader: every truncation fails with the file named, and bytes
 * flipped in the neighbour data are either refused or still give a well-formed graph. */
static void test_graph_file_damaged_files(void **state) {
    assay_ctx *ctx = *state;
    char good[1024], path[1024];
    tu_path(good, sizeof good, "graph_damaged_good.h5");
    tu_path(path, sizeof path, "graph_damaged.h5");
    uint8_t out[64] = {0};
    out[10] = 1;
    assay__graph g;
    make_graph(&g, 64, 5, ASSAY_METRIC_L2, out);
    assert_int_equal(assay__graph_h5_write(ctx, good, NULL, &g, k_digest, 0, 0), ASSAY_OK);
    assay__graph_free(&g);
    size_t len;
    char *bytes = tu_slurp(good, &len);
    for (size_t cut = 0; cut < len; cut += len / 23 + 1) {
        tu_write_file(path, bytes, cut);
        expect_read_error(ctx, path, "graph_damaged.h5");
    }
    /* where the raw data lives */
    hid_t f = H5Fopen(good, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d1 = H5Dopen2(f, "neighbors", H5P_DEFAULT), d2 = H5Dopen2(f, "distances", H5P_DEFAULT);
    haddr_t a1 = H5Dget_offset(d1), a2 = H5Dget_offset(d2);
    H5Dclose(d1);
    H5Dclose(d2);
    H5Fclose(f);
    assert_true(a1 != HADDR_UNDEF && a1 + 64 * 5 * 8 <= len);
    assert_true(a2 != HADDR_UNDEF && a2 + 64 * 5 * 4 <= len);
    uint64_t seed = 99;
    int refused = 0;
    for (int t = 0; t < 200; t++) {
        char *copy = malloc(len);
        memcpy(copy, bytes, len);
        size_t at = t % 2 ? (size_t)a1 + tu_next(&seed) % (64 * 5 * 8)
                          : (size_t)a2 + tu_next(&seed) % (64 * 5 * 4);
        copy[at] = (char)(copy[at] ^ (char)(1 + tu_next(&seed) % 255));
        tu_write_file(path, copy, len);
        free(copy);
        assay_status s = read_graph(ctx, path, NULL, &g);
        if (s == ASSAY_OK) {
            for (size_t i = 0; i < g.n * g.k; i++)
                assert_true(g.ids[i] >= -1 && g.ids[i] < (int64_t)g.n);
            assay__graph_free(&g);
        } else {
            assert_int_equal(s, ASSAY_E_FORMAT);
            refused++;
        }
    }
    assert_true(refused >= 50);
    free(bytes);
}

/* ---- the library: assay_graph_write and assay_scan with graph_path ---- */

static void scan_file(assay_ctx *ctx, const char *data, const assay_scan_opts *o,
                      assay_result **res, assay_dataset **ds) {
    assert_int_equal(assay_dataset_load(ctx, data, NULL, ds), ASSAY_OK);
    assert_int_equal(assay_scan(ctx, *ds, o, res), ASSAY_OK);
}

static void test_graph_file_scan_reuses_graph(void **state) {
    assay_ctx *ctx = *state;
    char data[1024], graph[1024];
    tu_path(data, sizeof data, "graph_scan_data.h5");
    tu_path(graph, sizeof graph, "graph_scan.h5");
    make_data(data, DATAGEN_FORMAT_H5, 700, 5, 0.03, 0.01);
    for (int m = 0; m < 2; m++) {
        assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
        o.k = 7;
        o.metric = m ? ASSAY_METRIC_L2 : ASSAY_METRIC_COSINE;
        assay_dataset *ds = NULL, *ds2 = NULL;
        assay_result *built = NULL, *reused = NULL;
        scan_file(ctx, data, &o, &built, &ds);
        unlink(graph);
        assert_int_equal(assay_graph_write(ctx, ds, &o, graph), ASSAY_OK);
        o.graph_path = graph;
        scan_file(ctx, data, &o, &reused, &ds2);
        o.graph_path = NULL;
        assert_null(built->graph_file.path);
        assert_string_equal(reused->graph_file.path, graph);
        assert_int_equal(reused->n_in_graph, built->n_in_graph);
        assert_true(reused->n_in_graph == 693); /* the 7 non-finite rows are left out */
        for (size_t r = 0; r < 700; r++) {
            assert_true(memcmp(&built->score[r], &reused->score[r], sizeof(float)) == 0);
            for (int d = 0; d < ASSAY_DET_COUNT; d++)
                assert_true(
                    memcmp(&built->det[d].score[r], &reused->det[d].score[r], sizeof(float)) == 0);
            const int64_t *i1, *i2;
            const float *d1, *d2;
            size_t k1, k2;
            assert_int_equal(assay_result_neighbours(built, r, &i1, &d1, &k1), ASSAY_OK);
            assert_int_equal(assay_result_neighbours(reused, r, &i2, &d2, &k2), ASSAY_OK);
            assert_int_equal(k1, k2);
            assert_memory_equal(i1, i2, k1 * sizeof *i1);
            assert_memory_equal(d1, d2, k1 * sizeof *d1);
        }
        assert_int_equal(assay_result_flagged_count(built), assay_result_flagged_count(reused));
        assay_result_destroy(built);
        assay_result_destroy(reused);
        assay_dataset_destroy(ds);
        assay_dataset_destroy(ds2);
    }
}

/* An approximate graph written by assay_graph_write (--graph-method approx): the file says so
 * (graph_method, approx_recall), a scan reusing it reports it and gets the same lists as the
 * scan that built it; a damaged graph_method or approx_recall is refused by name. */
static void test_graph_file_approx_graph(void **state) {
    assay_ctx *ctx = *state;
    char data[1024], graph[1024], path[1024];
    tu_path(data, sizeof data, "graph_approx_data.h5");
    tu_path(graph, sizeof graph, "graph_approx.h5");
    tu_path(path, sizeof path, "graph_approx_bad.h5");
    datagen_synth_opts d = DATAGEN_SYNTH_OPTS_INIT;
    d.n = 3000; /* 40 separated classes: an inverted file pays */
    d.d = 8;
    d.classes = 40;
    d.separation = 12.0;
    tu_write_synth(&d, DATAGEN_FORMAT_H5, data, NULL, NULL);
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    o.k = 7;
    o.graph_method = ASSAY_GRAPH_APPROX;
    o.approx_recall = 0.95;
    assay_dataset *ds = NULL, *ds2 = NULL;
    assay_result *built = NULL, *reused = NULL;
    scan_file(ctx, data, &o, &built, &ds);
    assert_true(built->graph.approx.used);
    unlink(graph);
    assert_int_equal(assay_graph_write(ctx, ds, &o, graph), ASSAY_OK);
    assay__graph_meta meta;
    assay__graph g;
    assert_int_equal(read_graph(ctx, graph, &meta, &g), ASSAY_OK);
    assert_true(meta.approx);
    assert_true(meta.approx_recall >= 0.9 && meta.approx_recall <= 1.0);
    assert_memory_equal(g.ids, built->graph.ids, g.n * g.k * sizeof *g.ids);
    assay__graph_free(&g);
    o.graph_path = graph;
    o.graph_method = ASSAY_GRAPH_EXACT; /* ignored with a graph file */
    scan_file(ctx, data, &o, &reused, &ds2);
    assert_true(reused->graph_file.approx);
    assert_true(reused->graph_file.approx_recall == meta.approx_recall);
    assert_int_equal(assay_result_flagged_count(built), assay_result_flagged_count(reused));
    assay_result_destroy(built);
    assay_result_destroy(reused);
    assay_dataset_destroy(ds);
    assay_dataset_destroy(ds2);

    copy_file(graph, path);
    set_str_attr(path, "graph_method", "ivf", 0);
    expect_read_error(ctx, path, "attribute 'graph_method' = 'ivf'; expected exact or approx");
    copy_file(graph, path);
    set_str_attr(path, "approx_recall", "1.5", 1);
    expect_read_error(ctx, path, "attribute 'approx_recall' = '1.5'");
    /* an exact file says exact; without the attribute (older files) it is exact too */
    copy_file(graph, path);
    del_attr(path, "graph_method");
    del_attr(path, "approx_recall");
    assert_int_equal(read_graph(ctx, path, &meta, &g), ASSAY_OK);
    assert_false(meta.approx);
    assert_true(isnan(meta.approx_recall));
    assay__graph_free(&g);
}

static void expect_scan_error(assay_ctx *ctx, const assay_dataset *ds, const assay_scan_opts *o,
                              const char *needle) {
    assay_result *res = (assay_result *)1;
    assay_status s = assay_scan(ctx, ds, o, &res);
    if (s == ASSAY_OK) fail_msg("expected an error containing \"%s\"", needle);
    assert_null(res);
    assert_true(assay_status_is_input_error(s));
    assert_contains(assay_ctx_errmsg(ctx), needle);
    assert_contains(assay_ctx_errmsg(ctx), o->graph_path);
}

static void test_graph_file_scan_refuses_mismatches(void **state) {
    assay_ctx *ctx = *state;
    char data[1024], other[1024], small[1024], graph[1024], bad[1024];
    tu_path(data, sizeof data, "graph_mm_data.h5");
    tu_path(other, sizeof other, "graph_mm_other.h5");
    tu_path(small, sizeof small, "graph_mm_small.h5");
    tu_path(graph, sizeof graph, "graph_mm.h5");
    tu_path(bad, sizeof bad, "graph_mm_bad.h5");
    make_data(data, DATAGEN_FORMAT_H5, 400, 1, 0.02, 0);
    make_data(other, DATAGEN_FORMAT_H5, 400, 2, 0.02, 0);
    make_data(small, DATAGEN_FORMAT_H5, 300, 1, 0.02, 0);
    assay_dataset *ds = NULL, *ds_other = NULL, *ds_small = NULL;
    assert_int_equal(assay_dataset_load(ctx, data, NULL, &ds), ASSAY_OK);
    assert_int_equal(assay_dataset_load(ctx, other, NULL, &ds_other), ASSAY_OK);
    assert_int_equal(assay_dataset_load(ctx, small, NULL, &ds_small), ASSAY_OK);
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    o.k = 5;
    unlink(graph);
    assert_int_equal(assay_graph_write(ctx, ds, &o, graph), ASSAY_OK);
    o.graph_path = graph;

    expect_scan_error(ctx, ds_other, &o, "built for another dataset (dataset_sha256 ");
    expect_scan_error(ctx, ds_small, &o, "built for 400 rows, the dataset has 300 rows");
    o.k = 6;
    expect_scan_error(ctx, ds, &o, "built with k = 5, scan uses k = 6 (give -k 5)");
    o.k = 5;
    o.metric = ASSAY_METRIC_L2;
    expect_scan_error(ctx, ds, &o, "built for metric cosine, scan uses l2");
    o.metric = ASSAY_METRIC_COSINE;

    /* a distance that is not the data's (still sorted, so only the re-measurement sees it) */
    copy_file(graph, bad);
    assay__graph g;
    assert_int_equal(read_graph(ctx, graph, NULL, &g), ASSAY_OK);
    poke(bad, 0, 17, 4, (double)g.dist[17 * 5 + 4] * 1.001);
    o.graph_path = bad;
    expect_scan_error(ctx, ds, &o, "row 17, column 4: the file gives distance");
    /* another row listed in place of the true neighbour */
    copy_file(graph, bad);
    int64_t swap = 0;
    for (int listed = 1; listed; swap += listed) {
        listed = swap == 17;
        for (size_t c = 0; c < 5; c++) listed |= g.ids[17 * 5 + c] == swap;
    }
    poke(bad, 1, 17, 4, (double)swap);
    expect_scan_error(ctx, ds, &o, "(the graph does not match the data)");
    assay__graph_free(&g);

    /* a row the scan includes, left out of the file's graph */
    uint8_t *in_graph = malloc(400);
    memset(in_graph, 1, 400);
    in_graph[123] = 0;
    assay__graph g2;
    assert_int_equal(assay__knn_build(ctx, ds->x, ds->n, ds->d, ds->ld, in_graph, 5,
                                      ASSAY_METRIC_COSINE, NULL, &g2),
                     ASSAY_OK);
    free(in_graph);
    assert_int_equal(assay__graph_h5_write(ctx, bad, NULL, &g2, ds->digest, 0, 0), ASSAY_OK);
    assay__graph_free(&g2);
    expect_scan_error(ctx, ds, &o, "row 123 is out of the graph, but the scan includes it");

    o.graph_path = ASSAY_TEST_TMP "/no-such-graph.h5";
    expect_scan_error(ctx, ds, &o, "cannot open the graph file");
    assay_dataset_destroy(ds);
    assay_dataset_destroy(ds_other);
    assay_dataset_destroy(ds_small);
}

/* A row the scan leaves out (all-zero under cosine) listed in the file: refused. */
static void test_graph_file_scan_refuses_row_it_leaves_out(void **state) {
    assay_ctx *ctx = *state;
    char csv[1024], graph[1024];
    tu_path(csv, sizeof csv, "graph_zero.csv");
    tu_path(graph, sizeof graph, "graph_zero.h5");
    FILE *fp = fopen(csv, "w");
    assert_non_null(fp);
    fprintf(fp, "label,a,b,c\n");
    uint64_t seed = 3;
    for (int i = 0; i < 40; i++) {
        if (i == 9)
            fprintf(fp, "1,0,0,0\n");
        else
            fprintf(fp, "%d,%.4f,%.4f,%.4f\n", i % 2, tu_normal(&seed), tu_normal(&seed),
                    tu_normal(&seed));
    }
    fclose(fp);
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_load(ctx, csv, NULL, &ds), ASSAY_OK);
    /* built under l2 (which keeps the zero row), relabelled cosine: the structure is fine, the
     * distances are not cosine ones, but the first thing wrong is row 9 */
    uint8_t in_graph[40];
    memset(in_graph, 1, sizeof in_graph);
    assay__graph g;
    assert_int_equal(
        assay__knn_build(ctx, ds->x, ds->n, ds->d, ds->ld, in_graph, 3, ASSAY_METRIC_L2, NULL, &g),
        ASSAY_OK);
    g.metric = ASSAY_METRIC_COSINE;
    for (size_t i = 0; i < 40 * 3; i++)
        g.dist[i] = (float)assay__distance_exact(ds->x + (i / 3) * ds->ld,
                                                 ds->x + (size_t)g.ids[i] * ds->ld, ds->d,
                                                 ASSAY_METRIC_COSINE);
    /* keep each list sorted under the new distances */
    for (size_t r = 0; r < 40; r++)
        for (size_t a = 1; a < 3; a++)
            for (size_t b = a; b > 0 && g.dist[r * 3 + b] < g.dist[r * 3 + b - 1]; b--) {
                float td = g.dist[r * 3 + b];
                int64_t ti = g.ids[r * 3 + b];
                g.dist[r * 3 + b] = g.dist[r * 3 + b - 1];
                g.ids[r * 3 + b] = g.ids[r * 3 + b - 1];
                g.dist[r * 3 + b - 1] = td;
                g.ids[r * 3 + b - 1] = ti;
            }
    assert_int_equal(assay__graph_h5_write(ctx, graph, NULL, &g, ds->digest, 0, 0), ASSAY_OK);
    assay__graph_free(&g);
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    o.k = 3;
    o.graph_path = graph;
    expect_scan_error(ctx, ds, &o, "row 9 is in the graph, but the scan leaves it out");
    assay_dataset_destroy(ds);
}

static void test_graph_file_write_errors_leave_nothing(void **state) {
    assay_ctx *ctx = *state;
    char data[1024], dir[1024], graph[1200], p[1200];
    tu_path(data, sizeof data, "graph_werr_data.h5");
    tu_path(dir, sizeof dir, "graph_werr_dir");
    make_data(data, DATAGEN_FORMAT_H5, 100, 1, 0, 0);
    mkdir(dir, 0777);
    snprintf(graph, sizeof graph, "%s/g.h5", dir);
    tu_write_text(graph, "previous\n");
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_load(ctx, data, NULL, &ds), ASSAY_OK);
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    o.k = 100;
    assert_int_equal(assay_graph_write(ctx, ds, &o, graph), ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "k = 100 needs at least 101 rows");
    o.k = 5;
    assert_int_equal(assay_graph_write(ctx, ds, &o, dir), ASSAY_E_IO);
    assert_contains(assay_ctx_errmsg(ctx), "is a folder");
    snprintf(p, sizeof p, "%s/missing/g.h5", dir);
    assert_int_equal(assay_graph_write(ctx, ds, &o, p), ASSAY_E_IO);
    assert_contains(assay_ctx_errmsg(ctx), p);
    snprintf(p, sizeof p, "%s/", dir);
    assert_int_equal(assay_graph_write(ctx, ds, &o, p), ASSAY_E_INVAL);
    char *old = tu_slurp(graph, NULL);
    assert_string_equal(old, "previous\n");
    free(old);
    assert_int_equal(tu_count_temp_files(dir), 0);
    /* success replaces the old file in one step */
    assert_int_equal(assay_graph_write(ctx, ds, &o, graph), ASSAY_OK);
    assert_int_equal(tu_count_temp_files(dir), 0);
    assay__graph g;
    assert_int_equal(read_graph(ctx, graph, NULL, &g), ASSAY_OK);
    assert_int_equal(g.n, 100);
    assay__graph_free(&g);
    assay_dataset_destroy(ds);
}

/* ---- the commands ---- */

static int run_assay(const char *const *argv) {
    return tu_run_assay("graph_cli", argv);
}

static void test_graph_file_cli_knn_then_scan_is_identical(void **state) {
    (void)state;
    static const struct {
        datagen_format fmt;
        const char *ext, *k, *metric;
    } runs[] = {{DATAGEN_FORMAT_H5, "h5", "7", "l2"}, {DATAGEN_FORMAT_CSV, "csv", "10", "cosine"}};
    for (size_t i = 0; i < 2; i++) {
        char data[1024], graph[1024], built[1024], reused[1024], a[1200], b[1200];
        tu_path(data, sizeof data, "graph_cli_data.%s", runs[i].ext);
        tu_path(graph, sizeof graph, "graph_cli_%s.h5", runs[i].ext);
        tu_path(built, sizeof built, "graph_cli_built_%s", runs[i].ext);
        tu_path(reused, sizeof reused, "graph_cli_reused_%s", runs[i].ext);
        make_data(data, runs[i].fmt, 900, 11, 0.03, 0.01);
        unlink(graph);
        const char *knn[] = {"assay",    "knn",          data,    "-k",  runs[i].k,
                             "--metric", runs[i].metric, "--out", graph, NULL};
        assert_int_equal(run_assay(knn), 0);
        char *so = tu_slurp(g_out, NULL), *se = tu_slurp(g_err, NULL);
        assert_contains(so, "wrote ");
        assert_contains(so, "dataset sha256 ");
        assert_null(strstr(se, "assay: knn")); /* not a terminal: no progress */
        assert_null(strstr(so, "assay: knn"));
        free(so);
        free(se);
        const char *scan1[] = {"assay",        "scan",  data,  "-k", runs[i].k, "--metric",
                               runs[i].metric, "--out", built, "-q", NULL};
        const char *scan2[] = {"assay",        "scan",  data,   "-k",      runs[i].k, "--metric",
                               runs[i].metric, "--out", reused, "--graph", graph,     NULL};
        int rc1 = run_assay(scan1);
        int rc2 = run_assay(scan2);
        assert_int_equal(rc1, rc2);
        assert_true(rc1 == 0 || rc1 == 1);
        so = tu_slurp(g_out, NULL);
        assert_contains(so, "read from ");
        free(so);
        static const char *const names[] = {"scores.csv", "flagged.csv"};
        for (int n = 0; n < 2; n++) {
            snprintf(a, sizeof a, "%s/%s", built, names[n]);
            snprintf(b, sizeof b, "%s/%s", reused, names[n]);
            tu_assert_same_file(a, b);
        }
        tu_report_dir_valid(reused); /* "graph" from a file, in the schema too */
        snprintf(b, sizeof b, "%s/report.json", reused);
        json_t *r = tu_load_json(b);
        json_t *gj = json_object_get(r, "graph");
        assert_string_equal(json_string_value(json_object_get(gj, "source")), "file");
        assert_string_equal(json_string_value(json_object_get(gj, "path")), graph);
        assert_string_equal(json_string_value(json_object_get(gj, "format")), "assay-graph/1");
        char hex[65];
        tu_sha256_hex(graph, hex);
        assert_string_equal(json_string_value(json_object_get(gj, "sha256")), hex);
        struct stat st;
        assert_int_equal(stat(graph, &st), 0);
        assert_int_equal(json_integer_value(json_object_get(gj, "bytes")), st.st_size);
        json_decref(r);
        snprintf(a, sizeof a, "%s/report.json", built);
        r = tu_load_json(a);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r, "graph"), "source")), "built");
        json_decref(r);
    }
}

/* Every mismatch: exit 2, a message naming the file and the property, the previous report
 * untouched and no temporary files. */
static void expect_scan_refused(const char *data, const char *graph, const char *k,
                                const char *metric, const char *out, const char *needle) {
    const char *argv[] = {"assay",   "scan", data,    "-k", k,    "--metric", metric,
                          "--graph", graph,  "--out", out,  "-q", NULL};
    int rc = run_assay(argv);
    char *se = tu_slurp(g_err, NULL);
    if (rc != 2) fail_msg("expected exit 2, got %d; stderr: %s", rc, se ? se : "");
    assert_contains(se, "assay: error:");
    assert_contains(se, needle);
    free(se);
    char p[1200];
    snprintf(p, sizeof p, "%s/report.json", out);
    char *old = tu_slurp(p, NULL);
    assert_non_null(old);
    assert_string_equal(old, "previous report\n");
    free(old);
    snprintf(p, sizeof p, "%s/scores.csv", out);
    assert_false(tu_exists(p));
    snprintf(p, sizeof p, "%s/flagged.csv", out);
    assert_false(tu_exists(p));
    assert_int_equal(tu_count_temp_files(out), 0);
}

static void test_graph_file_cli_mismatches_exit_2(void **state) {
    (void)state;
    char data[1024], other[1024], graph[1024], bad[1024], out[1024], p[1200], msg[1400];
    tu_path(data, sizeof data, "graph_cli_mm.h5");
    tu_path(other, sizeof other, "graph_cli_mm_other.h5");
    tu_path(graph, sizeof graph, "graph_cli_mm_graph.h5");
    tu_path(bad, sizeof bad, "graph_cli_mm_bad.h5");
    tu_path(out, sizeof out, "graph_cli_mm_out");
    make_data(data, DATAGEN_FORMAT_H5, 300, 1, 0.02, 0);
    make_data(other, DATAGEN_FORMAT_H5, 300, 2, 0.02, 0);
    mkdir(out, 0777);
    snprintf(p, sizeof p, "%s/report.json", out);
    tu_write_text(p, "previous report\n");
    unlink(graph);
    const char *knn[] = {"assay", "knn", data, "-k", "5", "--out", graph, "-q", NULL};
    assert_int_equal(run_assay(knn), 0);

    snprintf(msg, sizeof msg, "%s: built for another dataset", graph);
    expect_scan_refused(other, graph, "5", "cosine", out, msg);
    snprintf(msg, sizeof msg, "%s: built with k = 5, scan uses k = 10", graph);
    expect_scan_refused(data, graph, "10", "cosine", out, msg);
    snprintf(msg, sizeof msg, "%s: built for metric cosine, scan uses l2", graph);
    expect_scan_refused(data, graph, "5", "l2", out, msg);

    size_t len;
    char *bytes = tu_slurp(graph, &len);
    tu_write_file(bad, bytes, len / 2);
    free(bytes);
    expect_scan_refused(data, bad, "5", "cosine", out, "graph_cli_mm_bad.h5");

    copy_file(graph, bad);
    poke(bad, 1, 42, 3, 300.0);
    expect_scan_refused(data, bad, "5", "cosine", out, "row 42, column 3 (neighbour 300, distance");
    copy_file(graph, bad);
    poke(bad, 1, 42, 3, 42.0);
    expect_scan_refused(data, bad, "5", "cosine", out, "never its own neighbour");
    static const char *const attrs[] = {"dataset_sha256", "metric", "k", "n_rows", "assay_format"};
    for (size_t i = 0; i < 5; i++) {
        copy_file(graph, bad);
        del_attr(bad, attrs[i]);
        snprintf(msg, sizeof msg, "attribute '%s' is missing", attrs[i]);
        expect_scan_refused(data, bad, "5", "cosine", out, msg);
    }
    write_foreign(bad, 300, 5);
    expect_scan_refused(data, bad, "5", "cosine", out, "not an assay graph file");
    expect_scan_refused(data, ASSAY_TEST_TMP "/no-such-graph.h5", "5", "cosine", out,
                        "no-such-graph.h5: cannot open the graph file");
    /* the graph given where the data goes, and the data where the graph goes */
    expect_scan_refused(data, data, "5", "cosine", out, "not an assay graph file");
}

static void test_graph_file_cli_knn_errors_leave_nothing(void **state) {
    (void)state;
    char data[1024], dir[1024], graph[1200], npy[1024], p[1200];
    tu_path(data, sizeof data, "graph_cli_kerr.h5");
    tu_path(dir, sizeof dir, "graph_cli_kerr_dir");
    tu_path(npy, sizeof npy, "graph_cli_kerr.npy");
    make_data(data, DATAGEN_FORMAT_H5, 50, 1, 0, 0);
    mkdir(dir, 0777);
    snprintf(graph, sizeof graph, "%s/graph.h5", dir);
    tu_write_text(graph, "previous graph\n");
    float x[30 * 2];
    for (int i = 0; i < 60; i++) x[i] = (float)(i % 7);
    datagen_error err;
    assert_int_equal(datagen_write_npy_f32(npy, x, 30, 2, &err), ASSAY_OK);

    static const struct {
        const char *args[8];
        const char *needle;
    } cases[] = {
        {{"-k", "50", NULL}, "k = 50 needs at least 51 rows"},
        {{"--metric", "manhattan", NULL}, "--metric expects cosine or l2"},
        {{"--weighted", NULL}, "option '--weighted' is for scan, not knn"},
        {{"--graph", "x.h5", NULL}, "option '--graph' is for scan, not knn"},
        {{"--embeddings", "/nope", NULL}, "/nope"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[16] = {"assay", "knn", data, "--out", graph, "-q"};
        int n = 6;
        for (int a = 0; cases[i].args[a] != NULL; a++) argv[n++] = cases[i].args[a];
        argv[n] = NULL;
        assert_int_equal(run_assay(argv), 2);
        char *se = tu_slurp(g_err, NULL);
        assert_contains(se, cases[i].needle);
        free(se);
    }
    const char *no_out[] = {"assay", "knn", data, "-q", NULL};
    assert_int_equal(run_assay(no_out), 2);
    char *se = tu_slurp(g_err, NULL);
    assert_contains(se, "knn needs --out FILE");
    free(se);
    const char *no_labels[] = {"assay", "knn", npy, "--out", graph, "-q", NULL};
    assert_int_equal(run_assay(no_labels), 2);
    se = tu_slurp(g_err, NULL);
    assert_contains(se, "--labels-file");
    free(se);
    const char *to_dir[] = {"assay", "knn", data, "--out", dir, "-q", NULL};
    assert_int_equal(run_assay(to_dir), 2);
    se = tu_slurp(g_err, NULL);
    assert_contains(se, "is a folder");
    free(se);
    snprintf(p, sizeof p, "%s/missing/graph.h5", dir);
    const char *no_dir[] = {"assay", "knn", data, "--out", p, "-q", NULL};
    assert_int_equal(run_assay(no_dir), 2);
    se = tu_slurp(g_err, NULL);
    assert_contains(se, p);
    free(se);

    char *old = tu_slurp(graph, NULL);
    assert_string_equal(old, "previous graph\n");
    free(old);
    assert_int_equal(tu_count_temp_files(dir), 0);

    const char *help[] = {"assay", "knn", "--help", NULL};
    assert_int_equal(run_assay(help), 0);
    char *so = tu_slurp(g_out, NULL);
    assert_contains(so, "usage: assay knn INPUT --out FILE");
    assert_contains(so, "--labels-file");
    free(so);
    const char *shelp[] = {"assay", "scan", "--help", NULL};
    assert_int_equal(run_assay(shelp), 0);
    so = tu_slurp(g_out, NULL);
    assert_contains(so, "--graph FILE");
    free(so);
    const char *uhelp[] = {"assay", "--help", NULL};
    assert_int_equal(run_assay(uhelp), 0);
    so = tu_slurp(g_out, NULL);
    assert_contains(so, "knn INPUT --out FILE");
    free(so);
}

/* A knn killed at any moment leaves either no graph file or a complete one. */
static void test_graph_file_cli_killed_knn_leaves_no_half_file(void **state) {
    assay_ctx *ctx = *state;
    char data[1024], graph[1024];
    tu_path(data, sizeof data, "graph_cli_kill.h5");
    tu_path(graph, sizeof graph, "graph_cli_kill_graph.h5");
    make_data(data, DATAGEN_FORMAT_H5, 12000, 1, 0, 0);
    static const int delays_ms[] = {10, 60, 120, 200, 300, 450, 700, 1000};
    int killed = 0;
    for (size_t i = 0; i < sizeof delays_ms / sizeof delays_ms[0]; i++) {
        unlink(graph);
        const char *args[] = {"assay", "knn", data, "--out", graph, "-q", NULL};
        killed += tu_kill_assay_after(args, delays_ms[i]);
        if (!tu_exists(graph)) continue;
        assay__graph g;
        if (read_graph(ctx, graph, NULL, &g) != ASSAY_OK)
            fail_msg("half-written graph after a kill at %d ms: %s", delays_ms[i],
                     assay_ctx_errmsg(ctx));
        assert_int_equal(g.n, 12000);
        assay__graph_free(&g);
    }
    assert_true(killed > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_file_round_trip),
        cmocka_unit_test(test_graph_file_structure_refused),
        cmocka_unit_test(test_graph_file_shard_round_trip_and_refused),
        cmocka_unit_test(test_graph_file_attributes_refused),
        cmocka_unit_test(test_graph_file_damaged_files),
        cmocka_unit_test(test_graph_file_scan_reuses_graph),
        cmocka_unit_test(test_graph_file_approx_graph),
        cmocka_unit_test(test_graph_file_scan_refuses_mismatches),
        cmocka_unit_test(test_graph_file_scan_refuses_row_it_leaves_out),
        cmocka_unit_test(test_graph_file_write_errors_leave_nothing),
        cmocka_unit_test(test_graph_file_cli_knn_then_scan_is_identical),
        cmocka_unit_test(test_graph_file_cli_mismatches_exit_2),
        cmocka_unit_test(test_graph_file_cli_knn_errors_leave_nothing),
        cmocka_unit_test(test_graph_file_cli_killed_knn_leaves_no_half_file),
    };
    return cmocka_run_group_tests_name("graph_file", tests, tu_setup_ctx, tu_teardown_ctx);
}

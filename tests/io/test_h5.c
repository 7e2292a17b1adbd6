/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the HDF5 loader: fixtures are written with the HDF5 C API into ASSAY_TEST_TMP at run
 * time (types, layouts, names, damaged files), then loaded directly and through the public API. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "test_util.h"
#include "io/dataset_internal.h"

extern char **environ;

/* ---- fixture writers ---- */

static hid_t tw_create(const char *path, int latest_format) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    assert_true(fapl >= 0);
    if (latest_format)
        assert_true(H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) >= 0);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    assert_true(f >= 0);
    H5Pclose(fapl);
    return f;
}

/* Writes dataset `name` (intermediate groups created) of file type ftype from memory of mtype;
 * data may be NULL for an unwritten dataset. Returns nothing: any failure fails the test. */
static void tw_write(hid_t file, const char *name, hid_t ftype, hid_t mtype, int rank,
                     const hsize_t *dims, const void *data, hid_t dcpl) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    assert_true(lcpl >= 0);
    assert_true(H5Pset_create_intermediate_group(lcpl, 1) >= 0);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    assert_true(sp >= 0);
    hid_t ds = H5Dcreate2(file, name, ftype, sp, lcpl, dcpl, H5P_DEFAULT);
    assert_true(ds >= 0);
    if (data != NULL) assert_true(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Pclose(lcpl);
}

static void tw_f32(hid_t file, const char *name, size_t n, size_t d, const float *x) {
    hsize_t dims[2] = {n, d};
    tw_write(file, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, x, H5P_DEFAULT);
}

static void tw_i64(hid_t file, const char *name, size_t n, const int64_t *v) {
    hsize_t dims[1] = {n};
    tw_write(file, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 1, dims, v, H5P_DEFAULT);
}

static hid_t vlen_str(int utf8) {
    hid_t t = H5Tcopy(H5T_C_S1);
    assert_true(t >= 0);
    assert_true(H5Tset_size(t, H5T_VARIABLE) >= 0);
    if (utf8) assert_true(H5Tset_cset(t, H5T_CSET_UTF8) >= 0);
    return t;
}

static void tw_vlen_strings(hid_t file, const char *name, const char *const *s, size_t n) {
    hid_t t = vlen_str(1);
    hsize_t dims[1] = {n};
    tw_write(file, name, t, t, 1, dims, s, H5P_DEFAULT);
    H5Tclose(t);
}

/* n strings of `size` bytes each, packed in `data`, with padding `pad`. */
static void tw_fixed_strings(hid_t file, const char *name, const char *data, size_t n, size_t size,
                             H5T_str_t pad) {
    hid_t t = H5Tcopy(H5T_C_S1);
    assert_true(t >= 0);
    assert_true(H5Tset_size(t, size) >= 0);
    assert_true(H5Tset_strpad(t, pad) >= 0);
    hsize_t dims[1] = {n};
    tw_write(file, name, t, t, 1, dims, data, H5P_DEFAULT);
    H5Tclose(t);
}

/* Attribute `attr` on dataset `name`: vlen strings, or fixed strings of `fixed` bytes if > 0. */
static void tw_attr_strings(hid_t file, const char *name, const char *attr, const char *const *s,
                            size_t n, size_t fixed) {
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(ds >= 0);
    hsize_t dims[1] = {n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t t;
    char *packed = NULL;
    if (fixed == 0)
        t = vlen_str(1);
    else {
        t = H5Tcopy(H5T_C_S1);
        assert_true(H5Tset_size(t, fixed) >= 0);
        assert_true(H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0);
        packed = calloc(n, fixed);
        assert_non_null(packed);
        for (size_t i = 0; i < n; i++) memcpy(packed + i * fixed, s[i], strlen(s[i]));
    }
    hid_t a = H5Acreate2(ds, attr, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, t, fixed ? (const void *)packed : (const void *)s) >= 0);
    free(packed);
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(ds);
}

static float emb_value(size_t i, size_t j) {
    return (float)i * 0.25f - (float)j * 1.5f + 0.1f;
}

/* A valid file: /embeddings f32 [n, d] with emb_value, /labels int64 = i % 3. */
static void write_basic(const char *path, size_t n, size_t d, int latest_format) {
    float *x = malloc(n * d * sizeof *x);
    int64_t *y = malloc(n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) x[i * d + j] = emb_value(i, j);
        y[i] = (int64_t)(i % 3);
    }
    hid_t f = tw_create(path, latest_format);
    tw_f32(f, "/embeddings", n, d, x);
    tw_i64(f, "/labels", n, y);
    H5Fclose(f);
    free(x);
    free(y);
}

static void check_basic_x(const assay_dataset *ds, size_t n, size_t d) {
    assert_int_equal(ds->n, n);
    assert_int_equal(ds->d, d);
    assert_int_equal(ds->ld, assay__row_stride(d));
    assert_int_equal((uintptr_t)ds->x % 64, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++)
            if (ds->x[i * ds->ld + j] != emb_value(i, j))
                fail_msg("x[%zu][%zu] = %g, expected %g", i, j, (double)ds->x[i * ds->ld + j],
                         (double)emb_value(i, j));
        for (size_t j = d; j < ds->ld; j++) assert_true(ds->x[i * ds->ld + j] == 0.0f);
    }
}

/* ---- loading, with an HDF5 id leak check around every load ---- */

static const H5I_type_t k_id_types[] = {H5I_FILE,    H5I_GROUP, H5I_DATATYPE,   H5I_DATASPACE,
                                        H5I_DATASET, H5I_ATTR,  H5I_GENPROP_LST};
#define N_ID_TYPES (sizeof k_id_types / sizeof k_id_types[0])

static void id_snapshot(hsize_t *out) {
    for (size_t i = 0; i < N_ID_TYPES; i++) {
        out[i] = (hsize_t)-1;
        H5E_BEGIN_TRY {
            if (H5Inmembers(k_id_types[i], &out[i]) < 0) out[i] = (hsize_t)-1;
        }
        H5E_END_TRY
    }
}

static void check_no_id_leak(const hsize_t *before) {
    hsize_t after[N_ID_TYPES];
    id_snapshot(after);
    for (size_t i = 0; i < N_ID_TYPES; i++)
        if (after[i] != before[i])
            fail_msg("HDF5 ids of type %d: %llu open before the load, %llu after",
                     (int)k_id_types[i], (unsigned long long)before[i],
                     (unsigned long long)after[i]);
}

typedef struct progress_log {
    size_t n;
    char stage[256][16];
    uint64_t done[256], total[256];
} progress_log;

static void on_progress(void *user, const char *stage, uint64_t done, uint64_t total) {
    progress_log *p = user;
    if (p == NULL || p->n == 256) return;
    snprintf(p->stage[p->n], sizeof p->stage[0], "%s", stage);
    p->done[p->n] = done;
    p->total[p->n] = total;
    p->n++;
}

static assay_ctx *new_ctx(progress_log *log) {
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = 2;
    o.progress = on_progress;
    o.progress_user = log;
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_OK);
    return ctx;
}

/* Calls the loader directly on a fresh dataset; on failure the dataset is destroyed and NULL is
 * returned in *out (the message stays in ctx). */
static assay_status load_direct(assay_ctx *ctx, const char *path, const assay_load_opts *o,
                                assay_dataset **out) {
    hsize_t before[N_ID_TYPES];
    id_snapshot(before);
    assay_dataset *ds = calloc(1, sizeof *ds);
    assert_non_null(ds);
    assay_status s = assay__h5_load(ctx, ds, path, o);
    check_no_id_leak(before);
    if (s != ASSAY_OK) {
        assay_dataset_destroy(ds);
        ds = NULL;
    }
    *out = ds;
    return s;
}

static assay_status load_api(assay_ctx *ctx, const char *path, const assay_load_opts *o,
                             assay_dataset **out) {
    hsize_t before[N_ID_TYPES];
    id_snapshot(before);
    assay_status s = assay_dataset_load(ctx, path, o, out);
    check_no_id_leak(before);
    if (s != ASSAY_OK) assert_null(*out);
    return s;
}

/* ---- embeddings ---- */

static void test_h5_contiguous_f32(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_contig.h5");
    write_basic(path, 37, 5, 0);
    progress_log log = {0};
    assay_ctx *ctx = new_ctx(&log);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
    check_basic_x(ds, 37, 5);
    assert_string_equal(ds->h5_embeddings, "/embeddings");
    assert_int_equal(ds->labels.type, ASSAY__COL_INT);
    assert_int_equal(ds->labels.n, 37);
    for (size_t i = 0; i < 37; i++) assert_int_equal(ds->labels.i[i], (int64_t)(i % 3));
    char src[1100];
    snprintf(src, sizeof src, "%s:/labels", path);
    assert_string_equal(ds->labels.source, src);
    assert_int_equal(ds->ids.type, ASSAY__COL_NONE);
    assert_null(ds->pred_probs);
    assert_int_equal(ds->n_declared, 0);
    /* one block, reported as rows done */
    assert_true(log.n >= 1);
    assert_string_equal(log.stage[log.n - 1], "load");
    assert_int_equal(log.done[log.n - 1], 37);
    assert_int_equal(log.total[log.n - 1], 37);
    assay_dataset_destroy(ds);

    /* the same through the public API */
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(assay_dataset_format(ds), ASSAY_FORMAT_HDF5);
    assert_int_equal(assay_dataset_rows(ds), 37);
    assert_int_equal(assay_dataset_dims(ds), 5);
    assert_int_equal(assay_dataset_classes(ds), 3);
    assert_true(assay_dataset_row(ds, 36)[4] == emb_value(36, 4));
    assert_int_equal(assay_dataset_class_count(ds, 0), 13);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

static double f64_value(size_t i, size_t j) {
    /* Not representable in float32, so the comparison checks HDF5's f64 -> f32 rounding. */
    return (double)((i * 7919u + j * 104729u) % 100003u) / 7.0 - 5000.0;
}

static void test_h5_chunked_gzip_f64(void **state) {
    (void)state;
    /* N is not a multiple of the chunk rows, d not a multiple of the chunk columns, and the
     * matrix spans several read blocks (a block is ~4 MB of float32 output). */
    const size_t n = 3001, d = 781, cr = 100, cc = 300;
    char path[1024];
    tu_path(path, sizeof path, "h5_chunked.h5");
    double *x = malloc(n * d * sizeof *x);
    int64_t *y = malloc(n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) x[i * d + j] = f64_value(i, j);
        y[i] = (int64_t)(i % 4);
    }
    hid_t f = tw_create(path, 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {cr, cc}, dims[2] = {n, d};
    assert_true(H5Pset_chunk(dcpl, 2, chunk) >= 0);
    assert_true(H5Pset_deflate(dcpl, 1) >= 0);
    tw_write(f, "/embeddings", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, x, dcpl);
    H5Pclose(dcpl);
    tw_i64(f, "/labels", n, y);
    H5Fclose(f);

    progress_log log = {0};
    assay_ctx *ctx = new_ctx(&log);
    assay_dataset *ds;
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(assay_dataset_rows(ds), n);
    assert_int_equal(assay_dataset_dims(ds), d);
    for (size_t i = 0; i < n; i++) {
        const float *row = assay_dataset_row(ds, i);
        for (size_t j = 0; j < d; j++)
            if (row[j] != (float)x[i * d + j])
                fail_msg("row %zu col %zu: %.9g, expected %.9g", i, j, (double)row[j],
                         (double)(float)x[i * d + j]);
        for (size_t j = d; j < ds->ld; j++) assert_true(row[j] == 0.0f);
    }
    /* The blocks are whole rows of chunks: every report but the last is a multiple of 100. */
    size_t blocks = 0;
    uint64_t prev = 0;
    for (size_t k = 0; k < log.n; k++) {
        if (strcmp(log.stage[k], "load") != 0 || log.total[k] != n) continue;
        blocks++;
        assert_true(log.done[k] > prev);
        if (log.done[k] != n) assert_int_equal(log.done[k] % cr, 0);
        prev = log.done[k];
    }
    assert_true(blocks >= 2);
    assert_int_equal(prev, n);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    free(x);
    free(y);
}

static void test_h5_f16_embeddings(void **state) {
    (void)state;
    const size_t n = 9, d = 7;
    char path[1024];
    tu_path(path, sizeof path, "h5_f16.h5");
    float x[9 * 7];
    int64_t y[9];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) x[i * d + j] = (float)((int)(i * d + j) - 30) * 0.125f;
        y[i] = (int64_t)i;
    }
    /* IEEE half precision as h5py defines it (HDF5 1.10 has no predefined f16 type). */
    hid_t f16 = H5Tcopy(H5T_IEEE_F32LE);
    assert_true(H5Tset_fields(f16, 15, 10, 5, 0, 10) >= 0);
    assert_true(H5Tset_size(f16, 2) >= 0);
    assert_true(H5Tset_ebias(f16, 15) >= 0);
    hid_t f = tw_create(path, 0);
    hsize_t dims[2] = {n, d};
    tw_write(f, "/embeddings", f16, H5T_NATIVE_FLOAT, 2, dims, x, H5P_DEFAULT);
    tw_i64(f, "/labels", n, y);
    H5Fclose(f);
    H5Tclose(f16);

    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) assert_true(ds->x[i * ds->ld + j] == x[i * d + j]);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

/* Chunk shapes that stress the block plan: column chunks spanning every row (one block, no
 * cache), chunks larger than the dataset, and single-row chunks. */
static void test_h5_chunk_layouts(void **state) {
    (void)state;
    const size_t n = 500, d = 20;
    char path[1024];
    tu_path(path, sizeof path, "h5_chunk_layouts.h5");
    float *x = malloc(n * d * sizeof *x);
    int64_t *y = calloc(n, sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t i = 0; i < n * d; i++) x[i] = (float)f64_value(i / d, i % d);
    static const hsize_t chunks[3][2] = {{500, 1}, {1024, 64}, {1, 7}};
    static const char *names[3] = {"/columns", "/big", "/rows"};
    hid_t f = tw_create(path, 0);
    for (int k = 0; k < 3; k++) {
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        hsize_t dims[2] = {n, d}, maxdims[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
        assert_true(H5Pset_chunk(dcpl, 2, chunks[k]) >= 0);
        assert_true(H5Pset_deflate(dcpl, 1) >= 0);
        hid_t sp = H5Screate_simple(2, dims, maxdims);
        hid_t ds = H5Dcreate2(f, names[k], H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        assert_true(ds >= 0);
        assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
        H5Dclose(ds);
        H5Sclose(sp);
        H5Pclose(dcpl);
    }
    tw_i64(f, "/labels", n, y);
    H5Fclose(f);
    assay_ctx *ctx = new_ctx(NULL);
    for (int k = 0; k < 3; k++) {
        assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
        o.h5_embeddings = names[k];
        assay_dataset *ds;
        assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_OK);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++)
                if (ds->x[i * ds->ld + j] != x[i * d + j])
                    fail_msg("%s: x[%zu][%zu] = %g, expected %g", names[k], i, j,
                             (double)ds->x[i * ds->ld + j], (double)x[i * d + j]);
        assay_dataset_destroy(ds);
    }
    assay_ctx_destroy(ctx);
    free(x);
    free(y);
}

static void test_h5_integer_embeddings(void **state) {
    (void)state;
    const size_t n = 11, d = 20;
    char path[1024];
    tu_path(path, sizeof path, "h5_u8.h5");
    uint8_t px[11 * 20];
    int16_t s16[11 * 20];
    int64_t y[11];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) {
            px[i * d + j] = (uint8_t)((i * 13 + j * 7 + 200) % 256);
            s16[i * d + j] = (int16_t)((int)(i * 1000) - (int)(j * 777));
        }
        y[i] = 1;
    }
    hsize_t dims[2] = {n, d};
    hid_t f = tw_create(path, 0);
    tw_write(f, "/embeddings", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, dims, px, H5P_DEFAULT);
    tw_write(f, "/emb_i16be", H5T_STD_I16BE, H5T_NATIVE_INT16, 2, dims, s16, H5P_DEFAULT);
    tw_i64(f, "/labels", n, y);
    H5Fclose(f);

    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) assert_true(ds->x[i * ds->ld + j] == (float)px[i * d + j]);
    assay_dataset_destroy(ds);

    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_embeddings = "/emb_i16be";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) assert_true(ds->x[i * ds->ld + j] == (float)s16[i * d + j]);
    assert_string_equal(ds->h5_embeddings, "/emb_i16be");
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

/* ---- labels ---- */

static void test_h5_integer_label_types(void **state) {
    (void)state;
    const size_t n = 6;
    float x[6 * 2] = {0};
    static const struct {
        const char *name;
        int is_signed;
    } types[] = {{"i8", 1},    {"u8", 0},  {"i16", 1}, {"u16", 0},
                 {"i32be", 1}, {"i64", 1}, {"u32", 0}, {"u64", 0}};
    hid_t ftypes[8] = {H5T_STD_I8LE,  H5T_STD_U8LE,  H5T_STD_I16LE, H5T_STD_U16LE,
                       H5T_STD_I32BE, H5T_STD_I64LE, H5T_STD_U32LE, H5T_STD_U64LE};
    const int64_t signed_vals[6] = {-128, -1, 0, 1, 42, 127};
    const int64_t unsigned_vals[6] = {0, 1, 7, 200, 255, 3};
    assay_ctx *ctx = new_ctx(NULL);
    for (size_t t = 0; t < 8; t++) {
        char path[1024];
        tu_path(path, sizeof path, "h5_lab_%s.h5", types[t].name);
        const int64_t *vals = types[t].is_signed ? signed_vals : unsigned_vals;
        hid_t f = tw_create(path, 0);
        tw_f32(f, "/embeddings", n, 2, x);
        hsize_t dims[1] = {n};
        tw_write(f, "/labels", ftypes[t], H5T_NATIVE_INT64, 1, dims, vals, H5P_DEFAULT);
        H5Fclose(f);
        assay_dataset *ds;
        assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
        assert_int_equal(ds->labels.type, ASSAY__COL_INT);
        assert_int_equal(ds->labels.n, n);
        for (size_t i = 0; i < n; i++)
            if (ds->labels.i[i] != vals[i])
                fail_msg("%s: label %zu = %lld, expected %lld", types[t].name, i,
                         (long long)ds->labels.i[i], (long long)vals[i]);
        assay_dataset_destroy(ds);
    }

    /* uint64 values above INT64_MAX would be clipped by a silent conversion: refused. */
    char path[1024];
    tu_path(path, sizeof path, "h5_lab_u64big.h5");
    uint64_t big[6] = {0, 1, 2, UINT64_MAX - 5, 4, 5};
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 2, x);
    hsize_t dims[1] = {n};
    tw_write(f, "/labels", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, dims, big, H5P_DEFAULT);
    H5Fclose(f);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "/labels: row 3 has the value 18446744073709551610");
    assay_ctx_destroy(ctx);
}

static void test_h5_labels_n_by_1(void **state) {
    (void)state;
    const size_t n = 5;
    float x[5 * 3] = {0};
    int32_t y[5] = {4, -2, 4, 9, 0};
    char path[1024];
    tu_path(path, sizeof path, "h5_lab_n1.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 3, x);
    hsize_t dims[2] = {n, 1};
    tw_write(f, "/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dims, y, H5P_DEFAULT);
    hsize_t bad[2] = {n, 2};
    int32_t y2[10] = {0};
    tw_write(f, "/labels2", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, bad, y2, H5P_DEFAULT);
    H5Fclose(f);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(ds->labels.i[i], y[i]);
    assay_dataset_destroy(ds);

    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_labels = "/labels2";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_SHAPE);
    assert_contains(assay_ctx_errmsg(ctx),
                    "/labels2: expected a vector [N] or [N, 1], found [5, 2]");
    assay_ctx_destroy(ctx);
}

static void test_h5_vlen_string_labels(void **state) {
    (void)state;
    const size_t n = 6;
    float x[6 * 4];
    for (size_t i = 0; i < 24; i++) x[i] = (float)i;
    const char *labels[6] = {"dog", "cat", "bird", "cat", "dog", "cat"};
    char path[1024];
    tu_path(path, sizeof path, "h5_vlen_labels.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 4, x);
    tw_vlen_strings(f, "/labels", labels, n);
    H5Fclose(f);

    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(ds->labels.type, ASSAY__COL_STR);
    assert_int_equal(assay_dataset_classes(ds), 3);
    /* classes are sorted by string */
    assert_string_equal(assay_dataset_class_label(ds, 0), "bird");
    assert_string_equal(assay_dataset_class_label(ds, 1), "cat");
    assert_string_equal(assay_dataset_class_label(ds, 2), "dog");
    assert_int_equal(assay_dataset_class_count(ds, 0), 1);
    assert_int_equal(assay_dataset_class_count(ds, 1), 3);
    assert_int_equal(assay_dataset_class_count(ds, 2), 2);
    const int32_t expect[6] = {2, 1, 0, 1, 2, 1};
    for (size_t i = 0; i < n; i++) assert_int_equal(assay_dataset_row_class(ds, i), expect[i]);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

static void test_h5_fixed_string_labels(void **state) {
    (void)state;
    const size_t n = 4;
    float x[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* NUL-padded (NumPy 'S6') and space-padded (Fortran-style) values of 6 bytes */
    const char nullpad[4 * 6] = "cat\0\0\0horse\0dog\0\0\0cat\0\0\0";
    const char spacepad[4 * 6 + 1] = "cat   horse dog   a b   ";
    char path[1024];
    tu_path(path, sizeof path, "h5_fixed_labels.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 2, x);
    tw_fixed_strings(f, "/labels", nullpad, n, 6, H5T_STR_NULLPAD);
    tw_fixed_strings(f, "/labels_sp", spacepad, n, 6, H5T_STR_SPACEPAD);
    H5Fclose(f);

    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(ds->labels.type, ASSAY__COL_STR);
    assert_string_equal(ds->labels.s[0], "cat");
    assert_string_equal(ds->labels.s[1], "horse");
    assert_string_equal(ds->labels.s[2], "dog");
    assert_string_equal(ds->labels.s[3], "cat");
    assay_dataset_destroy(ds);

    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_labels = "/labels_sp";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_OK);
    assert_int_equal(assay_dataset_classes(ds), 4);
    assert_string_equal(assay_dataset_class_label(ds, 0), "a b"); /* inner space kept */
    assert_string_equal(assay_dataset_class_label(ds, 1), "cat");
    assert_string_equal(assay_dataset_class_label(ds, 2), "dog");
    assert_string_equal(assay_dataset_class_label(ds, 3), "horse");
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

static void test_h5_float_labels(void **state) {
    (void)state;
    const size_t n = 5;
    float x[5 * 2] = {0};
    double whole[5] = {1.0, -2.0, 0.0, 3.0, 1.0};
    double frac[5] = {1.0, 2.0, 1.5, 3.0, 1.0};
    float nan_lab[5] = {1.0f, 2.0f, 0.0f, NAN, 1.0f};
    char path[1024];
    tu_path(path, sizeof path, "h5_float_labels.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 2, x);
    hsize_t dims[1] = {n};
    tw_write(f, "/labels", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, whole, H5P_DEFAULT);
    tw_write(f, "/frac", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, frac, H5P_DEFAULT);
    tw_write(f, "/nan", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dims, nan_lab, H5P_DEFAULT);
    H5Fclose(f);

    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(ds->labels.type, ASSAY__COL_INT);
    for (size_t i = 0; i < n; i++) assert_int_equal(ds->labels.i[i], (int64_t)whole[i]);
    assay_dataset_destroy(ds);

    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_labels = "/frac";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "h5_float_labels.h5:/frac: row 2 has the label 1.5");
    assert_contains(assay_ctx_errmsg(ctx), "whole numbers");
    o.h5_labels = "/nan";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "/nan: row 3 has the label nan");
    assay_ctx_destroy(ctx);
}

static void test_h5_class_names_attribute(void **state) {
    (void)state;
    const size_t n = 7;
    float x[7 * 2];
    for (size_t i = 0; i < 14; i++) x[i] = (float)i;
    int64_t y[7] = {0, 1, 2, 5, -1, 1, 2};
    const char *names[3] = {"T-shirt/top", "Trouser", "Pullover"};
    assay_ctx *ctx = new_ctx(NULL);
    for (int fixed = 0; fixed < 2; fixed++) {
        char path[1024];
        tu_path(path, sizeof path, "h5_class_names_%d.h5", fixed);
        hid_t f = tw_create(path, 0);
        tw_f32(f, "/embeddings", n, 2, x);
        tw_i64(f, "/labels", n, y);
        tw_attr_strings(f, "/labels", "class_names", names, 3, fixed ? 16 : 0);
        H5Fclose(f);

        assay_dataset *ds;
        assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
        assert_int_equal(ds->n_declared, 3);
        assert_int_equal(ds->declared_names_for_ints, 1);
        for (size_t c = 0; c < 3; c++) assert_string_equal(ds->declared[c], names[c]);
        assay_dataset_destroy(ds);

        assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_OK);
        assert_int_equal(assay_dataset_classes(ds), 3);
        for (size_t c = 0; c < 3; c++) {
            char num[8];
            snprintf(num, sizeof num, "%zu", c);
            assert_string_equal(ds->class_name[c], names[c]);
            assert_string_equal(assay_dataset_class_label(ds, c), num);
        }
        assert_int_equal(ds->classes_declared, 1);
        const int32_t expect[7] = {0, 1, 2, -1, -1, 1, 2};
        for (size_t i = 0; i < n; i++) assert_int_equal(assay_dataset_row_class(ds, i), expect[i]);
        assert_int_equal(assay_dataset_class_count(ds, 1), 2);
        assert_int_equal(ds->n_badlabel, 2);
        assay_dataset_destroy(ds);
    }

    /* class_names that are not strings, and class_names on string labels */
    char path[1024];
    tu_path(path, sizeof path, "h5_class_names_bad.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 2, x);
    tw_i64(f, "/labels", n, y);
    const char *slab[7] = {"a", "b", "a", "b", "a", "b", "a"};
    tw_vlen_strings(f, "/slabels", slab, n);
    tw_attr_strings(f, "/slabels", "class_names", names, 3, 0);
    hid_t ds_id = H5Dopen2(f, "/labels", H5P_DEFAULT);
    hsize_t adims[1] = {3};
    hid_t sp = H5Screate_simple(1, adims, NULL);
    hid_t a = H5Acreate2(ds_id, "class_names", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int32_t nums[3] = {1, 2, 3};
    assert_true(H5Awrite(a, H5T_NATIVE_INT32, nums) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Dclose(ds_id);
    H5Fclose(f);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx),
                    "/labels: attribute class_names must be a non-empty 1-D array of strings "
                    "(found integer");
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_labels = "/slabels";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "class_names attribute needs integer labels");
    assay_ctx_destroy(ctx);
}

/* ---- ids and predicted probabilities ---- */

static void test_h5_int_ids(void **state) {
    (void)state;
    const size_t n = 4;
    float x[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t y[4] = {0, 1, 0, 1};
    int32_t ids[4] = {1000, -7, 123456, 0};
    char path[1024];
    tu_path(path, sizeof path, "h5_int_ids.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 2, x);
    tw_i64(f, "/labels", n, y);
    hsize_t dims[1] = {n};
    tw_write(f, "/ids", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, ids, H5P_DEFAULT);
    H5Fclose(f);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(ds->ids.type, ASSAY__COL_INT);
    char src[1100];
    snprintf(src, sizeof src, "%s:/ids", path);
    assert_string_equal(ds->ids.source, src);
    char buf[32];
    const char *expect[4] = {"1000", "-7", "123456", "0"};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(assay_dataset_row_id(ds, i, buf, sizeof buf), ASSAY_OK);
        assert_string_equal(buf, expect[i]);
    }
    assay_dataset_destroy(ds);

    /* float ids are refused: an id must compare exactly */
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    double fid[4] = {1, 2, 3, 4};
    tw_write(f, "/fids", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, fid, H5P_DEFAULT);
    H5Fclose(f);
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_ids = "/fids";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_UNSUPPORTED);
    assert_contains(assay_ctx_errmsg(ctx), "/fids: ids of type class float are not supported");
    assay_ctx_destroy(ctx);
}

static void test_h5_string_ids(void **state) {
    (void)state;
    const size_t n = 3;
    float x[3 * 2] = {1, 2, 3, 4, 5, 6};
    int64_t y[3] = {0, 1, 0};
    const char *ids[3] = {"img_0001.png", "", "caf\xc3\xa9/0042"};
    char path[1024];
    tu_path(path, sizeof path, "h5_str_ids.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 2, x);
    tw_i64(f, "/labels", n, y);
    tw_vlen_strings(f, "/ids", ids, n);
    H5Fclose(f);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(ds->ids.type, ASSAY__COL_STR);
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(assay_dataset_row_id(ds, i, buf, sizeof buf), ASSAY_OK);
        assert_string_equal(buf, ids[i]);
    }
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

static void test_h5_pred_probs(void **state) {
    (void)state;
    const size_t n = 5, c = 3;
    float x[5 * 2] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    int64_t y[5] = {0, 1, 2, 1, 0};
    double pp[5 * 3];
    for (size_t r = 0; r < n; r++) { /* distinct rows that sum to 1 */
        double sum = 0.0;
        for (size_t j = 0; j < c; j++) sum += (double)(r * c + j + 1);
        for (size_t j = 0; j < c; j++) pp[r * c + j] = (double)(r * c + j + 1) / sum;
    }
    char path[1024];
    tu_path(path, sizeof path, "h5_pp.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", n, 2, x);
    tw_i64(f, "/labels", n, y);
    hsize_t dims[2] = {n, c};
    tw_write(f, "/pred_probs", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, pp, H5P_DEFAULT);
    H5Fclose(f);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_OK);
    assert_non_null(ds->pred_probs);
    assert_int_equal(ds->pp_rows, n);
    assert_int_equal(ds->pp_cols, c);
    char src[1100];
    snprintf(src, sizeof src, "%s:/pred_probs", path);
    assert_string_equal(ds->pp_source, src);
    for (size_t i = 0; i < n * c; i++) assert_true(ds->pred_probs[i] == (float)pp[i]);
    assay_dataset_destroy(ds);

    /* a vector, and a matrix with the wrong number of classes (found by the finishing step) */
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t vdims[1] = {n}, wdims[2] = {n, 2};
    tw_write(f, "/pp_vector", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, vdims, pp, H5P_DEFAULT);
    tw_write(f, "/pp_two", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, wdims, pp, H5P_DEFAULT);
    H5Fclose(f);
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_pred_probs = "/pp_vector";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_SHAPE);
    assert_contains(assay_ctx_errmsg(ctx), "/pp_vector: expected a 2-D array [rows, columns]");
    o.h5_pred_probs = "/pp_two";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_SHAPE);
    assert_contains(assay_ctx_errmsg(ctx), "h5_pp.h5:/pp_two) have 2 columns");

    /* logits or unnormalised scores are not probabilities */
    double logits[5 * 3], halves[5 * 3];
    for (size_t i = 0; i < n * c; i++) {
        logits[i] = (double)i - 4.0;
        halves[i] = 0.5;
    }
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    tw_write(f, "/pp_logits", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, logits, H5P_DEFAULT);
    tw_write(f, "/pp_halves", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, halves, H5P_DEFAULT);
    H5Fclose(f);
    o.h5_pred_probs = "/pp_logits";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "/pp_logits: row 0, column 0: -4 is not a probability");
    o.h5_pred_probs = "/pp_halves";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "/pp_halves: row 0 sums to 1.5, expected 1");
    assay_ctx_destroy(ctx);
}

static void test_h5_custom_names(void **state) {
    (void)state;
    const size_t n = 4;
    float x[4 * 3];
    for (size_t i = 0; i < 12; i++) x[i] = (float)i * 0.5f;
    int64_t y[4] = {3, 3, 8, 3};
    int64_t ids[4] = {10, 11, 12, 13};
    float pp[4 * 2] = {0.1f, 0.9f, 0.2f, 0.8f, 0.7f, 0.3f, 0.6f, 0.4f};
    char path[1024];
    tu_path(path, sizeof path, "h5_custom.h5");
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/feat/train_x", n, 3, x);
    tw_i64(f, "/feat/train_y", n, y);
    tw_i64(f, "/meta/row_id", n, ids);
    tw_f32(f, "/meta/probs", n, 2, pp);
    H5Fclose(f);
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_embeddings = "/feat/train_x";
    o.h5_labels = "/feat/train_y";
    o.h5_ids = "/meta/row_id";
    o.h5_pred_probs = "/meta/probs";
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_OK);
    assert_string_equal(ds->h5_embeddings, "/feat/train_x");
    assert_true(assay_dataset_row(ds, 3)[2] == 5.5f);
    assert_int_equal(assay_dataset_classes(ds), 2);
    assert_string_equal(assay_dataset_class_label(ds, 1), "8");
    char buf[16];
    assert_int_equal(assay_dataset_row_id(ds, 2, buf, sizeof buf), ASSAY_OK);
    assert_string_equal(buf, "12");
    assert_true(ds->pred_probs[5] == 0.3f);
    assay_dataset_destroy(ds);

    /* without the names nothing is found, and the message lists what is there */
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "no dataset '/embeddings'");
    assert_contains(assay_ctx_errmsg(ctx), "/feat/train_x");
    assert_contains(assay_ctx_errmsg(ctx), "/meta/probs");
    assay_ctx_destroy(ctx);
}

static void test_h5_optional_datasets(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_optional.h5");
    write_basic(path, 6, 3, 0);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    /* /ids and /pred_probs absent by default: fine */
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_OK);
    assert_int_equal(ds->ids.type, ASSAY__COL_NONE);
    assert_null(ds->pred_probs);
    assay_dataset_destroy(ds);
    /* named explicitly: required */
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_ids = "/ids";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "h5_optional.h5: no dataset '/ids'");
    o.h5_ids = NULL;
    o.h5_pred_probs = "/probs/missing";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "no dataset '/probs/missing'");
    assert_contains(assay_ctx_errmsg(ctx), "(datasets in the file: /embeddings, /labels)");
    /* labels may be absent only when a labels file replaces them */
    o.h5_pred_probs = NULL;
    o.h5_labels = "/nope";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "no dataset '/nope'");
    o.labels_file = "labels_elsewhere.csv";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_OK);
    assert_int_equal(ds->labels.type, ASSAY__COL_NONE);
    assert_int_equal(ds->n, 6);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

/* ---- errors ---- */

static void test_h5_missing_file(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_does_not_exist.h5");
    unlink(path);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "h5_does_not_exist.h5: cannot open");
    assert_contains(assay_ctx_errmsg(ctx), "No such file");
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "h5_does_not_exist.h5");
    assay_ctx_destroy(ctx);
}

static void test_h5_not_hdf5(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_text.h5");
    tu_write_text(path, "id,label\n1,cat\n2,dog\n");
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "h5_text.h5: not an HDF5 file");
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "h5_text.h5: not an HDF5 file");
    assay_ctx_destroy(ctx);
}

static void test_h5_missing_dataset_lists_contents(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_missing.h5");
    float v[2 * 2] = {1, 2, 3, 4};
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/x", 2, 2, v);
    tw_f32(f, "/grp/y", 2, 2, v);
    tw_f32(f, "/grp/sub/z", 2, 2, v);
    H5Fclose(f);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_E_NOTFOUND);
    const char *m = assay_ctx_errmsg(ctx);
    assert_contains(m, "h5_missing.h5: no dataset '/embeddings' (datasets in the file: ");
    assert_contains(m, "/x");
    assert_contains(m, "/grp/y");
    assert_contains(m, "/grp/sub/z");

    /* a group where a dataset is expected, and a path through a dataset */
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_embeddings = "/grp";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "expected a dataset, found the group '/grp'");
    o.h5_embeddings = "/x/inside";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "no dataset '/x/inside'");
    o.h5_embeddings = "/x"; /* found; then the labels are missing */
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "no dataset '/labels'");

    /* many datasets: the list is cut */
    tu_path(path, sizeof path, "h5_many.h5");
    f = tw_create(path, 0);
    for (int i = 0; i < 25; i++) {
        char name[32];
        snprintf(name, sizeof name, "/d%02d", i);
        tw_f32(f, name, 2, 2, v);
    }
    H5Fclose(f);
    assert_int_equal(load_direct(ctx, path, NULL, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "/d00, /d01");
    assert_contains(assay_ctx_errmsg(ctx), "/d09, ...)");
    assert_null(strstr(assay_ctx_errmsg(ctx), "/d10"));

    /* an empty file */
    tu_path(path, sizeof path, "h5_empty_file.h5");
    f = tw_create(path, 0);
    H5Fclose(f);
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "no dataset '/embeddings' (the file has no datasets)");
    assay_ctx_destroy(ctx);
}

/* A mistyped dataset path gets the nearest dataset's path, computed in the sandboxed child that
 * reads the file (load_api) as in the direct reader; with no close name only the list. */
static void test_h5_missing_dataset_suggests(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_suggest.h5");
    float v[2 * 2] = {1, 2, 3, 4};
    int64_t y[2] = {0, 1};
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", 2, 2, v);
    tw_i64(f, "/labels", 2, y);
    tw_i64(f, "/meta/row_ids", 2, y);
    H5Fclose(f);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_embeddings = "/embeddigns";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx),
                    "h5_suggest.h5: no dataset '/embeddigns'; did you mean '/embeddings'?");
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx),
                    "h5_suggest.h5: no dataset '/embeddigns'; did you mean '/embeddings'?");
    o.h5_embeddings = NULL;
    o.h5_labels = "lables"; /* without the leading slash */
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "no dataset 'lables'; did you mean '/labels'?");
    o.h5_labels = NULL;
    o.h5_ids = "/meta/row_id";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "did you mean '/meta/row_ids'?");
    o.h5_ids = "/nothing_like_it";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_null(strstr(assay_ctx_errmsg(ctx), "did you mean"));
    assert_contains(assay_ctx_errmsg(ctx), "(datasets in the file: /embeddings, /labels");

    /* past the listed ten, still suggested; past the visiting bound, not looked at */
    tu_path(path, sizeof path, "h5_suggest_many.h5");
    f = tw_create(path, 0);
    for (int i = 0; i < 25; i++) {
        char name[32];
        snprintf(name, sizeof name, "/d%02d", i);
        tw_f32(f, name, 2, 2, v);
    }
    for (int i = 0; i < 10050; i++) {
        char name[32];
        snprintf(name, sizeof name, "/g%05d", i);
        hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(g >= 0);
        H5Gclose(g);
    }
    tw_f32(f, "/zz_target", 2, 2, v); /* visited after the groups (name order) */
    H5Fclose(f);
    o = (assay_load_opts)ASSAY_LOAD_OPTS_INIT;
    o.h5_embeddings = "/d24x";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_contains(assay_ctx_errmsg(ctx), "did you mean '/d24'?");
    assert_contains(assay_ctx_errmsg(ctx), "/d09, ...)");
    o.h5_embeddings = "/zz_targt";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_NOTFOUND);
    assert_null(strstr(assay_ctx_errmsg(ctx), "did you mean"));
    assay_ctx_destroy(ctx);
}

static void test_h5_embeddings_bad_shape(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_bad_shape.h5");
    float v[60] = {0};
    hid_t f = tw_create(path, 0);
    hsize_t d1[1] = {5}, d3[3] = {3, 4, 5}, d0[2] = {0, 4}, dz[2] = {4, 0};
    tw_write(f, "/rank1", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d1, v, H5P_DEFAULT);
    tw_write(f, "/rank3", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d3, v, H5P_DEFAULT);
    tw_write(f, "/norows", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d0, NULL, H5P_DEFAULT);
    tw_write(f, "/nocols", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dz, NULL, H5P_DEFAULT);
    const char *strs[2] = {"a", "b"};
    tw_vlen_strings(f, "/strings", strs, 2);
    hid_t cmp = H5Tcreate(H5T_COMPOUND, 8);
    H5Tinsert(cmp, "a", 0, H5T_NATIVE_FLOAT);
    H5Tinsert(cmp, "b", 4, H5T_NATIVE_FLOAT);
    hsize_t d2[2] = {2, 2};
    tw_write(f, "/compound", cmp, cmp, 2, d2, v, H5P_DEFAULT);
    H5Tclose(cmp);
    H5Fclose(f);

    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_embeddings = "/rank1";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_SHAPE);
    assert_contains(assay_ctx_errmsg(ctx),
                    "h5_bad_shape.h5:/rank1: expected a 2-D array [rows, columns], found 1-D [5]");
    o.h5_embeddings = "/rank3";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_SHAPE);
    assert_contains(assay_ctx_errmsg(ctx), "/rank3: expected a 2-D array");
    assert_contains(assay_ctx_errmsg(ctx), "found 3-D [3, 4, 5]");
    o.h5_embeddings = "/norows";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "/norows: the embeddings are empty ([0, 4])");
    o.h5_embeddings = "/nocols";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "/nocols: the embeddings are empty ([4, 0])");
    o.h5_embeddings = "/strings";
    assert_int_equal(load_direct(ctx, path, &o, &ds), ASSAY_E_UNSUPPORTED);
    assert_contains(assay_ctx_errmsg(ctx), "/strings: the elements are of type class string");
    o.h5_embeddings = "/compound";
    assert_int_equal(load_api(ctx, path, &o, &ds), ASSAY_E_UNSUPPORTED);
    assert_contains(assay_ctx_errmsg(ctx), "type class compound");
    assay_ctx_destroy(ctx);
}

static void test_h5_labels_length_mismatch(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_mismatch.h5");
    float x[10 * 2] = {0};
    int64_t y[9] = {0};
    hid_t f = tw_create(path, 0);
    tw_f32(f, "/embeddings", 10, 2, x);
    tw_i64(f, "/labels", 9, y);
    H5Fclose(f);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_E_SHAPE);
    assert_contains(assay_ctx_errmsg(ctx), "h5_mismatch.h5:/labels");
    assert_contains(assay_ctx_errmsg(ctx), "have 9 rows");
    assert_contains(assay_ctx_errmsg(ctx), "embeddings (");
    assert_contains(assay_ctx_errmsg(ctx), "h5_mismatch.h5:/embeddings) have 10 rows");
    assay_ctx_destroy(ctx);
}

/* ---- damaged files: a clear error, no crash, no leak, nothing printed ---- */

static size_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (size_t)st.st_size;
}

static void overwrite(const char *path, size_t off, const void *bytes, size_t len) {
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, len, (off_t)off), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void test_h5_truncated_file(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "h5_truncated.h5");
    write_basic(path, 400, 16, 0);
    size_t size = file_size(path);
    assert_int_equal(truncate(path, (off_t)(size / 2)), 0);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assay_status s = load_direct(ctx, path, NULL, &ds);
    assert_true(s == ASSAY_E_HDF5 || s == ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "h5_truncated.h5: ");
    assert_contains(assay_ctx_errmsg(ctx), "truncated");
    s = load_api(ctx, path, NULL, &ds);
    assert_true(s == ASSAY_E_HDF5 || s == ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "truncated");
    assay_ctx_destroy(ctx);
}

static haddr_t object_addr(const char *path, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t o = H5Oopen(f, name, H5P_DEFAULT);
    assert_true(o >= 0);
    H5O_info_t info;
    assert_true(H5Oget_info2(o, &info, H5O_INFO_BASIC) >= 0);
    H5Oclose(o);
    H5Fclose(f);
    return info.addr;
}

static void test_h5_corrupt_object_header(void **state) {
    (void)state;
    assay_ctx *ctx = new_ctx(NULL);
    /* Old format (v1 object headers, no checksums) and latest (v2, checksummed). */
    for (int latest = 0; latest < 2; latest++) {
        char path[1024];
        tu_path(path, sizeof path, "h5_corrupt_ohdr_%d.h5", latest);
        write_basic(path, 50, 8, latest);
        haddr_t addr = object_addr(path, "/embeddings");
        unsigned char junk[24];
        memset(junk, 0xEE, sizeof junk);
        overwrite(path, (size_t)addr, junk, sizeof junk);
        assay_dataset *ds;
        assay_status s = load_direct(ctx, path, NULL, &ds);
        if (s != ASSAY_E_HDF5 && s != ASSAY_E_FORMAT)
            fail_msg("latest=%d: status %d: %s", latest, (int)s, assay_ctx_errmsg(ctx));
        assert_contains(assay_ctx_errmsg(ctx), "h5_corrupt_ohdr_");
        assert_contains(assay_ctx_errmsg(ctx), "cannot open '/embeddings': ");
    }
    assay_ctx_destroy(ctx);
}

static void test_h5_corrupt_chunk(void **state) {
    (void)state;
    const size_t n = 200, d = 32;
    char path[1024];
    tu_path(path, sizeof path, "h5_corrupt_chunk.h5");
    float *x = malloc(n * d * sizeof *x);
    int64_t *y = calloc(n, sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (size_t i = 0; i < n * d; i++) x[i] = (float)(i % 97) * 0.5f;
    hid_t f = tw_create(path, 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {64, 32}, dims[2] = {n, d};
    assert_true(H5Pset_chunk(dcpl, 2, chunk) >= 0);
    assert_true(H5Pset_deflate(dcpl, 6) >= 0);
    tw_write(f, "/embeddings", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, x, dcpl);
    H5Pclose(dcpl);
    tw_i64(f, "/labels", n, y);
    H5Fclose(f);

    /* Find the second chunk's bytes and scribble over their middle. */
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds_id = H5Dopen2(f, "/embeddings", H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds_id);
    hsize_t off[2];
    unsigned mask;
    haddr_t addr;
    hsize_t size;
    assert_true(H5Dget_chunk_info(ds_id, sp, 1, off, &mask, &addr, &size) >= 0);
    H5Sclose(sp);
    H5Dclose(ds_id);
    H5Fclose(f);
    assert_int_equal(off[0], 64);
    assert_true(size > 16);
    unsigned char junk[8] = {0xFF, 0x00, 0xFF, 0x13, 0x37, 0xFF, 0xFF, 0xFF};
    overwrite(path, (size_t)addr + (size_t)size / 2 - 4, junk, sizeof junk);

    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assay_status s = load_direct(ctx, path, NULL, &ds);
    if (s != ASSAY_E_HDF5) fail_msg("status %d: %s", (int)s, assay_ctx_errmsg(ctx));
    assert_contains(assay_ctx_errmsg(ctx),
                    "h5_corrupt_chunk.h5: /embeddings: cannot read rows 0..");
    assert_contains(assay_ctx_errmsg(ctx), "inflate"); /* HDF5's innermost message */
    assert_int_equal(load_api(ctx, path, NULL, &ds), ASSAY_E_HDF5);
    assay_ctx_destroy(ctx);
    free(x);
    free(y);
}

/* The sweep needs AddressSanitizer: it is what turns a bad read into a report that names the
 * faulting frame, so a fault in HDF5 can be told from one in assay. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
/* A child still loading after this long is stuck: its stack goes to stderr like a sanitizer
 * report, so the hang is attributed the same way as a fault. */
#define CHILD_SECONDS 3
#ifdef HAVE_ASAN
#include <sanitizer/common_interface_defs.h>

static void on_child_alarm(int sig) {
    (void)sig;
    static const char head[] = "==HANG== the load did not finish in time (Sanitizer stack):\n";
    if (write(2, head, sizeof head - 1) < 0) _exit(6);
    __sanitizer_print_stack_trace();
    _exit(6);
}
#endif

/* Loads one damaged copy in a child process and returns the exit code: 0 loaded, 1 refused with
 * a message, 2 refused without one, 3 HDF5 ids left open, 4 setup failed. The child ends with
 * _exit(), so HDF5's own exit-time cleanup does not run there: HDF5 1.10.8 cannot always shut
 * down cleanly after some malformed files (it leaks a few hundred bytes in H5Fopen and prints
 * "infinite loop closing library" at exit; HDFGroup/hdf5#6677), which is not ours to test. */
static int damaged_child(const char *path, int use_api) {
    /* The sandbox's watchdog must stop a hung reader before this child's own alarm does
     * (CHILD_SECONDS), so that a hang inside libhdf5 is a refusal, as users see it. */
    setenv("ASSAY_SANDBOX_TIMEOUT", "1", 1);
    hsize_t before[N_ID_TYPES], after[N_ID_TYPES];
    id_snapshot(before);
    assay_ctx *ctx = NULL;
    if (assay_ctx_create(&ctx, NULL) != ASSAY_OK) return 4;
    assay_dataset *ds = NULL;
    assay_status s;
    if (use_api)
        s = assay_dataset_load(ctx, path, NULL, &ds);
    else {
        ds = calloc(1, sizeof *ds);
        if (ds == NULL) return 4;
        s = assay__h5_load(ctx, ds, path, NULL);
    }
    int rc = s == ASSAY_OK ? 0 : assay_ctx_errmsg(ctx)[0] != '\0' ? 1 : 2;
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    id_snapshot(after);
    if (memcmp(before, after, sizeof before) != 0) rc = 3;
    return rc;
}

/* 1 if the first attributable frame of the sanitizer report in `text` is in libhdf5, 0 if it
 * is in assay's sources or this program (or nothing can be attributed). Sanitizer, interceptor
 * and libc frames are passed over, and for a hang everything up to the signal trampoline. */
static int fault_is_in_hdf5(const char *text) {
    if (strstr(text, "Sanitizer") == NULL) return 0;
    int past_handler = strstr(text, "==HANG==") == NULL;
    for (const char *p = strstr(text, "    #"); p != NULL; p = strstr(p + 1, "    #")) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        if (!past_handler) {
            past_handler = strstr(line, "libc.so") != NULL;
            continue;
        }
        if (strstr(line, "sanitizer") || strstr(line, "__interceptor") || strstr(line, "libasan") ||
            strstr(line, "libclang_rt"))
            continue;
        if (strstr(line, "libhdf5") != NULL) return 1;
        if (strstr(line, ASSAY_SOURCE_DIR) != NULL || strstr(line, "test_h5") != NULL) return 0;
    }
    return 0;
}

/* Runs this program as a child loading `bad` (see main), stderr into err_path; returns the wait
 * status. A fresh process image, not a fork: cmocka's signal handlers in this process would
 * catch a fault and carry on running the suite inside the child. */
static int spawn_child(char *self, char *bad, int use_api, const char *err_path) {
    size_t n_env = 0;
    while (environ[n_env] != NULL) n_env++;
    char **env = calloc(n_env + 2, sizeof *env);
    assert_non_null(env);
    /* OpenBLAS starts a thread per core when loaded; the child needs none. */
    char blas[] = "OPENBLAS_NUM_THREADS=1";
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21) != 0) env[k++] = environ[i];
    env[k++] = blas;
    env[k] = NULL;
    posix_spawn_file_actions_t fa;
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
    char mode[2] = {use_api ? '1' : '0', '\0'}, flag[] = "--load-damaged";
    char *args[] = {self, flag, bad, mode, NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, self, &fa, NULL, args, env), 0);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void read_text(const char *path, char *buf, size_t len) {
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    buf[fread(buf, 1, len - 1, fp)] = '\0';
    fclose(fp);
}

/* Overwrites 8 bytes at offsets across a small valid file and loads every copy: whatever the
 * damage, the loader must return (OK when only raw data or unused bytes were hit) without a
 * fault in assay, leaving ids open, or printing anything. Faults inside HDF5 itself (1.10.8 has
 * some on malformed global heaps) are counted and shown, not failed: no caller can prevent them. */
static void damage_sweep(const char *good, size_t step, int use_api) {
    char bad[1024], err_path[1024], self[1024];
    ssize_t self_len = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(self_len > 0);
    self[self_len] = '\0';
    tu_path(bad, sizeof bad, "h5_sweep_bad.h5");
    tu_path(err_path, sizeof err_path, "h5_sweep.stderr");
    size_t size = file_size(good);
    unsigned char *orig = malloc(size);
    assert_non_null(orig);
    FILE *fp = fopen(good, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(orig, 1, size, fp), size);
    fclose(fp);
    size_t n_ok = 0, n_err = 0, n_hdf5_fault = 0;
    uint64_t seed = 12345;
    for (size_t off = 0; off + 8 <= size; off += step) {
        tu_write_file(bad, orig, size);
        unsigned char junk[8];
        for (int k = 0; k < 8; k++) junk[k] = (unsigned char)tu_next(&seed);
        overwrite(bad, off, junk, sizeof junk);
        int status = spawn_child(self, bad, use_api, err_path);
        /* ASan exits with code 1 after a report, so the child's stderr decides first. */
        char buf[8192];
        read_text(err_path, buf, sizeof buf);
        if (buf[0] != '\0' || !WIFEXITED(status) || WEXITSTATUS(status) > 1) {
            if (fault_is_in_hdf5(buf)) {
                const char *summary = strstr(buf, "SUMMARY: ");
                if (n_hdf5_fault++ >= 3) continue; /* the first few show what kind */
                if (strstr(buf, "==HANG==") != NULL)
                    print_message("    offset %zu: HDF5 hangs (stopped after %d s)\n", off,
                                  CHILD_SECONDS);
                else
                    print_message("    offset %zu: fault inside HDF5: %.*s\n", off,
                                  summary ? (int)strcspn(summary, "\n") : 0,
                                  summary ? summary : "");
                continue;
            }
            fail_msg("%s damaged at offset %zu: %s %d, stderr:\n%s", good, off,
                     WIFEXITED(status) ? "exit code" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), buf);
        }
        if (WEXITSTATUS(status) == 0)
            n_ok++;
        else
            n_err++;
    }
    print_message("    %s: %zu damaged copies, %zu loaded, %zu refused, %zu faults inside HDF5\n",
                  strrchr(good, '/') + 1, n_ok + n_err + n_hdf5_fault, n_ok, n_err, n_hdf5_fault);
    assert_true(n_err > 0);
    free(orig);
}

static void test_h5_damage_sweep(void **state) {
    (void)state;
    /* Each copy costs a process start (~40 ms under ASan), so by default the offsets are
     * sparse; ASSAY_TEST_DEEP=1 walks them densely (minutes). */
    size_t k = getenv("ASSAY_TEST_DEEP") != NULL ? 8 : 1;
#ifndef HAVE_ASAN
    skip(); /* without a sanitizer a fault cannot be attributed (see HAVE_ASAN) */
#endif
    char path[1024];
    /* contiguous f32 embeddings, int64 labels (old file format) */
    tu_path(path, sizeof path, "h5_sweep_basic.h5");
    write_basic(path, 20, 4, 0);
    damage_sweep(path, 53 / k + 1, 0);

    /* every reader: chunked gzip f64 embeddings, labels with class_names, vlen string ids,
     * pred_probs (latest file format: v2 object headers with checksums) */
    const size_t n = 40, d = 6;
    double x[40 * 6];
    int64_t y[40];
    float pp[40 * 2];
    const char *ids[40];
    char idbuf[40][8];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) x[i * d + j] = f64_value(i, j);
        y[i] = (int64_t)(i % 2);
        pp[2 * i] = 0.25f;
        pp[2 * i + 1] = 0.75f;
        snprintf(idbuf[i], sizeof idbuf[i], "r%zu", i);
        ids[i] = idbuf[i];
    }
    tu_path(path, sizeof path, "h5_sweep_full.h5");
    hid_t f = tw_create(path, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {16, 4}, dims[2] = {n, d}, pdims[2] = {n, 2};
    assert_true(H5Pset_chunk(dcpl, 2, chunk) >= 0);
    assert_true(H5Pset_deflate(dcpl, 1) >= 0);
    tw_write(f, "/embeddings", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, x, dcpl);
    H5Pclose(dcpl);
    tw_i64(f, "/labels", n, y);
    const char *names[2] = {"even", "odd"};
    tw_attr_strings(f, "/labels", "class_names", names, 2, 0);
    tw_vlen_strings(f, "/ids", ids, n);
    tw_write(f, "/pred_probs", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, pdims, pp, H5P_DEFAULT);
    H5Fclose(f);
    damage_sweep(path, 97 / k + 1, 0);
    damage_sweep(path, 307 / k + 1, 1);
}

static void test_h5_prints_nothing(void **state) {
    (void)state;
    char path[1024], err_path[1024];
    tu_path(path, sizeof path, "h5_quiet.h5");
    tu_path(err_path, sizeof err_path, "h5_quiet.stderr");
    write_basic(path, 30, 4, 0);
    assert_int_equal(truncate(path, 600), 0);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    assay_ctx *ctx = new_ctx(NULL);
    assay_dataset *ds;
    assay_status s1 = load_direct(ctx, path, NULL, &ds);
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    o.h5_embeddings = "/a/b/c";
    char good[1024];
    tu_path(good, sizeof good, "h5_quiet_good.h5");
    write_basic(good, 3, 2, 0);
    assay_status s2 = load_direct(ctx, good, &o, &ds);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_not_equal(s1, ASSAY_OK);
    assert_int_equal(s2, ASSAY_E_NOTFOUND);
    assert_int_equal(file_size(err_path), 0);
    assay_ctx_destroy(ctx);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--load-damaged") == 0) {
#ifdef HAVE_ASAN
        signal(SIGALRM, on_child_alarm);
        alarm(CHILD_SECONDS);
#endif
        /* _exit: see damaged_child */
        _exit(damaged_child(argv[2], strcmp(argv[3], "1") == 0));
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h5_contiguous_f32),
        cmocka_unit_test(test_h5_chunked_gzip_f64),
        cmocka_unit_test(test_h5_f16_embeddings),
        cmocka_unit_test(test_h5_chunk_layouts),
        cmocka_unit_test(test_h5_integer_embeddings),
        cmocka_unit_test(test_h5_integer_label_types),
        cmocka_unit_test(test_h5_labels_n_by_1),
        cmocka_unit_test(test_h5_vlen_string_labels),
        cmocka_unit_test(test_h5_fixed_string_labels),
        cmocka_unit_test(test_h5_float_labels),
        cmocka_unit_test(test_h5_class_names_attribute),
        cmocka_unit_test(test_h5_int_ids),
        cmocka_unit_test(test_h5_string_ids),
        cmocka_unit_test(test_h5_pred_probs),
        cmocka_unit_test(test_h5_custom_names),
        cmocka_unit_test(test_h5_optional_datasets),
        cmocka_unit_test(test_h5_missing_file),
        cmocka_unit_test(test_h5_not_hdf5),
        cmocka_unit_test(test_h5_missing_dataset_lists_contents),
        cmocka_unit_test(test_h5_missing_dataset_suggests),
        cmocka_unit_test(test_h5_embeddings_bad_shape),
        cmocka_unit_test(test_h5_labels_length_mismatch),
        cmocka_unit_test(test_h5_truncated_file),
        cmocka_unit_test(test_h5_corrupt_object_header),
        cmocka_unit_test(test_h5_corrupt_chunk),
        cmocka_unit_test(test_h5_damage_sweep),
        cmocka_unit_test(test_h5_prints_nothing),
    };
    return cmocka_run_group_tests_name("h5", tests, NULL, NULL);
}

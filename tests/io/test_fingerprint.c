/* SPDX-License-Identifier: Apache-2.0 */
/* Fingerprints: the documented row encoding hashed independently here must give the library's
 * row digests; the dataset digest is over the row digests; the same data gives the same digests
 * from HDF5, CSV and .npy; duplicates share the features digest; file hashes are of the bytes. */
#include <openssl/sha.h>

#include "test_util.h"

#include "datagen.h"
#include "io/dataset_internal.h"

static void hex(const unsigned char *d, char *out) {
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

/* Appends the little-endian bytes of v (n bytes). */
static size_t put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
    return (size_t)n;
}

static size_t put_f32(unsigned char *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return put_le(p, u, 4);
}

static void test_fingerprint_row_encoding_is_as_documented(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "fp_rows.csv");
    tu_write_text(path, "id,label,a,b\n7,cat,1.5,2\n8,dog,-0.25,1e3\n9,cat,1.5,2\n");
    assay_ctx *ctx = tu_ctx(0);
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_OK);
    const float feats[3][2] = {{1.5f, 2.0f}, {-0.25f, 1000.0f}, {1.5f, 2.0f}};
    const char *labels[3] = {"cat", "dog", "cat"};
    unsigned char digests[3][32];
    for (int r = 0; r < 3; r++) {
        unsigned char buf[64];
        size_t len = 0;
        len += put_f32(buf + len, feats[r][0]);
        len += put_f32(buf + len, feats[r][1]);
        buf[len++] = 0x02; /* string label */
        len += put_le(buf + len, strlen(labels[r]), 4);
        memcpy(buf + len, labels[r], strlen(labels[r]));
        len += strlen(labels[r]);
        buf[len++] = 0x01; /* integer id */
        len += put_le(buf + len, (uint64_t)(7 + r), 8);
        SHA256(buf, len, digests[r]);
        char want[65], got[65];
        hex(digests[r], want);
        assert_int_equal(assay_dataset_row_digest_hex(ds, (size_t)r, got, sizeof got), ASSAY_OK);
        assert_string_equal(want, got);
        /* the features-only digest */
        unsigned char fd[32];
        SHA256(buf, 8, fd);
        assert_memory_equal(fd, ds->content_digest[r], 32);
    }
    /* Rows 0 and 2 have the same features and label but different ids. */
    assert_memory_equal(ds->content_digest[0], ds->content_digest[2], 32);
    assert_memory_not_equal(ds->row_digest[0], ds->row_digest[2], 32);
    unsigned char all[32];
    SHA256((const unsigned char *)digests, sizeof digests, all);
    char want[65], got[65];
    hex(all, want);
    assert_int_equal(assay_dataset_digest_hex(ds, got, sizeof got), ASSAY_OK);
    assert_string_equal(want, got);
    assert_int_equal(assay_dataset_digest_hex(ds, got, 64), ASSAY_E_INVAL);
    /* The file itself is hashed too. */
    char *text = "id,label,a,b\n7,cat,1.5,2\n8,dog,-0.25,1e3\n9,cat,1.5,2\n";
    unsigned char fh[32];
    SHA256((const unsigned char *)text, strlen(text), fh);
    assert_int_equal(ds->n_files, 1);
    assert_memory_equal(fh, ds->files[0].sha256, 32);
    assert_int_equal(ds->files[0].bytes, strlen(text));
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

/* No ids: the id field is the single byte 0x00. */
static void test_fingerprint_without_ids(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "fp_noid.csv");
    tu_write_text(path, "label,x\n3,0.5\n4,0.5\n");
    assay_ctx *ctx = tu_ctx(0);
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_OK);
    unsigned char buf[32];
    size_t len = put_f32(buf, 0.5f);
    buf[len++] = 0x01;
    len += put_le(buf + len, 3, 8);
    buf[len++] = 0x00;
    unsigned char d[32];
    SHA256(buf, len, d);
    assert_memory_equal(d, ds->row_digest[0], 32);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

/* The encoding is of values, so one dataset written as HDF5, CSV and .npy has one digest. */
static void test_fingerprint_same_digest_from_every_format(void **state) {
    (void)state;
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = 300;
    o.d = 9;
    o.classes = 3;
    o.plant.duplicates = 0.02;
    datagen_data data;
    datagen_truth truth;
    datagen_error err;
    assert_int_equal(datagen_synth(&o, &data, &truth, NULL, &err), ASSAY_OK);
    char h5[1024], csv[1024], npy[1024], lab[1200], ids[1200];
    tu_path(h5, sizeof h5, "fp_same.h5");
    tu_path(csv, sizeof csv, "fp_same.csv");
    tu_path(npy, sizeof npy, "fp_same_npy/");
    assert_int_equal(datagen_write(DATAGEN_FORMAT_H5, h5, &data, 4, &err), ASSAY_OK);
    assert_int_equal(datagen_write(DATAGEN_FORMAT_CSV, csv, &data, 0, &err), ASSAY_OK);
    assert_int_equal(datagen_write(DATAGEN_FORMAT_NPY, npy, &data, 0, &err), ASSAY_OK);
    snprintf(lab, sizeof lab, "%slabels.npy", npy);
    snprintf(ids, sizeof ids, "%sids.npy", npy);
    char emb[1200];
    snprintf(emb, sizeof emb, "%semb.npy", npy);

    assay_ctx *ctx = tu_ctx(0);
    assay_dataset *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(assay_dataset_load(ctx, h5, NULL, &a), ASSAY_OK);
    assert_int_equal(assay_dataset_load(ctx, csv, NULL, &b), ASSAY_OK);
    assay_load_opts lo = ASSAY_LOAD_OPTS_INIT;
    lo.labels_file = lab;
    lo.ids_file = ids;
    assert_int_equal(assay_dataset_load(ctx, emb, &lo, &c), ASSAY_OK);
    char da[65], db[65], dc[65];
    assay_dataset_digest_hex(a, da, sizeof da);
    assay_dataset_digest_hex(b, db, sizeof db);
    assay_dataset_digest_hex(c, dc, sizeof dc);
    assert_string_equal(da, db);
    assert_string_equal(da, dc);
    /* ...while the file hashes differ, of course */
    assert_memory_not_equal(a->files[0].sha256, b->files[0].sha256, 32);
    /* planted duplicates share the features digest */
    for (size_t r = 0; r < truth.n; r++) {
        if (truth.source[r] < 0) continue;
        assert_memory_equal(a->content_digest[r], a->content_digest[truth.source[r]], 32);
        assert_memory_not_equal(a->row_digest[r], a->row_digest[truth.source[r]], 32);
    }
    assay_dataset_destroy(a);
    assay_dataset_destroy(b);
    assay_dataset_destroy(c);
    assay_ctx_destroy(ctx);
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint_row_encoding_is_as_documented),
        cmocka_unit_test(test_fingerprint_without_ids),
        cmocka_unit_test(test_fingerprint_same_digest_from_every_format),
    };
    return cmocka_run_group_tests_name("fingerprint", tests, NULL, NULL);
}

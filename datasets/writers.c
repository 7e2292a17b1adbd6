/* SPDX-License-Identifier: Apache-2.0 */
/* Writers for the generated datasets (HDF5 in assay's layout, NumPy .npy, CSV) and for the
 * ground truth. Each output appears under its final name only once it is complete. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <hdf5.h>

#include "datagen_internal.h"

/* ---- formats ---- */

assay_status datagen_format_parse(const char *name, datagen_format *out, datagen_error *err) {
    if (name != NULL && (strcmp(name, "h5") == 0 || strcmp(name, "hdf5") == 0))
        *out = DATAGEN_FORMAT_H5;
    else if (name != NULL && strcmp(name, "csv") == 0)
        *out = DATAGEN_FORMAT_CSV;
    else if (name != NULL && strcmp(name, "npy") == 0)
        *out = DATAGEN_FORMAT_NPY;
    else
        return datagen_fail(err, ASSAY_E_INVAL, "format '%s': expected h5, csv or npy",
                            name ? name : "");
    return ASSAY_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

datagen_format datagen_format_from_path(const char *path) {
    if (ends_with(path, ".csv")) return DATAGEN_FORMAT_CSV;
    if (ends_with(path, "/") || ends_with(path, ".npy")) return DATAGEN_FORMAT_NPY;
    return DATAGEN_FORMAT_H5;
}

const char *datagen_format_name(datagen_format f) {
    switch (f) {
    case DATAGEN_FORMAT_H5:
        return "h5";
    case DATAGEN_FORMAT_CSV:
        return "csv";
    case DATAGEN_FORMAT_NPY:
        return "npy";
    }
    return "unknown";
}

/* ---- HDF5 ---- */

typedef struct h5_ctx {
    const char *path; /* final name, for messages */
    datagen_error *err;
    char detail[200]; /* innermost HDF5 error description */
} h5_ctx;

static herr_t keep_innermost(unsigned n, const H5E_error2_t *e, void *user) {
    h5_ctx *h = user;
    if (n == 0 && e->desc != NULL) snprintf(h->detail, sizeof h->detail, "%s", e->desc);
    return 0;
}

/* Turns a failed HDF5 call into a message naming the step and HDF5's own reason. */
static assay_status h5_fail(h5_ctx *h, const char *step) {
    h->detail[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, h);
    H5Eclear2(H5E_DEFAULT);
    return datagen_fail(h->err, ASSAY_E_HDF5, "%s: HDF5 could not %s%s%s", h->path, step,
                        h->detail[0] ? ": " : "", h->detail);
}

/* Variable-length UTF-8 strings, the type h5py reads back as str. */
static hid_t utf8_string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* Creates and fills one dataset of `rank` (1 or 2) dims. Chunked+compressed when gzip_level > 0
 * (rows per chunk sized to about 1 MiB), contiguous otherwise. Returns the open dataset or < 0. */
static hid_t h5_dataset(h5_ctx *h, hid_t file, const char *name, hid_t file_type, hid_t mem_type,
                        int rank, const hsize_t *dims, size_t row_bytes, const void *buf,
                        int gzip_level) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dset = -1;
    char step[96];
    snprintf(step, sizeof step, "create %s", name);
    if (space < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) goto fail;
    if (gzip_level > 0 && dims[0] > 0) {
        hsize_t chunk[2] = {(hsize_t)((1u << 20) / (row_bytes ? row_bytes : 1)),
                            rank > 1 ? dims[1] : 1};
        if (chunk[0] < 1) chunk[0] = 1;
        if (chunk[0] > dims[0]) chunk[0] = dims[0];
        /* Shuffle groups the bytes of each value, which makes float data compress far better. */
        if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 ||
            H5Pset_deflate(dcpl, (unsigned)gzip_level) < 0)
            goto fail;
    }
    dset = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset < 0) goto fail;
    snprintf(step, sizeof step, "write %s", name);
    if (dims[0] > 0 && H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) goto fail;
    H5Pclose(dcpl);
    H5Sclose(space);
    return dset;
fail:
    h5_fail(h, step);
    if (dset >= 0) H5Dclose(dset);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return -1;
}

static assay_status h5_string_attr(h5_ctx *h, hid_t obj, const char *name,
                                   const char *const *values, size_t count, int scalar) {
    hsize_t dims[1] = {count};
    hid_t type = utf8_string_type();
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    hid_t attr = -1;
    assay_status s = ASSAY_OK;
    char step[96];
    snprintf(step, sizeof step, "write the string attribute %s", name);
    if (type < 0 || space < 0 ||
        (attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(attr, type, values) < 0)
        s = h5_fail(h, step);
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return s;
}

static assay_status h5_write_file(h5_ctx *h, const char *tmp, const datagen_data *data,
                                  int gzip_level) {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t file = -1, emb = -1, lab = -1, ids = -1;
    assay_status s = ASSAY_OK;
    /* Object modification times would make two runs with the same seed differ; the file
     * creation list also governs the root group. */
    if (fcpl < 0 || H5Pset_obj_track_times(fcpl, 0) < 0) s = h5_fail(h, "set up the file");
    if (s == ASSAY_OK && (file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT)) < 0)
        s = h5_fail(h, "create the file");
    hsize_t dims2[2] = {data->n, data->d}, dims1[1] = {data->n};
    if (s == ASSAY_OK &&
        (emb = h5_dataset(h, file, "/embeddings", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims2,
                          data->d * sizeof(float), data->x, gzip_level)) < 0)
        s = ASSAY_E_HDF5;
    if (s == ASSAY_OK && (lab = h5_dataset(h, file, "/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1,
                                           dims1, sizeof(int32_t), data->labels, gzip_level)) < 0)
        s = ASSAY_E_HDF5;
    if (s == ASSAY_OK && (ids = h5_dataset(h, file, "/ids", H5T_STD_I64LE, H5T_NATIVE_INT64, 1,
                                           dims1, sizeof(int64_t), data->ids, gzip_level)) < 0)
        s = ASSAY_E_HDF5;
    if (s == ASSAY_OK && data->class_names != NULL && data->n_classes > 0)
        s = h5_string_attr(h, lab, "class_names", data->class_names, data->n_classes, 0);
    if (s == ASSAY_OK && data->description != NULL)
        s = h5_string_attr(h, file, "description", &data->description, 1, 1);
    if (ids >= 0) H5Dclose(ids);
    if (lab >= 0) H5Dclose(lab);
    if (emb >= 0) H5Dclose(emb);
    if (file >= 0 && H5Fclose(file) < 0 && s == ASSAY_OK) s = h5_fail(h, "finish the file");
    if (fcpl >= 0) H5Pclose(fcpl);
    return s;
}

assay_status datagen_write_h5(const char *path, const datagen_data *data, int gzip_level,
                              datagen_error *err) {
    if (gzip_level < 0 || gzip_level > 9)
        return datagen_fail(err, ASSAY_E_INVAL, "gzip level %d: expected 0 (none) to 9",
                            gzip_level);
    if (gzip_level > 0 && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
        return datagen_fail(err, ASSAY_E_UNSUPPORTED,
                            "%s: this HDF5 library has no gzip filter; use --gzip 0", path);
    datagen__outfile out;
    DATAGEN_TRY(datagen__out_begin(&out, path, 0, err));
    /* The library prints its error stack to stderr by default; we report through err instead. */
    H5E_auto2_t old_func = NULL;
    void *old_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h5_ctx h = {path, err, ""};
    assay_status s = h5_write_file(&h, out.tmp_path, data, gzip_level);
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    if (s != ASSAY_OK) {
        datagen__out_discard(&out);
        return s;
    }
    return datagen__out_commit(&out, err);
}

/* ---- NumPy .npy ---- */

static int host_is_little_endian(void) {
    const uint16_t probe = 1;
    unsigned char first;
    memcpy(&first, &probe, 1);
    return first == 1;
}

/* Writes count items of itemsize bytes as little-endian. */
static int write_le(FILE *fp, const void *data, size_t itemsize, size_t count) {
    if (host_is_little_endian()) return fwrite(data, itemsize, count, fp) == count ? 0 : -1;
    unsigned char buf[1 << 14];
    const unsigned char *src = data;
    size_t per = sizeof buf / itemsize;
    for (size_t i = 0; i < count; i += per) {
        size_t m = count - i < per ? count - i : per;
        for (size_t k = 0; k < m; k++)
            for (size_t b = 0; b < itemsize; b++)
                buf[k * itemsize + b] = src[(i + k) * itemsize + itemsize - 1 - b];
        if (fwrite(buf, itemsize, m, fp) != m) return -1;
    }
    return 0;
}

static assay_status write_npy(const char *path, const char *descr, size_t n, size_t d, int rank,
                              const void *values, size_t itemsize, datagen_error *err) {
    size_t count = 0;
    if (datagen__mul_overflows(n, rank == 2 ? d : 1, &count))
        return datagen_fail(err, ASSAY_E_INVAL, "%s: %zu x %zu values are too many", path, n, d);
    char dict[160];
    int len = rank == 2 ? snprintf(dict, sizeof dict,
                                   "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                                   descr, n, d)
                        : snprintf(dict, sizeof dict,
                                   "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
                                   descr, n);
    /* v1.0 preamble: magic (6), version (2), header length (2, little-endian); the dict is padded
     * with spaces and ends in '\n' so the data starts on a 64-byte boundary, as NumPy does. */
    size_t preamble = 10, total = preamble + (size_t)len + 1;
    total = (total + 63) / 64 * 64;
    size_t header_len = total - preamble;
    unsigned char head[256];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(header_len & 0xff);
    head[9] = (unsigned char)(header_len >> 8);
    memcpy(head + preamble, dict, (size_t)len);
    memset(head + preamble + len, ' ', header_len - (size_t)len - 1);
    head[total - 1] = '\n';

    datagen__outfile out;
    DATAGEN_TRY(datagen__out_begin(&out, path, 1, err));
    if (fwrite(head, 1, total, out.fp) != total || write_le(out.fp, values, itemsize, count) != 0) {
        int e = errno;
        datagen__out_discard(&out);
        return datagen_fail(err, ASSAY_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    return datagen__out_commit(&out, err);
}

assay_status datagen_write_npy_f32(const char *path, const float *x, size_t n, size_t d,
                                   datagen_error *err) {
    return write_npy(path, "<f4", n, d, 2, x, sizeof *x, err);
}

assay_status datagen_write_npy_i32(const char *path, const int32_t *v, size_t n,
                                   datagen_error *err) {
    return write_npy(path, "<i4", n, 1, 1, v, sizeof *v, err);
}

assay_status datagen_write_npy_i64(const char *path, const int64_t *v, size_t n,
                                   datagen_error *err) {
    return write_npy(path, "<i8", n, 1, 1, v, sizeof *v, err);
}

/* ---- CSV ---- */

/* Appends one value's text to buf and returns its length. %.9g is the shortest fixed precision
 * that reads back to the same float32 for every value. */
static size_t format_float(char *buf, size_t cap, float v) {
    if (isnan(v)) return (size_t)snprintf(buf, cap, "nan");
    if (isinf(v)) return (size_t)snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    return (size_t)snprintf(buf, cap, "%.9g", (double)v);
}

/* printf's float conversion dominates writing a large CSV, and real features often repeat few
 * values (pixels/255 take 256), so formatted text is remembered per bit pattern in a small
 * direct-mapped cache. */
#define TEXT_CACHE_SLOTS 4096
typedef struct text_cache_slot {
    uint32_t bits;
    uint8_t len; /* 0 = empty */
    char text[23];
} text_cache_slot;

static size_t format_float_cached(text_cache_slot *cache, char *buf, size_t cap, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    text_cache_slot *e = &cache[(bits * 2654435761u) >> 20]; /* top 12 bits: 4096 slots */
    if (e->len == 0 || e->bits != bits) {
        size_t len = format_float(e->text, sizeof e->text, v);
        if (len >= sizeof e->text) return format_float(buf, cap, v); /* cannot happen for %.9g */
        e->bits = bits;
        e->len = (uint8_t)len;
    }
    memcpy(buf, e->text, e->len);
    return e->len;
}

assay_status datagen_write_csv(const char *path, const datagen_data *data, datagen_error *err) {
    /* One line is built in memory and written at once: per-value stdio calls each take the
     * stream lock. 24 bytes hold any "%.9g" float plus the comma. */
    size_t line_cap = 0;
    if (datagen__mul_overflows(data->d, 24, &line_cap) || line_cap > SIZE_MAX - 64)
        return datagen_fail(err, ASSAY_E_INVAL, "%s: %zu columns are too many", path, data->d);
    line_cap += 64;
    char *line = malloc(line_cap);
    text_cache_slot *cache = calloc(TEXT_CACHE_SLOTS, sizeof *cache);
    if (line == NULL || cache == NULL) {
        free(line);
        free(cache);
        return datagen_fail(err, ASSAY_E_NOMEM, "%s: out of memory for a CSV line", path);
    }
    datagen__outfile out;
    assay_status s = datagen__out_begin(&out, path, 1, err);
    if (s != ASSAY_OK) {
        free(line);
        free(cache);
        return s;
    }
    FILE *fp = out.fp;
    setvbuf(fp, NULL, _IOFBF, 1u << 20);
    fputs("id,label", fp);
    for (size_t c = 0; c < data->d; c++) fprintf(fp, ",f%zu", c);
    fputc('\n', fp);
    for (size_t i = 0; i < data->n && !ferror(fp); i++) {
        size_t len = (size_t)snprintf(line, line_cap, "%lld,%d", (long long)data->ids[i],
                                      (int)data->labels[i]);
        const float *row = data->x + i * data->d;
        for (size_t c = 0; c < data->d; c++) {
            line[len++] = ',';
            len += format_float_cached(cache, line + len, line_cap - len, row[c]);
        }
        line[len++] = '\n';
        fwrite(line, 1, len, fp);
    }
    free(line);
    free(cache);
    return datagen__out_commit(&out, err);
}

/* ---- ground truth ---- */

assay_status datagen_write_truth(const char *path, const datagen_truth *truth, datagen_error *err) {
    datagen__outfile out;
    DATAGEN_TRY(datagen__out_begin(&out, path, 1, err));
    FILE *fp = out.fp;
    fputs("index,is_poison,attack,source\n", fp);
    for (size_t i = 0; i < truth->n && !ferror(fp); i++) {
        datagen_attack a = (datagen_attack)truth->attack[i];
        fprintf(fp, "%zu,%d,%s,", i, a != DATAGEN_ATTACK_NONE, datagen_attack_name(a));
        if (truth->source[i] >= 0) fprintf(fp, "%lld", (long long)truth->source[i]);
        fputc('\n', fp);
    }
    return datagen__out_commit(&out, err);
}

/* ---- one call for the tools ---- */

static assay_status make_folder(const char *dir, datagen_error *err) {
    if (mkdir(dir, 0777) == 0) return ASSAY_OK;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return ASSAY_OK;
    return datagen_fail(err, ASSAY_E_IO, "%s: cannot create the output folder: %s", dir,
                        e == EEXIST ? "a file of that name exists" : strerror(e));
}

static assay_status join_path(const char *dir, const char *name, char *buf, size_t len,
                              datagen_error *err) {
    int n = snprintf(buf, len, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", name);
    if (n < 0 || (size_t)n >= len)
        return datagen_fail(err, ASSAY_E_INVAL, "%s: output path too long", dir);
    return ASSAY_OK;
}

assay_status datagen_write(datagen_format fmt, const char *out, const datagen_data *data,
                           int gzip_level, datagen_error *err) {
    switch (fmt) {
    case DATAGEN_FORMAT_H5:
        return datagen_write_h5(out, data, gzip_level, err);
    case DATAGEN_FORMAT_CSV:
        return datagen_write_csv(out, data, err);
    case DATAGEN_FORMAT_NPY:
        break;
    }
    if (ends_with(out, ".npy"))
        return datagen_fail(err, ASSAY_E_INVAL,
                            "%s: with the npy format the output is a folder (it receives "
                            "emb.npy, labels.npy and ids.npy); drop the .npy extension",
                            out);
    DATAGEN_TRY(make_folder(out, err));
    char emb[4096], labels[4096], ids[4096];
    DATAGEN_TRY(join_path(out, "emb.npy", emb, sizeof emb, err));
    DATAGEN_TRY(join_path(out, "labels.npy", labels, sizeof labels, err));
    DATAGEN_TRY(join_path(out, "ids.npy", ids, sizeof ids, err));
    DATAGEN_TRY(datagen_write_npy_f32(emb, data->x, data->n, data->d, err));
    DATAGEN_TRY(datagen_write_npy_i32(labels, data->labels, data->n, err));
    return datagen_write_npy_i64(ids, data->ids, data->n, err);
}

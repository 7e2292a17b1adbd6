/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour-graph files: writer and a defensive reader of the ann-benchmarks HDF5 layout with
 * assay's attributes. Everything read from the file is checked before it is used. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "io/graph_h5.h"
#include "io/h5_check.h"
#include "io/h5_lock.h"

/* Longest string attribute accepted (distance_definition is the longest we write). */
#define MAX_STR_ATTR 4096

static const char *const k_definition[2] = {
    /* ASSAY_METRIC_COSINE */
    "1 - cos(a, b) = 1 - a.b / sqrt(|a|^2 |b|^2), computed in double precision and stored as "
    "float32; in [0, 2]. ann-benchmarks calls this metric 'angular'.",
    /* ASSAY_METRIC_L2 */
    "squared Euclidean distance sum_j (a_j - b_j)^2, computed in double precision and stored as "
    "float32 (not its square root, which ann-benchmarks' 'euclidean' uses)."};

/* ann-benchmarks' name of each metric (its `distance` attribute). */
static const char *const k_ann_name[2] = {"angular", "euclidean"};

struct assay__graph_h5 {
    assay_ctx *ctx;
    const char *path;
    hid_t file;
    hid_t nbr, dst;    /* /neighbors, /distances */
    const void *image; /* the file's bytes when reading from memory (fuzzing), else NULL */
    size_t image_len;
    assay__graph_meta meta;
};

static void close_id(hid_t *id, herr_t (*close_fn)(hid_t)) {
    if (*id >= 0) close_fn(*id);
    *id = H5I_INVALID_HID;
}

/* ---- errors ---- */

static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data) {
    /* Entry 0 (walking upward) is where the error was detected: the specific message. */
    if (n == 0 && e != NULL && e->desc != NULL) snprintf(data, 256, "%s", e->desc);
    return 0;
}

/* "path: what: <innermost HDF5 message>". Call right after the failing HDF5 call. */
static assay_status h5_fail(assay_ctx *ctx, const char *path, assay_status s, const char *what) {
    char why[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, why);
    return assay__fail(ctx, s, "%s: %s: %s", path, what, why[0] ? why : "unknown HDF5 error");
}

/* ---- writer ---- */

static herr_t write_str_attr(hid_t loc, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR), attr = H5I_INVALID_HID;
    herr_t r = -1;
    /* Variable-length UTF-8, as h5py writes a Python str: h5py reads it back as str. */
    if (type >= 0 && space >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(type, H5T_CSET_UTF8) >= 0 &&
        (attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        r = H5Awrite(attr, type, &value);
    close_id(&attr, H5Aclose);
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    return r;
}

static herr_t write_int_attr(hid_t loc, const char *name, int64_t value) {
    hid_t space = H5Screate(H5S_SCALAR), attr = H5I_INVALID_HID;
    herr_t r = -1;
    if (space >= 0 &&
        (attr = H5Acreate2(loc, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        r = H5Awrite(attr, H5T_NATIVE_INT64, &value);
    close_id(&attr, H5Aclose);
    close_id(&space, H5Sclose);
    return r;
}

static herr_t write_matrix(hid_t file, const char *name, hid_t ftype, hid_t mtype, size_t n,
                           size_t k, const void *data) {
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)k};
    hid_t space = H5Screate_simple(2, dims, NULL), dset = H5I_INVALID_HID;
    herr_t r = -1;
    if (space >= 0 &&
        (dset = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        r = H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    close_id(&dset, H5Dclose);
    close_id(&space, H5Sclose);
    return r;
}

/* A shard's own attributes, and the counts of how its lists were ranked. */
static herr_t write_shard_attrs(hid_t root, const assay__graph *g, size_t index, size_t count,
                                size_t b, size_t e) {
    if (count > 0 && (write_int_attr(root, "shard_index", (int64_t)index) < 0 ||
                      write_int_attr(root, "shard_count", (int64_t)count) < 0 ||
                      write_int_attr(root, "row_begin", (int64_t)b) < 0 ||
                      write_int_attr(root, "row_end", (int64_t)e) < 0))
        return -1;
    if (write_int_attr(root, "certified_rows", (int64_t)g->n_certified) < 0 ||
        write_int_attr(root, "radius_rows", (int64_t)g->n_radius) < 0 ||
        write_int_attr(root, "exhaustive_rows", (int64_t)g->n_exhaustive) < 0)
        return -1;
    return 0;
}

static assay_status write_all(assay_ctx *ctx, const char *path, const char *display,
                              const assay__graph *g, const unsigned char digest[32], size_t index,
                              size_t count) {
    char hex[65], tool[64], recall[32];
    snprintf(recall, sizeof recall, "%.4f", g->approx.recall);
    assay__hex32(digest, hex);
    snprintf(tool, sizeof tool, "assay %s", assay_version());
    const int m = g->metric == ASSAY_METRIC_L2 ? 1 : 0;
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return h5_fail(ctx, display, ASSAY_E_IO, "cannot create the graph file");
    hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    size_t b = 0, e = g->n, in_graph = 0;
    if (count > 0) assay__shard_rows(index, count, g->n, &b, &e);
    for (size_t r = b; r < e; r++) in_graph += g->k > 0 && g->ids[r * g->k] >= 0;
    const char *failed = NULL;
    if (root < 0)
        failed = "cannot open the root group";
    else if (write_matrix(file, "neighbors", H5T_STD_I64LE, H5T_NATIVE_INT64, e - b, g->k,
                          g->ids + b * g->k) < 0)
        failed = "cannot write /neighbors";
    else if (write_matrix(file, "distances", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, e - b, g->k,
                          g->dist + b * g->k) < 0)
        failed = "cannot write /distances";
    else if (write_str_attr(root, "assay_format", ASSAY__GRAPH_FORMAT) < 0 ||
             write_str_attr(root, "tool", tool) < 0 ||
             write_str_attr(root, "metric", assay_metric_name(g->metric)) < 0 ||
             write_str_attr(root, "distance", k_ann_name[m]) < 0 ||
             write_str_attr(root, "distance_definition", k_definition[m]) < 0 ||
             write_int_attr(root, "k", (int64_t)g->k) < 0 ||
             write_int_attr(root, "n_rows", (int64_t)g->n) < 0 ||
             write_int_attr(root, "rows_in_graph", (int64_t)in_graph) < 0 ||
             write_str_attr(root, "dataset_sha256", hex) < 0 ||
             write_str_attr(root, "graph_method", g->approx.used ? "approx" : "exact") < 0 ||
             (g->approx.used && write_str_attr(root, "approx_recall", recall) < 0) ||
             write_shard_attrs(root, g, index, count, b, e) < 0)
        failed = "cannot write the attributes";
    assay_status s = failed ? h5_fail(ctx, display, ASSAY_E_IO, failed) : ASSAY_OK;
    close_id(&root, H5Gclose);
    if (H5Fclose(file) < 0 && s == ASSAY_OK)
        s = h5_fail(ctx, display, ASSAY_E_IO, "cannot finish the graph file");
    return s;
}

assay_status assay__graph_h5_write(assay_ctx *ctx, const char *path, const char *display,
                                   const assay__graph *g, const unsigned char digest[32],
                                   size_t shard_index, size_t shard_count) {
    if (path == NULL || g == NULL || digest == NULL || g->ids == NULL || g->dist == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__graph_h5_write: NULL argument");
    if (shard_count > 0 && (shard_index >= shard_count || shard_count > g->n))
        return assay__fail(ctx, ASSAY_E_INVAL, "shard %zu of %zu over %zu rows", shard_index,
                           shard_count, g->n);
    assay_status s;
    /* The library must not print: HDF5's automatic error report is off, messages are read
     * back with H5Ewalk2. */
    assay__h5_lock();
    H5E_BEGIN_TRY {
        s = write_all(ctx, path, display ? display : path, g, digest, shard_index, shard_count);
    }
    H5E_END_TRY
    assay__h5_unlock();
    return s;
}

/* ---- reader: attributes ---- */

static assay_status missing_attr(const assay__graph_h5 *h, const char *name) {
    return assay__fail(h->ctx, ASSAY_E_FORMAT,
                       "%s: attribute '%s' is missing, so the graph cannot be checked against the "
                       "dataset (graph files from other tools, such as ann-benchmarks, lack "
                       "assay's attributes; build one with 'assay knn')",
                       h->path, name);
}

/* Opens root attribute `name`; *attr stays invalid when it does not exist. */
static assay_status open_attr(const assay__graph_h5 *h, const char *name, hid_t *attr) {
    *attr = H5I_INVALID_HID;
    htri_t e = H5Aexists_by_name(h->file, "/", name, H5P_DEFAULT);
    if (e < 0) return h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot list the attributes");
    if (e == 0) return ASSAY_OK;
    if ((*attr = H5Aopen_by_name(h->file, "/", name, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot open an attribute");
    return ASSAY_OK;
}

/* Checks that an attribute holds one value of class `cls`; returns its file type. */
static assay_status attr_type(const assay__graph_h5 *h, hid_t attr, const char *name,
                              H5T_class_t cls, const char *what, hid_t *type) {
    hid_t space = H5Aget_space(attr);
    *type = H5Aget_type(attr);
    if (space < 0 || *type < 0) {
        close_id(&space, H5Sclose);
        return h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot read an attribute's type");
    }
    hssize_t points = H5Sget_simple_extent_npoints(space);
    close_id(&space, H5Sclose);
    if (H5Tget_class(*type) != cls || points != 1)
        return assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: attribute '%s' must be one %s", h->path,
                           name, what);
    return ASSAY_OK;
}

/* Reads a string attribute (variable-length, as h5py writes str, or fixed-length) into buf.
 * *present = 0 when absent. */
static assay_status read_str_attr(const assay__graph_h5 *h, const char *name, char *buf, size_t len,
                                  int *present) {
    hid_t attr, type = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    char *tmp = NULL, *vlen = NULL;
    buf[0] = '\0';
    *present = 0;
    ASSAY_TRY(open_attr(h, name, &attr));
    if (attr < 0) return ASSAY_OK;
    *present = 1;
    assay_status s = attr_type(h, attr, name, H5T_STRING, "string", &type);
    if (s != ASSAY_OK) goto out;
    const char *text;
    if (H5Tis_variable_str(type) > 0) {
        if ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mtype, H5Tget_cset(type)) < 0 || H5Aread(attr, mtype, &vlen) < 0) {
            s = h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot read a string attribute");
            goto out;
        }
        text = vlen ? vlen : "";
    } else {
        size_t size = H5Tget_size(type);
        if (size == 0 || size > MAX_STR_ATTR) {
            s = assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: attribute '%s' is too long (%zu bytes)",
                            h->path, name, size);
            goto out;
        }
        if ((tmp = calloc(size + 1, 1)) == NULL) {
            s = assay__fail(h->ctx, ASSAY_E_NOMEM, "out of memory");
            goto out;
        }
        if (H5Aread(attr, type, tmp) < 0) {
            s = h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot read a string attribute");
            goto out;
        }
        if (H5Tget_strpad(type) == H5T_STR_SPACEPAD)
            for (size_t e = strlen(tmp); e > 0 && tmp[e - 1] == ' '; e--) tmp[e - 1] = '\0';
        text = tmp;
    }
    if (strlen(text) >= len)
        s = assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: attribute '%s' is too long (%zu bytes)",
                        h->path, name, strlen(text));
    else
        memcpy(buf, text, strlen(text) + 1);
out:
    if (vlen != NULL) {
        hid_t space = H5Screate(H5S_SCALAR);
        if (space >= 0) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &vlen);
        close_id(&space, H5Sclose);
    }
    free(tmp);
    close_id(&mtype, H5Tclose);
    close_id(&type, H5Tclose);
    close_id(&attr, H5Aclose);
    return s;
}

static assay_status read_required_str(const assay__graph_h5 *h, const char *name, char *buf,
                                      size_t len) {
    int present;
    ASSAY_TRY(read_str_attr(h, name, buf, len, &present));
    return present ? ASSAY_OK : missing_attr(h, name);
}

/* Reads an integer attribute that must lie in [lo, hi]: a required one when present is NULL,
 * else an optional one (*present says whether it exists; *out is untouched when not). */
static assay_status read_int_attr(const assay__graph_h5 *h, const char *name, int64_t lo,
                                  int64_t hi, size_t *out, int *present) {
    hid_t attr, type = H5I_INVALID_HID;
    ASSAY_TRY(open_attr(h, name, &attr));
    if (present != NULL) *present = attr >= 0;
    if (attr < 0) return present != NULL ? ASSAY_OK : missing_attr(h, name);
    int64_t v = 0;
    assay_status s = attr_type(h, attr, name, H5T_INTEGER, "integer", &type);
    /* HDF5 clips out-of-range values when converting, so the range check below still holds. */
    if (s == ASSAY_OK && H5Aread(attr, H5T_NATIVE_INT64, &v) < 0)
        s = h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot read an integer attribute");
    if (s == ASSAY_OK && (v < lo || v > hi))
        s = assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: attribute '%s' = %lld is out of range",
                        h->path, name, (long long)v);
    close_id(&type, H5Tclose);
    close_id(&attr, H5Aclose);
    if (s == ASSAY_OK) *out = (size_t)v;
    return s;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A shard's rows (written since issue 17 part 4; absent: the whole graph) and the ranking
 * counts (absent in older files: -1). */
static assay_status read_shard_meta(assay__graph_h5 *h) {
    assay__graph_meta *m = &h->meta;
    int present;
    m->shard_index = m->shard_count = 0;
    m->row_begin = 0;
    m->row_end = m->n_rows;
    ASSAY_TRY(read_int_attr(h, "shard_count", 1, (int64_t)m->n_rows, &m->shard_count, &present));
    if (present) {
        size_t b, e;
        ASSAY_TRY(
            read_int_attr(h, "shard_index", 0, (int64_t)m->shard_count - 1, &m->shard_index, NULL));
        ASSAY_TRY(read_int_attr(h, "row_begin", 0, (int64_t)m->n_rows, &m->row_begin, NULL));
        ASSAY_TRY(read_int_attr(h, "row_end", 0, (int64_t)m->n_rows, &m->row_end, NULL));
        assay__shard_rows(m->shard_index, m->shard_count, m->n_rows, &b, &e);
        if (m->row_begin != b || m->row_end != e)
            return assay__fail(h->ctx, ASSAY_E_FORMAT,
                               "%s: shard %zu of %zu holds rows [%zu, %zu) of %zu, not [%zu, %zu) "
                               "as its attributes 'row_begin' and 'row_end' say",
                               h->path, m->shard_index, m->shard_count, b, e, m->n_rows,
                               m->row_begin, m->row_end);
    }
    static const char *const names[3] = {"certified_rows", "radius_rows", "exhaustive_rows"};
    int64_t *counts[3] = {&m->certified_rows, &m->radius_rows, &m->exhaustive_rows};
    for (int i = 0; i < 3; i++) {
        size_t v = 0;
        ASSAY_TRY(
            read_int_attr(h, names[i], 0, (int64_t)(m->row_end - m->row_begin), &v, &present));
        *counts[i] = present ? (int64_t)v : -1;
    }
    return ASSAY_OK;
}

static assay_status read_meta(assay__graph_h5 *h) {
    assay__graph_meta *m = &h->meta;
    char buf[MAX_STR_ATTR + 1];
    int present;
    /* assay_format first: it tells a foreign file from a damaged one. */
    ASSAY_TRY(read_str_attr(h, "assay_format", buf, sizeof buf, &present));
    if (!present)
        return assay__fail(h->ctx, ASSAY_E_FORMAT,
                           "%s: not an assay graph file: attribute 'assay_format' is missing "
                           "(graph files from other tools, such as ann-benchmarks, lack the "
                           "dataset digest and cannot be checked against the data; build one "
                           "with 'assay knn')",
                           h->path);
    if (strcmp(buf, ASSAY__GRAPH_FORMAT) != 0)
        return assay__fail(h->ctx, ASSAY_E_UNSUPPORTED,
                           "%s: graph format '%.64s' is not supported (assay %s reads %s)", h->path,
                           buf, assay_version(), ASSAY__GRAPH_FORMAT);
    ASSAY_TRY(read_int_attr(h, "n_rows", 2, INT64_MAX, &m->n_rows, NULL));
    if ((uint64_t)m->n_rows > assay__limits(h->ctx)->max_rows)
        return assay__fail(h->ctx, ASSAY_E_LIMIT,
                           "%s: attribute 'n_rows' = %zu exceeds the limit of %llu rows "
                           "(--max-rows)",
                           h->path, m->n_rows, (unsigned long long)assay__limits(h->ctx)->max_rows);
    ASSAY_TRY(read_int_attr(h, "k", 1, INT64_MAX, &m->k, NULL));
    if (m->k >= m->n_rows)
        return assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: k = %zu needs more than %zu rows", h->path,
                           m->k, m->n_rows);
    ASSAY_TRY(read_required_str(h, "metric", buf, sizeof buf));
    if (assay_metric_parse(buf, &m->metric) != ASSAY_OK)
        return assay__fail(h->ctx, ASSAY_E_FORMAT,
                           "%s: attribute 'metric' = '%.64s'; expected cosine or l2", h->path, buf);
    ASSAY_TRY(read_str_attr(h, "distance", buf, sizeof buf, &present));
    const char *ann = k_ann_name[m->metric == ASSAY_METRIC_L2 ? 1 : 0];
    if (present && strcmp(buf, ann) != 0)
        return assay__fail(h->ctx, ASSAY_E_FORMAT,
                           "%s: attribute 'distance' = '%.64s' contradicts metric %s (expected "
                           "'%s')",
                           h->path, buf, assay_metric_name(m->metric), ann);
    ASSAY_TRY(read_required_str(h, "dataset_sha256", buf, sizeof buf));
    int ok = strlen(buf) == 64;
    for (size_t i = 0; ok && i < 32; i++) {
        int hi = hex_value(buf[2 * i]), lo = hex_value(buf[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        m->dataset_digest[i] = (unsigned char)(ok ? hi * 16 + lo : 0);
    }
    if (!ok)
        return assay__fail(h->ctx, ASSAY_E_FORMAT,
                           "%s: attribute 'dataset_sha256' is not 64 hexadecimal digits", h->path);
    ASSAY_TRY(read_str_attr(h, "tool", m->tool, sizeof m->tool, &present));
    /* Written since issue 17; absent means exact. */
    ASSAY_TRY(read_str_attr(h, "graph_method", buf, sizeof buf, &present));
    assay_graph_method gm = ASSAY_GRAPH_EXACT;
    if (present && assay_graph_method_parse(buf, &gm) != ASSAY_OK)
        return assay__fail(h->ctx, ASSAY_E_FORMAT,
                           "%s: attribute 'graph_method' = '%.64s'; expected exact or approx",
                           h->path, buf);
    m->approx = gm == ASSAY_GRAPH_APPROX;
    m->approx_recall = NAN;
    ASSAY_TRY(read_str_attr(h, "approx_recall", buf, sizeof buf, &present));
    if (present) {
        char *end = NULL;
        double r = strtod(buf, &end);
        if (end == buf || *end != '\0' || !(r >= 0.0 && r <= 1.0))
            return assay__fail(h->ctx, ASSAY_E_FORMAT,
                               "%s: attribute 'approx_recall' = '%.64s'; expected a number in "
                               "[0, 1]",
                               h->path, buf);
        m->approx_recall = r;
    }
    return read_shard_meta(h);
}

/* ---- reader: datasets ---- */

/* Opens /name and checks its shape [row_end - row_begin, k] and type class. */
static assay_status open_matrix(assay__graph_h5 *h, const char *name, H5T_class_t cls,
                                const char *what, hid_t *dset) {
    htri_t e = H5Lexists(h->file, name, H5P_DEFAULT);
    if (e < 0) return h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot list the datasets");
    if (e == 0)
        return assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: dataset '/%s' is missing", h->path, name);
    if ((*dset = H5Dopen2(h->file, name, H5P_DEFAULT)) < 0)
        return h5_fail(h->ctx, h->path, ASSAY_E_FORMAT, "cannot open a dataset");
    hid_t space = H5Dget_space(*dset), type = H5Dget_type(*dset), dcpl = H5I_INVALID_HID;
    assay_status s = ASSAY_OK;
    hsize_t dims[H5S_MAX_RANK] = {0};
    size_t rows = h->meta.row_end - h->meta.row_begin;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (type < 0 || rank < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        s = h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot read a dataset's shape");
    } else if (H5Tget_class(type) != cls) {
        s = assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: dataset '/%s' must hold %s", h->path, name,
                        what);
    } else if (rank != 2 || dims[0] != (hsize_t)rows || dims[1] != (hsize_t)h->meta.k) {
        s = assay__fail(h->ctx, ASSAY_E_FORMAT,
                        "%s: dataset '/%s' must have shape [%zu, %zu] (%s, k), found rank %d "
                        "[%llu, %llu]",
                        h->path, name, rows, h->meta.k,
                        h->meta.shard_count ? "the shard's rows" : "n_rows", rank,
                        (unsigned long long)dims[0], (unsigned long long)(rank > 1 ? dims[1] : 0));
    } else if ((dcpl = H5Dget_create_plist(*dset)) < 0) {
        s = h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot read a dataset's layout");
    } else {
        /* Checked before anything is allocated: a damaged shape, or a tiny file declaring a huge
         * one, fails as a format error rather than as a huge allocation. */
        size_t cells;
        if (assay__mul_overflows(rows, h->meta.k, &cells))
            s = assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: dataset '/%s' is too large", h->path,
                            name);
        else
            s = assay__h5_check_storage(h->ctx, h->path, h->file, *dset, name, cells,
                                        H5Tget_size(type));
    }
    close_id(&dcpl, H5Pclose);
    close_id(&type, H5Tclose);
    close_id(&space, H5Sclose);
    return s;
}

static assay_status open_image(assay__graph_h5 *h) {
    /* The core driver reads a file image in memory (fuzzing: no temporary files). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 65536, 0) < 0 ||
        H5Pset_file_image(fapl, (void *)h->image, h->image_len) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        return h5_fail(h->ctx, h->path, ASSAY_E_HDF5, "cannot set up the file image");
    }
    h->file = H5Fopen(h->path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (h->file < 0) return h5_fail(h->ctx, h->path, ASSAY_E_FORMAT, "cannot open the HDF5 file");
    return ASSAY_OK;
}

static assay_status open_file(assay__graph_h5 *h) {
    if (h->image != NULL) {
        ASSAY_TRY(open_image(h));
        ASSAY_TRY(read_meta(h));
        ASSAY_TRY(open_matrix(h, "neighbors", H5T_INTEGER, "integers", &h->nbr));
        return open_matrix(h, "distances", H5T_FLOAT, "floating-point numbers", &h->dst);
    }
    FILE *fp = fopen(h->path, "rb");
    if (fp == NULL) {
        int e = errno;
        return assay__fail(h->ctx, e == ENOENT ? ASSAY_E_NOTFOUND : ASSAY_E_IO,
                           "%s: cannot open the graph file: %s", h->path, strerror(e));
    }
    fclose(fp);
    htri_t is = H5Fis_hdf5(h->path);
    if (is == 0)
        return assay__fail(h->ctx, ASSAY_E_FORMAT,
                           "%s: not an HDF5 file (or its signature is damaged)", h->path);
    if (is < 0) return h5_fail(h->ctx, h->path, ASSAY_E_FORMAT, "cannot check the HDF5 signature");
    if ((h->file = H5Fopen(h->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return h5_fail(h->ctx, h->path, ASSAY_E_FORMAT, "cannot open the HDF5 file");
    ASSAY_TRY(read_meta(h));
    ASSAY_TRY(open_matrix(h, "neighbors", H5T_INTEGER, "integers", &h->nbr));
    return open_matrix(h, "distances", H5T_FLOAT, "floating-point numbers", &h->dst);
}

void assay__graph_h5_close(assay__graph_h5 *h) {
    if (h == NULL) return;
    assay__h5_lock();
    H5E_BEGIN_TRY {
        close_id(&h->nbr, H5Dclose);
        close_id(&h->dst, H5Dclose);
        close_id(&h->file, H5Fclose);
    }
    H5E_END_TRY
    assay__h5_unlock();
    free(h);
}

assay_status assay__graph_h5_open_image(assay_ctx *ctx, const char *path, const void *image,
                                        size_t image_len, assay__graph_h5 **out,
                                        assay__graph_meta *meta) {
    if (out == NULL || path == NULL || meta == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__graph_h5_open: NULL argument");
    *out = NULL;
    assay__graph_h5 *h = calloc(1, sizeof *h);
    if (h == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    h->ctx = ctx;
    h->path = path;
    h->file = h->nbr = h->dst = H5I_INVALID_HID;
    h->image = image;
    h->image_len = image_len;
    assay_status s;
    assay__h5_lock();
    H5E_BEGIN_TRY {
        s = open_file(h);
    }
    H5E_END_TRY
    assay__h5_unlock();
    if (s != ASSAY_OK) {
        assay__graph_h5_close(h);
        return s;
    }
    *meta = h->meta;
    *out = h;
    return ASSAY_OK;
}

assay_status assay__graph_h5_open(assay_ctx *ctx, const char *path, assay__graph_h5 **out,
                                  assay__graph_meta *meta) {
    return assay__graph_h5_open_image(ctx, path, NULL, 0, out, meta);
}

/* ---- reader: neighbour lists ---- */

static assay_status bad_entry(assay_ctx *ctx, const char *path, size_t r, size_t c,
                              const char *what, long long id, double dist) {
    return assay__fail(ctx, ASSAY_E_FORMAT,
                       "%s: row %zu, column %zu (neighbour %lld, distance %g): %s", path, r, c, id,
                       dist, what);
}

/* The structure every graph has, whatever the data (see the header). */
assay_status assay__graph_h5_check_lists(assay_ctx *ctx, const char *path, const assay__graph *g,
                                         size_t row0, size_t n_rows) {
    const size_t n = g->n, k = g->k;
    if (row0 > n_rows || n > n_rows - row0)
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: rows [%zu, %zu) are not within %zu rows", path,
                           row0, row0 + n, n_rows);
    uint8_t *out = calloc(n ? n : 1, 1);                      /* 1: row out of the graph */
    size_t *seen = calloc(n_rows ? n_rows : 1, sizeof *seen); /* row + 1 of the last list */
    if (out == NULL || seen == NULL) {
        free(out);
        free(seen);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory checking the graph");
    }
    assay_status s = ASSAY_OK;
    /* Pass 1: ids in range, rows wholly in or wholly out of the graph. */
    for (size_t r = 0; r < n && s == ASSAY_OK; r++) {
        const int64_t *id = g->ids + r * k;
        const float *d = g->dist + r * k;
        size_t empty = 0;
        for (size_t c = 0; c < k && s == ASSAY_OK; c++) {
            if (id[c] < -1 || id[c] >= (int64_t)n_rows)
                s = bad_entry(ctx, path, row0 + r, c, "neighbour id out of range [-1, n_rows)",
                              (long long)id[c], d[c]);
            empty += id[c] == -1;
        }
        if (s != ASSAY_OK) break;
        if (empty == k) {
            out[r] = 1;
            for (size_t c = 0; c < k && s == ASSAY_OK; c++)
                if (!isnan(d[c]))
                    s = bad_entry(ctx, path, row0 + r, c,
                                  "a row out of the graph (ids -1) must have distances NaN", -1,
                                  d[c]);
        } else if (empty > 0) {
            for (size_t c = 0; c < k && s == ASSAY_OK; c++)
                if (id[c] == -1)
                    s = bad_entry(ctx, path, row0 + r, c,
                                  "a row lists either k neighbours or none (all -1), not some", -1,
                                  d[c]);
        }
    }
    /* Pass 2: the lists of rows in the graph. A shard can only tell its own rows out of the
     * graph; the merged graph is checked whole. */
    for (size_t r = 0; r < n && s == ASSAY_OK; r++) {
        if (out[r]) continue;
        const int64_t *id = g->ids + r * k;
        const float *d = g->dist + r * k;
        const size_t row = row0 + r;
        for (size_t c = 0; c < k && s == ASSAY_OK; c++) {
            size_t j = (size_t)id[c];
            if (j == row)
                s = bad_entry(ctx, path, row, c, "a row is never its own neighbour",
                              (long long)id[c], d[c]);
            else if (j >= row0 && j - row0 < n && out[j - row0])
                s = bad_entry(ctx, path, row, c, "the neighbour is a row out of the graph",
                              (long long)id[c], d[c]);
            else if (seen[j] == r + 1)
                s = bad_entry(ctx, path, row, c, "the neighbour is listed twice", (long long)id[c],
                              d[c]);
            else if (!isfinite(d[c]) || d[c] < 0.0f)
                s = bad_entry(ctx, path, row, c, "distances must be finite and >= 0",
                              (long long)id[c], d[c]);
            else if (c > 0 && d[c] < d[c - 1])
                s = bad_entry(ctx, path, row, c, "neighbours must be sorted nearest first",
                              (long long)id[c], d[c]);
            seen[j] = r + 1;
        }
    }
    free(out);
    free(seen);
    return s;
}

static assay_status read_lists(assay__graph_h5 *h, assay__graph *g) {
    size_t cells, rows = h->meta.row_end - h->meta.row_begin;
    if (assay__mul_overflows(rows, h->meta.k, &cells) || cells > SIZE_MAX / sizeof(int64_t))
        return assay__fail(h->ctx, ASSAY_E_FORMAT, "%s: %zu x %zu neighbours is too many", h->path,
                           rows, h->meta.k);
    g->ids = malloc(cells ? cells * sizeof *g->ids : 1);
    g->dist = malloc(cells ? cells * sizeof *g->dist : 1);
    if (g->ids == NULL || g->dist == NULL)
        return assay__fail(h->ctx, ASSAY_E_NOMEM, "%s: out of memory for %zu x %zu neighbours",
                           h->path, rows, h->meta.k);
    /* Integer ids are converted to int64 (values beyond it are clipped, then refused as out of
     * range); any float type to float32. */
    if (H5Dread(h->nbr, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, g->ids) < 0)
        return h5_fail(h->ctx, h->path, ASSAY_E_FORMAT, "cannot read /neighbors");
    if (H5Dread(h->dst, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, g->dist) < 0)
        return h5_fail(h->ctx, h->path, ASSAY_E_FORMAT, "cannot read /distances");
    g->n = rows;
    g->k = h->meta.k;
    g->metric = h->meta.metric;
    return assay__graph_h5_check_lists(h->ctx, h->path, g, h->meta.row_begin, h->meta.n_rows);
}

assay_status assay__graph_h5_read(assay__graph_h5 *h, assay__graph *g) {
    if (g == NULL) return ASSAY_E_INVAL;
    memset(g, 0, sizeof *g);
    if (h == NULL) return ASSAY_E_INVAL;
    assay_status s;
    assay__h5_lock();
    H5E_BEGIN_TRY {
        s = read_lists(h, g);
    }
    H5E_END_TRY
    assay__h5_unlock();
    if (s != ASSAY_OK) assay__graph_free(g);
    return s;
}

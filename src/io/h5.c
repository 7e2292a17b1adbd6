/* SPDX-License-Identifier: Apache-2.0 */
/* HDF5 loader: embeddings [N, d] read in row blocks straight into the padded float32 matrix,
 * labels and ids as typed columns, optional predicted probabilities and class_names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "io/dataset_internal.h"
#include "io/h5_check.h"
#include "io/h5_lock.h"
#include "io/h5_read.h"
#include "io/sandbox.h"

/* ---- tuning ---- */

/* Output bytes per H5Dread (rounded to whole rows of chunks when chunked). The block lands in
 * the final matrix, so its size costs no memory; it only sets how often progress is reported.
 * Measured on a page-cached 60000 x 784 f32 file: 0.11 s for blocks from 256 KB to the whole
 * matrix, so a few MB is chosen for frequent progress at no cost. */
#define BLOCK_BYTES ((size_t)4 << 20)
/* Largest chunk cache: one row of chunks when it fits under this, else none at all. Because
 * every H5Dread covers whole rows of chunks, each chunk is decompressed once either way; the
 * cache only guards against a read starting inside a chunk. With no cache, chunks bypass it
 * and are freed as soon as they are copied out, whereas a large partial cache would keep
 * megabyte-sized chunks churning through malloc (measured: [60000, 8] chunks of a 60000 x 784
 * matrix peaked at +67 MB with a 32 MB cache, +5 MB with none). */
#define CACHE_MAX_BYTES ((size_t)32 << 20)
/* Rows per H5Dread of a label or id column: bounds the vlen pointer array / fixed-string
 * buffer and the float-label scratch buffer. */
#define COLUMN_BLOCK_ROWS ((size_t)65536)
/* Dataset names listed in a "no dataset" message. */
#define MAX_LISTED 10
/* Links a "no dataset" message looks at for a "did you mean": bounded, so a hostile file with
 * millions of links cannot make a typo slow. */
#define MAX_VISITED 10000

/* One open input file and what every message starts with. */
typedef struct h5in {
    assay_ctx *ctx;
    const char *path;
    hid_t file;
    const void *image; /* the file's bytes when reading from memory (fuzzing), else NULL */
    size_t image_len;
    assay__sandbox *sb; /* in the sandbox's child: the matrix goes to shared memory */
} h5in;

static void close_id(hid_t *id, herr_t (*close_fn)(hid_t)) {
    if (*id >= 0) close_fn(*id);
    *id = H5I_INVALID_HID;
}

/* ---- errors ---- */

typedef struct innermost {
    int have;
    hid_t min_num;
    char desc[320];
} innermost;

static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data) {
    innermost *w = data;
    /* Walking upward, entry 0 is where the error was first detected: the most specific
     * message ("truncated file: eof = ...", "inflate() failed"); the outer entries only say
     * which API call failed. */
    if (n == 0 && e != NULL) {
        snprintf(w->desc, sizeof w->desc, "%s", e->desc ? e->desc : "");
        w->min_num = e->min_num;
        w->have = 1;
    }
    return 0;
}

/* Records "path: <what>: <innermost HDF5 message>" and returns `s`. Must be called right after
 * the failing HDF5 call: the next API call clears the error stack. */
static assay_status h5_fail(const h5in *f, assay_status s, const char *fmt, ...) ASSAY_PRINTF(3, 4);
static assay_status h5_fail(const h5in *f, assay_status s, const char *fmt, ...) {
    innermost w;
    memset(&w, 0, sizeof w);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, &w);
    /* The minor message is used only when there is no description: it is generic ("Unable to
     * initialize object" for a failed inflate) where the description is specific. */
    char why[sizeof w.desc];
    H5E_type_t et;
    if (w.have && w.desc[0] != '\0')
        snprintf(why, sizeof why, "%s", w.desc);
    else if (!w.have || H5Eget_msg(w.min_num, &et, why, sizeof why) <= 0)
        snprintf(why, sizeof why, "unknown HDF5 error");
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *hint = "";
    if (w.have && w.min_num == H5E_TRUNCATED)
        hint = "; the file is shorter than its header says (an incomplete copy or download?)";
    return assay__fail(f->ctx, s, "%s: %s: %s%s", f->path, what, why, hint);
}

static const char *type_class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER:
        return "integer";
    case H5T_FLOAT:
        return "float";
    case H5T_TIME:
        return "time";
    case H5T_STRING:
        return "string";
    case H5T_BITFIELD:
        return "bitfield";
    case H5T_OPAQUE:
        return "opaque";
    case H5T_COMPOUND:
        return "compound";
    case H5T_REFERENCE:
        return "reference";
    case H5T_ENUM:
        return "enum";
    case H5T_VLEN:
        return "variable-length sequence";
    case H5T_ARRAY:
        return "array";
    default:
        return "unknown";
    }
}

/* "[3, 4, 5]" for messages. */
static void shape_str(int rank, const hsize_t *dims, char *buf, size_t len) {
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)dims[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
}

/* ---- finding datasets ---- */

typedef struct listing {
    char buf[512];
    size_t count;
    int more;
    size_t visited;
    assay__suggest sg;   /* over the names without the leading '/' */
    char best[256];      /* sg.best's copy: the callback's names do not outlive it */
    char candidate[256]; /* the name being offered */
} listing;

static void listing_add(listing *l, const char *text) {
    size_t used = strlen(l->buf);
    if (used < sizeof l->buf)
        snprintf(l->buf + used, sizeof l->buf - used, "%s%s", l->count ? ", " : "", text);
}

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    listing *l = data;
    if (++l->visited > MAX_VISITED) {
        l->more = 1;
        return 1; /* stop: enough work for a message */
    }
    /* External links would open other files; dangling soft links simply fail to open. */
    if (info->type == H5L_TYPE_EXTERNAL) return 0;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) return 0;
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    if (t != H5I_DATASET) return 0;
    if (strlen(name) < sizeof l->candidate) {
        snprintf(l->candidate, sizeof l->candidate, "%s", name);
        assay__suggest_offer(&l->sg, l->candidate);
        if (l->sg.best == l->candidate) {
            memcpy(l->best, l->candidate, sizeof l->best);
            l->sg.best = l->best;
        }
    }
    if (l->count == MAX_LISTED) {
        l->more = 1;
        return 0; /* listed enough, but a later name may be the one meant */
    }
    char full[256];
    snprintf(full, sizeof full, "/%s", name);
    listing_add(l, full);
    l->count++;
    return 0;
}

/* Names the datasets in the file, walking groups, so a wrong name can be fixed at once. */
static assay_status not_found(const h5in *f, const char *name, const char *what) {
    listing l;
    memset(&l, 0, sizeof l);
    /* "embeddigns" and "/embeddigns" both mean the root's dataset */
    assay__suggest_init(&l.sg, name + (name[0] == '/'));
    if (H5Lvisit(f->file, H5_INDEX_NAME, H5_ITER_INC, list_cb, &l) < 0 && l.count == 0)
        return assay__fail(f->ctx, ASSAY_E_NOTFOUND,
                           "%s: %s '%s' (and its contents could not be listed)", f->path, what,
                           name);
    if (l.count == 0)
        return assay__fail(f->ctx, ASSAY_E_NOTFOUND, "%s: %s '%s' (the file has no datasets)",
                           f->path, what, name);
    if (l.sg.best != NULL)
        return assay__fail(f->ctx, ASSAY_E_NOTFOUND,
                           "%s: %s '%s'; did you mean '/%s'? (datasets in the file: %s%s)", f->path,
                           what, name, l.sg.best, l.buf, l.more ? ", ..." : "");
    return assay__fail(f->ctx, ASSAY_E_NOTFOUND, "%s: %s '%s' (datasets in the file: %s%s)",
                       f->path, what, name, l.buf, l.more ? ", ..." : "");
}

/* 1 if every component of `name` exists (intermediate ones as groups), 0 if not, -1 on an HDF5
 * error, -2 out of memory. Walks the components because H5Lexists fails, rather than returning
 * 0, when an intermediate group is missing. */
static int path_exists(hid_t file, const char *name) {
    size_t len = strlen(name);
    char *buf = malloc(len + 1);
    if (buf == NULL) return -2;
    memcpy(buf, name, len + 1);
    int result = 1;
    for (size_t i = 1; i <= len && result == 1; i++) {
        if (i < len && buf[i] != '/') continue;
        if (buf[i - 1] == '/') continue; /* leading or doubled slash */
        char saved = buf[i];
        buf[i] = '\0';
        /* the link, then what it points to (a soft link may dangle) */
        htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
        if (e <= 0 || (e = H5Oexists_by_name(file, buf, H5P_DEFAULT)) <= 0)
            result = e < 0 ? -1 : 0;
        else if (i < len) {
            hid_t o = H5Oopen(file, buf, H5P_DEFAULT);
            if (o < 0)
                result = -1;
            else {
                if (H5Iget_type(o) != H5I_GROUP) result = 0;
                H5Oclose(o);
            }
        }
        buf[i] = saved;
    }
    free(buf);
    return result;
}

/* Opens dataset `name` with access list `dapl`. *out stays negative when the dataset is absent
 * and !required (the caller then skips it); absent and required is ASSAY_E_NOTFOUND. */
static assay_status open_dataset(const h5in *f, const char *name, hid_t dapl, int required,
                                 hid_t *out) {
    *out = H5I_INVALID_HID;
    if (name[0] == '\0')
        return assay__fail(f->ctx, ASSAY_E_INVAL, "%s: empty dataset name", f->path);
    int e = path_exists(f->file, name);
    if (e == -2) return assay__fail(f->ctx, ASSAY_E_NOMEM, "out of memory");
    if (e < 0) return h5_fail(f, ASSAY_E_HDF5, "cannot look up '%s'", name);
    if (e == 0) return required ? not_found(f, name, "no dataset") : ASSAY_OK;
    hid_t o = H5Oopen(f->file, name, H5P_DEFAULT);
    if (o < 0) return h5_fail(f, ASSAY_E_HDF5, "cannot open '%s'", name);
    H5I_type_t t = H5Iget_type(o);
    H5Oclose(o);
    if (t != H5I_DATASET)
        return not_found(f, name,
                         t == H5I_GROUP ? "expected a dataset, found the group"
                                        : "expected a dataset, found the object");
    *out = H5Dopen2(f->file, name, dapl);
    if (*out < 0) return h5_fail(f, ASSAY_E_HDF5, "cannot open dataset '%s'", name);
    return ASSAY_OK;
}

/* Rank and extents of a dataset's dataspace; rank 0 for scalar and null dataspaces. */
static assay_status get_shape(const h5in *f, hid_t space, const char *name, int *rank,
                              hsize_t dims[H5S_MAX_RANK]) {
    int r = H5Sget_simple_extent_ndims(space);
    if (r < 0) return h5_fail(f, ASSAY_E_HDF5, "%s: cannot read the shape", name);
    if (r > 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        return h5_fail(f, ASSAY_E_HDF5, "%s: cannot read the shape", name);
    *rank = r;
    return ASSAY_OK;
}

/* hsize_t extents that do not fit in size_t cannot be allocated anyway. */
static int fits_size(hsize_t v) {
    return (hsize_t)(size_t)v == v;
}

/* ---- numeric matrices in row blocks ---- */

typedef struct read_plan {
    size_t block_rows;  /* rows per H5Dread: a multiple of the chunk rows when chunked */
    int chunked;        /* 1 when the dataset is chunked (the cache below applies) */
    size_t chunk_rows;  /* chunk extent along the rows (chunked only) */
    size_t cache_bytes; /* chunk cache: one row of chunks, or 0 when that is too large */
    size_t cache_slots; /* hash slots: a prime well above the chunks that fit */
} read_plan;

static size_t sat_mul(size_t a, size_t b) {
    size_t r;
    return assay__mul_overflows(a, b, &r) ? SIZE_MAX : r;
}

static size_t next_prime(size_t v) {
    for (;; v++) {
        int prime = v >= 2;
        for (size_t q = 2; prime && q <= v / q; q++) prime = v % q != 0;
        if (prime) return v;
    }
}

/* Block rows and chunk cache for reading a [rows, cols] dataset whose elements take
 * `file_elem` bytes in the file. Chunked: blocks are whole rows of chunks, so each H5Dread
 * touches every chunk it needs once and entirely; the cache holds one row of chunks so that a
 * chunk is not decompressed twice even if a read ever starts inside it. (Measured on h5py's
 * default [938, 25] gzip chunks of a 60000 x 784 f32 matrix: 1.5 s aligned or with this cache;
 * 2.4 s for unaligned 4 MB blocks with HDF5's default 1 MB cache; 14 s for 100-row blocks.) */
static void plan_read(size_t rows, size_t cols, size_t file_elem, int chunked, const hsize_t *chunk,
                      read_plan *p) {
    memset(p, 0, sizeof *p);
    size_t row_out = sat_mul(cols ? cols : 1, sizeof(float));
    size_t target = BLOCK_BYTES / row_out;
    if (target == 0) target = 1;
    p->block_rows = target;
    if (chunked) {
        size_t cr = chunk[0] > 0 && fits_size(chunk[0]) ? (size_t)chunk[0] : 1;
        size_t cc = chunk[1] > 0 && fits_size(chunk[1]) ? (size_t)chunk[1] : 1;
        size_t k = target / cr;
        p->block_rows = sat_mul(k ? k : 1, cr);
        p->chunked = 1;
        p->chunk_rows = cr;
        size_t per_row = cols / cc + (cols % cc != 0);
        size_t bytes = sat_mul(sat_mul(per_row, sat_mul(cr, cc)), file_elem);
        p->cache_bytes = bytes <= CACHE_MAX_BYTES ? bytes : 0;
        /* HDF5 advises a prime number of slots, 10-100 times the chunks held. */
        size_t slots = sat_mul(per_row, 20);
        if (slots < 521) slots = 521;
        if (slots > 1000003) slots = 1000003;
        p->cache_slots = next_prime(slots);
    }
    if (p->block_rows > rows) p->block_rows = rows ? rows : 1;
}

/* Opens a 2-D numeric dataset for block reading: finds the layout, plans the blocks and, when
 * chunked, reopens it with a chunk cache sized by the plan. */
static assay_status open_matrix(const h5in *f, const char *name, int required, hid_t *dset,
                                hid_t *space, size_t *rows, size_t *cols, read_plan *plan) {
    hid_t dcpl = H5I_INVALID_HID, type = H5I_INVALID_HID, dapl = H5I_INVALID_HID;
    assay_status s = open_dataset(f, name, H5P_DEFAULT, required, dset);
    if (s != ASSAY_OK || *dset < 0) return s;

    if ((type = H5Dget_type(*dset)) < 0) {
        s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot read the element type", name);
        goto out;
    }
    H5T_class_t cls = H5Tget_class(type);
    size_t elem = H5Tget_size(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        s = assay__fail(f->ctx, ASSAY_E_UNSUPPORTED,
                        "%s:%s: the elements are of type class %s; expected floating point (f2, "
                        "f4, f8) or integers",
                        f->path, name, type_class_name(cls));
        goto out;
    }
    if ((*space = H5Dget_space(*dset)) < 0) {
        s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot read the dataspace", name);
        goto out;
    }
    int rank = 0;
    hsize_t dims[H5S_MAX_RANK] = {0};
    if ((s = get_shape(f, *space, name, &rank, dims)) != ASSAY_OK) goto out;
    if (rank != 2) {
        char sh[128];
        shape_str(rank, dims, sh, sizeof sh);
        s = assay__fail(f->ctx, ASSAY_E_SHAPE,
                        "%s:%s: expected a 2-D array [rows, columns], found %d-D %s", f->path, name,
                        rank, sh);
        goto out;
    }
    if (!fits_size(dims[0]) || !fits_size(dims[1]) || dims[1] > SIZE_MAX / sizeof(float) - 16) {
        s = assay__fail(f->ctx, ASSAY_E_FORMAT, "%s:%s: shape [%llu, %llu] is too large", f->path,
                        name, (unsigned long long)dims[0], (unsigned long long)dims[1]);
        goto out;
    }
    const assay_limits *lim = assay__limits(f->ctx);
    if (dims[0] > lim->max_rows || dims[1] > lim->max_dims) {
        int r = dims[0] > lim->max_rows;
        s = assay__fail(f->ctx, ASSAY_E_LIMIT,
                        "%s:%s: shape [%llu, %llu] has more %s than the limit of %llu (%s)",
                        f->path, name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                        r ? "rows" : "columns",
                        (unsigned long long)(r ? lim->max_rows : lim->max_dims),
                        r ? "--max-rows" : "--max-dims");
        goto out;
    }
    *rows = (size_t)dims[0];
    *cols = (size_t)dims[1];
    size_t count;
    if (assay__mul_overflows(*rows, *cols, &count)) {
        s = assay__fail(f->ctx, ASSAY_E_FORMAT, "%s:%s: shape [%zu, %zu] is too large", f->path,
                        name, *rows, *cols);
        goto out;
    }
    if ((s = assay__h5_check_storage(f->ctx, f->path, f->file, *dset, name, count, elem)) !=
        ASSAY_OK)
        goto out;

    if ((dcpl = H5Dget_create_plist(*dset)) < 0) {
        s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot read the storage layout", name);
        goto out;
    }
    H5D_layout_t layout = H5Pget_layout(dcpl);
    hsize_t chunk[H5S_MAX_RANK] = {0};
    int chunked = layout == H5D_CHUNKED && H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk) == 2;
    plan_read(*rows, *cols, elem, chunked, chunk, plan);
    if (chunked) {
        /* The chunk cache is a dataset access property: it can only be set when opening. */
        if ((dapl = H5Pcreate(H5P_DATASET_ACCESS)) < 0 ||
            H5Pset_chunk_cache(dapl, plan->cache_slots, plan->cache_bytes, 1.0) < 0) {
            s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot set up the chunk cache", name);
            goto out;
        }
        close_id(dset, H5Dclose);
        if ((*dset = H5Dopen2(f->file, name, dapl)) < 0) {
            s = h5_fail(f, ASSAY_E_HDF5, "cannot open dataset '%s'", name);
            goto out;
        }
    }
out:
    close_id(&dcpl, H5Pclose);
    close_id(&dapl, H5Pclose);
    close_id(&type, H5Tclose);
    if (s != ASSAY_OK) {
        close_id(dset, H5Dclose);
        close_id(space, H5Sclose);
    }
    return s;
}

/* Reads the [rows, cols] dataset into out (row stride ld floats), converting to float32 on the
 * way. The memory dataspace is [block, ld] with a [block, cols] selection, so HDF5 writes each
 * block straight into its rows of `out`; padding columns are zeroed here. */
static assay_status read_matrix(const h5in *f, hid_t dset, hid_t fspace, const char *name,
                                size_t rows, size_t cols, size_t ld, const read_plan *plan,
                                float *out, int report_progress) {
    hid_t mspace = H5I_INVALID_HID;
    size_t mspace_rows = 0;
    assay_status s = ASSAY_OK;
    for (size_t r0 = 0; r0 < rows; r0 += plan->block_rows) {
        size_t nb = rows - r0 < plan->block_rows ? rows - r0 : plan->block_rows;
        hsize_t fstart[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)nb, (hsize_t)cols};
        if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, fstart, NULL, count, NULL) < 0) {
            s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot select rows %zu..%zu", name, r0, r0 + nb - 1);
            break;
        }
        if (nb != mspace_rows) {
            close_id(&mspace, H5Sclose);
            hsize_t mdims[2] = {(hsize_t)nb, (hsize_t)ld}, mstart[2] = {0, 0};
            mspace = H5Screate_simple(2, mdims, NULL);
            if (mspace < 0 ||
                H5Sselect_hyperslab(mspace, H5S_SELECT_SET, mstart, NULL, count, NULL) < 0) {
                s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot set up the memory layout", name);
                break;
            }
            mspace_rows = nb;
        }
        float *dst = out + r0 * ld;
        if (H5Dread(dset, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, dst) < 0) {
            s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot read rows %zu..%zu", name, r0, r0 + nb - 1);
            break;
        }
        if (ld > cols)
            for (size_t r = 0; r < nb; r++)
                memset(dst + r * ld + cols, 0, (ld - cols) * sizeof *dst);
        if (report_progress) assay__progress(f->ctx, "load", (uint64_t)(r0 + nb), (uint64_t)rows);
        /* Under --memory-limit the rows read are given back (they are in the scratch file). */
        assay__sandbox_release(f->sb, dst, nb * ld * sizeof *dst);
    }
    close_id(&mspace, H5Sclose);
    return s;
}

static assay_status load_embeddings(const h5in *f, assay_dataset *ds, const char *name) {
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    size_t n = 0, d = 0;
    read_plan plan;
    float *x = NULL;
    assay_status s = open_matrix(f, name, 1, &dset, &space, &n, &d, &plan);
    if (s != ASSAY_OK) return s;
    if (n == 0 || d == 0) {
        s = assay__fail(f->ctx, ASSAY_E_FORMAT, "%s:%s: the embeddings are empty ([%zu, %zu])",
                        f->path, name, n, d);
        goto out;
    }
    size_t ld = assay__row_stride(d), bytes;
    if (assay__mul_overflows(n, ld, &bytes) || assay__mul_overflows(bytes, sizeof(float), &bytes)) {
        s = assay__fail(f->ctx, ASSAY_E_FORMAT, "%s:%s: shape [%zu, %zu] is too large", f->path,
                        name, n, d);
        goto out;
    }
    /* In the sandbox's child the matrix is written straight into memory the parent adopts;
     * without the sandbox it is bulk memory (a scratch file under --memory-limit). */
    assay__sandbox_sizes_checked(f->sb);
    if (f->sb != NULL) {
        if ((x = assay__sandbox_shared(f->sb, bytes)) == NULL) {
            int e = errno;
            s = e == ENOSPC || e == EDQUOT || e == EFBIG
                    ? assay__fail(f->ctx, ASSAY_E_RESOURCE,
                                  "%s:%s: no room for the [%zu, %zu] float32 matrix (%.1f MiB) in "
                                  "the scratch folder %s (--memory-limit): %s",
                                  f->path, name, n, d, (double)bytes / 1048576.0,
                                  assay__scratch_dir(f->ctx), strerror(e))
                    : assay__fail(f->ctx, ASSAY_E_NOMEM,
                                  "%s:%s: out of memory for the [%zu, %zu] float32 matrix (%.1f "
                                  "MiB)",
                                  f->path, name, n, d, (double)bytes / 1048576.0);
            goto out;
        }
    } else {
        void *p = NULL;
        if ((s = assay__bulk_alloc(f->ctx, bytes, "the float32 matrix", &p)) != ASSAY_OK) {
            assay__errmsg_prefix(f->ctx, "%s:%s: ", f->path, name);
            goto out;
        }
        x = p;
    }
    if ((s = read_matrix(f, dset, space, name, n, d, ld, &plan, x, 1)) != ASSAY_OK) goto out;
    char *dup = strdup(name);
    if (dup == NULL) {
        s = assay__fail(f->ctx, ASSAY_E_NOMEM, "out of memory");
        goto out;
    }
    assay__bulk_free(ds->x);
    free(ds->h5_embeddings);
    ds->x = x;
    x = NULL;
    ds->n = n;
    ds->d = d;
    ds->ld = ld;
    ds->h5_embeddings = dup;
out:
    if (f->sb == NULL) assay__bulk_free(x); /* shared memory is released by the parent */
    close_id(&space, H5Sclose);
    close_id(&dset, H5Dclose);
    return s;
}

static assay_status load_pred_probs(const h5in *f, assay_dataset *ds, const char *name,
                                    int required) {
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    size_t n = 0, c = 0, bytes;
    read_plan plan;
    float *p = NULL;
    char *source = NULL;
    assay_status s = open_matrix(f, name, required, &dset, &space, &n, &c, &plan);
    if (s != ASSAY_OK || dset < 0) return s;
    if (assay__mul_overflows(n, c, &bytes) || assay__mul_overflows(bytes, sizeof(float), &bytes)) {
        s = assay__fail(f->ctx, ASSAY_E_FORMAT, "%s:%s: shape [%zu, %zu] is too large", f->path,
                        name, n, c);
        goto out;
    }
    size_t len = strlen(f->path) + strlen(name) + 2;
    if ((p = malloc(bytes ? bytes : 1)) == NULL || (source = malloc(len)) == NULL) {
        s = assay__fail(f->ctx, ASSAY_E_NOMEM, "%s:%s: out of memory", f->path, name);
        goto out;
    }
    snprintf(source, len, "%s:%s", f->path, name);
    /* Row stride c: the probabilities are read row by row, not by kernels that want padding. */
    if (bytes > 0 && (s = read_matrix(f, dset, space, name, n, c, c, &plan, p, 0)) != ASSAY_OK)
        goto out;
    free(ds->pred_probs);
    free(ds->pp_source);
    ds->pred_probs = p;
    ds->pp_rows = n;
    ds->pp_cols = c;
    ds->pp_source = source;
    p = NULL;
    source = NULL;
out:
    free(p);
    free(source);
    close_id(&space, H5Sclose);
    close_id(&dset, H5Dclose);
    return s;
}

/* ---- label and id columns ---- */

/* Length of a fixed-length string value: up to the first NUL, without trailing spaces when the
 * type pads with spaces (Fortran-style writers). */
static size_t fixed_len(const char *v, size_t size, H5T_str_t pad) {
    const char *nul = memchr(v, '\0', size);
    size_t len = nul ? (size_t)(nul - v) : size;
    if (pad == H5T_STR_SPACEPAD)
        while (len > 0 && v[len - 1] == ' ') len--;
    return len;
}

/* A memory type for variable-length strings in the file's character set (HDF5 does not
 * convert between ASCII and UTF-8, so the sets must match). */
static hid_t vlen_string_type(hid_t ftype) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5Tget_cset(ftype)) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* Shortest decimal that reads back as v, for messages. */
static void fmt_double(double v, char *buf, size_t len) {
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, len, "%.17g", v);
}

typedef struct column_reader {
    const h5in *f;
    const char *name;
    hid_t dset, fspace, mspace;
    int rank;
    size_t n;
} column_reader;

/* Selects rows [r0, r0+nb) of a [N] or [N, 1] dataset and makes a matching [nb] memory space. */
static assay_status select_rows(column_reader *c, size_t r0, size_t nb) {
    hsize_t start[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)nb, 1}, mdims[1] = {(hsize_t)nb};
    close_id(&c->mspace, H5Sclose);
    if (H5Sselect_hyperslab(c->fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        (c->mspace = H5Screate_simple(1, mdims, NULL)) < 0)
        return h5_fail(c->f, ASSAY_E_HDF5, "%s: cannot select rows %zu..%zu", c->name, r0,
                       r0 + nb - 1);
    return ASSAY_OK;
}

static assay_status read_rows(column_reader *c, hid_t mtype, size_t r0, size_t nb, void *buf) {
    if (H5Dread(c->dset, mtype, c->mspace, c->fspace, H5P_DEFAULT, buf) < 0)
        return h5_fail(c->f, ASSAY_E_HDF5, "%s: cannot read rows %zu..%zu", c->name, r0,
                       r0 + nb - 1);
    return ASSAY_OK;
}

static assay_status read_int_column(column_reader *c, hid_t ftype, assay__column *col) {
    const h5in *f = c->f;
    if (H5Tget_size(ftype) > 8)
        return assay__fail(f->ctx, ASSAY_E_UNSUPPORTED,
                           "%s:%s: %zu-byte integers are not supported (at most 64 bits)", f->path,
                           c->name, H5Tget_size(ftype));
    /* Unsigned 64-bit values above INT64_MAX would be clipped silently by HDF5's conversion;
     * read them as uint64 and check. */
    int u64 = H5Tget_sign(ftype) == H5T_SGN_NONE && H5Tget_size(ftype) == 8;
    hid_t mtype = u64 ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64;
    col->i = malloc((c->n ? c->n : 1) * sizeof *col->i);
    if (col->i == NULL) return assay__fail(f->ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t r0 = 0; r0 < c->n; r0 += COLUMN_BLOCK_ROWS) {
        size_t nb = c->n - r0 < COLUMN_BLOCK_ROWS ? c->n - r0 : COLUMN_BLOCK_ROWS;
        ASSAY_TRY(select_rows(c, r0, nb));
        ASSAY_TRY(read_rows(c, mtype, r0, nb, col->i + r0));
    }
    if (u64) {
        for (size_t r = 0; r < c->n; r++) {
            uint64_t v;
            memcpy(&v, &col->i[r], sizeof v);
            if (v > (uint64_t)INT64_MAX)
                return assay__fail(f->ctx, ASSAY_E_FORMAT,
                                   "%s:%s: row %zu has the value %llu, which does not fit in a "
                                   "signed 64-bit integer",
                                   f->path, c->name, r, (unsigned long long)v);
        }
    }
    col->type = ASSAY__COL_INT;
    return ASSAY_OK;
}

/* Float labels are accepted when every value is a whole number (NumPy arrays of labels often
 * become float after a pandas round trip); anything else is a labelling error. */
static assay_status read_float_column(column_reader *c, assay__column *col) {
    const h5in *f = c->f;
    size_t cap = c->n < COLUMN_BLOCK_ROWS ? c->n : COLUMN_BLOCK_ROWS;
    double *buf = malloc((cap ? cap : 1) * sizeof *buf);
    col->i = malloc((c->n ? c->n : 1) * sizeof *col->i);
    assay_status s = ASSAY_OK;
    if (buf == NULL || col->i == NULL) {
        s = assay__fail(f->ctx, ASSAY_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t r0 = 0; r0 < c->n && s == ASSAY_OK; r0 += cap) {
        size_t nb = c->n - r0 < cap ? c->n - r0 : cap;
        if ((s = select_rows(c, r0, nb)) != ASSAY_OK) break;
        if ((s = read_rows(c, H5T_NATIVE_DOUBLE, r0, nb, buf)) != ASSAY_OK) break;
        for (size_t r = 0; r < nb; r++) {
            double v = buf[r];
            /* The range test comes first: the cast is undefined outside int64 (and for NaN). */
            if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) ||
                (double)(int64_t)v != v) {
                char vs[40];
                fmt_double(v, vs, sizeof vs);
                s = assay__fail(f->ctx, ASSAY_E_FORMAT,
                                "%s:%s: row %zu has the label %s; float labels must be whole "
                                "numbers (store class indices as integers)",
                                f->path, c->name, r0 + r, vs);
                break;
            }
            col->i[r0 + r] = (int64_t)v;
        }
    }
    if (s == ASSAY_OK) col->type = ASSAY__COL_INT;
out:
    free(buf);
    return s;
}

static assay_status read_string_column(column_reader *c, hid_t ftype, assay__column *col) {
    const h5in *f = c->f;
    htri_t is_vlen = H5Tis_variable_str(ftype);
    if (is_vlen < 0) return h5_fail(f, ASSAY_E_HDF5, "%s: cannot read the string type", c->name);
    size_t size = is_vlen ? sizeof(char *) : H5Tget_size(ftype);
    H5T_str_t pad = is_vlen ? H5T_STR_NULLTERM : H5Tget_strpad(ftype);
    if (size == 0)
        return assay__fail(f->ctx, ASSAY_E_FORMAT, "%s:%s: zero-length string type", f->path,
                           c->name);
    const uint64_t max_label = assay__limits(f->ctx)->max_label_bytes;
    if (!is_vlen && size > max_label)
        return assay__fail(f->ctx, ASSAY_E_LIMIT,
                           "%s:%s: fixed-length strings of %zu bytes exceed the limit of %llu "
                           "bytes per label or id (--max-label-bytes)",
                           f->path, c->name, size, (unsigned long long)max_label);
    size_t cap = c->n < COLUMN_BLOCK_ROWS ? c->n : COLUMN_BLOCK_ROWS;
    if (cap > (BLOCK_BYTES / size ? BLOCK_BYTES / size : 1))
        cap = BLOCK_BYTES / size ? BLOCK_BYTES / size : 1;
    hid_t mtype = is_vlen ? vlen_string_type(ftype) : H5Tcopy(ftype);
    if (mtype < 0) return h5_fail(f, ASSAY_E_HDF5, "%s: cannot set up the string type", c->name);
    assay_status s = ASSAY_OK;
    char *buf = calloc(cap ? cap : 1, size);
    col->s = malloc((c->n ? c->n : 1) * sizeof *col->s);
    if (buf == NULL || col->s == NULL) {
        s = assay__fail(f->ctx, ASSAY_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t r0 = 0; r0 < c->n && s == ASSAY_OK; r0 += cap) {
        size_t nb = c->n - r0 < cap ? c->n - r0 : cap;
        if ((s = select_rows(c, r0, nb)) != ASSAY_OK) break;
        s = read_rows(c, mtype, r0, nb, buf);
        for (size_t r = 0; r < nb && s == ASSAY_OK; r++) {
            const char *v;
            size_t len;
            if (is_vlen) {
                memcpy(&v, buf + r * size, sizeof v);
                if (v == NULL) v = "";
                len = strlen(v);
            } else {
                v = buf + r * size;
                len = fixed_len(v, size, pad);
            }
            if (len > max_label) {
                s = assay__fail(f->ctx, ASSAY_E_LIMIT,
                                "%s:%s: row %zu is %zu bytes long, over the limit of %llu bytes "
                                "per label or id (--max-label-bytes)",
                                f->path, c->name, r0 + r, len, (unsigned long long)max_label);
                break;
            }
            if ((col->s[r0 + r] = assay__strpool_add(&col->pool, v, len)) == NULL)
                s = assay__fail(f->ctx, ASSAY_E_NOMEM, "out of memory");
        }
        if (is_vlen) {
            /* Also after a failed read: HDF5 may have allocated some strings already, and the
             * buffer was zeroed, so the rest are NULL and free(NULL) is harmless. */
            H5Dvlen_reclaim(mtype, c->mspace, H5P_DEFAULT, buf);
            memset(buf, 0, nb * size);
        }
    }
    if (s == ASSAY_OK) col->type = ASSAY__COL_STR;
out:
    free(buf);
    H5Tclose(mtype);
    return s;
}

/* The class_names attribute of the labels dataset: a 1-D array of strings naming integer labels
 * 0..C-1 (scikit-learn's classes_ / torchvision's classes, saved next to the labels). */
static assay_status read_class_names(const h5in *f, hid_t dset, const char *name,
                                     assay_dataset *ds) {
    htri_t ex = H5Aexists(dset, "class_names");
    if (ex < 0) return h5_fail(f, ASSAY_E_HDF5, "%s: cannot look up attribute class_names", name);
    if (ex == 0) return ASSAY_OK;
    hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID,
          mtype = H5I_INVALID_HID;
    char *buf = NULL;
    char **names = NULL;
    size_t count = 0, size = 0;
    htri_t is_vlen = 0;
    assay_status s = ASSAY_OK;
    if ((attr = H5Aopen(dset, "class_names", H5P_DEFAULT)) < 0 || (type = H5Aget_type(attr)) < 0 ||
        (space = H5Aget_space(attr)) < 0) {
        s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot open attribute class_names", name);
        goto out;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    hssize_t npoints = H5Sget_simple_extent_npoints(space);
    if (H5Tget_class(type) != H5T_STRING || rank > 1 || npoints <= 0 ||
        (uint64_t)npoints > assay__limits(f->ctx)->max_rows) {
        s = assay__fail(f->ctx, ASSAY_E_FORMAT,
                        "%s:%s: attribute class_names must be a non-empty 1-D array of strings "
                        "(found %s, rank %d, %lld values)",
                        f->path, name, type_class_name(H5Tget_class(type)), rank,
                        (long long)npoints);
        goto out;
    }
    count = (size_t)npoints;
    if ((is_vlen = H5Tis_variable_str(type)) < 0) {
        s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot read the type of class_names", name);
        goto out;
    }
    size = is_vlen ? sizeof(char *) : H5Tget_size(type);
    size_t total;
    if (size == 0 || assay__mul_overflows(count, size, &total) ||
        (buf = calloc(count, size)) == NULL || (names = calloc(count, sizeof *names)) == NULL) {
        s = assay__fail(f->ctx, ASSAY_E_NOMEM, "%s:%s: out of memory for class_names", f->path,
                        name);
        goto out;
    }
    if ((mtype = is_vlen ? vlen_string_type(type) : H5Tcopy(type)) < 0 ||
        H5Aread(attr, mtype, buf) < 0) {
        s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot read attribute class_names", name);
        goto out;
    }
    for (size_t i = 0; i < count && s == ASSAY_OK; i++) {
        const char *v;
        size_t len;
        if (is_vlen) {
            memcpy(&v, buf + i * size, sizeof v);
            if (v == NULL) v = "";
            len = strlen(v);
        } else {
            v = buf + i * size;
            len = fixed_len(v, size, H5Tget_strpad(type));
        }
        if (len > assay__limits(f->ctx)->max_label_bytes) {
            s = assay__fail(f->ctx, ASSAY_E_LIMIT,
                            "%s:%s: class_names[%zu] is %zu bytes long, over the limit of %llu "
                            "bytes (--max-label-bytes)",
                            f->path, name, i, len,
                            (unsigned long long)assay__limits(f->ctx)->max_label_bytes);
            break;
        }
        if ((names[i] = assay__strpool_add(&ds->pool, v, len)) == NULL)
            s = assay__fail(f->ctx, ASSAY_E_NOMEM, "out of memory");
    }
    if (is_vlen) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf);
    if (s == ASSAY_OK) {
        free(ds->declared);
        ds->declared = names;
        names = NULL;
        ds->n_declared = count;
        ds->declared_names_for_ints = 1;
    }
out:
    free(names);
    free(buf);
    close_id(&mtype, H5Tclose);
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    close_id(&attr, H5Aclose);
    return s;
}

/* Reads a [N] or [N, 1] labels or ids dataset into `out` (replacing it). Absent and !required
 * leaves `out` untouched. Labels may be integer, whole-number float or string; ids integer or
 * string. For labels, a class_names attribute is read into ds->declared. */
static assay_status load_column(const h5in *f, assay_dataset *ds, const char *name, int required,
                                int is_labels, assay__column *out) {
    column_reader c = {f, name, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, 0, 0};
    hid_t ftype = H5I_INVALID_HID;
    assay__column col;
    memset(&col, 0, sizeof col);
    assay_status s = open_dataset(f, name, H5P_DEFAULT, required, &c.dset);
    if (s != ASSAY_OK || c.dset < 0) return s;
    if ((ftype = H5Dget_type(c.dset)) < 0 || (c.fspace = H5Dget_space(c.dset)) < 0) {
        s = h5_fail(f, ASSAY_E_HDF5, "%s: cannot read the type and shape", name);
        goto out;
    }
    hsize_t dims[H5S_MAX_RANK] = {0};
    if ((s = get_shape(f, c.fspace, name, &c.rank, dims)) != ASSAY_OK) goto out;
    if (!(c.rank == 1 || (c.rank == 2 && dims[1] == 1))) {
        char sh[128];
        shape_str(c.rank, dims, sh, sizeof sh);
        s = assay__fail(f->ctx, ASSAY_E_SHAPE, "%s:%s: expected a vector [N] or [N, 1], found %s",
                        f->path, name, sh);
        goto out;
    }
    if (!fits_size(dims[0]) || dims[0] > SIZE_MAX / sizeof(int64_t)) {
        s = assay__fail(f->ctx, ASSAY_E_FORMAT, "%s:%s: %llu rows is too many", f->path, name,
                        (unsigned long long)dims[0]);
        goto out;
    }
    if (dims[0] > assay__limits(f->ctx)->max_rows) {
        s = assay__fail(f->ctx, ASSAY_E_LIMIT,
                        "%s:%s: %llu rows exceed the limit of %llu (--max-rows)", f->path, name,
                        (unsigned long long)dims[0],
                        (unsigned long long)assay__limits(f->ctx)->max_rows);
        goto out;
    }
    c.n = (size_t)dims[0];
    col.n = c.n;
    if ((s = assay__h5_check_storage(f->ctx, f->path, f->file, c.dset, name, c.n,
                                     H5Tget_size(ftype))) != ASSAY_OK)
        goto out;
    H5T_class_t cls = H5Tget_class(ftype);
    if (cls == H5T_INTEGER)
        s = read_int_column(&c, ftype, &col);
    else if (cls == H5T_FLOAT && is_labels)
        s = read_float_column(&c, &col);
    else if (cls == H5T_STRING)
        s = read_string_column(&c, ftype, &col);
    else
        s = assay__fail(f->ctx, ASSAY_E_UNSUPPORTED,
                        "%s:%s: %s of type class %s are not supported; expected %s", f->path, name,
                        is_labels ? "labels" : "ids", type_class_name(cls),
                        is_labels ? "integers, whole-number floats or strings"
                                  : "integers or strings");
    if (s == ASSAY_OK) s = assay__column_set_source(f->ctx, &col, "%s:%s", f->path, name);
    if (s == ASSAY_OK && is_labels) s = read_class_names(f, c.dset, name, ds);
    if (s == ASSAY_OK) {
        assay__column_free(out);
        *out = col;
        memset(&col, 0, sizeof col);
    }
out:
    assay__column_free(&col);
    close_id(&ftype, H5Tclose);
    close_id(&c.mspace, H5Sclose);
    close_id(&c.fspace, H5Sclose);
    close_id(&c.dset, H5Dclose);
    return s;
}

/* ---- the loader ---- */

static assay_status open_image(h5in *f) {
    /* The core driver reads a file image in memory (fuzzing: no temporary files). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 65536, 0) < 0 ||
        H5Pset_file_image(fapl, (void *)f->image, f->image_len) < 0) {
        if (fapl >= 0) H5Pclose(fapl);
        return h5_fail(f, ASSAY_E_HDF5, "cannot set up the file image");
    }
    f->file = H5Fopen(f->path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f->file < 0) return h5_fail(f, ASSAY_E_FORMAT, "cannot open the HDF5 file");
    return ASSAY_OK;
}

static assay_status open_file(h5in *f) {
    if (f->image != NULL) return open_image(f);
    FILE *fp = fopen(f->path, "rb");
    if (fp == NULL) {
        int e = errno;
        return assay__fail(f->ctx, e == ENOENT ? ASSAY_E_NOTFOUND : ASSAY_E_IO,
                           "%s: cannot open: %s", f->path, strerror(e));
    }
    fclose(fp);
    htri_t is = H5Fis_hdf5(f->path);
    if (is == 0)
        return assay__fail(f->ctx, ASSAY_E_FORMAT,
                           "%s: not an HDF5 file (or its signature is damaged)", f->path);
    if (is < 0) return h5_fail(f, ASSAY_E_HDF5, "cannot check the HDF5 signature");
    if ((f->file = H5Fopen(f->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return h5_fail(f, ASSAY_E_HDF5, "cannot open the HDF5 file");
    return ASSAY_OK;
}

static int named(const char *s) {
    return s != NULL && s[0] != '\0';
}

static assay_status load_all(h5in *f, assay_dataset *ds, const assay_load_opts *o) {
    ASSAY_TRY(open_file(f));
    const char *emb = named(o->h5_embeddings) ? o->h5_embeddings : ASSAY_DEFAULT_H5_EMBEDDINGS;
    ASSAY_TRY(load_embeddings(f, ds, emb));
    /* A separate labels/ids/probabilities file overrides the dataset, so it is not read. */
    if (o->labels_file == NULL)
        ASSAY_TRY(load_column(f, ds, named(o->h5_labels) ? o->h5_labels : ASSAY_DEFAULT_H5_LABELS,
                              1, 1, &ds->labels));
    if (o->ids_file == NULL)
        ASSAY_TRY(load_column(f, ds, named(o->h5_ids) ? o->h5_ids : ASSAY_DEFAULT_H5_IDS,
                              named(o->h5_ids), 0, &ds->ids));
    if (o->pred_probs_file == NULL)
        ASSAY_TRY(load_pred_probs(
            f, ds, named(o->h5_pred_probs) ? o->h5_pred_probs : ASSAY_DEFAULT_H5_PRED_PROBS,
            named(o->h5_pred_probs)));
    return ASSAY_OK;
}

assay_status assay__h5_read(assay_ctx *ctx, assay_dataset *ds, const char *path, const void *image,
                            size_t image_len, const assay_load_opts *opts, assay__sandbox *sb) {
    if (ds == NULL || path == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__h5_read: NULL argument");
    assay_load_opts defaults = ASSAY_LOAD_OPTS_INIT;
    h5in f = {ctx, path, H5I_INVALID_HID, image, image_len, sb};
    assay_status s;
    /* HDF5 prints its error stack to stderr by default; the library must not print, so the
     * automatic report is off for the whole load and failures are read back with H5Ewalk2. */
    assay__h5_lock();
    H5E_BEGIN_TRY {
        s = load_all(&f, ds, opts ? opts : &defaults);
        if (f.file >= 0 && H5Fclose(f.file) < 0 && s == ASSAY_OK)
            s = h5_fail(&f, ASSAY_E_HDF5, "cannot close the file");
    }
    H5E_END_TRY
    assay__h5_unlock();
    return s;
}

assay_status assay__h5_load(assay_ctx *ctx, assay_dataset *ds, const char *path,
                            const assay_load_opts *opts) {
    if (ds == NULL || path == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__h5_load: NULL argument");
    if (assay__sandbox_enabled(ctx)) return assay__h5_load_sandboxed(ctx, ds, path, opts);
    return assay__h5_read(ctx, ds, path, NULL, 0, opts, NULL);
}

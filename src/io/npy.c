/* SPDX-License-Identifier: Apache-2.0 */
/* NumPy .npy loader: checks the header and the file length, maps the file read-only and converts
 * the data straight into the destination (float32 matrix or int64 column), with no second copy. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dataset_internal.h"
#include "io/input.h"
#include "io/npy_header.h"

/* ---- opening and mapping ---- */

typedef struct npy_file {
    int fd;
    assay__npy_header h;
    void *map;
    size_t map_len;
    const unsigned char *data; /* map + h.header_len */
} npy_file;

static void npy_close(npy_file *f) {
    if (f->map != NULL) munmap(f->map, f->map_len);
    if (f->fd >= 0) close(f->fd);
    f->map = NULL;
    f->fd = -1;
}

/* Reads exactly len bytes at offset 0 (short only at end of file); -1 with errno on failure. */
static ssize_t read_prefix(int fd, unsigned char *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The file must hold all the data the header declares: fewer bytes would be a SIGBUS in the
 * middle of the conversion, and a tiny file declaring a huge shape is refused before anything is
 * allocated for it. Bytes past the data are allowed, as np.load ignores them (they are still
 * part of the file's SHA-256). `have` is the number of bytes after the header. */
static assay_status check_extent(assay_ctx *ctx, const char *name, const assay__npy_header *h,
                                 uint64_t have) {
    if (have >= (uint64_t)h->data_bytes) return ASSAY_OK;
    char shape[128];
    assay__npy_shape_str(h, 1, shape, sizeof shape);
    return assay__fail(ctx, ASSAY_E_FORMAT,
                       "%s: truncated: header says %s %s = %zu bytes of data, file has only %llu",
                       name, shape, h->descr, h->data_bytes, (unsigned long long)have);
}

/* Opens and parses the header, and checks the file holds all the data the header promises,
 * before anything is allocated for it. */
static assay_status npy_open(assay_ctx *ctx, const char *path, npy_file *f) {
    f->map = NULL;
    f->fd = -1;
    assay__input in;
    ASSAY_TRY(assay__input_open(ctx, path, "a .npy file", 0, &in));
    f->fd = in.fd;
    uint64_t size = in.size;

    unsigned char pre[ASSAY__NPY_PREAMBLE_MAX];
    ssize_t got = read_prefix(f->fd, pre, sizeof pre);
    if (got < 0) {
        int e = errno;
        return assay__fail(ctx, assay__errno_status(e), "%s: cannot read: %s", path, strerror(e));
    }
    size_t total = assay__npy_header_total(pre, (size_t)got);
    size_t want = total != 0 ? total : (size_t)got;
    if (want > size) want = (size_t)size; /* the parser reports the truncation */
    unsigned char *hdr = malloc(want ? want : 1);
    if (hdr == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    got = read_prefix(f->fd, hdr, want);
    if (got < 0) {
        int e = errno;
        free(hdr);
        return assay__fail(ctx, assay__errno_status(e), "%s: cannot read: %s", path, strerror(e));
    }
    assay_status s = assay__npy_parse_header(ctx, path, hdr, (size_t)got, &f->h);
    free(hdr);
    if (s != ASSAY_OK) return s;
    /* header_len <= size: the parser saw all of it */
    return check_extent(ctx, path, &f->h, size - f->h.header_len);
}

static assay_status npy_map(assay_ctx *ctx, const char *path, npy_file *f) {
    /* Only the header and the data are mapped; bytes past them are never touched. */
    f->map_len = f->h.header_len + f->h.data_bytes;
    void *m = mmap(NULL, f->map_len, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        return assay__fail(ctx, e == ENOMEM ? ASSAY_E_NOMEM : ASSAY_E_IO,
                           "%s: cannot map %zu bytes: %s", path, f->map_len, strerror(e));
    }
    f->map = m;
    (void)posix_madvise(m, f->map_len, POSIX_MADV_SEQUENTIAL); /* only a hint */
    f->data = (const unsigned char *)m + f->h.header_len;
    return ASSAY_OK;
}

/* A whole file in memory: the same header parse and extent check, no mapping. */
static assay_status npy_from_buf(assay_ctx *ctx, const char *name, const unsigned char *buf,
                                 size_t len, npy_file *f) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (buf == NULL && len > 0) return assay__fail(ctx, ASSAY_E_INVAL, "%s: NULL buffer", name);
    ASSAY_TRY(assay__check_file_bytes(ctx, name, len, 0));
    ASSAY_TRY(assay__npy_parse_header(ctx, name, buf, len, &f->h));
    ASSAY_TRY(check_extent(ctx, name, &f->h, len - f->h.header_len));
    f->data = buf + f->h.header_len;
    return ASSAY_OK;
}

/* Rows and columns within the context's limits, checked before allocating for them. */
static assay_status check_limits(assay_ctx *ctx, const char *name, size_t rows, size_t cols) {
    const assay_limits *lim = assay__limits(ctx);
    if ((uint64_t)rows > lim->max_rows)
        return assay__fail(ctx, ASSAY_E_LIMIT,
                           "%s: header declares %zu rows, exceeds --max-rows (%llu)", name, rows,
                           (unsigned long long)lim->max_rows);
    if ((uint64_t)cols > lim->max_dims)
        return assay__fail(ctx, ASSAY_E_LIMIT,
                           "%s: header declares %zu columns, exceeds --max-dims (%llu)", name, cols,
                           (unsigned long long)lim->max_dims);
    return ASSAY_OK;
}

/* ---- element decoding (the data is little-endian whatever the host) ---- */

static uint16_t le16(const unsigned char *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static float f32_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double f64_bits(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* One element as a double: exact for every accepted dtype except 64-bit integers beyond 2^53,
 * which is why the callers convert those directly instead. */
static double elem_double(const assay__npy_header *h, const unsigned char *p) {
    switch (h->kind) {
    case 'f':
        if (h->itemsize == 2) return assay__half_to_float(le16(p));
        if (h->itemsize == 4) return f32_bits(le32(p));
        return f64_bits(le64(p));
    case 'i':
        if (h->itemsize == 1) return (int8_t)p[0];
        if (h->itemsize == 2) return (int16_t)le16(p);
        if (h->itemsize == 4) return (int32_t)le32(p);
        return (double)(int64_t)le64(p);
    default:
        if (h->itemsize == 1) return p[0];
        if (h->itemsize == 2) return le16(p);
        if (h->itemsize == 4) return le32(p);
        return (double)le64(p);
    }
}

/* Converts n consecutive elements to float32. Each value is rounded once, to nearest: doubles
 * by the cast, 64-bit integers by their own cast (through double they could round twice). */
static void convert_f32(const assay__npy_header *h, const unsigned char *src, size_t n,
                        float *dst) {
    size_t w = h->itemsize;
    if (h->kind == 'f' && w == 4) {
        if (assay__host_is_little_endian()) {
            memcpy(dst, src, n * sizeof *dst);
            return;
        }
        for (size_t j = 0; j < n; j++) dst[j] = f32_bits(le32(src + 4 * j));
    } else if (h->kind == 'f' && w == 8) {
        for (size_t j = 0; j < n; j++) dst[j] = (float)f64_bits(le64(src + 8 * j));
    } else if (h->kind == 'i' && w == 8) {
        for (size_t j = 0; j < n; j++) dst[j] = (float)(int64_t)le64(src + 8 * j);
    } else if (h->kind == 'u' && w == 8) {
        for (size_t j = 0; j < n; j++) dst[j] = (float)le64(src + 8 * j);
    } else if (h->kind == 'u' && w == 1) {
        for (size_t j = 0; j < n; j++) dst[j] = (float)src[j];
    } else {
        /* f2 and integers up to 32 bits are exact in double, so one rounding to float. */
        for (size_t j = 0; j < n; j++) dst[j] = (float)elem_double(h, src + w * j);
    }
}

/* ---- loaders ---- */

/* Converts the file's rows into out (row stride `stride`, padding zeroed) in blocks of about
 * 8 MiB. Under a memory limit the file's pages already converted are given back as it goes. */
static void convert_rows(const assay_ctx *ctx, const npy_file *f, size_t rows, size_t cols,
                         size_t stride, float *out) {
    const assay__npy_header *h = &f->h;
    size_t row_bytes = cols * h->itemsize;
    size_t block = ((size_t)8 << 20) / (row_bytes ? row_bytes : 1);
    if (block == 0) block = 1;
    int give_back = f->map != NULL && assay_ctx_memory_limit(ctx) != 0;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t given = (uintptr_t)f->map; /* the file's pages before this are given back */
    for (size_t r0 = 0; r0 < rows; r0 += block) {
        size_t nb = rows - r0 < block ? rows - r0 : block;
        if (stride == cols) {
            convert_f32(h, f->data + r0 * row_bytes, nb * cols, out + r0 * stride);
        } else {
            for (size_t r = r0; r < r0 + nb; r++) {
                float *dst = out + r * stride;
                convert_f32(h, f->data + r * row_bytes, cols, dst);
                /* Padding is zero so SIMD kernels may read whole 64-byte blocks of a row. */
                memset(dst + cols, 0, (stride - cols) * sizeof *dst);
            }
        }
        if (give_back && page > 0) {
            /* Only this block's whole pages: the earlier ones are given back already. */
            uintptr_t end = (uintptr_t)(f->data + (r0 + nb) * row_bytes);
            end -= (end - (uintptr_t)f->map) % (uintptr_t)page;
            if (end > given) { /* read-only and unchanged: the file has them */
                (void)madvise((void *)given, end - given, MADV_DONTNEED);
                given = end;
            }
        }
    }
}

/* Both loaders work on an opened file (f->data: its data, mapped or in a buffer). */
static assay_status matrix_from(assay_ctx *ctx, const char *path, const npy_file *f, int pad_rows,
                                float **x, size_t *n, size_t *d, size_t *ld,
                                assay__npy_matrix_info *info) {
    float *buf = NULL;
    assay_status s = ASSAY_OK;
    const assay__npy_header *h = &f->h;
    char shape[128];
    assay__npy_shape_str(h, 0, shape, sizeof shape);
    if (h->kind == 'U' || h->kind == 'S') {
        s = assay__fail(ctx, ASSAY_E_UNSUPPORTED,
                        "%s: dtype '%s' is a string array; expected numbers (<f4, <f8, <f2, "
                        "integers) for embeddings or predicted probabilities; string arrays are "
                        "read only as labels or ids (--labels-file, --ids-file)",
                        path, h->descr);
        goto out;
    }
    if (h->ndim != 2) {
        s = assay__fail(ctx, ASSAY_E_SHAPE,
                        "%s: expected a 2-D array (rows, features), found %d-D shape %s%s", path,
                        h->ndim, shape,
                        h->ndim == 1 ? "; for one feature per row save arr.reshape(-1, 1)" : "");
        goto out;
    }
    size_t rows = h->shape[0], cols = h->shape[1];
    if (rows == 0 || cols == 0) {
        s = assay__fail(ctx, ASSAY_E_FORMAT,
                        "%s: expected at least one row and one column, found shape %s", path,
                        shape);
        goto out;
    }
    if ((s = check_limits(ctx, path, rows, cols)) != ASSAY_OK) goto out;
    size_t stride = pad_rows ? assay__row_stride(cols) : cols, elems, bytes;
    if (assay__mul_overflows(rows, stride, &elems) ||
        assay__mul_overflows(elems, sizeof(float), &bytes)) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: shape %s is too large to hold as float32", path,
                        shape);
        goto out;
    }
    if (pad_rows) {
        /* The embeddings are bulk memory: a scratch file under --memory-limit. */
        void *p = NULL;
        if ((s = assay__bulk_alloc(ctx, bytes, "the float32 matrix", &p)) != ASSAY_OK) {
            assay__errmsg_prefix(ctx, "%s: ", path);
            goto out;
        }
        buf = p;
    } else if ((buf = assay__aligned_alloc(bytes)) == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory for %zu bytes of float32 data", path,
                        bytes);
        goto out;
    }
    convert_rows(ctx, f, rows, cols, stride, buf);
    *x = buf;
    buf = NULL;
    *n = rows;
    *d = cols;
    *ld = stride;
    if (info != NULL) {
        info->data_offset = h->header_len;
        info->itemsize = h->itemsize;
    }
out:
    assay__bulk_free(buf);
    return s;
}

/* ---- text columns ('<U', '>U', '|S') ---- */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static size_t utf8_put(uint32_t c, unsigned char *o) {
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | c >> 6);
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | c >> 12);
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | c >> 18);
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* Row r of a text array as UTF-8 into buf (cap bytes, at least max + 1): trailing NULs are
 * NumPy's padding and dropped; a NUL before the end, a surrogate or a value past U+10FFFF (UCS-4)
 * or bytes that are not UTF-8 ('S') are refused, as is text over max bytes once encoded. */
static assay_status text_value(assay_ctx *ctx, const char *path, const assay__npy_header *h,
                               const unsigned char *p, size_t r, uint64_t max, unsigned char *buf,
                               size_t *len) {
    size_t o = 0;
    if (h->kind == 'S') {
        size_t n = h->itemsize;
        while (n > 0 && p[n - 1] == 0) n--;
        const void *nul = memchr(p, 0, n);
        if (nul != NULL)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: row %zu: byte %zu is NUL inside the text; expected NUL bytes "
                               "only as padding at the end",
                               path, r, (size_t)((const unsigned char *)nul - p) + 1);
        if ((uint64_t)n > max)
            return assay__fail(ctx, ASSAY_E_LIMIT,
                               "%s: row %zu: %zu bytes exceed --max-label-bytes (%llu)", path, r, n,
                               (unsigned long long)max);
        size_t at = assay__utf8_bad_at((const char *)p, n);
        if (at < n)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: row %zu: byte %zu is 0x%02x, not valid UTF-8; save the bytes "
                               "as UTF-8 (arr.astype(str) writes '<U')",
                               path, r, at + 1, p[at]);
        memcpy(buf, p, n);
        *len = n;
        return ASSAY_OK;
    }
    size_t chars = h->itemsize / 4;
    int big = h->byteorder == '>';
    while (chars > 0 && (big ? be32 : le32)(p + 4 * (chars - 1)) == 0) chars--;
    for (size_t i = 0; i < chars; i++) {
        uint32_t c = (big ? be32 : le32)(p + 4 * i);
        if (c == 0)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: row %zu: character %zu is NUL inside the text; expected NUL "
                               "only as padding at the end",
                               path, r, i + 1);
        if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: row %zu: character %zu is 0x%lX, %s; expected a Unicode "
                               "code point (the file is damaged, or was not written as '%s' "
                               "text)",
                               path, r, i + 1, (unsigned long)c,
                               c > 0x10FFFF ? "past U+10FFFF" : "a UTF-16 surrogate", h->descr);
        unsigned char tmp[4];
        size_t k = utf8_put(c, tmp);
        if ((uint64_t)(o + k) > max)
            return assay__fail(ctx, ASSAY_E_LIMIT,
                               "%s: row %zu: more than %llu bytes as UTF-8, exceeds "
                               "--max-label-bytes (%llu)",
                               path, r, (unsigned long long)max, (unsigned long long)max);
        memcpy(buf + o, tmp, k);
        o += k;
    }
    *len = o;
    return ASSAY_OK;
}

/* A '<U' / '|S' vector as a STR column; the values stay strings (as HDF5 strings do). */
static assay_status text_column(assay_ctx *ctx, const char *path, const npy_file *f, size_t rows,
                                assay__column *col) {
    const assay__npy_header *h = &f->h;
    uint64_t max = assay__limits(ctx)->max_label_bytes;
    /* An element encodes to at most its own size: 4 bytes per character ('U') or one ('S'). */
    size_t cap = (size_t)((uint64_t)h->itemsize < max ? (uint64_t)h->itemsize : max) + 1;
    unsigned char *buf = malloc(cap);
    size_t bytes;
    if (buf == NULL || assay__mul_overflows(rows, sizeof *col->s, &bytes) ||
        (col->s = malloc(bytes)) == NULL) {
        free(buf);
        return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory for %zu values", path, rows);
    }
    col->type = ASSAY__COL_STR;
    assay_status s = ASSAY_OK;
    const unsigned char *p = f->data;
    for (size_t r = 0; r < rows && s == ASSAY_OK; r++, p += h->itemsize) {
        size_t len = 0;
        s = text_value(ctx, path, h, p, r, cap - 1, buf, &len);
        if (s != ASSAY_OK) break;
        /* as in CSV: an empty label would become a class of its own */
        if (len == 0) {
            s = assay__fail(ctx, ASSAY_E_FORMAT,
                            "%s: row %zu is empty; expected a label or id in every row", path, r);
            break;
        }
        if ((col->s[r] = assay__strpool_add(&col->pool, (const char *)buf, len)) == NULL)
            s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
        col->n = r + 1;
    }
    free(buf);
    return s;
}

static assay_status column_from(assay_ctx *ctx, const char *path, const npy_file *f,
                                assay__column *out) {
    assay__column col;
    memset(&col, 0, sizeof col);
    assay_status s = ASSAY_OK;
    const assay__npy_header *h = &f->h;
    char shape[128];
    assay__npy_shape_str(h, 0, shape, sizeof shape);
    if (!(h->ndim == 1 || (h->ndim == 2 && h->shape[1] == 1))) {
        s = assay__fail(ctx, ASSAY_E_SHAPE,
                        "%s: expected a vector of shape (N,) or (N, 1), found shape %s", path,
                        shape);
        goto out;
    }
    size_t rows = h->shape[0], bytes;
    if (rows == 0) {
        s = assay__fail(ctx, ASSAY_E_FORMAT, "%s: expected at least one value, found shape %s",
                        path, shape);
        goto out;
    }
    if ((s = check_limits(ctx, path, rows, 1)) != ASSAY_OK) goto out;
    if (h->kind == 'U' || h->kind == 'S') {
        s = text_column(ctx, path, f, rows, &col);
        if (s != ASSAY_OK) goto out;
        goto done;
    }
    if (assay__mul_overflows(rows, sizeof *col.i, &bytes) || (col.i = malloc(bytes)) == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory for %zu values", path, rows);
        goto out;
    }
    const unsigned char *p = f->data;
    size_t w = h->itemsize;
    for (size_t r = 0; r < rows; r++, p += w) {
        if (h->kind == 'i' && w == 8) {
            col.i[r] = (int64_t)le64(p);
        } else if (h->kind == 'u' && w == 8) {
            uint64_t u = le64(p);
            if (u > (uint64_t)INT64_MAX) {
                s = assay__fail(ctx, ASSAY_E_FORMAT,
                                "%s: row %zu is %llu; expected an integer of at most 2^63-1", path,
                                r, (unsigned long long)u);
                goto out;
            }
            col.i[r] = (int64_t)u;
        } else if (h->kind != 'f') {
            col.i[r] = (int64_t)elem_double(h, p); /* exact: at most 32 bits */
        } else {
            double v = elem_double(h, p);
            /* Labels saved from a float array (pandas often does this) are fine as long as no
             * value was ever fractional, NaN or out of int64 range. */
            if (!(v == floor(v) && v >= -0x1p63 && v < 0x1p63)) {
                s = assay__fail(ctx, ASSAY_E_FORMAT,
                                "%s: row %zu is %.*g, not an integer: labels must be integers "
                                "(a float array %s is accepted only when every value is whole)",
                                path, r,
                                w == 2   ? 5
                                : w == 4 ? 9
                                         : 17,
                                v, h->descr);
                goto out;
            }
            col.i[r] = (int64_t)v;
        }
    }
    col.type = ASSAY__COL_INT;
    col.n = rows;
done:
    if ((s = assay__column_set_source(ctx, &col, "%s", path)) != ASSAY_OK) goto out;
    assay__column_free(out);
    *out = col;
    memset(&col, 0, sizeof col);
out:
    assay__column_free(&col);
    return s;
}

assay_status assay__npy_load_matrix(assay_ctx *ctx, const char *path, int pad_rows, float **x,
                                    size_t *n, size_t *d, size_t *ld,
                                    assay__npy_matrix_info *info) {
    npy_file f;
    assay_status s = npy_open(ctx, path, &f);
    if (s == ASSAY_OK) s = npy_map(ctx, path, &f);
    if (s == ASSAY_OK) s = matrix_from(ctx, path, &f, pad_rows, x, n, d, ld, info);
    npy_close(&f);
    return s;
}

assay_status assay__npy_load_column(assay_ctx *ctx, const char *path, assay__column *out) {
    npy_file f;
    assay_status s = npy_open(ctx, path, &f);
    if (s == ASSAY_OK) s = npy_map(ctx, path, &f);
    if (s == ASSAY_OK) s = column_from(ctx, path, &f, out);
    npy_close(&f);
    return s;
}

assay_status assay__npy_load_matrix_buf(assay_ctx *ctx, const char *name, const unsigned char *buf,
                                        size_t len, int pad_rows, float **x, size_t *n, size_t *d,
                                        size_t *ld, assay__npy_matrix_info *info) {
    npy_file f;
    ASSAY_TRY(npy_from_buf(ctx, name, buf, len, &f));
    return matrix_from(ctx, name, &f, pad_rows, x, n, d, ld, info);
}

assay_status assay__npy_load_column_buf(assay_ctx *ctx, const char *name, const unsigned char *buf,
                                        size_t len, assay__column *out) {
    npy_file f;
    ASSAY_TRY(npy_from_buf(ctx, name, buf, len, &f));
    return column_from(ctx, name, &f, out);
}

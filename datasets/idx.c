/* SPDX-License-Identifier: Apache-2.0 */
/* IDX reader (the MNIST / Fashion-MNIST container) through zlib, which reads gzip and plain files
 * alike. Every header field is checked, and the data must be exactly as long as it says. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "datagen_internal.h"

#define IDX_MAGIC_UBYTE_1D 0x00000801u /* unsigned bytes, 1 dimension: labels */
#define IDX_MAGIC_UBYTE_3D 0x00000803u /* unsigned bytes, 3 dimensions: images */

/* A corrupt header must not make us allocate terabytes: 4 GiB is far above any real IDX set. */
#define IDX_MAX_BYTES ((size_t)1 << 32)

static assay_status open_gz(const char *path, gzFile *out, datagen_error *err) {
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (gz == NULL) {
        int e = errno;
        if (e == 0)
            return datagen_fail(err, ASSAY_E_NOMEM, "%s: out of memory opening the file", path);
        return datagen_fail(err, e == ENOENT ? ASSAY_E_NOTFOUND : ASSAY_E_IO, "%s: cannot open: %s",
                            path, strerror(e));
    }
    /* Large reads: zlib's default 8 KiB input buffer makes inflating 26 MB noticeably slower. */
    gzbuffer(gz, 1u << 17);
    *out = gz;
    return ASSAY_OK;
}

/* Reads exactly len bytes; *got is how many arrived before end of data. gzread takes an unsigned
 * length and returns an int, hence the chunks. */
static assay_status read_exact(gzFile gz, const char *path, void *buf, size_t len, size_t *got,
                               datagen_error *err) {
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(gz, p + *got, (unsigned)want);
        if (r < 0) {
            int zerr = 0;
            const char *msg = gzerror(gz, &zerr);
            return datagen_fail(err, zerr == Z_ERRNO ? ASSAY_E_IO : ASSAY_E_FORMAT,
                                "%s: corrupt or unreadable gzip data: %s", path,
                                zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    return ASSAY_OK;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Header: magic, then one big-endian uint32 per dimension. */
static assay_status read_header(gzFile gz, const char *path, uint32_t magic, const char *kind,
                                uint32_t *dims, size_t n_dims, datagen_error *err) {
    unsigned char head[16];
    size_t want = 4 * (1 + n_dims), got = 0;
    assay_status s = read_exact(gz, path, head, want, &got, err);
    if (s != ASSAY_OK) return s;
    if (got < 4)
        return datagen_fail(err, ASSAY_E_FORMAT,
                            "%s: file ends after %zu bytes, expected an IDX %s header", path, got,
                            kind);
    uint32_t m = be32(head);
    if (m != magic)
        return datagen_fail(err, ASSAY_E_FORMAT,
                            "%s: magic 0x%08x, expected 0x%08x (IDX %s); is this the right file?",
                            path, (unsigned)m, (unsigned)magic, kind);
    if (got < want)
        return datagen_fail(err, ASSAY_E_FORMAT,
                            "%s: header ends after %zu bytes, expected %zu for IDX %s", path, got,
                            want, kind);
    for (size_t i = 0; i < n_dims; i++) {
        dims[i] = be32(head + 4 * (i + 1));
        if (dims[i] == 0)
            return datagen_fail(err, ASSAY_E_FORMAT, "%s: dimension %zu of the IDX %s is 0", path,
                                i, kind);
    }
    return ASSAY_OK;
}

/* Reads the payload of exactly `len` bytes and checks that nothing follows it. */
static assay_status read_payload(gzFile gz, const char *path, size_t len, const char *what,
                                 uint8_t **out, datagen_error *err) {
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return datagen_fail(err, ASSAY_E_NOMEM, "%s: out of memory for %zu bytes of %s", path, len,
                            what);
    size_t got = 0;
    assay_status s = read_exact(gz, path, buf, len, &got, err);
    if (s == ASSAY_OK && got < len)
        s = datagen_fail(err, ASSAY_E_FORMAT,
                         "%s: data ends after %zu of the %zu bytes the header announces (%s); "
                         "the file is truncated",
                         path, got, len, what);
    if (s == ASSAY_OK) {
        unsigned char extra;
        size_t more = 0;
        s = read_exact(gz, path, &extra, 1, &more, err);
        if (s == ASSAY_OK && more != 0)
            s = datagen_fail(err, ASSAY_E_FORMAT,
                             "%s: data continues after the %zu bytes the header announces (%s)",
                             path, len, what);
    }
    if (s != ASSAY_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    return ASSAY_OK;
}

assay_status datagen_idx_read_images(const char *path, datagen_idx_images *out,
                                     datagen_error *err) {
    memset(out, 0, sizeof *out);
    gzFile gz = NULL;
    DATAGEN_TRY(open_gz(path, &gz, err));
    uint32_t dims[3];
    assay_status s = read_header(gz, path, IDX_MAGIC_UBYTE_3D, "images (idx3-ubyte)", dims, 3, err);
    size_t len = 0;
    if (s == ASSAY_OK &&
        (datagen__mul_overflows(dims[0], (size_t)dims[1] * dims[2], &len) || len > IDX_MAX_BYTES))
        s = datagen_fail(err, ASSAY_E_FORMAT,
                         "%s: header announces %u images of %u x %u pixels, more than the 4 GiB "
                         "an IDX set can plausibly hold",
                         path, (unsigned)dims[0], (unsigned)dims[1], (unsigned)dims[2]);
    if (s == ASSAY_OK) s = read_payload(gz, path, len, "pixels", &out->pixels, err);
    gzclose(gz);
    if (s != ASSAY_OK) return s;
    out->count = dims[0];
    out->rows = dims[1];
    out->cols = dims[2];
    return ASSAY_OK;
}

void datagen_idx_images_free(datagen_idx_images *img) {
    if (img == NULL) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

assay_status datagen_idx_read_labels(const char *path, uint8_t **labels, size_t *count,
                                     datagen_error *err) {
    *labels = NULL;
    *count = 0;
    gzFile gz = NULL;
    DATAGEN_TRY(open_gz(path, &gz, err));
    uint32_t n = 0;
    assay_status s = read_header(gz, path, IDX_MAGIC_UBYTE_1D, "labels (idx1-ubyte)", &n, 1, err);
    if (s == ASSAY_OK) s = read_payload(gz, path, n, "labels", labels, err);
    gzclose(gz);
    if (s == ASSAY_OK) *count = n;
    return s;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Parser for the NumPy .npy header: magic, version, length field and the Python dict literal
 * with 'descr', 'fortran_order' and 'shape'. Works on a buffer only, so it can be fuzzed alone. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/npy_header.h"

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

#define ACCEPTED_DTYPES "<f4, <f8, <f2, <i1, <i2, <i4, <i8, |u1, <u2, <u4 or <u8"

/* ---- errors ---- */

typedef struct pstate {
    assay_ctx *ctx;
    const char *name;
    const unsigned char *base; /* start of the file, for byte offsets in messages */
    const unsigned char *p, *end;
} pstate;

/* Every message starts with the file name; the callers give what was expected and found. */
static assay_status failf(const pstate *ps, assay_status s, const char *fmt, ...)
    ASSAY_PRINTF(3, 4);
static assay_status failf(const pstate *ps, assay_status s, const char *fmt, ...) {
    char msg[ASSAY_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return assay__fail(ps->ctx, s, "%s: %s", ps->name, msg);
}

/* A short, printable view of the bytes at p, so a message can show what was found. */
static void excerpt(const unsigned char *p, const unsigned char *end, char *buf, size_t len) {
    if (p >= end) {
        snprintf(buf, len, "the end of the header");
        return;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (int i = 0; i < 16 && p < end && o + 6 < len; i++, p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '"')
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
    }
    if (p < end && o + 4 < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

static assay_status fail_expected(const pstate *ps, const char *expected) {
    char found[96];
    excerpt(ps->p, ps->end, found, sizeof found);
    return failf(ps, ASSAY_E_FORMAT, "malformed .npy header at byte %zu: expected %s, found %s",
                 (size_t)(ps->p - ps->base), expected, found);
}

/* ---- lexing the dict literal ---- */

static void skip_ws(pstate *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
                               *ps->p == '\r' || *ps->p == '\f' || *ps->p == '\v'))
        ps->p++;
}

static int at(const pstate *ps, char c) {
    return ps->p < ps->end && *ps->p == (unsigned char)c;
}

static int is_ident_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* A Python string literal in single or double quotes. Escapes never occur in what NumPy writes
 * for the accepted dtypes, so a backslash is refused rather than half-interpreted. The value is
 * copied into out (cut to cap - 1 bytes); *full is its real length. */
static assay_status parse_string(pstate *ps, char *out, size_t cap, size_t *full) {
    if (!at(ps, '\'') && !at(ps, '"')) return fail_expected(ps, "a quoted string");
    unsigned char q = *ps->p++;
    const unsigned char *s = ps->p;
    while (ps->p < ps->end && *ps->p != q) {
        if (*ps->p == '\\' || *ps->p == '\n')
            return fail_expected(ps, "a plain string without escapes or line breaks");
        /* A NUL would end the copy early ('<f4\x00' read as '<f4'); no dtype or key has any
         * control byte, so one means a damaged or crafted header. */
        if (*ps->p < 0x20 || *ps->p == 0x7f)
            return failf(ps, ASSAY_E_FORMAT,
                         "malformed .npy header at byte %zu: control byte 0x%02x inside a "
                         "string; expected printable text",
                         (size_t)(ps->p - ps->base), *ps->p);
        ps->p++;
    }
    if (ps->p >= ps->end) return fail_expected(ps, "a closing quote");
    size_t n = (size_t)(ps->p - s);
    size_t c = n < cap - 1 ? n : cap - 1;
    memcpy(out, s, c);
    out[c] = '\0';
    *full = n;
    ps->p++;
    return ASSAY_OK;
}

static assay_status parse_bool(pstate *ps, int *out) {
    size_t left = (size_t)(ps->end - ps->p);
    int v;
    size_t n;
    if (left >= 4 && memcmp(ps->p, "True", 4) == 0)
        v = 1, n = 4;
    else if (left >= 5 && memcmp(ps->p, "False", 5) == 0)
        v = 0, n = 5;
    else
        return fail_expected(ps, "True or False");
    if (ps->p + n < ps->end && is_ident_char(ps->p[n])) return fail_expected(ps, "True or False");
    ps->p += n;
    *out = v;
    return ASSAY_OK;
}

/* A non-negative decimal integer, with the Python 2 long suffix (10L) that old files carry. */
static assay_status parse_extent(pstate *ps, size_t *out) {
    if (at(ps, '-')) return fail_expected(ps, "a non-negative dimension");
    if (!(ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'))
        return fail_expected(ps, "a dimension (a decimal integer)");
    const unsigned char *start = ps->p;
    size_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        size_t digit = (size_t)(*ps->p - '0');
        if (v > (SIZE_MAX - digit) / 10) {
            ps->p = start;
            return failf(ps, ASSAY_E_FORMAT,
                         "malformed .npy header at byte %zu: dimension does not fit in %zu bits",
                         (size_t)(start - ps->base), sizeof(size_t) * 8);
        }
        v = v * 10 + digit;
        ps->p++;
    }
    if (at(ps, 'L') || at(ps, 'l')) ps->p++;
    if (ps->p < ps->end && is_ident_char(*ps->p))
        return fail_expected(ps, "',' or ')' after a dimension");
    *out = v;
    return ASSAY_OK;
}

/* (), (5,), (3, 4), (3, 4,) -- and (5), which Python reads as an int but which means only one
 * thing here. */
static assay_status parse_shape(pstate *ps, assay__npy_header *h) {
    if (!at(ps, '(')) return fail_expected(ps, "a shape tuple such as (1000, 768)");
    ps->p++;
    h->ndim = 0;
    skip_ws(ps);
    while (!at(ps, ')')) {
        size_t v = 0;
        ASSAY_TRY(parse_extent(ps, &v));
        if (h->ndim == ASSAY__NPY_MAX_DIMS)
            return failf(ps, ASSAY_E_UNSUPPORTED,
                         "the array has more than %d dimensions; expected a 1-D or 2-D array",
                         ASSAY__NPY_MAX_DIMS);
        h->shape[h->ndim++] = v;
        skip_ws(ps);
        if (at(ps, ',')) {
            ps->p++;
            skip_ws(ps);
        } else if (!at(ps, ')')) {
            return fail_expected(ps, "',' or ')' in the shape");
        }
    }
    ps->p++;
    return ASSAY_OK;
}

/* ---- dtype ---- */

/* Fixed-width text, as np.save writes a str array ('<U7', '>U7': 4-byte UCS-4 code units) or a
 * bytes array ('|S7'): accepted here, for labels and ids only (the loaders decide). */
static assay_status check_string_descr(const pstate *ps, const char *d, char order, const char *k,
                                       assay__npy_header *h) {
    char kind = *k == 'U' ? 'U' : 'S';
    size_t chars = 0;
    int digits = 0;
    for (k++; *k >= '0' && *k <= '9' && digits < 10; k++, digits++)
        chars = chars * 10 + (size_t)(*k - '0');
    if (digits == 0 || k[-digits] == '0' || *k != '\0' || chars > ((size_t)1 << 30))
        return failf(ps, ASSAY_E_UNSUPPORTED,
                     "dtype '%s' is not a string dtype assay reads; expected '<U<n>' or '|S<n>' "
                     "with 1 <= n <= 2^30 characters",
                     d);
    h->kind = kind;
    h->itemsize = kind == 'U' ? 4 * chars : chars;
    if (kind == 'S')
        h->byteorder = '|';
    else if (order == '>' || ((order == '=' || order == '|') && !assay__host_is_little_endian()))
        h->byteorder = '>';
    else
        h->byteorder = '<';
    snprintf(h->descr, sizeof h->descr, "%s", d);
    return ASSAY_OK;
}

static assay_status check_descr(const pstate *ps, const char *d, size_t full,
                                assay__npy_header *h) {
    if (full >= sizeof h->descr)
        return failf(
            ps, ASSAY_E_UNSUPPORTED,
            "dtype '%s...' is not supported; expected a numeric dtype (" ACCEPTED_DTYPES ")", d);
    char order = '=';
    const char *k = d;
    if (*k == '<' || *k == '>' || *k == '|' || *k == '=') order = *k++;
    switch (*k) {
    case 'O':
        return failf(ps, ASSAY_E_UNSUPPORTED,
                     "dtype '%s' is an object array; object arrays are pickles and could run "
                     "code, so assay never loads them; expected a numeric dtype (" ACCEPTED_DTYPES
                     ") or, for labels and ids, text; save numbers with np.save(path, "
                     "arr.astype('<f4')) and strings with np.save(path, arr.astype(str)) (dtype "
                     "'<U') or as a CSV file",
                     d);
    case 'U':
    case 'S':
    case 'a':
        return check_string_descr(ps, d, order, k, h);
    case 'b':
    case '?':
        return failf(ps, ASSAY_E_UNSUPPORTED,
                     "dtype '%s' is boolean; expected a numeric dtype (" ACCEPTED_DTYPES
                     "); convert with arr.astype('<i4') for labels or arr.astype('<f4') for "
                     "embeddings",
                     d);
    case 'c':
        return failf(ps, ASSAY_E_UNSUPPORTED,
                     "dtype '%s' is complex; expected real numbers (" ACCEPTED_DTYPES ")", d);
    case 'V':
        return failf(ps, ASSAY_E_UNSUPPORTED,
                     "dtype '%s' is raw bytes or a structured/sub-array type; expected a plain "
                     "numeric dtype (" ACCEPTED_DTYPES ")",
                     d);
    case 'M':
    case 'm':
        return failf(
            ps, ASSAY_E_UNSUPPORTED,
            "dtype '%s' is a date or time type; expected a numeric dtype (" ACCEPTED_DTYPES ")", d);
    case 'f':
    case 'i':
    case 'u':
        break;
    default:
        return failf(ps, ASSAY_E_UNSUPPORTED,
                     "dtype '%s' is not a NumPy type string assay knows; expected a numeric dtype "
                     "(" ACCEPTED_DTYPES ")",
                     d);
    }
    char kind = *k++;
    size_t size = 0;
    int digits = 0;
    for (; *k >= '0' && *k <= '9' && digits < 4; k++, digits++)
        size = size * 10 + (size_t)(*k - '0');
    /* NumPy writes the size without leading zeros; '<f04' is not a dtype it wrote. */
    int ok_size = digits > 0 && k[-digits] != '0' && *k == '\0' &&
                  (kind == 'f' ? (size == 2 || size == 4 || size == 8)
                               : (size == 1 || size == 2 || size == 4 || size == 8));
    if (!ok_size)
        return failf(ps, ASSAY_E_UNSUPPORTED,
                     "dtype '%s' is not supported; expected one of " ACCEPTED_DTYPES "%s", d,
                     kind == 'f' ? "; convert with arr.astype('<f4')" : "");
    /* One-byte types have no byte order. '=' and '|' on wider types mean the writer's native
     * order, which np.save never writes; read them as the host's. */
    int little = order == '<' || ((order == '=' || order == '|') && assay__host_is_little_endian());
    if (size > 1 && !little)
        return failf(ps, ASSAY_E_UNSUPPORTED,
                     "dtype '%s' is big-endian; expected little-endian '<%c%zu'; convert with "
                     "np.save(path, arr.astype('<%c%zu'))",
                     d, kind, size, kind, size);
    h->kind = kind;
    h->itemsize = size;
    h->byteorder = size == 1 ? '|' : '<';
    snprintf(h->descr, sizeof h->descr, "%s", d);
    return ASSAY_OK;
}

/* ---- the dict ---- */

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

static assay_status parse_dict(pstate *ps, assay__npy_header *h) {
    skip_ws(ps);
    if (!at(ps, '{')) return fail_expected(ps, "'{' opening the header dict");
    ps->p++;
    unsigned seen = 0;
    char descr[sizeof h->descr];
    size_t descr_len = 0;
    descr[0] = '\0';
    for (;;) {
        skip_ws(ps);
        if (at(ps, '}')) break;
        const unsigned char *key_at = ps->p;
        char key[32];
        size_t key_len;
        ASSAY_TRY(parse_string(ps, key, sizeof key, &key_len));
        unsigned which = 0;
        if (strcmp(key, "descr") == 0)
            which = KEY_DESCR;
        else if (strcmp(key, "fortran_order") == 0)
            which = KEY_FORTRAN;
        else if (strcmp(key, "shape") == 0)
            which = KEY_SHAPE;
        if (which == 0 || key_len >= sizeof key) {
            ps->p = key_at;
            return fail_expected(ps, "one of the keys 'descr', 'fortran_order', 'shape'");
        }
        if (seen & which)
            return failf(ps, ASSAY_E_FORMAT,
                         "malformed .npy header at byte %zu: key '%s' appears twice",
                         (size_t)(key_at - ps->base), key);
        seen |= which;
        skip_ws(ps);
        if (!at(ps, ':')) return fail_expected(ps, "':' after a key");
        ps->p++;
        skip_ws(ps);
        if (which == KEY_DESCR) {
            if (at(ps, '[') || at(ps, '{') || at(ps, '('))
                return failf(ps, ASSAY_E_UNSUPPORTED,
                             "descr is a list of fields (a structured/record dtype); expected a "
                             "plain numeric dtype (" ACCEPTED_DTYPES
                             "); save one field as its own array, e.g. "
                             "np.save(path, np.ascontiguousarray(arr['x']))");
            ASSAY_TRY(parse_string(ps, descr, sizeof descr, &descr_len));
        } else if (which == KEY_FORTRAN) {
            ASSAY_TRY(parse_bool(ps, &h->fortran_order));
        } else {
            ASSAY_TRY(parse_shape(ps, h));
        }
        skip_ws(ps);
        if (at(ps, ','))
            ps->p++;
        else if (!at(ps, '}'))
            return fail_expected(ps, "',' or '}' after a value");
    }
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end) return fail_expected(ps, "only padding after the header dict");
    if (seen != (KEY_DESCR | KEY_FORTRAN | KEY_SHAPE))
        return failf(ps, ASSAY_E_FORMAT,
                     "malformed .npy header: expected the keys 'descr', 'fortran_order' and "
                     "'shape', found no '%s'",
                     !(seen & KEY_DESCR)   ? "descr"
                     : !(seen & KEY_SHAPE) ? "shape"
                                           : "fortran_order");
    return check_descr(ps, descr, descr_len, h);
}

/* ---- preamble and the whole header ---- */

size_t assay__npy_header_total(const unsigned char *buf, size_t len) {
    if (len < 8 || memcmp(buf, npy_magic, 6) != 0) return 0;
    if (buf[6] == 1 && buf[7] == 0 && len >= 10) return 10 + ((size_t)buf[8] | (size_t)buf[9] << 8);
    if ((buf[6] == 2 || buf[6] == 3) && buf[7] == 0 && len >= 12) {
        uint32_t hl = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 |
                      (uint32_t)buf[11] << 24;
        if (hl > ASSAY__NPY_MAX_HEADER) return 0;
        return 12 + (size_t)hl;
    }
    return 0;
}

static assay_status check_magic(const pstate *ps, size_t len) {
    const unsigned char *buf = ps->base;
    size_t m = len < 6 ? len : 6;
    if (memcmp(buf, npy_magic, m) == 0 && len < 8)
        return failf(ps, ASSAY_E_FORMAT,
                     "truncated .npy file: expected at least the 10-byte preamble, found only %zu "
                     "bytes",
                     len);
    if (memcmp(buf, npy_magic, m) == 0) return ASSAY_OK;
    if (len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0)
        return failf(ps, ASSAY_E_FORMAT,
                     "not a .npy file but a zip archive (.npz?); expected the magic "
                     "'\\x93NUMPY'; save each array with np.save(path, arr)");
    char found[96];
    excerpt(buf, buf + (len < 8 ? len : 8), found, sizeof found);
    return failf(ps, ASSAY_E_FORMAT,
                 "not a NumPy .npy file: expected the magic '\\x93NUMPY', found %s", found);
}

assay_status assay__npy_parse_header(assay_ctx *ctx, const char *name, const unsigned char *buf,
                                     size_t len, assay__npy_header *out) {
    pstate ps = {ctx, name, buf, buf, buf + len};
    memset(out, 0, sizeof *out);
    if (len == 0) return failf(&ps, ASSAY_E_FORMAT, "file is empty; expected a NumPy .npy file");
    ASSAY_TRY(check_magic(&ps, len));
    out->major = buf[6];
    out->minor = buf[7];
    if (!(out->major >= 1 && out->major <= 3 && out->minor == 0))
        return failf(&ps, ASSAY_E_FORMAT,
                     ".npy format version %u.%u is not supported; expected 1.0, 2.0 or 3.0",
                     out->major, out->minor);
    size_t pre = out->major == 1 ? 10 : 12;
    if (len < pre)
        return failf(&ps, ASSAY_E_FORMAT,
                     "truncated .npy file: expected a %zu-byte preamble for version %u.0, found "
                     "only %zu bytes",
                     pre, out->major, len);
    size_t hl = (size_t)buf[8] | (size_t)buf[9] << 8;
    if (out->major > 1) hl |= (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    if (hl > ASSAY__NPY_MAX_HEADER)
        return failf(&ps, ASSAY_E_FORMAT,
                     "header length field says %zu bytes; expected at most %zu (the file is "
                     "probably damaged)",
                     hl, ASSAY__NPY_MAX_HEADER);
    out->header_len = pre + hl;
    if (len < out->header_len)
        return failf(&ps, ASSAY_E_FORMAT,
                     "truncated .npy header: expected %zu header bytes (as its length field "
                     "says), found only %zu",
                     out->header_len, len);
    /* Version 3 only changes the header encoding to UTF-8; non-ASCII bytes can then occur only
     * in field names of structured dtypes, which are refused anyway. */
    if (out->major < 3)
        for (size_t i = pre; i < out->header_len; i++)
            if (buf[i] >= 0x80)
                return failf(&ps, ASSAY_E_FORMAT,
                             "malformed .npy header at byte %zu: expected ASCII in a version "
                             "%u.0 header, found byte 0x%02x",
                             i, out->major, buf[i]);
    ps.p = buf + pre;
    ps.end = buf + out->header_len;
    ASSAY_TRY(parse_dict(&ps, out));

    /* Column-major data is a different layout only when two or more extents exceed 1. */
    int big_dims = 0;
    for (int i = 0; i < out->ndim; i++) big_dims += out->shape[i] > 1;
    if (out->fortran_order && big_dims > 1)
        return failf(&ps, ASSAY_E_UNSUPPORTED,
                     "fortran_order is True (column-major data); expected C order; save "
                     "np.ascontiguousarray(arr) instead");

    char shape[128];
    assay__npy_shape_str(out, 0, shape, sizeof shape);
    size_t count = 1;
    int has_zero = 0;
    for (int i = 0; i < out->ndim; i++) has_zero |= out->shape[i] == 0;
    if (has_zero)
        count = 0;
    else
        for (int i = 0; i < out->ndim; i++)
            if (assay__mul_overflows(count, out->shape[i], &count))
                return failf(&ps, ASSAY_E_FORMAT,
                             "shape %s overflows: expected a product of dimensions that fits in "
                             "%zu bits",
                             shape, sizeof(size_t) * 8);
    out->count = count;
    if (assay__mul_overflows(count, out->itemsize, &out->data_bytes) ||
        out->data_bytes > SIZE_MAX - out->header_len)
        return failf(&ps, ASSAY_E_FORMAT,
                     "shape %s of %s overflows: expected a data size that fits in %zu bits", shape,
                     out->descr, sizeof(size_t) * 8);
    return ASSAY_OK;
}

void assay__npy_shape_str(const assay__npy_header *h, int dims_style, char *buf, size_t len) {
    if (len == 0) return;
    size_t o = 0;
    buf[0] = '\0';
    if (!dims_style) o += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < h->ndim && o < len; i++) {
        const char *sep = i == 0 ? "" : dims_style ? "x" : ", ";
        o += (size_t)snprintf(buf + o, len - o, "%s%zu", sep, h->shape[i]);
    }
    if (o >= len) return;
    if (!dims_style)
        snprintf(buf + o, len - o, "%s)", h->ndim == 1 ? "," : "");
    else if (h->ndim == 0)
        snprintf(buf, len, "scalar");
}

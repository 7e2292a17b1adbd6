/* SPDX-License-Identifier: Apache-2.0 */
/* NumPy .npy header parser: a pure function over a byte buffer (no I/O), so it can be fuzzed
 * alone. It accepts only what assay can load (little-endian float/int arrays in C order, and
 * fixed-width text '<U', '>U', '|S' for labels and ids) and refuses the rest with a message that
 * says how to fix the file. */
#ifndef ASSAY_NPY_HEADER_H
#define ASSAY_NPY_HEADER_H

#include <stddef.h>

#include "core/internal.h"

#define ASSAY__NPY_MAX_DIMS 8
/* Bytes before the dict: magic (6), version (2), length field (2 in v1, 4 in v2/v3). */
#define ASSAY__NPY_PREAMBLE_MAX 12
/* Larger headers are refused as damaged: NumPy itself refuses more than 10000 bytes by default,
 * and only structured dtypes, which assay refuses anyway, come close. */
#define ASSAY__NPY_MAX_HEADER ((size_t)1 << 20)

typedef struct assay__npy_header {
    unsigned major, minor; /* format version: 1.0, 2.0 or 3.0 */
    size_t header_len;     /* total header bytes = offset of the data */
    char descr[32];        /* dtype as written ("<f4"), for messages */
    char kind;       /* 'f' float, 'i' signed, 'u' unsigned integer, 'U' UCS-4 text, 'S' bytes */
    char byteorder;  /* '<' little-endian, '>' big-endian ('U' only), '|' one-byte types and 'S' */
    size_t itemsize; /* bytes per element: 1, 2, 4 or 8; 'U': 4 per character, 'S': 1 */
    int fortran_order;                 /* 1 only when the layout equals C order anyway */
    int ndim;                          /* 0 .. ASSAY__NPY_MAX_DIMS */
    size_t shape[ASSAY__NPY_MAX_DIMS]; /* ndim extents, the rest 0 */
    size_t count;                      /* elements: product of shape (1 for shape ()) */
    size_t data_bytes;                 /* count * itemsize, overflow-checked */
} assay__npy_header;

/* Declared total header length (offset of the data) from the first bytes of a file, or 0 when
 * `len` bytes are too few to tell or the magic/version is wrong (the parser then says why).
 * Lets a reader fetch exactly the header before calling assay__npy_parse_header. */
size_t assay__npy_header_total(const unsigned char *buf, size_t len);

/* Parses the header at the start of buf[0..len) (len may extend into the data). `name` is the
 * file name that starts every error message. On success fills *out; on failure *out is
 * unspecified. Returns ASSAY_OK, ASSAY_E_FORMAT (bad magic or version, malformed or truncated
 * header, shape product overflow) or ASSAY_E_UNSUPPORTED (object, big-endian numeric,
 * structured, bool, complex or other dtypes; Fortran order; too many dimensions).
 * Thread-safety: any thread; only ctx's message is written. */
assay_status assay__npy_parse_header(assay_ctx *ctx, const char *name, const unsigned char *buf,
                                     size_t len, assay__npy_header *out);

/* Writes the shape into buf as "1000x768" (dims_style) or as Python writes it "(1000, 768)",
 * "(5,)", "()". Truncates to fit len. */
void assay__npy_shape_str(const assay__npy_header *h, int dims_style, char *buf, size_t len);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Datasets: embeddings [N,d] as float32, labels, optional ids and predicted probabilities, loaded
 * from HDF5, CSV or NumPy .npy, validated and fingerprinted (SHA-256 per row and per dataset). */
#ifndef ASSAY_DATASET_H
#define ASSAY_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "assay_api.h"
#include "assay_status.h"
#include "assay_ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_dataset assay_dataset;

typedef enum assay_format {
    ASSAY_FORMAT_AUTO = 0, /* from the file's magic bytes, then its extension */
    ASSAY_FORMAT_HDF5 = 1,
    ASSAY_FORMAT_CSV = 2,
    ASSAY_FORMAT_NPY = 3,
    ASSAY_FORMAT_MEMORY = 4 /* arrays in the caller's memory (assay_dataset_from_arrays) */
} assay_format;

/* The names assay_load_opts falls back to when a field is NULL. */
#define ASSAY_DEFAULT_H5_EMBEDDINGS "/embeddings"
#define ASSAY_DEFAULT_H5_LABELS     "/labels"
#define ASSAY_DEFAULT_H5_IDS        "/ids"        /* used if present */
#define ASSAY_DEFAULT_H5_PRED_PROBS "/pred_probs" /* used if present */
#define ASSAY_DEFAULT_LABEL_COLUMN  "label"
#define ASSAY_DEFAULT_ID_COLUMN     "id" /* used if present */

/* Where to find each part of the dataset. Every pointer may be NULL (the defaults above). Strings
 * are only read during the call and are not retained. */
typedef struct assay_load_opts {
    assay_format format;
    /* HDF5 dataset paths */
    const char *h5_embeddings;
    const char *h5_labels;
    const char *h5_ids;
    const char *h5_pred_probs;
    /* CSV columns */
    const char *label_column;
    const char *id_column;
    const char *feature_columns; /* comma-separated names; NULL = every other column */
    /* Separate files (.npy or .csv), required for .npy embeddings; override the above */
    const char *labels_file;
    const char *ids_file;
    const char *pred_probs_file;
    /* Declared label set, comma-separated ("cat,dog" or "0,1,2"). Labels outside it are
     * reported as integrity findings. NULL = the labels found (or an HDF5 `class_names`
     * attribute on the labels dataset, which declares integer labels 0..C-1 and names them). */
    const char *classes;
} assay_load_opts;
#define ASSAY_LOAD_OPTS_INIT                                                                       \
    { ASSAY_FORMAT_AUTO, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/* Loads, validates and fingerprints a dataset. `path` is the embeddings file; `opts` may be NULL.
 * Rows with NaN/Inf or overflowing values are kept (and reported by the scan as integrity
 * findings) but are zeroed in the working matrix after fingerprinting.
 * On success *out owns the dataset (release with assay_dataset_destroy); on failure *out is NULL
 * and assay_ctx_errmsg() names the file, dataset/column and row/line at fault.
 * Returns ASSAY_OK, ASSAY_E_NOTFOUND, ASSAY_E_IO, ASSAY_E_FORMAT, ASSAY_E_SHAPE, ASSAY_E_HDF5,
 * ASSAY_E_UNSUPPORTED, ASSAY_E_INVAL, ASSAY_E_NOMEM. Thread-safety: as for the context. */
ASSAY_API assay_status assay_dataset_load(assay_ctx *ctx, const char *path,
                                          const assay_load_opts *opts, assay_dataset **out);

/* ---- datasets from arrays in memory ---- */

/* Element types of a caller's array, in the host's byte order. */
typedef enum assay_dtype {
    ASSAY_DTYPE_F32 = 0,
    ASSAY_DTYPE_F64 = 1,
    ASSAY_DTYPE_F16 = 2, /* IEEE binary16 */
    ASSAY_DTYPE_U8 = 3,
    ASSAY_DTYPE_I8 = 4,
    ASSAY_DTYPE_U16 = 5,
    ASSAY_DTYPE_I16 = 6,
    ASSAY_DTYPE_U32 = 7,
    ASSAY_DTYPE_I32 = 8,
    ASSAY_DTYPE_U64 = 9,
    ASSAY_DTYPE_I64 = 10,
    ASSAY_DTYPE_COUNT = 11
} assay_dtype;

/* Bytes per element of a dtype (0 if unknown), and its NumPy-style name ("float32", ...). */
ASSAY_API size_t assay_dtype_size(assay_dtype t);
ASSAY_API const char *assay_dtype_name(assay_dtype t);

/* A 2-D view of a caller's array: element (r, c) is at data + r * row_stride + c * col_stride
 * bytes. Strides may be negative or zero-padded like NumPy's; 0 means C order (row_stride =
 * cols * size, col_stride = size). A vector is rows x 1. data == NULL means "absent". */
typedef struct assay_array {
    const void *data;
    assay_dtype dtype;
    size_t rows, cols;
    ptrdiff_t row_stride;
    ptrdiff_t col_stride;
} assay_array;

/* The parts of a dataset given as arrays. Only embeddings and one kind of labels are required. */
typedef struct assay_arrays {
    assay_array embeddings; /* [N, d], any dtype; converted to float32 as the .npy loader does */
    assay_array labels;     /* [N] integer dtype (or float whose values are all whole), or: */
    const char *const *label_strings; /* N NUL-terminated UTF-8 labels (when labels.data is
                                         NULL) */
    assay_array ids;                  /* [N] integer, optional; or: */
    const char *const *id_strings;    /* N UTF-8 ids, optional */
    assay_array pred_probs;           /* [N, classes] float dtype, optional */
    const char *classes;              /* declared label set, as assay_load_opts.classes */
    const char *name;                 /* the input's name in reports; NULL = "(memory)" */
    int copy;                         /* 1: always copy the embeddings, never borrow them */
} assay_arrays;
#define ASSAY_ARRAYS_INIT                                                                          \
    {                                                                                              \
        {NULL, ASSAY_DTYPE_F32, 0, 0, 0, 0}, {NULL, ASSAY_DTYPE_I64, 0, 0, 0, 0}, NULL,            \
            {NULL, ASSAY_DTYPE_I64, 0, 0, 0, 0}, NULL, {NULL, ASSAY_DTYPE_F32, 0, 0, 0, 0}, NULL,  \
            NULL, 0                                                                                \
    }

/* Creates a dataset from arrays in memory, validated and fingerprinted exactly as a file with the
 * same values would be (the row and dataset digests equal those of the same data saved as .npy),
 * with the context's limits applied (max-rows, max-dims, max-label-bytes).
 *
 * Ownership: labels, ids, probabilities and strings are copied during the call. The embeddings
 * are BORROWED, not copied, when they are float32 with col_stride == 4, a positive row stride that
 * is a multiple of 4, 4-byte aligned, no row holding NaN or Inf, and `copy` is 0
 * (assay_dataset_borrowed() tells): the caller must then keep them alive and unchanged until
 * assay_dataset_destroy(), and the scan only reads them. Any other layout or dtype is converted
 * into a copy the dataset owns.
 * Returns ASSAY_OK, ASSAY_E_INVAL (a NULL or inconsistent argument: the message names the array
 * and what was expected), ASSAY_E_SHAPE (lengths differ), ASSAY_E_FORMAT (a fractional label, a
 * probability row not summing to 1...), ASSAY_E_LIMIT, ASSAY_E_NOMEM, ASSAY_E_CANCELLED.
 * Thread-safety: as for the context; the arrays may be read by other threads meanwhile. */
ASSAY_API assay_status assay_dataset_from_arrays(assay_ctx *ctx, const assay_arrays *arrays,
                                                 assay_dataset **out);

/* 1 when the dataset reads the caller's embeddings in place (see assay_dataset_from_arrays). */
ASSAY_API int assay_dataset_borrowed(const assay_dataset *ds);

/* Releases a dataset. NULL is a no-op. */
ASSAY_API void assay_dataset_destroy(assay_dataset *ds);

ASSAY_API size_t assay_dataset_rows(const assay_dataset *ds);
ASSAY_API size_t assay_dataset_dims(const assay_dataset *ds);
ASSAY_API size_t assay_dataset_classes(const assay_dataset *ds);
ASSAY_API assay_format assay_dataset_format(const assay_dataset *ds);
/* "hdf5", "csv", "npy", "memory", "auto" */
ASSAY_API const char *assay_format_name(assay_format f);

/* Number of rows carrying class `c` (0 if c is out of range). */
ASSAY_API size_t assay_dataset_class_count(const assay_dataset *ds, size_t c);

/* Label value of class `c` as text (the integer in decimal, or the string), NULL if out of range.
 * Borrowed; valid until assay_dataset_destroy. */
ASSAY_API const char *assay_dataset_class_label(const assay_dataset *ds, size_t c);

/* Class index of row i, or -1 if its label is outside the declared set or i is out of range. */
ASSAY_API int32_t assay_dataset_row_class(const assay_dataset *ds, size_t i);

/* Borrowed pointer to row i's float32 features (d values), NULL if out of range. */
ASSAY_API const float *assay_dataset_row(const assay_dataset *ds, size_t i);

/* Copies row i's id as text ("" when the dataset has no ids) into buf, NUL-terminated.
 * Returns ASSAY_E_INVAL if i is out of range or the id does not fit in buf_len bytes. */
ASSAY_API assay_status assay_dataset_row_id(const assay_dataset *ds, size_t i, char *buf,
                                            size_t buf_len);

/* Copies row i's label as the input gave it (the integer in decimal, or the string; also when
 * it is outside the declared set) into buf, NUL-terminated: scores.csv's "label". Returns
 * ASSAY_E_INVAL if i is out of range or the label does not fit in buf_len bytes. */
ASSAY_API assay_status assay_dataset_row_label(const assay_dataset *ds, size_t i, char *buf,
                                               size_t buf_len);

/* Copies the lower-case hex SHA-256 of the dataset (over the row digests in order) into
 * buf[0..64]; buf_len must be at least 65 (ASSAY_E_INVAL otherwise). */
ASSAY_API assay_status assay_dataset_digest_hex(const assay_dataset *ds, char *buf, size_t buf_len);

/* Same for row i's digest. */
ASSAY_API assay_status assay_dataset_row_digest_hex(const assay_dataset *ds, size_t i, char *buf,
                                                    size_t buf_len);

#ifdef __cplusplus
}
#endif
#endif

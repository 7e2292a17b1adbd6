/* SPDX-License-Identifier: Apache-2.0 */
/* The dataset object and the contract between the format loaders and the common finishing step.
 * A loader fills the raw parts (matrix, label/id columns, predicted probabilities, source
 * locations); assay__dataset_finish() validates lengths, builds the class map, marks unusable
 * rows, fingerprints and zeroes non-finite rows. Loaders are small and separate so each can be
 * fuzzed alone. */
#ifndef ASSAY_DATASET_INTERNAL_H
#define ASSAY_DATASET_INTERNAL_H

#include "core/internal.h"

/* Per-row validity flags. */
enum {
    ASSAY__ROW_NONFINITE = 1u, /* NaN or Inf in the features: left out of the graph */
    ASSAY__ROW_OVERFLOW = 2u,  /* finite, but the squared norm overflows float32: left out */
    ASSAY__ROW_ZERO = 4u,      /* all features zero: left out of a cosine graph */
    ASSAY__ROW_BADLABEL = 8u   /* label outside the declared set */
};

/* Evidence for a row with non-finite values (kept before the row is zeroed). */
typedef struct assay__bad_row {
    size_t row;
    size_t nonfinite; /* how many values are NaN/Inf */
    size_t first_col; /* first such column */
} assay__bad_row;

typedef struct assay__file_info {
    char role[16]; /* "embeddings", "labels", "ids", "pred_probs", "table" */
    char *path;
    uint64_t bytes;
    unsigned char sha256[32];
    int hashed; /* bytes and sha256 already taken while reading (standard input) */
} assay__file_info;

#define ASSAY__MAX_FILES 4

struct assay_dataset {
    assay_format format;
    char *path; /* embeddings file as given */

    /* features: n rows of d floats, row stride ld >= d floats */
    size_t n, d, ld;
    float *x;
    size_t x_mapped; /* bytes of x when it is the HDF5 sandbox's shared mapping (munmap), else 0 */
    int x_borrowed;  /* x is the caller's array (assay_dataset_from_arrays): never written, freed */

    /* labels as read, then mapped to classes */
    assay__column labels;
    int32_t *y; /* class index per row, -1 if outside the declared set */
    size_t n_classes;
    char **class_label; /* label value as text, per class (in `pool`) */
    char **class_name;  /* display name, per class (== class_label unless named) */
    size_t *class_count;
    int classes_declared; /* 1 if the set came from --classes or a class_names attribute */

    /* declared set as given by the loader or the options, consumed by finish() */
    char **declared;
    size_t n_declared;
    int declared_names_for_ints; /* HDF5 class_names: label value i is named declared[i] */

    assay__column ids; /* type NONE when the input has no ids */

    float *pred_probs; /* pp_rows x pp_cols (pp_rows must equal n), or NULL */
    size_t pp_rows;
    size_t pp_cols;
    char *pp_source;

    /* where each row lives in the input, for reports */
    uint64_t *csv_line;       /* CSV: 1-based physical line where row i's record starts */
    uint64_t npy_data_offset; /* .npy: byte offset of row 0 */
    size_t npy_row_bytes;     /* .npy: bytes per row in the file */
    char *h5_embeddings;      /* HDF5: dataset name of the embeddings */

    /* validity */
    uint8_t *row_flags;
    size_t n_excluded_nonfinite; /* rows with NONFINITE or OVERFLOW */
    size_t n_zero;
    size_t n_badlabel;
    assay__bad_row *bad_rows;
    size_t n_bad_rows;

    /* fingerprint */
    unsigned char (*row_digest)[32];     /* features + label + id */
    unsigned char (*content_digest)[32]; /* features only: finds exact duplicates */
    unsigned char digest[32];            /* over the row digests in order */
    assay__file_info files[ASSAY__MAX_FILES];
    assay_limits limits; /* the limits the input was read under (report.json input.limits) */
    size_t n_files;

    double t_load, t_fingerprint;
    assay__strpool pool;
};

/* ---- loaders: each fills the raw parts of `ds` ---- */

/* HDF5: embeddings, labels, optional ids and pred_probs, class_names attribute. */
assay_status assay__h5_load(assay_ctx *ctx, assay_dataset *ds, const char *path,
                            const assay_load_opts *opts);

/* CSV table with header: features, label column, optional id column; records csv_line. The
 * path "-" reads standard input (its size and SHA-256 are taken while reading and recorded as
 * the "table" file; any other path is added to ds->files by the caller). Every bound of the
 * context's limits is checked while streaming (ASSAY_E_LIMIT naming file and line). */
assay_status assay__csv_load(assay_ctx *ctx, assay_dataset *ds, const char *path,
                             const assay_load_opts *opts);
/* The same parser over buf[0..len), `name` naming it in messages (fuzzing, tests). */
assay_status assay__csv_load_buf(assay_ctx *ctx, assay_dataset *ds, const char *name,
                                 const char *buf, size_t len, const assay_load_opts *opts);

/* One column of a CSV file (labels or ids file). `column` is the header name to take; when the
 * file has a single column it is taken whatever its name. Values stay strings unless
 * `want_int_if_possible` and every value is a decimal integer. */
assay_status assay__csv_load_column(assay_ctx *ctx, const char *path, const char *column,
                                    int want_int_if_possible, assay__column *out);
assay_status assay__csv_load_column_buf(assay_ctx *ctx, const char *name, const char *buf,
                                        size_t len, const char *column, int want_int_if_possible,
                                        assay__column *out);

/* .npy matrix (2-D) converted to float32 into a new 64-byte aligned buffer with row stride *ld
 * (a multiple of 16 floats when pad_rows, else d). */
typedef struct assay__npy_matrix_info {
    uint64_t data_offset; /* byte offset of the data in the file */
    size_t itemsize;
} assay__npy_matrix_info;
assay_status assay__npy_load_matrix(assay_ctx *ctx, const char *path, int pad_rows, float **x,
                                    size_t *n, size_t *d, size_t *ld, assay__npy_matrix_info *info);

/* .npy vector ([N] or [N,1]) as an INT column: integer types, or float types whose values are
 * all whole numbers. */
assay_status assay__npy_load_column(assay_ctx *ctx, const char *path, assay__column *out);
/* The same over a whole .npy file held in buf[0..len) (header and data; fuzzing, tests). */
assay_status assay__npy_load_matrix_buf(assay_ctx *ctx, const char *name, const unsigned char *buf,
                                        size_t len, int pad_rows, float **x, size_t *n, size_t *d,
                                        size_t *ld, assay__npy_matrix_info *info);
assay_status assay__npy_load_column_buf(assay_ctx *ctx, const char *name, const unsigned char *buf,
                                        size_t len, assay__column *out);

/* ---- common steps ---- */

/* Replaces a borrowed matrix by a padded copy the dataset owns (before anything writes to it). */
assay_status assay__dataset_own_matrix(assay_ctx *ctx, assay_dataset *ds);

/* Validates and completes a loaded dataset (see top of file). */
assay_status assay__dataset_finish(assay_ctx *ctx, assay_dataset *ds, const assay_load_opts *opts);

/* Row stride in floats for d features: d rounded up to a multiple of 16 (64 bytes). */
size_t assay__row_stride(size_t d);

/* SHA-256 fingerprint of every row and of the dataset; hashes the input files too. */
assay_status assay__fingerprint(assay_ctx *ctx, assay_dataset *ds);

/* Adds an input file to ds->files (hashed later by assay__fingerprint). */
assay_status assay__dataset_add_file(assay_ctx *ctx, assay_dataset *ds, const char *role,
                                     const char *path);

/* ---- a row as text (dataset_text.c) ---- */

/* Row r's label / id as text: a pointer into the dataset, or into buf for integers ("" when the
 * dataset has no ids). */
const char *assay__label_text(const assay_dataset *ds, size_t r, char *buf, size_t len);
const char *assay__id_text(const assay_dataset *ds, size_t r, char *buf, size_t len);
/* Display name of class c ("Coat", or the label value), "?" for -1 or out of range. */
const char *assay__class_text(const assay_dataset *ds, int32_t c);

/* 1 if row i takes part in a graph built with `metric` (finite, not zero for cosine). */
static inline int assay__row_in_graph(const assay_dataset *ds, size_t i, assay_metric metric) {
    uint8_t f = ds->row_flags[i];
    if (f & (ASSAY__ROW_NONFINITE | ASSAY__ROW_OVERFLOW)) return 0;
    if (metric == ASSAY_METRIC_COSINE && (f & ASSAY__ROW_ZERO)) return 0;
    return 1;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Datasets from the caller's arrays (assay_dataset_from_arrays): the in-memory counterpart of
 * the file loaders. Values are converted exactly as the .npy loader converts the same dtype, so
 * a dataset built from arrays has the row digests, and gives the scan results, of the same data
 * saved with np.save. A float32 matrix in a usable layout is borrowed, not copied. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/dataset_internal.h"

static const struct {
    const char *name;
    size_t size;
} k_dtypes[ASSAY_DTYPE_COUNT] = {
    [ASSAY_DTYPE_F32] = {"float32", 4}, [ASSAY_DTYPE_F64] = {"float64", 8},
    [ASSAY_DTYPE_F16] = {"float16", 2}, [ASSAY_DTYPE_U8] = {"uint8", 1},
    [ASSAY_DTYPE_I8] = {"int8", 1},     [ASSAY_DTYPE_U16] = {"uint16", 2},
    [ASSAY_DTYPE_I16] = {"int16", 2},   [ASSAY_DTYPE_U32] = {"uint32", 4},
    [ASSAY_DTYPE_I32] = {"int32", 4},   [ASSAY_DTYPE_U64] = {"uint64", 8},
    [ASSAY_DTYPE_I64] = {"int64", 8},
};

size_t assay_dtype_size(assay_dtype t) {
    return (unsigned)t < ASSAY_DTYPE_COUNT ? k_dtypes[t].size : 0;
}

const char *assay_dtype_name(assay_dtype t) {
    return (unsigned)t < ASSAY_DTYPE_COUNT ? k_dtypes[t].name : "unknown";
}

static int is_float(assay_dtype t) {
    return t == ASSAY_DTYPE_F32 || t == ASSAY_DTYPE_F64 || t == ASSAY_DTYPE_F16;
}

/* ---- element access (host byte order; unaligned-safe) ---- */

#define LOADER(name, T)                                                                            \
    static T name(const unsigned char *p) {                                                        \
        T v;                                                                                       \
        memcpy(&v, p, sizeof v);                                                                   \
        return v;                                                                                  \
    }
LOADER(ld_f32, float)
LOADER(ld_f64, double)
LOADER(ld_u16, uint16_t)
LOADER(ld_i16, int16_t)
LOADER(ld_u32, uint32_t)
LOADER(ld_i32, int32_t)
LOADER(ld_u64, uint64_t)
LOADER(ld_i64, int64_t)
#undef LOADER

/* One element as float32, rounded once to nearest as the .npy loader rounds it: 64-bit integers
 * by their own cast (through double they could round twice). */
static float elem_f32(assay_dtype t, const unsigned char *p) {
    switch (t) {
    case ASSAY_DTYPE_F32:
        return ld_f32(p);
    case ASSAY_DTYPE_F64:
        return (float)ld_f64(p);
    case ASSAY_DTYPE_F16:
        return assay__half_to_float(ld_u16(p));
    case ASSAY_DTYPE_U8:
        return (float)p[0];
    case ASSAY_DTYPE_I8:
        return (float)(int8_t)p[0];
    case ASSAY_DTYPE_U16:
        return (float)ld_u16(p);
    case ASSAY_DTYPE_I16:
        return (float)ld_i16(p);
    case ASSAY_DTYPE_U32:
        return (float)(double)ld_u32(p);
    case ASSAY_DTYPE_I32:
        return (float)(double)ld_i32(p);
    case ASSAY_DTYPE_U64:
        return (float)ld_u64(p);
    default:
        return (float)ld_i64(p);
    }
}

/* One element as double: exact for floats and integers up to 2^53. */
static double elem_f64(assay_dtype t, const unsigned char *p) {
    switch (t) {
    case ASSAY_DTYPE_F64:
        return ld_f64(p);
    case ASSAY_DTYPE_U64:
        return (double)ld_u64(p);
    case ASSAY_DTYPE_I64:
        return (double)ld_i64(p);
    default:
        return (double)elem_f32(t, p); /* exact for every narrower type */
    }
}

/* ---- checking an array's description ---- */

/* Fills in default strides and checks the shape. `what` names the array in messages. */
static assay_status check_array(assay_ctx *ctx, const char *what, assay_array *a, size_t rows,
                                int vector) {
    if ((unsigned)a->dtype >= ASSAY_DTYPE_COUNT)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: unknown dtype %d", what, (int)a->dtype);
    size_t es = k_dtypes[a->dtype].size;
    if (vector && a->cols == 0) a->cols = 1;
    if (vector && a->cols != 1)
        return assay__fail(ctx, ASSAY_E_SHAPE,
                           "%s: expected a vector of shape (N,) or (N, 1), found (%zu, %zu)", what,
                           a->rows, a->cols);
    if (rows != SIZE_MAX && a->rows != rows)
        return assay__fail(ctx, ASSAY_E_SHAPE, "%s have %zu rows, but the embeddings have %zu rows",
                           what, a->rows, rows);
    size_t row_bytes;
    if (assay__mul_overflows(a->cols, es, &row_bytes) || row_bytes > (size_t)PTRDIFF_MAX)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: %zu columns are too many", what, a->cols);
    if (a->col_stride == 0) a->col_stride = (ptrdiff_t)es;
    if (a->row_stride == 0) a->row_stride = (ptrdiff_t)row_bytes;
    return ASSAY_OK;
}

static const unsigned char *elem_at(const assay_array *a, size_t r, size_t c) {
    return (const unsigned char *)a->data + (ptrdiff_t)r * a->row_stride +
           (ptrdiff_t)c * a->col_stride;
}

/* ---- the embeddings ---- */

/* The caller's float32 matrix can be read in place: contiguous rows of 4-byte aligned floats. */
static int borrowable(const assay_array *a) {
    return a->dtype == ASSAY_DTYPE_F32 && a->col_stride == 4 && a->row_stride > 0 &&
           a->row_stride % 4 == 0 && (size_t)a->row_stride >= 4 * a->cols &&
           ((uintptr_t)a->data & 3u) == 0;
}

typedef struct convert_job {
    const assay_array *a;
    float *x;
    size_t ld;
    size_t rows_per_task;
} convert_job;

static void convert_task(void *arg, size_t task, int worker) {
    (void)worker;
    const convert_job *j = arg;
    const assay_array *a = j->a;
    size_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task;
    if (r1 > a->rows) r1 = a->rows;
    for (size_t r = r0; r < r1; r++) {
        float *dst = j->x + r * j->ld;
        for (size_t c = 0; c < a->cols; c++) dst[c] = elem_f32(a->dtype, elem_at(a, r, c));
        /* the padding is zero, as the file loaders leave it */
        memset(dst + a->cols, 0, (j->ld - a->cols) * sizeof *dst);
    }
}

/* Converts (or copies) the array into a new padded float32 matrix. */
static assay_status convert_matrix(assay_ctx *ctx, const assay_array *a, float **x, size_t *ld) {
    size_t stride = assay__row_stride(a->cols), elems, bytes;
    if (assay__mul_overflows(a->rows, stride, &elems) ||
        assay__mul_overflows(elems, sizeof(float), &bytes))
        return assay__fail(ctx, ASSAY_E_NOMEM, "embeddings: [%zu, %zu] is too large for float32",
                           a->rows, a->cols);
    float *buf = assay__aligned_alloc(bytes ? bytes : 64);
    if (buf == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM,
                           "embeddings: out of memory for a %zu-byte float32 copy", bytes);
    convert_job job = {a, buf, stride, 4096};
    size_t tasks = (a->rows + job.rows_per_task - 1) / job.rows_per_task;
    assay_status s = assay__parallel_for(ctx, tasks, ctx->n_threads, convert_task, &job);
    if (s != ASSAY_OK) {
        free(buf);
        return s;
    }
    *x = buf;
    *ld = stride;
    return ASSAY_OK;
}

assay_status assay__dataset_own_matrix(assay_ctx *ctx, assay_dataset *ds) {
    if (!ds->x_borrowed) return ASSAY_OK;
    assay_array a = {ds->x,
                     ASSAY_DTYPE_F32,
                     ds->n,
                     ds->d,
                     (ptrdiff_t)(ds->ld * sizeof(float)),
                     (ptrdiff_t)sizeof(float)};
    float *x = NULL;
    size_t ld = 0;
    ASSAY_TRY(convert_matrix(ctx, &a, &x, &ld));
    ds->x = x;
    ds->ld = ld;
    ds->x_borrowed = 0;
    return ASSAY_OK;
}

/* ---- labels and ids ---- */

static assay_status strings_column(assay_ctx *ctx, const char *what, const char *const *v, size_t n,
                                   assay__column *out) {
    const uint64_t max_len = assay__limits(ctx)->max_label_bytes;
    if ((out->s = calloc(n ? n : 1, sizeof *out->s)) == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (%s)", what);
    out->type = ASSAY__COL_STR;
    out->n = n;
    for (size_t r = 0; r < n; r++) {
        if (v[r] == NULL)
            return assay__fail(ctx, ASSAY_E_INVAL, "%s: row %zu is NULL, expected a string", what,
                               r);
        size_t len = strlen(v[r]);
        if (len == 0)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: row %zu is empty: an empty value would become a class or id "
                               "of its own",
                               what, r);
        if ((uint64_t)len > max_len)
            return assay__fail(ctx, ASSAY_E_LIMIT,
                               "%s: row %zu is %zu bytes long, exceeds --max-label-bytes (%llu)",
                               what, r, len, (unsigned long long)max_len);
        size_t bad = assay__utf8_bad_at(v[r], len);
        if (bad != len)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: row %zu: byte %zu is 0x%02x, not valid UTF-8 (labels and ids "
                               "must be UTF-8 text)",
                               what, r, bad + 1, (unsigned char)v[r][bad]);
        if ((out->s[r] = assay__strpool_add(&out->pool, v[r], len)) == NULL)
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (%s)", what);
    }
    return ASSAY_OK;
}

/* An integer vector; floats are accepted when every value is whole, as the .npy loader does. */
static assay_status integer_column(assay_ctx *ctx, const char *what, const assay_array *a,
                                   assay__column *out) {
    size_t bytes;
    if (assay__mul_overflows(a->rows ? a->rows : 1, sizeof *out->i, &bytes) ||
        (out->i = malloc(bytes)) == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (%s)", what);
    out->type = ASSAY__COL_INT;
    out->n = a->rows;
    for (size_t r = 0; r < a->rows; r++) {
        const unsigned char *p = elem_at(a, r, 0);
        if (a->dtype == ASSAY_DTYPE_I64) {
            out->i[r] = ld_i64(p);
        } else if (a->dtype == ASSAY_DTYPE_U64) {
            uint64_t u = ld_u64(p);
            if (u > (uint64_t)INT64_MAX)
                return assay__fail(ctx, ASSAY_E_FORMAT,
                                   "%s: row %zu is %llu; expected an integer of at most 2^63-1",
                                   what, r, (unsigned long long)u);
            out->i[r] = (int64_t)u;
        } else {
            double v = elem_f64(a->dtype, p);
            if (is_float(a->dtype) && !(v == floor(v) && v >= -0x1p63 && v < 0x1p63))
                return assay__fail(ctx, ASSAY_E_FORMAT,
                                   "%s: row %zu is %.17g, not an integer (a %s array is accepted "
                                   "only when every value is whole)",
                                   what, r, v, assay_dtype_name(a->dtype));
            out->i[r] = (int64_t)v;
        }
    }
    return ASSAY_OK;
}

/* Labels or ids from an integer array or from strings (exactly one for labels). */
static assay_status column(assay_ctx *ctx, const char *what, assay_array a,
                           const char *const *strings, size_t n, int required, assay__column *out) {
    if (a.data != NULL && strings != NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: give an integer array or strings, not both",
                           what);
    if (a.data == NULL && strings == NULL)
        return required ? assay__fail(ctx, ASSAY_E_INVAL, "%s: none given (required)", what)
                        : ASSAY_OK;
    if (strings != NULL)
        ASSAY_TRY(strings_column(ctx, what, strings, n, out));
    else {
        ASSAY_TRY(check_array(ctx, what, &a, n, 1));
        ASSAY_TRY(integer_column(ctx, what, &a, out));
    }
    return assay__column_set_source(ctx, out, "%s (array)", what);
}

/* ---- predicted probabilities ---- */

static assay_status pred_probs(assay_ctx *ctx, assay_dataset *ds, assay_array a) {
    if (a.data == NULL) return ASSAY_OK;
    ASSAY_TRY(check_array(ctx, "pred_probs", &a, ds->n, 0));
    if (!is_float(a.dtype))
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "pred_probs: expected a float array of probabilities, found %s",
                           assay_dtype_name(a.dtype));
    size_t elems, bytes;
    if (assay__mul_overflows(a.rows, a.cols, &elems) ||
        assay__mul_overflows(elems ? elems : 1, sizeof(float), &bytes) ||
        (ds->pred_probs = malloc(bytes)) == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (pred_probs)");
    for (size_t r = 0; r < a.rows; r++)
        for (size_t c = 0; c < a.cols; c++)
            ds->pred_probs[r * a.cols + c] = elem_f32(a.dtype, elem_at(&a, r, c));
    ds->pp_rows = a.rows;
    ds->pp_cols = a.cols;
    return (ds->pp_source = strdup("pred_probs (array)")) != NULL
               ? ASSAY_OK
               : assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
}

/* ---- the dataset ---- */

static assay_status build(assay_ctx *ctx, const assay_arrays *in, assay_dataset *ds) {
    assay_array e = in->embeddings;
    if (e.data == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "embeddings: no array given (required)");
    ASSAY_TRY(check_array(ctx, "embeddings", &e, SIZE_MAX, 0));
    const assay_limits *lim = assay__limits(ctx);
    if ((uint64_t)e.rows > lim->max_rows)
        return assay__fail(ctx, ASSAY_E_LIMIT, "embeddings: %zu rows exceed --max-rows (%llu)",
                           e.rows, (unsigned long long)lim->max_rows);
    if ((uint64_t)e.cols > lim->max_dims)
        return assay__fail(ctx, ASSAY_E_LIMIT, "embeddings: %zu columns exceed --max-dims (%llu)",
                           e.cols, (unsigned long long)lim->max_dims);
    ds->n = e.rows;
    ds->d = e.cols;
    if (e.rows > 0 && e.cols > 0) {
        if (!in->copy && borrowable(&e)) {
            ds->x = (float *)(uintptr_t)e.data; /* only read: see x_borrowed */
            ds->ld = (size_t)e.row_stride / sizeof(float);
            ds->x_borrowed = 1;
        } else {
            ASSAY_TRY(convert_matrix(ctx, &e, &ds->x, &ds->ld));
        }
    }
    ASSAY_TRY(column(ctx, "labels", in->labels, in->label_strings, e.rows, 1, &ds->labels));
    ASSAY_TRY(column(ctx, "ids", in->ids, in->id_strings, e.rows, 0, &ds->ids));
    return pred_probs(ctx, ds, in->pred_probs);
}

assay_status assay_dataset_from_arrays(assay_ctx *ctx, const assay_arrays *arrays,
                                       assay_dataset **out) {
    if (out == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_dataset_from_arrays: out is NULL");
    *out = NULL;
    if (ctx == NULL || arrays == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_dataset_from_arrays: NULL argument");
    ctx->errmsg[0] = '\0';
    double t0 = assay__now();
    assay_dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    ds->format = ASSAY_FORMAT_MEMORY;
    ds->limits = *assay__limits(ctx);
    ds->path = strdup(arrays->name != NULL && arrays->name[0] ? arrays->name : "(memory)");
    assay_status s = ds->path ? ASSAY_OK : assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    assay__progress(ctx, "load", 0, 1);
    if (s == ASSAY_OK) s = build(ctx, arrays, ds);
    if (s == ASSAY_OK) {
        ds->t_load = assay__now() - t0;
        assay__progress(ctx, "load", 1, 1);
        assay_load_opts lo = ASSAY_LOAD_OPTS_INIT;
        lo.classes = arrays->classes;
        s = assay__dataset_finish(ctx, ds, &lo);
    }
    if (s == ASSAY_OK) s = assay__check_cancel(ctx);
    if (s != ASSAY_OK) {
        assay_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return ASSAY_OK;
}

int assay_dataset_borrowed(const assay_dataset *ds) {
    return ds != NULL && ds->x_borrowed;
}

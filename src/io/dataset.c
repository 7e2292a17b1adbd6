/* SPDX-License-Identifier: Apache-2.0 */
/* Loading a dataset: format detection, the separate label/id/probability files, and the common
 * finishing step (lengths, class map, row validity, fingerprint) shared by every loader. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dataset_internal.h"
#include "io/input.h"

size_t assay__row_stride(size_t d) {
    return (d + 15) / 16 * 16;
}

static const char *or_default(const char *s, const char *def) {
    return (s != NULL && s[0] != '\0') ? s : def;
}

static int has_ext(const char *path, const char *ext) {
    size_t lp = strlen(path), le = strlen(ext);
    return lp >= le && strcasecmp(path + lp - le, ext) == 0;
}

/* Opens the file to tell a missing, unreadable, special (FIFO, device, directory), oversized or
 * empty file from a data file, then picks the format from its first bytes (HDF5 signature,
 * NumPy magic) or, failing that, its extension. "-" (standard input, allowed only where
 * `allow_stdin`) is a CSV table and is not read here. */
static assay_status detect_format(assay_ctx *ctx, const char *path, const char *what,
                                  int allow_stdin, assay_format *fmt) {
    if (assay__is_stdin_path(path) && allow_stdin) {
        if (*fmt != ASSAY_FORMAT_AUTO && *fmt != ASSAY_FORMAT_CSV)
            return assay__fail(ctx, ASSAY_E_INVAL,
                               "-: standard input is read only as CSV, not as %s",
                               assay_format_name(*fmt));
        *fmt = ASSAY_FORMAT_CSV;
        return ASSAY_OK;
    }
    assay__input in;
    ASSAY_TRY(assay__input_open(ctx, path, what, 0, &in));
    unsigned char magic[8] = {0};
    size_t got = 0;
    while (got < sizeof magic) {
        ssize_t r = read(in.fd, magic + got, sizeof magic - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    assay__input_close(&in);
    if (got == 0)
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: file is empty, expected %s", path, what);
    if (*fmt != ASSAY_FORMAT_AUTO) return ASSAY_OK;
    static const unsigned char h5sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (got == 8 && memcmp(magic, h5sig, 8) == 0)
        *fmt = ASSAY_FORMAT_HDF5;
    else if (got >= 6 && memcmp(magic, "\x93NUMPY", 6) == 0)
        *fmt = ASSAY_FORMAT_NPY;
    else if (has_ext(path, ".h5") || has_ext(path, ".hdf5") || has_ext(path, ".he5"))
        *fmt = ASSAY_FORMAT_HDF5; /* the loader will say the signature is missing */
    else if (has_ext(path, ".npy"))
        *fmt = ASSAY_FORMAT_NPY;
    else
        *fmt = ASSAY_FORMAT_CSV;
    return ASSAY_OK;
}

assay_status assay__dataset_add_file(assay_ctx *ctx, assay_dataset *ds, const char *role,
                                     const char *path) {
    if (ds->n_files == ASSAY__MAX_FILES)
        return assay__fail(ctx, ASSAY_E_INTERNAL, "too many input files");
    assay__file_info *f = &ds->files[ds->n_files];
    snprintf(f->role, sizeof f->role, "%s", role);
    f->path = strdup(path);
    if (f->path == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    ds->n_files++;
    return ASSAY_OK;
}

/* Labels or ids from a separate file: .npy integer vector, or one column of a CSV file. */
static assay_status load_side_column(assay_ctx *ctx, const char *path, const char *column,
                                     assay__column *out) {
    assay__column_free(out);
    assay_format fmt = ASSAY_FORMAT_AUTO;
    ASSAY_TRY(detect_format(ctx, path, "labels or ids (.npy or .csv)", 0, &fmt));
    if (fmt == ASSAY_FORMAT_NPY) return assay__npy_load_column(ctx, path, out);
    if (fmt == ASSAY_FORMAT_HDF5)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED,
                           "%s: labels/ids files must be .npy or .csv; for HDF5 put them in the "
                           "embeddings file and name the dataset with --labels/--ids",
                           path);
    return assay__csv_load_column(ctx, path, column, 1, out);
}

static assay_status load_pred_probs_file(assay_ctx *ctx, assay_dataset *ds, const char *path) {
    assay_format fmt = ASSAY_FORMAT_AUTO;
    ASSAY_TRY(detect_format(ctx, path, "predicted probabilities (.npy)", 0, &fmt));
    if (fmt != ASSAY_FORMAT_NPY)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED,
                           "%s: predicted probabilities must be a float .npy array [N, classes]",
                           path);
    free(ds->pred_probs);
    ds->pred_probs = NULL;
    size_t ld = 0;
    ASSAY_TRY(assay__npy_load_matrix(ctx, path, 0, &ds->pred_probs, &ds->pp_rows, &ds->pp_cols, &ld,
                                     NULL));
    free(ds->pp_source);
    ds->pp_source = strdup(path);
    return ds->pp_source ? ASSAY_OK : assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
}

assay_status assay_dataset_load(assay_ctx *ctx, const char *path, const assay_load_opts *opts,
                                assay_dataset **out) {
    if (out == NULL) return assay__fail(ctx, ASSAY_E_INVAL, "assay_dataset_load: out is NULL");
    *out = NULL;
    if (ctx == NULL || path == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_dataset_load: NULL argument");
    assay_load_opts o = ASSAY_LOAD_OPTS_INIT;
    if (opts != NULL) o = *opts;
    ctx->errmsg[0] = '\0';

    double t0 = assay__now();
    assay_dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    assay_status s = ASSAY_OK;
    ds->path = strdup(path);
    if (ds->path == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        goto fail;
    }
    ds->format = o.format;
    ds->limits = *assay__limits(ctx);
    if ((s = detect_format(ctx, path, "HDF5, CSV or .npy embeddings", 1, &ds->format)) != ASSAY_OK)
        goto fail;
    assay__progress(ctx, "load", 0, 1);

    switch (ds->format) {
    case ASSAY_FORMAT_HDF5:
        s = assay__h5_load(ctx, ds, path, &o);
        if (s == ASSAY_OK) s = assay__dataset_add_file(ctx, ds, "embeddings", path);
        break;
    case ASSAY_FORMAT_CSV:
        s = assay__csv_load(ctx, ds, path, &o);
        /* (standard input was hashed while read and recorded by the loader) */
        if (s == ASSAY_OK && !assay__is_stdin_path(path))
            s = assay__dataset_add_file(ctx, ds, "table", path);
        break;
    case ASSAY_FORMAT_NPY: {
        /* Checked first: no point reading a large array without its labels. */
        if (o.labels_file == NULL) {
            s = assay__fail(ctx, ASSAY_E_INVAL,
                            "%s: a .npy file holds only the embeddings; give the labels with "
                            "--labels-file labels.npy|labels.csv",
                            path);
            break;
        }
        assay__npy_matrix_info info = {0, 0};
        s = assay__npy_load_matrix(ctx, path, 1, &ds->x, &ds->n, &ds->d, &ds->ld, &info);
        ds->npy_data_offset = info.data_offset;
        ds->npy_row_bytes = info.itemsize * ds->d;
        if (s == ASSAY_OK) s = assay__dataset_add_file(ctx, ds, "embeddings", path);
        break;
    }
    default:
        s = assay__fail(ctx, ASSAY_E_INVAL, "unknown input format %d", (int)ds->format);
    }
    if (s != ASSAY_OK) goto fail;

    if (o.labels_file != NULL) {
        s = load_side_column(ctx, o.labels_file,
                             or_default(o.label_column, ASSAY_DEFAULT_LABEL_COLUMN), &ds->labels);
        if (s == ASSAY_OK) s = assay__dataset_add_file(ctx, ds, "labels", o.labels_file);
        if (s != ASSAY_OK) goto fail;
    }
    if (o.ids_file != NULL) {
        s = load_side_column(ctx, o.ids_file, or_default(o.id_column, ASSAY_DEFAULT_ID_COLUMN),
                             &ds->ids);
        if (s == ASSAY_OK) s = assay__dataset_add_file(ctx, ds, "ids", o.ids_file);
        if (s != ASSAY_OK) goto fail;
    }
    if (o.pred_probs_file != NULL) {
        s = load_pred_probs_file(ctx, ds, o.pred_probs_file);
        if (s == ASSAY_OK) s = assay__dataset_add_file(ctx, ds, "pred_probs", o.pred_probs_file);
        if (s != ASSAY_OK) goto fail;
    }
    ds->t_load = assay__now() - t0;
    assay__progress(ctx, "load", 1, 1);
    if ((s = assay__dataset_finish(ctx, ds, &o)) != ASSAY_OK) goto fail;
    if ((s = assay__check_cancel(ctx)) != ASSAY_OK) goto fail;
    *out = ds;
    return ASSAY_OK;
fail:
    assay_dataset_destroy(ds);
    return s;
}

void assay_dataset_destroy(assay_dataset *ds) {
    if (ds == NULL) return;
    free(ds->path);
    if (ds->x_mapped) {
        if (!assay__bulk_release(ds->x)) munmap(ds->x, ds->x_mapped);
    } else if (!ds->x_borrowed) {
        assay__bulk_free(ds->x);
    }
    assay__column_free(&ds->labels);
    free(ds->y);
    free(ds->class_label);
    free(ds->class_name);
    free(ds->class_count);
    free(ds->declared);
    assay__column_free(&ds->ids);
    free(ds->pred_probs);
    free(ds->pp_source);
    free(ds->csv_line);
    free(ds->h5_embeddings);
    free(ds->row_flags);
    free(ds->bad_rows);
    free(ds->row_digest);
    free(ds->content_digest);
    for (size_t i = 0; i < ds->n_files; i++) free(ds->files[i].path);
    assay__strpool_free(&ds->pool);
    free(ds);
}

/* ---- class map ---- */

typedef struct int_key {
    int64_t v;
    int32_t cls;
} int_key;

typedef struct str_key {
    const char *s;
    int32_t cls;
} str_key;

static int cmp_int_key(const void *a, const void *b) {
    int64_t x = ((const int_key *)a)->v, y = ((const int_key *)b)->v;
    return (x > y) - (x < y);
}

static int cmp_str_key(const void *a, const void *b) {
    return strcmp(((const str_key *)a)->s, ((const str_key *)b)->s);
}

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_strp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits the --classes list at commas (spaces around names are dropped) into ds->declared. */
static assay_status parse_declared(assay_ctx *ctx, assay_dataset *ds, const char *list) {
    size_t cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    free(ds->declared);
    ds->declared = calloc(cap, sizeof *ds->declared);
    if (ds->declared == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    ds->n_declared = 0;
    ds->declared_names_for_ints = 0;
    const char *cursor = list, *a, *b;
    while (assay__list_next(&cursor, &a, &b)) {
        if (a == b)
            return assay__fail(ctx, ASSAY_E_INVAL, "--classes: empty class name in '%s'", list);
        char *name = assay__strpool_add(&ds->pool, a, (size_t)(b - a));
        if (name == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        ds->declared[ds->n_declared++] = name;
    }
    return ASSAY_OK;
}

static assay_status alloc_classes(assay_ctx *ctx, assay_dataset *ds, size_t c) {
    ds->n_classes = c;
    ds->class_label = calloc(c ? c : 1, sizeof *ds->class_label);
    ds->class_name = calloc(c ? c : 1, sizeof *ds->class_name);
    ds->class_count = calloc(c ? c : 1, sizeof *ds->class_count);
    if (!ds->class_label || !ds->class_name || !ds->class_count)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    return ASSAY_OK;
}

static assay_status int_class_text(assay_ctx *ctx, assay_dataset *ds, size_t c, int64_t v) {
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%lld", (long long)v);
    ds->class_label[c] = assay__strpool_add(&ds->pool, buf, (size_t)len);
    if (ds->class_label[c] == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    ds->class_name[c] = ds->class_label[c];
    return ASSAY_OK;
}

static assay_status build_int_classes(assay_ctx *ctx, assay_dataset *ds) {
    const assay__column *L = &ds->labels;
    size_t n = L->n;
    int_key *keys = NULL;
    size_t n_keys = 0;
    assay_status s = ASSAY_OK;
    if (ds->n_declared > 0 && ds->declared_names_for_ints) {
        /* HDF5 class_names attribute: labels 0..C-1, named. */
        if ((s = alloc_classes(ctx, ds, ds->n_declared)) != ASSAY_OK) return s;
        for (size_t c = 0; c < ds->n_declared; c++) {
            if ((s = int_class_text(ctx, ds, c, (int64_t)c)) != ASSAY_OK) return s;
            ds->class_name[c] = ds->declared[c];
        }
        for (size_t r = 0; r < n; r++) {
            int64_t v = L->i[r];
            ds->y[r] = (v >= 0 && (uint64_t)v < ds->n_declared) ? (int32_t)v : -1;
        }
        return ASSAY_OK;
    }
    if (ds->n_declared > 0) {
        keys = malloc(ds->n_declared * sizeof *keys);
        if (keys == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        if ((s = alloc_classes(ctx, ds, ds->n_declared)) != ASSAY_OK) goto out;
        for (size_t c = 0; c < ds->n_declared; c++) {
            int64_t v;
            if (assay__parse_int64(ds->declared[c], &v) != 0) {
                s = assay__fail(ctx, ASSAY_E_INVAL,
                                "--classes: '%s' is not an integer, but the labels in %s are "
                                "integers",
                                ds->declared[c], L->source ? L->source : ds->path);
                goto out;
            }
            keys[c].v = v;
            keys[c].cls = (int32_t)c;
            if ((s = int_class_text(ctx, ds, c, v)) != ASSAY_OK) goto out;
        }
        n_keys = ds->n_declared;
    } else {
        int64_t *vals = malloc((n ? n : 1) * sizeof *vals);
        if (vals == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        memcpy(vals, L->i, n * sizeof *vals);
        qsort(vals, n, sizeof *vals, cmp_int64);
        size_t u = 0;
        for (size_t r = 0; r < n; r++)
            if (u == 0 || vals[r] != vals[u - 1]) vals[u++] = vals[r];
        keys = malloc((u ? u : 1) * sizeof *keys);
        if (keys == NULL || (s = alloc_classes(ctx, ds, u)) != ASSAY_OK) {
            free(vals);
            if (keys == NULL) s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
            goto out;
        }
        for (size_t c = 0; c < u; c++) {
            keys[c].v = vals[c];
            keys[c].cls = (int32_t)c;
            if ((s = int_class_text(ctx, ds, c, vals[c])) != ASSAY_OK) break;
        }
        free(vals);
        if (s != ASSAY_OK) goto out;
        n_keys = u;
    }
    qsort(keys, n_keys, sizeof *keys, cmp_int_key);
    for (size_t c = 1; c < n_keys; c++)
        if (keys[c].v == keys[c - 1].v) {
            s = assay__fail(ctx, ASSAY_E_INVAL, "--classes: class %lld is listed twice",
                            (long long)keys[c].v);
            goto out;
        }
    for (size_t r = 0; r < n; r++) {
        int_key probe = {L->i[r], 0};
        const int_key *hit = bsearch(&probe, keys, n_keys, sizeof *keys, cmp_int_key);
        ds->y[r] = hit ? hit->cls : -1;
    }
out:
    free(keys);
    return s;
}

static assay_status build_str_classes(assay_ctx *ctx, assay_dataset *ds) {
    const assay__column *L = &ds->labels;
    size_t n = L->n;
    assay_status s = ASSAY_OK;
    char **names = NULL;
    size_t c_count;
    if (ds->n_declared > 0) {
        names = ds->declared;
        c_count = ds->n_declared;
    } else {
        names = malloc((n ? n : 1) * sizeof *names);
        if (names == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        memcpy(names, L->s, n * sizeof *names);
        qsort(names, n, sizeof *names, cmp_strp);
        size_t u = 0;
        for (size_t r = 0; r < n; r++)
            if (u == 0 || strcmp(names[r], names[u - 1]) != 0) names[u++] = names[r];
        c_count = u;
    }
    str_key *keys = malloc((c_count ? c_count : 1) * sizeof *keys);
    if (keys == NULL || (s = alloc_classes(ctx, ds, c_count)) != ASSAY_OK) {
        if (keys == NULL) s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < c_count; c++) {
        char *t = assay__strpool_add(&ds->pool, names[c], strlen(names[c]));
        if (t == NULL) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
            goto out;
        }
        ds->class_label[c] = ds->class_name[c] = t;
        keys[c].s = t;
        keys[c].cls = (int32_t)c;
    }
    qsort(keys, c_count, sizeof *keys, cmp_str_key);
    for (size_t c = 1; c < c_count; c++)
        if (strcmp(keys[c].s, keys[c - 1].s) == 0) {
            s = assay__fail(ctx, ASSAY_E_INVAL, "--classes: class '%s' is listed twice", keys[c].s);
            goto out;
        }
    for (size_t r = 0; r < n; r++) {
        str_key probe = {L->s[r], 0};
        const str_key *hit = bsearch(&probe, keys, c_count, sizeof *keys, cmp_str_key);
        ds->y[r] = hit ? hit->cls : -1;
    }
out:
    if (names != ds->declared) free(names);
    free(keys);
    return s;
}

/* ---- row validity ---- */

typedef struct validity_job {
    assay_dataset *ds;
    size_t rows_per_task;
} validity_job;

static void validity_task(void *arg, size_t task, int worker) {
    (void)worker;
    validity_job *j = arg;
    assay_dataset *ds = j->ds;
    size_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task;
    if (r1 > ds->n) r1 = ds->n;
    for (size_t r = r0; r < r1; r++) {
        const float *x = ds->x + r * ds->ld;
        double ss = 0.0;
        size_t bad = 0, nonzero = 0;
        for (size_t c = 0; c < ds->d; c++) {
            float v = x[c];
            if (!isfinite(v))
                bad++;
            else
                ss += (double)v * (double)v;
            nonzero += v != 0.0f;
        }
        uint8_t f = 0;
        if (bad) f |= ASSAY__ROW_NONFINITE;
        /* Distances are formed from sums of squared norms in float32; keep them finite. */
        else if (ss > (double)FLT_MAX / 8.0)
            f |= ASSAY__ROW_OVERFLOW;
        if (nonzero == 0) f |= ASSAY__ROW_ZERO;
        ds->row_flags[r] = f;
    }
}

static assay_status mark_rows(assay_ctx *ctx, assay_dataset *ds) {
    validity_job job = {ds, 4096};
    size_t tasks = (ds->n + job.rows_per_task - 1) / job.rows_per_task;
    ASSAY_TRY(assay__parallel_for(ctx, tasks, ctx->n_threads, validity_task, &job));
    size_t nb = 0;
    for (size_t r = 0; r < ds->n; r++) {
        if (ds->y[r] < 0) ds->row_flags[r] |= ASSAY__ROW_BADLABEL;
        uint8_t f = ds->row_flags[r];
        nb += (f & (ASSAY__ROW_NONFINITE | ASSAY__ROW_OVERFLOW)) != 0;
        ds->n_zero += (f & ASSAY__ROW_ZERO) != 0;
        ds->n_badlabel += (f & ASSAY__ROW_BADLABEL) != 0;
    }
    ds->n_excluded_nonfinite = nb;
    if (nb == 0) return ASSAY_OK;
    ds->bad_rows = calloc(nb, sizeof *ds->bad_rows);
    if (ds->bad_rows == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t r = 0; r < ds->n; r++) {
        if (!(ds->row_flags[r] & (ASSAY__ROW_NONFINITE | ASSAY__ROW_OVERFLOW))) continue;
        assay__bad_row *b = &ds->bad_rows[ds->n_bad_rows++];
        b->row = r;
        const float *x = ds->x + r * ds->ld;
        b->first_col = ds->d;
        for (size_t c = 0; c < ds->d; c++)
            if (!isfinite(x[c])) {
                if (b->nonfinite++ == 0) b->first_col = c;
            }
    }
    return ASSAY_OK;
}

static assay_status check_length(assay_ctx *ctx, const assay_dataset *ds, const char *what,
                                 const char *source, size_t n) {
    if (n == ds->n) return ASSAY_OK;
    char emb[1024];
    if (ds->h5_embeddings)
        snprintf(emb, sizeof emb, "%s:%s", ds->path, ds->h5_embeddings);
    else
        snprintf(emb, sizeof emb, "%s", ds->path);
    return assay__fail(ctx, ASSAY_E_SHAPE,
                       "%s (%s) have %zu rows, but the embeddings (%s) have %zu rows", what,
                       source ? source : "?", n, emb, ds->n);
}

/* Predicted probabilities must be probabilities: finite, in [0, 1], each row summing to 1
 * (within float32 rounding of C terms), so logits or scores given by mistake are refused. */
static assay_status check_pred_probs(assay_ctx *ctx, const assay_dataset *ds) {
    const char *src = ds->pp_source ? ds->pp_source : "predicted probabilities";
    if (ds->pp_cols != ds->n_classes)
        return assay__fail(ctx, ASSAY_E_SHAPE,
                           "predicted probabilities (%s) have %zu columns, but the labels have %zu "
                           "classes",
                           src, ds->pp_cols, ds->n_classes);
    for (size_t r = 0; r < ds->pp_rows; r++) {
        const float *p = ds->pred_probs + r * ds->pp_cols;
        double sum = 0.0;
        for (size_t c = 0; c < ds->pp_cols; c++) {
            if (!(p[c] >= 0.0f && p[c] <= 1.0f))
                return assay__fail(ctx, ASSAY_E_FORMAT,
                                   "%s: row %zu, column %zu: %g is not a probability in [0, 1] "
                                   "(logits? apply softmax first)",
                                   src, r, c, (double)p[c]);
            sum += p[c];
        }
        if (fabs(sum - 1.0) > 1e-3 + 1e-6 * (double)ds->pp_cols)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: row %zu sums to %.6g, expected 1 (one probability per class)",
                               src, r, sum);
    }
    return ASSAY_OK;
}

assay_status assay__dataset_finish(assay_ctx *ctx, assay_dataset *ds, const assay_load_opts *opts) {
    if (ds->n == 0)
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: the embeddings have no rows", ds->path);
    if (ds->d == 0)
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: the embeddings have no feature columns",
                           ds->path);
    if (ds->labels.type == ASSAY__COL_NONE)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: no labels found (give them with %s)", ds->path,
                           ds->format == ASSAY_FORMAT_HDF5  ? "--labels DATASET or --labels-file"
                           : ds->format == ASSAY_FORMAT_CSV ? "--label-column or --labels-file"
                                                            : "--labels-file");
    ASSAY_TRY(check_length(ctx, ds, "labels", ds->labels.source, ds->labels.n));
    if (ds->ids.type != ASSAY__COL_NONE)
        ASSAY_TRY(check_length(ctx, ds, "ids", ds->ids.source, ds->ids.n));
    if (ds->pred_probs != NULL)
        ASSAY_TRY(check_length(ctx, ds, "predicted probabilities", ds->pp_source, ds->pp_rows));

    if (opts != NULL && opts->classes != NULL) ASSAY_TRY(parse_declared(ctx, ds, opts->classes));
    ds->classes_declared = ds->n_declared > 0;
    ds->y = malloc(ds->n * sizeof *ds->y);
    ds->row_flags = calloc(ds->n, 1);
    if (ds->y == NULL || ds->row_flags == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    if (ds->labels.type == ASSAY__COL_INT)
        ASSAY_TRY(build_int_classes(ctx, ds));
    else {
        if (ds->declared_names_for_ints)
            return assay__fail(ctx, ASSAY_E_FORMAT,
                               "%s: a class_names attribute needs integer labels, found strings",
                               ds->labels.source ? ds->labels.source : ds->path);
        ASSAY_TRY(build_str_classes(ctx, ds));
    }
    for (size_t r = 0; r < ds->n; r++)
        if (ds->y[r] >= 0) ds->class_count[ds->y[r]]++;
    if (ds->pred_probs != NULL) ASSAY_TRY(check_pred_probs(ctx, ds));

    ASSAY_TRY(mark_rows(ctx, ds));
    double t0 = assay__now();
    ASSAY_TRY(assay__fingerprint(ctx, ds));
    ds->t_fingerprint = assay__now() - t0;
    /* After fingerprinting, rows left out of the graph are zeroed so no NaN reaches a GEMM
     * (in a copy when the matrix is the caller's). */
    if (ds->n_bad_rows > 0 && ds->x_borrowed) ASSAY_TRY(assay__dataset_own_matrix(ctx, ds));
    for (size_t i = 0; i < ds->n_bad_rows; i++)
        memset(ds->x + ds->bad_rows[i].row * ds->ld, 0, ds->d * sizeof(float));
    return ASSAY_OK;
}

/* ---- accessors ---- */

size_t assay_dataset_rows(const assay_dataset *ds) {
    return ds ? ds->n : 0;
}
size_t assay_dataset_dims(const assay_dataset *ds) {
    return ds ? ds->d : 0;
}
size_t assay_dataset_classes(const assay_dataset *ds) {
    return ds ? ds->n_classes : 0;
}
assay_format assay_dataset_format(const assay_dataset *ds) {
    return ds ? ds->format : ASSAY_FORMAT_AUTO;
}

const char *assay_format_name(assay_format f) {
    switch (f) {
    case ASSAY_FORMAT_HDF5:
        return "hdf5";
    case ASSAY_FORMAT_CSV:
        return "csv";
    case ASSAY_FORMAT_NPY:
        return "npy";
    case ASSAY_FORMAT_MEMORY:
        return "memory";
    default:
        return "auto";
    }
}

size_t assay_dataset_class_count(const assay_dataset *ds, size_t c) {
    return (ds && c < ds->n_classes) ? ds->class_count[c] : 0;
}

const char *assay_dataset_class_label(const assay_dataset *ds, size_t c) {
    return (ds && c < ds->n_classes) ? ds->class_label[c] : NULL;
}

int32_t assay_dataset_row_class(const assay_dataset *ds, size_t i) {
    return (ds && i < ds->n) ? ds->y[i] : -1;
}

const float *assay_dataset_row(const assay_dataset *ds, size_t i) {
    return (ds && i < ds->n) ? ds->x + i * ds->ld : NULL;
}

assay_status assay_dataset_row_id(const assay_dataset *ds, size_t i, char *buf, size_t buf_len) {
    if (ds == NULL || buf == NULL || buf_len == 0 || i >= ds->n) return ASSAY_E_INVAL;
    int len;
    if (ds->ids.type == ASSAY__COL_NONE)
        len = snprintf(buf, buf_len, "%s", "");
    else if (ds->ids.type == ASSAY__COL_STR)
        len = snprintf(buf, buf_len, "%s", ds->ids.s[i]);
    else
        len = snprintf(buf, buf_len, "%lld", (long long)ds->ids.i[i]);
    return (size_t)len < buf_len ? ASSAY_OK : ASSAY_E_INVAL;
}

assay_status assay_dataset_row_label(const assay_dataset *ds, size_t i, char *buf, size_t buf_len) {
    if (ds == NULL || buf == NULL || buf_len == 0 || i >= ds->n) return ASSAY_E_INVAL;
    char tmp[32];
    int len = snprintf(buf, buf_len, "%s", assay__label_text(ds, i, tmp, sizeof tmp));
    return (size_t)len < buf_len ? ASSAY_OK : ASSAY_E_INVAL;
}

assay_status assay_dataset_digest_hex(const assay_dataset *ds, char *buf, size_t buf_len) {
    if (ds == NULL || buf == NULL || buf_len < 65) return ASSAY_E_INVAL;
    assay__hex32(ds->digest, buf);
    return ASSAY_OK;
}

assay_status assay_dataset_row_digest_hex(const assay_dataset *ds, size_t i, char *buf,
                                          size_t buf_len) {
    if (ds == NULL || buf == NULL || buf_len < 65 || i >= ds->n) return ASSAY_E_INVAL;
    assay__hex32(ds->row_digest[i], buf);
    return ASSAY_OK;
}

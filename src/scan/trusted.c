/* SPDX-License-Identifier: Apache-2.0 */
/* The scan's trusted rows (scan/trusted.h). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/id_list.h"
#include "scan/trusted.h"

typedef struct id_key {
    const char *text; /* string ids */
    int64_t value;    /* integer ids (and row indices) */
    size_t row;
} id_key;

static int cmp_text(const void *a, const void *b) {
    return strcmp(((const id_key *)a)->text, ((const id_key *)b)->text);
}
static int cmp_value(const void *a, const void *b) {
    int64_t x = ((const id_key *)a)->value, y = ((const id_key *)b)->value;
    return (x > y) - (x < y);
}

static assay_status mark_ids(assay_ctx *ctx, const assay_dataset *ds, const char *path,
                             assay_result *res, uint8_t *row) {
    assay__id_list list;
    ASSAY_TRY(assay__id_list_read(ctx, path, &list));
    const size_t n = ds->n;
    const int text = ds->ids.type == ASSAY__COL_STR;
    id_key *keys = malloc((n ? n : 1) * sizeof *keys);
    if (keys == NULL) {
        assay__id_list_free(&list);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (trusted ids)");
    }
    for (size_t r = 0; r < n; r++) {
        keys[r].row = r;
        keys[r].text = text ? ds->ids.s[r] : NULL;
        keys[r].value = ds->ids.type == ASSAY__COL_INT ? ds->ids.i[r] : (int64_t)r;
    }
    qsort(keys, n, sizeof *keys, text ? cmp_text : cmp_value);
    size_t unknown = 0;
    for (size_t i = 0; i < list.n; i++) {
        id_key k = {list.id[i], 0, 0};
        if (!text && assay__parse_int64(list.id[i], &k.value) != 0) {
            unknown++;
            continue;
        }
        const id_key *hit = bsearch(&k, keys, n, sizeof *keys, text ? cmp_text : cmp_value);
        if (hit == NULL) {
            unknown++;
            continue;
        }
        /* every row with that id (ids need not be unique) */
        const id_key *lo = hit, *hi = hit;
        while (lo > keys && (text ? cmp_text(lo - 1, &k) : cmp_value(lo - 1, &k)) == 0) lo--;
        while (hi + 1 < keys + n && (text ? cmp_text(hi + 1, &k) : cmp_value(hi + 1, &k)) == 0)
            hi++;
        for (const id_key *q = lo; q <= hi; q++) row[q->row] = 1;
    }
    res->trusted_ids_listed = list.n;
    res->trusted_ids_unknown = unknown;
    free(keys);
    assay__id_list_free(&list);
    size_t marked = 0;
    for (size_t r = 0; r < n; r++) marked += row[r];
    res->trusted.n_rows = marked;
    if (marked == 0)
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: none of its %zu ids is an id of the dataset (%s)", path,
                           res->trusted_ids_listed,
                           ds->ids.type == ASSAY__COL_NONE ? "it has no ids: 0-based row numbers"
                                                           : "compare the id column");
    return ASSAY_OK;
}

static assay_status match_data(assay_ctx *ctx, const assay_dataset *ds, const assay_dataset *t,
                               assay_result *res) {
    if (t->d != ds->d)
        return assay__fail(ctx, ASSAY_E_SHAPE,
                           "%s: the trusted data has %zu features per row, the dataset %zu",
                           t->path ? t->path : "trusted data", t->d, ds->d);
    int32_t *cls = malloc((t->n ? t->n : 1) * sizeof *cls);
    if (cls == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (trusted data)");
    size_t used = 0;
    for (size_t i = 0; i < t->n; i++) {
        cls[i] = -1;
        const int32_t tc = t->y != NULL ? t->y[i] : -1;
        if (tc < 0 || (size_t)tc >= t->n_classes || (t->row_flags && t->row_flags[i])) continue;
        for (size_t c = 0; c < ds->n_classes; c++)
            if (strcmp(ds->class_label[c], t->class_label[tc]) == 0) {
                cls[i] = (int32_t)c;
                break;
            }
        used += cls[i] >= 0;
    }
    if (used == 0) {
        free(cls);
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: none of the trusted data's %zu rows has a label of the dataset "
                           "with finite features",
                           t->path ? t->path : "trusted data", t->n);
    }
    res->trusted.data = t;
    res->trusted.data_class = cls;
    res->trusted.n_data = used;
    return ASSAY_OK;
}

assay_status assay__trusted_open(assay_ctx *ctx, const assay_dataset *ds, const assay_scan_opts *o,
                                 assay_result *res) {
    if (o->trusted_ids_path != NULL) {
        uint8_t *row = calloc(ds->n ? ds->n : 1, 1);
        if (row == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (trusted ids)");
        res->trusted.row = row;
        ASSAY_TRY(mark_ids(ctx, ds, o->trusted_ids_path, res, row));
    }
    if (o->trusted_data != NULL) ASSAY_TRY(match_data(ctx, ds, o->trusted_data, res));
    return ASSAY_OK;
}

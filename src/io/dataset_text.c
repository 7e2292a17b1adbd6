/* SPDX-License-Identifier: Apache-2.0 */
/* A row's label, id and class as text, for explanations, reports and messages. */
#include <stdio.h>

#include "io/dataset_internal.h"

static const char *column_text(const assay__column *c, size_t r, char *buf, size_t len) {
    if (c->type == ASSAY__COL_STR) return c->s[r];
    if (c->type == ASSAY__COL_INT) {
        snprintf(buf, len, "%lld", (long long)c->i[r]);
        return buf;
    }
    return "";
}

const char *assay__label_text(const assay_dataset *ds, size_t r, char *buf, size_t len) {
    return column_text(&ds->labels, r, buf, len);
}

const char *assay__id_text(const assay_dataset *ds, size_t r, char *buf, size_t len) {
    return column_text(&ds->ids, r, buf, len);
}

const char *assay__class_text(const assay_dataset *ds, int32_t c) {
    if (c < 0 || (size_t)c >= ds->n_classes) return "?";
    return ds->class_name[c];
}

/* SPDX-License-Identifier: Apache-2.0 */
/* What every format says about a row and a finding: labels and ids as JSON, CSV quoting, and
 * the finding's explanation and evidence, which its detector's descriptor defines. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

static json_t *column_json(const assay__column *c, size_t r) {
    if (c->type == ASSAY__COL_INT) return json_integer((json_int_t)c->i[r]);
    if (c->type == ASSAY__COL_STR) return assay__json_str(c->s[r]);
    return json_null();
}

json_t *assay__label_json(const assay_dataset *ds, size_t r) {
    return column_json(&ds->labels, r);
}

json_t *assay__id_json(const assay_dataset *ds, size_t r) {
    return column_json(&ds->ids, r);
}

json_t *assay__files_json(const assay_dataset *ds) {
    json_t *files = json_array();
    char hex[65];
    for (size_t i = 0; i < ds->n_files; i++) {
        assay__hex32(ds->files[i].sha256, hex);
        json_array_append_new(files, json_pack("{s:s, s:o, s:I, s:s}", "role", ds->files[i].role,
                                               "path", assay__json_str(ds->files[i].path), "bytes",
                                               (json_int_t)ds->files[i].bytes, "sha256", hex));
    }
    return files;
}

void assay__csv_field(FILE *fp, const char *s) {
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"') fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

void assay__explain(const assay_dataset *ds, const assay_result *res, const assay__finding *f,
                    char *buf, size_t len) {
    const assay__detector *d = assay__detector_get(f->det);
    if (d == NULL || d->desc->explain == NULL) {
        snprintf(buf, len, "flagged");
        return;
    }
    const assay__det_input in = assay__result_input(NULL, ds, res);
    d->desc->explain(&in, &res->det[f->det], f, buf, len);
}

/* One field's value as JSON. */
static json_t *field_json(const assay__ev_field *field, const assay__ev_value *v) {
    switch (field->type) {
    case ASSAY__EV_INTEGER:
        return json_integer((json_int_t)v->num);
    case ASSAY__EV_BOOL:
        return json_boolean(v->num != 0.0);
    case ASSAY__EV_TEXT:
        return assay__json_str(v->text ? v->text : "");
    case ASSAY__EV_TYPED:
        return assay__json_typed(v->text, v->is_int);
    default:
        return assay__json_num_f32(v->num);
    }
}

json_t *assay__evidence_json(const assay_dataset *ds, const assay_result *res,
                             const assay__finding *f) {
    json_t *o = json_object();
    const assay__detector *d = assay__detector_get(f->det);
    if (d == NULL || o == NULL) return o;
    const assay__detector_desc *desc = d->desc;
    assay__ev_value v[ASSAY__EV_MAX];
    memset(v, 0, sizeof v);
    size_t n = 0;
    if (desc->evidence != NULL) {
        const assay__det_input in = assay__result_input(NULL, ds, res);
        n = desc->evidence(&in, &res->det[f->det], f, v);
    } else {
        for (; n < ASSAY__EV_MAX && desc->fields[n].key != NULL; n++) {
            switch (desc->fields[n].from) {
            case ASSAY__FROM_A:
                v[n].num = f->a;
                break;
            case ASSAY__FROM_B:
                v[n].num = f->b;
                break;
            case ASSAY__FROM_C:
                v[n].num = f->c;
                break;
            case ASSAY__FROM_REF:
                v[n].num = (double)f->ref;
                break;
            default:
                v[n].num = NAN;
            }
        }
    }
    for (size_t i = 0; i < n && desc->fields[i].key != NULL; i++)
        json_object_set_new(o, desc->fields[i].key, field_json(&desc->fields[i], &v[i]));
    return o;
}

/* ---- public: a finding's explanation and evidence ---- */

assay_status assay_report_explain(const assay_dataset *ds, const assay_result *res, size_t i,
                                  char *buf, size_t len) {
    if (ds == NULL || res == NULL || buf == NULL || len == 0 || i >= res->n_findings)
        return ASSAY_E_INVAL;
    assay__explain(ds, res, &res->findings[i], buf, len);
    return ASSAY_OK;
}

assay_status assay_report_evidence_json(assay_ctx *ctx, const assay_dataset *ds,
                                        const assay_result *res, size_t i, char **json) {
    if (json != NULL) *json = NULL;
    if (ds == NULL || res == NULL || json == NULL || i >= res->n_findings)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_report_evidence_json: no finding %zu", i);
    json_t *o = assay__evidence_json(ds, res, &res->findings[i]);
    if (o == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (evidence)");
    /* written as report.json writes it */
    assay_status s = assay__json_text(ctx, o, 0, json);
    json_decref(o);
    return s;
}

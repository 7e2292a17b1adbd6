/* SPDX-License-Identifier: Apache-2.0 */
/* Text and values shared by every report format: labels, ids, class names, CSV quoting, and
 * the one-sentence explanation of each finding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

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

/* Length of the valid UTF-8 sequence at s, or 0 if the byte there starts none. */
static size_t utf8_len(const unsigned char *s) {
    size_t n;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

json_t *assay__json_str(const char *s) {
    json_t *j = json_string(s);
    if (j != NULL) return j;
    size_t len = strlen(s);
    char *buf = malloc(3 * len + 1), *o = buf;
    if (buf == NULL) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
        if (n == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            p++;
        } else {
            memcpy(o, p, n);
            o += n;
            p += n;
        }
    }
    *o = '\0';
    j = json_string(buf); /* may still fail on overlong/surrogate forms: then drop the value */
    free(buf);
    return j != NULL ? j : json_string("(invalid UTF-8)");
}

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

/* The row's class as "'Coat'" or, when the label is outside the declared set, its raw value. */
static const char *row_class(const assay_dataset *ds, size_t r, char *buf, size_t len) {
    if (ds->y[r] >= 0) return assay__class_text(ds, ds->y[r]);
    return assay__label_text(ds, r, buf, len);
}

void assay__explain(const assay_dataset *ds, const assay_result *res, const assay__finding *f,
                    char *buf, size_t len) {
    char lb[32];
    const char *own = row_class(ds, f->row, lb, sizeof lb);
    switch (f->det) {
    case ASSAY_DET_KNN_LABEL: {
        /* why 0 (score >= threshold): a, b = shares of the row's label and of the suggested
         * one among the votes, c = voters (the k neighbours and the rows listing this one);
         * why 1 (Deep k-NN): a, b = counts of the row's label and of the plurality label among
         * the c nearest neighbours. */
        size_t k = res->graph.k;
        double rev = f->c > (double)k ? f->c - (double)k : 0.0;
        if (f->why == 1) {
            snprintf(buf, len,
                     "label '%s' is carried by %.0f of its %.0f nearest neighbours and '%s' by "
                     "%.0f: it is not their plurality label (Deep k-NN)",
                     own, f->a, f->c, assay__class_text(ds, (int32_t)f->ref), f->b);
        } else if (res->opts.weighted) {
            snprintf(buf, len,
                     "label '%s' has %.0f%% of the distance-weighted votes of the %.0f rows "
                     "around it (its %zu nearest neighbours and %.0f rows that count it among "
                     "theirs); '%s' has %.0f%%",
                     own, 100.0 * f->a, f->c, k, rev, assay__class_text(ds, (int32_t)f->ref),
                     100.0 * f->b);
        } else if (f->ref >= 0) {
            snprintf(buf, len,
                     "label '%s' is carried by %.0f of the %.0f rows around it (its %zu nearest "
                     "neighbours and %.0f rows that count it among theirs); %.0f of them are "
                     "labelled '%s'",
                     own, f->a * f->c, f->c, k, rev, f->b * f->c,
                     assay__class_text(ds, (int32_t)f->ref));
        } else {
            snprintf(buf, len,
                     "label '%s' is carried by only %.0f of the %.0f rows around it (its %zu "
                     "nearest neighbours and %.0f rows that count it among theirs), which are "
                     "split between other labels",
                     own, f->a * f->c, f->c, k, rev);
        }
        break;
    }
    case ASSAY_DET_KNN_OUTLIER:
        snprintf(buf, len,
                 "mean distance to its %zu nearest neighbours is %.4g, above the outlier fence "
                 "%.4g (farther than %.1f%% of rows)",
                 res->graph.k, f->a, f->b, 100.0 * f->c);
        break;
    case ASSAY_DET_DUPLICATE:
        if (f->why == ASSAY__WHY_DUP_CONFLICT)
            snprintf(buf, len,
                     "identical features to row %lld (%.0f copies in all) but the copies carry "
                     "%.0f different labels; this row is labelled '%s'",
                     (long long)f->ref, f->a, f->b, own);
        else
            snprintf(buf, len, "exact copy (features and label) of row %lld", (long long)f->ref);
        break;
    case ASSAY_DET_INTEGRITY:
        switch (f->why) {
        case ASSAY__WHY_NONFINITE:
            snprintf(buf, len,
                     "%.0f feature value%s NaN or infinite as float32 (first at column %.0f); the "
                     "row is left out of the neighbour graph",
                     f->a, f->a == 1.0 ? " is" : "s are", f->b);
            break;
        case ASSAY__WHY_OVERFLOW:
            snprintf(buf, len,
                     "feature values are so large that distances overflow float32; the row is "
                     "left out of the neighbour graph");
            break;
        case ASSAY__WHY_ZERO:
            snprintf(buf, len, "all feature values are zero%s",
                     res->opts.metric == ASSAY_METRIC_COSINE
                         ? "; it has no direction, so it is left out of the cosine graph"
                         : "");
            break;
        default:
            snprintf(buf, len, "label '%s' is not in the declared label set",
                     assay__label_text(ds, f->row, lb, sizeof lb));
        }
        break;
    case ASSAY_DET_SPECTRAL:
        assay__explain_spectral(ds, res, f, buf, len);
        break;
    case ASSAY_DET_SPECTRE:
        assay__explain_spectre(ds, res, f, buf, len);
        break;
    case ASSAY_DET_CLUSTER:
        assay__explain_cluster(ds, res, f, buf, len);
        break;
    case ASSAY_DET_MAHALANOBIS:
        assay__explain_mahalanobis(ds, res, f, buf, len);
        break;
    case ASSAY_DET_CONFIDENT:
        assay__explain_confident(ds, res, f, buf, len);
        break;
    case ASSAY_DET_NEAR_DUPLICATE:
        assay__explain_near_duplicate(ds, res, f, buf, len);
        break;
    case ASSAY_DET_VALUATION:
        assay__explain_valuation(ds, res, f, buf, len);
        break;
    case ASSAY_DET_ORDERING:
        assay__explain_ordering(ds, res, f, buf, len);
        break;
    case ASSAY_DET_IMBALANCE:
        assay__explain_imbalance(ds, res, f, buf, len);
        break;
    case ASSAY_DET_TAMPERING:
        assay__explain_tampering(ds, res, f, buf, len);
        break;
    case ASSAY_DET_ECOD:
        assay__explain_ecod(ds, res, f, buf, len);
        break;
    default:
        snprintf(buf, len, "flagged");
    }
}

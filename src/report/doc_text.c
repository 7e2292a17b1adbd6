/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the report document and writing its text into XML-based formats: the small helpers
 * every document renderer (render.h) shares. */
#include <stdio.h>

#include "assay/assay_scan.h"
#include "core/internal.h"
#include "core/numfmt.h"
#include "report/render.h"

void assay__xml_put(FILE *fp, const char *s, int attribute) {
    for (const unsigned char *c = (const unsigned char *)s; c != NULL && *c; c++) {
        switch (*c) {
        case '&':
            fputs("&amp;", fp);
            continue;
        case '<':
            fputs("&lt;", fp);
            continue;
        case '>':
            fputs("&gt;", fp);
            continue;
        case '"':
            fputs(attribute ? "&quot;" : "\"", fp);
            continue;
        case '\'':
            fputs(attribute ? "&#39;" : "'", fp);
            continue;
        case '\t':
        case '\n':
        case '\r':
            if (attribute)
                fprintf(fp, "&#%d;", *c);
            else
                fputc(*c, fp);
            continue;
        default:
            break;
        }
        if (*c < 0x20 || *c == 0x7f) continue; /* XML 1.0 forbids C0 controls */
        if (c[0] == 0xEF && c[1] == 0xBF && (c[2] == 0xBE || c[2] == 0xBF)) {
            c += 2; /* U+FFFE, U+FFFF: not XML characters either */
            continue;
        }
        fputc(*c, fp);
    }
}

const char *assay__doc_str(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

const char *assay__doc_scalar_text(const json_t *v, char *buf, size_t len) {
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) {
        char num[ASSAY__NUM_BUF];
        assay__fmt_double(num, json_real_value(v));
        snprintf(buf, len, "%s", num);
    } else
        snprintf(buf, len, "-");
    return buf;
}

int assay__doc_severity(const char *name) {
    assay_severity s;
    return assay_severity_parse(name, &s) == ASSAY_OK ? (int)s : -1;
}

int assay__doc_need(assay_ctx *ctx, assay_status *s, const char *path, const json_t *o,
                    const char *where, const char *key, json_type type) {
    const json_t *v = json_object_get(o, key);
    if (*s == ASSAY_OK && (v == NULL || json_typeof(v) != type))
        *s = assay__fail(ctx, ASSAY_E_FORMAT,
                         "%s: the report's %s lacks \"%s\" or it has the wrong type (a "
                         "report.json from another version?)",
                         path, where, key);
    return *s == ASSAY_OK;
}

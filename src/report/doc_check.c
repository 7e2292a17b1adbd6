/* SPDX-License-Identifier: Apache-2.0 */
/* The shape of a saved report.json, checked once before any renderer reads it: the document is
 * walked against schemas/assay-report-1.schema.json (embedded at build time) so that every
 * field a renderer reads has the type it expects, and a report edited by hand or produced by
 * something else is refused with the JSON pointer of the first wrong value. The subset of JSON
 * Schema the file uses is understood: type, properties, required, additionalProperties,
 * items, prefixItems, minItems, maxItems, enum, const, minimum, maximum, oneOf (as "any of")
 * and local $ref. Other keywords (pattern, format, if/then) constrain text, not shape, and are
 * not checked. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/render.h"
#include "report/report_internal.h"

extern const char assay__report_schema_json[];
extern const size_t assay__report_schema_json_len;

typedef struct checker {
    assay_ctx *ctx;
    const char *name;
    const json_t *root; /* the schema */
    char ptr[512];      /* JSON pointer of the value being checked */
    size_t len;
    int quiet;  /* inside oneOf: try without recording a message */
    int failed; /* a message was recorded */
} checker;

static void push(checker *c, const char *seg, size_t *saved) {
    *saved = c->len;
    if (c->len + 1 >= sizeof c->ptr) return;
    c->ptr[c->len++] = '/';
    for (const char *p = seg; *p && c->len + 3 < sizeof c->ptr; p++) {
        if (*p == '~' || *p == '/') { /* RFC 6901 escapes */
            c->ptr[c->len++] = '~';
            c->ptr[c->len++] = *p == '~' ? '0' : '1';
        } else {
            c->ptr[c->len++] = *p;
        }
    }
    c->ptr[c->len] = '\0';
}

static void pop(checker *c, size_t saved) {
    c->len = saved;
    c->ptr[saved] = '\0';
}

static int fail(checker *c, const char *fmt, ...) ASSAY_PRINTF(2, 3);
static int fail(checker *c, const char *fmt, ...) {
    if (c->quiet || c->failed) return 0;
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    assay__fail(c->ctx, ASSAY_E_FORMAT, "%s: %s: %s", c->name, c->len ? c->ptr : "/", what);
    c->failed = 1;
    return 0;
}

/* A local "$ref": "#/$defs/NAME"; NULL for any other (accepted as is). */
static const json_t *resolve(const checker *c, const json_t *sch) {
    for (int hops = 0; hops < 8; hops++) {
        const char *ref = json_string_value(json_object_get(sch, "$ref"));
        if (ref == NULL) return sch;
        if (strncmp(ref, "#/$defs/", 8) != 0) return NULL;
        sch = json_object_get(json_object_get(c->root, "$defs"), ref + 8);
        if (sch == NULL) return NULL;
    }
    return NULL;
}

static int type_is(const char *t, const json_t *v) {
    if (strcmp(t, "string") == 0) return json_is_string(v);
    if (strcmp(t, "integer") == 0) return json_is_integer(v);
    if (strcmp(t, "number") == 0) return json_is_number(v);
    if (strcmp(t, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(t, "null") == 0) return json_is_null(v);
    if (strcmp(t, "object") == 0) return json_is_object(v);
    if (strcmp(t, "array") == 0) return json_is_array(v);
    return 1;
}

static const char *article(const char *t) {
    return strcmp(t, "integer") == 0 || strcmp(t, "object") == 0 || strcmp(t, "array") == 0 ? "an "
           : strcmp(t, "null") == 0                                                         ? ""
                                                                                            : "a ";
}

static int check_type(checker *c, const json_t *type, const json_t *v) {
    if (json_is_string(type)) {
        const char *t = json_string_value(type);
        return type_is(t, v) || fail(c, "expected %s%s", article(t), t);
    }
    if (!json_is_array(type)) return 1;
    char words[200] = "";
    size_t i;
    const json_t *t;
    json_array_foreach(type, i, t) {
        const char *name = json_string_value(t);
        if (name == NULL || type_is(name, v)) return 1;
        size_t u = strlen(words);
        snprintf(words + u, sizeof words - u, "%s%s%s", i ? " or " : "", article(name), name);
    }
    return fail(c, "expected %s", words);
}

static int check(checker *c, const json_t *sch, const json_t *v);

static int check_object(checker *c, const json_t *sch, const json_t *v) {
    const json_t *req = json_object_get(sch, "required"),
                 *props = json_object_get(sch, "properties");
    const json_t *extra = json_object_get(sch, "additionalProperties");
    size_t i;
    const json_t *r;
    json_array_foreach(req, i, r) {
        const char *k = json_string_value(r);
        if (k != NULL && json_object_get(v, k) == NULL) return fail(c, "missing \"%s\"", k);
    }
    const char *k;
    const json_t *e;
    json_object_foreach((json_t *)v, k, e) {
        const json_t *ps = json_object_get(props, k);
        if (ps == NULL) ps = json_is_object(extra) ? extra : NULL;
        if (ps == NULL) continue; /* keys of other versions are not read */
        size_t saved;
        push(c, k, &saved);
        int ok = check(c, ps, e);
        pop(c, saved);
        if (!ok) return 0;
    }
    return 1;
}

static int check_array(checker *c, const json_t *sch, const json_t *v) {
    const json_t *mn = json_object_get(sch, "minItems"), *mx = json_object_get(sch, "maxItems");
    size_t n = json_array_size(v);
    if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
        return fail(c, "expected at least %" JSON_INTEGER_FORMAT " items, got %zu",
                    json_integer_value(mn), n);
    if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
        return fail(c, "expected at most %" JSON_INTEGER_FORMAT " items, got %zu",
                    json_integer_value(mx), n);
    const json_t *prefix = json_object_get(sch, "prefixItems"),
                 *items = json_object_get(sch, "items");
    for (size_t i = 0; i < n; i++) {
        const json_t *is = i < json_array_size(prefix) ? json_array_get(prefix, i) : items;
        if (!json_is_object(is)) continue;
        char seg[32];
        size_t saved;
        snprintf(seg, sizeof seg, "%zu", i);
        push(c, seg, &saved);
        int ok = check(c, is, json_array_get(v, i));
        pop(c, saved);
        if (!ok) return 0;
    }
    return 1;
}

static int check(checker *c, const json_t *sch, const json_t *v) {
    sch = resolve(c, sch);
    if (sch == NULL) return 1;
    const json_t *one = json_object_get(sch, "oneOf");
    if (json_is_array(one)) {
        int quiet = c->quiet;
        c->quiet = 1;
        size_t i, n = json_array_size(one);
        const json_t *alt;
        int ok = 0;
        json_array_foreach(one, i, alt) {
            if ((ok = check(c, alt, v)) != 0) break;
        }
        c->quiet = quiet;
        if (!ok) return fail(c, "expected one of the %zu forms the schema allows", n);
    }
    const json_t *type = json_object_get(sch, "type");
    if (type != NULL && !check_type(c, type, v)) return 0;
    const json_t *cst = json_object_get(sch, "const");
    if (cst != NULL && !json_equal(cst, v)) {
        char *t = json_dumps(cst, JSON_ENCODE_ANY);
        int r = fail(c, "expected %.100s", t ? t : "the value the schema fixes");
        free(t);
        return r;
    }
    const json_t *en = json_object_get(sch, "enum");
    if (json_is_array(en)) {
        size_t i;
        const json_t *e;
        int hit = 0;
        json_array_foreach(en, i, e) hit |= json_equal(e, v);
        if (!hit) {
            char *t = json_dumps(en, JSON_COMPACT);
            int r = fail(c, "expected one of %.200s", t ? t : "the values the schema lists");
            free(t);
            return r;
        }
    }
    if (json_is_number(v)) {
        const json_t *mn = json_object_get(sch, "minimum"), *mx = json_object_get(sch, "maximum");
        double x = json_number_value(v);
        if (json_is_number(mn) && x < json_number_value(mn))
            return fail(c, "expected at least %s, got %s", assay__num(json_number_value(mn)).s,
                        assay__num(x).s);
        if (json_is_number(mx) && x > json_number_value(mx))
            return fail(c, "expected at most %s, got %s", assay__num(json_number_value(mx)).s,
                        assay__num(x).s);
    }
    if (json_is_object(v)) return check_object(c, sch, v);
    if (json_is_array(v)) return check_array(c, sch, v);
    return 1;
}

/* The schema is parsed once and kept (read-only after). */
static json_t *g_schema;
static pthread_once_t g_schema_once = PTHREAD_ONCE_INIT;

static void load_schema(void) {
    g_schema = json_loadb(assay__report_schema_json, assay__report_schema_json_len, 0, NULL);
}

assay_status assay__report_doc_check(assay_ctx *ctx, const char *name, const json_t *doc) {
    pthread_once(&g_schema_once, load_schema);
    if (g_schema == NULL)
        return assay__fail(ctx, ASSAY_E_INTERNAL, "report.json's embedded schema does not parse");
    checker c = {ctx, name, g_schema, "", 0, 0, 0};
    int ok = check(&c, g_schema, doc);
    if (!ok && !c.failed) assay__fail(ctx, ASSAY_E_FORMAT, "%s: not an assay report", name);
    return ok ? ASSAY_OK : ASSAY_E_FORMAT;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a policy file (and an allowlist file) with libyaml. The document is walked with a
 * known set of keys per section, so every mistake is reported with the file, line, column and
 * dotted key; the values go through the same setter as environment variables and flags. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "core/docfile.h"
#include "decide/policy_internal.h"

typedef struct ywalk {
    assay_ctx *ctx;
    assay_policy *p; /* NULL when reading an allowlist file */
    const char *path;
    yaml_document_t *doc;
} ywalk;

static const char *where_of(const ywalk *w, const yaml_node_t *n, char *buf, size_t len) {
    snprintf(buf, len, "%s:%zu:%zu", w->path, (size_t)n->start_mark.line + 1,
             (size_t)n->start_mark.column + 1);
    return buf;
}

static const char *node_kind(const yaml_node_t *n) {
    return n->type == YAML_MAPPING_NODE    ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list"
                                           : "a single value";
}

static const char *scalar(const yaml_node_t *n) {
    return (const char *)n->data.scalar.value;
}

static int quoted(const yaml_node_t *n) {
    return n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
           n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

static assay_status fail_at(const ywalk *w, const yaml_node_t *n, const char *key, const char *fmt,
                            ...) ASSAY_PRINTF(4, 5);
/* "FILE:LINE:COL: KEY: <what fmt says>" */
static assay_status fail_at(const ywalk *w, const yaml_node_t *n, const char *key, const char *fmt,
                            ...) {
    char where[600], what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return assay__fail(w->ctx, ASSAY_E_FORMAT, "%s: %s: %s", where_of(w, n, where, sizeof where),
                       key, what);
}

static const char *type_kind(yaml_node_type_t t) {
    return t == YAML_MAPPING_NODE    ? "a mapping"
           : t == YAML_SEQUENCE_NODE ? "a list"
                                     : "a single value";
}

static assay_status expect_type(const ywalk *w, const yaml_node_t *n, const char *key,
                                yaml_node_type_t type) {
    if (n->type == type) return ASSAY_OK;
    return fail_at(w, n, key, "expected %s, got %s", type_kind(type), node_kind(n));
}

/* An unknown key: names the nearest known one when it is close, else lists them. */
static assay_status unknown_key(const ywalk *w, const yaml_node_t *n, const char *key,
                                const char *const *known, size_t n_known) {
    const char *best = assay__suggest_pick(scalar(n), known, n_known);
    char list[1200];
    size_t u = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n_known && u < sizeof list; i++)
        u += (size_t)snprintf(list + u, sizeof list - u, "%s%s", i ? ", " : "", known[i]);
    if (best != NULL) return fail_at(w, n, key, "unknown key (did you mean '%s'?)", best);
    return fail_at(w, n, key, "unknown key; expected one of %s", list);
}

typedef struct key_ref {
    const char *name;
    size_t pos; /* order in the mapping */
} key_ref;

static int cmp_key_ref(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Checks that a mapping's keys are single values and distinct: sorted, so that a mapping with a
 * million keys costs n log n, not n^2; the duplicate named is the first one in the file. */
static assay_status check_keys(const ywalk *w, const yaml_node_t *map, const char *prefix) {
    const yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    size_t n = (size_t)(map->data.mapping.pairs.top - pairs);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pairs[i].key);
        if (k->type != YAML_SCALAR_NODE)
            return fail_at(w, k, prefix[0] ? prefix : "(top level)", "keys must be names, got %s",
                           node_kind(k));
    }
    if (n < 2) return ASSAY_OK;
    key_ref *refs = malloc(n * sizeof *refs);
    if (refs == NULL) return assay__fail(w->ctx, ASSAY_E_NOMEM, "out of memory (policy)");
    for (size_t i = 0; i < n; i++)
        refs[i] = (key_ref){scalar(yaml_document_get_node(w->doc, pairs[i].key)), i};
    qsort(refs, n, sizeof *refs, cmp_key_ref);
    size_t dup = SIZE_MAX;
    for (size_t i = 1; i < n; i++)
        if (strcmp(refs[i - 1].name, refs[i].name) == 0 && refs[i].pos < dup) dup = refs[i].pos;
    free(refs);
    if (dup == SIZE_MAX) return ASSAY_OK;
    yaml_node_t *k = yaml_document_get_node(w->doc, pairs[dup].key);
    char name[300];
    snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", scalar(k));
    return fail_at(w, k, name, "duplicate key");
}

/* Sets key from a scalar value node. */
static assay_status set_scalar(const ywalk *w, const char *key, const yaml_node_t *v) {
    ASSAY_TRY(expect_type(w, v, key, YAML_SCALAR_NODE));
    char where[600];
    assay_status s = assay__policy_set(w->ctx, w->p, key, scalar(v), ASSAY_SRC_FILE,
                                       where_of(w, v, where, sizeof where), quoted(v));
    return s == ASSAY_OK ? s : ASSAY_E_FORMAT;
}

/* Sets a list key from a sequence of names (joined with commas for the setter). */
static assay_status set_list(const ywalk *w, const char *key, const yaml_node_t *v) {
    ASSAY_TRY(expect_type(w, v, key, YAML_SEQUENCE_NODE));
    size_t cap = 1;
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        yaml_node_t *e = yaml_document_get_node(w->doc, *i);
        char item_key[300];
        snprintf(item_key, sizeof item_key, "%s[%td]", key, i - v->data.sequence.items.start);
        ASSAY_TRY(expect_type(w, e, item_key, YAML_SCALAR_NODE));
        if (strchr(scalar(e), ',') != NULL || scalar(e)[0] == '\0')
            return fail_at(w, e, item_key, "expected a name, got '%s'", scalar(e));
        cap += strlen(scalar(e)) + 1;
    }
    char *joined = calloc(cap, 1);
    if (joined == NULL) return assay__fail(w->ctx, ASSAY_E_NOMEM, "out of memory (policy)");
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        if (joined[0]) strcat(joined, ",");
        strcat(joined, scalar(yaml_document_get_node(w->doc, *i)));
    }
    char where[600];
    assay_status s = assay__policy_set(w->ctx, w->p, key, joined, ASSAY_SRC_FILE,
                                       where_of(w, v, where, sizeof where), 0);
    free(joined);
    return s == ASSAY_OK ? s : ASSAY_E_FORMAT;
}

static const char *const k_top_keys[] = {"version", "scan",      "detectors",
                                         "gate",    "allowlist", "limits"};
static const char *const k_gate_keys[] = {"fail-on",       "warn-on",    "max-flagged-fraction",
                                          "class-budgets", "fail-kinds", "exit-zero"};
static const char *const k_det_keys[] = {"enabled", "threshold", "severity"};
static const char *const k_allow_keys[] = {"id", "row-sha256", "reason", "owner", "expires"};

static assay_status walk_scan(const ywalk *w, const yaml_node_t *map) {
    ASSAY_TRY(expect_type(w, map, "scan", YAML_MAPPING_NODE));
    ASSAY_TRY(check_keys(w, map, "scan"));
    const char *known[6 + ASSAY__P_COUNT] = {"k",           "metric", "weighted", "label-threshold",
                                             "outlier-iqr", "skip"};
    for (size_t i = 0; i < ASSAY__P_COUNT; i++) known[6 + i] = assay_param_info_at(i)->name;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, pr->value);
        char key[300];
        snprintf(key, sizeof key, "scan.%s", scalar(k));
        size_t i = 0;
        while (i < 6 + ASSAY__P_COUNT && strcmp(known[i], scalar(k)) != 0) i++;
        if (i == 6 + ASSAY__P_COUNT) return unknown_key(w, k, key, known, 6 + ASSAY__P_COUNT);
        ASSAY_TRY(strcmp(scalar(k), "skip") == 0 ? set_list(w, key, v) : set_scalar(w, key, v));
    }
    return ASSAY_OK;
}

static assay_status walk_detectors(const ywalk *w, const yaml_node_t *map) {
    ASSAY_TRY(expect_type(w, map, "detectors", YAML_MAPPING_NODE));
    ASSAY_TRY(check_keys(w, map, "detectors"));
    const char *names[ASSAY_DET_COUNT];
    for (int d = 0; d < ASSAY_DET_COUNT; d++) names[d] = assay_detector_name((assay_detector)d);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, pr->value);
        char key[300];
        snprintf(key, sizeof key, "detectors.%s", scalar(k));
        assay_detector det;
        if (assay_detector_parse(scalar(k), &det) != ASSAY_OK)
            return unknown_key(w, k, key, names, ASSAY_DET_COUNT);
        ASSAY_TRY(expect_type(w, v, key, YAML_MAPPING_NODE));
        ASSAY_TRY(check_keys(w, v, key));
        for (yaml_node_pair_t *f = v->data.mapping.pairs.start; f < v->data.mapping.pairs.top;
             f++) {
            yaml_node_t *fk = yaml_document_get_node(w->doc, f->key);
            char fkey[400];
            snprintf(fkey, sizeof fkey, "%s.%s", key, scalar(fk));
            size_t i = 0;
            while (i < 3 && strcmp(k_det_keys[i], scalar(fk)) != 0) i++;
            if (i == 3) return unknown_key(w, fk, fkey, k_det_keys, 3);
            ASSAY_TRY(set_scalar(w, fkey, yaml_document_get_node(w->doc, f->value)));
        }
    }
    return ASSAY_OK;
}

static assay_status walk_gate(const ywalk *w, const yaml_node_t *map) {
    ASSAY_TRY(expect_type(w, map, "gate", YAML_MAPPING_NODE));
    ASSAY_TRY(check_keys(w, map, "gate"));
    const size_t n_keys = sizeof k_gate_keys / sizeof k_gate_keys[0];
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, pr->value);
        char key[300];
        snprintf(key, sizeof key, "gate.%s", scalar(k));
        size_t i = 0;
        while (i < n_keys && strcmp(k_gate_keys[i], scalar(k)) != 0) i++;
        if (i == n_keys) return unknown_key(w, k, key, k_gate_keys, n_keys);
        if (strcmp(scalar(k), "fail-kinds") == 0) {
            ASSAY_TRY(set_list(w, key, v));
        } else if (strcmp(scalar(k), "class-budgets") == 0) {
            ASSAY_TRY(expect_type(w, v, key, YAML_MAPPING_NODE));
            ASSAY_TRY(check_keys(w, v, key));
            for (yaml_node_pair_t *c = v->data.mapping.pairs.start; c < v->data.mapping.pairs.top;
                 c++) {
                yaml_node_t *ck = yaml_document_get_node(w->doc, c->key);
                char ckey[600];
                if (scalar(ck)[0] == '\0')
                    return fail_at(w, ck, key, "expected a class name, got ''");
                snprintf(ckey, sizeof ckey, "%s.%s", key, scalar(ck));
                ASSAY_TRY(set_scalar(w, ckey, yaml_document_get_node(w->doc, c->value)));
            }
        } else {
            ASSAY_TRY(set_scalar(w, key, v));
        }
    }
    return ASSAY_OK;
}

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* YYYY-MM-DD, a real date. */
static int valid_date(const char *s) {
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

static int hex_digest(const char *s, unsigned char out[32]) {
    if (strlen(s) != 64) return 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[2 * i + j];
            unsigned x = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 99u;
            if (x > 15) return 0;
            v = v * 16 + x;
        }
        out[i] = (unsigned char)v;
    }
    return 1;
}

static assay_status walk_entry(const ywalk *w, const yaml_node_t *map, const char *key,
                               assay__allow_entry *e) {
    ASSAY_TRY(expect_type(w, map, key, YAML_MAPPING_NODE));
    ASSAY_TRY(check_keys(w, map, key));
    const yaml_node_t *val[5] = {NULL};
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, pr->value);
        char fkey[400];
        snprintf(fkey, sizeof fkey, "%s.%s", key, scalar(k));
        size_t i = 0;
        while (i < 5 && strcmp(k_allow_keys[i], scalar(k)) != 0) i++;
        if (i == 5) return unknown_key(w, k, fkey, k_allow_keys, 5);
        ASSAY_TRY(expect_type(w, v, fkey, YAML_SCALAR_NODE));
        if (scalar(v)[0] == '\0')
            return fail_at(w, v, fkey, "expected %s, got nothing",
                           i == 4 ? "a date YYYY-MM-DD" : "a non-empty text");
        val[i] = v;
    }
    if ((val[0] == NULL) == (val[1] == NULL))
        return fail_at(w, map, key, "an entry names exactly one row: 'id' or 'row-sha256'");
    static const char *const required[] = {"reason", "owner", "expires"};
    for (int r = 0; r < 3; r++)
        if (val[2 + r] == NULL)
            return fail_at(w, map, key,
                           "missing '%s' (every entry needs reason, owner and expires)",
                           required[r]);
    char fkey[400];
    if (val[1] != NULL && !hex_digest(scalar(val[1]), e->digest)) {
        snprintf(fkey, sizeof fkey, "%s.row-sha256", key);
        return fail_at(w, val[1], fkey, "expected 64 hexadecimal digits, got '%s'", scalar(val[1]));
    }
    if (!valid_date(scalar(val[4]))) {
        snprintf(fkey, sizeof fkey, "%s.expires", key);
        return fail_at(w, val[4], fkey, "expected a date YYYY-MM-DD, got '%s'", scalar(val[4]));
    }
    char where[600];
    e->by_digest = val[1] != NULL;
    e->id = val[0] ? strdup(scalar(val[0])) : NULL;
    e->reason = strdup(scalar(val[2]));
    e->owner = strdup(scalar(val[3]));
    e->where = strdup(where_of(w, map, where, sizeof where));
    snprintf(e->expires, sizeof e->expires, "%s", scalar(val[4]));
    if ((val[0] && e->id == NULL) || !e->reason || !e->owner || !e->where)
        return assay__fail(w->ctx, ASSAY_E_NOMEM, "out of memory (allowlist)");
    return ASSAY_OK;
}

static assay_status walk_allowlist(const ywalk *w, const yaml_node_t *seq, assay__allow_entry **out,
                                   size_t *n) {
    ASSAY_TRY(expect_type(w, seq, "allowlist", YAML_SEQUENCE_NODE));
    size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    assay__allow_entry *a = calloc(count ? count : 1, sizeof *a);
    if (a == NULL) return assay__fail(w->ctx, ASSAY_E_NOMEM, "out of memory (allowlist)");
    for (size_t i = 0; i < count; i++) {
        char key[64];
        snprintf(key, sizeof key, "allowlist[%zu]", i);
        assay_status s = walk_entry(
            w, yaml_document_get_node(w->doc, seq->data.sequence.items.start[i]), key, &a[i]);
        if (s != ASSAY_OK) {
            assay__allow_free(a, count);
            return s;
        }
    }
    *out = a;
    *n = count;
    return ASSAY_OK;
}

/* Tags YAML itself defines; any other (`!!python/object`, `!custom`) asks for a type this
 * reader does not build, and would otherwise be read as if it were not there. */
static int standard_tag(const char *tag) {
    static const char *const std[] = {"str", "int", "float", "bool", "null", "map", "seq"};
    const char *prefix = "tag:yaml.org,2002:";
    if (strncmp(tag, prefix, strlen(prefix)) != 0) return 0;
    for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
        if (strcmp(tag + strlen(prefix), std[i]) == 0) return 1;
    return 0;
}

static assay_status syntax_error(assay_ctx *ctx, const char *path, const yaml_parser_t *parser) {
    return assay__fail(ctx, ASSAY_E_FORMAT, "%s:%zu:%zu: not valid YAML: %s%s%s", path,
                       (size_t)parser->problem_mark.line + 1,
                       (size_t)parser->problem_mark.column + 1,
                       parser->problem ? parser->problem : "syntax error",
                       parser->context ? " " : "", parser->context ? parser->context : "");
}

/* One pass over the parser's events before any tree is built: refuses nesting deeper than the
 * context's max_depth (stopping at the first such collection, so neither libyaml's loader nor
 * the walk below ever sees it), a second document (which would be ignored) and non-standard
 * tags. */
static assay_status prescan(assay_ctx *ctx, const char *path, const char *text, size_t len) {
    /* libyaml refuses control characters for the whole input at line 1, column 1: name the
     * place of a NUL byte instead (UTF-16 text, which libyaml reads after its BOM, is all
     * NULs and ASCII). */
    const unsigned char *u = (const unsigned char *)text;
    int utf16 = len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF));
    const char *nul = utf16 ? NULL : memchr(text, '\0', len);
    if (nul != NULL) {
        size_t line = 1, col = 1;
        for (const char *p = text; p < nul; p++, col++)
            if (*p == '\n') {
                line++;
                col = 0;
            }
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s:%zu:%zu: a NUL byte; expected YAML text", path,
                           line, col);
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (YAML parser)");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    const uint32_t max_depth = assay__limits(ctx)->max_depth;
    uint32_t depth = 0;
    size_t documents = 0;
    assay_status s = ASSAY_OK;
    for (int done = 0; s == ASSAY_OK && !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            s = syntax_error(ctx, path, &parser);
            break;
        }
        const size_t line = (size_t)ev.start_mark.line + 1, col = (size_t)ev.start_mark.column + 1;
        const char *tag = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                s = assay__fail(ctx, ASSAY_E_FORMAT,
                                "%s:%zu:%zu: a second YAML document ('---'); a policy file holds "
                                "one document",
                                path, line, col);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            tag = (const char *)(ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag
                                                                      : ev.data.mapping_start.tag);
            if (++depth > max_depth)
                s = assay__fail(ctx, ASSAY_E_LIMIT,
                                "%s: line %zu: nesting deeper than %u (--max-depth)", path, line,
                                (unsigned)max_depth);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            tag = (const char *)ev.data.scalar.tag;
            break;
        default:
            break;
        }
        if (s == ASSAY_OK && tag != NULL && !standard_tag(tag))
            s = assay__fail(ctx, ASSAY_E_FORMAT,
                            "%s:%zu:%zu: tag '%.200s': a policy file holds plain values, lists "
                            "and mappings (no tags)",
                            path, line, col, tag);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return s;
}

/* Parses text into doc; ASSAY_E_FORMAT with line and column on a syntax error, ASSAY_E_LIMIT
 * when nested too deep. */
static assay_status parse(assay_ctx *ctx, const char *path, const char *text, size_t len,
                          yaml_document_t *doc) {
    ASSAY_TRY(prescan(ctx, path, text, len));
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (YAML parser)");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int ok = yaml_parser_load(&parser, doc);
    assay_status s = ok ? ASSAY_OK : syntax_error(ctx, path, &parser);
    yaml_parser_delete(&parser);
    return s;
}

assay_status assay__allowlist_load_buf(assay_ctx *ctx, const char *path, const char *text,
                                       size_t len, assay__allow_entry **out, size_t *n) {
    *out = NULL;
    *n = 0;
    yaml_document_t doc;
    assay_status s = parse(ctx, path, text, len, &doc);
    if (s != ASSAY_OK) return s;
    ywalk w = {ctx, NULL, path, &doc};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        s = assay__fail(ctx, ASSAY_E_FORMAT, "%s: empty; expected a list of allowlist entries",
                        path);
    } else if (root->type == YAML_MAPPING_NODE) { /* {allowlist: [...]} as in a policy file */
        static const char *const known[] = {"allowlist"};
        s = check_keys(&w, root, "");
        yaml_node_t *seq = NULL;
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             s == ASSAY_OK && pr < root->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
            if (strcmp(scalar(k), "allowlist") != 0)
                s = unknown_key(&w, k, scalar(k), known, 1);
            else
                seq = yaml_document_get_node(&doc, pr->value);
        }
        if (s == ASSAY_OK && seq == NULL)
            s = assay__fail(ctx, ASSAY_E_FORMAT, "%s: allowlist: missing", path);
        if (s == ASSAY_OK) s = walk_allowlist(&w, seq, out, n);
    } else {
        s = walk_allowlist(&w, root, out, n);
    }
    yaml_document_delete(&doc);
    return s;
}

assay_status assay__allowlist_load(assay_ctx *ctx, const char *path, assay__allow_entry **out,
                                   size_t *n) {
    char *text = NULL;
    size_t len = 0;
    ASSAY_TRY(assay__doc_read(ctx, path, "allowlist file", ASSAY__POLICY_MAX_BYTES, &text, &len));
    assay_status s = assay__allowlist_load_buf(ctx, path, text, len, out, n);
    free(text);
    return s;
}

/* limits: max-rows: 1000000 ... (docs/limits.md) */
static assay_status walk_limits(const ywalk *w, const yaml_node_t *map) {
    ASSAY_TRY(expect_type(w, map, "limits", YAML_MAPPING_NODE));
    ASSAY_TRY(check_keys(w, map, "limits"));
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
        char key[300];
        snprintf(key, sizeof key, "limits.%s", scalar(k));
        size_t i = 0;
        while (i < ASSAY__LIMIT_COUNT && strcmp(assay__limit_keys[i], scalar(k)) != 0) i++;
        if (i == ASSAY__LIMIT_COUNT)
            return unknown_key(w, k, key, assay__limit_keys, ASSAY__LIMIT_COUNT);
        ASSAY_TRY(set_scalar(w, key, yaml_document_get_node(w->doc, pr->value)));
    }
    return ASSAY_OK;
}

static assay_status walk_policy(const ywalk *w, const yaml_node_t *root) {
    if (root == NULL)
        return assay__fail(w->ctx, ASSAY_E_FORMAT, "%s: empty; a policy starts with 'version: %d'",
                           w->path, ASSAY__POLICY_VERSION);
    ASSAY_TRY(expect_type(w, root, "(top level)", YAML_MAPPING_NODE));
    ASSAY_TRY(check_keys(w, root, ""));
    const size_t n_top = sizeof k_top_keys / sizeof k_top_keys[0];
    const yaml_node_t *sec[6] = {NULL};
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, pr->key);
        size_t i = 0;
        while (i < n_top && strcmp(k_top_keys[i], scalar(k)) != 0) i++;
        if (i == n_top) return unknown_key(w, k, scalar(k), k_top_keys, n_top);
        sec[i] = yaml_document_get_node(w->doc, pr->value);
    }
    if (sec[0] == NULL)
        return fail_at(w, root, "version",
                       "missing; add 'version: 1' (the policy format this assay reads)");
    ASSAY_TRY(expect_type(w, sec[0], "version", YAML_SCALAR_NODE));
    if (quoted(sec[0]) || strcmp(scalar(sec[0]), "1") != 0)
        return fail_at(w, sec[0], "version",
                       "unsupported policy version '%s'; this assay reads version 1",
                       scalar(sec[0]));
    if (sec[1]) ASSAY_TRY(walk_scan(w, sec[1]));
    if (sec[2]) ASSAY_TRY(walk_detectors(w, sec[2]));
    if (sec[3]) ASSAY_TRY(walk_gate(w, sec[3]));
    if (sec[5]) ASSAY_TRY(walk_limits(w, sec[5]));
    if (sec[4]) {
        assay__allow_entry *a = NULL;
        size_t n = 0;
        ASSAY_TRY(walk_allowlist(w, sec[4], &a, &n));
        if (w->p->src[ASSAY__SLOT_ALLOWLIST] > ASSAY_SRC_FILE) {
            assay__allow_free(a, n); /* an --allowlist flag or variable already won */
        } else {
            assay__allow_free(w->p->allow, w->p->n_allow);
            w->p->allow = a;
            w->p->n_allow = n;
            w->p->src[ASSAY__SLOT_ALLOWLIST] = ASSAY_SRC_FILE;
        }
    }
    return ASSAY_OK;
}

assay_status assay__policy_load_buf(assay_ctx *ctx, assay_policy *p, const char *path,
                                    const char *text, size_t len) {
    if (p == NULL || path == NULL || (text == NULL && len > 0))
        return assay__fail(ctx, ASSAY_E_INVAL, "assay__policy_load_buf: NULL argument");
    if (p->file != NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: a policy file was already read (%s)", path,
                           p->file);
    unsigned int dlen = 0;
    if (!EVP_Digest(text ? text : "", len, p->file_sha256, &dlen, EVP_sha256(), NULL))
        return assay__fail(ctx, ASSAY_E_INTERNAL, "SHA-256 failed");
    yaml_document_t doc;
    ASSAY_TRY(parse(ctx, path, text ? text : "", len, &doc));
    ywalk w = {ctx, p, path, &doc};
    assay_status s = walk_policy(&w, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    if (s != ASSAY_OK) return s;
    p->file = strdup(path);
    if (p->file == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (policy)");
    return ASSAY_OK;
}

assay_status assay_policy_load_file(assay_ctx *ctx, assay_policy *p, const char *path) {
    if (p == NULL || path == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_policy_load_file: NULL argument");
    if (p->file != NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: a policy file was already read (%s)", path,
                           p->file);
    char *text = NULL;
    size_t len = 0;
    ASSAY_TRY(assay__doc_read(ctx, path, "policy file", ASSAY__POLICY_MAX_BYTES, &text, &len));
    assay_status s = assay__policy_load_buf(ctx, p, path, text, len);
    free(text);
    return s;
}

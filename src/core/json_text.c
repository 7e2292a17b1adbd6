/* SPDX-License-Identifier: Apache-2.0 */
/* JSON values from untrusted text and numbers, and writing a document (core/json_text.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_text.h"
#include "core/numfmt.h"
#include "core/outfile.h"

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

json_t *assay__json_num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *assay__json_float(float v) {
    return isfinite(v) ? json_real(assay__float_as_double(v)) : json_null();
}

json_t *assay__json_num_f32(double v) {
    return fabs(v) <= FLT_MAX && (double)(float)v == v ? assay__json_float((float)v)
                                                       : assay__json_num(v);
}

json_t *assay__json_typed(const char *text, int is_int) {
    if (text == NULL) return json_null();
    if (is_int) {
        char *end = NULL;
        long long v = strtoll(text, &end, 10);
        if (end != text && *end == '\0') return json_integer((json_int_t)v);
    }
    return assay__json_str(text);
}

char *assay__json_dumps(const json_t *doc, size_t flags) {
    /* jansson's default precision (17) reads back exactly; the reals are then shortened */
    char *text = doc ? json_dumps(doc, flags & ~(size_t)JSON_REAL_PRECISION(31)) : NULL;
    return text ? assay__json_shortest_reals(text) : NULL;
}

/* Where the rewritten text goes: fp, with `indent` spaces after each line break (0: none). */
typedef struct emit_to {
    FILE *fp;
    int indent;
} emit_to;

int assay__put_indented(FILE *fp, const char *s, size_t n, int indent) {
    for (size_t a = 0; a < n;) {
        const char *nl = indent > 0 ? memchr(s + a, '\n', n - a) : NULL;
        size_t b = nl != NULL ? (size_t)(nl - s) + 1 : n;
        if (fwrite(s + a, 1, b - a, fp) != b - a) return -1;
        if (nl != NULL && fprintf(fp, "%*s", indent, "") < 0) return -1;
        a = b;
    }
    return 0;
}

static int fwrite_emit(const char *s, size_t n, void *user) {
    const emit_to *to = user;
    return assay__put_indented(to->fp, s, n, to->indent);
}

static int filter_chunk(const char *s, size_t n, void *f) {
    assay__reals_filter_feed(f, s, n);
    return ((assay__reals_filter *)f)->err;
}

int assay__json_dumpf_at(const json_t *doc, FILE *fp, size_t flags, int indent) {
    /* streamed: a report with tens of thousands of findings is never one string in memory */
    emit_to to = {fp, indent};
    assay__reals_filter f = {.emit = fwrite_emit, .user = &to};
    if (doc == NULL ||
        json_dump_callback(doc, filter_chunk, &f, flags & ~(size_t)JSON_REAL_PRECISION(31)) != 0)
        return -1;
    return assay__reals_filter_end(&f);
}

int assay__json_dumpf(const json_t *doc, FILE *fp, size_t flags) {
    return assay__json_dumpf_at(doc, fp, flags, 0);
}

/* How every document is written: ASCII only, indented by 2 or compact. */
static size_t dump_flags(int indent) {
    return JSON_ENSURE_ASCII | (indent ? JSON_INDENT(2) : JSON_COMPACT);
}

assay_status assay__dump_json(assay_ctx *ctx, const json_t *doc, FILE *fp, int indent,
                              const char *path) {
    if (doc == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory building JSON", path);
    if (assay__json_dumpf(doc, fp, dump_flags(indent)) != 0 || fputc('\n', fp) == EOF)
        return assay__write_failed(ctx, fp, path);
    return ASSAY_OK;
}

assay_status assay__json_text(assay_ctx *ctx, const json_t *doc, int indent, char **out) {
    /* a value, not a file: no final newline; a missing document is null */
    int container = doc != NULL && (json_is_object(doc) || json_is_array(doc));
    *out = container ? assay__json_dumps(doc, dump_flags(indent)) : strdup("null");
    return *out ? ASSAY_OK : assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (JSON text)");
}

/* SPDX-License-Identifier: Apache-2.0 */
/* `assay report render`: the document formats rendered again from a saved report.json, by the
 * same renderers a scan uses (render.h), so a format added later can be produced for old scans
 * and every format agrees with report.json byte for byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/docfile.h"
#include "report/render.h"
#include "report/report_internal.h"

#define REPORT_SCHEMA "assay-report/1"

/* The line of the first occurrence of `needle` in text[0, len) (1 when absent). */
static int line_of(const char *text, size_t len, const char *needle) {
    size_t m = strlen(needle);
    int line = 1;
    for (size_t i = 0; i + m <= len; i++) {
        if (memcmp(text + i, needle, m) == 0) return line;
        line += text[i] == '\n';
    }
    return 1;
}

assay_status assay__report_doc_load_buf(assay_ctx *ctx, const char *path, const char *text,
                                        size_t len, json_t **out) {
    *out = NULL;
    /* Depth first: jansson recurses per level and json_loadb would see all of a hostile
     * [[[[... before the schema check could refuse it. */
    ASSAY_TRY(assay__json_depth_check(ctx, path, text, len, assay__limits(ctx)->max_depth));
    json_error_t err;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL)
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: line %d, column %d: not valid JSON (%s); expected an assay "
                           "report.json (\"schema\": \"" REPORT_SCHEMA "\")",
                           path, err.line, err.column, err.text);
    const char *schema = json_string_value(json_object_get(doc, "schema"));
    if (!json_is_object(doc) || schema == NULL || strcmp(schema, REPORT_SCHEMA) != 0) {
        char found[96];
        int line = 1;
        if (!json_is_object(doc)) {
            snprintf(found, sizeof found, "the document is not a JSON object");
        } else if (schema == NULL) {
            snprintf(found, sizeof found, "it has no \"schema\" string");
        } else {
            snprintf(found, sizeof found, "\"schema\" is \"%.60s\"", schema);
            line = line_of(text, len, "\"schema\"");
        }
        json_decref(doc);
        return assay__fail(ctx, ASSAY_E_FORMAT,
                           "%s: line %d: not an assay report: %s; expected \"schema\": "
                           "\"" REPORT_SCHEMA "\"",
                           path, line, found);
    }
    /* Every field a renderer reads has the type it expects from here on. */
    assay_status s = assay__json_check_strings(ctx, path, doc, assay__limits(ctx)->max_field_bytes);
    if (s == ASSAY_OK) s = assay__report_doc_check(ctx, path, doc);
    if (s != ASSAY_OK) {
        json_decref(doc);
        return s;
    }
    *out = doc;
    return ASSAY_OK;
}

/* Loads and checks report.json: a regular file, at most ASSAY__REPORT_MAX_BYTES, a JSON object
 * whose "schema" is REPORT_SCHEMA and whose shape is the schema's. */
static assay_status load_report(assay_ctx *ctx, const char *path, json_t **out) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    ASSAY_TRY(assay__doc_read(ctx, path, "report", ASSAY__REPORT_MAX_BYTES, &text, &len));
    assay_status s = assay__report_doc_load_buf(ctx, path, text, len, out);
    free(text);
    return s;
}

/* The folder holding `path` ("." for a bare file name). */
static assay_status parent_dir(assay_ctx *ctx, const char *path, char *buf, size_t len) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(buf, len, ".");
        return ASSAY_OK;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= len) return assay__fail(ctx, ASSAY_E_INVAL, "%s: path too long", path);
    memcpy(buf, path, n);
    buf[n] = '\0';
    return ASSAY_OK;
}

/* Marks the requested formats in `chosen` (all when n_formats is 0). */
static assay_status choose_formats(assay_ctx *ctx, const char *const *formats, size_t n_formats,
                                   unsigned char *chosen) {
    for (size_t f = 0; f < assay__doc_format_count; f++) chosen[f] = n_formats == 0;
    for (size_t i = 0; i < n_formats; i++) {
        size_t f = 0;
        while (f < assay__doc_format_count && strcmp(assay__doc_formats[f].option, formats[i]) != 0)
            f++;
        if (f == assay__doc_format_count) {
            char known[256] = "";
            for (size_t k = 0; k < assay__doc_format_count; k++) {
                size_t used = strlen(known);
                snprintf(known + used, sizeof known - used, "%s%s", k ? ", " : "",
                         assay__doc_formats[k].option);
            }
            return assay__fail(ctx, ASSAY_E_INVAL, "unknown report format '%s' (known: %s)",
                               formats[i] ? formats[i] : "(null)", known);
        }
        chosen[f] = 1;
    }
    return ASSAY_OK;
}

assay_status assay_report_render(assay_ctx *ctx, const char *report_path, const char *dir,
                                 const char *const *formats, size_t n_formats) {
    if (ctx == NULL || report_path == NULL || (n_formats > 0 && formats == NULL))
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_report_render: NULL argument");
    enum { MAX_FORMATS = 32 };
    if (assay__doc_format_count > MAX_FORMATS)
        return assay__fail(ctx, ASSAY_E_INTERNAL, "too many report formats");
    unsigned char chosen[MAX_FORMATS];
    assay_status s = choose_formats(ctx, formats, n_formats, chosen);
    if (s != ASSAY_OK) return s;
    char parent[PATH_MAX];
    if (dir == NULL || dir[0] == '\0') {
        if ((s = parent_dir(ctx, report_path, parent, sizeof parent)) != ASSAY_OK) return s;
        dir = parent;
    }
    json_t *doc = NULL;
    if ((s = load_report(ctx, report_path, &doc)) != ASSAY_OK) return s;
    s = assay__out_check_dir(ctx, dir);
    for (size_t f = 0; s == ASSAY_OK && f < assay__doc_format_count; f++)
        if (chosen[f]) s = assay__out_check_target(ctx, dir, assay__doc_formats[f].file);
    if (s != ASSAY_OK) {
        json_decref(doc);
        return s;
    }
    /* As in a scan: the files are staged and swapped in as a whole, with the folder's commit
     * record updated for them (the scan's other files keep their entries), so a failure leaves
     * the folder as it was. */
    assay__outset set;
    s = assay__outset_begin(ctx, &set, dir);
    FILE **fp = calloc(assay__doc_format_count, sizeof *fp);
    if (s == ASSAY_OK && fp == NULL)
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory rendering %s", report_path);
    for (size_t f = 0; s == ASSAY_OK && f < assay__doc_format_count; f++)
        if (chosen[f]) s = assay__outset_add(ctx, &set, assay__doc_formats[f].file, &fp[f]);
    char final[PATH_MAX];
    for (size_t f = 0; s == ASSAY_OK && f < assay__doc_format_count; f++) {
        if (!chosen[f]) continue;
        assay__outset_final(&set, assay__doc_formats[f].file, final, sizeof final);
        assay__findings fs;
        assay__findings_of_doc(&fs, doc);
        s = assay__doc_formats[f].render(ctx, doc, &fs, fp[f], final);
        assay__progress(ctx, "render", f + 1, assay__doc_format_count);
    }
    if (s == ASSAY_OK) s = assay__outset_commit(ctx, &set);
    assay__outset_discard(&set);
    assay__progress(ctx, "render", assay__doc_format_count, assay__doc_format_count);
    free(fp);
    json_decref(doc);
    return s;
}

/* *v replaced by the value its text reads back as: written as assay__dump_json writes it (reals
 * as their shortest round-trip text), then parsed. */
static assay_status as_saved_value(assay_ctx *ctx, const json_t *v, json_t **out) {
    char *text = assay__json_dumps(v, JSON_ENSURE_ASCII | JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory saving report.json");
    json_error_t err;
    *out = json_loads(text, JSON_DECODE_ANY, &err);
    free(text);
    if (*out == NULL)
        return assay__fail(ctx, ASSAY_E_INTERNAL, "report.json does not read back: %s", err.text);
    return ASSAY_OK;
}

/* Value by value (each top-level member, each element of a top-level array such as the
 * findings), not the whole document at once: a value's text is the same alone or inside the
 * document, and the peak holds the document and one finding's copy instead of the document,
 * its whole text and a whole copy. */
assay_status assay__report_as_saved(assay_ctx *ctx, json_t **doc) {
    if (*doc == NULL || !json_is_object(*doc))
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory building report.json");
    for (void *it = json_object_iter(*doc); it != NULL; it = json_object_iter_next(*doc, it)) {
        json_t *v = json_object_iter_value(it), *saved = NULL;
        if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v); i++) {
                ASSAY_TRY(as_saved_value(ctx, json_array_get(v, i), &saved));
                if (json_array_set_new(v, i, saved) != 0)
                    return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory saving report.json");
            }
            continue;
        }
        ASSAY_TRY(as_saved_value(ctx, v, &saved));
        if (json_object_iter_set_new(*doc, it, saved) != 0)
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory saving report.json");
    }
    return ASSAY_OK;
}

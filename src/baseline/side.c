/* SPDX-License-Identifier: Apache-2.0 */
/* The two ways a side of a comparison comes to be: read back from a manifest.json written by an
 * earlier scan (checked key by key, so a wrong file is named with the key that is wrong), or
 * taken from the scan in memory. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "baseline/baseline.h"
#include "core/docfile.h"

assay_status assay__bl_sha256_file(assay_ctx *ctx, const char *path, unsigned char out[32]) {
    /* O_NONBLOCK, then fstat: a FIFO or a device planted under the name is refused, not read
     * until it ends (or forever). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return assay__fail(ctx, errno == ENOENT ? ASSAY_E_NOTFOUND : ASSAY_E_IO,
                           "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: not a regular file", path);
    }
    FILE *fp = fdopen(fd, "rb");
    if (fp == NULL) {
        close(fd);
        return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 16);
    int ok = md != NULL && buf != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    size_t got;
    while (ok && (got = fread(buf, 1, 1 << 16, fp)) > 0) ok = EVP_DigestUpdate(md, buf, got);
    int read_error = ferror(fp);
    unsigned int len = 0;
    if (ok && !read_error) ok = EVP_DigestFinal_ex(md, out, &len);
    EVP_MD_CTX_free(md);
    free(buf);
    fclose(fp);
    if (read_error) return assay__fail(ctx, ASSAY_E_IO, "%s: read error", path);
    if (!ok) return assay__fail(ctx, ASSAY_E_INTERNAL, "%s: SHA-256 (OpenSSL) failed", path);
    return ASSAY_OK;
}

void assay__bl_side_free(assay__bl_side *side) {
    if (side == NULL) return;
    free(side->path);
    free(side->id);
    free(side->label);
    free(side->digest);
    free(side->content);
    free(side->class_label);
    free(side->class_name);
    assay__bl_stats_free(&side->stats);
    assay__strpool_free(&side->pool);
    memset(side, 0, sizeof *side);
}

static const char *pooled(assay__bl_side *side, const char *s) {
    return assay__strpool_add(&side->pool, s, strlen(s));
}

/* Text of a column value; integers in decimal. */
static const char *column_text(assay__bl_side *side, const assay__column *c, size_t r) {
    if (c->type == ASSAY__COL_STR) return pooled(side, c->s[r]);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, c->i[r]);
    return pooled(side, buf);
}

static assay_status alloc_rows(assay_ctx *ctx, assay__bl_side *side, size_t n, size_t n_classes) {
    size_t m = n ? n : 1, mc = n_classes ? n_classes : 1;
    side->n = n;
    side->id = calloc(m, sizeof *side->id);
    side->label = calloc(m, sizeof *side->label);
    side->digest = malloc(m * sizeof *side->digest);
    side->content = malloc(m * sizeof *side->content);
    side->n_classes = n_classes;
    side->class_label = calloc(mc, sizeof *side->class_label);
    side->class_name = calloc(mc, sizeof *side->class_name);
    if (!side->id || !side->label || !side->digest || !side->content || !side->class_label ||
        !side->class_name)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for %zu baseline rows", n);
    return ASSAY_OK;
}

assay_status assay__bl_side_from_scan(assay_ctx *ctx, const assay__bl_scan *scan,
                                      assay__bl_side *side) {
    memset(side, 0, sizeof *side);
    const assay_dataset *ds = scan->ds;
    assay_status s = alloc_rows(ctx, side, ds->n, ds->n_classes);
    side->path = strdup(ds->path ? ds->path : "");
    if (s == ASSAY_OK && side->path == NULL) s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    if (s != ASSAY_OK) goto fail;
    assay__hex32(ds->digest, side->dataset_sha256);
    snprintf(side->tool_version, sizeof side->tool_version, "%s", assay_version());
    side->has_ids = ds->ids.type != ASSAY__COL_NONE;
    side->ids_int = ds->ids.type == ASSAY__COL_INT;
    side->labels_int = ds->labels.type == ASSAY__COL_INT;
    for (size_t r = 0; r < ds->n; r++) {
        side->label[r] = column_text(side, &ds->labels, r);
        if (side->has_ids) side->id[r] = column_text(side, &ds->ids, r);
        if (side->label[r] == NULL || (side->has_ids && side->id[r] == NULL)) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for baseline rows");
            goto fail;
        }
        memcpy(side->digest[r], ds->row_digest[r], 32);
        memcpy(side->content[r], ds->content_digest[r], 32);
    }
    for (size_t c = 0; c < ds->n_classes; c++) {
        side->class_label[c] = pooled(side, ds->class_label[c]);
        side->class_name[c] = pooled(side, ds->class_name[c]);
        if (!side->class_label[c] || !side->class_name[c]) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for baseline classes");
            goto fail;
        }
    }
    if ((s = assay__bl_stats_compute(ctx, scan, &side->stats)) != ASSAY_OK) goto fail;
    return ASSAY_OK;
fail:
    assay__bl_side_free(side);
    return s;
}

/* ---- reading manifest.json ---- */

typedef struct reader {
    assay_ctx *ctx;
    const char *path;
    assay__bl_side *side;
} reader;

static assay_status bad(const reader *rd, const char *key, const char *expected) {
    return assay__fail(rd->ctx, ASSAY_E_FORMAT,
                       "%s: key '%s': expected %s (is this a manifest.json written by assay?)",
                       rd->path, key, expected);
}

/* Rows are read by position: the declared column order must be the one this build writes, with
 * or without the features-only digest (added later). Returns the number of columns, 0 if not. */
static size_t row_columns_ok(const json_t *cols) {
    static const char *const want[] = {"index", "id", "label", "sha256", "content_sha256"};
    size_t n = json_array_size(cols);
    if (!json_is_array(cols) || (n != 4 && n != 5)) return 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(cols, i));
        if (v == NULL || strcmp(v, want[i]) != 0) return 0;
    }
    return n;
}

/* A label or id value as text: a JSON string as is, an integer in decimal. */
static const char *value_text(assay__bl_side *side, const json_t *v) {
    if (json_is_string(v)) return pooled(side, json_string_value(v));
    char buf[32];
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return pooled(side, buf);
}

static int hex_digest(const char *hex, unsigned char out[32]) {
    if (hex == NULL || strlen(hex) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char ch = hex[2 * i + j];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0) return -1;
            v = v * 16 + (unsigned)d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static assay_status read_rows(reader *rd, const json_t *doc) {
    assay__bl_side *side = rd->side;
    const json_t *rows = json_object_get(doc, "rows");
    const json_t *ids = json_object_get(doc, "ids");
    const json_t *labels = json_object_get(doc, "labels");
    const json_t *classes = json_object_get(labels, "classes");
    if (!json_is_array(rows)) return bad(rd, "rows", "an array of [index, id, label, sha256]");
    if (!json_is_boolean(json_object_get(ids, "present")))
        return bad(rd, "ids.present", "true or false");
    if (!json_is_array(classes)) return bad(rd, "labels.classes", "an array of classes");
    side->has_ids = json_is_true(json_object_get(ids, "present"));
    side->ids_int = side->has_ids && json_is_string(json_object_get(ids, "type")) &&
                    strcmp(json_string_value(json_object_get(ids, "type")), "integer") == 0;
    const json_t *ltype = json_object_get(labels, "type");
    side->labels_int = json_is_string(ltype) && strcmp(json_string_value(ltype), "integer") == 0;
    ASSAY_TRY(alloc_rows(rd->ctx, side, json_array_size(rows), json_array_size(classes)));
    const size_t n_cols = row_columns_ok(json_object_get(doc, "row_columns"));
    if (n_cols == 4) { /* an older manifest: rows can be matched by id or whole-row digest */
        free(side->content);
        side->content = NULL;
    }
    char key[96];
    for (size_t c = 0; c < side->n_classes; c++) {
        const json_t *k = json_array_get(classes, c);
        const json_t *lab = json_object_get(k, "label"), *name = json_object_get(k, "name");
        if (!json_is_string(lab) || !json_is_string(name)) {
            snprintf(key, sizeof key, "labels.classes[%zu]", c);
            return bad(rd, key, "an object with string label and name");
        }
        side->class_label[c] = pooled(side, json_string_value(lab));
        side->class_name[c] = pooled(side, json_string_value(name));
        if (!side->class_label[c] || !side->class_name[c])
            return assay__fail(rd->ctx, ASSAY_E_NOMEM, "out of memory reading %s", rd->path);
    }
    for (size_t r = 0; r < side->n; r++) {
        const json_t *row = json_array_get(rows, r);
        const json_t *idx = json_array_get(row, 0), *id = json_array_get(row, 1);
        const json_t *lab = json_array_get(row, 2), *hex = json_array_get(row, 3);
        snprintf(key, sizeof key, "rows[%zu]", r);
        if (!json_is_array(row) || json_array_size(row) != n_cols)
            return bad(rd, key,
                       n_cols == 4 ? "[index, id, label, sha256]"
                                   : "[index, id, label, sha256, content_sha256]");
        if (!json_is_integer(idx) || json_integer_value(idx) != (json_int_t)r)
            return bad(rd, key, "index equal to the row's position");
        if (side->has_ids ? !(json_is_string(id) || json_is_integer(id)) : !json_is_null(id))
            return bad(rd, key,
                       side->has_ids ? "an id (string or integer; ids.present is true)"
                                     : "a null id (ids.present is false)");
        if (!(json_is_string(lab) || json_is_integer(lab)))
            return bad(rd, key, "a label (string or integer)");
        if (hex_digest(json_string_value(hex), side->digest[r]) != 0)
            return bad(rd, key, "a SHA-256 of 64 hex digits as the fourth value");
        if (side->content != NULL &&
            hex_digest(json_string_value(json_array_get(row, 4)), side->content[r]) != 0)
            return bad(rd, key, "a SHA-256 of 64 hex digits as the fifth value");
        side->label[r] = value_text(side, lab);
        if (side->has_ids) side->id[r] = value_text(side, id);
        if (side->label[r] == NULL || (side->has_ids && side->id[r] == NULL))
            return assay__fail(rd->ctx, ASSAY_E_NOMEM, "out of memory reading %s", rd->path);
    }
    return ASSAY_OK;
}

static int is_number_or_null(const json_t *v) {
    return json_is_number(v) || json_is_null(v);
}

static double number(const json_t *v) {
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* class_statistics (absent or null in manifests written before statistics were kept). */
static assay_status read_stats(reader *rd, const json_t *doc) {
    const json_t *cs = json_object_get(doc, "class_statistics");
    if (cs == NULL || json_is_null(cs)) return ASSAY_OK;
    assay__bl_stats *st = &rd->side->stats;
    const json_t *metric = json_object_get(cs, "metric"), *dims = json_object_get(cs, "dims");
    const json_t *classes = json_object_get(cs, "classes");
    if (!json_is_object(cs)) return bad(rd, "class_statistics", "an object or null");
    if (!json_is_string(metric) ||
        assay_metric_parse(json_string_value(metric), &st->metric) != ASSAY_OK)
        return bad(rd, "class_statistics.metric", "\"cosine\" or \"l2\"");
    if (!json_is_boolean(json_object_get(cs, "normalised")))
        return bad(rd, "class_statistics.normalised", "true or false");
    if (!json_is_integer(dims) || json_integer_value(dims) < 1)
        return bad(rd, "class_statistics.dims", "a positive integer");
    if (!json_is_array(classes)) return bad(rd, "class_statistics.classes", "an array");
    /* The detector quantiles are stored by position: the levels must be the ones this build
     * measures, or old and new quantiles would be compared at different levels. */
    const json_t *levels = json_object_get(cs, "quantiles");
    int levels_ok = json_is_array(levels) && json_array_size(levels) == ASSAY__BL_NQ;
    for (size_t q = 0; levels_ok && q < ASSAY__BL_NQ; q++)
        levels_ok = json_is_number(json_array_get(levels, q)) &&
                    json_number_value(json_array_get(levels, q)) == assay__bl_quantiles[q];
    if (!levels_ok) return bad(rd, "class_statistics.quantiles", "[0.5, 0.9, 0.99]");
    st->normalised = json_is_true(json_object_get(cs, "normalised"));
    st->d = (size_t)json_integer_value(dims);
    st->n_classes = json_array_size(classes);
    st->classes = calloc(st->n_classes ? st->n_classes : 1, sizeof *st->classes);
    if (st->classes == NULL) return assay__fail(rd->ctx, ASSAY_E_NOMEM, "out of memory");
    st->present = 1;
    char key[128];
    for (size_t c = 0; c < st->n_classes; c++) {
        assay__bl_class_stats *k = &st->classes[c];
        const json_t *o = json_array_get(classes, c);
        const json_t *lab = json_object_get(o, "label"), *name = json_object_get(o, "name");
        const json_t *rows = json_object_get(o, "rows"), *centroid = json_object_get(o, "centroid");
        const json_t *dets = json_object_get(o, "detectors");
        snprintf(key, sizeof key, "class_statistics.classes[%zu]", c);
        if (!json_is_string(lab) || !json_is_string(name) || !json_is_integer(rows) ||
            json_integer_value(rows) < 0 || !is_number_or_null(json_object_get(o, "spread")) ||
            !json_is_object(dets))
            return bad(rd, key, "an object with label, name, rows, spread, centroid, detectors");
        k->label =
            assay__strpool_add(&st->pool, json_string_value(lab), strlen(json_string_value(lab)));
        k->name =
            assay__strpool_add(&st->pool, json_string_value(name), strlen(json_string_value(name)));
        k->rows = (size_t)json_integer_value(rows);
        k->spread = number(json_object_get(o, "spread"));
        if (k->label == NULL || k->name == NULL)
            return assay__fail(rd->ctx, ASSAY_E_NOMEM, "out of memory");
        if (!json_is_null(centroid)) {
            snprintf(key, sizeof key, "class_statistics.classes[%zu].centroid", c);
            if (!json_is_array(centroid) || json_array_size(centroid) != st->d)
                return bad(rd, key, "an array of 'dims' numbers");
            k->centroid = malloc(st->d * sizeof *k->centroid);
            if (k->centroid == NULL) return assay__fail(rd->ctx, ASSAY_E_NOMEM, "out of memory");
            for (size_t j = 0; j < st->d; j++) {
                const json_t *v = json_array_get(centroid, j);
                if (!json_is_number(v)) return bad(rd, key, "an array of 'dims' numbers");
                k->centroid[j] = json_number_value(v);
            }
        }
        for (int det = 0; det < ASSAY_DET_COUNT; det++) {
            for (int q = 0; q < ASSAY__BL_NQ; q++) k->q[det][q] = NAN;
            const json_t *e = json_object_get(dets, assay_detector_name(det));
            if (e == NULL) continue; /* detectors of other versions are ignored */
            static const char *const qn[ASSAY__BL_NQ] = {"p50", "p90", "p99"};
            snprintf(key, sizeof key, "class_statistics.classes[%zu].detectors.%s", c,
                     assay_detector_name(det));
            if (!json_is_integer(json_object_get(e, "scored")) ||
                json_integer_value(json_object_get(e, "scored")) < 0)
                return bad(rd, key, "an object with scored, p50, p90, p99");
            k->scored[det] = (size_t)json_integer_value(json_object_get(e, "scored"));
            for (int q = 0; q < ASSAY__BL_NQ; q++) {
                const json_t *v = json_object_get(e, qn[q]);
                if (!is_number_or_null(v)) return bad(rd, key, "an object with p50, p90, p99");
                k->q[det][q] = number(v);
            }
        }
    }
    return ASSAY_OK;
}

typedef struct class_ref {
    const char *label;
    size_t index;
} class_ref;

static int cmp_class_ref(const void *a, const void *b) {
    return strcmp(((const class_ref *)a)->label, ((const class_ref *)b)->label);
}

/* What the manifest declares about its rows against the rows it lists: a manifest edited by
 * hand or cut short must not be read as the baseline it claims to be. Checks input.rows, the
 * id and label types, that every row's label is one of labels.classes (listed once each) with
 * the declared count, and the dataset digest recomputed from the row digests. */
static assay_status check_consistent(reader *rd, const json_t *doc) {
    assay__bl_side *side = rd->side;
    const json_t *input = json_object_get(doc, "input");
    const json_t *declared = json_object_get(input, "rows");
    if (!json_is_integer(declared) || json_integer_value(declared) < 0)
        return bad(rd, "input.rows", "the number of rows (an integer)");
    if ((uint64_t)json_integer_value(declared) != (uint64_t)side->n)
        return assay__fail(rd->ctx, ASSAY_E_FORMAT,
                           "%s: key 'input.rows': declares %" JSON_INTEGER_FORMAT
                           " rows, but 'rows' lists %zu",
                           rd->path, json_integer_value(declared), side->n);
    const json_t *ids = json_object_get(doc, "ids"), *labels = json_object_get(doc, "labels");
    const char *itype = json_string_value(json_object_get(ids, "type"));
    const char *ltype = json_string_value(json_object_get(labels, "type"));
    if (itype == NULL ||
        (side->has_ids ? strcmp(itype, "integer") != 0 && strcmp(itype, "string") != 0
                       : strcmp(itype, "none") != 0))
        return bad(rd, "ids.type",
                   side->has_ids ? "\"integer\" or \"string\" (ids.present is true)"
                                 : "\"none\" (ids.present is false)");
    if (ltype == NULL || (strcmp(ltype, "integer") != 0 && strcmp(ltype, "string") != 0))
        return bad(rd, "labels.type", "\"integer\" or \"string\"");
    const json_t *rows = json_object_get(doc, "rows");
    char key[96];
    for (size_t r = 0; r < side->n; r++) {
        const json_t *row = json_array_get(rows, r);
        const json_t *id = json_array_get(row, 1), *lab = json_array_get(row, 2);
        snprintf(key, sizeof key, "rows[%zu]", r);
        if (side->has_ids && (json_is_integer(id) != side->ids_int))
            return bad(rd, key,
                       side->ids_int ? "an integer id (ids.type is \"integer\")"
                                     : "a string id (ids.type is \"string\")");
        if (json_is_integer(lab) != side->labels_int)
            return bad(rd, key,
                       side->labels_int ? "an integer label (labels.type is \"integer\")"
                                        : "a string label (labels.type is \"string\")");
    }
    /* Classes sorted by label: each row's label found in log time and counted. */
    const json_t *classes = json_object_get(labels, "classes");
    size_t nc = side->n_classes;
    class_ref *ref = malloc((nc ? nc : 1) * sizeof *ref);
    size_t *count = calloc(nc ? nc : 1, sizeof *count);
    assay_status s = ASSAY_OK;
    if (ref == NULL || count == NULL) s = assay__fail(rd->ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t c = 0; s == ASSAY_OK && c < nc; c++) ref[c] = (class_ref){side->class_label[c], c};
    if (s == ASSAY_OK && nc > 0) qsort(ref, nc, sizeof *ref, cmp_class_ref);
    for (size_t c = 1; s == ASSAY_OK && c < nc; c++)
        if (strcmp(ref[c - 1].label, ref[c].label) == 0) {
            size_t later = ref[c - 1].index > ref[c].index ? ref[c - 1].index : ref[c].index;
            snprintf(key, sizeof key, "labels.classes[%zu]", later);
            s = bad(rd, key, "a label not listed before");
        }
    for (size_t r = 0; s == ASSAY_OK && r < side->n; r++) {
        class_ref want = {side->label[r], 0};
        const class_ref *hit = bsearch(&want, ref, nc, sizeof *ref, cmp_class_ref);
        if (hit == NULL) {
            snprintf(key, sizeof key, "rows[%zu]", r);
            s = bad(rd, key, "a label listed in labels.classes");
        } else {
            count[hit->index]++;
        }
    }
    for (size_t c = 0; s == ASSAY_OK && c < nc; c++) {
        const json_t *cnt = json_object_get(json_array_get(classes, c), "count");
        snprintf(key, sizeof key, "labels.classes[%zu].count", c);
        if (!json_is_integer(cnt) || json_integer_value(cnt) < 0)
            s = bad(rd, key, "the number of rows of the class (an integer)");
        else if ((uint64_t)json_integer_value(cnt) != (uint64_t)count[c])
            s = assay__fail(rd->ctx, ASSAY_E_FORMAT,
                            "%s: key '%s': declares %" JSON_INTEGER_FORMAT
                            " rows of class '%s', but 'rows' lists %zu",
                            rd->path, key, json_integer_value(cnt), side->class_label[c], count[c]);
    }
    free(ref);
    free(count);
    if (s != ASSAY_OK) return s;
    /* hash.dataset_sha256 is the SHA-256 of the row digests in order (hash.dataset_rule). */
    unsigned char d[32], want[32];
    unsigned int dlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t r = 0; ok && r < side->n; r++) ok = EVP_DigestUpdate(md, side->digest[r], 32);
    if (ok) ok = EVP_DigestFinal_ex(md, d, &dlen);
    EVP_MD_CTX_free(md);
    if (!ok) return assay__fail(rd->ctx, ASSAY_E_INTERNAL, "SHA-256 (OpenSSL) failed");
    if (hex_digest(side->dataset_sha256, want) != 0 || memcmp(d, want, 32) != 0)
        return assay__fail(rd->ctx, ASSAY_E_FORMAT,
                           "%s: key 'hash.dataset_sha256': is not the SHA-256 of the row digests "
                           "listed in 'rows' (rows edited, reordered or missing?)",
                           rd->path);
    if (side->stats.present) {
        const json_t *dims = json_object_get(input, "dims");
        if (!json_is_integer(dims) || (uint64_t)json_integer_value(dims) != side->stats.d)
            return bad(rd, "input.dims", "the same width as class_statistics.dims");
    }
    return ASSAY_OK;
}

assay_status assay__bl_side_read_buf(assay_ctx *ctx, const char *path, const char *text, size_t len,
                                     assay__bl_side *side) {
    memset(side, 0, sizeof *side);
    side->from_manifest = 1;
    side->path = strdup(path);
    if (side->path == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    unsigned int dlen = 0;
    if (!EVP_Digest(text, len, side->file_sha256, &dlen, EVP_sha256(), NULL)) {
        assay__bl_side_free(side);
        return assay__fail(ctx, ASSAY_E_INTERNAL, "%s: SHA-256 (OpenSSL) failed", path);
    }
    assay_status s = assay__json_depth_check(ctx, path, text, len, assay__limits(ctx)->max_depth);
    if (s != ASSAY_OK) {
        assay__bl_side_free(side);
        return s;
    }
    json_error_t err;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (doc == NULL) {
        assay__bl_side_free(side);
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: line %d, column %d: not valid JSON: %s", path,
                           err.line, err.column, err.text);
    }
    reader rd = {ctx, path, side};
    const json_t *schema = json_object_get(doc, "schema");
    const json_t *digest = json_object_get(json_object_get(doc, "hash"), "dataset_sha256");
    if (!json_is_object(doc))
        s = bad(&rd, "(top level)", "an object");
    else if (!json_is_string(schema) || strcmp(json_string_value(schema), "assay-manifest/1") != 0)
        s = bad(&rd, "schema", "\"assay-manifest/1\"");
    else if (!json_is_string(digest) || strlen(json_string_value(digest)) != 64)
        s = bad(&rd, "hash.dataset_sha256", "a SHA-256 of 64 hex digits");
    else if (!row_columns_ok(json_object_get(doc, "row_columns")))
        s = bad(&rd, "row_columns",
                "[\"index\", \"id\", \"label\", \"sha256\", \"content_sha256\"] (or without "
                "the last)");
    if (s == ASSAY_OK)
        s = assay__json_check_strings(ctx, path, doc, assay__limits(ctx)->max_field_bytes);
    if (s == ASSAY_OK) {
        snprintf(side->dataset_sha256, sizeof side->dataset_sha256, "%s",
                 json_string_value(digest));
        const json_t *created = json_object_get(doc, "created");
        const json_t *version = json_object_get(json_object_get(doc, "tool"), "version");
        snprintf(side->created, sizeof side->created, "%s",
                 json_is_string(created) ? json_string_value(created) : "");
        snprintf(side->tool_version, sizeof side->tool_version, "%s",
                 json_is_string(version) ? json_string_value(version) : "");
        s = read_rows(&rd, doc);
    }
    if (s == ASSAY_OK) s = read_stats(&rd, doc);
    if (s == ASSAY_OK) s = check_consistent(&rd, doc);
    json_decref(doc);
    if (s != ASSAY_OK) assay__bl_side_free(side);
    return s;
}

assay_status assay__bl_side_read(assay_ctx *ctx, const char *path, assay__bl_side *side) {
    memset(side, 0, sizeof *side);
    char *text = NULL;
    size_t len = 0;
    ASSAY_TRY(assay__doc_read(ctx, path, "manifest", ASSAY__MANIFEST_MAX_BYTES, &text, &len));
    assay_status s = assay__bl_side_read_buf(ctx, path, text, len, side);
    free(text);
    return s;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The findings the renderers read (render.h): a saved report.json's parsed list, or a scan's
 * spool file, so that a scan's memory does not grow with the number of findings. */
#define _GNU_SOURCE /* O_TMPFILE */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/outfile.h"
#include "report/render.h"

size_t assay__findings_pin_bytes = ASSAY__FINDINGS_PIN_BYTES;

void assay__findings_of_doc(assay__findings *fs, const json_t *doc) {
    memset(fs, 0, sizeof *fs);
    fs->array = json_object_get(doc, "findings");
    fs->n = json_array_size(fs->array);
}

/* An unnamed file in dir (removed by the kernel when closed, also on a crash), else a named one
 * removed at once; without dir, the system's temporary folder. */
static int spool_fd(const char *dir) {
    if (dir == NULL) {
        FILE *tmp = tmpfile();
        int fd = tmp != NULL ? dup(fileno(tmp)) : -1;
        if (tmp != NULL) fclose(tmp);
        return fd;
    }
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
#endif
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/.assay-findings-XXXXXX", dir) >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int named = mkstemp(path);
    if (named >= 0) unlink(path);
    return named;
}

assay_status assay__findings_spool_open(assay_ctx *ctx, assay__findings *fs, const char *dir) {
    memset(fs, 0, sizeof *fs);
    int fd = spool_fd(dir);
    if (fd >= 0) fs->spool = fdopen(fd, "w+");
    if (fs->spool == NULL) {
        int err = errno;
        if (fd >= 0) close(fd);
        return assay__fail(ctx, err == ENOSPC || err == EDQUOT ? ASSAY_E_RESOURCE : ASSAY_E_IO,
                           "cannot create the findings' temporary file in %s: %s",
                           dir != NULL ? dir : "the temporary folder", strerror(err));
    }
    fs->cap = 1024;
    fs->offset = malloc(fs->cap * sizeof *fs->offset);
    if (fs->offset == NULL) {
        assay__findings_free(fs);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (findings)");
    }
    fs->offset[0] = 0;
    return ASSAY_OK;
}

assay_status assay__findings_spool_add(assay_ctx *ctx, assay__findings *fs, const json_t *f) {
    if (fs->n + 1 >= fs->cap) {
        uint64_t *grown = realloc(fs->offset, 2 * fs->cap * sizeof *grown);
        if (grown == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (findings)");
        fs->offset = grown;
        fs->cap *= 2;
    }
    /* report.json's text of the finding, indented as a document of its own */
    long before = ftell(fs->spool);
    if (f == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory building a finding");
    if (before < 0 || assay__json_dumpf(f, fs->spool, JSON_ENSURE_ASCII | JSON_INDENT(2)) != 0)
        return assay__write_failed(ctx, fs->spool, "the findings' temporary file");
    long after = ftell(fs->spool);
    if (after < 0) return assay__write_failed(ctx, fs->spool, "the findings' temporary file");
    fs->offset[++fs->n] = (uint64_t)after;
    return ASSAY_OK;
}

assay_status assay__findings_spool_done(assay_ctx *ctx, assay__findings *fs) {
    if (fflush(fs->spool) != 0)
        return assay__write_failed(ctx, fs->spool, "the findings' temporary file");
    size_t pin = 0;
    while (pin < fs->n && fs->offset[pin + 1] <= assay__findings_pin_bytes) pin++;
    fs->n_pinned = pin;
    fs->pinned = calloc(pin > 0 ? pin : 1, sizeof *fs->pinned);
    fs->empty = json_object();
    if (fs->pinned == NULL || fs->empty == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (findings)");
    for (size_t w = 0; w < ASSAY__FINDINGS_WINDOW; w++) fs->window_at[w] = SIZE_MAX;
    return ASSAY_OK;
}

void assay__findings_free(assay__findings *fs) {
    if (fs->spool != NULL) fclose(fs->spool);
    for (size_t i = 0; fs->pinned != NULL && i < fs->n_pinned; i++) json_decref(fs->pinned[i]);
    for (size_t w = 0; fs->array == NULL && w < ASSAY__FINDINGS_WINDOW; w++)
        json_decref(fs->window[w]);
    json_decref(fs->empty);
    free(fs->pinned);
    free(fs->offset);
    free(fs->buf);
    memset(fs, 0, sizeof *fs);
}

/* Reads finding i's text into fs->buf (*len bytes); -1 (fs->err set) on failure. */
static int spool_text(assay__findings *fs, size_t i, size_t *len) {
    *len = (size_t)(fs->offset[i + 1] - fs->offset[i]);
    if (*len + 1 > fs->buf_cap) {
        char *grown = realloc(fs->buf, *len + 1);
        if (grown == NULL) {
            fs->err = ENOMEM;
            return -1;
        }
        fs->buf = grown;
        fs->buf_cap = *len + 1;
    }
    for (size_t got = 0; got < *len;) {
        ssize_t r =
            pread(fileno(fs->spool), fs->buf + got, *len - got, (off_t)(fs->offset[i] + got));
        if (r <= 0) {
            fs->err = r < 0 ? errno : EIO;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Finding i parsed from the spool; NULL (fs->err set) on a read or parse failure. */
static json_t *spool_read(assay__findings *fs, size_t i) {
    size_t len;
    if (spool_text(fs, i, &len) != 0) return NULL;
    json_error_t e;
    json_t *f = json_loadb(fs->buf, len, 0, &e);
    if (f == NULL) fs->err = EILSEQ;
    return f;
}

const json_t *assay__findings_at(assay__findings *fs, size_t i) {
    if (fs->array != NULL) return json_array_get(fs->array, i);
    if (i >= fs->n || fs->err != 0) return fs->empty;
    json_t **slot = i < fs->n_pinned ? &fs->pinned[i] : &fs->window[i % ASSAY__FINDINGS_WINDOW];
    if (i >= fs->n_pinned && fs->window_at[i % ASSAY__FINDINGS_WINDOW] != i) {
        json_decref(*slot);
        *slot = NULL;
        fs->window_at[i % ASSAY__FINDINGS_WINDOW] = i;
    }
    if (*slot == NULL) *slot = spool_read(fs, i);
    if (*slot == NULL) {
        fs->window_at[i % ASSAY__FINDINGS_WINDOW] = SIZE_MAX;
        return fs->empty;
    }
    return *slot;
}

assay_status assay__findings_status(assay_ctx *ctx, const assay__findings *fs, const char *path) {
    if (fs->err == 0) return ASSAY_OK;
    if (fs->err == ENOMEM) return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory", path);
    return assay__fail(ctx, fs->err == EILSEQ ? ASSAY_E_INTERNAL : ASSAY_E_IO,
                       "%s: cannot read the findings back from their temporary file: %s", path,
                       fs->err == EILSEQ ? "not the JSON written" : strerror(fs->err));
}

size_t assay__doc_row_end(assay__findings *fs, size_t first) {
    json_int_t row = json_integer_value(json_object_get(assay__findings_at(fs, first), "index"));
    size_t end = first + 1;
    while (end < fs->n &&
           json_integer_value(json_object_get(assay__findings_at(fs, end), "index")) == row)
        end++;
    return end;
}

/* Copies s[0, n) to fp with `indent` spaces after every line break (a document's text placed
 * inside another one, one level deeper: JSON strings hold no raw line breaks). */
static int put_indented(FILE *fp, const char *s, size_t n, int indent) {
    for (size_t a = 0; a < n;) {
        const char *nl = memchr(s + a, '\n', n - a);
        size_t b = nl != NULL ? (size_t)(nl - s) + 1 : n;
        if (fwrite(s + a, 1, b - a, fp) != b - a) return -1;
        if (nl != NULL && fprintf(fp, "%*s", indent, "") < 0) return -1;
        a = b;
    }
    return 0;
}

/* The findings as report.json's "findings" value at depth 1 ("[]" when there are none). */
static assay_status put_findings(assay_ctx *ctx, assay__findings *fs, FILE *fp, const char *path) {
    const size_t flags = JSON_ENSURE_ASCII | JSON_INDENT(2);
    if (fputs(fs->n == 0 ? "[]" : "[\n    ", fp) == EOF) return assay__write_failed(ctx, fp, path);
    for (size_t i = 0; i < fs->n; i++) {
        if (i > 0 && fputs(",\n    ", fp) == EOF) return assay__write_failed(ctx, fp, path);
        if (fs->array != NULL) {
            if (assay__json_dumpf_at(json_array_get(fs->array, i), fp, flags, 4) != 0)
                return assay__write_failed(ctx, fp, path);
            continue;
        }
        /* the spool holds each finding's text as written: copied, not parsed and written again */
        size_t len;
        if (spool_text(fs, i, &len) != 0) return assay__findings_status(ctx, fs, path);
        if (put_indented(fp, fs->buf, len, 4) != 0) return assay__write_failed(ctx, fp, path);
    }
    if (fs->n > 0 && fputs("\n  ]", fp) == EOF) return assay__write_failed(ctx, fp, path);
    return ASSAY_OK;
}

assay_status assay__dump_report(assay_ctx *ctx, const json_t *doc, assay__findings *fs, FILE *fp,
                                const char *path) {
    /* jansson's own layout at JSON_INDENT(2), member by member, so that the findings can come
     * from the spool: "{", each member on its own line indented by 2 as `"key": value` with the
     * value's inner lines one level deeper, "," between members, "}" and a final newline */
    if (!json_is_object(doc) || json_object_size(doc) == 0)
        return assay__dump_json(ctx, doc, fp, 1, path);
    const size_t flags = JSON_ENSURE_ASCII | JSON_INDENT(2) | JSON_ENCODE_ANY;
    const char *key;
    const json_t *v;
    int first = 1;
    json_object_foreach((json_t *)doc, key, v) {
        json_t *k = json_string(key);
        int rc = fputs(first ? "{\n  " : ",\n  ", fp) == EOF ||
                 assay__json_dumpf_at(k, fp, flags, 0) != 0 || fputs(": ", fp) == EOF;
        json_decref(k);
        if (rc) return assay__write_failed(ctx, fp, path);
        first = 0;
        if (strcmp(key, "findings") == 0)
            ASSAY_TRY(put_findings(ctx, fs, fp, path));
        else if (assay__json_dumpf_at(v, fp, flags, 2) != 0)
            return assay__write_failed(ctx, fp, path);
    }
    return fputs("\n}\n", fp) == EOF ? assay__write_failed(ctx, fp, path) : ASSAY_OK;
}

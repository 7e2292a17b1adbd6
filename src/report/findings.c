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

assay_status assay__findings_spool_open(assay_ctx *ctx, assay__findings_spool *sp,
                                        const char *dir) {
    memset(sp, 0, sizeof *sp);
    int fd = spool_fd(dir);
    if (fd >= 0) sp->file = fdopen(fd, "w+");
    if (sp->file == NULL) {
        int err = errno;
        if (fd >= 0) close(fd);
        return assay__fail(ctx, err == ENOSPC || err == EDQUOT ? ASSAY_E_RESOURCE : ASSAY_E_IO,
                           "cannot create the findings' temporary file in %s: %s",
                           dir != NULL ? dir : "the temporary folder", strerror(err));
    }
    sp->cap = 1024;
    sp->offset = malloc(sp->cap * sizeof *sp->offset);
    sp->pinned = malloc(sp->cap * sizeof *sp->pinned);
    if (sp->offset == NULL || sp->pinned == NULL) {
        assay__findings_spool_free(sp);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (findings)");
    }
    sp->offset[0] = 0;
    return ASSAY_OK;
}

static const char k_spool_name[] = "the findings' temporary file";

assay_status assay__findings_spool_add(assay_ctx *ctx, assay__findings_spool *sp, const json_t *f) {
    if (sp->n + 1 >= sp->cap) {
        uint64_t *off = realloc(sp->offset, 2 * sp->cap * sizeof *off);
        if (off != NULL) sp->offset = off;
        json_t **pin = off != NULL ? realloc(sp->pinned, 2 * sp->cap * sizeof *pin) : NULL;
        if (pin == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (findings)");
        sp->pinned = pin;
        sp->cap *= 2;
    }
    /* report.json's text of the finding, indented as a document of its own */
    char *text = assay__json_dumps(f, JSON_ENSURE_ASCII | JSON_INDENT(2));
    if (text == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory building a finding");
    size_t len = strlen(text);
    int failed = fwrite(text, 1, len, sp->file) != len;
    uint64_t end = sp->offset[sp->n] + len;
    /* the first ones stay parsed, as they read back: those a small report renders from */
    json_t *pinned = NULL;
    if (!failed && sp->n == sp->n_pinned && end <= assay__findings_pin_bytes) {
        json_error_t e;
        pinned = json_loadb(text, len, 0, &e);
        if (pinned == NULL) {
            free(text);
            return assay__fail(ctx, ASSAY_E_INTERNAL, "a finding does not read back: %s", e.text);
        }
    }
    free(text);
    if (failed) return assay__write_failed(ctx, sp->file, k_spool_name);
    if (pinned != NULL) sp->pinned[sp->n_pinned++] = pinned;
    sp->offset[++sp->n] = end;
    return ASSAY_OK;
}

assay_status assay__findings_spool_done(assay_ctx *ctx, assay__findings_spool *sp) {
    if (fflush(sp->file) != 0) return assay__write_failed(ctx, sp->file, k_spool_name);
    return ASSAY_OK;
}

void assay__findings_spool_free(assay__findings_spool *sp) {
    if (sp->file != NULL) fclose(sp->file);
    for (size_t i = 0; sp->pinned != NULL && i < sp->n_pinned; i++) json_decref(sp->pinned[i]);
    free(sp->pinned);
    free(sp->offset);
    memset(sp, 0, sizeof *sp);
}

assay_status assay__findings_of_spool(assay_ctx *ctx, assay__findings *fs,
                                      const assay__findings_spool *sp) {
    memset(fs, 0, sizeof *fs);
    fs->spool = sp;
    fs->n = sp->n;
    for (size_t w = 0; w < ASSAY__FINDINGS_WINDOW; w++) fs->window_at[w] = SIZE_MAX;
    fs->empty = json_object();
    return fs->empty != NULL ? ASSAY_OK : assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
}

void assay__findings_free(assay__findings *fs) {
    for (size_t w = 0; w < ASSAY__FINDINGS_WINDOW; w++) json_decref(fs->window[w]);
    json_decref(fs->empty);
    free(fs->buf);
    memset(fs, 0, sizeof *fs);
}

/* Reads finding i's text into fs->buf (*len bytes); -1 (fs->err set) on failure. */
static int spool_text(assay__findings *fs, size_t i, size_t *len) {
    const assay__findings_spool *sp = fs->spool;
    *len = (size_t)(sp->offset[i + 1] - sp->offset[i]);
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
            pread(fileno(sp->file), fs->buf + got, *len - got, (off_t)(sp->offset[i] + got));
        if (r <= 0) {
            fs->err = r < 0 ? errno : EIO;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

const json_t *assay__findings_at(assay__findings *fs, size_t i) {
    if (fs->array != NULL) return json_array_get(fs->array, i);
    if (fs->spool == NULL || i >= fs->n || fs->err != 0) return fs->empty;
    if (i < fs->spool->n_pinned) return fs->spool->pinned[i];
    size_t w = i % ASSAY__FINDINGS_WINDOW;
    if (fs->window_at[w] == i) return fs->window[w];
    json_decref(fs->window[w]);
    fs->window[w] = NULL;
    fs->window_at[w] = SIZE_MAX;
    size_t len;
    if (spool_text(fs, i, &len) != 0) return fs->empty;
    json_error_t e;
    fs->window[w] = json_loadb(fs->buf, len, 0, &e);
    if (fs->window[w] == NULL) {
        fs->err = EILSEQ;
        return fs->empty;
    }
    fs->window_at[w] = i;
    return fs->window[w];
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
        if (assay__put_indented(fp, fs->buf, len, 4) != 0)
            return assay__write_failed(ctx, fp, path);
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

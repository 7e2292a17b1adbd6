/* SPDX-License-Identifier: Apache-2.0 */
/* A list of row ids, one per line (io/id_list.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/id_list.h"
#include "io/input.h"

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

assay_status assay__id_list_parse(assay_ctx *ctx, const char *buf, size_t len, const char *name,
                                  assay__id_list *out) {
    memset(out, 0, sizeof *out);
    const assay_limits *lim = assay__limits(ctx);
    size_t cap = 0, line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *end = memchr(buf + pos, '\n', len - pos);
        size_t stop = end != NULL ? (size_t)(end - buf) : len;
        line++;
        if (stop - pos > lim->max_line_bytes) {
            assay__id_list_free(out);
            return assay__fail(ctx, ASSAY_E_LIMIT,
                               "%s: line %zu: line of %zu bytes exceeds --max-line-bytes (%" PRIu64
                               ")",
                               name, line, stop - pos, lim->max_line_bytes);
        }
        if (memchr(buf + pos, '\0', stop - pos) != NULL) {
            assay__id_list_free(out);
            return assay__fail(ctx, ASSAY_E_FORMAT, "%s:%zu: a NUL byte inside an id", name, line);
        }
        size_t a = pos, b = stop;
        while (a < b && is_blank(buf[a])) a++;
        while (b > a && is_blank(buf[b - 1])) b--;
        pos = stop + 1;
        if (a == b || buf[a] == '#') continue;
        if (b - a > ASSAY__ID_MAX || b - a > lim->max_label_bytes) {
            uint64_t max =
                lim->max_label_bytes < ASSAY__ID_MAX ? lim->max_label_bytes : ASSAY__ID_MAX;
            assay__id_list_free(out);
            return assay__fail(ctx, ASSAY_E_LIMIT,
                               "%s:%zu: an id of %zu bytes exceeds --max-label-bytes (%" PRIu64 ")",
                               name, line, b - a, max);
        }
        if ((uint64_t)out->n >= lim->max_rows) {
            assay__id_list_free(out);
            return assay__fail(ctx, ASSAY_E_LIMIT,
                               "%s:%zu: more than %" PRIu64 " ids, exceeds --max-rows (%" PRIu64
                               ")",
                               name, line, lim->max_rows, lim->max_rows);
        }
        if (out->n == cap) {
            size_t ncap = cap ? 2 * cap : 256;
            char **grown = realloc(out->id, ncap * sizeof *grown);
            if (grown == NULL) goto nomem;
            out->id = grown;
            cap = ncap;
        }
        if ((out->id[out->n] = assay__strpool_add(&out->pool, buf + a, b - a)) == NULL) goto nomem;
        out->n++;
    }
    return ASSAY_OK;
nomem:
    assay__id_list_free(out);
    return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory reading the id list", name);
}

assay_status assay__id_list_read(assay_ctx *ctx, const char *path, assay__id_list *out) {
    memset(out, 0, sizeof *out);
    assay__input in;
    ASSAY_TRY(assay__input_open(ctx, path, "an id list", 0, &in));
    if (in.size > ASSAY__ID_LIST_BYTES) {
        assay__input_close(&in);
        return assay__fail(ctx, ASSAY_E_LIMIT,
                           "%s: the id list has %" PRIu64 " bytes, more than the %zu an id list "
                           "may hold",
                           path, in.size, ASSAY__ID_LIST_BYTES);
    }
    size_t len = (size_t)in.size;
    char *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        assay__input_close(&in);
        return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory reading the id list", path);
    }
    size_t got = 0;
    errno = 0;
    while (got < len) {
        ssize_t r = read(in.fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    int e = errno;
    assay__input_close(&in);
    if (got != len) {
        free(buf);
        return assay__fail(ctx, got < len && e != 0 ? assay__errno_status(e) : ASSAY_E_IO,
                           "%s: read error (%zu of %zu bytes)", path, got, len);
    }
    assay_status s = assay__id_list_parse(ctx, buf, len, path, out);
    free(buf);
    return s;
}

void assay__id_list_free(assay__id_list *l) {
    if (l == NULL) return;
    free(l->id);
    assay__strpool_free(&l->pool);
    memset(l, 0, sizeof *l);
}

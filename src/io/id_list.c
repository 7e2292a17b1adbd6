/* SPDX-License-Identifier: Apache-2.0 */
/* A list of row ids, one per line (io/id_list.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/id_list.h"

static int is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

assay_status assay__id_list_parse(assay_ctx *ctx, const char *buf, size_t len, const char *name,
                                  assay__id_list *out) {
    memset(out, 0, sizeof *out);
    size_t cap = 0, line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *end = memchr(buf + pos, '\n', len - pos);
        size_t stop = end != NULL ? (size_t)(end - buf) : len;
        line++;
        if (memchr(buf + pos, '\0', stop - pos) != NULL) {
            assay__id_list_free(out);
            return assay__fail(ctx, ASSAY_E_FORMAT, "%s:%zu: a NUL byte inside an id", name, line);
        }
        size_t a = pos, b = stop;
        while (a < b && is_blank(buf[a])) a++;
        while (b > a && is_blank(buf[b - 1])) b--;
        pos = stop + 1;
        if (a == b || buf[a] == '#') continue;
        if (b - a > ASSAY__ID_MAX) {
            assay__id_list_free(out);
            return assay__fail(ctx, ASSAY_E_FORMAT, "%s:%zu: an id longer than %d bytes", name,
                               line, ASSAY__ID_MAX);
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
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return assay__fail(ctx, errno == ENOENT ? ASSAY_E_NOTFOUND : ASSAY_E_IO,
                           "%s: cannot open the id list: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return assay__fail(ctx, ASSAY_E_IO, "%s: the id list is not a regular file", path);
    }
    if ((uint64_t)st.st_size > ASSAY__ID_LIST_BYTES) {
        fclose(fp);
        return assay__fail(ctx, ASSAY_E_NOMEM, "%s: the id list has %lld bytes, more than %zu",
                           path, (long long)st.st_size, ASSAY__ID_LIST_BYTES);
    }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        fclose(fp);
        return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory reading the id list", path);
    }
    size_t got = fread(buf, 1, len, fp);
    int err = ferror(fp);
    fclose(fp);
    if (err || got != len) {
        free(buf);
        return assay__fail(ctx, ASSAY_E_IO, "%s: read error", path);
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

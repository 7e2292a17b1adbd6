/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file reads of documents with a size cap and the JSON depth pre-scan (docfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/docfile.h"

static const char *file_kind(mode_t m) {
    return S_ISDIR(m)    ? "a folder"
           : S_ISFIFO(m) ? "a pipe"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

assay_status assay__doc_read(assay_ctx *ctx, const char *path, const char *what, uint64_t cap,
                             char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    uint64_t lim = assay__limits(ctx)->max_file_bytes;
    if (lim < cap) cap = lim;
    /* O_NONBLOCK: opening a FIFO with no writer must not block before fstat refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return assay__fail(ctx, e == ENOENT ? ASSAY_E_NOTFOUND : assay__errno_status(e),
                           "%s: cannot open the %s: %s", path, what, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return assay__fail(ctx, assay__errno_status(e), "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return assay__fail(ctx, ASSAY_E_FORMAT, "%s: is %s; expected the %s as a regular file",
                           path, file_kind(st.st_mode), what);
    }
    if ((uint64_t)st.st_size > cap) {
        close(fd);
        return assay__fail(ctx, ASSAY_E_LIMIT,
                           "%s: %llu bytes; a %s is at most %llu bytes (--max-file-bytes)", path,
                           (unsigned long long)st.st_size, what, (unsigned long long)cap);
    }
    /* The size can change while reading: read at most cap + 1 bytes and check again. */
    size_t want = (size_t)st.st_size, n = 0;
    char *b = malloc(want + 1);
    if (b == NULL) {
        close(fd);
        return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory reading the %s", path, what);
    }
    for (;;) {
        if (n == want) {
            if ((uint64_t)want >= cap) break;
            size_t grow = want + 4096 > cap ? (size_t)cap : want + 4096;
            char *nb = realloc(b, grow + 1);
            if (nb == NULL) {
                free(b);
                close(fd);
                return assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory reading the %s", path,
                                   what);
            }
            b = nb;
            want = grow;
        }
        ssize_t got = read(fd, b + n, want - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            free(b);
            close(fd);
            return assay__fail(ctx, assay__errno_status(e), "%s: read failed: %s", path,
                               strerror(e));
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    char extra;
    ssize_t more = n == want && (uint64_t)n >= cap ? read(fd, &extra, 1) : 0;
    close(fd);
    if (more > 0) {
        free(b);
        return assay__fail(ctx, ASSAY_E_LIMIT, "%s: a %s is at most %llu bytes (--max-file-bytes)",
                           path, what, (unsigned long long)cap);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return ASSAY_OK;
}

assay_status assay__json_depth_check(assay_ctx *ctx, const char *name, const char *text, size_t len,
                                     uint32_t max_depth) {
    uint64_t depth = 0, line = 1;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\n') line++;
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return assay__fail(ctx, ASSAY_E_LIMIT,
                                   "%s: line %llu: nesting deeper than %u (--max-depth)", name,
                                   (unsigned long long)line, (unsigned)max_depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return ASSAY_OK;
}

/* One open array or object of the walk below, with where it sits in its parent. */
typedef struct walk_frame {
    const json_t *v;
    size_t next; /* array: next index */
    void *iter;  /* object: next member */
    const char *key;
    size_t index;
} walk_frame;

static void pointer_of(const walk_frame *st, size_t top, const char *key, size_t index, char *buf,
                       size_t len) {
    size_t o = 0;
    buf[0] = '\0';
    for (size_t f = 1; f <= top && o < len; f++) {
        const char *k = f < top ? st[f].key : key;
        size_t i = f < top ? st[f].index : index;
        int n = k != NULL ? snprintf(buf + o, len - o, "/%.40s", k)
                          : snprintf(buf + o, len - o, "/%zu", i);
        if (n < 0) break;
        o += (size_t)n;
    }
}

assay_status assay__json_check_strings(assay_ctx *ctx, const char *name, const json_t *doc,
                                       uint64_t max_bytes) {
    if (!json_is_object(doc) && !json_is_array(doc)) return ASSAY_OK;
    size_t cap = 16, top = 0;
    walk_frame *st = malloc(cap * sizeof *st);
    if (st == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (%s)", name);
    st[top++] =
        (walk_frame){doc, 0, json_is_object(doc) ? json_object_iter((json_t *)doc) : NULL, NULL, 0};
    assay_status s = ASSAY_OK;
    while (top > 0 && s == ASSAY_OK) {
        walk_frame *f = &st[top - 1];
        const json_t *child = NULL;
        const char *key = NULL;
        size_t index = 0;
        if (json_is_object(f->v) && f->iter != NULL) {
            key = json_object_iter_key(f->iter);
            child = json_object_iter_value(f->iter);
            f->iter = json_object_iter_next((json_t *)f->v, f->iter);
        } else if (json_is_array(f->v) && f->next < json_array_size(f->v)) {
            index = f->next++;
            child = json_array_get(f->v, index);
        } else {
            top--;
            continue;
        }
        size_t len = json_is_string(child) ? json_string_length(child) : 0;
        if (key != NULL && strlen(key) > len) len = strlen(key);
        if (len > max_bytes) {
            char where[512];
            pointer_of(st, top, key, index, where, sizeof where);
            s = assay__fail(ctx, ASSAY_E_LIMIT,
                            "%s: %s: string of %zu bytes exceeds --max-field-bytes (%llu)", name,
                            where, len, (unsigned long long)max_bytes);
        } else if (json_is_object(child) || json_is_array(child)) {
            if (top == cap) {
                walk_frame *g = realloc(st, 2 * cap * sizeof *st);
                if (g == NULL) {
                    s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (%s)", name);
                    break;
                }
                st = g;
                cap *= 2;
            }
            st[top++] = (walk_frame){
                child, 0, json_is_object(child) ? json_object_iter((json_t *)child) : NULL, key,
                index};
        }
    }
    free(st);
    return s;
}

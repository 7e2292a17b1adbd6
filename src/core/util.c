/* SPDX-License-Identifier: Apache-2.0 */
/* Small shared helpers: clocks, aligned allocation, the string pool and typed columns. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"

double assay__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void assay__utc_timestamp(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void *assay__aligned_alloc(size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
}

int assay__mul_overflows(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

/* ---- string pool ---- */

struct assay__strpool_block {
    assay__strpool_block *next;
    size_t used, cap;
    char data[];
};

char *assay__strpool_add(assay__strpool *p, const char *s, size_t len) {
    assay__strpool_block *b = p->head;
    if (b == NULL || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > 65536 ? len + 1 : 65536;
        b = malloc(sizeof *b + cap);
        if (b == NULL) return NULL;
        b->next = p->head;
        b->used = 0;
        b->cap = cap;
        p->head = b;
    }
    char *dst = b->data + b->used;
    if (len > 0) memcpy(dst, s, len);
    dst[len] = '\0';
    b->used += len + 1;
    return dst;
}

void assay__strpool_free(assay__strpool *p) {
    assay__strpool_block *b = p->head;
    while (b != NULL) {
        assay__strpool_block *next = b->next;
        free(b);
        b = next;
    }
    p->head = NULL;
}

/* ---- columns ---- */

void assay__column_free(assay__column *c) {
    if (c == NULL) return;
    free(c->i);
    free(c->s);
    free(c->source);
    assay__strpool_free(&c->pool);
    memset(c, 0, sizeof *c);
}

assay_status assay__column_set_source(assay_ctx *ctx, assay__column *c, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(c->source);
    c->source = strdup(buf);
    if (c->source == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    return ASSAY_OK;
}

int assay__parse_int64(const char *s, int64_t *out) {
    while (isspace((unsigned char)*s)) s++;
    if (*s == '\0') return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end != '\0') return -1;
    *out = (int64_t)v;
    return 0;
}

int assay__list_next(const char **cursor, const char **item, const char **item_end) {
    const char *p = *cursor;
    if (p == NULL) return 0;
    const char *end = strchr(p, ',');
    if (end == NULL) end = p + strlen(p);
    const char *a = p, *b = end;
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    *item = a;
    *item_end = b;
    *cursor = *end == '\0' ? NULL : end + 1;
    return 1;
}

void assay__hex32(const unsigned char *digest, char *buf) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        buf[2 * i] = hex[digest[i] >> 4];
        buf[2 * i + 1] = hex[digest[i] & 15];
    }
    buf[64] = '\0';
}

assay_status assay__column_maybe_to_int(assay_ctx *ctx, assay__column *c) {
    if (c->type != ASSAY__COL_STR) return ASSAY_OK;
    for (size_t r = 0; r < c->n; r++) {
        int64_t v;
        if (assay__parse_int64(c->s[r], &v) != 0) return ASSAY_OK; /* stays a string column */
    }
    int64_t *vals = malloc((c->n ? c->n : 1) * sizeof *vals);
    if (vals == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    for (size_t r = 0; r < c->n; r++) assay__parse_int64(c->s[r], &vals[r]);
    free(c->s);
    c->s = NULL;
    assay__strpool_free(&c->pool);
    c->i = vals;
    c->type = ASSAY__COL_INT;
    return ASSAY_OK;
}

/* Offset of the first byte of s[0..len) that is not part of well-formed UTF-8 (no overlongs,
 * surrogates or code points past U+10FFFF), or len. */
size_t assay__utf8_bad_at(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
        if (n == 0 || c > 0xF4 || i + n > len) return i;
        for (size_t k = 1; k < n; k++)
            if ((u[i + k] & 0xC0) != 0x80) return i;
        if ((c == 0xE0 && u[i + 1] < 0xA0) || (c == 0xED && u[i + 1] >= 0xA0) ||
            (c == 0xF0 && u[i + 1] < 0x90) || (c == 0xF4 && u[i + 1] >= 0x90))
            return i; /* overlong, surrogate, or past U+10FFFF */
        i += n;
    }
    return len;
}

float assay__half_to_float(uint16_t x) {
    uint32_t sign = (uint32_t)(x & 0x8000u) << 16;
    uint32_t exp = (x >> 10) & 0x1fu;
    uint32_t mant = x & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | mant << 13;
    } else if (exp != 0) {
        bits = sign | (exp + (127 - 15)) << 23 | mant << 13;
    } else {
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

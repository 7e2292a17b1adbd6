/* SPDX-License-Identifier: Apache-2.0 */
/* Input limits: what any file may declare or contain before a parser allocates for it. The
 * defaults are generous for real data (a 1 TiB file, 2^31 - 1 rows) and exist so that a tiny
 * hostile file cannot make the tool allocate without bound. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static const assay_limits k_defaults = {
    .max_file_bytes = (uint64_t)1 << 40,
    .max_rows = ((uint64_t)1 << 31) - 1,
    .max_dims = (uint64_t)1 << 20,
    .max_field_bytes = (uint64_t)1 << 20,
    .max_line_bytes = (uint64_t)64 << 20,
    .max_label_bytes = 4096,
    .max_depth = 64,
    .no_sandbox = 0,
};

void assay_limits_default(assay_limits *out) {
    if (out != NULL) *out = k_defaults;
}

assay_status assay_ctx_set_limits(assay_ctx *ctx, const assay_limits *limits) {
    if (ctx == NULL || limits == NULL) return ASSAY_E_INVAL;
    assay_limits d;
    assay_limits_default(&d);
    assay_limits l = *limits;
    if (l.max_file_bytes == 0) l.max_file_bytes = d.max_file_bytes;
    if (l.max_rows == 0) l.max_rows = d.max_rows;
    if (l.max_dims == 0) l.max_dims = d.max_dims;
    if (l.max_field_bytes == 0) l.max_field_bytes = d.max_field_bytes;
    if (l.max_line_bytes == 0) l.max_line_bytes = d.max_line_bytes;
    if (l.max_label_bytes == 0) l.max_label_bytes = d.max_label_bytes;
    if (l.max_depth == 0) l.max_depth = d.max_depth;
    if (l.no_sandbox != 0 && l.no_sandbox != 1)
        return assay__fail(ctx, ASSAY_E_INVAL, "limits: no_sandbox must be 0 or 1");
    ctx->limits = l;
    return ASSAY_OK;
}

const assay_limits *assay_ctx_limits(const assay_ctx *ctx) {
    return assay__limits(ctx);
}

const assay_limits *assay__limits(const assay_ctx *ctx) {
    return ctx != NULL ? &ctx->limits : &k_defaults;
}

assay_status assay__errno_status(int err) {
    switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EIO:
    case EFBIG:
        return ASSAY_E_RESOURCE;
    default:
        return ASSAY_E_IO;
    }
}

assay_status assay_size_parse(const char *s, uint64_t *out) {
    if (s == NULL || out == NULL || s[0] < '0' || s[0] > '9') return ASSAY_E_INVAL;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || !isfinite(v)) return ASSAY_E_INVAL;
    double mul = 1;
    if (*end != '\0') {
        const char *units = "KMGT";
        const char *u = strchr(units, end[0] >= 'a' ? end[0] - 32 : end[0]);
        if (u == NULL || end[0] == '\0') return ASSAY_E_INVAL;
        mul = ldexp(1.0, 10 * (int)(u - units + 1));
        end++;
        if (*end == 'i' && end[1] == 'B')
            end += 2; /* "64KiB" */
        else if (*end == 'B')
            end++; /* "64KB" */
        if (*end != '\0') return ASSAY_E_INVAL;
    } else if (v != floor(v)) {
        return ASSAY_E_INVAL;
    }
    double r = floor(v * mul);
    if (!(r < 18446744073709551616.0)) return ASSAY_E_INVAL;
    *out = (uint64_t)r;
    return ASSAY_OK;
}

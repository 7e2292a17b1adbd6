/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic report files: write to a hidden temporary name in the same folder, sync, then rename,
 * so a reader (or a killed run) never sees a half-written report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report_internal.h"

assay_status assay__out_open(assay_ctx *ctx, const char *dir, const char *name, assay__outfile *f) {
    memset(f, 0, sizeof *f);
    int a = snprintf(f->final_path, sizeof f->final_path, "%s/%s", dir, name);
    int b = snprintf(f->tmp_path, sizeof f->tmp_path, "%s/.%s.tmp-XXXXXX", dir, name);
    if (a < 0 || b < 0 || (size_t)a >= sizeof f->final_path || (size_t)b >= sizeof f->tmp_path)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        int e = errno;
        f->tmp_path[0] = '\0';
        return assay__fail(ctx, ASSAY_E_IO, "%s: cannot create a file in the output folder: %s",
                           dir, strerror(e));
    }
    f->fp = fdopen(fd, "w");
    if (f->fp == NULL) {
        int e = errno;
        close(fd);
        unlink(f->tmp_path);
        f->tmp_path[0] = '\0';
        return assay__fail(ctx, ASSAY_E_IO, "%s: %s", f->final_path, strerror(e));
    }
    return ASSAY_OK;
}

assay_status assay__out_close(assay_ctx *ctx, assay__outfile *f) {
    if (f->fp == NULL) return ASSAY_OK;
    int bad = ferror(f->fp) || fflush(f->fp) != 0;
    int e = errno;
    if (!bad && fsync(fileno(f->fp)) != 0 && errno != EINVAL) {
        bad = 1;
        e = errno;
    }
    if (fclose(f->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    f->fp = NULL;
    if (bad)
        return assay__fail(ctx, ASSAY_E_IO, "%s: write failed: %s", f->final_path,
                           e ? strerror(e) : "stream error");
    return ASSAY_OK;
}

assay_status assay__out_commit(assay_ctx *ctx, assay__outfile *f) {
    if (rename(f->tmp_path, f->final_path) != 0)
        return assay__fail(ctx, ASSAY_E_IO, "%s: cannot rename into place: %s", f->final_path,
                           strerror(errno));
    f->tmp_path[0] = '\0';
    return ASSAY_OK;
}

void assay__out_discard(assay__outfile *f) {
    if (f->fp != NULL) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->tmp_path[0] != '\0') {
        unlink(f->tmp_path);
        f->tmp_path[0] = '\0';
    }
}

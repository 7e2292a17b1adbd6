/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic report files: write to a hidden temporary name in the same folder, sync, then rename,
 * so a reader (or a killed run) never sees a half-written report. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/outfile.h"

/* The temporary file is created with O_EXCL and mode 0666, so the umask applies as it does to
 * any file the user creates (mkstemp would force 0600 on reports meant to be shared). */
assay_status assay__out_open(assay_ctx *ctx, const char *dir, const char *name, assay__outfile *f) {
    memset(f, 0, sizeof *f);
    int a = snprintf(f->final_path, sizeof f->final_path, "%s/%s", dir, name);
    if (a < 0 || (size_t)a >= sizeof f->final_path)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long salt = (unsigned long)ts.tv_nsec ^ (unsigned long)(uintptr_t)f;
    int fd = -1, e = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        int b = snprintf(f->tmp_path, sizeof f->tmp_path, "%s/.%s.tmp-%ld-%lx", dir, name,
                         (long)getpid(), salt + (unsigned long)attempt);
        if (b < 0 || (size_t)b >= sizeof f->tmp_path)
            return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
        fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        e = errno;
        if (fd < 0 && e != EEXIST) break;
    }
    if (fd < 0) {
        f->tmp_path[0] = '\0';
        return assay__fail(ctx, ASSAY_E_IO, "%s: cannot create a file in the output folder: %s",
                           dir, strerror(e));
    }
    f->fp = fdopen(fd, "w");
    if (f->fp == NULL) {
        e = errno;
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

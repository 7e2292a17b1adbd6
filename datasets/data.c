/* SPDX-License-Identifier: Apache-2.0 */
/* Datasets and ground truth in memory, attack names, and the error and atomic-output helpers
 * shared by the other datagen sources. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datagen_internal.h"

assay_status datagen_fail(datagen_error *err, assay_status status, const char *fmt, ...) {
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

int datagen_exit_code(assay_status s) {
    switch (s) {
#define DATAGEN_X_(name, value, text, input)                                                       \
    case ASSAY_##name:                                                                             \
        return value == 0 ? 0 : (input) ? 2 : 3;
        ASSAY_STATUS_MAP(DATAGEN_X_)
#undef DATAGEN_X_
    }
    return 3;
}

int datagen__mul_overflows(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

/* ---- datasets ---- */

assay_status datagen_data_alloc(datagen_data *data, size_t n, size_t d, size_t n_classes,
                                datagen_error *err) {
    memset(data, 0, sizeof *data);
    size_t cells = 0;
    if (datagen__mul_overflows(n, d, &cells) || cells > SIZE_MAX / sizeof(float))
        return datagen_fail(err, ASSAY_E_INVAL, "%zu x %zu features do not fit in memory", n, d);
    /* calloc(0) may return NULL; one element keeps "NULL means out of memory" true. */
    data->x = calloc(cells ? cells : 1, sizeof *data->x);
    data->labels = calloc(n ? n : 1, sizeof *data->labels);
    data->ids = calloc(n ? n : 1, sizeof *data->ids);
    if (data->x == NULL || data->labels == NULL || data->ids == NULL) {
        datagen_data_free(data);
        return datagen_fail(err, ASSAY_E_NOMEM, "out of memory for %zu x %zu features", n, d);
    }
    for (size_t i = 0; i < n; i++) data->ids[i] = (int64_t)i;
    data->n = n;
    data->d = d;
    data->n_classes = n_classes;
    return ASSAY_OK;
}

void datagen_data_free(datagen_data *data) {
    if (data == NULL) return;
    free(data->x);
    free(data->labels);
    free(data->ids);
    memset(data, 0, sizeof *data);
}

/* ---- ground truth ---- */

const char *datagen_attack_name(datagen_attack a) {
    static const char *const names[] = {
#define DATAGEN_X_(name, text) text,
        DATAGEN_ATTACK_MAP(DATAGEN_X_)
#undef DATAGEN_X_
    };
    return (unsigned)a < DATAGEN_ATTACK_COUNT ? names[a] : "unknown";
}

assay_status datagen_truth_init(datagen_truth *truth, size_t n, datagen_error *err) {
    memset(truth, 0, sizeof *truth);
    truth->attack = calloc(n ? n : 1, sizeof *truth->attack);
    truth->source = malloc((n ? n : 1) * sizeof *truth->source);
    if (truth->attack == NULL || truth->source == NULL) {
        datagen_truth_free(truth);
        return datagen_fail(err, ASSAY_E_NOMEM, "out of memory for the truth of %zu rows", n);
    }
    for (size_t i = 0; i < n; i++) truth->source[i] = -1;
    truth->n = n;
    return ASSAY_OK;
}

void datagen_truth_free(datagen_truth *truth) {
    if (truth == NULL) return;
    free(truth->attack);
    free(truth->source);
    memset(truth, 0, sizeof *truth);
}

/* ---- atomic outputs ---- */

assay_status datagen__out_begin(datagen__outfile *f, const char *final_path, int open_stream,
                                datagen_error *err) {
    memset(f, 0, sizeof *f);
    const char *slash = strrchr(final_path, '/');
    int dir_len = slash ? (int)(slash - final_path + 1) : 0;
    const char *base = slash ? slash + 1 : final_path;
    int a = snprintf(f->final_path, sizeof f->final_path, "%s", final_path);
    if (a < 0 || (size_t)a >= sizeof f->final_path || base[0] == '\0')
        return datagen_fail(err, ASSAY_E_INVAL, "%s: not a usable output file name", final_path);
    /* A hidden name in the same folder, so the final rename never crosses file systems. mkstemp
     * is avoided on purpose: it creates mode 0600, and the renamed output would then be unreadable
     * to the group that a plain fopen (0666 minus umask) would have let read it. */
    for (unsigned attempt = 0;; attempt++) {
        int b = snprintf(f->tmp_path, sizeof f->tmp_path, "%.*s.%s.tmp-%ld-%u", dir_len, final_path,
                         base, (long)getpid(), attempt);
        if (b < 0 || (size_t)b >= sizeof f->tmp_path)
            return datagen_fail(err, ASSAY_E_INVAL, "%s: output path too long", final_path);
        int fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (!open_stream) {
                close(fd);
                return ASSAY_OK;
            }
            f->fp = fdopen(fd, "wb");
            if (f->fp != NULL) return ASSAY_OK;
            int e = errno;
            close(fd);
            unlink(f->tmp_path);
            f->tmp_path[0] = '\0';
            return datagen_fail(err, ASSAY_E_IO, "%s: %s", final_path, strerror(e));
        }
        if (errno != EEXIST || attempt >= 100) {
            int e = errno;
            f->tmp_path[0] = '\0';
            return datagen_fail(err, ASSAY_E_IO, "%s: cannot create the output: %s", final_path,
                                strerror(e));
        }
    }
}

/* fsync before rename: otherwise a crash can leave the new name pointing at an empty file. */
static int sync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return (rc != 0 && e != EINVAL) ? -1 : 0; /* EINVAL: the file system cannot sync (pipes...) */
}

assay_status datagen__out_commit(datagen__outfile *f, datagen_error *err) {
    int failed = 0, e = 0;
    if (f->fp != NULL) {
        failed = ferror(f->fp) || fflush(f->fp) != 0;
        e = errno;
        if (!failed && fsync(fileno(f->fp)) != 0 && errno != EINVAL) {
            failed = 1;
            e = errno;
        }
        if (fclose(f->fp) != 0 && !failed) {
            failed = 1;
            e = errno;
        }
        f->fp = NULL;
    } else if (sync_path(f->tmp_path) != 0) {
        failed = 1;
        e = errno;
    }
    if (!failed && rename(f->tmp_path, f->final_path) != 0) {
        e = errno;
        datagen__out_discard(f);
        return datagen_fail(err, ASSAY_E_IO, "%s: cannot rename into place: %s", f->final_path,
                            strerror(e));
    }
    if (failed) {
        datagen__out_discard(f);
        return datagen_fail(err, ASSAY_E_IO, "%s: write failed: %s", f->final_path,
                            e ? strerror(e) : "stream error");
    }
    f->tmp_path[0] = '\0';
    return ASSAY_OK;
}

void datagen__out_discard(datagen__outfile *f) {
    if (f->fp != NULL) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->tmp_path[0] != '\0') {
        unlink(f->tmp_path);
        f->tmp_path[0] = '\0';
    }
}

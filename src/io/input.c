/* SPDX-License-Identifier: Apache-2.0 */
/* Opening input files: regular files or an explicit "-" only, size-checked (io/input.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/input.h"

int assay__is_stdin_path(const char *path) {
    return path != NULL && strcmp(path, "-") == 0;
}

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "a special file";
}

assay_status assay__check_file_bytes(assay_ctx *ctx, const char *path, uint64_t bytes,
                                     int at_least) {
    uint64_t max = assay__limits(ctx)->max_file_bytes;
    if (bytes <= max) return ASSAY_OK;
    return assay__fail(ctx, ASSAY_E_LIMIT,
                       "%s: file of %s%" PRIu64 " bytes exceeds --max-file-size (%" PRIu64 ")",
                       path, at_least ? "more than " : "", at_least ? max : bytes, max);
}

assay_status assay__input_open(assay_ctx *ctx, const char *path, const char *what, int allow_stdin,
                               assay__input *in) {
    memset(in, 0, sizeof *in);
    in->fd = -1;
    struct stat st;
    if (assay__is_stdin_path(path)) {
        if (!allow_stdin)
            return assay__fail(ctx, ASSAY_E_IO,
                               "-: standard input is accepted only for a CSV dataset; expected "
                               "%s (write ./- for a file named '-')",
                               what);
        in->fd = 0;
        in->is_stdin = 1;
        if (fstat(0, &st) == 0 && S_ISREG(st.st_mode)) {
            in->is_regular = 1;
            in->size = (uint64_t)st.st_size;
            return assay__check_file_bytes(ctx, path, in->size, 0);
        }
        if (fstat(0, &st) == 0 && S_ISDIR(st.st_mode))
            return assay__fail(ctx, ASSAY_E_IO, "-: standard input is a directory");
        return ASSAY_OK; /* a pipe or a terminal: the reader counts the bytes */
    }
    /* O_NONBLOCK: opening a FIFO without a writer would block forever. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return assay__fail(ctx, e == ENOENT ? ASSAY_E_NOTFOUND : assay__errno_status(e),
                           "%s: cannot open: %s", path, strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return assay__fail(ctx, assay__errno_status(e), "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return assay__fail(ctx, ASSAY_E_IO,
                           "%s: is %s, not a regular file; expected %s (standard input is read "
                           "only as '-', for a CSV dataset)",
                           path, kind_of(st.st_mode), what);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    in->fd = fd;
    in->is_regular = 1;
    in->size = (uint64_t)st.st_size;
    assay_status s = assay__check_file_bytes(ctx, path, in->size, 0);
    if (s != ASSAY_OK) assay__input_close(in);
    return s;
}

void assay__input_close(assay__input *in) {
    if (in->fd >= 0 && !in->is_stdin) close(in->fd);
    in->fd = -1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The --truth reader (src/scan/evaluate.c over the CSV column reader). The first byte is the
 * dataset's row count (0..255), the rest the truth file. The CSV reader takes a path, so the
 * bytes are handed to it as an anonymous in-memory file (memfd, /proc/self/fd/N): nothing is
 * written to a disk. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "scan/truth.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (n < 1) return 0;
    assay_ctx *ctx = fuzz_ctx();
    int fd = memfd_create("truth.csv", MFD_CLOEXEC);
    if (fd < 0) abort();
    for (size_t done = 1; done < n;) {
        ssize_t w = write(fd, d + done, n - done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    assay__column idx = {0}, poison = {0}, attack = {0};
    assay_status s = assay__truth_load(ctx, path, d[0], &idx, &poison, &attack);
    expect_input_error(ctx, s);
    assay__column_free(&idx);
    assay__column_free(&poison);
    assay__column_free(&attack);
    close(fd);
    return 0;
}

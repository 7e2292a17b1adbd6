/* SPDX-License-Identifier: Apache-2.0 */
/* isa_run ISA PROGRAM [ARGS...]: runs PROGRAM with ASSAY_ISA=ISA, for the per-ISA reruns of the
 * test suite (tests/CMakeLists.txt). The environment variable can only lower the library's
 * choice, so forcing an ISA this CPU (or this build) lacks would silently test another one:
 * instead this exits 77, which CTest reports as skipped (SKIP_RETURN_CODE). Exits 2 on bad
 * arguments, 127 if PROGRAM cannot be started. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dispatch.h"

enum { EXIT_SKIP = 77 };

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: isa_run ISA PROGRAM [ARGS...]\n");
        return 2;
    }
    int isa = assay__isa_parse(argv[1]);
    if (isa < 0) { /* unknown name, or "auto", which would force nothing */
        fprintf(stderr, "isa_run: '%s' names no instruction set\n", argv[1]);
        return 2;
    }
    if (!assay_isa_supported((assay_isa)isa)) {
        printf("isa_run: %s kernels are %s: skipped\n", assay_isa_name((assay_isa)isa),
               assay__isa_built((assay_isa)isa) ? "not supported by this CPU"
                                                : "not built into this library");
        return EXIT_SKIP;
    }
    if (setenv("ASSAY_ISA", assay_isa_name((assay_isa)isa), 1) != 0) {
        fprintf(stderr, "isa_run: setenv: %s\n", strerror(errno));
        return 2;
    }
    fflush(stdout);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "isa_run: cannot run %s: %s\n", argv[2], strerror(errno));
    return 127;
}

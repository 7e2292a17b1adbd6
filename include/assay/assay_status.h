/* SPDX-License-Identifier: Apache-2.0 */
/* Status codes. Values are pinned and append-only, so they can be stored and compared across
 * versions. One list drives the enum and the strings. */
#ifndef ASSAY_STATUS_H
#define ASSAY_STATUS_H

#include <stddef.h>

#include "assay_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, text, is_input_error) -- is_input_error marks statuses that mean "the input or
 * the request was bad" (CLI exit code 2) rather than "the tool or the machine failed" (3). */
#define ASSAY_STATUS_MAP(X)                                                                        \
    X(OK, 0, "success", 0)                                                                         \
    X(E_INVAL, 1, "invalid argument", 1)                                                           \
    X(E_NOMEM, 2, "out of memory", 0)                                                              \
    X(E_IO, 3, "I/O error", 1)                                                                     \
    X(E_FORMAT, 4, "malformed input file", 1)                                                      \
    X(E_SHAPE, 5, "dimension mismatch", 1)                                                         \
    X(E_NOTFOUND, 6, "file or dataset not found", 1)                                               \
    X(E_UNSUPPORTED, 7, "not supported", 1)                                                        \
    X(E_BLAS, 8, "BLAS or LAPACK failure", 0)                                                      \
    X(E_HDF5, 9, "HDF5 error", 1)                                                                  \
    X(E_INTERNAL, 10, "internal error", 0)                                                         \
    X(E_THREAD, 11, "could not start threads", 0)                                                  \
    X(E_LIMIT, 12, "input exceeds a limit", 1)                                                     \
    X(E_RESOURCE, 13, "out of a system resource", 0)                                               \
    X(E_INTERRUPTED, 14, "interrupted", 0)                                                         \
    X(E_CANCELLED, 15, "cancelled by the caller", 0)

typedef enum assay_status {
#define ASSAY_X_(name, value, text, input) ASSAY_##name = value,
    ASSAY_STATUS_MAP(ASSAY_X_)
#undef ASSAY_X_
} assay_status;

/* Static description of a status code; "unknown status" for values not in the list.
 * Thread-safety: any thread. */
ASSAY_API const char *assay_status_str(assay_status s);

/* 1 if the status means bad input or usage (the CLI's exit code 2), 0 if it means an internal or
 * resource failure (exit code 3) or success. Thread-safety: any thread. */
ASSAY_API int assay_status_is_input_error(assay_status s);

/* "Did you mean": the candidate nearest to a mistyped `word` (case-insensitive edit distance)
 * when it is close enough to be a typo, else NULL; the library's own unknown-name messages
 * suggest the same way. Thread-safety: any thread. */
ASSAY_API const char *assay_suggest(const char *word, const char *const *candidates, size_t n);

#ifdef __cplusplus
}
#endif
#endif

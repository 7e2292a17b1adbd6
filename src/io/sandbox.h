/* SPDX-License-Identifier: Apache-2.0 */
/* A forked child process that parses one untrusted file (HDF5: libhdf5 itself crashes and hangs
 * on damaged files) with CPU-time, address-space, file-size and core limits, no write access
 * (a seccomp filter where the kernel offers one) and a watchdog in the parent. The child sends
 * progress and one result record (status, message, payload bytes) over a pipe; a large array
 * can be placed in a shared memory region (a memfd) that the parent then maps: zero-copy.
 * A crash, a hang or a malformed reply becomes ASSAY_E_FORMAT naming the file ("damaged or
 * hostile"); a limit reached after the file's declared sizes were checked is ASSAY_E_RESOURCE
 * naming the limit. docs/security.md describes the limits and how to change them. */
#ifndef ASSAY_SANDBOX_H
#define ASSAY_SANDBOX_H

#include "core/internal.h"

typedef struct assay__sandbox assay__sandbox; /* the child's end */

/* Runs in the child with the child's copy of ctx (progress is forwarded to the parent). Returns
 * the status the parent's call reports; ctx's message goes with it. */
typedef assay_status (*assay__sandbox_fn)(assay_ctx *ctx, assay__sandbox *sb, void *arg);

/* What the child sent back. */
typedef struct assay__sandbox_out {
    unsigned char *payload; /* malloc'd, payload_len bytes (NULL when empty) */
    size_t payload_len;
    void *shared; /* the shared region, mapped read-write (munmap(shared, shared_bytes)) */
    size_t shared_bytes;
} assay__sandbox_out;

/* 1 when files should be read in a child: not disabled by assay_limits.no_sandbox. */
int assay__sandbox_enabled(const assay_ctx *ctx);

/* Runs fn(ctx, sb, arg) in a child process reading `path` (named in messages; `what` says which
 * reader, e.g. "HDF5 reader"). On ASSAY_OK *out holds the reply (free with
 * assay__sandbox_out_free unless its parts are adopted). Any other status: *out is empty and
 * ctx holds the message. */
assay_status assay__sandbox_run(assay_ctx *ctx, const char *path, const char *what,
                                assay__sandbox_fn fn, void *arg, assay__sandbox_out *out);
void assay__sandbox_out_free(assay__sandbox_out *out);

/* Child side. The shared region: `bytes` of zeroed, page-aligned memory the parent can adopt
 * (at most one region per run; NULL and ENOMEM-like failure when over the memory limit). */
void *assay__sandbox_shared(assay__sandbox *sb, size_t bytes);
/* In the child: gives back the pages of p[0..len) in the shared region when that region is a
 * scratch file on disk (--memory-limit), so the child's resident memory stays at one block.
 * No-op otherwise, and for sb == NULL. */
void assay__sandbox_release(assay__sandbox *sb, void *p, size_t len);
/* Appends bytes to the payload sent with the result (buffered; ASSAY_E_NOMEM on failure). */
assay_status assay__sandbox_put(assay__sandbox *sb, const void *p, size_t n);
/* Marks that the file's declared sizes were checked against the file: a limit reached after
 * this is a resource error (exit 3) rather than damage (exit 2). */
void assay__sandbox_sizes_checked(assay__sandbox *sb);

/* Payload helpers (child: put, parent: get). Integers are sent in the host's byte order (both
 * ends are the same program). get returns 0 when the payload is too short (malformed). */
typedef struct assay__sandbox_reader {
    const unsigned char *p, *end;
} assay__sandbox_reader;
assay_status assay__sandbox_put_u64(assay__sandbox *sb, uint64_t v);
assay_status assay__sandbox_put_str(assay__sandbox *sb, const char *s); /* NULL allowed */
int assay__sandbox_get_u64(assay__sandbox_reader *r, uint64_t *v);
int assay__sandbox_get_bytes(assay__sandbox_reader *r, size_t n, const void **p);
/* *s points into the payload (NUL-terminated there); NULL when a NULL string was sent. */
int assay__sandbox_get_str(assay__sandbox_reader *r, const char **s, size_t *len);

#endif

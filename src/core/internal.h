/* SPDX-License-Identifier: Apache-2.0 */
/* Private cross-file declarations of libassay (never installed): the context, error helpers,
 * threads, timers and small containers. Private symbols are prefixed assay__. */
#ifndef ASSAY_INTERNAL_H
#define ASSAY_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>

#include "assay/assay.h"
#include "kernels.h"

#if defined(__GNUC__) || defined(__clang__)
#define ASSAY_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ASSAY_PRINTF(a, b)
#endif

#define ASSAY_ERRMSG_MAX 1024

struct assay_ctx {
    int n_threads;
    assay_isa isa;
    const assay_kernels *k;
    assay_precision precision; /* requested candidate pass (src/graph/knn_lowp.c resolves AUTO) */
    assay_progress_fn progress;
    void *progress_user;
    pthread_mutex_t progress_lock; /* serialises progress calls from worker threads */
    pthread_mutex_t errmsg_lock;   /* workers that fail at once leave one whole message */
    char errmsg[ASSAY_ERRMSG_MAX];
    assay_limits limits;
    atomic_int cancel;  /* assay_ctx_cancel(): checked between tasks (assay__cancelled) */
    assay_ranks ranks;  /* size 1 unless assay_ctx_set_ranks */
    uint64_t mem_limit; /* assay_ctx_set_memory_limit: bytes, 0 = none */
    char *scratch_dir;  /* where bulk arrays live under a limit (NULL: $TMPDIR or /tmp) */
};

/* 1 when the caller asked ctx's work to stop (assay_ctx_cancel); ctx may be NULL. */
static inline int assay__cancelled(const assay_ctx *ctx) {
    return ctx != NULL && atomic_load_explicit(&((assay_ctx *)ctx)->cancel, memory_order_relaxed);
}
/* ASSAY_E_CANCELLED with its message, when cancelled; else ASSAY_OK. */
assay_status assay__check_cancel(assay_ctx *ctx);

/* The limits in force for ctx (the defaults when ctx is NULL). */
const assay_limits *assay__limits(const assay_ctx *ctx);

/* The status for a failed system call's errno: ASSAY_E_RESOURCE for a full disk, a quota, too
 * many open files, no memory or a device I/O error (exit 3), ASSAY_E_IO otherwise. */
assay_status assay__errno_status(int err);

/* Records a formatted detail message in ctx (if not NULL) and returns `s`. */
assay_status assay__fail(assay_ctx *ctx, assay_status s, const char *fmt, ...) ASSAY_PRINTF(3, 4);

/* Prefixes the context's current message with a formatted context ("labels.npy: ..."). */
void assay__errmsg_prefix(assay_ctx *ctx, const char *fmt, ...) ASSAY_PRINTF(2, 3);

#define ASSAY_TRY(expr)                                                                            \
    do {                                                                                           \
        assay_status assay__s_ = (expr);                                                           \
        if (assay__s_ != ASSAY_OK) return assay__s_;                                               \
    } while (0)

/* ---- "did you mean" (suggest.c) ---- */

/* Finds the candidate nearest to `word` (case-insensitive edit distance) when it is close enough
 * to be a typo: init, offer each candidate, then read `best` (NULL when none is close). */
typedef struct assay__suggest {
    const char *word;
    const char *best;
    size_t best_d;
} assay__suggest;
void assay__suggest_init(assay__suggest *s, const char *word);
void assay__suggest_offer(assay__suggest *s, const char *candidate);
/* The same over an array of candidates. */
const char *assay__suggest_pick(const char *word, const char *const *candidates, size_t n);

/* Reports progress through the context's callback (serialised). */
void assay__progress(assay_ctx *ctx, const char *stage, uint64_t done, uint64_t total);

/* ---- threads ---- */

/* Runs fn(arg, task, worker) for task in [0, n_tasks) on up to n_threads threads (the caller's
 * thread is worker 0). Tasks are handed out in order from a shared counter; which worker runs
 * which task varies, so tasks must write only to their own outputs. */
typedef void (*assay__task_fn)(void *arg, size_t task, int worker);
assay_status assay__parallel_for(assay_ctx *ctx, size_t n_tasks, int n_threads, assay__task_fn fn,
                                 void *arg);

/* BLAS's thread count is one setting of the whole process (OpenBLAS keeps it in a global), so
 * one owner changes it: code that calls BLAS from several of our threads at once brackets that
 * work with begin/end, and BLAS runs single-threaded while any such work is under way in the
 * process, whichever context started it (a count under a lock; the last end restores the count
 * BLAS had before the first begin). Results never depend on BLAS's thread count; only speed
 * does. No-ops with BLAS libraries other than OpenBLAS. */
void assay__blas_single_begin(void);
void assay__blas_single_end(void);
int assay__blas_get_threads(void);  /* the BLAS library's own thread count now */
int assay__blas_generic_core(void); /* 1: OpenBLAS runs its generic pre-AVX kernels here */

/* ---- time ---- */
double assay__now(void);                          /* monotonic seconds */
void assay__utc_timestamp(char *buf, size_t len); /* "2026-11-24T04:32:32Z" */

/* ---- memory ---- */
void *assay__aligned_alloc(size_t bytes); /* 64-byte aligned, free with free(); NULL on failure */
int assay__mul_overflows(size_t a, size_t b, size_t *out);

/* Bulk memory (bulk.c): the matrix and arrays as large as it. Heap memory (64-byte aligned)
 * without a memory limit; under one, an unlinked file in the scratch folder mapped shared, whose
 * pages the process gives back when its resident memory nears the limit. On failure *out is NULL
 * and ctx's message names `what` (ASSAY_E_RESOURCE for a full disk). Free with assay__bulk_free,
 * which also frees plain heap pointers. */
assay_status assay__bulk_alloc(assay_ctx *ctx, size_t bytes, const char *what, void **out);
void assay__bulk_free(void *p);
/* Makes an existing shared file mapping (the HDF5 sandbox's matrix) one whose pages are given
 * back under ctx's limit (no-op without one). assay__bulk_release unmaps it (1), or returns 0
 * when p was never registered. */
void assay__bulk_adopt(const assay_ctx *ctx, void *p, size_t bytes);
int assay__bulk_release(void *p);
/* Where bulk files go, and a new unlinked file there (-1 with errno). */
const char *assay__scratch_dir(const assay_ctx *ctx);
int assay__scratch_file(const assay_ctx *ctx);
/* While bulk regions exist, a watcher thread gives their pages back whenever the process's
 * resident memory nears the limit (bulk.c). */
void assay__resident_trim(void);    /* gives every bulk page back now */
size_t assay__resident_trims(void); /* how many times that happened in this process */

/* ---- string pool: stable pointers to many small strings ---- */
typedef struct assay__strpool_block assay__strpool_block;
typedef struct assay__strpool {
    assay__strpool_block *head;
} assay__strpool;
/* Copies len bytes (plus a NUL) into the pool; returns NULL on out-of-memory. */
char *assay__strpool_add(assay__strpool *p, const char *s, size_t len);
void assay__strpool_free(assay__strpool *p);

/* ---- typed columns (labels, ids) as read from a file ---- */
typedef enum assay__coltype { ASSAY__COL_NONE = 0, ASSAY__COL_INT, ASSAY__COL_STR } assay__coltype;
typedef struct assay__column {
    assay__coltype type;
    size_t n;
    int64_t *i; /* n values when type == INT */
    char **s;   /* n pointers into `pool` when type == STR */
    assay__strpool pool;
    char *source; /* "file.h5:/labels" or "labels.csv", for messages */
} assay__column;
void assay__column_free(assay__column *c);
/* Sets c->source to a copy of the formatted string. */
assay_status assay__column_set_source(assay_ctx *ctx, assay__column *c, const char *fmt, ...)
    ASSAY_PRINTF(3, 4);

/* Converts an all-string column to INT when every value is a decimal integer (labels from CSV). */
assay_status assay__column_maybe_to_int(assay_ctx *ctx, assay__column *c);

/* Offset of the first byte of s[0..len) that is not part of well-formed UTF-8 (no overlongs,
 * surrogates or code points past U+10FFFF), or len. */
size_t assay__utf8_bad_at(const char *s, size_t len);

/* Parses a decimal int64 (optional sign, surrounding spaces allowed); 0 on success. */
int assay__parse_int64(const char *s, int64_t *out);

/* Iterates a comma-separated option list ("a, b,c"): on each call sets [*item, *item_end) to the
 * next name without surrounding spaces/tabs (possibly empty) and returns 1; returns 0 after the
 * last one. *cursor starts at the list and is advanced by the call. */
int assay__list_next(const char **cursor, const char **item, const char **item_end);

/* Offset of the first byte of s[0..len) that is not part of well-formed UTF-8 (no overlongs,
 * surrogates or code points past U+10FFFF), or len when all of it is. */
size_t assay__utf8_bad_at(const char *s, size_t len);

/* IEEE binary16 to binary32, exact for every input: subnormals are scaled by 2^-24 (exact in
 * float), NaN keeps its payload and infinities stay infinite. */
float assay__half_to_float(uint16_t x);

/* Lower-case hex of a 32-byte digest into buf (65 bytes with the NUL). */
void assay__hex32(const unsigned char *digest, char *buf);

/* 1 on a little-endian host (file formats here are little-endian). */
static inline int assay__host_is_little_endian(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

#endif

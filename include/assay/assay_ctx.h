/* SPDX-License-Identifier: Apache-2.0 */
/* The context: thread count, kernel choice, progress callback and the last error message. */
#ifndef ASSAY_CTX_H
#define ASSAY_CTX_H

#include <stdint.h>
#include "assay_api.h"
#include "assay_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_ctx assay_ctx;

/* Instruction sets the kernels can be built for. AUTO picks the best the CPU supports. */
typedef enum assay_isa {
    ASSAY_ISA_AUTO = -1,
    ASSAY_ISA_SCALAR = 0,
    ASSAY_ISA_AVX2 = 1,
    ASSAY_ISA_AVX512 = 2,
    ASSAY_ISA_NEON = 3,
    ASSAY_ISA_SVE = 4,
    ASSAY_ISA_COUNT = 5
} assay_isa;

/* Progress callback: `stage` is a static string ("load", "fingerprint", "knn", "graph-file"
 * (writing, or reading and checking, a graph file), "detect", "report"), `done` of `total` units.
 * Calls are serialised (never concurrent) but may come from any library thread. It must not call
 * back into the library with the same context, except assay_ctx_cancel(). */
typedef void (*assay_progress_fn)(void *user, const char *stage, uint64_t done, uint64_t total);

/* Arithmetic of the neighbour graph's candidate pass. The graph itself is exact whatever it is:
 * candidates are re-measured in double precision and certified against a proven error bound
 * (docs/kernels.md). AUTO takes the fastest pass this CPU's kernels run natively (int8 through
 * AVX-512 VNNI, then bf16 through AVX-512 BF16, then int8 through AVX2, else float32). */
typedef enum assay_precision {
    ASSAY_PRECISION_AUTO = 0,
    ASSAY_PRECISION_FP32 = 1,
    ASSAY_PRECISION_BF16 = 2,
    ASSAY_PRECISION_INT8 = 3,
    ASSAY_PRECISION_COUNT = 4
} assay_precision;

typedef struct assay_ctx_opts {
    int n_threads;              /* 0 = number of online CPUs. Also the cap for BLAS threads. */
    assay_isa isa;              /* ASSAY_ISA_AUTO, or force one (must be supported). */
    assay_progress_fn progress; /* may be NULL */
    void *progress_user;        /* passed to `progress` unchanged */
    assay_precision precision;  /* AUTO (the ASSAY_PRECISION variable may force one), or force */
} assay_ctx_opts;
#define ASSAY_CTX_OPTS_INIT                                                                        \
    { 0, ASSAY_ISA_AUTO, NULL, NULL, ASSAY_PRECISION_AUTO }

/* Bounds on what any input may declare or contain, checked by every parser before it allocates
 * (docs/limits.md; CLI flags --max-*, policy section `limits:`). A value of 0 in a field passed
 * to assay_ctx_set_limits() keeps that field's default. Exceeding a bound is ASSAY_E_LIMIT, an
 * input error naming the file, the place and the bound. */
typedef struct assay_limits {
    uint64_t max_file_bytes;  /* any one input file (default 1 TiB) */
    uint64_t max_rows;        /* rows of a dataset, side file or graph (default 2^31 - 1) */
    uint64_t max_dims;        /* feature columns / embedding width (default 1,048,576) */
    uint64_t max_field_bytes; /* one CSV field (default 1 MiB) */
    uint64_t max_line_bytes;  /* one CSV record or text line (default 64 MiB) */
    uint64_t max_label_bytes; /* one label, id or class name (default 4,096) */
    uint32_t max_depth;       /* nesting of a JSON or YAML document (default 64) */
    int no_sandbox;           /* 1 = read HDF5 in this process (trusted input only) */
} assay_limits;

/* Fills *out with the defaults above. */
ASSAY_API void assay_limits_default(assay_limits *out);
/* A byte count as the command line and policies write it: "123", "64K", "512MiB", "1.5G"
 * (powers of 1024; a fraction only with a suffix, rounded down). ASSAY_E_INVAL otherwise. */
ASSAY_API assay_status assay_size_parse(const char *text, uint64_t *out);
/* Replaces the context's limits (0 fields = default). Returns ASSAY_OK or ASSAY_E_INVAL. */
ASSAY_API assay_status assay_ctx_set_limits(assay_ctx *ctx, const assay_limits *limits);
/* The limits in force (never NULL for a valid context). */
ASSAY_API const assay_limits *assay_ctx_limits(const assay_ctx *ctx);

/* Creates a context. `opts` may be NULL (defaults; the ASSAY_ISA environment variable may then
 * lower the ISA). On success *out owns a new context, released with assay_ctx_destroy(); on
 * failure *out is NULL. Returns ASSAY_OK, ASSAY_E_INVAL (bad option), ASSAY_E_UNSUPPORTED (ISA
 * not available on this CPU or build), ASSAY_E_NOMEM.
 * Thread-safety: any thread. A context must not be used by two threads at once. */
ASSAY_API assay_status assay_ctx_create(assay_ctx **out, const assay_ctx_opts *opts);

/* Releases a context. NULL is a no-op. */
ASSAY_API void assay_ctx_destroy(assay_ctx *ctx);

/* Detail of the last failure in this context ("" if none). The string belongs to the context
 * and is valid until the next call that uses it. */
ASSAY_API const char *assay_ctx_errmsg(const assay_ctx *ctx);

/* Asks the work running on `ctx` to stop: the call in progress (loading, the neighbour graph,
 * the detectors; not report writing) returns ASSAY_E_CANCELLED at its next check -- between row
 * blocks of the graph and of the other parallel steps, between detectors -- typically within a
 * fraction of a second, having freed what it allocated and written nothing. The request stays until
 * assay_ctx_cancel_reset(), so it cannot be lost when it comes before the call starts.
 * Thread-safety: any thread, and async-signal-safe (a signal handler may call it). */
ASSAY_API void assay_ctx_cancel(assay_ctx *ctx);
/* Withdraws a cancellation request; 1 if one was pending. Not while a call runs on ctx. */
ASSAY_API int assay_ctx_cancel_reset(assay_ctx *ctx);
/* 1 if cancellation was requested. Any thread. */
ASSAY_API int assay_ctx_cancelled(const assay_ctx *ctx);

/* Processes building one scan's exact neighbour graph together (MPI ranks, docs/mpi.md). The
 * library links no MPI: the caller passes the one collective it needs. Every rank loads the same
 * dataset, sets its ranks on its context and calls assay_scan with the same options; each
 * computes its share of the distance tiles and the exact lists of its rows, rank 0 gathers the
 * lists and gets the result, the other ranks get *out = NULL. The graph, and so every report,
 * is the one a single process builds, for any number of ranks. */
typedef struct assay_ranks {
    int rank, size; /* this process, of size (size 1: no ranks) */
    void *user;     /* passed to alltoallv unchanged */
    /* Called by every rank at the same point: sends send_counts[r] bytes at send + send_offsets[r]
     * to rank r and receives recv_counts[r] bytes from rank r at recv + recv_offsets[r] (bytes,
     * any size; MPI_Alltoallv). Returns 0, or nonzero when the exchange failed. */
    int (*alltoallv)(void *user, const void *send, const size_t *send_counts,
                     const size_t *send_offsets, void *recv, const size_t *recv_counts,
                     const size_t *recv_offsets);
    /* Rank 0: the threads its context runs on from the detectors on, once the graph is gathered
     * and the other ranks wait (0: unchanged). Ranks sharing a machine split its cores for the
     * graph; rank 0 can then use them all. Results do not depend on it. */
    int threads_after_graph;
} assay_ranks;

/* Makes ctx one rank of `ranks` (copied; NULL or size 1: one process again). ASSAY_E_INVAL for a
 * rank outside [0, size) or size > 1 without alltoallv. */
ASSAY_API assay_status assay_ctx_set_ranks(assay_ctx *ctx, const assay_ranks *ranks);
/* This context's rank and the number of ranks (0 and 1 unless set). */
ASSAY_API int assay_ctx_rank(const assay_ctx *ctx);
ASSAY_API int assay_ctx_ranks(const assay_ctx *ctx);

/* Bounded memory (docs/memory.md). With a limit, the float32 matrix and the arrays as large as
 * it are held in unlinked files in `scratch_dir` (NULL: $TMPDIR, else /tmp), mapped into memory,
 * and a watcher thread gives their pages back whenever the process's resident memory nears
 * `bytes`; the kernel reads them again from the page cache or the disk when they are next
 * touched. The process's own memory (lists, scores, working arrays) is not bounded. Results are the
 * same with or without a limit. It applies to datasets loaded and scans run with ctx afterwards;
 * HDF5 and .npy matrices are read block by block, CSV is parsed in memory. 0 removes the limit; a
 * limit below ASSAY_MEMORY_LIMIT_MIN is ASSAY_E_INVAL. */
#define ASSAY_MEMORY_LIMIT_MIN ((uint64_t)64 << 20)
ASSAY_API assay_status assay_ctx_set_memory_limit(assay_ctx *ctx, uint64_t bytes,
                                                  const char *scratch_dir);
/* The limit set (0: none). */
ASSAY_API uint64_t assay_ctx_memory_limit(const assay_ctx *ctx);

/* Threads the context will use (after resolving 0 to the CPU count). */
ASSAY_API int assay_ctx_threads(const assay_ctx *ctx);

/* The instruction set the context's kernels run on. */
ASSAY_API assay_isa assay_ctx_isa(const assay_ctx *ctx);

/* The candidate pass asked for (assay_ctx_opts.precision; AUTO unless forced). */
ASSAY_API assay_precision assay_ctx_precision(const assay_ctx *ctx);
/* The candidate pass a graph built with ctx runs: the requested one, or what AUTO picks on
 * ctx's kernels. (Data whose magnitudes the reduced-precision bound does not cover, beyond
 * [2^-40, 2^40], fall back to FP32; report.json says which pass ran.) */
ASSAY_API assay_precision assay_ctx_candidate_precision(const assay_ctx *ctx);
/* "auto", "fp32", "bf16", "int8" ("unknown" out of range). Static string. */
ASSAY_API const char *assay_precision_name(assay_precision p);
/* Parses a name of assay_precision_name (case-sensitive). ASSAY_E_INVAL if it is none. */
ASSAY_API assay_status assay_precision_parse(const char *name, assay_precision *out);

/* Lower-case name of an ISA ("scalar", "avx2", ...), "auto" or "unknown". Static string. */
ASSAY_API const char *assay_isa_name(assay_isa isa);

/* 1 if kernels for `isa` are built into this library and the CPU supports them. */
ASSAY_API int assay_isa_supported(assay_isa isa);

/* 1 if kernels for `isa` are built into this library, whether or not this CPU runs them. */
ASSAY_API int assay_isa_built(assay_isa isa);

/* Space-separated names of the CPU features the kernels care about ("avx fma avx2 ..."), as
 * detected at run time; static. */
ASSAY_API const char *assay_cpu_features(void);

/* Version string of the library ("0.1.0"), static. */
ASSAY_API const char *assay_version(void);

/* One-line description of the BLAS library in use (name, version, core type), static. */
ASSAY_API const char *assay_blas_info(void);

/* The BLAS library's own thread count now (1 while a scan runs BLAS on its own threads; see
 * docs/library.md, "Threads"). */
ASSAY_API int assay_blas_threads(void);

#ifdef __cplusplus
}
#endif
#endif

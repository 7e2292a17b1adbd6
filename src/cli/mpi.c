/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
/* `mpirun -n P assay scan ...` (docs/mpi.md). The library links no MPI: this file gives it the
 * one collective it needs (assay_ranks.alltoallv) over MPI_COMM_WORLD. Built with MPI only in
 * the `mpi` preset (ASSAY_MPI=ON); otherwise it only recognises that mpirun started it and
 * says the build has no MPI. MPI is initialised after the dataset is loaded: the hostile-input
 * sandbox forks a child to read HDF5, and Open MPI does not support fork after MPI_Init. */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#ifdef ASSAY_HAVE_MPI
#include <mpi.h>
#endif

/* An integer from the first of the launcher's variables set (Open MPI's mpirun, then PMI). */
static int env_int(const char *const *names, int fallback) {
    for (; *names != NULL; names++) {
        const char *v = getenv(*names);
        if (v != NULL && *v != '\0') return atoi(v);
    }
    return fallback;
}

int cli_mpi_env_size(void) {
    static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
    return env_int(names, 0);
}

int cli_mpi_env_rank(void) {
    static const char *const names[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", NULL};
    return env_int(names, 0);
}

int cli_mpi_env_local_size(void) {
    static const char *const names[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", NULL};
    return env_int(names, 1);
}

int cli_online_cpus(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (int)cpus : 1;
}

#ifdef ASSAY_HAVE_MPI

static int g_started;

/* Pairwise exchange in chunks below INT_MAX bytes: both sides derive the chunk count from the
 * same size, so every send has its receive. */
enum { CHUNK = 1 << 30 };

static int post(MPI_Request *req, int *nreq, char *buf, size_t bytes, int peer, int send) {
    for (size_t at = 0; at < bytes; at += CHUNK) {
        int len = (int)(bytes - at < CHUNK ? bytes - at : CHUNK);
        int e = send ? MPI_Isend(buf + at, len, MPI_BYTE, peer, 7, MPI_COMM_WORLD, &req[*nreq])
                     : MPI_Irecv(buf + at, len, MPI_BYTE, peer, 7, MPI_COMM_WORLD, &req[*nreq]);
        if (e != MPI_SUCCESS) return -1;
        (*nreq)++;
    }
    return 0;
}

static int mpi_alltoallv(void *user, const void *send, const size_t *sc, const size_t *so,
                         void *recv, const size_t *rc, const size_t *ro) {
    (void)user;
    int me, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (sc[me] != rc[me]) return -1;
    if (sc[me] > 0) memmove((char *)recv + ro[me], (const char *)send + so[me], sc[me]);
    size_t chunks = 0;
    for (int r = 0; r < size; r++)
        if (r != me) chunks += (sc[r] + CHUNK - 1) / CHUNK + (rc[r] + CHUNK - 1) / CHUNK;
    MPI_Request *req = malloc((chunks ? chunks : 1) * sizeof *req);
    if (req == NULL) return -1;
    int nreq = 0, bad = 0;
    for (int r = 0; r < size && !bad; r++) {
        if (r == me) continue;
        bad = post(req, &nreq, (char *)recv + ro[r], rc[r], r, 0) ||
              post(req, &nreq, (char *)send + so[r], sc[r], r, 1);
    }
    if (MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE) != MPI_SUCCESS) bad = 1;
    free(req);
    return bad ? -1 : 0;
}

int cli_mpi_begin(assay_ctx *ctx, int threads_given) {
    if (cli_mpi_env_size() < 1) return 0;
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "assay: error: MPI_Init failed\n");
        return CLI_EXIT_INTERNAL;
    }
    g_started = 1;
    /* a failed call ends the job (mpirun reports the rank); no half-finished collective */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    assay_ranks r = {0, 1, NULL, mpi_alltoallv, 0};
    if (!threads_given && cli_mpi_env_local_size() > 1 && r.rank == 0) {
        /* Rank 0 runs the detectors alone once the graph is gathered: it takes the machine's
         * cores then, and leaves the core mpirun bound it to (threads inherit the binding, so a
         * rank bound to one core runs any number of threads on that core). */
        int cpus = cli_online_cpus();
        r.threads_after_graph = cpus;
        cpu_set_t all;
        CPU_ZERO(&all);
        for (int c = 0; c < cpus && c < CPU_SETSIZE; c++) CPU_SET(c, &all);
        (void)sched_setaffinity(0, sizeof all, &all); /* within the cgroup's CPUs; else kept */
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r.size);
    if (assay_ctx_set_ranks(ctx, &r) != ASSAY_OK) {
        fprintf(stderr, "assay: error: %s\n", assay_ctx_errmsg(ctx));
        return CLI_EXIT_INTERNAL;
    }
    return 0;
}

/* Waits for every rank without spinning: the ranks other than 0 arrive here once their share
 * of the graph is gathered, while rank 0 runs the detectors and reports on the cores they
 * would otherwise take polling (in MPI_Finalize rank 1 used 13% of a core, and rank 0's
 * detectors took 6.1 s instead of 5.4 s on Fashion-MNIST with two ranks on two cores). */
static void quiet_barrier(void) {
    MPI_Request req;
    if (MPI_Ibarrier(MPI_COMM_WORLD, &req) != MPI_SUCCESS) return;
    for (int done = 0;;) {
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || done) return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int cli_mpi_end(int code) {
    if (!g_started) return code;
    g_started = 0;
    if (code == CLI_EXIT_PASS || code == CLI_EXIT_FAIL) {
        quiet_barrier();
        MPI_Finalize();
        return code;
    }
    /* an error on any rank ends every rank, with this code as mpirun's */
    MPI_Abort(MPI_COMM_WORLD, code);
    return code;
}

int cli_mpi_built(void) {
    return 1;
}

#else

int cli_mpi_begin(assay_ctx *ctx, int threads_given) {
    (void)ctx;
    (void)threads_given;
    return 0;
}

int cli_mpi_end(int code) {
    return code;
}

int cli_mpi_built(void) {
    return 0;
}

#endif

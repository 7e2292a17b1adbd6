/* SPDX-License-Identifier: Apache-2.0 */
/* Bulk memory: the float32 matrix and the few arrays as large as it. Without a memory limit they
 * are heap memory. Under one (assay_ctx_set_memory_limit) each is an unlinked file in the scratch
 * folder, mapped shared: the pages are the file's, so the process may give them back at any time
 * (madvise MADV_DONTNEED keeps a shared file mapping's contents, dirty or not) and the kernel
 * reads them again on the next touch. A watcher thread, alive while any such region exists, reads
 * the process's resident memory every millisecond and gives every region's pages back when it
 * nears the limit: no loop anywhere has to know about the limit, and what is resident is the
 * working set (the rows touched since the last trim) plus everything that is not bulk. */
#define _GNU_SOURCE /* O_TMPFILE */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"

/* Under a limit, arrays below this stay on the heap: they are not what the limit is about. */
#define BULK_MIN_BYTES ((size_t)1 << 20)
/* The watcher's period: a check reads /proc/self/statm (microseconds). */
#define WATCH_NS 1000000L
/* At most one trim per 10 ms: every trim makes the rows in use fault in again. Trimming every
 * millisecond made the 768M scan of bench/RESULTS.md ("Bounded memory") 2.2 times slower than
 * without a limit, 10 ms 1.5 times; the peak may then pass the limit by what is mapped in 10 ms. */
#define TRIM_GAP    0.010
#define MAX_REGIONS 64

typedef struct region {
    void *p;
    size_t len;
} region;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static region g_regions[MAX_REGIONS];
static atomic_size_t g_count;        /* regions registered (0: the watcher ends) */
static atomic_uint_fast64_t g_limit; /* the smallest limit of the registered regions' contexts */
static atomic_size_t g_trims;        /* times the regions were given back (tests, docs) */
static int g_watching;               /* a watcher thread runs (under g_lock) */

static void *watch_main(void *arg);

static void register_region(void *p, size_t len, uint64_t limit) {
    pthread_mutex_lock(&g_lock);
    size_t n = atomic_load(&g_count);
    if (n < MAX_REGIONS) {
        g_regions[n].p = p;
        g_regions[n].len = len;
        uint64_t cur = atomic_load(&g_limit);
        if (n == 0 || limit < cur) atomic_store(&g_limit, limit);
        atomic_store(&g_count, n + 1);
        if (!g_watching) {
            /* Detached: it ends by itself once the last region is gone. Without it the limit
             * is not kept, but every result is still right. */
            pthread_t t;
            pthread_attr_t a;
            if (pthread_attr_init(&a) == 0) {
                pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
                g_watching = pthread_create(&t, &a, watch_main, NULL) == 0;
                pthread_attr_destroy(&a);
            }
        }
    }
    /* Beyond MAX_REGIONS a region is simply never given back early: still correct. */
    pthread_mutex_unlock(&g_lock);
}

/* Removes p; 1 with its length when it was registered. */
static int unregister_region(void *p, size_t *len) {
    int found = 0;
    pthread_mutex_lock(&g_lock);
    size_t n = atomic_load(&g_count);
    for (size_t i = 0; i < n; i++)
        if (g_regions[i].p == p) {
            *len = g_regions[i].len;
            g_regions[i] = g_regions[n - 1];
            atomic_store(&g_count, n - 1);
            found = 1;
            break;
        }
    pthread_mutex_unlock(&g_lock);
    return found;
}

assay_status assay_ctx_set_memory_limit(assay_ctx *ctx, uint64_t bytes, const char *scratch_dir) {
    if (ctx == NULL) return ASSAY_E_INVAL;
    if (bytes != 0 && bytes < ASSAY_MEMORY_LIMIT_MIN)
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "a memory limit of %llu bytes is below the %llu MiB "
                           "the process needs besides the data",
                           (unsigned long long)bytes,
                           (unsigned long long)(ASSAY_MEMORY_LIMIT_MIN >> 20));
    char *dir = NULL;
    if (scratch_dir != NULL && (dir = strdup(scratch_dir)) == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    free(ctx->scratch_dir);
    ctx->scratch_dir = dir;
    ctx->mem_limit = bytes;
    return ASSAY_OK;
}

uint64_t assay_ctx_memory_limit(const assay_ctx *ctx) {
    return ctx == NULL ? 0 : ctx->mem_limit;
}

const char *assay__scratch_dir(const assay_ctx *ctx) {
    if (ctx != NULL && ctx->scratch_dir != NULL) return ctx->scratch_dir;
    const char *t = getenv("TMPDIR");
    return t != NULL && t[0] == '/' ? t : "/tmp";
}

int assay__scratch_file(const assay_ctx *ctx) {
    const char *dir = assay__scratch_dir(ctx);
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
#endif
    /* Without O_TMPFILE: a named file, removed at once. */
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.assay-scratch-XXXXXX", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd2 = mkostemp(path, O_CLOEXEC);
    if (fd2 >= 0) unlink(path);
    return fd2;
}

assay_status assay__bulk_alloc(assay_ctx *ctx, size_t bytes, const char *what, void **out) {
    *out = NULL;
    if (ctx == NULL || ctx->mem_limit == 0 || bytes < BULK_MIN_BYTES) {
        if ((*out = assay__aligned_alloc(bytes)) == NULL)
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for %s (%.1f MiB)", what,
                               (double)bytes / 1048576.0);
        return ASSAY_OK;
    }
    const char *dir = assay__scratch_dir(ctx);
    int fd = assay__scratch_file(ctx);
    int e = 0;
    void *p = MAP_FAILED;
    if (fd < 0)
        e = errno;
    else if ((e = posix_fallocate(fd, 0, (off_t)bytes)) == 0) {
        /* Allocated now, so a full disk is this error and never a SIGBUS on a later write. */
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) e = errno;
    }
    if (fd >= 0) close(fd); /* the mapping keeps the file */
    if (p == MAP_FAILED)
        return assay__fail(ctx, assay__errno_status(e),
                           "cannot hold %s (%.1f MiB) in a scratch file in %s (--memory-limit): %s",
                           what, (double)bytes / 1048576.0, dir, strerror(e));
    register_region(p, bytes, ctx->mem_limit);
    *out = p;
    return ASSAY_OK;
}

void assay__bulk_adopt(const assay_ctx *ctx, void *p, size_t bytes) {
    if (ctx != NULL && ctx->mem_limit != 0 && p != NULL && bytes > 0)
        register_region(p, bytes, ctx->mem_limit);
}

int assay__bulk_release(void *p) {
    size_t len;
    if (p == NULL || !unregister_region(p, &len)) return 0;
    munmap(p, len);
    return 1;
}

void assay__bulk_free(void *p) {
    if (!assay__bulk_release(p)) free(p);
}

static int g_statm = -1;
static long g_page;
static pthread_once_t g_statm_once = PTHREAD_ONCE_INIT;

static void open_statm(void) {
    g_statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    g_page = sysconf(_SC_PAGESIZE);
}

/* Resident bytes of this process and the part of them that is file or shared memory (the bulk
 * regions are); 0 when /proc cannot be read. */
static uint64_t resident_bytes(uint64_t *shared) {
    *shared = 0;
    pthread_once(&g_statm_once, open_statm);
    if (g_statm < 0 || g_page <= 0) return 0;
    char buf[160];
    ssize_t n = pread(g_statm, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long long size = 0, res = 0, sh = 0;
    if (sscanf(buf, "%llu %llu %llu", &size, &res, &sh) != 3) return 0;
    *shared = (uint64_t)sh * (uint64_t)g_page;
    return (uint64_t)res * (uint64_t)g_page;
}

/* Gives every region's pages back (caller holds g_lock). */
static void trim_locked(void) {
    size_t n = atomic_load(&g_count);
    for (size_t i = 0; i < n; i++) (void)madvise(g_regions[i].p, g_regions[i].len, MADV_DONTNEED);
    atomic_fetch_add(&g_trims, 1);
}

void assay__resident_trim(void) {
    pthread_mutex_lock(&g_lock);
    trim_locked();
    pthread_mutex_unlock(&g_lock);
}

size_t assay__resident_trims(void) {
    return atomic_load(&g_trims);
}

static void *watch_main(void *arg) {
    (void)arg;
    uint64_t prev_shared = 0, growth = 0;
    double last_trim = 0;
    for (;;) {
        struct timespec ts = {0, WATCH_NS};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&g_lock);
        if (atomic_load(&g_count) == 0) {
            g_watching = 0;
            pthread_mutex_unlock(&g_lock);
            return NULL;
        }
        uint64_t limit = atomic_load(&g_limit), shared;
        uint64_t res = resident_bytes(&shared);
        /* How fast file pages are being mapped: the largest growth of one period, decaying.
         * The kernel maps a file's large folios 2 MiB per fault, so a pass over scattered rows
         * can map hundreds of MiB within one period; trimming that much before the limit keeps
         * the peak under it. */
        uint64_t grew = shared > prev_shared ? shared - prev_shared : 0;
        growth = grew > growth - growth / 8 ? grew : growth - growth / 8;
        /* Only when the file pages are worth giving back: the rest is the process's own memory,
         * which no trimming lowers. */
        double now = assay__now();
        if (res + 2 * growth >= limit && shared > limit / 8 && now - last_trim >= TRIM_GAP) {
            last_trim = now;
            trim_locked();
            resident_bytes(&shared);
        }
        prev_shared = shared;
        pthread_mutex_unlock(&g_lock);
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The one owner of BLAS's process-wide thread count (src/core/blas.c): while any work that runs
 * BLAS on several of our threads is under way, BLAS stays single-threaded, whichever context
 * started it, and the count BLAS had before comes back when the last such work ends. Two
 * contexts scanning on two threads at once get the results each gets alone. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "test_data.h"

#include "assay/assay.h"
#include "core/internal.h"

#if ASSAY_HAVE_OPENBLAS
void openblas_set_num_threads(int num_threads);
#endif

/* Starts from a known count of 2 where OpenBLAS allows it (it may cap at the CPUs it sees). */
static int start_count(void) {
#if ASSAY_HAVE_OPENBLAS
    openblas_set_num_threads(2);
#endif
    return assay_blas_threads();
}

static void test_blas_single_nests(void **state) {
    (void)state;
    const int before = start_count();
    assay__blas_single_begin();
    assert_int_equal(assay_blas_threads(), 1);
    assay__blas_single_begin(); /* a second holder: still 1, and its end does not restore */
    assay__blas_single_end();
    assert_int_equal(assay_blas_threads(), 1);
    assay__blas_single_end();
    assert_int_equal(assay_blas_threads(), before);
    assay__blas_single_end(); /* an unmatched end changes nothing */
    assert_int_equal(assay_blas_threads(), before);
}

/* Two threads each bracket work in begin/end many times; inside, BLAS must read 1 every time.
 * (With a save/set/restore per caller, one thread's restore lands inside the other's work.) */
typedef struct holder {
    atomic_int *violations;
    int rounds;
} holder;

static void *hold_and_check(void *arg) {
    holder *h = arg;
    for (int i = 0; i < h->rounds; i++) {
        assay__blas_single_begin();
        for (int spin = 0; spin < 20; spin++) {
            if (assay_blas_threads() != 1) atomic_fetch_add(h->violations, 1);
            sched_yield(); /* let the other thread begin and end meanwhile */
        }
        assay__blas_single_end();
    }
    return NULL;
}

static void test_blas_single_holds_across_threads(void **state) {
    (void)state;
    const int before = start_count();
    atomic_int violations = 0;
    holder h = {&violations, 3000};
    pthread_t a, b;
    assert_int_equal(pthread_create(&a, NULL, hold_and_check, &h), 0);
    assert_int_equal(pthread_create(&b, NULL, hold_and_check, &h), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    assert_int_equal(atomic_load(&violations), 0);
    assert_int_equal(assay_blas_threads(), before);
}

/* ---- two contexts, two threads ---- */

typedef struct scan_job {
    const char *path;
    int threads;
    assay_ctx *ctx; /* created and loaded on the main thread (see below) */
    assay_dataset *ds;
    float *score; /* per row, filled */
    size_t n, flagged;
    assay_status status;
} scan_job;

/* Loading forks the HDF5 sandbox. With clang 14's AddressSanitizer (Debian 12) a fork while
 * another thread allocates can leave an ASan allocator lock held in the child, which then hangs
 * (ASan installs fork handlers only from LLVM 18, llvm-project PR 75290); glibc's malloc is
 * fork-safe. The loads therefore run on the main thread and only the scans run concurrently,
 * which is what this test is about. */
static void load_job(scan_job *j) {
    assay_ctx_opts co = ASSAY_CTX_OPTS_INIT;
    co.n_threads = j->threads;
    j->ctx = NULL;
    j->ds = NULL;
    j->status = assay_ctx_create(&j->ctx, &co);
    if (j->status == ASSAY_OK) j->status = assay_dataset_load(j->ctx, j->path, NULL, &j->ds);
}

static void *scan_thread(void *arg) {
    scan_job *j = arg;
    assay_ctx *ctx = j->ctx;
    assay_dataset *ds = j->ds;
    assay_result *res = NULL;
    if (j->status == ASSAY_OK) j->status = assay_scan(ctx, ds, NULL, &res);
    if (j->status == ASSAY_OK) {
        j->n = assay_dataset_rows(ds);
        j->score = malloc(j->n * sizeof *j->score);
        for (size_t r = 0; r < j->n; r++) j->score[r] = assay_result_score(res, r);
        j->flagged = assay_result_flagged_count(res);
    }
    assay_result_destroy(res);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    return NULL;
}

static void test_two_contexts_scan_at_once(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "blas_two_contexts.h5");
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = 1500;
    o.d = 40; /* spectral, spectre and mahalanobis call BLAS per class */
    o.classes = 4;
    o.seed = 11;
    o.plant.random_flip = 0.1; /* above the default label-noise tolerance: rows are flagged */
    tu_write_synth(&o, DATAGEN_FORMAT_H5, path, NULL, NULL);
    const int before = start_count();
    scan_job alone = {path, 2, NULL, NULL, NULL, 0, 0, ASSAY_OK};
    load_job(&alone);
    scan_thread(&alone);
    assert_int_equal(alone.status, ASSAY_OK);
    assert_int_equal(assay_blas_threads(), before);
    scan_job jobs[2] = {{path, 2, NULL, NULL, NULL, 0, 0, ASSAY_OK},
                        {path, 1, NULL, NULL, NULL, 0, 0, ASSAY_OK}};
    for (int i = 0; i < 2; i++) load_job(&jobs[i]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, scan_thread, &jobs[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(jobs[i].status, ASSAY_OK);
        assert_int_equal(jobs[i].n, alone.n);
        assert_int_equal(jobs[i].flagged, alone.flagged);
        assert_memory_equal(jobs[i].score, alone.score, alone.n * sizeof *alone.score);
        free(jobs[i].score);
    }
    assert_true(alone.flagged > 0);
    assert_int_equal(assay_blas_threads(), before);
    free(alone.score);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_single_nests),
        cmocka_unit_test(test_blas_single_holds_across_threads),
        cmocka_unit_test(test_two_contexts_scan_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

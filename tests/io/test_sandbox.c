/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the reader sandbox (src/io/sandbox.c) with small child functions: the reply and the
 * shared region arrive intact, progress is forwarded, a crash and a hang are contained as
 * format errors naming the file, a memory failure after the size check is a resource error, the
 * child cannot create files, and HDF5 files load identically sandboxed and in-process. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "test_util.h"
#include "io/h5_read.h"
#include "io/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifndef T_ASAN
#define T_ASAN 0
#endif

static assay_ctx *new_ctx(void) {
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, NULL), ASSAY_OK);
    return ctx;
}

/* A context that reads files in-process (no_sandbox 1) or in the sandbox (0). */
static assay_ctx *new_ctx_no_sandbox(int no_sandbox) {
    assay_ctx *ctx = new_ctx();
    assay_limits l = *assay_ctx_limits(ctx);
    l.no_sandbox = no_sandbox;
    assert_int_equal(assay_ctx_set_limits(ctx, &l), ASSAY_OK);
    return ctx;
}

/* ---- child functions ---- */

static assay_status child_ok(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    (void)arg;
    unsigned char *m = assay__sandbox_shared(sb, 1 << 20);
    if (m == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "no shared memory");
    for (size_t i = 0; i < (1u << 20); i++) m[i] = (unsigned char)(i * 7u);
    assay__progress(ctx, "load", 5, 10);
    ASSAY_TRY(assay__sandbox_put_u64(sb, 0x1234567890abcdefull));
    ASSAY_TRY(assay__sandbox_put_str(sb, "hello"));
    return assay__sandbox_put_str(sb, NULL);
}

/* A payload of *(size_t *)arg bytes, byte i = i * 13 mod 256. */
static assay_status child_sized(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    (void)ctx;
    size_t n = *(const size_t *)arg;
    unsigned char *b = malloc(n);
    if (b == NULL) return ASSAY_E_NOMEM;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 13u);
    assay_status s = assay__sandbox_put(sb, b, n);
    free(b);
    return s;
}

static assay_status child_crash(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    (void)ctx, (void)sb, (void)arg;
    raise(SIGSEGV);
    return ASSAY_OK;
}

static assay_status child_hang(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    (void)ctx, (void)sb, (void)arg;
    for (;;) pause();
    return ASSAY_OK;
}

static assay_status child_fail(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    (void)sb, (void)arg;
    return assay__fail(ctx, ASSAY_E_FORMAT, "x.h5:/labels: row 3 is bad");
}

static assay_status child_nomem(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    (void)arg;
    assay__sandbox_sizes_checked(sb);
    return assay__fail(ctx, ASSAY_E_NOMEM, "x.h5:/embeddings: out of memory");
}

static assay_status child_write(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    (void)sb;
    int fd = open((const char *)arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        close(fd);
        return assay__fail(ctx, ASSAY_E_INTERNAL, "created the file");
    }
    return ASSAY_OK;
}

/* ---- tests ---- */

typedef struct seen {
    uint64_t done, total;
    char stage[32];
} seen;

static void on_progress(void *user, const char *stage, uint64_t done, uint64_t total) {
    seen *s = user;
    if (strcmp(stage, "load") == 0) {
        s->done = done;
        s->total = total;
        snprintf(s->stage, sizeof s->stage, "%s", stage);
    }
}

static void test_reply_and_shared(void **state) {
    (void)state;
    seen sn = {0, 0, ""};
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.progress = on_progress;
    o.progress_user = &sn;
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_OK);
    assay__sandbox_out out;
    assert_int_equal(assay__sandbox_run(ctx, "f.h5", "test reader", child_ok, NULL, &out),
                     ASSAY_OK);
    assert_int_equal(out.shared_bytes, 1u << 20);
    const unsigned char *m = out.shared;
    for (size_t i = 0; i < (1u << 20); i += 4099) assert_int_equal(m[i], (unsigned char)(i * 7u));
    assay__sandbox_reader r = {out.payload, out.payload + out.payload_len};
    uint64_t v;
    const char *s;
    size_t len;
    assert_true(assay__sandbox_get_u64(&r, &v));
    assert_true(v == 0x1234567890abcdefull);
    assert_true(assay__sandbox_get_str(&r, &s, &len));
    assert_string_equal(s, "hello");
    assert_int_equal(len, 5);
    assert_true(assay__sandbox_get_str(&r, &s, &len));
    assert_null(s);
    assert_false(assay__sandbox_get_u64(&r, &v)); /* nothing more */
    assert_int_equal(sn.done, 5);
    assert_int_equal(sn.total, 10);
    assay__sandbox_out_free(&out);
    assay_ctx_destroy(ctx);
}

/* Replies that end just below the parent's buffer capacity: the buffer grows once more before
 * EOF is read, and the reply must still be read from where it now is (it was read through a
 * stale pointer before: a crash on 15,000-row Fashion-MNIST files). */
static void test_reply_across_buffer_growth(void **state) {
    (void)state;
    assay_ctx *ctx = new_ctx();
    static const size_t caps[] = {262144, 524288, 1048576};
    static const size_t below[] = {40, 1000, 20000, 65000, 70000};
    for (size_t c = 0; c < 3; c++)
        for (size_t b = 0; b < 5; b++) {
            size_t n = caps[c] - 40 - below[b];
            assay__sandbox_out out;
            assert_int_equal(assay__sandbox_run(ctx, "f.h5", "test reader", child_sized, &n, &out),
                             ASSAY_OK);
            assert_int_equal(out.payload_len, n);
            for (size_t i = 0; i < n; i++)
                if (out.payload[i] != (unsigned char)(i * 13u))
                    fail_msg("payload of %zu bytes differs at byte %zu", n, i);
            assay__sandbox_out_free(&out);
        }
    assay_ctx_destroy(ctx);
}

static void test_crash_is_format(void **state) {
    (void)state;
    assay_ctx *ctx = new_ctx();
    assay__sandbox_out out;
    assert_int_equal(assay__sandbox_run(ctx, "crash.h5", "test reader", child_crash, NULL, &out),
                     ASSAY_E_FORMAT);
    const char *m = assay_ctx_errmsg(ctx);
    assert_non_null(strstr(m, "crash.h5: the test reader"));
    assert_non_null(strstr(m, "damaged or hostile"));
    /* AddressSanitizer catches the signal itself and exits with status 1. */
    if (!T_ASAN) assert_non_null(strstr(m, "crashed (SIGSEGV)"));
    assert_null(out.payload);
    assay_ctx_destroy(ctx);
}

static void test_hang_is_format(void **state) {
    (void)state;
    assay_ctx *ctx = new_ctx();
    setenv("ASSAY_SANDBOX_TIMEOUT", "0.5", 1);
    double t0 = assay__now();
    assay__sandbox_out out;
    assay_status s = assay__sandbox_run(ctx, "hang.h5", "test reader", child_hang, NULL, &out);
    double dt = assay__now() - t0;
    unsetenv("ASSAY_SANDBOX_TIMEOUT");
    assert_int_equal(s, ASSAY_E_FORMAT);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "hang.h5: the test reader made no progress"));
    assert_true(dt < 5.0);
    assay_ctx_destroy(ctx);
}

/* assay_ctx_cancel from another thread stops a reader that never answers: the child is killed
 * and the call returns ASSAY_E_CANCELLED long before the no-progress watchdog. */
static void *cancel_soon(void *p) {
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assay_ctx_cancel(p);
    return NULL;
}

static void test_cancel_kills_reader(void **state) {
    (void)state;
    assay_ctx *ctx = new_ctx();
    setenv("ASSAY_SANDBOX_TIMEOUT", "60", 1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_soon, ctx), 0);
    double t0 = assay__now();
    assay__sandbox_out out;
    assay_status s = assay__sandbox_run(ctx, "slow.h5", "test reader", child_hang, NULL, &out);
    double dt = assay__now() - t0;
    pthread_join(th, NULL);
    unsetenv("ASSAY_SANDBOX_TIMEOUT");
    assert_int_equal(s, ASSAY_E_CANCELLED);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "slow.h5: cancelled"));
    assert_true(dt < 30.0); /* the watchdog would have waited 60 s */
    assay_ctx_destroy(ctx);
}

static void test_child_error_passes_through(void **state) {
    (void)state;
    assay_ctx *ctx = new_ctx();
    assay__sandbox_out out;
    assert_int_equal(assay__sandbox_run(ctx, "x.h5", "test reader", child_fail, NULL, &out),
                     ASSAY_E_FORMAT);
    assert_string_equal(assay_ctx_errmsg(ctx), "x.h5:/labels: row 3 is bad");
    assay_ctx_destroy(ctx);
}

static void test_nomem_after_check_is_resource(void **state) {
    (void)state;
    assay_ctx *ctx = new_ctx();
    assay__sandbox_out out;
    assay_status s = assay__sandbox_run(ctx, "x.h5", "test reader", child_nomem, NULL, &out);
    if (T_ASAN) {
        assert_int_equal(s, ASSAY_E_NOMEM); /* no address-space limit under ASan */
    } else {
        assert_int_equal(s, ASSAY_E_RESOURCE);
        assert_non_null(strstr(assay_ctx_errmsg(ctx), "memory limit"));
        assert_false(assay_status_is_input_error(s));
    }
    assay_ctx_destroy(ctx);
}

static void test_child_cannot_create_files(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "sandbox_write_probe.txt");
    unlink(path);
    assay_ctx *ctx = new_ctx();
    assay__sandbox_out out;
    assay_status s = assay__sandbox_run(ctx, "x.h5", "test reader", child_write, path, &out);
    struct stat st;
    int exists = stat(path, &st) == 0;
    unlink(path);
    /* seccomp refuses the open; qemu-user installs no filter for its guest (the CI's AArch64
     * runs set QEMU_CPU), so there the file may appear, empty. */
    if (getenv("ASSAY_TEST_NO_SECCOMP") == NULL && getenv("QEMU_CPU") == NULL) {
        assert_int_equal(s, ASSAY_OK);
        assert_false(exists);
    }
    assay__sandbox_out_free(&out);
    assay_ctx_destroy(ctx);
}

static void test_enabled_by_default(void **state) {
    (void)state;
    assay_ctx *ctx = new_ctx();
    assert_true(assay__sandbox_enabled(ctx));
    assay_limits l = *assay_ctx_limits(ctx);
    l.no_sandbox = 1;
    assert_int_equal(assay_ctx_set_limits(ctx, &l), ASSAY_OK);
    assert_false(assay__sandbox_enabled(ctx));
    assay_ctx_destroy(ctx);
}

/* ---- HDF5 through the sandbox ---- */

static void write_h5(const char *path, size_t n, size_t d) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    float *x = malloc(n * d * sizeof *x);
    int64_t *y = malloc(n * sizeof *y);
    uint64_t seed = 14;
    for (size_t i = 0; i < n * d; i++) x[i] = (float)tu_normal(&seed);
    for (size_t i = 0; i < n; i++) y[i] = (int64_t)(i % 3);
    hsize_t dims[2] = {n, d};
    hid_t sp = H5Screate_simple(2, dims, NULL), sp1 = H5Screate_simple(1, dims, NULL);
    hid_t ds =
        H5Dcreate2(f, "embeddings", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    H5Dclose(ds);
    ds = H5Dcreate2(f, "labels", H5T_STD_I64LE, sp1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Sclose(sp1);
    H5Fclose(f);
    free(x);
    free(y);
}

static void test_h5_same_sandboxed_or_not(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "sandbox_same.h5");
    write_h5(path, 500, 20);
    char hex[2][65];
    for (int k = 0; k < 2; k++) {
        assay_ctx *ctx = new_ctx_no_sandbox(k);
        assay_dataset *ds = NULL;
        assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_OK);
        assert_int_equal(assay_dataset_rows(ds), 500);
        assert_int_equal(assay_dataset_dims(ds), 20);
        /* sandboxed: the matrix is the child's shared memory, adopted without a copy */
        assert_true(k == 1 ? ds->x_mapped == 0 : ds->x_mapped >= 500 * 20 * sizeof(float));
        assert_int_equal(assay_dataset_digest_hex(ds, hex[k], sizeof hex[k]), ASSAY_OK);
        assay_dataset_destroy(ds);
        assay_ctx_destroy(ctx);
    }
    assert_string_equal(hex[0], hex[1]);
}

/* A thread loading in-process spends most of its time inside HDF5 (holding the threadsafe
 * build's own lock) while this thread starts sandboxed readers: a child copied at such a moment
 * would wait forever for that lock, and its load would end as a hang. The library holds its HDF5
 * lock across fork (io/h5_lock.h), so every load succeeds. */
typedef struct busy_loader {
    const char *path;
    atomic_int stop;
    int loads, failures;
} busy_loader;

static void *load_in_process(void *arg) {
    busy_loader *b = arg;
    assay_ctx *ctx = new_ctx_no_sandbox(1);
    while (!atomic_load(&b->stop)) {
        assay_dataset *ds = NULL;
        if (assay_dataset_load(ctx, b->path, NULL, &ds) != ASSAY_OK) b->failures++;
        assay_dataset_destroy(ds);
        b->loads++;
    }
    assay_ctx_destroy(ctx);
    return NULL;
}

static void test_h5_sandbox_while_another_thread_reads(void **state) {
    (void)state;
    char busy[1024], small[1024];
    tu_path(busy, sizeof busy, "sandbox_busy.h5");
    tu_path(small, sizeof small, "sandbox_small.h5");
    write_h5(busy, 20000, 64);
    write_h5(small, 300, 8);
    setenv("ASSAY_SANDBOX_TIMEOUT", "5", 1);
    busy_loader b = {busy, 0, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, load_in_process, &b), 0);
    assay_ctx *ctx = new_ctx();
    int failed = 0;
    for (int i = 0; i < 30; i++) {
        assay_dataset *ds = NULL;
        if (assay_dataset_load(ctx, small, NULL, &ds) != ASSAY_OK) {
            fprintf(stderr, "sandboxed load %d: %s\n", i, assay_ctx_errmsg(ctx));
            failed++;
        }
        assay_dataset_destroy(ds);
    }
    atomic_store(&b.stop, 1);
    pthread_join(th, NULL);
    unsetenv("ASSAY_SANDBOX_TIMEOUT");
    assay_ctx_destroy(ctx);
    assert_int_equal(failed, 0);
    assert_int_equal(b.failures, 0);
    assert_true(b.loads > 0);
}

/* A tiny chunked file declaring two million rows with no chunk stored: refused before any
 * allocation, quickly, in both modes. */
static void test_h5_huge_declared_refused(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "sandbox_huge.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {2000000, 64}, chunk[2] = {1000, 64};
    hid_t sp = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    assert_true(H5Pset_chunk(dcpl, 2, chunk) >= 0);
    hid_t ds = H5Dcreate2(f, "embeddings", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(ds >= 0);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Fclose(f);
    for (int k = 0; k < 2; k++) {
        assay_ctx *ctx = new_ctx_no_sandbox(k);
        assay_dataset *ds2 = NULL;
        double t0 = assay__now();
        assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds2), ASSAY_E_FORMAT);
        assert_true(assay__now() - t0 < 1.0);
        const char *m = assay_ctx_errmsg(ctx);
        assert_non_null(strstr(m, "sandbox_huge.h5:/embeddings: shape [2000000, 64]"));
        assert_non_null(strstr(m, "stores 0 chunks"));
        assay_ctx_destroy(ctx);
    }
}

static void test_h5_rows_limit(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "sandbox_rows.h5");
    write_h5(path, 100, 4);
    assay_ctx *ctx = new_ctx();
    assay_limits l = *assay_ctx_limits(ctx);
    l.max_rows = 50;
    assert_int_equal(assay_ctx_set_limits(ctx, &l), ASSAY_OK);
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_E_LIMIT);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "sandbox_rows.h5:/embeddings: shape [100, 4]"));
    /* columns against max_dims, in-process this time */
    l.max_rows = 0;
    l.max_dims = 3;
    l.no_sandbox = 1;
    assert_int_equal(assay_ctx_set_limits(ctx, &l), ASSAY_OK);
    assert_int_equal(assay_dataset_load(ctx, path, NULL, &ds), ASSAY_E_LIMIT);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "more columns than the limit of 3"));
    assay_ctx_destroy(ctx);
}

/* The in-memory entry point the fuzz harness uses reads the same file image. */
static void test_h5_image(void **state) {
    (void)state;
    char path[1024];
    tu_path(path, sizeof path, "sandbox_image.h5");
    write_h5(path, 40, 3);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char buf[65536];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assay_ctx *ctx = new_ctx();
    assay_dataset *ds = calloc(1, sizeof *ds);
    assert_int_equal(assay__h5_read(ctx, ds, "image.h5", buf, len, NULL, NULL), ASSAY_OK);
    assert_int_equal(ds->n, 40);
    assert_int_equal(ds->d, 3);
    assert_int_equal(ds->labels.n, 40);
    assay_dataset_destroy(ds);
    ds = calloc(1, sizeof *ds);
    assert_int_equal(assay__h5_read(ctx, ds, "image.h5", buf, len / 2, NULL, NULL), ASSAY_E_FORMAT);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_and_shared),
        cmocka_unit_test(test_reply_across_buffer_growth),
        cmocka_unit_test(test_crash_is_format),
        cmocka_unit_test(test_hang_is_format),
        cmocka_unit_test(test_child_error_passes_through),
        cmocka_unit_test(test_nomem_after_check_is_resource),
        cmocka_unit_test(test_child_cannot_create_files),
        cmocka_unit_test(test_enabled_by_default),
        cmocka_unit_test(test_h5_same_sandboxed_or_not),
        cmocka_unit_test(test_h5_sandbox_while_another_thread_reads),
        cmocka_unit_test(test_h5_huge_declared_refused),
        cmocka_unit_test(test_h5_rows_limit),
        cmocka_unit_test(test_h5_image),
        cmocka_unit_test(test_cancel_kills_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

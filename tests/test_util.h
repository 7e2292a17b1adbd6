/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers for the cmocka tests: a seeded PRNG, temporary paths, file writers and an
 * approximate-equality assertion (cmocka 1.1.5 has no assert_double_equal). */
#ifndef ASSAY_TEST_UTIL_H
#define ASSAY_TEST_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "assay/assay_ctx.h"

/* splitmix64: tiny, seedable, good enough for test data. */
static inline uint64_t tu_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double tu_uniform(uint64_t *s) {
    return (double)(tu_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller). */
static inline double tu_normal(uint64_t *s) {
    double u = tu_uniform(s), v = tu_uniform(s);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* A path under the test scratch folder: tu_path(buf, "x_%d.csv", 3). */
static inline const char *tu_path(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline const char *tu_path(char *buf, size_t len, const char *fmt, ...) {
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    snprintf(buf, len, "%s/%s", ASSAY_TEST_TMP, name);
    return buf;
}

/* Writes `len` bytes to `path` (fails the test on error). */
static inline void tu_write_file(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len > 0) assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static inline void tu_write_text(const char *path, const char *text) {
    tu_write_file(path, text, strlen(text));
}

/* A context with `threads` worker threads (0 = all CPUs); fails the test if it cannot be made. */
static inline assay_ctx *tu_ctx(int threads) {
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = threads;
    assay_ctx *ctx = NULL;
    assert_int_equal(assay_ctx_create(&ctx, &o), ASSAY_OK);
    return ctx;
}

/* cmocka group fixtures: *state is a 2-thread context. */
static inline int tu_setup_ctx(void **state) {
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = 2;
    assay_ctx *ctx = NULL;
    if (assay_ctx_create(&ctx, &o) != ASSAY_OK) return -1;
    *state = ctx;
    return 0;
}

static inline int tu_teardown_ctx(void **state) {
    assay_ctx_destroy(*state);
    return 0;
}

/* Fails with both values and the tolerance when |ref - got| > tol. */
#define assert_close(ref, got, tol)                                                                \
    do {                                                                                           \
        double r_ = (double)(ref), g_ = (double)(got), t_ = (double)(tol);                         \
        if (!(fabs(r_ - g_) <= t_))                                                                \
            fail_msg("%s:%d: expected %.9g, got %.9g (|diff| %.3g > tol %.3g)", __FILE__,          \
                     __LINE__, r_, g_, fabs(r_ - g_), t_);                                         \
    } while (0)

/* Asserts that `haystack` contains `needle` (error messages must name the culprit). */
#define assert_contains(haystack, needle)                                                          \
    do {                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                               \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                                  \
            fail_msg("%s:%d: expected \"%s\" in \"%s\"", __FILE__, __LINE__, n_,                   \
                     h_ ? h_ : "(null)");                                                          \
    } while (0)

/* JSON Schema validation of report files (tests/schema_check.py, python3-jsonschema). */
#ifdef ASSAY_PYTHON3
#define TU_SCHEMA_CHECK ASSAY_SOURCE_DIR "/tests/schema_check.py"

/* The path of one of the repository's schemas: TU_SCHEMA("assay-report-1.schema.json"). */
#define TU_SCHEMA(name) ASSAY_SOURCE_DIR "/schemas/" name

/* Validates file against schema_path with schema_check.py; fails with the command to rerun. */
static inline void tu_schema_valid(const char *schema_path, const char *file) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s %s %s > /dev/null", ASSAY_PYTHON3, TU_SCHEMA_CHECK,
             schema_path, file);
    if (system(cmd) != 0)
        fail_msg("%s is not valid against %s (errors above; rerun: %s)", file, schema_path, cmd);
}

/* Validates every machine-readable file of a report folder against its schema (report.json,
 * manifest.json, findings.jsonl; report.sarif and bom.cdx.json against the official SARIF 2.1.0
 * and CycloneDX 1.6 schemas in ../shared) with tests/check_report_dir.py. */
static inline void tu_report_dir_valid(const char *dir) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s/tests/check_report_dir.py %s %s/../shared %s > /dev/null",
             ASSAY_PYTHON3, ASSAY_SOURCE_DIR, ASSAY_SOURCE_DIR, ASSAY_SOURCE_DIR, dir);
    if (system(cmd) != 0)
        fail_msg("%s: a report file is not valid (errors above; rerun: %s)", dir, cmd);
}
#endif

#endif

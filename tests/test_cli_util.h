/* SPDX-License-Identifier: Apache-2.0 */
/* For the tests that run the assay command as users do (test_cli*, test_graph_file,
 * test_report_formats): starting it with stdout and stderr captured into files named after the
 * caller, so tests running in parallel do not share them, and reading what it wrote (files, JSON,
 * report folders, schema validation with tests/schema_check.py). */
#ifndef ASSAY_TEST_CLI_UTIL_H
#define ASSAY_TEST_CLI_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "test_util.h"

extern char **environ;

#define ASSAY_BIN ASSAY_BINARY_DIR "/assay"

/* Where the last run's stdout and stderr went. */
static char g_out[1024], g_err[1024];

/* Runs the assay binary with argv (NULL-terminated, argv[0] ignored), its output captured into
 * <tag>_stdout.txt / <tag>_stderr.txt; returns the exit code (or 128 + signal). */
static int tu_run_assay(const char *tag, const char *const *argv) {
    tu_path(g_out, sizeof g_out, "%s_stdout.txt", tag);
    tu_path(g_err, sizeof g_err, "%s_stderr.txt", tag);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, g_out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, g_err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *args[64];
    int n = 0;
    args[n++] = (char *)ASSAY_BIN;
    for (int i = 1; argv[i] != NULL && n < 63; i++) args[n++] = (char *)argv[i];
    args[n] = NULL;
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, ASSAY_BIN, &fa, NULL, args, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Starts the assay binary with args (NULL-terminated, args[0] ignored, stdout discarded), kills
 * it with SIGKILL after delay_ms and reaps it; returns 1 if the kill ended it (0 if it had
 * already exited). */
static inline int tu_kill_assay_after(const char *const *args, int delay_ms) {
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)ASSAY_BIN;
    for (int i = 1; args[i] != NULL && n < 63; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, ASSAY_BIN, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    struct timespec ts = {0, delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st);
}

/* The whole file, NUL-terminated and malloc'd (NULL if unopenable); its length in *len if len. */
static inline char *tu_slurp(const char *path, size_t *len) {
    if (len) *len = 0;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = calloc((size_t)n + 1, 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    if (len) *len = (size_t)n;
    return buf;
}

/* 1 if path exists (file or folder), else 0. */
static inline int tu_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* How many hidden temporary files (".name.tmp-...") are left in a folder (0 if absent). */
static inline int tu_count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    int c = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) c += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return c;
}

/* Removes every file of a (report) folder, then the folder; nothing if it is absent. */
static inline void tu_remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    char p[2048];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        int n = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof p) unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Asserts that two files hold the same bytes, naming the first difference. */
static inline void tu_assert_same_file(const char *want_path, const char *got_path) {
    size_t lw = 0, lg = 0;
    char *w = tu_slurp(want_path, &lw), *g = tu_slurp(got_path, &lg);
    if (w == NULL) fail_msg("%s is missing", want_path);
    if (g == NULL) fail_msg("%s is missing", got_path);
    size_t i = 0;
    while (i < lw && i < lg && w[i] == g[i]) i++;
    if (i < lw || i < lg)
        fail_msg("%s differs from %s at byte %zu (%zu vs %zu bytes)", got_path, want_path, i, lg,
                 lw);
    free(w);
    free(g);
}

/* A file's SHA-256 as 64 lowercase hex digits and a NUL (fails the test if unreadable). */
static inline void tu_sha256_hex(const char *path, char hex[65]) {
    size_t len;
    char *b = tu_slurp(path, &len);
    if (b == NULL) fail_msg("%s cannot be read", path);
    unsigned char md[32];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(b, len, md, &mdlen, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    free(b);
}

/* A JSON file, parsed; fails the test with the path, line and jansson's message if it is not. */
static inline json_t *tu_load_json(const char *path) {
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (j == NULL) fail_msg("%s: %s (line %d)", path, e.text, e.line);
    return j;
}

/* The string o[key]; fails the test, naming the key, if it is absent or not a string. */
static inline const char *tu_json_str(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL) fail_msg("no string \"%s\" in the JSON object", key);
    return s;
}

/* assay_add_test (tests/CMakeLists.txt) defines ASSAY_PYTHON3 for every test program. */
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Starting the assay command as users do, for the tests that run it (test_cli, test_graph_file):
 * stdout and stderr captured into files named after the caller, so tests running in parallel do
 * not share them. */
#ifndef ASSAY_TEST_CLI_UTIL_H
#define ASSAY_TEST_CLI_UTIL_H

#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <spawn.h>
#include <sys/wait.h>

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
static int tu_kill_assay_after(const char *const *args, int delay_ms) {
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

#endif

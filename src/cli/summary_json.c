/* SPDX-License-Identifier: Apache-2.0 */
/* What orchestrators read back from a run: one compact JSON object as the last line of stdout
 * (Airflow's BashOperator pushes the last line to XCom), optionally also a file (Airflow's
 * KubernetesPodOperator reads /airflow/xcom/return.json, Argo and Kubeflow read output files),
 * and the colour of the human summary. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static char *dump_line(json_t *o) {
    char *line =
        o ? assay_json_shortest_reals(json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) : NULL;
    json_decref(o);
    return line;
}

char *cli_summary_json_error(int exit_code, const char *message) {
    return dump_line(json_pack("{s:s, s:s, s:s, s:i, s:s}", "tool", "assay", "version",
                               assay_version(), "status", "error", "exit_code", exit_code, "error",
                               message ? message : ""));
}

/* The summary file's temporary name while it exists, for the signal handler (main.c). */
static char g_tmp[4200];
static volatile sig_atomic_t g_tmp_live;

void cli_summary_cleanup(void) {
    if (g_tmp_live) unlink(g_tmp);
}

/* Exit code for a failed summary write: 3 when the machine ran out of something. */
static int errno_exit(int e) {
    return e == ENOSPC || e == EDQUOT || e == EMFILE || e == ENFILE || e == ENOMEM || e == EIO ||
                   e == EFBIG
               ? CLI_EXIT_INTERNAL
               : CLI_EXIT_USAGE;
}

static int fail(const char *path, const char *why, int e) {
    fprintf(stderr, "assay: error: --json-summary: %s: %s%s%s\n", path, why, e ? ": " : "",
            e ? strerror(e) : "");
    return e ? errno_exit(e) : CLI_EXIT_USAGE;
}

/* The folder holding path ("." for a bare name). */
static void parent_of(const char *path, char *buf, size_t len) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(buf, len, ".");
    else if (slash == path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

int cli_summary_check(const char *path) {
    if (path == NULL) return 0;
    if (path[0] == '\0') return fail("(empty)", "no file name given", 0);
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return fail(path, "is a folder; give a file name", 0);
        if (!S_ISREG(st.st_mode)) /* a device or a pipe (/dev/stdout): written in place */
            return access(path, W_OK) == 0 ? 0 : fail(path, "cannot write it", errno);
    } else if (errno != ENOENT) {
        return fail(path, "cannot use it", errno);
    }
    /* A regular file is replaced by a rename: its folder must take a new file. */
    char dir[4200], probe[4300];
    parent_of(path, dir, sizeof dir);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail(path, "its folder does not exist", 0);
    snprintf(probe, sizeof probe, "%s/.assay-probe.tmp-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) return fail(path, "cannot create a file in its folder", errno);
    close(fd);
    unlink(probe);
    return 0;
}

/* Writes text + '\n' to fd; 0 or errno. */
static int write_all(int fd, const char *text) {
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        text += w;
        n -= (size_t)w;
    }
    return write(fd, "\n", 1) == 1 ? 0 : errno ? errno : EIO;
}

/* Writes text + '\n' to path through a temporary file renamed into place, so a reader (an
 * XCom sidecar waiting for the file) never sees half of it; a device or pipe that exists
 * (/dev/stdout) is written in place, never replaced. */
static int write_file_atomically(const char *path, const char *text) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return fail(path, "is a folder; give a file name", 0);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return fail(path, "cannot open it", errno);
        int e = write_all(fd, text);
        if (close(fd) != 0 && e == 0 && errno != EINVAL) e = errno;
        return e ? fail(path, "cannot write it", e) : 0;
    }
    if (snprintf(g_tmp, sizeof g_tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof g_tmp)
        return fail(path, "path too long", 0);
    g_tmp_live = 1; /* before the file exists: a signal after open() removes it */
    int fd = open(g_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        g_tmp_live = 0;
        return fail(path, "cannot create it", e);
    }
    int e = write_all(fd, text);
    if (e == 0 && fsync(fd) != 0 && errno != EINVAL) e = errno;
    if (close(fd) != 0 && e == 0) e = errno;
    if (e == 0 && rename(g_tmp, path) != 0) e = errno;
    if (e != 0) unlink(g_tmp);
    g_tmp_live = 0;
    return e ? fail(path, "cannot write it", e) : 0;
}

int cli_summary_emit(const char *line, const char *file) {
    if (line == NULL) {
        fprintf(stderr, "assay: error: out of memory building the JSON summary\n");
        return CLI_EXIT_INTERNAL;
    }
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    return file != NULL ? write_file_atomically(file, line) : 0;
}

int cli_use_color(FILE *fp) {
    const char *no_color = getenv("NO_COLOR");
    if (no_color != NULL && no_color[0] != '\0') return 0;
    return isatty(fileno(fp));
}

/* ANSI SGR colours of the verdict words. */
static const struct {
    const char *word, *sgr;
} k_verdict_colors[] = {{"PASS", "\033[1;32m"}, {"WARN", "\033[1;33m"}, {"FAIL", "\033[1;31m"}};

void cli_print_summary(const char *text, int color, FILE *fp) {
    static const char gate[] = "  gate: ";
    const char *line = text;
    while (color && line != NULL && *line != '\0') {
        const char *next = strchr(line, '\n');
        next = next ? next + 1 : line + strlen(line);
        if (strncmp(line, gate, sizeof gate - 1) == 0) {
            const char *word = line + sizeof gate - 1;
            for (size_t i = 0; i < sizeof k_verdict_colors / sizeof k_verdict_colors[0]; i++) {
                size_t wl = strlen(k_verdict_colors[i].word);
                if (strncmp(word, k_verdict_colors[i].word, wl) != 0) continue;
                fwrite(text, 1, (size_t)(word - text), fp);
                fprintf(fp, "%s%s\033[0m", k_verdict_colors[i].sgr, k_verdict_colors[i].word);
                text = word + wl;
                break;
            }
        }
        line = next;
    }
    fputs(text, fp);
}

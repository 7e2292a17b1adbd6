/* SPDX-License-Identifier: Apache-2.0 */
/* What orchestrators read back from a run: one compact JSON object as the last line of stdout
 * (Airflow's BashOperator pushes the last line to XCom), optionally also a file (Airflow's
 * KubernetesPodOperator reads /airflow/xcom/return.json, Argo and Kubeflow read output files),
 * and the colour of the human summary. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static char *dump_line(json_t *o) {
    char *line =
        o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(7)) : NULL;
    json_decref(o);
    return line;
}

char *cli_summary_json_error(int exit_code, const char *message) {
    return dump_line(json_pack("{s:s, s:s, s:s, s:i, s:s}", "tool", "assay", "version",
                               assay_version(), "status", "error", "exit_code", exit_code, "error",
                               message ? message : ""));
}

/* Writes text + '\n' to path through a temporary file renamed into place, so a reader (an
 * XCom sidecar waiting for the file) never sees half of it. */
static int write_file_atomically(const char *path, const char *text) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        fprintf(stderr, "assay: error: --json-summary: %s: path too long\n", path);
        return CLI_EXIT_USAGE;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok = fp != NULL && fputs(text, fp) != EOF && fputc('\n', fp) != EOF;
    int e = errno;
    if (fp != NULL) {
        if (fclose(fp) != 0 && ok) {
            ok = 0;
            e = errno;
        }
    } else if (fd >= 0) {
        close(fd);
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        if (fd >= 0) unlink(tmp);
        fprintf(stderr, "assay: error: --json-summary: cannot write %s: %s\n", path, strerror(e));
        return CLI_EXIT_USAGE;
    }
    return 0;
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

/* SPDX-License-Identifier: Apache-2.0 */
/* The command-line tool: options, progress display and exit codes. */
#ifndef ASSAY_CLI_H
#define ASSAY_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "assay/assay.h"

/* Exit codes (README "Exit codes"; never 99 or >= 126, which shells and Airflow reserve). */
enum {
    CLI_EXIT_PASS = 0,    /* scan complete, gate passed */
    CLI_EXIT_FAIL = 1,    /* scan complete, gate failed */
    CLI_EXIT_USAGE = 2,   /* bad input or usage: the scan did not complete */
    CLI_EXIT_INTERNAL = 3 /* internal or resource error: the scan did not complete */
};

typedef enum cli_command { CMD_HELP, CMD_VERSION, CMD_SCAN, CMD_INFO, CMD_KNN } cli_command;

typedef struct cli_opts {
    cli_command cmd;
    int help;          /* --help after a command */
    const char *input; /* scan: the embeddings file */
    assay_load_opts load;
    assay_scan_opts scan;
    const char *out_dir;
    const char *out_file; /* knn: the graph file to write */
    const char *truth;
    const char *source;
    int threads; /* 0 = all CPUs */
    int quiet;
} cli_opts;

/* Parses argv into *o. On a usage error returns CLI_EXIT_USAGE with a message in err. */
int cli_parse(int argc, char **argv, cli_opts *o, char *err, size_t err_len);

/* Help texts. */
void cli_print_usage(FILE *fp);
void cli_print_scan_help(FILE *fp);
void cli_print_knn_help(FILE *fp);

/* Progress on stderr: a bar on a terminal, plain lines otherwise, nothing when disabled. */
typedef struct cli_progress {
    int enabled;
    int tty;
    const char *stage; /* the stage in progress, NULL between stages */
    const char *ended; /* the last stage that ended */
    int last_step;
    double stage_start;
} cli_progress;

void cli_progress_init(cli_progress *p, int quiet);
void cli_progress_cb(void *user, const char *stage, uint64_t done, uint64_t total);
/* Ends the current stage's line (call before printing anything else to stderr). */
void cli_progress_end(cli_progress *p);

#endif

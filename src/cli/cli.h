/* SPDX-License-Identifier: Apache-2.0 */
/* The command-line tool: options, progress display and exit codes. */
#ifndef ASSAY_CLI_H
#define ASSAY_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "assay/assay.h"

/* Exit codes (README "Exit codes"; never 99 or >= 126, which shells and Airflow reserve). */
enum {
    CLI_EXIT_PASS = 0,    /* scan complete, gate passed */
    CLI_EXIT_FAIL = 1,    /* scan complete, gate failed */
    CLI_EXIT_USAGE = 2,   /* bad input or usage: the scan did not complete */
    CLI_EXIT_INTERNAL = 3 /* internal or resource error: the scan did not complete */
};

typedef enum cli_command {
    CMD_HELP,
    CMD_VERSION,
    CMD_SCAN,
    CMD_INFO,
    CMD_KNN,
    CMD_RENDER,
    CMD_DIFF,
    CMD_POLICY
} cli_command;

/* `assay report render` takes one flag per format of the renderer table (src/report/render.h). */
#define CLI_MAX_RENDER_FORMATS 16
/* Policy options on one command line (each --threshold DET=X,... counts once). */
#define CLI_MAX_POLICY_ARGS 256
/* Options of scan/knn set by ASSAY_* variables (there are fewer such options). */
#define CLI_MAX_ENV_ARGS 32

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
    int threads;      /* 0 = all CPUs */
    int quiet;        /* no progress, nothing on stdout but the --json-summary line */
    int progress;     /* --progress: plain progress lines even when stderr is not a terminal */
    int json_summary; /* --json-summary: stdout ends with one JSON line */
    const char *json_summary_file; /* --json-summary=FILE: the same object written to FILE */
    /* report render: the saved report.json and the formats to render (none = all) */
    const char *report;
    const char *render_formats[CLI_MAX_RENDER_FORMATS];
    size_t n_render_formats;
    /* diff OLD/manifest.json NEW/manifest.json (out_dir: where diff.json goes, NULL = none) */
    const char *diff_old, *diff_new;
    /* policy options as given (--fail-on high ...), applied over the policy file and the
     * ASSAY_* variables once a context exists (assay_policy_set_option, source flag) */
    struct {
        const char *name, *value;
    } policy_args[CLI_MAX_POLICY_ARGS];
    size_t n_policy_args;
    /* The other options of scan and knn given as ASSAY_* variables ("ASSAY_OUT=dir"), read
     * before the command line's own flags so that those override them; `env_text` holds the
     * strings both these and the synthesised "--out=dir" arguments point into. */
    const char *env_args[CLI_MAX_ENV_ARGS];
    size_t n_env_args;
    char env_text[8192];
    size_t env_used;
} cli_opts;

/* Parses argv into *o. On a usage error returns CLI_EXIT_USAGE with a message in err. */
int cli_parse(int argc, char **argv, cli_opts *o, char *err, size_t err_len);

/* Help texts. */
void cli_print_usage(FILE *fp);
void cli_print_scan_help(FILE *fp);
void cli_print_knn_help(FILE *fp);
void cli_print_render_help(FILE *fp);
void cli_print_diff_help(FILE *fp);
void cli_print_policy_help(FILE *fp);

/* The scan's policy: the file (--policy, else ASSAY_POLICY), the ASSAY_* variables, then the
 * flags, each key from the highest of them (src/cli/policy_cli.c). On success *out owns the
 * policy and *scan holds its scan settings; else the message is in the context. */
assay_status cli_resolve_policy(const cli_opts *o, assay_ctx *ctx, assay_policy **out,
                                assay_scan_opts *scan);
/* assay policy show: prints the effective policy as JSON (a valid policy file); 0 or 2. */
int cli_policy_show(const cli_opts *o);

/* Progress on stderr: a bar on a terminal, nothing otherwise (log collectors keep every byte)
 * unless --progress asks for plain lines; nothing with --quiet. */
typedef struct cli_progress {
    int enabled;
    int tty;
    const char *stage; /* the stage in progress, NULL between stages */
    const char *ended; /* the last stage that ended */
    int last_step;
    double stage_start;
} cli_progress;

/* Enabled when stderr is a terminal (a bar) or when forced (plain lines); never with quiet. */
void cli_progress_init(cli_progress *p, int quiet, int force);
void cli_progress_cb(void *user, const char *stage, uint64_t done, uint64_t total);
/* Ends the current stage's line (call before printing anything else to stderr). */
void cli_progress_end(cli_progress *p);

/* ---- orchestrators (summary_json.c) ---- */
/* (A completed scan's one-line summary comes from the library: assay_report_opts.summary_json.)
 * The summary of a run that did not complete: {"tool","version","status":"error",
 * "exit_code","error": message}. */
char *cli_summary_json_error(int exit_code, const char *message);
/* Prints line + '\n' to stdout as its last line, and writes it to `file` (when not NULL) under a
 * temporary name renamed into place. Returns 0, or CLI_EXIT_USAGE after printing why on stderr
 * (the file cannot be written). */
int cli_summary_emit(const char *line, const char *file);

/* Colour for the human summary: only when fp is a terminal and NO_COLOR is unset or empty
 * (no-color.org). */
int cli_use_color(FILE *fp);
/* Prints the human summary text, the gate verdict word coloured when `color`. */
void cli_print_summary(const char *text, int color, FILE *fp);

#endif

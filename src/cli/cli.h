/* SPDX-License-Identifier: Apache-2.0 */
/* The command-line tool: options, progress display and exit codes. */
#ifndef ASSAY_CLI_H
#define ASSAY_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

#include "assay/assay.h"

/* Exit codes (docs/policy.md, "Exit codes"; never 99 or >= 126, which shells and Airflow reserve).
 */
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
    CMD_POLICY,
    CMD_COMPLETION,
    CMD_MERGE
} cli_command;

/* ---- the option table (options.c): the parser, help texts, man page, docs/cli.md and the
 * bash completion are generated from it ---- */

/* The commands an option belongs to (bits). */
enum {
    CLI_FOR_SCAN = 1u,
    CLI_FOR_KNN = 2u,
    CLI_FOR_RENDER = 4u,
    CLI_FOR_DIFF = 8u,
    CLI_FOR_POLICY = 16u, /* assay policy show */
    CLI_FOR_MERGE = 32u   /* scan's options but those that build the graph (options.c) */
};

/* Where an option is listed in the help. */
typedef enum cli_section {
    CLI_SEC_INPUT,
    CLI_SEC_SCAN,
    CLI_SEC_GATE,
    CLI_SEC_OUTPUT,
    CLI_SEC_FORMATS,
    CLI_SEC_PARAMS,
    CLI_SEC_COUNT
} cli_section;

/* Option ids (getopt's `val`): short options are their letter. */
enum {
    OPT_THREADS = 256,
    OPT_FORMAT,
    OPT_EMBEDDINGS,
    OPT_LABELS,
    OPT_IDS,
    OPT_PRED_PROBS,
    OPT_LABEL_COLUMN,
    OPT_ID_COLUMN,
    OPT_FEATURE_COLUMNS,
    OPT_LABELS_FILE,
    OPT_IDS_FILE,
    OPT_PRED_PROBS_FILE,
    OPT_CLASSES,
    OPT_TRUTH,
    OPT_SOURCE,
    OPT_GRAPH,
    OPT_BASELINE,
    OPT_TRUSTED_IDS,
    OPT_TRUSTED_DATA,
    OPT_TRUSTED_LABELS,
    OPT_JSON_SUMMARY,
    OPT_PROGRESS,
    OPT_NO_SANDBOX,
    OPT_MEMORY_LIMIT,
    OPT_PRECISION,
    OPT_GRAPH_METHOD,
    OPT_APPROX_RECALL,
    OPT_SHARD,
    OPT_RENDER_FORMAT_BASE = 512, /* + index into the report formats (assay_report_format_at) */
    OPT_POLICY_BASE = 1024        /* + index into the policy options (assay_policy_option_at) */
};

typedef struct cli_option {
    const char *name; /* --name */
    int short_name;   /* -x, or 0 */
    int has_arg;      /* getopt's no_argument, required_argument, optional_argument */
    const char *arg;  /* the value's placeholder ("N", "cosine|l2"), NULL for switches */
    unsigned commands;
    cli_section section;
    int id;
    const char *env;  /* the ASSAY_* variable that sets it too, or NULL */
    const char *def;  /* the default as text, or NULL */
    const char *help; /* one sentence */
} cli_option;

#define CLI_DEFAULT_OUT        "assay-report"
#define CLI_MAX_POLICY_OPTIONS 64

size_t cli_option_count(void);
const cli_option *cli_option_at(size_t i);
/* The option with id `id` that `command` (a CLI_FOR_* bit) takes, or NULL. */
const cli_option *cli_option_by_id(unsigned command, int id);
/* The option called `name` (without "--") that `command` takes, or NULL. */
const cli_option *cli_option_by_name(unsigned command, const char *name);
/* The option id getopt's return value c stands for: a short option's letter becomes the id of
 * the option it abbreviates among `commands` (-k is the policy option k). */
int cli_option_id(unsigned commands, int c);
/* getopt_long's table of `command`'s options into out (cap entries, the last all zero) and its
 * short options into shorts; returns the number of options. */
size_t cli_getopt_table(unsigned command, struct option *out, size_t cap, char *shorts,
                        size_t shorts_len);

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
    /* scan --shard I/N (count 0: no shard); merge INPUT PART...: the shard files or folders */
    size_t shard_index, shard_count;
    char *const *merge_parts;
    size_t n_merge_parts;
    const char *truth;
    const char *source;
    const char *trusted_data;   /* --trusted-data: loaded like the input */
    const char *trusted_labels; /* --trusted-labels: its labels file (.npy trusted data) */
    int threads;                /* 0 = all CPUs */
    int quiet;                  /* no progress, nothing on stdout but the --json-summary line */
    int progress;          /* --progress: plain progress lines even when stderr is not a terminal */
    int no_sandbox;        /* --no-sandbox: read HDF5 in this process (trusted input) */
    uint64_t memory_limit; /* --memory-limit: bytes, 0 = none (docs/memory.md) */
    assay_precision precision;     /* --precision (AUTO by default) */
    int json_summary;              /* --json-summary: stdout ends with one JSON line */
    const char *json_summary_file; /* --json-summary=FILE: the same object written to FILE */
    int policy_schema;             /* assay policy schema */
    /* help: what to print (0 text, 'm' man page, 'd' Markdown); the command asked about */
    int help_format;
    cli_command help_cmd;
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

/* ---- help texts, man page, docs/cli.md, bash completion (help.c) ---- */
/* `assay --help` (cmd CMD_HELP) or a command's --help. */
void cli_print_help(cli_command cmd, FILE *fp);
/* assay(1) in roff, docs/cli.md in Markdown, the bash completion script. */
void cli_print_man(FILE *fp);
void cli_print_markdown(FILE *fp);
void cli_print_bash_completion(FILE *fp);

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
 * temporary name renamed into place (a device or pipe is written in place). Returns 0, or after
 * printing why on stderr CLI_EXIT_INTERNAL for a resource error (a full disk...) and
 * CLI_EXIT_USAGE otherwise. */
int cli_summary_emit(const char *line, const char *file);
/* Checks, before any work, that the --json-summary file can be written: not a folder, its folder
 * takes a new file (or, for a device or pipe such as /dev/stdout, writable). 0, or 2/3 after
 * printing why on stderr. */
int cli_summary_check(const char *file);
/* Async-signal-safe: removes the summary's temporary file if one exists. */
void cli_summary_cleanup(void);

/* Colour for the human summary: only when fp is a terminal and NO_COLOR is unset or empty
 * (no-color.org). */
int cli_use_color(FILE *fp);
/* Prints the human summary text, the gate verdict word coloured when `color`. */
void cli_print_summary(const char *text, int color, FILE *fp);

/* ---- MPI (mpi.c; docs/mpi.md) ---- */

/* What the launcher's environment says (0 for the size, 0 for the rank and 1 for the ranks on
 * this machine when assay was not started by mpirun). */
int cli_mpi_env_size(void);
int cli_mpi_env_rank(void);
int cli_mpi_env_local_size(void);
/* The CPUs online (at least 1): the default thread count, shared among a machine's ranks. */
int cli_online_cpus(void);
/* 1 when this build has MPI (the `mpi` preset). */
int cli_mpi_built(void);
/* Under mpirun: MPI_Init, and ctx becomes this process's rank (rank 0 takes the machine's cores
 * after the graph unless --threads was given). 0, or an exit code. */
int cli_mpi_begin(assay_ctx *ctx, int threads_given);
/* Ends MPI for exit code `code`: MPI_Finalize for 0 and 1, MPI_Abort with the code otherwise (every
 * rank ends, and mpirun exits with it). Returns code. No-op when cli_mpi_begin did not start it. */
int cli_mpi_end(int code);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Everything the tool says about its options, generated from the one option table (options.c)
 * and the library's tables (policy options with their defaults, detector parameters, detector
 * names, report formats): the --help texts, the man page assay(1), docs/cli.md and the bash
 * completion. A default is never written here. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* ---- what each command is ---- */

typedef struct cmd_doc {
    cli_command cmd;
    unsigned bit;      /* CLI_FOR_*, 0 for commands without options */
    const char *name;  /* as typed */
    const char *usage; /* after "assay " */
    const char *brief; /* for the list of commands */
    const char *about; /* a paragraph; "\n\n" separates paragraphs */
    const char *exit;  /* exit codes, one sentence */
} cmd_doc;

static const cmd_doc k_cmds[] = {
    {CMD_SCAN, CLI_FOR_SCAN, "scan", "scan INPUT [options]", "scan a dataset (HDF5, CSV or .npy)",
     "Scans a dataset of labelled embeddings for poisoning: fingerprints it, builds its exact "
     "k-nearest-neighbour graph, runs the label-consistency, backdoor, outlier, duplicate and "
     "integrity detectors, gates on the findings under a policy, and writes the reports into the "
     "output folder.\n\nINPUT is an HDF5 file (datasets /embeddings, /labels, optional /ids, "
     "/pred_probs), a CSV file with a header row, or a NumPy .npy embeddings array (labels via "
     "--labels-file).",
     "0 gate passed (or warned), 1 gate failed, 2 bad input, usage or policy, 3 internal error."},
    {CMD_KNN, CLI_FOR_KNN, "knn", "knn INPUT --out FILE [options]",
     "build the neighbour graph once and save it for 'assay scan --graph FILE'",
     "Builds the exact k-nearest-neighbour graph of a dataset as 'assay scan' does (the same "
     "rows left out: non-finite rows, and all-zero rows under cosine) and writes it to an HDF5 "
     "file that 'assay scan INPUT --graph FILE' reuses instead of building it again. The dataset "
     "is loaded exactly as scan loads it, labels included (they are required): the file records "
     "the dataset's SHA-256 digest, over features, labels and ids, and a scan refuses the graph "
     "for any other data, k or metric.\n\nThe file has the ann-benchmarks layout: /neighbors "
     "int64 [N, k] and /distances float32 [N, k], nearest first (rows left out: ids -1, "
     "distances NaN), attribute 'distance' (angular for cosine, euclidean for l2, whose "
     "distances are squared), plus assay's attributes (docs/reports.md, \"graph.h5\").",
     "0 graph written, 2 bad input or usage, 3 internal error."},
    {CMD_MERGE, CLI_FOR_MERGE, "merge", "merge INPUT PART... [options]",
     "finish a scan from the shards of 'assay scan --shard I/N'",
     "Finishes a scan whose neighbour graph was computed in shards, by 'assay scan INPUT --shard "
     "I/N' for I = 0 to N-1 (a Slurm array, Spark or Ray tasks: docs/shards.md): reads the "
     "shard files, checks each as 'assay scan --graph' checks a graph file (built for this "
     "dataset, same -k and --metric, every distance re-measured) and that together they are "
     "one of each shard, then runs the detectors, the gate and the reports exactly as 'assay "
     "scan INPUT' would: the same findings, scores, verdict and exit code.\n\nPART is a shard "
     "file or a folder, whose shard-*-of-*.h5 files are taken. The options are scan's, but "
     "those that build the graph; give the ones the shards were computed with (-k, --metric, "
     "--expected-poison, the policy file).",
     "0 gate passed (or warned), 1 gate failed, 2 bad input, usage, policy, or shards that do "
     "not match the dataset or each other (missing, repeated, another split), 3 internal error."},
    {CMD_RENDER, CLI_FOR_RENDER, "report", "report render REPORT.json [--FORMAT ...] [--out DIR]",
     "render report formats again from a saved report.json",
     "Renders report formats again from a saved report.json, with the renderers a scan uses: "
     "the files are byte-identical to the ones the scan wrote, and formats added since can be "
     "produced for old scans. The files are staged and swapped in as one set, undone on any "
     "failure (docs/atomic-output.md).",
     "0 written, 2 unreadable or invalid report.json (not JSON, or its \"schema\" is not "
     "\"assay-report/1\") or bad usage, 3 internal error."},
    {CMD_DIFF, CLI_FOR_DIFF, "diff", "diff OLD/manifest.json NEW/manifest.json [options]",
     "what changed between two scans, without rescanning",
     "Compares two scans from their manifests, without rescanning, exactly as 'assay scan NEW "
     "--baseline OLD/manifest.json' does: rows added, removed, changed (same id, different row "
     "digest) and relabelled; the class-distribution shift (chi-square test of homogeneity with "
     "its p-value and the per-class counts); and per class the drift of the centroid (in class "
     "radii and as a cosine distance) and of each detector's score quantiles. Rows are matched "
     "by id when both manifests have ids, else by row digest only (a changed row then counts as "
     "removed plus added); when both have ids but at most 1% of the rows share one (ids changed "
     "wholesale), rows are matched by row digest, the summary says the ids changed wholesale "
     "and the diff fails. The SHA-256 of the report.json next to OLD/manifest.json is recorded "
     "(the chain of reports).",
     "0 no row changed, 1 rows changed (tampering) or the ids changed wholesale, 2 unreadable "
     "manifest or not a manifest (the message names the file and the key), or bad usage."},
    {CMD_POLICY, CLI_FOR_POLICY, "policy",
     "policy show [--policy FILE] [policy options] | policy schema",
     "print the effective gate policy (file, ASSAY_* variables, flags), or its schema",
     "Prints the effective gate policy as JSON: the policy file (--policy, else ASSAY_POLICY), "
     "overridden by ASSAY_* variables, overridden by the options, key by key. The output is "
     "itself a valid policy (schemas/assay-policy-1.schema.json). A scan records the same "
     "policy, its SHA-256 and the source of every key in report.json \"policy\".\n\n'assay "
     "policy schema' prints the JSON Schema of a policy file (schemas/assay-policy-1.schema.json), "
     "generated from the same tables.",
     "0 printed, 2 bad policy (the message names file, line and key)."},
    {CMD_INFO, 0, "info", "info", "CPU features, kernels, BLAS library",
     "Prints the CPU features, the kernels built and the ones this CPU runs, the one used and "
     "why (ASSAY_ISA lowers it), the thread count and the BLAS library.",
     "0."},
    {CMD_COMPLETION, 0, "completion", "completion bash", "print the bash completion script",
     "Prints the bash completion script (installed as share/bash-completion/completions/assay): "
     "commands, options, and the values of options that take names (metrics, severities, "
     "detectors, finding kinds).",
     "0, 2 for a shell other than bash."},
    {CMD_HELP, 0, "help", "help [COMMAND | --man | --markdown]",
     "this text, a command's, the man page or docs/cli.md",
     "Prints this text, a command's, the man page assay(1) in roff, or the command-line "
     "reference docs/cli.md in Markdown.",
     "0, 2 for an unknown command."},
};
#define N_CMDS (sizeof k_cmds / sizeof k_cmds[0])

static const cmd_doc *cmd_of(cli_command cmd) {
    for (size_t i = 0; i < N_CMDS; i++)
        if (k_cmds[i].cmd == cmd) return &k_cmds[i];
    return NULL;
}

static const char *section_title(cli_section sec, cli_command cmd) {
    switch (sec) {
    case CLI_SEC_INPUT:
        return "input";
    case CLI_SEC_SCAN:
        return cmd == CMD_KNN ? "graph" : "scan";
    case CLI_SEC_GATE:
        return "gate (docs/policy.md; each option is also an ASSAY_* variable; precedence: flag > "
               "variable > policy file > default)";
    case CLI_SEC_OUTPUT:
        return "output";
    case CLI_SEC_FORMATS:
        return "formats (none given: all of them)";
    default:
        return "detector and verdict parameters (each recorded in report.json)";
    }
}

/* The next option of command c listed in section sec, from position *at on (advanced past it),
 * or NULL when there is none: every renderer walks the options this way. */
static const cli_option *next_option(const cmd_doc *c, int sec, size_t *at) {
    while (c->bit != 0 && *at < cli_option_count()) {
        const cli_option *o = cli_option_at((*at)++);
        if ((o->commands & c->bit) && (int)o->section == sec) return o;
    }
    return NULL;
}

/* What the top-level help says; exit codes of every command. */
static const char k_summary[] =
    "Training-data poisoning detector: fingerprints a dataset of labelled embeddings, builds its "
    "exact k-nearest-neighbour graph, runs label-consistency, backdoor, outlier, duplicate and "
    "integrity detectors, gates on the findings under a policy, and writes reports for CI "
    "systems and auditors (JSON, SARIF, JUnit, CycloneDX, HTML).";
static const char *const k_exit_codes[][2] = {
    {"0", "scan complete, gate passed or warned (or failed, with --exit-zero)"},
    {"1", "scan complete, gate failed (findings at or above --fail-on, a significant test "
          "against \"no poison\", more than --max-flagged-fraction rows or a class budget "
          "flagged)"},
    {"2", "bad input or usage: the scan did not complete (the message names the file, "
          "dataset/column and row/line; a mistyped option, command or detector name is answered "
          "with the nearest known one: did you mean '--out'?)"},
    {"3", "internal or resource error (out of memory, threads, BLAS)"}};
static const char k_files[] = "report.json, findings.jsonl, report.sarif, junit.xml, "
                              "bom.cdx.json, report.html, manifest.json, scores.csv, flagged.csv";

/* ---- text ---- */

#define WIDTH  94
#define COLUMN 31

/* Writes text wrapped at WIDTH, every line indented by `indent` spaces except the first, which
 * starts at column `at`. */
static void wrap(FILE *fp, const char *text, int indent, int at) {
    int col = at;
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        if (*p == '\n') { /* a paragraph break */
            fputc('\n', fp);
            col = 0;
            p++;
            continue;
        }
        const char *e = p;
        while (*e && *e != ' ' && *e != '\n') e++;
        int w = (int)(e - p);
        if (w == 0) break;
        if (col > indent && col + 1 + w > WIDTH) {
            fprintf(fp, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent || (col == indent && col > at)) {
            fputc(' ', fp);
            col++;
        } else if (col < indent) {
            fprintf(fp, "%*s", indent - col, "");
            col = indent;
        }
        fwrite(p, 1, (size_t)w, fp);
        col += w;
        p = e;
    }
    fputc('\n', fp);
}

/* "-k, --k N", "--json-summary[=FILE]", "--quiet" */
static void flag_text(const cli_option *o, char *buf, size_t len) {
    int u = snprintf(buf, len, "%s%c%s--%s", o->short_name ? "-" : "",
                     o->short_name ? o->short_name : ' ', o->short_name ? ", " : "", o->name);
    if (!o->short_name) u = snprintf(buf, len, "--%s", o->name);
    if (u < 0 || (size_t)u >= len || o->arg == NULL) return;
    snprintf(buf + u, len - (size_t)u, o->has_arg == optional_argument ? "[=%s]" : " %s", o->arg);
}

/* The help sentence with its default (a switch's is off). */
static void help_text(const cli_option *o, char *buf, size_t len) {
    if (o->def != NULL && o->has_arg != no_argument)
        snprintf(buf, len, "%s (default %s)", o->help, o->def);
    else
        snprintf(buf, len, "%s", o->help);
}

static void option_line(FILE *fp, const cli_option *o) {
    char flag[96], help[1024];
    flag_text(o, flag, sizeof flag);
    help_text(o, help, sizeof help);
    int w = fprintf(fp, "  %s", flag);
    if (w >= COLUMN - 1) {
        fputc('\n', fp);
        w = 0;
    }
    wrap(fp, help, COLUMN, w);
}

static void print_detectors(FILE *fp, const char *before) {
    char list[1024];
    size_t u = (size_t)snprintf(list, sizeof list, "%s", before);
    for (int d = 0; d < ASSAY_DET_COUNT && u < sizeof list; d++)
        u += (size_t)snprintf(list + u, sizeof list - u, "%s%s", d ? ", " : "",
                              assay_detector_name((assay_detector)d));
    wrap(fp, list, 4, 0);
}

static void print_usage(FILE *fp) {
    fputs("usage: assay <command> [options]\n\n", fp);
    wrap(fp, k_summary, 0, 0);
    fputs("\ncommands:\n", fp);
    for (size_t i = 0; i < N_CMDS; i++) {
        int w = fprintf(fp, "  %s", k_cmds[i].usage);
        if (w >= COLUMN - 1) {
            fputc('\n', fp);
            w = 0;
        }
        wrap(fp, k_cmds[i].brief, COLUMN, w);
    }
    fputs("  --version                    print the version\n"
          "  --help                       this text; 'assay COMMAND --help' for a command\n"
          "\nexit codes:\n",
          fp);
    for (size_t i = 0; i < sizeof k_exit_codes / sizeof k_exit_codes[0]; i++) {
        fprintf(fp, "  %s  ", k_exit_codes[i][0]);
        wrap(fp, k_exit_codes[i][1], 5, 5);
    }
}

void cli_print_help(cli_command cmd, FILE *fp) {
    const cmd_doc *c = cmd_of(cmd);
    if (cmd == CMD_HELP || c == NULL) {
        print_usage(fp);
        return;
    }
    fprintf(fp, "usage: assay %s\n\n", c->usage);
    wrap(fp, c->about, 0, 0);
    for (int sec = 0; c->bit != 0 && sec < CLI_SEC_COUNT; sec++) {
        int any = 0;
        size_t at = 0;
        for (const cli_option *o; (o = next_option(c, sec, &at)) != NULL;) {
            if (!any) {
                fputc('\n', fp);
                char title[256];
                snprintf(title, sizeof title, "%s:", section_title((cli_section)sec, cmd));
                wrap(fp, title, 0, 0);
                any = 1;
            }
            option_line(fp, o);
        }
        if (any && sec == CLI_SEC_SCAN && (c->bit & CLI_FOR_SCAN))
            print_detectors(fp, "  detectors (--skip, --threshold, ...): ");
    }
    if (cmd == CMD_SCAN) {
        fputc('\n', fp);
        wrap(
            fp,
            "Every option is also an ASSAY_* variable (the man page lists them: ASSAY_OUT, "
            "ASSAY_THREADS, ASSAY_JSON_SUMMARY=1, ...); a flag overrides its variable. NO_COLOR=1: "
            "no colour in the summary (colour only on a terminal). Files written into --out:",
            0, 0);
        wrap(fp, k_files, 2, 0);
    }
    fputc('\n', fp);
    wrap(fp, c->exit, 12, fprintf(fp, "exit codes: "));
}

/* ---- the man page ---- */

/* Text as roff: backslashes escaped, dashes as minus signs, no line starting with a dot. */
static void roff(FILE *fp, const char *s) {
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\'')) fputs("\\&", fp);
        bol = *s == '\n';
        if (*s == '\\')
            fputs("\\e", fp);
        else if (*s == '-')
            fputs("\\-", fp);
        else if (*s == ',' && s[1] != ' ' && s[1] != '\0')
            fputs(",\\:", fp); /* a long comma-separated list may break after a comma */
        else
            fputc(*s, fp);
    }
}

/* A paragraph of about text: "\n\n" starts a new one. */
static void roff_paragraphs(FILE *fp, const char *text) {
    const char *p = text;
    while (*p) {
        const char *e = strstr(p, "\n\n");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", (int)n, p);
        fputs(".PP\n", fp);
        roff(fp, buf);
        fputc('\n', fp);
        p += n;
        while (*p == '\n') p++;
    }
}

void cli_print_man(FILE *fp) {
    fprintf(fp, ".\\\" assay(1), generated by 'assay help --man' from the option tables.\n");
    fprintf(fp, ".TH ASSAY 1 \"\" \"assay %s\" \"User Commands\"\n", assay_version());
    fputs(".ad l\n" /* ragged right: lists of names and long option names cannot be justified */
          ".SH NAME\nassay \\- training-data poisoning detector and pre-training data gate\n"
          ".SH SYNOPSIS\n.nf\n",
          fp);
    for (size_t i = 0; i < N_CMDS; i++) {
        fputs("\\fBassay\\fR ", fp);
        roff(fp, k_cmds[i].usage);
        fputc('\n', fp);
    }
    fputs(".fi\n.SH DESCRIPTION\n", fp);
    roff_paragraphs(fp, k_summary);
    fputs(".SH COMMANDS\n", fp);
    for (size_t i = 0; i < N_CMDS; i++) {
        const cmd_doc *c = &k_cmds[i];
        fputs(".SS \"", fp);
        roff(fp, c->usage);
        fputs("\"\n", fp);
        roff_paragraphs(fp, c->about);
        for (int sec = 0; c->bit != 0 && sec < CLI_SEC_COUNT; sec++) {
            int any = 0;
            size_t at = 0;
            for (const cli_option *o; (o = next_option(c, sec, &at)) != NULL;) {
                if (!any) {
                    fputs(".PP\n\\fI", fp);
                    roff(fp, section_title((cli_section)sec, c->cmd));
                    fputs("\\fR\n", fp);
                    any = 1;
                }
                char flag[96], help[1024];
                flag_text(o, flag, sizeof flag);
                help_text(o, help, sizeof help);
                fputs(".TP\n\\fB", fp);
                roff(fp, flag);
                fputs("\\fR\n", fp);
                roff(fp, help);
                fputc('\n', fp);
            }
        }
        fputs(".PP\nExit codes: ", fp);
        roff(fp, c->exit);
        fputc('\n', fp);
    }
    fputs(".SH DETECTORS\n", fp);
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        fputs(".TP\n\\fB", fp);
        roff(fp, assay_detector_name((assay_detector)d));
        fputs("\\fR\n", fp);
        roff(fp, assay_detector_about((assay_detector)d));
        fputc('\n', fp);
    }
    fputs(".SH ENVIRONMENT\nEvery option below is also a variable; a flag overrides its "
          "variable, and the variable overrides the policy file.\n",
          fp);
    for (size_t i = 0; i < cli_option_count(); i++) {
        const cli_option *o = cli_option_at(i);
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++) {
            const char *e = cli_option_at(j)->env;
            dup = e != NULL && o->env != NULL && strcmp(e, o->env) == 0;
        }
        if (o->env == NULL || dup) continue;
        fprintf(fp, ".TP\n\\fB%s\\fR\n", o->env);
        fputs("as \\fB\\-\\-", fp);
        roff(fp, o->name);
        fputs("\\fR\n", fp);
    }
    fputs(".TP\n\\fBASSAY_ISA\\fR\nlowers the instruction set of the kernels (scalar, avx2, "
          "avx512, neon, sve; 'assay info' shows the choice)\n"
          ".TP\n\\fBNO_COLOR\\fR\nno colour in the summary (colour only on a terminal)\n"
          ".SH EXIT STATUS\n",
          fp);
    for (size_t i = 0; i < sizeof k_exit_codes / sizeof k_exit_codes[0]; i++) {
        fprintf(fp, ".TP\n%s\n", k_exit_codes[i][0]);
        roff(fp, k_exit_codes[i][1]);
        fputc('\n', fp);
    }
    fputs(".SH FILES\nA scan writes into its report folder: ", fp);
    roff(fp, k_files);
    fputs(".\n.SH SEE ALSO\nREADME.md and docs/ of the assay source tree (docs/cli.md is this "
          "page in Markdown).\n",
          fp);
}

/* ---- docs/cli.md ---- */

/* Markdown table cell text: pipes escaped. */
static void md_cell(FILE *fp, const char *s) {
    for (; s && *s; s++) {
        if (*s == '|') fputc('\\', fp);
        fputc(*s, fp);
    }
}

void cli_print_markdown(FILE *fp) {
    fputs("# Command-line reference\n\n"
          "<!-- Generated by `assay help --markdown` from the option tables; do not edit: the "
          "test `cli_reference_current` fails when this file and the tool disagree. -->\n\n",
          fp);
    fputs(k_summary, fp);
    fputs("\n\nThe same text is `assay --help`, `assay COMMAND --help` and the man page "
          "`man assay`. Defaults are the library's own.\n\n",
          fp);
    for (size_t i = 0; i < N_CMDS; i++) {
        const cmd_doc *c = &k_cmds[i];
        fprintf(fp, "## assay %s\n\n```\nassay %s\n```\n\n", c->name, c->usage);
        for (const char *p = c->about; *p; p++) fputc(*p, fp);
        fputs("\n\n", fp);
        for (int sec = 0; c->bit != 0 && sec < CLI_SEC_COUNT; sec++) {
            int any = 0;
            size_t at = 0;
            for (const cli_option *o; (o = next_option(c, sec, &at)) != NULL;) {
                if (!any) {
                    fprintf(fp,
                            "**%s**\n\n| option | default | variable | what it does |\n"
                            "|---|---|---|---|\n",
                            section_title((cli_section)sec, c->cmd));
                    any = 1;
                }
                char flag[96];
                flag_text(o, flag, sizeof flag);
                fputs("| `", fp);
                md_cell(fp, flag);
                fputs("` | ", fp);
                md_cell(fp, o->def ? o->def : "");
                fputs(" | ", fp);
                if (o->env) fprintf(fp, "`%s`", o->env);
                fputs(" | ", fp);
                md_cell(fp, o->help);
                fputs(" |\n", fp);
            }
            if (any) fputc('\n', fp);
        }
        fprintf(fp, "Exit codes: %s\n\n", c->exit);
    }
    fputs("## Detectors\n\n| detector | what it finds |\n|---|---|\n", fp);
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        fprintf(fp, "| `%s` | %s |\n", assay_detector_name((assay_detector)d),
                assay_detector_about((assay_detector)d));
    fputs("\n## Exit codes\n\n| code | meaning |\n|---|---|\n", fp);
    for (size_t i = 0; i < sizeof k_exit_codes / sizeof k_exit_codes[0]; i++)
        fprintf(fp, "| %s | %s |\n", k_exit_codes[i][0], k_exit_codes[i][1]);
}

/* ---- bash completion ---- */

/* What an option's value can be: a list of words (space-separated), or a compgen action for
 * files (-f) or folders (-d); both empty when it is typed (a number, a name). */
static void value_words(const cli_option *o, char *words, size_t len, const char **action) {
    words[0] = '\0';
    *action = "";
    const char *a = o->arg;
    if (a == NULL) return;
    size_t u = 0;
    if (strcmp(a, "SEVERITY") == 0 || strstr(a, "=SEVERITY") != NULL) {
        snprintf(words, len, "low medium high critical none");
    } else if (strncmp(a, "DET", 3) == 0) { /* DET,... or DET=X,...: detector names */
        for (int d = 0; d < ASSAY_DET_COUNT && u < len; d++)
            u += (size_t)snprintf(words + u, len - u, "%s%s%s", d ? " " : "",
                                  assay_detector_name((assay_detector)d), a[3] == '=' ? "=" : "");
    } else if (strncmp(a, "KIND", 4) == 0 && o->def != NULL) { /* the default lists them all */
        for (const char *p = o->def; *p && u + 1 < len; p++) words[u++] = *p == ',' ? ' ' : *p;
        words[u] = '\0';
    } else if (strchr(a, '|') != NULL && strchr(a, ' ') == NULL) { /* cosine|l2 */
        for (const char *p = a; *p && u + 1 < len; p++) words[u++] = *p == '|' ? ' ' : *p;
        words[u] = '\0';
    } else if (strcmp(a, "DIR") == 0) {
        *action = "-d";
    } else if (strstr(a, "FILE") != NULL || strstr(a, ".json") != NULL) {
        *action = "-f";
    }
}

void cli_print_bash_completion(FILE *fp) {
    fputs("# bash completion for assay, generated by 'assay completion bash' from the option\n"
          "# tables. Install as share/bash-completion/completions/assay, or source it.\n"
          "_assay() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    local cmd=${COMP_WORDS[1]} opts='' words='' action=''\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "        COMPREPLY=($(compgen -W 'scan knn merge report diff policy info help completion "
          "--help --version' -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    case $cmd in\n",
          fp);
    for (size_t i = 0; i < N_CMDS; i++) {
        const cmd_doc *c = &k_cmds[i];
        if (c->bit == 0) continue;
        fprintf(fp, "    %s)\n        opts='", c->name);
        int first = 1;
        for (size_t j = 0; j < cli_option_count(); j++) {
            const cli_option *o = cli_option_at(j);
            if (!(o->commands & c->bit)) continue;
            fprintf(fp, "%s--%s", first ? "" : " ", o->name);
            first = 0;
        }
        fputs("'\n        case $prev in\n", fp);
        for (size_t j = 0; j < cli_option_count(); j++) {
            const cli_option *o = cli_option_at(j);
            if (!(o->commands & c->bit) || o->has_arg != required_argument) continue;
            char words[1024];
            const char *action;
            value_words(o, words, sizeof words, &action);
            fprintf(fp, "        --%s", o->name);
            if (o->short_name) fprintf(fp, "|-%c", o->short_name);
            if (words[0])
                fprintf(fp, ") words='%s' ;;\n", words);
            else if (action[0])
                fprintf(fp, ") action=%s ;;\n", action);
            else /* a value to type (a number, a name): nothing to offer */
                fputs(") return ;;\n", fp);
        }
        fputs("        esac\n        ;;\n", fp);
    }
    fputs("    esac\n"
          "    if [ \"$cmd\" = report ] && [ \"$COMP_CWORD\" -eq 2 ]; then\n"
          "        COMPREPLY=($(compgen -W 'render' -- \"$cur\")); return\n"
          "    fi\n"
          "    if [ \"$cmd\" = policy ] && [ \"$COMP_CWORD\" -eq 2 ]; then\n"
          "        COMPREPLY=($(compgen -W 'show' -- \"$cur\")); return\n"
          "    fi\n"
          "    if [ \"$cmd\" = help ] || [ \"$cmd\" = completion ]; then\n"
          "        COMPREPLY=($(compgen -W 'scan knn merge report diff policy info bash --man "
          "--markdown' -- \"$cur\")); return\n"
          "    fi\n"
          "    if [ -n \"$words\" ]; then # a value, or the last of a comma-separated list\n"
          "        local last=${cur##*,}\n"
          "        local head=${cur%\"$last\"}\n"
          "        COMPREPLY=($(compgen -W \"$words\" -- \"$last\"))\n"
          "        COMPREPLY=(\"${COMPREPLY[@]/#/$head}\")\n"
          "        return\n"
          "    fi\n"
          "    if [ -n \"$action\" ]; then\n"
          "        COMPREPLY=($(compgen \"$action\" -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    if [ \"${cur#-}\" != \"$cur\" ]; then\n"
          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "    else\n"
          "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
          "    fi\n"
          "}\n"
          "complete -o filenames -F _assay assay\n",
          fp);
}

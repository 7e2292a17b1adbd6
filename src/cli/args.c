/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line parsing into a plain options struct (no side effects, so it can be tested) and
 * the help texts, which carry the exit-code table. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* The getopt table of scan, knn or policy show (their own and the policy's options). */
#define MAX_OPTIONS 160

static unsigned command_bit(cli_command cmd) {
    switch (cmd) {
    case CMD_SCAN:
        return CLI_FOR_SCAN;
    case CMD_KNN:
        return CLI_FOR_KNN;
    case CMD_RENDER:
        return CLI_FOR_RENDER;
    case CMD_DIFF:
        return CLI_FOR_DIFF;
    case CMD_MERGE:
        return CLI_FOR_MERGE;
    default:
        return CLI_FOR_POLICY;
    }
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Names other tools use for an option, offered as candidates so that they and their typos find
 * it too ("--ouput" is one edit from --output, two from --out: too far to guess on its own). */
static const struct { const char *alias, *name; } k_aliases[] = {{"output", "out"}};

/* The option of `bit`'s command nearest to the mistyped argument ("--ouput=x"), or NULL. */
static const char *suggest_option(const char *arg, unsigned bit) {
    if (strncmp(arg, "--", 2) != 0) return NULL; /* single letters are too short to guess */
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
    const char *names[MAX_OPTIONS + sizeof k_aliases / sizeof k_aliases[0]];
    size_t n = 0;
    for (size_t i = 0; i < cli_option_count() && n < MAX_OPTIONS; i++)
        if (cli_option_at(i)->commands & bit) names[n++] = cli_option_at(i)->name;
    size_t first_alias = n;
    for (size_t i = 0; i < sizeof k_aliases / sizeof k_aliases[0]; i++)
        if (cli_option_by_name(bit, k_aliases[i].name)) names[n++] = k_aliases[i].alias;
    const char *best = assay_suggest(word, names, n);
    for (size_t i = first_alias; best != NULL && i < n; i++)
        if (best == names[i])
            for (size_t a = 0; a < sizeof k_aliases / sizeof k_aliases[0]; a++)
                if (strcmp(best, k_aliases[a].alias) == 0) return k_aliases[a].name;
    return best;
}

/* "unknown option '--ouput' (did you mean '--out'?)", else the hint `see` when not NULL. */
static int unknown_option(char *err, size_t len, const char *arg, unsigned bit, const char *see) {
    const char *best = suggest_option(arg, bit);
    if (best != NULL)
        snprintf(err, len, "unknown option '%s' (did you mean '--%s'?)", arg, best);
    else if (see != NULL)
        snprintf(err, len, "unknown option '%s' (see '%s')", arg, see);
    else
        snprintf(err, len, "unknown option '%s'", arg);
    return CLI_EXIT_USAGE;
}

/* " (did you mean 'scan'?)" for a mistyped command, else "". */
static const char *command_hint(const char *word, char *buf, size_t len) {
    static const char *const commands[] = {"scan",   "knn",  "merge", "report",  "diff",
                                           "policy", "info", "help",  "version", "completion"};
    const char *best = assay_suggest(word, commands, sizeof commands / sizeof commands[0]);
    if (best == NULL) return "";
    snprintf(buf, len, " (did you mean '%s'?)", best);
    return buf;
}

static int usage_error(char *err, size_t len, const char *what, const char *value) {
    snprintf(err, len, "%s: '%s'", what, value);
    return CLI_EXIT_USAGE;
}

/* Keeps a policy option's value for cli_resolve_policy (switches get "true"). */
static int add_policy_arg(cli_opts *o, const char *name, const char *value, char *err, size_t len) {
    if (o->n_policy_args == CLI_MAX_POLICY_ARGS) {
        snprintf(err, len, "more than %d policy options", CLI_MAX_POLICY_ARGS);
        return CLI_EXIT_USAGE;
    }
    o->policy_args[o->n_policy_args].name = name;
    o->policy_args[o->n_policy_args++].value = value ? value : "true";
    return 0;
}

/* Keeps the concatenation a b c d in o->env_text; NULL when it is full. */
static const char *env_keep(cli_opts *o, const char *a, const char *b, const char *c,
                            const char *d) {
    size_t room = sizeof o->env_text - o->env_used;
    int n = snprintf(o->env_text + o->env_used, room, "%s%s%s%s", a, b, c, d);
    if (n < 0 || (size_t)n >= room) return NULL;
    const char *kept = o->env_text + o->env_used;
    o->env_used += (size_t)n + 1;
    return kept;
}

/* A switch's variable: 1 on, 0 off, -1 neither. */
static int env_switch(const char *v) {
    static const char *const on[] = {"1", "true", "yes", "on"}, *const off[] = {"0", "false", "no",
                                                                                "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, on[i]) == 0) return 1;
        if (strcasecmp(v, off[i]) == 0) return 0;
    }
    return -1;
}

/* The options of scan and knn that are not policy keys, given as their ASSAY_* variables (the
 * option table's: ASSAY_OUT, ASSAY_THREADS, ASSAY_BASELINE, ASSAY_JSON_SUMMARY...), turned into
 * "--name=value" arguments in args[] that go before the command line's own, so a flag overrides
 * its variable (the last value wins). Policy keys resolve their own variables key by key
 * (cli_resolve_policy); an empty variable is unset. knn takes only the variables of its own
 * options (not ASSAY_OUT: its --out names a file, not a folder). */
static int env_options(cli_opts *o, char **args, int *n_args, char *err, size_t len) {
    const unsigned bit = command_bit(o->cmd);
    for (size_t i = 0; i < cli_option_count(); i++) {
        const cli_option *opt = cli_option_at(i);
        if (!(opt->commands & bit) || opt->env == NULL || opt->id >= OPT_RENDER_FORMAT_BASE)
            continue;
        const char *name = opt->env;
        const char *v = getenv(name);
        if (v == NULL || v[0] == '\0') continue;
        int sw = opt->has_arg == required_argument ? -1 : env_switch(v);
        if (opt->has_arg == no_argument && sw < 0) {
            snprintf(err, len, "%s expects true or false (1/0, yes/no, on/off), got '%s'", name, v);
            return CLI_EXIT_USAGE;
        }
        if (sw == 0) continue;
        const char *arg =
            sw == 1 ? env_keep(o, "--", opt->name, "", "") : env_keep(o, "--", opt->name, "=", v);
        const char *shown = env_keep(o, name, "=", v, "");
        if (arg == NULL || shown == NULL || o->n_env_args == CLI_MAX_ENV_ARGS) {
            snprintf(err, len, "too many or too long ASSAY_* variables (at %s)", name);
            return CLI_EXIT_USAGE;
        }
        args[(*n_args)++] = (char *)arg; /* getopt takes char *, never writes */
        o->env_args[o->n_env_args++] = shown;
    }
    return 0;
}

static int parse_scan_args(int argc, char **argv, cli_opts *o, char *err, size_t len);

/* scan and knn: the ASSAY_* variables of their options first, then the command line. */
static int parse_scan(int argc, char **argv, cli_opts *o, char *err, size_t len) {
    if (o->cmd != CMD_SCAN && o->cmd != CMD_KNN && o->cmd != CMD_MERGE)
        return parse_scan_args(argc, argv, o, err, len);
    char **args = malloc(((size_t)argc + CLI_MAX_ENV_ARGS + 1) * sizeof *args);
    if (args == NULL) {
        snprintf(err, len, "out of memory");
        return CLI_EXIT_USAGE;
    }
    int n = 0;
    args[n++] = argv[0];
    int rc = env_options(o, args, &n, err, len);
    if (rc == 0) {
        for (int i = 1; i <= argc; i++) args[n++] = argv[i]; /* with the final NULL */
        rc = parse_scan_args(n - 1, args, o, err, len);
        if (rc != 0 && o->n_env_args > 0) {
            size_t used = strlen(err);
            snprintf(err + used, len - used, " (set by ASSAY_* variables:");
            for (size_t i = 0; i < o->n_env_args; i++) {
                used = strlen(err);
                snprintf(err + used, len - used, " %s", o->env_args[i]);
            }
            used = strlen(err);
            snprintf(err + used, len - used, ")");
        }
    }
    free(args);
    return rc;
}

/* "I/N" with 0 <= I < N <= 2^31 - 1 (--shard). */
static int parse_shard(const char *s, size_t *index, size_t *count) {
    const char *slash = strchr(s, '/');
    long i, n;
    char first[32];
    if (slash == NULL || (size_t)(slash - s) >= sizeof first) return -1;
    memcpy(first, s, (size_t)(slash - s));
    first[slash - s] = '\0';
    if (parse_long(first, 0, INT32_MAX, &i) != 0 || parse_long(slash + 1, 1, INT32_MAX, &n) != 0 ||
        i >= n)
        return -1;
    *index = (size_t)i;
    *count = (size_t)n;
    return 0;
}

/* scan, knn and merge share the options (knn and merge take subsets) and the INPUT argument. */
static int parse_scan_args(int argc, char **argv, cli_opts *o, char *err, size_t len) {
    const int knn = o->cmd == CMD_KNN, merge = o->cmd == CMD_MERGE;
    const unsigned bit = command_bit(o->cmd);
    long l;
    int c, idx = -1;
    /* scan's, knn's and policy show's options are parsed together, so that one a command does
     * not take is named as such rather than unknown */
    struct option options[MAX_OPTIONS];
    char shorts[32];
    const unsigned all = CLI_FOR_SCAN | CLI_FOR_KNN | CLI_FOR_POLICY | CLI_FOR_MERGE;
    cli_getopt_table(all, options, MAX_OPTIONS, shorts, sizeof shorts);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, shorts, options, &idx)) != -1) {
        c = cli_option_id(all, c);
        if (c != ':' && c != '?' && cli_option_by_id(bit, c) == NULL) {
            if (knn)
                snprintf(err, len, "option '--%s' is for scan, not knn",
                         cli_option_by_id(CLI_FOR_SCAN, c)->name);
            else if (merge)
                snprintf(err, len,
                         "option '--%s' is for scan, not merge (merge reads the neighbour lists "
                         "of the shards)",
                         cli_option_by_id(CLI_FOR_SCAN, c)->name);
            else
                snprintf(err, len, "option '%s' is not a policy option ('assay policy --help')",
                         argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
        idx = -1;
        switch (c) {
        case 'o':
            if (knn)
                o->out_file = optarg;
            else
                o->out_dir = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            o->help = 1;
            break;
        case OPT_JSON_SUMMARY:
            if (optarg != NULL && optarg[0] == '\0')
                return usage_error(err, len, "--json-summary=FILE expects a file", optarg);
            o->json_summary = 1;
            o->json_summary_file = optarg;
            break;
        case OPT_PROGRESS:
            o->progress = 1;
            break;
        case OPT_NO_SANDBOX:
            o->no_sandbox = 1;
            break;
        case OPT_PRECISION:
            if (assay_precision_parse(optarg, &o->precision) != ASSAY_OK)
                return usage_error(err, len, "--precision expects auto, fp32, bf16 or int8",
                                   optarg);
            break;
        case OPT_MEMORY_LIMIT: {
            uint64_t v = 0;
            if (assay_size_parse(optarg, &v) != ASSAY_OK || v < ASSAY_MEMORY_LIMIT_MIN)
                return usage_error(err, len,
                                   "--memory-limit expects a size of at least 64M (512M, 2G, "
                                   "1.5GiB)",
                                   optarg);
            o->memory_limit = v;
            break;
        }
        case OPT_GRAPH_METHOD:
            if (assay_graph_method_parse(optarg, &o->scan.graph_method) != ASSAY_OK)
                return usage_error(err, len, "--graph-method expects exact or approx", optarg);
            break;
        case OPT_SHARD:
            if (parse_shard(optarg, &o->shard_index, &o->shard_count) != 0)
                return usage_error(err, len,
                                   "--shard expects I/N, shard I of N with 0 <= I < N (--shard "
                                   "0/4 is the first of four)",
                                   optarg);
            break;
        case OPT_APPROX_RECALL: {
            char *end = NULL;
            double r = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(r > 0.0 && r <= 1.0))
                return usage_error(err, len, "--approx-recall expects a number in (0, 1]", optarg);
            o->scan.approx_recall = r;
            break;
        }
        case OPT_THREADS:
            /* 0 is the library's "all online CPUs" (assay_ctx_opts.n_threads), the default */
            if (parse_long(optarg, 0, 1024, &l) != 0)
                return usage_error(
                    err, len, "--threads expects an integer from 0 (all CPUs) to 1024", optarg);
            o->threads = (int)l;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "auto") == 0)
                o->load.format = ASSAY_FORMAT_AUTO;
            else if (strcmp(optarg, "hdf5") == 0 || strcmp(optarg, "h5") == 0)
                o->load.format = ASSAY_FORMAT_HDF5;
            else if (strcmp(optarg, "csv") == 0)
                o->load.format = ASSAY_FORMAT_CSV;
            else if (strcmp(optarg, "npy") == 0)
                o->load.format = ASSAY_FORMAT_NPY;
            else
                return usage_error(err, len, "--format expects auto, hdf5, csv or npy", optarg);
            break;
        case OPT_EMBEDDINGS:
            o->load.h5_embeddings = optarg;
            break;
        case OPT_LABELS:
            o->load.h5_labels = optarg;
            break;
        case OPT_IDS:
            o->load.h5_ids = optarg;
            break;
        case OPT_PRED_PROBS:
            o->load.h5_pred_probs = optarg;
            break;
        case OPT_LABEL_COLUMN:
            o->load.label_column = optarg;
            break;
        case OPT_ID_COLUMN:
            o->load.id_column = optarg;
            break;
        case OPT_FEATURE_COLUMNS:
            o->load.feature_columns = optarg;
            break;
        case OPT_LABELS_FILE:
            o->load.labels_file = optarg;
            break;
        case OPT_IDS_FILE:
            o->load.ids_file = optarg;
            break;
        case OPT_PRED_PROBS_FILE:
            o->load.pred_probs_file = optarg;
            break;
        case OPT_CLASSES:
            o->load.classes = optarg;
            break;
        case OPT_TRUTH:
            o->truth = optarg;
            break;
        case OPT_SOURCE:
            o->source = optarg;
            break;
        case OPT_GRAPH:
            if (optarg[0] == '\0') return usage_error(err, len, "--graph expects a file", optarg);
            o->scan.graph_path = optarg;
            break;
        case OPT_BASELINE:
            if (optarg[0] == '\0')
                return usage_error(err, len, "--baseline expects a manifest.json", optarg);
            o->scan.baseline_path = optarg;
            break;
        case OPT_TRUSTED_IDS:
            if (optarg[0] == '\0')
                return usage_error(err, len, "--trusted-ids expects a file", optarg);
            o->scan.trusted_ids_path = optarg;
            break;
        case OPT_TRUSTED_DATA:
            if (optarg[0] == '\0')
                return usage_error(err, len, "--trusted-data expects a file", optarg);
            o->trusted_data = optarg;
            break;
        case OPT_TRUSTED_LABELS:
            if (optarg[0] == '\0')
                return usage_error(err, len, "--trusted-labels expects a file", optarg);
            o->trusted_labels = optarg;
            break;
        case ':':
            snprintf(err, len, "option '%s' needs a value", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        default:
            if (c >= OPT_POLICY_BASE &&
                (size_t)(c - OPT_POLICY_BASE) < assay_policy_option_count()) {
                const char *name = assay_policy_option_at((size_t)(c - OPT_POLICY_BASE))->name;
                if (add_policy_arg(o, name, optarg, err, len) != 0) return CLI_EXIT_USAGE;
                break;
            }
            return unknown_option(err, len, argv[optind - 1], bit, NULL);
        }
    }
    if (o->help) return 0;
    if (o->cmd == CMD_POLICY) { /* policy show: options only */
        if (optind < argc) {
            snprintf(err, len, "unexpected argument '%s' ('assay policy show' takes options only)",
                     argv[optind]);
            return CLI_EXIT_USAGE;
        }
        return 0;
    }
    if (optind >= argc) {
        snprintf(err, len, "%s needs an INPUT file", knn ? "knn" : merge ? "merge" : "scan");
        return CLI_EXIT_USAGE;
    }
    if (merge) { /* merge INPUT PART... */
        if (optind + 1 >= argc) {
            snprintf(err, len,
                     "merge needs the shard files (or their folder) after INPUT: assay merge "
                     "INPUT PART...");
            return CLI_EXIT_USAGE;
        }
        /* argv is parse_scan's array, freed when it returns: keep the pointers (the strings are
         * the process's arguments) in an array of the process's lifetime */
        static char **kept;
        free(kept);
        kept = malloc((size_t)(argc - optind - 1) * sizeof *kept);
        if (kept == NULL) {
            snprintf(err, len, "out of memory");
            return CLI_EXIT_USAGE;
        }
        memcpy(kept, argv + optind + 1, (size_t)(argc - optind - 1) * sizeof *kept);
        o->merge_parts = kept;
        o->n_merge_parts = (size_t)(argc - optind - 1);
    } else if (optind + 1 < argc) {
        snprintf(err, len, "unexpected argument '%s' (one INPUT file per %s)", argv[optind + 1],
                 knn ? "graph" : "scan");
        return CLI_EXIT_USAGE;
    }
    if (knn && (o->out_file == NULL || o->out_file[0] == '\0')) {
        snprintf(err, len, "knn needs --out FILE (the graph file to write)");
        return CLI_EXIT_USAGE;
    }
    /* Standard input is read once, and only as the dataset (docs/limits.md). */
    if (o->trusted_data != NULL && strcmp(o->trusted_data, "-") == 0) {
        snprintf(err, len,
                 "--trusted-data cannot be '-': only the INPUT is read from standard "
                 "input (write ./- for a file named '-')");
        return CLI_EXIT_USAGE;
    }
    o->input = argv[optind];
    return 0;
}

/* The options of render and diff that mean the same in both (-o/--out DIR, -q, -h) and a
 * missing value: 0 when c was handled, CLI_EXIT_USAGE on an error, -1 when c is another option. */
static int common_option(int c, char **argv, cli_opts *o, char *err, size_t len) {
    switch (c) {
    case 'o':
        if (optarg[0] == '\0') return usage_error(err, len, "--out expects a folder", optarg);
        o->out_dir = optarg;
        return 0;
    case 'q':
        o->quiet = 1;
        return 0;
    case 'h':
        o->help = 1;
        return 0;
    case ':':
        snprintf(err, len, "option '%s' needs a value", argv[optind - 1]);
        return CLI_EXIT_USAGE;
    default:
        return -1;
    }
}

/* report render REPORT.json: one flag per format of the renderer table, so a format added to
 * the table is a flag here without touching the CLI. */
static int parse_render(int argc, char **argv, cli_opts *o, char *err, size_t len) {
    struct option options[MAX_OPTIONS];
    char shorts[32];
    cli_getopt_table(CLI_FOR_RENDER, options, MAX_OPTIONS, shorts, sizeof shorts);
    o->out_dir = NULL; /* default: the folder of REPORT.json */
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, shorts, options, NULL)) != -1) {
        int rc = common_option(c, argv, o, err, len);
        if (rc >= 0) {
            if (rc != 0) return rc;
            continue;
        }
        if (c == OPT_PROGRESS) {
            o->progress = 1;
            continue;
        }
        const char *name = NULL;
        if (c >= OPT_RENDER_FORMAT_BASE &&
            assay_report_format_at((size_t)(c - OPT_RENDER_FORMAT_BASE), &name, NULL)) {
            size_t i = 0;
            while (i < o->n_render_formats && strcmp(o->render_formats[i], name) != 0) i++;
            if (i == o->n_render_formats) o->render_formats[o->n_render_formats++] = name;
            continue;
        }
        return unknown_option(err, len, argv[optind - 1], CLI_FOR_RENDER,
                              "assay report render --help");
    }
    if (o->help) return 0;
    if (optind >= argc) {
        snprintf(err, len, "report render needs a REPORT.json file");
        return CLI_EXIT_USAGE;
    }
    if (optind + 1 < argc) {
        snprintf(err, len, "unexpected argument '%s' (one REPORT.json per render)",
                 argv[optind + 1]);
        return CLI_EXIT_USAGE;
    }
    o->report = argv[optind];
    return 0;
}

/* diff OLD NEW [--out DIR] [--json-summary] [--quiet] */
static int parse_diff(int argc, char **argv, cli_opts *o, char *err, size_t len) {
    struct option options[MAX_OPTIONS];
    char shorts[32];
    cli_getopt_table(CLI_FOR_DIFF, options, MAX_OPTIONS, shorts, sizeof shorts);
    o->out_dir = NULL; /* default: no diff.json */
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, shorts, options, NULL)) != -1) {
        int rc = common_option(c, argv, o, err, len);
        if (rc >= 0) {
            if (rc != 0) return rc;
            continue;
        }
        if (c == OPT_JSON_SUMMARY) {
            o->json_summary = 1;
            continue;
        }
        return unknown_option(err, len, argv[optind - 1], CLI_FOR_DIFF, "assay diff --help");
    }
    if (o->help) return 0;
    if (argc - optind != 2) {
        snprintf(err, len,
                 "diff needs two manifests, OLD/manifest.json NEW/manifest.json (got %d "
                 "argument%s)",
                 argc - optind, argc - optind == 1 ? "" : "s");
        return CLI_EXIT_USAGE;
    }
    o->diff_old = argv[optind];
    o->diff_new = argv[optind + 1];
    return 0;
}

int cli_parse(int argc, char **argv, cli_opts *o, char *err, size_t err_len) {
    const assay_load_opts load = ASSAY_LOAD_OPTS_INIT;
    const assay_scan_opts scan = ASSAY_SCAN_OPTS_INIT;
    memset(o, 0, sizeof *o);
    o->load = load;
    o->scan = scan;
    o->out_dir = CLI_DEFAULT_OUT;
    err[0] = '\0';
    if (argc < 2) {
        snprintf(err, err_len, "no command given");
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        o->cmd = CMD_HELP;
        o->help_cmd = CMD_HELP;
        return 0;
    }
    if (strcmp(cmd, "help") == 0) { /* help [COMMAND | --man | --markdown] */
        static const struct {
            const char *name;
            cli_command cmd;
        } topics[] = {{"scan", CMD_SCAN},     {"knn", CMD_KNN},   {"merge", CMD_MERGE},
                      {"report", CMD_RENDER}, {"diff", CMD_DIFF}, {"policy", CMD_POLICY},
                      {"info", CMD_INFO},     {"help", CMD_HELP}, {"completion", CMD_COMPLETION}};
        o->cmd = CMD_HELP;
        o->help_cmd = CMD_HELP;
        if (argc > 3) {
            snprintf(err, err_len, "help takes one topic at most, got '%s'", argv[3]);
            return CLI_EXIT_USAGE;
        }
        if (argc < 3) return 0;
        if (strcmp(argv[2], "--man") == 0 || strcmp(argv[2], "--markdown") == 0) {
            o->help_format =
                argv[2][2] == 'm' && argv[2][3] == 'a' && argv[2][4] == 'n' ? 'm' : 'd';
            return 0;
        }
        for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
            if (strcmp(argv[2], topics[i].name) == 0) {
                o->help_cmd = topics[i].cmd;
                return 0;
            }
        char hint[64];
        const char *h = command_hint(argv[2], hint, sizeof hint);
        snprintf(err, err_len,
                 "no help on '%s'%s (commands: scan, knn, merge, report, diff, policy, info)",
                 argv[2], h);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(cmd, "completion") == 0) {
        o->cmd = CMD_COMPLETION;
        if (argc != 3 || strcmp(argv[2], "bash") != 0) {
            snprintf(err, err_len, "completion expects 'bash' (assay completion bash)");
            return CLI_EXIT_USAGE;
        }
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        o->cmd = CMD_VERSION;
        return 0;
    }
    if (strcmp(cmd, "info") == 0) {
        o->cmd = CMD_INFO;
        if (argc > 2) {
            snprintf(err, err_len, "info takes no arguments, got '%s'", argv[2]);
            return CLI_EXIT_USAGE;
        }
        return 0;
    }
    if (strcmp(cmd, "scan") == 0 || strcmp(cmd, "knn") == 0 || strcmp(cmd, "merge") == 0) {
        o->cmd = strcmp(cmd, "knn") == 0 ? CMD_KNN : cmd[0] == 'm' ? CMD_MERGE : CMD_SCAN;
        return parse_scan(argc - 1, argv + 1, o, err, err_len);
    }
    if (strcmp(cmd, "policy") == 0) {
        o->cmd = CMD_POLICY;
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            o->help = 1;
            return 0;
        }
        if (argc == 3 && strcmp(argv[2], "schema") == 0) {
            o->policy_schema = 1;
            return 0;
        }
        if (argc < 3 || strcmp(argv[2], "show") != 0) {
            snprintf(err, err_len, "policy expects 'show' or 'schema' ('assay policy --help')");
            return CLI_EXIT_USAGE;
        }
        return parse_scan(argc - 2, argv + 2, o, err, err_len);
    }
    if (strcmp(cmd, "diff") == 0) {
        o->cmd = CMD_DIFF;
        return parse_diff(argc - 1, argv + 1, o, err, err_len);
    }
    if (strcmp(cmd, "report") == 0) {
        o->cmd = CMD_RENDER;
        if (argc < 3 || strcmp(argv[2], "render") != 0) {
            snprintf(err, err_len, "report expects the subcommand 'render', got '%s'",
                     argc < 3 ? "" : argv[2]);
            return CLI_EXIT_USAGE;
        }
        return parse_render(argc - 2, argv + 2, o, err, err_len);
    }
    char hint[64];
    snprintf(err, err_len, "unknown command '%s'%s", cmd, command_hint(cmd, hint, sizeof hint));
    return CLI_EXIT_USAGE;
}

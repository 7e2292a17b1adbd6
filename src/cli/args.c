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

void cli_print_usage(FILE *fp) {
    fputs(
        "usage: assay <command> [options]\n"
        "\n"
        "Training-data poisoning detector: fingerprints a dataset of labelled embeddings, builds\n"
        "its exact k-nearest-neighbour graph, runs label-consistency, backdoor, outlier,\n"
        "duplicate and integrity detectors, gates on the findings under a policy, and writes\n"
        "reports for CI systems and auditors (JSON, SARIF, JUnit, CycloneDX, HTML).\n"
        "\n"
        "commands:\n"
        "  scan INPUT [options]   scan a dataset (HDF5, CSV or .npy); 'assay scan --help'\n"
        "  knn INPUT --out FILE   build the neighbour graph once and save it for\n"
        "                         'assay scan --graph FILE'; 'assay knn --help'\n"
        "  report render REPORT.json [--sarif|--html|...]\n"
        "                         render report formats again from a saved report.json;\n"
        "                         'assay report render --help'\n"
        "  diff OLD/manifest.json NEW/manifest.json [--out DIR]\n"
        "                         what changed between two scans, without rescanning;\n"
        "                         'assay diff --help'\n"
        "  policy show [options]  print the effective gate policy (--policy FILE, ASSAY_*\n"
        "                         variables, flags) as JSON; 'assay policy --help'\n"
        "  info                   CPU features, kernels, BLAS library\n"
        "  --version              print the version\n"
        "  --help                 this text\n"
        "\n"
        "exit codes:\n"
        "  0  scan complete, gate passed or warned (or failed, with --exit-zero)\n"
        "  1  scan complete, gate failed (findings at or above --fail-on, or more than\n"
        "     --max-flagged-fraction rows flagged)\n"
        "  2  bad input or usage: the scan did not complete (the message names the file,\n"
        "     dataset/column and row/line)\n"
        "  3  internal or resource error (out of memory, threads, BLAS)\n",
        fp);
}

/* The input options, shared by scan and knn (both load a dataset the same way). */
static const char k_input_help[] =
    "INPUT is an HDF5 file (datasets /embeddings, /labels, optional /ids, /pred_probs), a CSV\n"
    "file with a header row, or a NumPy .npy embeddings array (labels via --labels-file).\n"
    "\n"
    "input:\n"
    "  --format auto|hdf5|csv|npy   input format (default: from the file's magic bytes)\n"
    "  --embeddings PATH            HDF5 dataset of embeddings (default /embeddings)\n"
    "  --labels PATH                HDF5 dataset of labels (default /labels)\n"
    "  --ids PATH                   HDF5 dataset of row ids (default /ids, if present)\n"
    "  --pred-probs PATH            HDF5 dataset of predicted probabilities (default\n"
    "                               /pred_probs, if present)\n"
    "  --label-column NAME          CSV label column (default label)\n"
    "  --id-column NAME             CSV id column (default id, if present)\n"
    "  --feature-columns A,B,...    CSV feature columns (default: all other columns)\n"
    "  --labels-file FILE           labels as .npy or .csv (required for .npy input)\n"
    "  --ids-file FILE              ids as .npy or .csv\n"
    "  --pred-probs-file FILE       predicted probabilities as .npy [N, classes]\n"
    "  --classes A,B,...            declared label set; other labels are integrity findings\n";

void cli_print_knn_help(FILE *fp) {
    fputs("usage: assay knn INPUT --out FILE [options]\n"
          "\n"
          "Builds the exact k-nearest-neighbour graph of a dataset as 'assay scan' does (the same\n"
          "rows left out: non-finite rows, and all-zero rows under cosine) and writes it to an\n"
          "HDF5 file that 'assay scan INPUT --graph FILE' reuses instead of building it again.\n"
          "The dataset is loaded exactly as scan loads it, labels included (they are required):\n"
          "the file records the dataset's SHA-256 digest, over features, labels and ids, and a\n"
          "scan refuses the graph for any other data, k or metric.\n"
          "\n"
          "The file has the ann-benchmarks layout: /neighbors int64 [N, k] and /distances\n"
          "float32 [N, k], nearest first (rows left out: ids -1, distances NaN), attribute\n"
          "'distance' (angular for cosine, euclidean for l2, whose distances are squared), plus\n"
          "assay's attributes (README \"graph.h5\").\n"
          "\n",
          fp);
    fputs(k_input_help, fp);
    fputs("\n"
          "graph:\n"
          "  -k, --k N                    neighbours per row (default 10)\n"
          "  --metric cosine|l2           distance (default cosine)\n"
          "  --threads N                  worker threads (default: all CPUs)\n"
          "\n"
          "output:\n"
          "  -o, --out FILE               the graph file (required); written under a temporary\n"
          "                               name and renamed into place when complete\n"
          "  -q, --quiet                  no progress, nothing on stdout\n"
          "  --progress                   progress lines on stderr even when it is not a\n"
          "                               terminal\n"
          "\n"
          "exit codes: 0 graph written, 2 bad input or usage, 3 internal error.\n",
          fp);
}

void cli_print_scan_help(FILE *fp) {
    fputs("usage: assay scan INPUT [options]\n"
          "\n",
          fp);
    fputs(k_input_help, fp);
    fputs(
        "  --source TEXT                where the data came from (URL), recorded in the manifest\n"
        "\n"
        "scan:\n"
        "  -k, --k N                    neighbours per row (default 10)\n"
        "  --metric cosine|l2           distance (default cosine)\n"
        "  --weighted                   knn-label: weight neighbours by inverse distance\n"
        "  --label-threshold X          knn-label flags rows with score >= X (default 0.9)\n"
        "  --outlier-iqr X              knn-outlier fence Q3 + X*IQR (default 3)\n"
        "  --threads N                  worker threads (default: all CPUs)\n"
        "  --graph FILE                 reuse a neighbour graph written by 'assay knn' instead\n"
        "                               of building one. It must have been built for this\n"
        "                               dataset (same SHA-256 digest) with the same -k (a larger\n"
        "                               k is refused, not truncated) and --metric; it is checked\n"
        "                               and its distances re-measured; a mismatch exits 2\n"
        "\n"
        "  --skip DET,...               detectors not to run (names below)\n"
        "  --baseline OLD/manifest.json compare with an earlier scan's manifest: rows added,\n"
        "                               removed and changed (same id, new row digest: tampering\n"
        "                               findings of high severity), class-distribution shift\n"
        "                               (chi-square) and drift, in report.json \"baseline\"\n"
        "\n"
        "gate (README \"Policy file\"; each option is also an ASSAY_* variable, e.g.\n"
        "ASSAY_FAIL_ON; precedence: flag > variable > policy file > default):\n"
        "  --policy FILE                the YAML policy file (or ASSAY_POLICY)\n"
        "  --fail-on SEVERITY           low|medium|high|critical|none (default high)\n"
        "  --warn-on SEVERITY           findings at or above only warn (default none)\n"
        "  --max-flagged-fraction F     fail when more than F of the rows are flagged\n"
        "                               (default 1: off; allowlisted rows not counted)\n"
        "  --class-budget CLASS=F,...   the same per class (CLASS '*': every other class)\n"
        "  --fail-kinds KIND,...        kinds that can fail the gate; others only warn\n"
        "                               (default all: label, outlier, duplicate, integrity,\n"
        "                               backdoor, distribution, tampering, drift)\n"
        "  --threshold DET=X,...        a detector's findings count from calibrated\n"
        "                               evidence X in [0.5, 1] (0.5: its own flag rule)\n"
        "  --severity DET=SEVERITY,...  severity of a detector's findings\n"
        "  --enabled DET=true|false,... run a detector or not\n"
        "  --allowlist FILE             accepted rows (YAML: id or row-sha256, reason,\n"
        "                               owner, expires); reported, not counted\n"
        "  --exit-zero                  exit 0 even when the gate fails\n"
        "\n"
        "output:\n"
        "  -o, --out DIR                report folder (default ./assay-report)\n"
        "  --truth FILE                 planted ground truth (index,is_poison,attack): adds\n"
        "                               precision/recall/AUROC to the summary and report\n"
        "  -q, --quiet                  no progress, and nothing on stdout but the\n"
        "                               --json-summary line (errors still go to stderr)\n"
        "  --progress                   progress lines on stderr even when it is not a\n"
        "                               terminal (default: a bar on a terminal, else nothing)\n"
        "  --json-summary[=FILE]        end stdout with one JSON line (tool, version, status\n"
        "                               pass|warn|fail|error, exit_code, rows, flagged,\n"
        "                               flagged_fraction, findings_by_severity, dataset_sha256,\n"
        "                               report, out) for Airflow's XCom and other orchestrators;\n"
        "                               also written to FILE when given\n"
        "  NO_COLOR=1                   no colour in the summary (colour only on a terminal)\n"
        "\n"
        "Every option is also an ASSAY_<NAME> variable (upper case, dashes as underscores:\n"
        "ASSAY_OUT, ASSAY_THREADS, ASSAY_JSON_SUMMARY=1, ...); a flag overrides its variable.\n"
        "Files written into --out: report.json, findings.jsonl, report.sarif, junit.xml,\n"
        "bom.cdx.json, report.html, manifest.json, scores.csv, flagged.csv.\n"
        "\n"
        "exit codes: 0 gate passed (or warned), 1 gate failed, 2 bad input, usage or policy,\n"
        "3 internal error.\n",
        fp);
    fputs("\ndetectors:", fp);
    for (int d = 0; d < ASSAY_DET_COUNT; d++)
        fprintf(fp, "%s %s", d ? "," : "", assay_detector_name((assay_detector)d));
    fputs("\n\ndetector and verdict parameters (each recorded in report.json):\n", fp);
    for (size_t i = 0; i < assay_param_count(); i++) {
        const assay_param_info *p = assay_param_info_at(i);
        fprintf(fp, "  --%-26s %s: %s (default %g)\n", p->name, p->detector, p->help, p->def);
    }
}

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
    OPT_JSON_SUMMARY,
    OPT_PROGRESS,
    OPT_POLICY_BASE = 1024 /* + index into the policy option table (assay_policy_option_at) */
};

static const struct option k_scan_options[] = {
    {"out", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"embeddings", required_argument, NULL, OPT_EMBEDDINGS},
    {"labels", required_argument, NULL, OPT_LABELS},
    {"ids", required_argument, NULL, OPT_IDS},
    {"pred-probs", required_argument, NULL, OPT_PRED_PROBS},
    {"label-column", required_argument, NULL, OPT_LABEL_COLUMN},
    {"id-column", required_argument, NULL, OPT_ID_COLUMN},
    {"feature-columns", required_argument, NULL, OPT_FEATURE_COLUMNS},
    {"labels-file", required_argument, NULL, OPT_LABELS_FILE},
    {"ids-file", required_argument, NULL, OPT_IDS_FILE},
    {"pred-probs-file", required_argument, NULL, OPT_PRED_PROBS_FILE},
    {"classes", required_argument, NULL, OPT_CLASSES},
    {"truth", required_argument, NULL, OPT_TRUTH},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"graph", required_argument, NULL, OPT_GRAPH},
    {"baseline", required_argument, NULL, OPT_BASELINE},
    {"json-summary", optional_argument, NULL, OPT_JSON_SUMMARY},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {NULL, 0, NULL, 0}};

#define N_FIXED_OPTIONS (sizeof k_scan_options / sizeof k_scan_options[0] - 1)
#define MAX_PARAMS      64

/* The fixed options followed by the policy's options (--k, --fail-on, --threshold, one --<name>
 * per detector parameter, ...: the library's table, so a new policy key is a flag and an ASSAY_*
 * variable without touching the CLI). Their values are collected here and applied over the
 * policy file and the environment by cli_resolve_policy. */
static const struct option *scan_options(struct option *buf) {
    size_t n = 0;
    for (; n < N_FIXED_OPTIONS; n++) buf[n] = k_scan_options[n];
    for (size_t i = 0; i < assay_policy_option_count() && i < MAX_PARAMS; i++) {
        const assay_policy_option *p = assay_policy_option_at(i);
        buf[n++] = (struct option){p->name, p->takes_value ? required_argument : no_argument, NULL,
                                   OPT_POLICY_BASE + (int)i};
    }
    buf[n] = (struct option){NULL, 0, NULL, 0};
    return buf;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int usage_error(char *err, size_t len, const char *what, const char *value) {
    snprintf(err, len, "%s: '%s'", what, value);
    return CLI_EXIT_USAGE;
}

/* Options of scan that knn does not take (it builds the graph and stops). */
static int scan_only(int c) {
    switch (c) {
    case OPT_TRUTH:
    case OPT_SOURCE:
    case OPT_GRAPH:
    case OPT_BASELINE:
    case OPT_JSON_SUMMARY:
        return 1;
    default: /* of the policy, knn takes what shapes the graph (and the file naming it) */
        if (c >= OPT_POLICY_BASE) {
            const char *name = assay_policy_option_at((size_t)(c - OPT_POLICY_BASE))->name;
            return strcmp(name, "k") != 0 && strcmp(name, "metric") != 0 &&
                   strcmp(name, "policy") != 0;
        }
        return 0;
    }
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

/* The options of scan and knn that are not policy keys, given as ASSAY_<NAME> variables (upper
 * case, dashes as underscores: ASSAY_OUT, ASSAY_THREADS, ASSAY_BASELINE, ASSAY_JSON_SUMMARY...),
 * turned into "--name=value" arguments in args[] that go before the command line's own, so a
 * flag overrides its variable (the last value wins). Policy keys resolve their own variables
 * key by key (cli_resolve_policy); an empty variable is unset. knn ignores the variables of
 * scan-only options and ASSAY_OUT (its --out names a file, not a folder). */
static int env_options(cli_opts *o, char **args, int *n_args, char *err, size_t len) {
    const int knn = o->cmd == CMD_KNN;
    for (size_t i = 0; i < N_FIXED_OPTIONS; i++) {
        const struct option *opt = &k_scan_options[i];
        if (opt->val == 'h' || (knn && (scan_only(opt->val) || opt->val == 'o'))) continue;
        char name[64] = "ASSAY_";
        for (size_t j = 0; opt->name[j] && j + 7 < sizeof name; j++)
            name[6 + j] = opt->name[j] == '-' ? '_' : (char)toupper((unsigned char)opt->name[j]);
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
    if (o->cmd != CMD_SCAN && o->cmd != CMD_KNN) return parse_scan_args(argc, argv, o, err, len);
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

/* scan and knn share the options (knn takes a subset) and the INPUT argument. */
static int parse_scan_args(int argc, char **argv, cli_opts *o, char *err, size_t len) {
    const int knn = o->cmd == CMD_KNN;
    long l;
    int c, idx = -1;
    struct option opt_buf[N_FIXED_OPTIONS + MAX_PARAMS + 1];
    const struct option *options = scan_options(opt_buf);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":k:o:qh", options, &idx)) != -1) {
        if (knn && scan_only(c) && idx >= 0) {
            snprintf(err, len, "option '--%s' is for scan, not knn", options[idx].name);
            return CLI_EXIT_USAGE;
        }
        if (o->cmd == CMD_POLICY && c != 'h' && c != 'k' && c != ':' && c != '?' &&
            c < OPT_POLICY_BASE) {
            snprintf(err, len, "option '%s' is not a policy option ('assay policy --help')",
                     argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
        idx = -1;
        switch (c) {
        case 'k':
            if (add_policy_arg(o, "k", optarg, err, len) != 0) return CLI_EXIT_USAGE;
            break;
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
        case OPT_THREADS:
            if (parse_long(optarg, 1, 1024, &l) != 0)
                return usage_error(err, len, "--threads expects an integer from 1 to 1024", optarg);
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
            snprintf(err, len, "unknown option '%s'", argv[optind - 1]);
            return CLI_EXIT_USAGE;
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
        snprintf(err, len, "%s needs an INPUT file", knn ? "knn" : "scan");
        return CLI_EXIT_USAGE;
    }
    if (optind + 1 < argc) {
        snprintf(err, len, "unexpected argument '%s' (one INPUT file per %s)", argv[optind + 1],
                 knn ? "graph" : "scan");
        return CLI_EXIT_USAGE;
    }
    if (knn && (o->out_file == NULL || o->out_file[0] == '\0')) {
        snprintf(err, len, "knn needs --out FILE (the graph file to write)");
        return CLI_EXIT_USAGE;
    }
    o->input = argv[optind];
    return 0;
}

void cli_print_render_help(FILE *fp) {
    fputs("usage: assay report render REPORT.json [--FORMAT ...] [--out DIR]\n"
          "\n"
          "Renders report formats again from a saved report.json, with the renderers a scan\n"
          "uses: the files are byte-identical to the ones the scan wrote, and formats added\n"
          "since can be produced for old scans. The files are written under temporary names\n"
          "and renamed into place together.\n"
          "\n"
          "formats (none given: all of them):\n",
          fp);
    const char *option, *file;
    for (size_t f = 0; assay_report_format_at(f, &option, &file); f++)
        fprintf(fp, "  --%-26s %s\n", option, file);
    fputs(
        "\n"
        "options:\n"
        "  -o, --out DIR                where to write (default: the folder of REPORT.json)\n"
        "  -q, --quiet                  no progress\n"
        "  --progress                   progress lines even when stderr is not a terminal\n"
        "\n"
        "exit codes: 0 written, 2 unreadable or invalid report.json (not JSON, or its \"schema\"\n"
        "is not \"assay-report/1\") or bad usage, 3 internal error.\n",
        fp);
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
    enum { OPT_RENDER_PROGRESS = 256, OPT_RENDER_FORMAT_BASE = 512 };
    static const struct option fixed[] = {{"out", required_argument, NULL, 'o'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'},
                                          {"progress", no_argument, NULL, OPT_RENDER_PROGRESS}};
    enum { N_FIXED = sizeof fixed / sizeof fixed[0] };
    struct option options[N_FIXED + CLI_MAX_RENDER_FORMATS + 1];
    size_t n = 0;
    for (; n < N_FIXED; n++) options[n] = fixed[n];
    const char *format;
    for (size_t f = 0; f < CLI_MAX_RENDER_FORMATS && assay_report_format_at(f, &format, NULL); f++)
        options[n++] = (struct option){format, no_argument, NULL, OPT_RENDER_FORMAT_BASE + (int)f};
    options[n] = (struct option){NULL, 0, NULL, 0};
    o->out_dir = NULL; /* default: the folder of REPORT.json */
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":o:qh", options, NULL)) != -1) {
        int rc = common_option(c, argv, o, err, len);
        if (rc >= 0) {
            if (rc != 0) return rc;
            continue;
        }
        switch (c) {
        case OPT_RENDER_PROGRESS:
            o->progress = 1;
            break;
        default:
            const char *name = NULL;
            if (c >= OPT_RENDER_FORMAT_BASE &&
                assay_report_format_at((size_t)(c - OPT_RENDER_FORMAT_BASE), &name, NULL)) {
                size_t i = 0;
                while (i < o->n_render_formats && strcmp(o->render_formats[i], name) != 0) i++;
                if (i == o->n_render_formats) o->render_formats[o->n_render_formats++] = name;
                break;
            }
            snprintf(err, len, "unknown option '%s' (see 'assay report render --help')",
                     argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
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

void cli_print_diff_help(FILE *fp) {
    fputs("usage: assay diff OLD/manifest.json NEW/manifest.json [--out DIR] [--json-summary]\n"
          "\n"
          "Compares two scans from their manifests, without rescanning, exactly as 'assay scan\n"
          "NEW --baseline OLD/manifest.json' does: rows added, removed, changed (same id,\n"
          "different row digest) and relabelled; the class-distribution shift (chi-square test\n"
          "of homogeneity with its p-value and the per-class counts); and per class the drift\n"
          "of the centroid (in class radii and as a cosine distance) and of each detector's\n"
          "score quantiles. Rows are matched by id when both manifests have ids, else by row\n"
          "digest only (a changed row then counts as removed plus added). The SHA-256 of the\n"
          "report.json next to OLD/manifest.json is recorded (the chain of reports).\n"
          "\n"
          "options:\n"
          "  -o, --out DIR                also write DIR/diff.json (created under a temporary\n"
          "                               name and renamed into place)\n"
          "  --json-summary               end stdout with one JSON line of the counts\n"
          "  -q, --quiet                  no human summary on stdout\n"
          "\n"
          "exit codes: 0 no row changed, 1 rows changed (tampering), 2 unreadable manifest or\n"
          "not a manifest (the message names the file and the key), or bad usage.\n",
          fp);
}

/* diff OLD NEW [--out DIR] [--json-summary] [--quiet] */
static int parse_diff(int argc, char **argv, cli_opts *o, char *err, size_t len) {
    enum { OPT_DIFF_JSON_SUMMARY = 256 };
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"json-summary", no_argument, NULL, OPT_DIFF_JSON_SUMMARY},
        {NULL, 0, NULL, 0}};
    o->out_dir = NULL; /* default: no diff.json */
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":o:qh", options, NULL)) != -1) {
        int rc = common_option(c, argv, o, err, len);
        if (rc >= 0) {
            if (rc != 0) return rc;
            continue;
        }
        switch (c) {
        case OPT_DIFF_JSON_SUMMARY:
            o->json_summary = 1;
            break;
        default:
            snprintf(err, len, "unknown option '%s' (see 'assay diff --help')", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
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
    o->out_dir = "assay-report";
    err[0] = '\0';
    if (argc < 2) {
        snprintf(err, err_len, "no command given");
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        o->cmd = CMD_HELP;
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
    if (strcmp(cmd, "scan") == 0 || strcmp(cmd, "knn") == 0) {
        o->cmd = strcmp(cmd, "knn") == 0 ? CMD_KNN : CMD_SCAN;
        return parse_scan(argc - 1, argv + 1, o, err, err_len);
    }
    if (strcmp(cmd, "policy") == 0) {
        o->cmd = CMD_POLICY;
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            o->help = 1;
            return 0;
        }
        if (argc < 3 || strcmp(argv[2], "show") != 0) {
            snprintf(err, err_len, "policy expects 'show' ('assay policy --help')");
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
    snprintf(err, err_len, "unknown command '%s'", cmd);
    return CLI_EXIT_USAGE;
}

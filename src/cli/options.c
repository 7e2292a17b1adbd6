/* SPDX-License-Identifier: Apache-2.0 */
/* The command line's one option table: the tool's own options below, the library's policy
 * options (assay_policy_option_at: every gate setting and detector parameter, with its default)
 * and one flag per report format (assay_report_format_at). The parser, the --help texts, the
 * man page, docs/cli.md and the bash completion are all generated from it (help.c), so an option
 * and its default are written once. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define IO (CLI_FOR_SCAN | CLI_FOR_KNN)

/* The tool's own options. An option whose meaning differs between commands has a line per
 * meaning (--out is a folder for scan, a file for knn). */
static const cli_option k_own[] = {
    /* In the order ASSAY_* variables are read (and recorded in report.json "environment"). The
     * help lists them by section, in this order within a section. */
    {"out", 'o', required_argument, "DIR", CLI_FOR_SCAN, CLI_SEC_OUTPUT, 'o', "ASSAY_OUT",
     CLI_DEFAULT_OUT,
     "report folder (created, with any missing parent folders, when the reports are written)"},
    {"out", 'o', required_argument, "FILE", CLI_FOR_KNN, CLI_SEC_OUTPUT, 'o', NULL, NULL,
     "the graph file (required); written under a temporary name and renamed into place when "
     "complete"},
    {"out", 'o', required_argument, "DIR", CLI_FOR_RENDER, CLI_SEC_OUTPUT, 'o', NULL,
     "the folder of REPORT.json", "where to write (created, with any missing parents)"},
    {"out", 'o', required_argument, "DIR", CLI_FOR_DIFF, CLI_SEC_OUTPUT, 'o', NULL, NULL,
     "also write DIR/diff.json (staged and swapped in like a report set; DIR and any missing "
     "parents are created)"},
    {"quiet", 'q', no_argument, NULL, CLI_FOR_SCAN, CLI_SEC_OUTPUT, 'q', "ASSAY_QUIET", NULL,
     "no progress, and nothing on stdout but the --json-summary line (errors still go to "
     "stderr)"},
    {"quiet", 'q', no_argument, NULL, CLI_FOR_KNN, CLI_SEC_OUTPUT, 'q', "ASSAY_QUIET", NULL,
     "no progress, and nothing on stdout (errors still go to stderr)"},
    {"quiet", 'q', no_argument, NULL, CLI_FOR_RENDER | CLI_FOR_DIFF, CLI_SEC_OUTPUT, 'q', NULL,
     NULL, "no progress and no human summary"},
    {"help", 'h', no_argument, NULL, IO | CLI_FOR_RENDER | CLI_FOR_DIFF | CLI_FOR_POLICY,
     CLI_SEC_OUTPUT, 'h', NULL, NULL, "this text"},
    {"threads", 0, required_argument, "N", IO, CLI_SEC_SCAN, OPT_THREADS, "ASSAY_THREADS",
     "all CPUs", "worker threads, 1 to 1024; 0 = all online CPUs"},
    {"precision", 0, required_argument, "auto|fp32|bf16|int8", IO, CLI_SEC_SCAN, OPT_PRECISION,
     "ASSAY_PRECISION", "auto",
     "arithmetic of the neighbour graph's candidate pass; the graph is exact whatever it is "
     "(auto: int8 or bf16 where the CPU has native kernels, else fp32)"},
    {"graph-method", 0, required_argument, "exact|approx", IO, CLI_SEC_SCAN, OPT_GRAPH_METHOD,
     "ASSAY_GRAPH_METHOD", "exact",
     "neighbour graph: exact, or approx (an inverted file for millions of rows; its recall@k is "
     "measured on a sample and reported)"},
    {"approx-recall", 0, required_argument, "R", IO, CLI_SEC_SCAN, OPT_APPROX_RECALL,
     "ASSAY_APPROX_RECALL", "0.99",
     "with --graph-method approx: the recall@k the number of probed lists is chosen for, in "
     "(0, 1]"},
    {"memory-limit", 0, required_argument, "SIZE", IO, CLI_SEC_SCAN, OPT_MEMORY_LIMIT,
     "ASSAY_MEMORY_LIMIT", "none",
     "keep the process's resident memory near SIZE (512M, 2G; at least 64M): the matrix and its "
     "copies live in unlinked scratch files beside the output and are paged in block by block "
     "(docs/memory.md); same results"},
    {"shard", 0, required_argument, "I/N", CLI_FOR_SCAN, CLI_SEC_SCAN, OPT_SHARD, NULL, NULL,
     "compute only shard I of N (0 <= I < N): the exact neighbour lists of rows floor(I x rows / "
     "N) to floor((I + 1) x rows / N) against every row, written to DIR/shard-I-of-N.h5 for "
     "'assay merge' (docs/shards.md); no detectors, no reports"},
    {"format", 0, required_argument, "auto|hdf5|csv|npy", IO, CLI_SEC_INPUT, OPT_FORMAT,
     "ASSAY_FORMAT", "auto", "input format; auto reads the file's magic bytes, then its extension"},
    {"embeddings", 0, required_argument, "PATH", IO, CLI_SEC_INPUT, OPT_EMBEDDINGS,
     "ASSAY_EMBEDDINGS", ASSAY_DEFAULT_H5_EMBEDDINGS, "HDF5 dataset of embeddings"},
    {"labels", 0, required_argument, "PATH", IO, CLI_SEC_INPUT, OPT_LABELS, "ASSAY_LABELS",
     ASSAY_DEFAULT_H5_LABELS, "HDF5 dataset of labels"},
    {"ids", 0, required_argument, "PATH", IO, CLI_SEC_INPUT, OPT_IDS, "ASSAY_IDS",
     ASSAY_DEFAULT_H5_IDS ", if present", "HDF5 dataset of row ids"},
    {"pred-probs", 0, required_argument, "PATH", IO, CLI_SEC_INPUT, OPT_PRED_PROBS,
     "ASSAY_PRED_PROBS", ASSAY_DEFAULT_H5_PRED_PROBS ", if present",
     "HDF5 dataset of predicted probabilities"},
    {"label-column", 0, required_argument, "NAME", IO, CLI_SEC_INPUT, OPT_LABEL_COLUMN,
     "ASSAY_LABEL_COLUMN", ASSAY_DEFAULT_LABEL_COLUMN, "CSV label column"},
    {"id-column", 0, required_argument, "NAME", IO, CLI_SEC_INPUT, OPT_ID_COLUMN, "ASSAY_ID_COLUMN",
     ASSAY_DEFAULT_ID_COLUMN ", if present", "CSV id column"},
    {"feature-columns", 0, required_argument, "A,B,...", IO, CLI_SEC_INPUT, OPT_FEATURE_COLUMNS,
     "ASSAY_FEATURE_COLUMNS", "all other columns", "CSV feature columns"},
    {"labels-file", 0, required_argument, "FILE", IO, CLI_SEC_INPUT, OPT_LABELS_FILE,
     "ASSAY_LABELS_FILE", NULL, "labels as .npy or .csv (required for .npy input)"},
    {"ids-file", 0, required_argument, "FILE", IO, CLI_SEC_INPUT, OPT_IDS_FILE, "ASSAY_IDS_FILE",
     NULL, "ids as .npy or .csv"},
    {"pred-probs-file", 0, required_argument, "FILE", IO, CLI_SEC_INPUT, OPT_PRED_PROBS_FILE,
     "ASSAY_PRED_PROBS_FILE", NULL, "predicted probabilities as .npy [N, classes]"},
    {"classes", 0, required_argument, "A,B,...", IO, CLI_SEC_INPUT, OPT_CLASSES, "ASSAY_CLASSES",
     NULL, "declared label set; other labels are integrity findings"},
    {"truth", 0, required_argument, "FILE", CLI_FOR_SCAN, CLI_SEC_OUTPUT, OPT_TRUTH, "ASSAY_TRUTH",
     NULL,
     "planted ground truth (index,is_poison,attack): adds precision/recall/AUROC to the summary "
     "and report"},
    {"source", 0, required_argument, "TEXT", CLI_FOR_SCAN, CLI_SEC_INPUT, OPT_SOURCE,
     "ASSAY_SOURCE", NULL, "where the data came from (URL), recorded in the manifest"},
    {"graph", 0, required_argument, "FILE", CLI_FOR_SCAN, CLI_SEC_SCAN, OPT_GRAPH, "ASSAY_GRAPH",
     NULL,
     "reuse a neighbour graph written by 'assay knn' instead of building one. It must have been "
     "built for this dataset (same SHA-256 digest) with the same -k (a larger k is refused, not "
     "truncated) and --metric; it is checked and its distances re-measured; a mismatch exits 2"},
    {"baseline", 0, required_argument, "OLD/manifest.json", CLI_FOR_SCAN, CLI_SEC_SCAN,
     OPT_BASELINE, "ASSAY_BASELINE", NULL,
     "compare with an earlier scan's manifest: rows added, removed and changed (same id, new row "
     "digest: tampering findings of high severity), class-distribution shift (chi-square) and "
     "drift, in report.json \"baseline\""},
    {"trusted-ids", 0, required_argument, "FILE", CLI_FOR_SCAN, CLI_SEC_SCAN, OPT_TRUSTED_IDS,
     "ASSAY_TRUSTED_IDS", NULL,
     "ids of rows known to be clean, one per line ('#' comments; 0-based row numbers when the "
     "data has no ids): subgroup fits its global model and gram its class references on them "
     "(report.json \"trusted\"); ids not in the data are counted, none matching exits 2"},
    {"trusted-data", 0, required_argument, "FILE", CLI_FOR_SCAN, CLI_SEC_SCAN, OPT_TRUSTED_DATA,
     "ASSAY_TRUSTED_DATA", NULL,
     "a separate clean dataset (a hand-checked validation set; any input format, read with the "
     "input's options, same features, labels named as in the data): subgroup fits its global "
     "model on it"},
    {"trusted-labels", 0, required_argument, "FILE", CLI_FOR_SCAN, CLI_SEC_SCAN, OPT_TRUSTED_LABELS,
     "ASSAY_TRUSTED_LABELS", NULL, "the labels file of --trusted-data when it is a .npy matrix"},
    {"json-summary", 0, optional_argument, "FILE", CLI_FOR_SCAN, CLI_SEC_OUTPUT, OPT_JSON_SUMMARY,
     "ASSAY_JSON_SUMMARY", NULL,
     "end stdout with one JSON line (tool, version, status pass|warn|fail|error, exit_code, "
     "reasons, rows, flagged, flagged_fraction, findings_by_severity, dataset_sha256, report, "
     "out) for "
     "Airflow's XCom and other orchestrators; also written to FILE when given"},
    {"json-summary", 0, no_argument, NULL, CLI_FOR_DIFF, CLI_SEC_OUTPUT, OPT_JSON_SUMMARY, NULL,
     NULL, "end stdout with one JSON line of the counts"},
    {"progress", 0, no_argument, NULL, IO | CLI_FOR_RENDER, CLI_SEC_OUTPUT, OPT_PROGRESS,
     "ASSAY_PROGRESS", NULL,
     "progress lines on stderr even when it is not a terminal (default: a bar on a terminal, "
     "else nothing)"},
    {"no-sandbox", 0, no_argument, NULL, IO, CLI_SEC_INPUT, OPT_NO_SANDBOX, NULL, NULL,
     "read HDF5 files (the dataset, --graph) in this process instead of a sandboxed child "
     "process with resource limits: only for trusted files (docs/security.md)"},
};
#define N_OWN (sizeof k_own / sizeof k_own[0])

/* The policy options that shape the graph, and the input limits: knn takes them too. */
static int graph_option(const assay_policy_option *p) {
    return strcmp(p->name, "k") == 0 || strcmp(p->name, "metric") == 0 ||
           strcmp(p->name, "policy") == 0 || strncmp(p->key, "limits.", 7) == 0;
}

/* Where a policy option is listed: the scan settings, the detector parameters, or the gate. */
static cli_section policy_section(const assay_policy_option *p) {
    static const char *const scan_keys[] = {"scan.k",           "scan.metric",
                                            "scan.weighted",    "scan.label-threshold",
                                            "scan.outlier-iqr", "scan.skip"};
    for (size_t i = 0; i < sizeof scan_keys / sizeof scan_keys[0]; i++)
        if (strcmp(p->key, scan_keys[i]) == 0) return CLI_SEC_SCAN;
    if (strncmp(p->key, "limits.", 7) == 0) return CLI_SEC_INPUT; /* docs/limits.md */
    return strncmp(p->key, "scan.", 5) == 0 ? CLI_SEC_PARAMS : CLI_SEC_GATE;
}

/* merge takes scan's options but those that build the graph: it reads the shards' lists. */
static unsigned with_merge(const char *name, unsigned cmds) {
    static const char *const graph_building[] = {"graph", "shard", "graph-method", "approx-recall",
                                                 "precision"};
    if (!(cmds & CLI_FOR_SCAN)) return cmds;
    for (size_t i = 0; i < sizeof graph_building / sizeof graph_building[0]; i++)
        if (strcmp(name, graph_building[i]) == 0) return cmds;
    return cmds | CLI_FOR_MERGE;
}

static cli_option g_all[N_OWN + CLI_MAX_POLICY_OPTIONS + CLI_MAX_RENDER_FORMATS];
static char g_format_help[CLI_MAX_RENDER_FORMATS][64];
static size_t g_count;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void build(void) {
    size_t n = 0;
    for (size_t i = 0; i < N_OWN; i++) {
        g_all[n] = k_own[i];
        g_all[n].commands = with_merge(k_own[i].name, k_own[i].commands);
        n++;
    }
    for (size_t i = 0; i < assay_policy_option_count() && i < CLI_MAX_POLICY_OPTIONS; i++) {
        const assay_policy_option *p = assay_policy_option_at(i);
        unsigned cmds = with_merge(p->name, CLI_FOR_SCAN | CLI_FOR_POLICY |
                                                (graph_option(p) ? CLI_FOR_KNN : 0));
        g_all[n++] = (cli_option){p->name,
                                  strcmp(p->name, "k") == 0 ? 'k' : 0,
                                  p->takes_value ? required_argument : no_argument,
                                  p->arg,
                                  cmds,
                                  policy_section(p),
                                  OPT_POLICY_BASE + (int)i,
                                  p->env,
                                  p->def,
                                  p->help};
    }
    const char *option, *file;
    for (size_t f = 0; f < CLI_MAX_RENDER_FORMATS && assay_report_format_at(f, &option, &file);
         f++) {
        snprintf(g_format_help[f], sizeof g_format_help[f], "render %s", file);
        g_all[n++] = (cli_option){option,
                                  0,
                                  no_argument,
                                  NULL,
                                  CLI_FOR_RENDER,
                                  CLI_SEC_FORMATS,
                                  OPT_RENDER_FORMAT_BASE + (int)f,
                                  NULL,
                                  NULL,
                                  g_format_help[f]};
    }
    g_count = n;
}

size_t cli_option_count(void) {
    pthread_once(&g_once, build);
    return g_count;
}

const cli_option *cli_option_at(size_t i) {
    pthread_once(&g_once, build);
    return i < g_count ? &g_all[i] : NULL;
}

size_t cli_getopt_table(unsigned command, struct option *out, size_t cap, char *shorts,
                        size_t shorts_len) {
    size_t n = 0, u = 0;
    if (shorts_len < 2) return 0;
    shorts[u++] = ':'; /* a missing value is ':', not '?' */
    shorts[u] = '\0';
    for (size_t i = 0; i < cli_option_count() && n + 1 < cap; i++) {
        const cli_option *o = cli_option_at(i);
        if (!(o->commands & command)) continue;
        size_t seen = 0; /* an option with a line per command (--out) is listed once */
        while (seen < n && strcmp(out[seen].name, o->name) != 0) seen++;
        if (seen < n) continue;
        out[n++] = (struct option){o->name, o->has_arg, NULL, o->id};
        if (o->short_name && u + 3 < shorts_len && strchr(shorts, o->short_name) == NULL) {
            shorts[u++] = (char)o->short_name;
            if (o->has_arg == required_argument) shorts[u++] = ':';
            shorts[u] = '\0';
        }
    }
    out[n] = (struct option){NULL, 0, NULL, 0};
    return n;
}

const cli_option *cli_option_by_id(unsigned command, int id) {
    for (size_t i = 0; i < cli_option_count(); i++) {
        const cli_option *o = cli_option_at(i);
        if (o->id == id && (o->commands & command)) return o;
    }
    return NULL;
}

const cli_option *cli_option_by_name(unsigned command, const char *name) {
    for (size_t i = 0; i < cli_option_count(); i++) {
        const cli_option *o = cli_option_at(i);
        if ((o->commands & command) && strcmp(o->name, name) == 0) return o;
    }
    return NULL;
}

int cli_option_id(unsigned commands, int c) {
    if (c <= 0 || c >= 128 || c == ':' || c == '?') return c;
    for (size_t i = 0; i < cli_option_count(); i++) {
        const cli_option *o = cli_option_at(i);
        if (o->short_name == c && (o->commands & commands)) return o->id;
    }
    return c;
}

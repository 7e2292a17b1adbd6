/* SPDX-License-Identifier: Apache-2.0 */
/* The scan: exact k-nearest-neighbour graph, detectors, combined score, gate verdict.
 * Everything is kept in one in-memory assay_result that every report format is rendered from. */
#ifndef ASSAY_SCAN_H
#define ASSAY_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include "assay_api.h"
#include "assay_status.h"
#include "assay_ctx.h"
#include "assay_dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_result assay_result;

typedef enum assay_metric {
    ASSAY_METRIC_COSINE = 0, /* 1 - cos(a, b), in [0, 2] */
    ASSAY_METRIC_L2 = 1      /* squared Euclidean distance */
} assay_metric;

/* Severity of a finding; the gate fails on findings at or above `fail_on`. */
typedef enum assay_severity {
    ASSAY_SEV_NONE = 0, /* as fail_on: never fail on severity */
    ASSAY_SEV_LOW = 1,
    ASSAY_SEV_MEDIUM = 2,
    ASSAY_SEV_HIGH = 3,
    ASSAY_SEV_CRITICAL = 4
} assay_severity;

/* The detectors of this version, one line each, in the order a scan runs them (which is the
 * order of report.json's "tests"): X(ID, value, module, "name", "what it finds").
 *   ID      the enum constant ASSAY_DET_<ID>
 *   value   its number: stable, since reports, skip masks and policies index by it; a new
 *           detector takes the next free number
 *   module  the file that implements it, src/detect/<module>.c
 *   name    its name in reports, flags and policy files
 * Each gives a per-row score (NaN where it does not apply), a flag rule and, where it can, a
 * per-class or per-dataset test against a null of "no poison" (docs/detectors.md). Adding a
 * detector is one line here and one new file (docs/adding-a-detector.md). */
#define ASSAY_DETECTOR_LIST(X)                                                                     \
    X(INTEGRITY, 3, integrity, "integrity", "non-finite or all-zero rows, undeclared labels")      \
    X(DUPLICATE, 2, duplicate, "duplicate", "exact duplicate rows (conflicting labels: high)")     \
    X(KNN_LABEL, 0, knn_label, "knn-label",                                                        \
      "label disagrees with the neighbours' labels (Deep k-NN)")                                   \
    X(KNN_OUTLIER, 1, knn_outlier, "knn-outlier", "far from its neighbours")                       \
    X(NEAR_DUPLICATE, 9, near_duplicate, "near-duplicate",                                         \
      "rows much closer than typical neighbours")                                                  \
    X(CONFIDENT, 8, confident, "confident", "confident learning from predicted probabilities")     \
    X(VALUATION, 10, valuation, "valuation", "kNN-Shapley data value (harmful rows)")              \
    X(SPECTRAL, 4, spectral, "spectral",                                                           \
      "spectral signatures (per class, top singular direction)")                                   \
    X(SPECTRE, 5, spectre, "spectre", "SPECTRE: robust whitening + quantum-entropy score")         \
    X(CLUSTER, 6, cluster, "cluster", "activation clustering: a separated small cluster")          \
    X(SUBGROUP, 15, subgroup, "subgroup",                                                          \
      "SCAn: each class untangled into two subgroups under a global EM model")                     \
    X(GRAM, 16, gram, "gram",                                                                      \
      "higher-order statistics: sketched feature products per class (Beatrix)")                    \
    X(MAHALANOBIS, 7, mahalanobis, "mahalanobis",                                                  \
      "class-conditional shrinkage Mahalanobis distance")                                          \
    X(ECOD, 13, ecod, "ecod", "empirical-CDF tail outliers on the raw features")                   \
    X(ORDERING, 11, ordering, "ordering", "non-IID row order (poison appended as a block)")        \
    X(IMBALANCE, 12, imbalance, "imbalance", "class counts against the declared distribution")     \
    X(TAMPERING, 14, tampering, "tampering",                                                       \
      "row changed since the baseline manifest (same id); runs last")

typedef enum assay_detector {
#define ASSAY_DETECTOR_ENUM_(id, value, module, name, what) ASSAY_DET_##id = value,
    ASSAY_DETECTOR_LIST(ASSAY_DETECTOR_ENUM_)
#undef ASSAY_DETECTOR_ENUM_
#define ASSAY_DETECTOR_ONE_(...) +1
    /* the number of detectors (the values are 0 .. ASSAY_DET_COUNT - 1) */
    ASSAY_DET_COUNT = 0 ASSAY_DETECTOR_LIST(ASSAY_DETECTOR_ONE_)
#undef ASSAY_DETECTOR_ONE_
} assay_detector;

/* How the neighbour graph is built: exactly (the default), or approximately for large N (an
 * inverted file whose recall@k is chosen on a pilot sample and measured on a second one, both
 * reported; docs/kernels.md, "Approximate graph"). */
typedef enum assay_graph_method {
    ASSAY_GRAPH_EXACT = 0,
    ASSAY_GRAPH_APPROX = 1
} assay_graph_method;

typedef struct assay_scan_opts {
    uint32_t k;                  /* neighbours per row (10) */
    assay_metric metric;         /* ASSAY_METRIC_COSINE */
    int weighted;                /* knn-label: weight neighbours by 1/(distance + tau) (0) */
    double label_threshold;      /* knn-label flags rows whose score is >= this (0.9) */
    double outlier_iqr;          /* knn-outlier flags mean distance > Q3 + this * IQR (3.0) */
    assay_severity fail_on;      /* gate fails on findings at/above this (ASSAY_SEV_HIGH) */
    double max_flagged_fraction; /* gate fails when more rows are flagged (1.0 = off) */
    /* NULL: build the neighbour graph. Else a graph file written by assay_graph_write, reused
     * instead of building one once it is checked to belong to the dataset: same rows and dataset
     * digest, same k and metric, the same rows left out, every listed distance as the data gives
     * it. Only read during assay_scan (the result keeps its own copy). */
    const char *graph_path;
    /* Detectors to skip: bit (1u << det) per assay_detector (0 = run every detector whose
     * inputs exist). */
    uint32_t skip;
    /* Detector and verdict parameters (assay_param_*): param[i] is used when bit i of param_set
     * is set, else the parameter's default. Set them with assay_param_set. */
    uint64_t param_set;
    double param[64];
    /* NULL: no baseline. Else the manifest.json of an earlier scan: rows added, removed and
     * changed since then, the class-distribution shift and drift are reported, and changed rows
     * (same id, different row digest) are tampering findings of high severity (docs/pipelines.md,
     * "Scheduled scans"). Read at the start of assay_scan (the result keeps its own copy). */
    const char *baseline_path;
    /* Rows known to be clean, for the detectors that fit a reference model (subgroup's global
     * model, gram's class statistics; docs/detectors.md). NULL: none. trusted_ids_path: a text
     * file of row ids, one per line ('#' comments; 0-based row numbers when the dataset has no
     * ids). trusted_data: a separate clean dataset (same features, labels named like the
     * dataset's), owned by the caller, alive during assay_scan. */
    const char *trusted_ids_path;
    const assay_dataset *trusted_data;
    /* ASSAY_GRAPH_EXACT, or ASSAY_GRAPH_APPROX with the recall@k its probe count aims at
     * (approx_recall; 0 = 0.99). Ignored with graph_path. */
    assay_graph_method graph_method;
    double approx_recall;
    /* n_graph_parts > 0: the neighbour graph is merged from these shard files, one per shard,
     * written by assay_graph_write_shard (assay scan --shard i/n; docs/shards.md), instead of
     * built; each is checked as graph_path is, and the merged lists as one graph. Not with
     * graph_path. Only read during assay_scan. */
    const char *const *graph_parts;
    size_t n_graph_parts;
} assay_scan_opts;
#define ASSAY_SCAN_OPTS_INIT                                                                       \
    {                                                                                              \
        10u, ASSAY_METRIC_COSINE, 0, 0.9, 3.0, ASSAY_SEV_HIGH, 1.0, NULL, 0u, 0u, {0}, NULL, NULL, \
            NULL, ASSAY_GRAPH_EXACT, 0.0, NULL, 0                                                  \
    }

/* The tunable parameters of the detectors and of the verdicts, one table: every one is also the
 * CLI flag --<name> and is recorded (with its effective value) in report.json. */
typedef struct assay_param_info {
    const char *name;     /* "fdr", "spectre-alpha", ... */
    const char *detector; /* the detector it belongs to, or "verdict" */
    const char *help;     /* one line */
    double def, min, max; /* default and inclusive range */
    int integer;          /* 1: whole numbers only */
} assay_param_info;

/* Number of parameters, and the i-th one's description (NULL if out of range). */
ASSAY_API size_t assay_param_count(void);
ASSAY_API const assay_param_info *assay_param_info_at(size_t i);

/* Sets the parameter `name` in *o after checking its range. Returns ASSAY_E_INVAL for an unknown
 * name or a value out of range (the context-free message is in assay_param_info_at). */
ASSAY_API assay_status assay_param_set(assay_scan_opts *o, const char *name, double value);

/* The effective value of parameter i in *o (set or default); NaN if i is out of range. */
ASSAY_API double assay_param_value(const assay_scan_opts *o, size_t i);

/* Parses a detector name ("spectral", ...); ASSAY_E_INVAL if unknown. */
ASSAY_API assay_status assay_detector_parse(const char *name, assay_detector *out);

/* Runs the scan on a loaded dataset with the context's threads. `opts` may be NULL. `ds` is only
 * read; it must outlive the result. On success *out owns the result (assay_result_destroy).
 * Returns ASSAY_OK, ASSAY_E_INVAL (e.g. fewer than k+1 usable rows, the message says how many;
 * or a graph file that does not match, the message names the file and the property),
 * ASSAY_E_NOMEM, ASSAY_E_THREAD, ASSAY_E_BLAS; with opts->graph_path also ASSAY_E_NOTFOUND,
 * ASSAY_E_IO, ASSAY_E_FORMAT, ASSAY_E_SHAPE, ASSAY_E_UNSUPPORTED, ASSAY_E_HDF5.
 * Thread-safety: as for the context. */
ASSAY_API assay_status assay_scan(assay_ctx *ctx, const assay_dataset *ds,
                                  const assay_scan_opts *opts, assay_result **out);

/* Builds the neighbour graph assay_scan builds with the same k, metric and graph method (the
 * same rows left out) and writes it to the file `path` as HDF5 in the ann-benchmarks layout with
 * assay's attributes, among them the dataset digest and, for an approximate graph, its measured
 * recall (docs/reports.md, "graph.h5"). Only opts->k, opts->metric, opts->graph_method and
 * opts->approx_recall are used; `opts` may be NULL. The file is written under a temporary name in
 * the same folder and renamed into place when complete: on failure nothing is left behind and an
 * existing file is untouched. `path` is only read during the call. Returns ASSAY_OK, ASSAY_E_INVAL
 * (bad k or metric, too few usable rows, `path` names a folder), ASSAY_E_IO (folder not writable,
 * write failed; the message names the file), ASSAY_E_NOMEM, ASSAY_E_THREAD, ASSAY_E_BLAS.
 * Thread-safety: as for the context. */
ASSAY_API assay_status assay_graph_write(assay_ctx *ctx, const assay_dataset *ds,
                                         const assay_scan_opts *opts, const char *path);

/* Shard `index` of `count` of the graph assay_scan would build with `opts` (assay scan --shard
 * i/n, docs/shards.md): the exact neighbour lists of rows [floor(index N / count),
 * floor((index + 1) N / count)) against every row, with the k assay_scan would use (raised for
 * Deep k-NN as it raises it), written atomically to `path` as a graph file with the shard's
 * attributes. assay_scan with opts->graph_parts naming one file per shard gives the result the
 * scan gives. Requires 1 <= count <= N and index < count; the approximate graph cannot be
 * sharded (ASSAY_E_UNSUPPORTED). Returns what assay_graph_write returns. */
ASSAY_API assay_status assay_graph_write_shard(assay_ctx *ctx, const assay_dataset *ds,
                                               const assay_scan_opts *opts, size_t index,
                                               size_t count, const char *path);

/* Releases a result. NULL is a no-op. */
ASSAY_API void assay_result_destroy(assay_result *res);

/* Combined per-row score in [0,1] (higher = more suspicious) and flag (score >= 0.5, i.e. at
 * least one detector's flag rule fired). Out-of-range rows give NaN / 0. */
ASSAY_API float assay_result_score(const assay_result *res, size_t row);
ASSAY_API int assay_result_flagged(const assay_result *res, size_t row);

/* Detector `det`'s score for `row`, NaN where the detector does not apply to the row. */
ASSAY_API float assay_result_detector_score(const assay_result *res, assay_detector det,
                                            size_t row);

/* Class index the neighbours suggest for `row`, or -1 if none differs from its own label. */
ASSAY_API int32_t assay_result_suggested_class(const assay_result *res, size_t row);

/* The k neighbours of `row`, nearest first: borrowed pointers to k ids and k distances, valid
 * until assay_result_destroy. Rows left out of the graph (non-finite) have ids -1.
 * Returns ASSAY_E_INVAL if row is out of range. */
ASSAY_API assay_status assay_result_neighbours(const assay_result *res, size_t row,
                                               const int64_t **ids, const float **dists, size_t *k);

ASSAY_API size_t assay_result_flagged_count(const assay_result *res);

/* Highest severity among the row's findings (ASSAY_SEV_NONE if none). */
ASSAY_API assay_severity assay_result_row_severity(const assay_result *res, size_t row);

/* Number of findings (one per row and detector whose flag rule fired). */
ASSAY_API size_t assay_result_finding_count(const assay_result *res);

/* Gate verdict: 1 passed, 0 failed; and the CLI exit code it maps to (0 or 1). */
ASSAY_API int assay_result_gate_passed(const assay_result *res);

/* ---- the whole result at once (bindings, dataframes) ---- */

/* Rows of the result (those of its dataset). */
ASSAY_API size_t assay_result_rows(const assay_result *res);

/* Borrowed per-row arrays of assay_result_rows() values, valid until assay_result_destroy (and
 * changed by assay_policy_apply): the combined scores, the flags (1 = flagged), the highest
 * severity per row (assay_severity values), the class the neighbours suggest (-1 none), and
 * detector det's scores (NaN where it does not apply; all NaN when it did not run). NULL for a
 * NULL result or an unknown detector. */
ASSAY_API const float *assay_result_scores(const assay_result *res);
ASSAY_API const uint8_t *assay_result_flags(const assay_result *res);
ASSAY_API const uint8_t *assay_result_severities(const assay_result *res);
ASSAY_API const int32_t *assay_result_suggested_classes(const assay_result *res);
ASSAY_API const float *assay_result_detector_scores(const assay_result *res, assay_detector det);

/* The flagged rows, most suspicious first (assay_result_flagged_count of them). Borrowed. */
ASSAY_API const size_t *assay_result_ranking(const assay_result *res);

/* 1 if detector det ran in this scan (not skipped, its inputs present). */
ASSAY_API int assay_result_detector_ran(const assay_result *res, assay_detector det);

/* One finding: a row a detector's flag rule flagged. Strings are static or borrowed from the
 * result. Findings are ordered by row (assay_result_row_findings gives a row's range). */
typedef struct assay_finding_info {
    size_t row;
    assay_detector detector;
    assay_severity severity;
    float score;        /* the detector's score for the row */
    const char *kind;   /* what it is evidence of: "label", "outlier", "duplicate", "backdoor"... */
    const char *reason; /* the detector's reason code ("disagrees-with-neighbours", ...) */
    int64_t test;       /* index (assay_result_test) of the test the flag rests on, -1 none */
} assay_finding_info;

/* Fills *out with finding i (i < assay_result_finding_count). ASSAY_E_INVAL if out of range. The
 * explanation sentence and the evidence fields are in assay_report.h (they need the dataset). */
ASSAY_API assay_status assay_result_finding(const assay_result *res, size_t i,
                                            assay_finding_info *out);

/* Row `row`'s findings are [*first, *first + returned count). */
ASSAY_API size_t assay_result_row_findings(const assay_result *res, size_t row, size_t *first);

/* A per-class or per-dataset hypothesis test of a detector against a null of "no poison",
 * adjusted with every other test of the scan (report.json "tests"). */
typedef struct assay_test_info {
    assay_detector detector;
    int32_t cls;           /* class index, -1 = the whole dataset */
    const char *statistic; /* what `value` is */
    double value;
    double p, q;             /* p-value (NaN: not applicable) and Benjamini-Hochberg q-value */
    int significant;         /* q <= fdr */
    assay_severity severity; /* what a significant verdict weighs at the gate */
    const char *gate;        /* "fail", "warn", "accepted", or NULL: the gate's use of it */
    const char *null;        /* how p was obtained */
    const char *detail;      /* one sentence for a reviewer */
} assay_test_info;

ASSAY_API size_t assay_result_test_count(const assay_result *res);
ASSAY_API assay_status assay_result_test(const assay_result *res, size_t i, assay_test_info *out);

/* Compares the result with a ground-truth CSV (`index,is_poison[,attack]`, header required, as
 * written by the bundled dataset tools) and stores precision, recall and AUROC overall and per
 * attack in the result, where reports include them. Returns ASSAY_E_NOTFOUND, ASSAY_E_FORMAT
 * (line and column named), ASSAY_E_SHAPE (row count differs), ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_result_evaluate(assay_ctx *ctx, assay_result *res,
                                             const char *truth_path);

/* Name of a detector ("knn-label", ...), severity ("low", ...) or metric ("cosine", "l2"). */
ASSAY_API const char *assay_detector_name(assay_detector det);
/* What a detector finds, in a few words (its line of ASSAY_DETECTOR_LIST); "" if unknown. */
ASSAY_API const char *assay_detector_about(assay_detector det);
ASSAY_API const char *assay_severity_name(assay_severity sev);
ASSAY_API const char *assay_metric_name(assay_metric m);

/* Parses the names above; returns ASSAY_E_INVAL for an unknown name. */
ASSAY_API assay_status assay_severity_parse(const char *name, assay_severity *out);
ASSAY_API assay_status assay_metric_parse(const char *name, assay_metric *out);
/* "exact" or "approx"; parsing returns ASSAY_E_INVAL for another name. */
ASSAY_API const char *assay_graph_method_name(assay_graph_method m);
ASSAY_API assay_status assay_graph_method_parse(const char *name, assay_graph_method *out);

#ifdef __cplusplus
}
#endif
#endif

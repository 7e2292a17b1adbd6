/* SPDX-License-Identifier: Apache-2.0 */
/* The one in-memory scan result that every report format is rendered from: per-row scores,
 * findings with their evidence, per-detector summaries, the gate verdict and timings. */
#ifndef ASSAY_RESULT_INTERNAL_H
#define ASSAY_RESULT_INTERNAL_H

#include "core/internal.h"
#include "graph/knn.h"
#include "io/dataset_internal.h"

#define ASSAY__SEV_COUNT 5

/* Why a detector flagged a row (reason codes are per detector). */
enum {
    ASSAY__WHY_LABEL_DISAGREES = 0,
    ASSAY__WHY_OUTLIER_FAR = 0,
    ASSAY__WHY_DUP_CONFLICT = 0, /* identical features, different labels */
    ASSAY__WHY_DUP_COPY = 1,     /* identical features and label: a repeated row */
    ASSAY__WHY_NONFINITE = 0,
    ASSAY__WHY_OVERFLOW = 1,
    ASSAY__WHY_ZERO = 2,
    ASSAY__WHY_BADLABEL = 3
};

/* One row flagged by one detector. The evidence fields mean, per detector:
 *   knn-label:   a = own-label share, b = suggested-label share, c = k, ref = suggested class
 *   knn-outlier: a = mean neighbour distance, b = flag fence, c = rank score
 *   duplicate:   a = group size, b = distinct labels in group, ref = first other row
 *   integrity:   a = non-finite values, b = first non-finite column, ref = -1 */
typedef struct assay__finding {
    size_t row;
    assay_detector det;
    assay_severity sev;
    int why;
    float score; /* the detector's score for the row */
    double a, b, c;
    int64_t ref;
    int32_t test; /* index into res->tests this flag depends on (its class's test), -1 = none */
} assay__finding;

/* A per-class or per-dataset hypothesis test of one detector against a null of "no poison".
 * The combine step adjusts all tests of a scan together (Benjamini-Hochberg at the `fdr`
 * parameter); a significant test fails the gate, and rows flagged by a detector in a class whose
 * test is not significant are not flagged (their evidence is scaled below 0.5). */
typedef struct assay__test {
    assay_detector det;
    int32_t cls;           /* class index, -1 = the whole dataset */
    const char *stat_name; /* static: what `stat` is */
    double stat;
    double p;         /* p-value under the null; NaN = test not applicable */
    const char *null; /* static: how p was obtained ("permutation, 199 shuffles", ...) */
    char detail[200]; /* one sentence for a reviewer: what was seen */
    double q;         /* BH-adjusted p (combine) */
    int significant;  /* q <= fdr (combine) */
} assay__test;

typedef struct assay__det_summary {
    int ran;            /* 0 when the detector could not apply (reason in `note`) */
    const char *note;   /* static text, or NULL */
    const char *rule;   /* static: the flag rule in words */
    double threshold;   /* in the detector's units (see rule) */
    size_t rows_scored; /* rows with a score */
    size_t flagged;     /* rows this detector flagged */
    size_t by_sev[ASSAY__SEV_COUNT];
    double stat[4]; /* detector statistics, named by stat_name */
    const char *stat_name[4];
    double seconds;
} assay__det_summary;

/* Precision/recall/AUROC against planted truth (assay_result_evaluate). */
typedef struct assay__eval_group {
    char name[48]; /* attack name, or "all" */
    size_t rows, flagged;
    double recall, auroc; /* auroc against the clean rows; NaN when undefined */
} assay__eval_group;

typedef struct assay__eval {
    int present;
    char *truth_path;
    size_t poisons, flagged, true_positives;
    double precision, recall, auroc;
    double det_auroc[ASSAY_DET_COUNT];
    assay__eval_group *groups;
    size_t n_groups;
} assay__eval;

/* Where the neighbour graph came from: built by the scan (path NULL), or read from a graph file
 * (assay_scan_opts.graph_path) after checking that it belongs to the dataset. */
typedef struct assay__graph_source {
    char *path; /* as given; owned */
    uint64_t bytes;
    unsigned char sha256[32];
    char tool[64]; /* the file's `tool` attribute ("assay 0.1.0"), "" if absent */
} assay__graph_source;

/* A comparison with a baseline manifest (src/baseline/baseline.h). */
typedef struct assay__baseline assay__baseline;

struct assay_result {
    size_t n;
    assay_scan_opts opts; /* opts.graph_path points to graph_file.path (or is NULL) */
    int n_threads;
    assay_isa isa;
    assay__graph graph;
    size_t n_in_graph;
    assay__graph_source graph_file;

    float *score;                         /* combined, in [0,1] */
    uint8_t *flagged;                     /* score >= 0.5 */
    uint8_t *severity;                    /* highest finding severity per row */
    float *det_score[ASSAY_DET_COUNT];    /* NaN where not applicable */
    float *det_evidence[ASSAY_DET_COUNT]; /* calibrated: >= 0.5 iff the detector flags */
    /* Per detector, NULL or per row the test (index into tests) its evidence depends on, -1 for
     * none (assay__result_row_tests allocates it). */
    int32_t *row_test[ASSAY_DET_COUNT];
    assay__test *tests;
    size_t n_tests, cap_tests;
    size_t n_significant;
    int32_t *suggested; /* neighbours' majority class when it differs from the row's, else -1 */

    assay__finding *findings;
    size_t n_findings, cap_findings;
    size_t *finding_start; /* n+1 offsets: findings of row r are [start[r], start[r+1]) */
    size_t *order;         /* flagged rows, most suspicious first */
    size_t n_flagged;
    size_t findings_by_sev[ASSAY__SEV_COUNT];
    size_t rows_by_sev[ASSAY__SEV_COUNT];
    assay__det_summary det[ASSAY_DET_COUNT];
    size_t small_classes; /* classes with fewer than 2 rows */

    int gate_passed;
    char gate_reason[512];
    /* The gate's verdict (src/policy/gate.c): combine applies the scan options' default policy,
     * assay_policy_apply a user's policy (once). */
    int verdict;                          /* assay_verdict */
    uint8_t det_verdict[ASSAY_DET_COUNT]; /* ASSAY__DV_* */
    char **gate_reasons;                  /* sentences: failures, warnings, then what passed */
    size_t n_gate_reasons;
    int exit_zero, exit_code;
    assay_severity warn_on;
    uint8_t *allowlisted;       /* per row: an active allowlist entry accepts it; NULL = none */
    size_t allowlisted_flagged; /* flagged rows the allowlist accepts (not counted) */
    struct json_t *policy_doc;  /* report.json "policy"; NULL when no policy was applied */
    int policy_applied;

    double t_knn, t_detect, t_total;
    char started[32], finished[32];
    assay__eval eval;
    /* with opts.baseline_path: the baseline and what changed since it (NULL without) */
    assay__baseline *baseline;
    /* p-value of the class-distribution shift against the baseline (chi-square test of
     * homogeneity); NaN without a baseline or when the test cannot be made. Drift, not a gate
     * failure by itself. */
    double class_shift_p;
};

/* Appends a finding (grows the array). */
assay_status assay__result_add_finding(assay_ctx *ctx, assay_result *res, const assay__finding *f);

/* Appends a test; *index (may be NULL) receives its index for findings and row_test. */
assay_status assay__result_add_test(assay_ctx *ctx, assay_result *res, const assay__test *t,
                                    int32_t *index);

/* Allocates res->row_test[det] filled with -1 (once; later calls return the same array). */
int32_t *assay__result_row_tests(assay_ctx *ctx, assay_result *res, assay_detector det);

/* Rows of class c in input order, for every class at once: rows of class c are
 * rows[start[c] .. start[c+1]); only rows in the graph (finite, usable) with a declared label.
 * rows holds n entries, start n_classes + 1. */
assay_status assay__class_rows(assay_ctx *ctx, const assay_dataset *ds, const assay_result *res,
                               size_t **rows, size_t **start);

/* ---- detectors: each fills det_score/det_evidence for its rows, adds findings and tests and
 * fills its summary (ran, rule, threshold, rows_scored, stats; combine recounts flagged and
 * by_sev from the findings it keeps). They only read the dataset and the graph; a detector
 * whose inputs are missing sets ran = 0 and a note. Each has an explain function that turns
 * one of its findings into a sentence for a reviewer (report/explain.c calls it). ---- */
#define ASSAY__DETECTOR(name)                                                                      \
    assay_status assay__detect_##name(assay_ctx *ctx, const assay_dataset *ds, assay_result *res);
#define ASSAY__EXPLAINED_DETECTOR(name)                                                            \
    ASSAY__DETECTOR(name)                                                                          \
    void assay__explain_##name(const assay_dataset *ds, const assay_result *res,                   \
                               const assay__finding *f, char *buf, size_t len);
/* explained in report/explain.c */
ASSAY__DETECTOR(integrity)
ASSAY__DETECTOR(duplicate)
ASSAY__DETECTOR(knn_label)
ASSAY__DETECTOR(knn_outlier)
/* explained by their own modules */
ASSAY__EXPLAINED_DETECTOR(spectral)
ASSAY__EXPLAINED_DETECTOR(spectre)
ASSAY__EXPLAINED_DETECTOR(cluster)
ASSAY__EXPLAINED_DETECTOR(mahalanobis)
ASSAY__EXPLAINED_DETECTOR(confident)
ASSAY__EXPLAINED_DETECTOR(near_duplicate)
ASSAY__EXPLAINED_DETECTOR(valuation)
ASSAY__EXPLAINED_DETECTOR(ordering)
ASSAY__EXPLAINED_DETECTOR(imbalance)
ASSAY__EXPLAINED_DETECTOR(ecod)
ASSAY__EXPLAINED_DETECTOR(tampering) /* src/baseline/tampering.c */
#undef ASSAY__EXPLAINED_DETECTOR
#undef ASSAY__DETECTOR

/* Combined score, flags, severities, ordering and the gate verdict. */
assay_status assay__combine(assay_ctx *ctx, const assay_dataset *ds, assay_result *res);
/* Sorts and indexes the findings by row (finding_start). */
assay_status assay__combine_index(assay_ctx *ctx, assay_result *res);
/* From det_evidence and the findings: combined score, flags, row severities, counts, order. */
assay_status assay__combine_rank(assay_ctx *ctx, const assay_dataset *ds, assay_result *res);

/* Per-detector gate verdicts (report.json "detectors"[i].verdict). */
enum { ASSAY__DV_PASS = 0, ASSAY__DV_WARN, ASSAY__DV_FAIL, ASSAY__DV_NOT_RUN };
/* The gate with the policy the scan options imply (fail_on, max_flagged_fraction). */
assay_status assay__gate_default(assay_ctx *ctx, const assay_dataset *ds, assay_result *res);
/* Frees what the gate stored in the result. */
void assay__gate_clear(assay_result *res);

/* Maps a detector score s with flag threshold t (0 < t <= 1) to calibrated evidence:
 * 0.5 * s / t below t, 0.5 + 0.5 * (s - t) / (1 - t) from t up. */
float assay__evidence_from_threshold(float s, float t);

/* Reads the graph file o->graph_path into res->graph and res->graph_file after checking that it
 * was built for this dataset (rows, digest), with o's k and metric, and leaves out exactly the
 * rows in_graph does not mark; every listed distance is measured again (src/scan/graph_file.c). */
assay_status assay__graph_load_for_scan(assay_ctx *ctx, const assay_dataset *ds,
                                        const assay_scan_opts *o, const uint8_t *in_graph,
                                        assay_result *res);

/* Frees everything a result owns and zeroes it (the struct itself is the caller's). */
void assay__result_clear(assay_result *res);

/* Allocates the per-row arrays of a result for n rows. */
assay_status assay__result_alloc(assay_ctx *ctx, assay_result *res, size_t n);

#endif

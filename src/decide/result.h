/* SPDX-License-Identifier: Apache-2.0 */
/* The one in-memory scan result that every report format is rendered from: the neighbour graph,
 * every detector's output, and what the decision step made of them -- tests adjusted together,
 * the combined per-row score and flags, the findings kept, the gate's verdict -- plus the
 * baseline comparison, the evaluation against planted truth and the timings. The scan
 * (src/scan/) fills it; reports (src/report/) only read it. */
#ifndef ASSAY_RESULT_H
#define ASSAY_RESULT_H

#include <jansson.h>

#include "baseline/baseline.h"
#include "core/internal.h"
#include "core/neighbours.h"
#include "detect/detector.h"
#include "graph/graph_file.h"
#include "io/dataset_internal.h"

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

/* Per-detector gate verdicts (report.json "detectors"[i].verdict). */
enum { ASSAY__DV_PASS = 0, ASSAY__DV_WARN, ASSAY__DV_FAIL, ASSAY__DV_NOT_RUN };

struct assay_result {
    size_t n;
    assay_scan_opts opts; /* opts.graph_path points to graph_file.path (or is NULL) */
    int n_threads;
    int n_ranks; /* processes that built the graph (MPI ranks; 1 otherwise) */
    assay_isa isa;
    assay__graph graph;
    size_t n_in_graph;
    assay__graph_source graph_file;

    /* every detector's output, by enum value (their findings move to `findings` when decided) */
    assay__det_out det[ASSAY_DET_COUNT];

    /* ---- decided (src/decide/combine.c, gate.c) ---- */
    float *score;       /* combined, in [0,1] */
    uint8_t *flagged;   /* score >= 0.5 */
    uint8_t *severity;  /* highest finding severity per row */
    int32_t *suggested; /* the class a detector suggests instead of the row's, else -1 */
    /* every detector's tests in run order (det[d].test_global maps a detector's own indices) */
    assay__test *tests;
    size_t n_tests;
    size_t n_significant;

    assay__finding *findings; /* the findings kept, sorted by row */
    size_t n_findings;
    size_t *finding_start; /* n+1 offsets: findings of row r are [start[r], start[r+1]) */
    size_t *order;         /* flagged rows, most suspicious first */
    size_t n_flagged;
    size_t findings_by_sev[ASSAY__SEV_COUNT];
    size_t rows_by_sev[ASSAY__SEV_COUNT];
    size_t small_classes; /* classes with fewer than 2 rows */

    int gate_passed;
    char gate_reason[512];
    /* The gate's verdict (src/decide/gate.c): the scan applies the scan options' default policy,
     * assay_policy_apply a user's policy (once). */
    int verdict;                          /* assay_verdict */
    uint8_t det_verdict[ASSAY_DET_COUNT]; /* ASSAY__DV_* */
    char **gate_reasons;                  /* sentences: failures, warnings, then what passed */
    size_t n_gate_reasons;
    int exit_zero, exit_code;
    assay_severity warn_on;
    uint8_t *allowlisted;       /* per row: an active allowlist entry accepts it; NULL = none */
    size_t allowlisted_flagged; /* flagged rows the allowlist accepts (not counted) */
    json_t *policy_doc;         /* report.json "policy"; NULL when no policy was applied */
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
    /* Rows known to be clean (opts.trusted_ids_path, opts.trusted_data): `row` and `data_class`
     * are owned (data is the caller's); what was read for report.json. */
    assay__trusted trusted; /* trusted.data is NULL once the detectors ran */
    size_t trusted_ids_listed, trusted_ids_unknown;
    char *trusted_ids_path; /* owned copies of the names, for report.json */
    char *trusted_data_path;
    size_t trusted_data_rows;
};

/* Allocates the per-row arrays of a result and every detector's empty output for n rows. */
assay_status assay__result_alloc(assay_ctx *ctx, assay_result *res, size_t n);
/* Frees everything a result owns and zeroes it (the struct itself is the caller's). */
void assay__result_clear(assay_result *res);

/* The view the detectors read (ctx may be NULL: for explanations at report time). */
assay__det_input assay__result_input(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_result *res);
/* What the baseline comparison reads of the scan. */
assay__bl_scan assay__result_bl_scan(const assay_dataset *ds, const assay_result *res);

/* The scan-wide index of the test a finding depends on (into res->tests), -1 for none. */
int32_t assay__result_test_of(const assay_result *res, const assay__finding *f);

/* ---- the decision step (combine.c) ---- */

/* After the detectors ran: gathers their tests and findings, adjusts the tests together,
 * combines the evidence into scores, flags, severities and a ranking, and runs the gate with
 * the scan options' default policy. */
assay_status assay__combine(assay_ctx *ctx, const assay_dataset *ds, assay_result *res);
/* Sorts and indexes the findings by row (finding_start). */
assay_status assay__combine_index(assay_ctx *ctx, assay_result *res);
/* The second-stage test of src/decide/corroborate.c: a significant row-order effect whose block
 * concentrates rows that evidence detectors flag. Appended to ordering's tests, decided. When
 * the order effect is significant but not corroborated, ordering's flags are taken back: a
 * block of a sorted file is an observation about the file, not rows to review. */
assay_status assay__corroborate_ordering(assay_ctx *ctx, const assay_dataset *ds,
                                         assay_result *res);

/* Takes back detector d's flags (its findings dropped, its evidence scaled by
 * ASSAY__OBSERVATION_SCALE: the rows keep their order far below the flag line, its counts zeroed,
 * `note` set): for a detector that flags more than flag-cap of the rows, and for an
 * uncorroborated row-order block. Its tests stand. */
void assay__take_back_flags(assay_result *res, assay_detector d, const char *note);

/* From the evidence and the findings: combined score, flags, row severities, counts, order. */
assay_status assay__combine_rank(assay_ctx *ctx, const assay_dataset *ds, assay_result *res);

/* ---- the gate (gate.c) ---- */

/* The gate with the policy the scan options imply (fail_on, max_flagged_fraction). */
assay_status assay__gate_default(assay_ctx *ctx, const assay_dataset *ds, assay_result *res);
/* Frees what the gate stored in the result. */
void assay__gate_clear(assay_result *res);

#endif

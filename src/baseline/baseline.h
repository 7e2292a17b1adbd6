/* SPDX-License-Identifier: Apache-2.0 */
/* Scheduled scans against a baseline: a dataset's rows and per-class statistics as a "side"
 * (read back from a manifest.json, or taken from a scan in memory), and the one comparison of
 * two sides that both `assay scan --baseline` (the tampering detector) and `assay diff` use:
 * rows added, removed, changed and relabelled, the class-distribution shift (chi-square) and the
 * drift of each class's centroid and detector-score quantiles. */
#ifndef ASSAY_BASELINE_H
#define ASSAY_BASELINE_H

#include "core/internal.h"
#include "core/neighbours.h"
#include "detect/detector.h"
#include "io/dataset_internal.h"

/* Quantiles of each detector's per-row scores kept per class (p50, p90, p99). */
#define ASSAY__BL_NQ 3
extern const double assay__bl_quantiles[ASSAY__BL_NQ];

/* Lists in reports are capped at this many entries (with a "truncated" flag). */
#define ASSAY__BL_LIST_CAP 1000

/* One class's statistics in the representation the detectors see (docs/pipelines.md, "Scheduled
 * scans"). */
typedef struct assay__bl_class_stats {
    const char *label; /* label value as text */
    const char *name;  /* display name */
    size_t rows;       /* rows in the centroid: in the neighbour graph, declared label */
    double *centroid;  /* d values (NULL when rows == 0) */
    double spread;     /* RMS distance of the rows to the centroid */
    /* per detector: rows with a finite score, and the quantiles (NaN when none / not run) */
    size_t scored[ASSAY_DET_COUNT];
    double q[ASSAY_DET_COUNT][ASSAY__BL_NQ];
} assay__bl_class_stats;

typedef struct assay__bl_stats {
    int present;
    assay_metric metric;
    int normalised; /* rows scaled to unit length before the centroid (cosine metric) */
    size_t d;
    size_t n_classes;
    assay__bl_class_stats *classes;
    assay__strpool pool;
} assay__bl_stats;

/* A dataset's rows as a baseline comparison sees them. Ids and labels are kept as text (an
 * integer column is formatted in decimal), with whether the column was integer. */
typedef struct assay__bl_side {
    char *path; /* the manifest file, or the scanned dataset */
    int from_manifest;
    unsigned char file_sha256[32]; /* of the manifest file (from_manifest) */
    char dataset_sha256[65];
    char created[40]; /* manifest "created", "" for a scan in memory */
    char tool_version[40];
    size_t n;
    int has_ids, ids_int, labels_int;
    const char **id;    /* n (NULL when !has_ids) */
    const char **label; /* n */
    unsigned char (*digest)[32];
    /* the features-only digest per row (NULL for a manifest written before it was kept) */
    unsigned char (*content)[32];
    /* the class list with names (labels.classes) */
    size_t n_classes;
    const char **class_label, **class_name;
    assay__bl_stats stats;
    assay__strpool pool;
} assay__bl_side;

typedef struct assay__bl_changed {
    size_t old_index, new_index;
    int relabelled;
} assay__bl_changed;

typedef struct assay__bl_shift_class {
    const char *label, *name;
    size_t old_count, new_count;
} assay__bl_shift_class;

typedef struct assay__bl_drift_class {
    const char *label, *name;
    size_t old_rows, new_rows;
    double centroid_shift;  /* Euclidean distance between the centroids */
    double shift_radii;     /* centroid_shift / old spread */
    double cosine_distance; /* 1 - cos(old centroid, new centroid) */
    double old_spread, new_spread;
    const assay__bl_class_stats *old_stats, *new_stats;
} assay__bl_drift_class;

/* Why `assay diff` fails when the ids changed wholesale (summary, diff.json). */
#define ASSAY__IDS_REPLACED_REASON                                                                 \
    "the ids changed wholesale, so no row could be matched by id (rows were matched by their "     \
    "features instead, which cannot follow a row whose features changed); check the export "       \
    "(renumbered or re-keyed ids?) or start a new baseline from the current manifest"

typedef struct assay__bl_diff {
    int by_id;      /* matched by id (else by a digest) */
    int by_content; /* not by id: matched by the features-only digest (both sides have it), so a
                     * row keeps its match when its id changed; else by the whole-row digest */
    const char *matching_note;
    /* Both sides have ids and rows but at most 1% of the rows share an id (a re-export that
     * renumbered every row): the rows were then matched by row digest instead. */
    int ids_replaced;
    size_t ids_in_common; /* rows matched by id before falling back (ids_replaced) */
    size_t *added;        /* new-side indices */
    size_t *removed;      /* old-side indices */
    assay__bl_changed *changed;
    size_t n_added, n_removed, n_changed, n_relabelled, n_unchanged;
    /* chi-square test of homogeneity on the 2 x C table of class counts */
    double chi2, p_value;
    int df;
    const char *shift_note; /* why the test could not be made, or NULL */
    assay__bl_shift_class *shift;
    size_t n_shift;
    /* drift of classes present in both sides' statistics */
    const char *drift_note;
    assay__bl_drift_class *drift;
    size_t n_drift;
} assay__bl_diff;

/* What the baseline comparison reads of a scan: the dataset, its neighbour graph (which rows
 * count), the metric, and every detector's output by enum value (their scores summarised per
 * class). */
typedef struct assay__bl_scan {
    const assay_dataset *ds;
    const assay__graph *graph;
    assay_metric metric;
    const assay__det_out *det; /* ASSAY_DET_COUNT */
} assay__bl_scan;

/* A comparison: the baseline (old), the current data (new), what differs, and the chain to the
 * report written next to the baseline manifest. */
typedef struct assay__baseline {
    assay__bl_side old_side, new_side;
    assay__bl_diff diff;
    int compared;            /* diff is filled */
    int has_previous_report; /* previous_report_sha256 is set */
    unsigned char previous_report_sha256[32];
    char *previous_report_path; /* OLD/report.json next to the manifest */
    const char *previous_report_note;
    /* the changed rows as the tampering detector reads them (valid once compared) */
    assay__row_changes changes;
    assay__changed_row *changed_rows;
    uint8_t *added;
} assay__baseline;

/* ---- sides ---- */

/* Reads manifest.json (schema assay-manifest/1) into *side. ASSAY_E_NOTFOUND / ASSAY_E_IO when
 * unreadable, ASSAY_E_FORMAT naming the file and the key when it is not such a manifest. */
assay_status assay__bl_side_read(assay_ctx *ctx, const char *path, assay__bl_side *side);

/* The same from the manifest's text in memory (`path` names it in messages). */
assay_status assay__bl_side_read_buf(assay_ctx *ctx, const char *path, const char *text, size_t len,
                                     assay__bl_side *side);

/* The scanned dataset as a side: rows from the dataset, statistics from the scan. */
assay_status assay__bl_side_from_scan(assay_ctx *ctx, const assay__bl_scan *scan,
                                      assay__bl_side *side);

void assay__bl_side_free(assay__bl_side *side);

/* Per-class statistics of a scan (centroids, spreads, detector-score quantiles); ctx may be
 * NULL. The tampering detector's own scores are not summarised. */
assay_status assay__bl_stats_compute(assay_ctx *ctx, const assay__bl_scan *scan,
                                     assay__bl_stats *st);
void assay__bl_stats_free(assay__bl_stats *st);

/* ---- the comparison ---- */

/* Compares old with new into *diff (freed with assay__bl_diff_free). */
assay_status assay__bl_compare(assay_ctx *ctx, const assay__bl_side *old_side,
                               const assay__bl_side *new_side, assay__bl_diff *diff);
void assay__bl_diff_free(assay__bl_diff *diff);
/* The class whose centroid moved most, in class radii (NULL if none). */
const assay__bl_drift_class *assay__bl_largest_drift(const assay__bl_diff *diff);

/* Loads the baseline manifest and hashes the report.json next to it (if any). */
assay_status assay__baseline_open(assay_ctx *ctx, const char *manifest_path, assay__baseline **out);
void assay__baseline_free(assay__baseline *b);

/* Compares the scan (its detectors' scores so far included, for the class statistics) with the
 * baseline: fills b->new_side, b->diff and b->changes (what the tampering detector reads). */
assay_status assay__baseline_compare(assay_ctx *ctx, const assay__bl_scan *scan,
                                     assay__baseline *b);

/* `assay diff`'s comparison of two manifests (include/assay/assay_baseline.h). */
struct assay_diff {
    assay__baseline *b;
};

/* SHA-256 of a file's bytes. ASSAY_E_NOTFOUND / ASSAY_E_IO naming the file. */
assay_status assay__bl_sha256_file(assay_ctx *ctx, const char *path, unsigned char out[32]);

#endif

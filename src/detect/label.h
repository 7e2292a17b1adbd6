/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the three label detectors (knn-label, confident, valuation): confident learning on a
 * matrix of out-of-sample class probabilities (cleanlab's filter.find_label_issues), the
 * neighbours' class distribution of every row, the Deep k-NN neighbourhood size and the
 * dataset-level label-noise test. */
#ifndef ASSAY_DETECT_LABEL_H
#define ASSAY_DETECT_LABEL_H

#include "detect/detector.h"

/* The filter_by modes of confident learning (the confident-filter parameter). */
enum {
    ASSAY__CL_PRUNE_BY_NOISE_RATE = 0, /* cleanlab's default */
    ASSAY__CL_PRUNE_BY_CLASS = 1,
    ASSAY__CL_BOTH = 2,
    ASSAY__CL_CONFIDENT_LEARNING = 3,
    ASSAY__CL_PREDICTED_NEQ_GIVEN = 4
};

/* What confident learning estimated, for reports and tests. Matrices are K x K, row-major. */
typedef struct assay__cl_result {
    size_t k;            /* classes */
    double *threshold;   /* t_j = mean p(j|x) over rows labelled j (2 for an empty class) */
    int64_t *joint;      /* confident joint C[given][true] before calibration (diagonal >= 1) */
    int64_t *calibrated; /* C calibrated: row i sums to the count of label i, total N */
    int64_t *prune;      /* rows to remove, [true][given] (cleanlab's prune_count_matrix) */
    size_t rows;         /* rows used (label >= 0) */
    size_t issues;       /* rows flagged */
} assay__cl_result;

/* Confident learning (Northcutt, Jiang, Chuang, JAIR 2021) as cleanlab's
 * filter.find_label_issues computes it with min_examples_per_class = 1 and frac_noise = 1:
 * per-class thresholds, the confident joint (several classes passing: the row's overall argmax),
 * calibration, rounding that preserves row totals, then `filter` (ASSAY__CL_*), and finally no
 * row whose argmax is its label is flagged. y[r] < 0 leaves row r out (as if it were not in the
 * data). p holds n rows of k probabilities (row r at p + r * k). issue[r] (n bytes) is set to
 * 1 for the rows flagged, else 0. Ties between rows with equal margins go to the lower row.
 * out may be NULL; else it receives the estimates (free with assay__cl_result_free).
 * Returns ASSAY_OK or ASSAY_E_NOMEM. */
assay_status assay__cl_find_issues(assay_ctx *ctx, const int32_t *y, const float *p, size_t n,
                                   size_t k, int filter, uint8_t *issue, assay__cl_result *out);
void assay__cl_result_free(assay__cl_result *r);

/* The label-noise model (src/detect/noise_model.c): post[r] = the probability that row r's
 * label is wrong given the share of its neighbours carrying it (p: n x k neighbour shares, as
 * assay__knn_label_probs gives them; y[r] < 0: left out, NaN), from the noise cl estimated on
 * the same shares (its calibrated confident joint). transition (k x k) receives the estimated
 * T[true][given] = P(given label | true class). Returns ASSAY_OK or ASSAY_E_NOMEM. */
assay_status assay__noise_posterior(assay_ctx *ctx, const int32_t *y, const float *p, size_t n,
                                    size_t k, const assay__cl_result *cl, float *post,
                                    double *transition);

/* The out-of-sample class probabilities of k-NN: p[r * n_classes + c] = share of row r's graph
 * neighbours labelled c. The graph never lists a row as its own neighbour, so these are exactly
 * the leave-one-out probabilities cleanlab's Datalab derives from k + 1 neighbours with the
 * point itself among them, (p_knn - onehot(y) / (k + 1)) * (k + 1) / k. Rows left out of the
 * graph get all zeros; neighbours with an undeclared label count in the denominator only. */
void assay__knn_label_probs(const assay__det_input *in, float *p);

/* knn-label's score of every row: 1 - the share of the votes carrying the row's label, where
 * the voters are the row's k graph neighbours and the rows that list it among theirs (each with
 * weight 1, or 1 / (distance + tau) with opts.weighted, tau = the median nearest-neighbour
 * distance). score[r] is NaN for rows out of the graph or without a label. Optional outputs
 * (may be NULL, n entries): the label with the most votes where it beats the row's own
 * (else -1) and its share, the number of voters; *tau_out the weight offset. *rows_scored and
 * *rejected count the rows scored and those scoring >= opts.label_threshold.
 * Returns ASSAY_OK or ASSAY_E_NOMEM. */
assay_status assay__knn_label_votes(const assay__det_input *in, float *score, int32_t *suggested,
                                    float *best_share, uint32_t *voters, size_t *rows_scored,
                                    size_t *rejected, float *tau_out);

/* Deep k-NN's neighbourhood (Peri et al. 2020): 2 x the expected poisons per class,
 * ceil(2 * expected-poison * rows / classes), at most ASSAY__DEEP_KNN_MAX_K and at most rows - 1;
 * 0 when expected-poison is 0 (not given). */
#define ASSAY__DEEP_KNN_MAX_K 256u
uint32_t assay__deep_knn_k(const assay_scan_opts *o, size_t rows, size_t n_classes);

/* Adds the detector's dataset-level label-noise test: `rejected` of `rows` rows carry a label
 * that the evidence (`what`: static text) rejects. Null: that share is at most `tolerance`
 * (natural class overlap; the label-noise-tolerance parameter); one-sided binomial tail.
 * *index receives the test's index. Returns ASSAY_OK or ASSAY_E_NOMEM. */
assay_status assay__label_noise_test(assay__det_out *out, size_t rejected, size_t rows,
                                     double tolerance, const char *what, int32_t *index);

#endif

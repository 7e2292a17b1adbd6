/* SPDX-License-Identifier: Apache-2.0 */
/* Cross-fitted (out-of-fold) class probabilities from the embeddings and the labels alone, for
 * confident learning when the user gives no model's predicted probabilities (cleanlab's own
 * recipe: K-fold cross-validated predictions of a simple classifier).
 *
 * The model is a one-vs-rest ridge classifier on standardised features (the statistics of the
 * training folds), whose K scores go through a softmax at a fitted temperature. The ridge
 * strength and the temperature are chosen by an inner cross-validation on the training folds
 * only (lowest log loss of the inner out-of-fold scores), so no probability of a row comes from
 * a model, a hyperparameter or a temperature that saw that row. Everything goes through the
 * Gram matrices of the folds: one pass over the data (ssyrk, in blocks added in double), then
 * d x d Cholesky solves (dpotrf/dpotrs) per fit, and sgemm to score rows. Folds are stratified
 * by class and drawn from a generator seeded with the dataset's fingerprint and the seed
 * parameter: the same input gives the same bytes, on any number of threads (BLAS runs
 * single-threaded inside; the folds run on the context's threads). */
#ifndef ASSAY_CROSSFIT_H
#define ASSAY_CROSSFIT_H

#include "detect/detector.h"

#define ASSAY__CROSSFIT_MODEL                                                                      \
    "one-vs-rest ridge on standardised features, softmax at a fitted temperature"
#define ASSAY__CROSSFIT_MAX_FOLDS 20
#define ASSAY__CROSSFIT_MAX_DIM                                                                    \
    1024 /* d x d Gram per block and Cholesky solves: beyond, too slow */

typedef struct assay__crossfit_opts {
    size_t folds;  /* K >= 2 */
    uint64_t seed; /* mixed with the dataset's fingerprint */
    double alpha;  /* ridge strength per training row (standardised units); 0 = chosen by inner
                    * cross-validation from a grid */
    int in_sample; /* tests only: every row scored by a model fitted on all rows (leaks!) */
} assay__crossfit_opts;

typedef struct assay__crossfit_info {
    size_t folds;
    size_t rows;         /* rows that got probabilities (declared label, finite features) */
    size_t correct;      /* of them, rows whose most probable class is their label */
    double accuracy;     /* correct / rows */
    double log_loss;     /* mean -log p(label) over the rows */
    double alpha_median; /* median over the folds of the ridge strength chosen */
    double temperature;  /* median over the folds of the inverse temperature fitted */
    double seconds;
} assay__crossfit_info;

/* Why cross-fitting cannot run on ds with `folds` folds (a static sentence), or NULL when it
 * can: fewer than 2 classes, no features, more than ASSAY__CROSSFIT_MAX_DIM features, fewer than
 * 2 labelled finite rows per fold. */
const char *assay__crossfit_unusable(const assay_dataset *ds, size_t folds);

/* Writes p (ds->n rows of ds->n_classes probabilities, row r at p + r * n_classes): for every
 * row with a declared label and finite features, its class probabilities from the model fitted
 * on the other folds (they sum to 1); NaN for the other rows. info may be NULL.
 * Returns ASSAY_E_INVAL (unusable, message set), ASSAY_E_NOMEM, ASSAY_E_BLAS. */
assay_status assay__crossfit_probs(assay_ctx *ctx, const assay_dataset *ds,
                                   const assay__crossfit_opts *opts, float *p,
                                   assay__crossfit_info *info);

#endif

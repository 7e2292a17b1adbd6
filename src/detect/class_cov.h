/* SPDX-License-Identifier: Apache-2.0 */
/* Class covariances shared between detectors. spectral and spectre both start a class from its
 * mean and d x d covariance (assay__rows_mean, assay__rows_cov_f32 over the class's rows): the
 * O(n d^2) pass is the largest part of either on wide data. The first detector that asks for a
 * class computes them and, within a memory budget fixed when the cache is made, keeps a copy for
 * the next; a class beyond the budget is computed again. The values are the same either way (the
 * same rows, the same single-threaded BLAS), so no result depends on the cache, on the budget or
 * on which detectors run. */
#ifndef ASSAY_CLASS_COV_H
#define ASSAY_CLASS_COV_H

#include <stddef.h>

#include "detect/detector.h"

/* Bytes of covariances kept at most (whole classes, in class order). */
#define ASSAY__CLASS_COV_BUDGET ((size_t)256 << 20)

/* A cache for n_classes classes of d features holding at most `budget` bytes; NULL when out of
 * memory (then every request computes: the cache is only a saving). */
assay__class_covs *assay__class_covs_new(size_t n_classes, size_t d, size_t budget);
void assay__class_covs_free(assay__class_covs *cache);

/* mu (d) and cov (d x d, both triangles) of class c, whose rows are rows[0..n): copied from
 * cache (which may be NULL) when kept there, else computed and, if class c is within the budget,
 * kept. Class c's slot is only touched by a call for class c, so the classes of a per-class
 * run may call it side by side. ctx may be NULL. Returns ASSAY_E_NOMEM. */
assay_status assay__class_cov(assay_ctx *ctx, assay__class_covs *cache, const assay_dataset *ds,
                              size_t c, const size_t *rows, size_t n, double *mu, double *cov);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Class covariances shared between detectors (detect/class_cov.h). */
#include <stdlib.h>
#include <string.h>

#include "detect/class_cov.h"
#include "detect/linalg.h"

typedef struct class_slot {
    double *mu, *cov; /* NULL until computed */
    size_t n;         /* rows it was computed from */
} class_slot;

struct assay__class_covs {
    size_t n_classes, d, kept; /* classes [0, kept) may be kept */
    class_slot *slot;
};

assay__class_covs *assay__class_covs_new(size_t n_classes, size_t d, size_t budget) {
    assay__class_covs *cache = calloc(1, sizeof *cache);
    if (cache == NULL) return NULL;
    cache->slot = calloc(n_classes ? n_classes : 1, sizeof *cache->slot);
    if (cache->slot == NULL) {
        free(cache);
        return NULL;
    }
    cache->n_classes = n_classes;
    cache->d = d;
    const size_t per_class = (d * d + d) * sizeof(double);
    cache->kept = per_class > 0 ? budget / per_class : 0;
    if (cache->kept > n_classes) cache->kept = n_classes;
    return cache;
}

void assay__class_covs_free(assay__class_covs *cache) {
    if (cache == NULL) return;
    for (size_t c = 0; c < cache->n_classes; c++) {
        free(cache->slot[c].mu);
        free(cache->slot[c].cov);
    }
    free(cache->slot);
    free(cache);
}

assay_status assay__class_cov(assay_ctx *ctx, assay__class_covs *cache, const assay_dataset *ds,
                              size_t c, const size_t *rows, size_t n, double *mu, double *cov) {
    const size_t d = ds->d;
    class_slot *s = cache != NULL && cache->d == d && c < cache->kept ? &cache->slot[c] : NULL;
    if (s != NULL && s->cov != NULL && s->n == n) {
        memcpy(mu, s->mu, d * sizeof *mu);
        memcpy(cov, s->cov, d * d * sizeof *cov);
        return ASSAY_OK;
    }
    assay__rows_mean(ds->x, ds->ld, d, rows, n, mu);
    ASSAY_TRY(assay__rows_cov_f32(ctx, ds->x, ds->ld, d, rows, n, mu, cov));
    if (s == NULL || s->cov != NULL) return ASSAY_OK;
    s->mu = malloc(d * sizeof *s->mu);
    s->cov = malloc(d * d * sizeof *s->cov);
    if (s->mu == NULL || s->cov == NULL) { /* not kept: the next detector computes again */
        free(s->mu);
        free(s->cov);
        s->mu = s->cov = NULL;
        return ASSAY_OK;
    }
    memcpy(s->mu, mu, d * sizeof *mu);
    memcpy(s->cov, cov, d * d * sizeof *cov);
    s->n = n;
    return ASSAY_OK;
}

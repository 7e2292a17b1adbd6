/* SPDX-License-Identifier: Apache-2.0 */
/* Synthetic Gaussian blobs with planted poisons: small, seeded datasets whose every anomaly is
 * known, for tests and for checking a detector without downloading anything. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datagen_internal.h"

enum { STREAM_CENTRES = 101, STREAM_LABELS = 102, STREAM_NOISE = 103, STREAM_PLANT = 104 };

assay_status datagen_synth(const datagen_synth_opts *opts, datagen_data *data, datagen_truth *truth,
                           datagen_plant_report *report, datagen_error *err) {
    memset(data, 0, sizeof *data);
    memset(truth, 0, sizeof *truth);
    size_t n = opts->n, d = opts->d, classes = opts->classes;
    if (n == 0 || d == 0)
        return datagen_fail(err, ASSAY_E_INVAL,
                            "synthetic data needs n >= 1 and d >= 1 (got %zu, %zu)", n, d);
    if (classes < 2 || classes > n || classes > INT32_MAX)
        return datagen_fail(err, ASSAY_E_INVAL,
                            "synthetic data: %zu classes for %zu rows, expected 2..n", classes, n);
    if (!isfinite(opts->separation) || opts->separation < 0.0)
        return datagen_fail(err, ASSAY_E_INVAL, "synthetic data: separation %g must be >= 0",
                            opts->separation);
    DATAGEN_TRY(datagen_data_alloc(data, n, d, classes, err));
    float *centres = malloc(classes * d * sizeof *centres);
    if (centres == NULL) {
        datagen_data_free(data);
        return datagen_fail(err, ASSAY_E_NOMEM, "out of memory for %zu class centres", classes);
    }
    /* Two centres with N(0, s^2) coordinates are sqrt(2 d) s apart on average; choosing
     * s = separation / sqrt(2 d) makes that distance `separation` within-class sds at any d. */
    datagen_rng rng = datagen_rng_stream(opts->seed, STREAM_CENTRES);
    double s = opts->separation / sqrt(2.0 * (double)d);
    for (size_t i = 0; i < classes * d; i++) centres[i] = (float)(s * datagen_rng_normal(&rng));

    /* Balanced classes (i mod C) in shuffled order, so row position says nothing about class. */
    rng = datagen_rng_stream(opts->seed, STREAM_LABELS);
    for (size_t i = 0; i < n; i++) data->labels[i] = (int32_t)(i % classes);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)datagen_rng_below(&rng, i + 1);
        int32_t t = data->labels[i];
        data->labels[i] = data->labels[j];
        data->labels[j] = t;
    }
    rng = datagen_rng_stream(opts->seed, STREAM_NOISE);
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (size_t)data->labels[i] * d;
        for (size_t k = 0; k < d; k++)
            data->x[i * d + k] = (float)(c[k] + datagen_rng_normal(&rng));
    }
    free(centres);

    datagen_plant_opts plant = opts->plant;
    rng = datagen_rng_stream(opts->seed, STREAM_PLANT);
    plant.seed = datagen_rng_next(&rng);
    assay_status st = datagen_truth_init(truth, n, err);
    if (st == ASSAY_OK) st = datagen_plant(data, &plant, truth, report, err);
    if (st != ASSAY_OK) {
        datagen_data_free(data);
        datagen_truth_free(truth);
    }
    return st;
}

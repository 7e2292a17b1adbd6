/* SPDX-License-Identifier: Apache-2.0 */
/* Test datasets from the synthetic generator: generate, write in a format, optionally write the
 * truth file and keep the truth in memory. Shared by the tests that scan whole files. */
#ifndef ASSAY_TEST_DATA_H
#define ASSAY_TEST_DATA_H

#include "test_util.h"

#include "datagen.h"

/* Writes the dataset `o` describes to `path` as `fmt`; the truth goes to truth_path (may be
 * NULL) and, if truth_out is not NULL, to *truth_out (free with datagen_truth_free). */
static inline void tu_write_synth(const datagen_synth_opts *o, datagen_format fmt, const char *path,
                                  const char *truth_path, datagen_truth *truth_out) {
    datagen_data data;
    datagen_truth truth;
    datagen_error err;
    assert_int_equal(datagen_synth(o, &data, &truth, NULL, &err), ASSAY_OK);
    assert_int_equal(datagen_write(fmt, path, &data, 0, &err), ASSAY_OK);
    if (truth_path) assert_int_equal(datagen_write_truth(truth_path, &truth, &err), ASSAY_OK);
    datagen_data_free(&data);
    if (truth_out)
        *truth_out = truth;
    else
        datagen_truth_free(&truth);
}

#endif

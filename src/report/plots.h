/* SPDX-License-Identifier: Apache-2.0 */
/* report.json "plots" (src/report/plots.c): the data report.html draws. */
#ifndef ASSAY_REPORT_PLOTS_H
#define ASSAY_REPORT_PLOTS_H

#include <jansson.h>

#include "decide/result.h"

/* {"score_histograms": [...], "flagged_by_class": [...], "pca": {...}} for a scan; the same for
 * any thread count. New reference; NULL when out of memory. */
json_t *assay__plots_json(const assay_dataset *ds, const assay_result *res);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The scan's trusted rows (assay_scan_opts.trusted_ids_path, trusted_data): ids matched to rows,
 * a separate clean dataset's labels matched to the scanned dataset's classes. */
#ifndef ASSAY_TRUSTED_H
#define ASSAY_TRUSTED_H

#include "decide/result.h"

/* Fills res->trusted from the options. An id list names rows by their id (by their 0-based row
 * index when the dataset has no id column); ids not in the dataset are counted, not an error,
 * unless none matches. Trusted data must have the dataset's feature count and labels; rows with a
 * label the dataset does not have, or non-finite features, are left out. ASSAY_E_NOTFOUND,
 * ASSAY_E_IO, ASSAY_E_FORMAT, ASSAY_E_SHAPE (the message names the file), ASSAY_E_NOMEM. */
assay_status assay__trusted_open(assay_ctx *ctx, const assay_dataset *ds, const assay_scan_opts *o,
                                 assay_result *res);

#endif

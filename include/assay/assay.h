/* SPDX-License-Identifier: Apache-2.0 */
/* assay: training-data poisoning detector. Umbrella header of the public C API.
 *
 * Typical use:
 *   assay_ctx *ctx; assay_ctx_create(&ctx, NULL);
 *   assay_dataset *ds; assay_dataset_load(ctx, "train.h5", NULL, &ds);
 *   assay_result *res; assay_scan(ctx, ds, NULL, &res);
 *   assay_report_write(ctx, ds, res, "assay-report", NULL);
 *   assay_result_destroy(res); assay_dataset_destroy(ds); assay_ctx_destroy(ctx);
 *
 * Every function returns an assay_status; on failure assay_ctx_errmsg() says what went wrong,
 * naming the file, dataset, row or column. The library never prints and never exits. */
#ifndef ASSAY_H
#define ASSAY_H

#define ASSAY_VERSION_MAJOR  0
#define ASSAY_VERSION_MINOR  1
#define ASSAY_VERSION_PATCH  0
#define ASSAY_VERSION_STRING "0.1.0"

#include "assay_api.h"
#include "assay_status.h"
#include "assay_ctx.h"
#include "assay_dataset.h"
#include "assay_scan.h"
#include "assay_report.h"
#include "assay_baseline.h"
#include "assay_policy.h"

#endif

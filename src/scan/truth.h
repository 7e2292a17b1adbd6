/* SPDX-License-Identifier: Apache-2.0 */
/* The planted ground truth of `assay scan --truth FILE` (src/scan/evaluate.c). */
#ifndef ASSAY_TRUTH_H
#define ASSAY_TRUTH_H

#include "core/internal.h"

/* Reads the truth CSV (header index,is_poison,attack) for a dataset of n rows into three
 * columns (freed by the caller with assay__column_free, also on failure): index must count
 * 0..n-1 in order, is_poison be 0 or 1, attack names the attack of a poisoned row.
 * ASSAY_E_FORMAT / ASSAY_E_SHAPE naming the file, the row and the column. */
assay_status assay__truth_load(assay_ctx *ctx, const char *path, size_t n, assay__column *idx,
                               assay__column *poison, assay__column *attack);

#endif

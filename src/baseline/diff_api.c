/* SPDX-License-Identifier: Apache-2.0 */
/* `assay diff`: two manifests compared by the same code as `assay scan --baseline` (diff.json
 * and the summary are written by src/report/diff_report.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assay/assay_baseline.h"
#include "baseline/baseline.h"

assay_status assay_diff_manifests(assay_ctx *ctx, const char *old_manifest,
                                  const char *new_manifest, assay_diff **out) {
    if (out == NULL) return assay__fail(ctx, ASSAY_E_INVAL, "assay_diff_manifests: out is NULL");
    *out = NULL;
    if (old_manifest == NULL || new_manifest == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_diff_manifests: NULL manifest path");
    assay_diff *d = calloc(1, sizeof *d);
    if (d == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    assay_status s = assay__baseline_open(ctx, old_manifest, &d->b);
    if (s == ASSAY_OK) s = assay__bl_side_read(ctx, new_manifest, &d->b->new_side);
    if (s == ASSAY_OK) s = assay__bl_compare(ctx, &d->b->old_side, &d->b->new_side, &d->b->diff);
    if (s != ASSAY_OK) {
        assay_diff_destroy(d);
        return s;
    }
    d->b->compared = 1;
    *out = d;
    return ASSAY_OK;
}

size_t assay_diff_added(const assay_diff *d) {
    return d ? d->b->diff.n_added : 0;
}
size_t assay_diff_removed(const assay_diff *d) {
    return d ? d->b->diff.n_removed : 0;
}
size_t assay_diff_changed(const assay_diff *d) {
    return d ? d->b->diff.n_changed : 0;
}
size_t assay_diff_relabelled(const assay_diff *d) {
    return d ? d->b->diff.n_relabelled : 0;
}
int assay_diff_matched_by_id(const assay_diff *d) {
    return d ? d->b->diff.by_id : 0;
}
int assay_diff_ids_changed_wholesale(const assay_diff *d) {
    return d ? d->b->diff.ids_replaced : 0;
}
double assay_diff_class_shift_p(const assay_diff *d) {
    return d ? d->b->diff.p_value : NAN;
}

void assay_diff_destroy(assay_diff *d) {
    if (d == NULL) return;
    assay__baseline_free(d->b);
    free(d);
}

const char *assay_diff_matched_by(const assay_diff *d) {
    if (d == NULL || d->b->diff.by_id) return "id";
    return d->b->diff.by_content ? "content" : "digest";
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Comparing two scans of a dataset without rescanning: `assay diff OLD/manifest.json
 * NEW/manifest.json`. The comparison is the one `assay scan --baseline` makes (docs/pipelines.md,
 * "Scheduled scans"): rows added, removed, changed (same id, different row digest) and
 * relabelled, the class-distribution shift (chi-square test of homogeneity) and the drift of each
 * class's centroid and detector-score quantiles. */
#ifndef ASSAY_BASELINE_H_PUBLIC
#define ASSAY_BASELINE_H_PUBLIC

#include <stddef.h>
#include <stdio.h>
#include "assay_api.h"
#include "assay_status.h"
#include "assay_ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_diff assay_diff;

/* Reads both manifests (schema assay-manifest/1) and compares them. The report.json next to the
 * old manifest, if there is one, is hashed into the result (the chain of reports). Returns
 * ASSAY_OK, ASSAY_E_NOTFOUND or ASSAY_E_IO (unreadable file), ASSAY_E_FORMAT (not a manifest:
 * the message names the file and the key), ASSAY_E_NOMEM. On success *out owns the comparison. */
ASSAY_API assay_status assay_diff_manifests(assay_ctx *ctx, const char *old_manifest,
                                            const char *new_manifest, assay_diff **out);

/* Row counts: changed rows include the relabelled ones (same id, different label). */
ASSAY_API size_t assay_diff_added(const assay_diff *d);
ASSAY_API size_t assay_diff_removed(const assay_diff *d);
ASSAY_API size_t assay_diff_changed(const assay_diff *d);
ASSAY_API size_t assay_diff_relabelled(const assay_diff *d);
/* 1 when rows were matched by id, 0 by row digest only (some side has no ids, or the ids changed
 * wholesale). */
ASSAY_API int assay_diff_matched_by_id(const assay_diff *d);
/* How rows were matched: "id", "content" (the features-only digest: a side without ids, or ids
 * changed wholesale) or "digest" (the whole-row digest: a baseline manifest older than the
 * features-only digest). Static string. */
ASSAY_API const char *assay_diff_matched_by(const assay_diff *d);
/* 1 when both sides have ids and rows but at most 1% of the rows share an id: rows cannot be
 * matched by id (they were matched by row digest, which covers the id), and `assay diff` fails
 * (exit 1) rather than pass on "every row added, every row removed". */
ASSAY_API int assay_diff_ids_changed_wholesale(const assay_diff *d);
/* p-value of the class-distribution shift; NaN when the test cannot be made. */
ASSAY_API double assay_diff_class_shift_p(const assay_diff *d);

/* Writes dir/diff.json (created under a temporary name, renamed into place). `dir` must exist.
 * `exit_code` is recorded in the file. Returns ASSAY_OK, ASSAY_E_IO, ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_diff_write(assay_ctx *ctx, const assay_diff *d, const char *dir,
                                        int exit_code);

/* A short human summary (counts, first rows of each list, the class shift, the largest drift). */
ASSAY_API void assay_diff_summary(const assay_diff *d, FILE *fp);

ASSAY_API void assay_diff_destroy(assay_diff *d);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* A baseline comparison as a whole: opening the baseline manifest (and hashing the report.json
 * written next to it, the link of the chain of reports), comparing a scan with it, and the
 * changed rows as the tampering detector reads them. (The "baseline" block that report.json and
 * diff.json carry is written by src/report/baseline_json.c.) */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "baseline/baseline.h"

assay_status assay__baseline_open(assay_ctx *ctx, const char *manifest_path,
                                  assay__baseline **out) {
    *out = NULL;
    if (manifest_path == NULL || manifest_path[0] == '\0')
        return assay__fail(ctx, ASSAY_E_INVAL, "--baseline expects a manifest.json");
    assay__baseline *b = calloc(1, sizeof *b);
    if (b == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    assay_status s = assay__bl_side_read(ctx, manifest_path, &b->old_side);
    if (s != ASSAY_OK) {
        free(b);
        return s;
    }
    /* The report that belongs to the baseline is the report.json written into the same folder
     * by the same scan; a manifest cannot carry that report's hash (it is written first). */
    const char *slash = strrchr(manifest_path, '/');
    size_t dir_len = slash ? (size_t)(slash - manifest_path) + 1 : 0;
    b->previous_report_path = malloc(dir_len + sizeof "report.json");
    if (b->previous_report_path == NULL) {
        assay__baseline_free(b);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    }
    memcpy(b->previous_report_path, manifest_path, dir_len);
    memcpy(b->previous_report_path + dir_len, "report.json", sizeof "report.json");
    struct stat st;
    if (stat(b->previous_report_path, &st) != 0) {
        b->previous_report_note = "no report.json next to the baseline manifest: the chain of "
                                  "reports starts here";
    } else if (assay__bl_sha256_file(ctx, b->previous_report_path, b->previous_report_sha256) !=
               ASSAY_OK) {
        b->previous_report_note = "report.json next to the baseline manifest could not be read";
        if (ctx) ctx->errmsg[0] = '\0';
    } else {
        b->has_previous_report = 1;
        b->previous_report_note = "SHA-256 of the report.json next to the baseline manifest (the "
                                  "report of the scan that wrote it)";
    }
    *out = b;
    return ASSAY_OK;
}

void assay__baseline_free(assay__baseline *b) {
    if (b == NULL) return;
    assay__bl_side_free(&b->old_side);
    assay__bl_side_free(&b->new_side);
    assay__bl_diff_free(&b->diff);
    free(b->previous_report_path);
    free(b->changed_rows);
    free(b->added);
    free(b);
}

/* The changed rows as the tampering detector reads them: pointers into the two sides. */
static assay_status build_changes(assay_ctx *ctx, assay__baseline *b) {
    const assay__bl_diff *df = &b->diff;
    const assay__bl_side *o = &b->old_side, *n = &b->new_side;
    b->changed_rows = calloc(df->n_changed ? df->n_changed : 1, sizeof *b->changed_rows);
    b->added = calloc(n->n ? n->n : 1, 1);
    if (b->changed_rows == NULL || b->added == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (baseline comparison)");
    for (size_t i = 0; i < df->n_added; i++) b->added[df->added[i]] = 1;
    for (size_t i = 0; i < df->n_changed; i++) {
        const assay__bl_changed *c = &df->changed[i];
        b->changed_rows[i] = (assay__changed_row){c->old_index,
                                                  c->new_index,
                                                  c->relabelled,
                                                  n->has_ids ? n->id[c->new_index] : NULL,
                                                  o->label[c->old_index],
                                                  n->label[c->new_index],
                                                  o->labels_int,
                                                  n->labels_int,
                                                  o->digest[c->old_index],
                                                  n->digest[c->new_index]};
    }
    b->changes = (assay__row_changes){df->by_id || df->by_content,
                                      b->added,
                                      df->n_added,
                                      df->n_removed,
                                      df->n_changed,
                                      df->n_relabelled,
                                      df->n_unchanged,
                                      b->changed_rows};
    return ASSAY_OK;
}

assay_status assay__baseline_compare(assay_ctx *ctx, const assay__bl_scan *scan,
                                     assay__baseline *b) {
    ASSAY_TRY(assay__bl_side_from_scan(ctx, scan, &b->new_side));
    ASSAY_TRY(assay__bl_compare(ctx, &b->old_side, &b->new_side, &b->diff));
    b->compared = 1;
    return build_changes(ctx, b);
}

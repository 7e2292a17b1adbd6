/* SPDX-License-Identifier: Apache-2.0 */
/* scores.csv (every row, input order) and flagged.csv (flagged rows, most suspicious first). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report_internal.h"

/* Scores print as their shortest float32 text (reads back to the same float); NaN (detector
 * does not apply) is an empty field. */
static void put_score(FILE *fp, float v) {
    if (isnan(v)) return;
    char buf[ASSAY__NUM_BUF];
    assay__fmt_float(buf, v);
    fputs(buf, fp);
}

static void put_detector_header(FILE *fp) {
    for (int d = 0; d < ASSAY_DET_COUNT; d++) fprintf(fp, ",%s", assay_detector_name(d));
}

assay_status assay__write_scores_csv(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_result *res, FILE *fp) {
    (void)ctx;
    char ib[32], lb[32];
    fputs("index,id,label,score,flagged", fp);
    put_detector_header(fp);
    fputc('\n', fp);
    for (size_t r = 0; r < res->n; r++) {
        fprintf(fp, "%zu,", r);
        assay__csv_field(fp, assay__id_text(ds, r, ib, sizeof ib));
        fputc(',', fp);
        assay__csv_field(fp, assay__label_text(ds, r, lb, sizeof lb));
        fputc(',', fp);
        put_score(fp, res->score[r]);
        fprintf(fp, ",%d", res->flagged[r] ? 1 : 0);
        for (int d = 0; d < ASSAY_DET_COUNT; d++) {
            fputc(',', fp);
            put_score(fp, res->det[d].score[r]);
        }
        fputc('\n', fp);
    }
    return ASSAY_OK;
}

assay_status assay__write_flagged_csv(assay_ctx *ctx, const assay_dataset *ds,
                                      const assay_result *res, FILE *fp) {
    (void)ctx;
    char ib[32], lb[32], why[512];
    fputs("rank,index,id,label,score,severity,detectors,suggested_label", fp);
    put_detector_header(fp);
    fputs(",evidence\n", fp);
    for (size_t i = 0; i < res->n_flagged; i++) {
        size_t r = res->order[i];
        fprintf(fp, "%zu,%zu,", i + 1, r);
        assay__csv_field(fp, assay__id_text(ds, r, ib, sizeof ib));
        fputc(',', fp);
        assay__csv_field(fp, assay__label_text(ds, r, lb, sizeof lb));
        fputc(',', fp);
        put_score(fp, res->score[r]);
        fprintf(fp, ",%s,", assay_severity_name((assay_severity)res->severity[r]));
        int first = 1;
        char dets[128] = "";
        for (int d = 0; d < ASSAY_DET_COUNT; d++)
            if (res->det[d].evidence[r] >= 0.5f) {
                size_t l = strlen(dets);
                snprintf(dets + l, sizeof dets - l, "%s%s", first ? "" : ";",
                         assay_detector_name(d));
                first = 0;
            }
        assay__csv_field(fp, dets);
        fputc(',', fp);
        if (res->suggested[r] >= 0) assay__csv_field(fp, ds->class_label[res->suggested[r]]);
        for (int d = 0; d < ASSAY_DET_COUNT; d++) {
            fputc(',', fp);
            put_score(fp, res->det[d].score[r]);
        }
        fputc(',', fp);
        char ev[2048] = "";
        for (size_t j = res->finding_start[r]; j < res->finding_start[r + 1]; j++) {
            assay__explain(ds, res, &res->findings[j], why, sizeof why);
            size_t l = strlen(ev);
            snprintf(ev + l, sizeof ev - l, "%s%s: %s", l ? " | " : "",
                     assay_detector_name(res->findings[j].det), why);
        }
        assay__csv_field(fp, ev);
        fputc('\n', fp);
    }
    return ASSAY_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Writing the report set: all files go to temporary names first and are renamed into place
 * only when every one of them is complete, report.json last, so it marks a finished set. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report_internal.h"

assay_status assay_report_prepare_dir(assay_ctx *ctx, const char *dir) {
    if (dir == NULL || dir[0] == '\0')
        return assay__fail(ctx, ASSAY_E_INVAL, "no output folder given");
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0777) != 0)
            return assay__fail(ctx, ASSAY_E_IO, "%s: cannot create the output folder: %s", dir,
                               strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return assay__fail(ctx, ASSAY_E_IO, "%s: exists and is not a folder", dir);
    }
    /* Probe by creating (and removing) a temporary file: access() is not enough on read-only
     * mounts, and a scan should not run for minutes before finding that out. */
    assay__outfile probe;
    assay_status s = assay__out_open(ctx, dir, "write-probe", &probe);
    if (s != ASSAY_OK) return s;
    assay__out_discard(&probe);
    return ASSAY_OK;
}

enum { OUT_SCORES, OUT_FLAGGED, OUT_MANIFEST, OUT_REPORT, OUT_COUNT };

assay_status assay_report_write(assay_ctx *ctx, const assay_dataset *ds, const assay_result *res,
                                const char *dir, const assay_report_opts *opts) {
    if (ctx == NULL || ds == NULL || res == NULL || dir == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_report_write: NULL argument");
    static const char *const names[OUT_COUNT] = {"scores.csv", "flagged.csv", "manifest.json",
                                                 "report.json"};
    assay__outfile out[OUT_COUNT];
    memset(out, 0, sizeof out);
    json_t *etsi = NULL, *doc = NULL;
    assay_status s = assay__etsi_load(ctx, &etsi);
    for (int i = 0; s == ASSAY_OK && i < OUT_COUNT; i++)
        s = assay__out_open(ctx, dir, names[i], &out[i]);
    if (s == ASSAY_OK) s = assay__write_scores_csv(ctx, ds, res, out[OUT_SCORES].fp);
    assay__progress(ctx, "report", 1, OUT_COUNT);
    if (s == ASSAY_OK) s = assay__write_flagged_csv(ctx, ds, res, out[OUT_FLAGGED].fp);
    assay__progress(ctx, "report", 2, OUT_COUNT);
    if (s == ASSAY_OK) {
        doc = assay__manifest_json(ds, res, opts, etsi);
        s = assay__dump_json(ctx, doc, out[OUT_MANIFEST].fp, 0, out[OUT_MANIFEST].final_path);
        json_decref(doc);
    }
    assay__progress(ctx, "report", 3, OUT_COUNT);
    if (s == ASSAY_OK) {
        doc = assay__report_json(ds, res, opts, etsi, dir);
        s = assay__dump_json(ctx, doc, out[OUT_REPORT].fp, 1, out[OUT_REPORT].final_path);
        json_decref(doc);
    }
    for (int i = 0; s == ASSAY_OK && i < OUT_COUNT; i++) s = assay__out_close(ctx, &out[i]);
    for (int i = 0; s == ASSAY_OK && i < OUT_COUNT; i++) s = assay__out_commit(ctx, &out[i]);
    for (int i = 0; i < OUT_COUNT; i++) assay__out_discard(&out[i]);
    assay__progress(ctx, "report", OUT_COUNT, OUT_COUNT);
    json_decref(etsi);
    return s;
}

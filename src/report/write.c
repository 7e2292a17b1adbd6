/* SPDX-License-Identifier: Apache-2.0 */
/* Writing the report set: all files go to temporary names first and are renamed into place
 * only when every one of them is complete, report.json last, so it marks a finished set. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/render.h"
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

/* The files rendered from the result itself (per-row tables and the dataset inventory). */
enum { OUT_SCORES, OUT_FLAGGED, OUT_MANIFEST, OUT_RESULT_COUNT };

/* The run's one-line summary (assay_report_opts.summary_json) from report.json's document. */
static assay_status summary_line(assay_ctx *ctx, const json_t *doc, const char *dir, char **out) {
    size_t len = strlen(dir) + sizeof "/report.json";
    char *report = malloc(len);
    if (report != NULL) snprintf(report, len, "%s/report.json", dir);
    *out = report != NULL ? assay__summary_json(doc, report, dir) : NULL;
    free(report);
    return *out != NULL ? ASSAY_OK : assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (summary)");
}

assay_status assay_report_write(assay_ctx *ctx, const assay_dataset *ds, const assay_result *res,
                                const char *dir, const assay_report_opts *opts) {
    char **summary_out = opts != NULL ? opts->summary_json : NULL;
    if (summary_out != NULL) *summary_out = NULL;
    if (ctx == NULL || ds == NULL || res == NULL || dir == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_report_write: NULL argument");
    static const char *const names[OUT_RESULT_COUNT] = {"scores.csv", "flagged.csv",
                                                        "manifest.json"};
    /* result files, then one per document format, then report.json (last: marks a full set) */
    enum { MAX_OUT = OUT_RESULT_COUNT + 16 };
    const size_t n_out = OUT_RESULT_COUNT + assay__doc_format_count + 1;
    const size_t out_report = n_out - 1;
    assay__outfile out[MAX_OUT];
    memset(out, 0, sizeof out);
    if (n_out > MAX_OUT) return assay__fail(ctx, ASSAY_E_INTERNAL, "too many report formats");
    json_t *etsi = NULL, *doc = NULL;
    assay_status s = assay__etsi_load(ctx, &etsi);
    for (size_t i = 0; s == ASSAY_OK && i < n_out; i++) {
        const char *name = i < OUT_RESULT_COUNT ? names[i]
                           : i == out_report    ? "report.json"
                                                : assay__doc_formats[i - OUT_RESULT_COUNT].file;
        s = assay__out_open(ctx, dir, name, &out[i]);
    }
    if (s == ASSAY_OK) s = assay__write_scores_csv(ctx, ds, res, out[OUT_SCORES].fp);
    assay__progress(ctx, "report", 1, n_out);
    if (s == ASSAY_OK) s = assay__write_flagged_csv(ctx, ds, res, out[OUT_FLAGGED].fp);
    assay__progress(ctx, "report", 2, n_out);
    if (s == ASSAY_OK) {
        json_t *manifest = assay__manifest_json(ds, res, opts, etsi);
        s = assay__dump_json(ctx, manifest, out[OUT_MANIFEST].fp, 0, out[OUT_MANIFEST].final_path);
        json_decref(manifest);
    }
    assay__progress(ctx, "report", 3, n_out);
    if (s == ASSAY_OK) {
        doc = assay__report_json(ds, res, opts, etsi, dir);
        if (doc == NULL) s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory building report.json");
        /* The formats are rendered from the document as report.json saves it (its numbers
         * rounded as written), so `assay report render` reproduces them byte for byte. */
        if (s == ASSAY_OK) s = assay__report_as_saved(ctx, &doc);
    }
    for (size_t f = 0; s == ASSAY_OK && f < assay__doc_format_count; f++) {
        assay__outfile *o = &out[OUT_RESULT_COUNT + f];
        s = assay__doc_formats[f].render(ctx, doc, o->fp, o->final_path);
        assay__progress(ctx, "report", OUT_RESULT_COUNT + f + 1, n_out);
    }
    if (s == ASSAY_OK)
        s = assay__dump_json(ctx, doc, out[out_report].fp, 1, out[out_report].final_path);
    if (s == ASSAY_OK && summary_out != NULL) s = summary_line(ctx, doc, dir, summary_out);
    for (size_t i = 0; s == ASSAY_OK && i < n_out; i++) s = assay__out_close(ctx, &out[i]);
    for (size_t i = 0; s == ASSAY_OK && i < n_out; i++) s = assay__out_commit(ctx, &out[i]);
    if (s != ASSAY_OK && summary_out != NULL) {
        free(*summary_out);
        *summary_out = NULL;
    }
    json_decref(doc);
    for (size_t i = 0; i < n_out; i++) assay__out_discard(&out[i]);
    assay__progress(ctx, "report", n_out, n_out);
    json_decref(etsi);
    return s;
}

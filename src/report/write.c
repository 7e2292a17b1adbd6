/* SPDX-License-Identifier: Apache-2.0 */
/* Writing the report set: every file is staged, then the set is swapped in as a whole with its
 * commit record last (core/outfile.h, docs/atomic-output.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/render.h"
#include "report/report_internal.h"

/* The files rendered from the result itself (per-row tables and the dataset inventory). */
enum { OUT_SCORES, OUT_FLAGGED, OUT_MANIFEST, OUT_RESULT_COUNT };

static const char *const k_result_names[OUT_RESULT_COUNT] = {"scores.csv", "flagged.csv",
                                                             "manifest.json"};

/* The name of the set's i-th file: result files, then one per document format, report.json. */
static const char *set_name(size_t i) {
    if (i < OUT_RESULT_COUNT) return k_result_names[i];
    if (i < OUT_RESULT_COUNT + assay__doc_format_count)
        return assay__doc_formats[i - OUT_RESULT_COUNT].file;
    return "report.json";
}

assay_status assay_report_prepare_dir(assay_ctx *ctx, const char *dir) {
    ASSAY_TRY(assay__out_check_dir(ctx, dir));
    /* a folder in the way of one report file fails now, not after minutes of work */
    for (size_t i = 0; i < OUT_RESULT_COUNT + assay__doc_format_count + 1; i++)
        ASSAY_TRY(assay__out_check_target(ctx, dir, set_name(i)));
    return assay__out_check_target(ctx, dir, ASSAY__COMMIT_RECORD);
}

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
    enum { MAX_OUT = OUT_RESULT_COUNT + 16 };
    const size_t n_out = OUT_RESULT_COUNT + assay__doc_format_count + 1;
    const size_t out_report = n_out - 1;
    if (n_out > MAX_OUT) return assay__fail(ctx, ASSAY_E_INTERNAL, "too many report formats");
    FILE *fp[MAX_OUT] = {NULL};
    char path[MAX_OUT][PATH_MAX / 4]; /* final paths, for messages */
    json_t *etsi = NULL, *doc = NULL;
    /* The set is staged inside dir and swapped in as a whole by the commit (core/outfile.h). */
    assay__outset set;
    assay_status s = assay__outset_begin(ctx, &set, dir);
    if (s == ASSAY_OK) s = assay__etsi_load(ctx, &etsi);
    for (size_t i = 0; s == ASSAY_OK && i < n_out; i++) {
        assay__outset_final(&set, set_name(i), path[i], sizeof path[i]);
        s = assay__outset_add(ctx, &set, set_name(i), &fp[i]);
    }
    if (s == ASSAY_OK) s = assay__write_scores_csv(ctx, ds, res, fp[OUT_SCORES]);
    assay__progress(ctx, "report", 1, n_out);
    if (s == ASSAY_OK) s = assay__write_flagged_csv(ctx, ds, res, fp[OUT_FLAGGED]);
    assay__progress(ctx, "report", 2, n_out);
    if (s == ASSAY_OK) {
        json_t *manifest = assay__manifest_json(ds, res, opts, etsi);
        s = assay__dump_json(ctx, manifest, fp[OUT_MANIFEST], 0, path[OUT_MANIFEST]);
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
        size_t i = OUT_RESULT_COUNT + f;
        s = assay__doc_formats[f].render(ctx, doc, fp[i], path[i]);
        assay__progress(ctx, "report", i + 1, n_out);
    }
    if (s == ASSAY_OK) s = assay__dump_json(ctx, doc, fp[out_report], 1, path[out_report]);
    if (s == ASSAY_OK && summary_out != NULL) s = summary_line(ctx, doc, dir, summary_out);
    if (s == ASSAY_OK) s = assay__outset_commit(ctx, &set);
    if (s != ASSAY_OK && summary_out != NULL) {
        free(*summary_out);
        *summary_out = NULL;
    }
    json_decref(doc);
    assay__outset_discard(&set);
    assay__progress(ctx, "report", n_out, n_out);
    json_decref(etsi);
    return s;
}

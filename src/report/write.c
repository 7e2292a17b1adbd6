/* SPDX-License-Identifier: Apache-2.0 */
/* Writing the report set: every file is staged, then the set is swapped in as a whole with its
 * commit record last (core/outfile.h, docs/atomic-output.md). */
#include <errno.h>
#include <pthread.h>
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
static const char *const k_result_options[OUT_RESULT_COUNT] = {"scores", "flagged", "manifest"};

/* The set: result files, then one per document format, then report.json (always written). */
static size_t set_count(void) {
    return OUT_RESULT_COUNT + assay__doc_format_count + 1;
}

/* The name of the set's i-th file, and the name that selects it (assay_report_opts.formats). */
static const char *set_name(size_t i) {
    if (i < OUT_RESULT_COUNT) return k_result_names[i];
    if (i < OUT_RESULT_COUNT + assay__doc_format_count)
        return assay__doc_formats[i - OUT_RESULT_COUNT].file;
    return "report.json";
}

static const char *set_option(size_t i) {
    if (i < OUT_RESULT_COUNT) return k_result_options[i];
    if (i < OUT_RESULT_COUNT + assay__doc_format_count)
        return assay__doc_formats[i - OUT_RESULT_COUNT].option;
    return "json";
}

/* The index of the file a format name (option or file name) selects; unknown: ASSAY_E_INVAL
 * with the names listed and the nearest suggested. */
static assay_status set_index(assay_ctx *ctx, const char *name, size_t *out) {
    assay__suggest sg;
    assay__suggest_init(&sg, name);
    char list[400];
    size_t u = 0;
    list[0] = '\0';
    for (size_t i = 0; i < set_count(); i++) {
        if (name != NULL && (strcmp(name, set_option(i)) == 0 || strcmp(name, set_name(i)) == 0)) {
            *out = i;
            return ASSAY_OK;
        }
        assay__suggest_offer(&sg, set_option(i));
        if (u < sizeof list)
            u += (size_t)snprintf(list + u, sizeof list - u, "%s%s", i ? ", " : "", set_option(i));
    }
    if (sg.best != NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown report format '%s' (did you mean '%s'?)",
                           name ? name : "", sg.best);
    return assay__fail(ctx, ASSAY_E_INVAL, "unknown report format '%s'; expected one of %s",
                       name ? name : "", list);
}

/* What the set's files are rendered from: the ETSI table, report.json's document and its
 * findings (spooled to a temporary file in spool_dir: the staging folder, or the system's
 * temporary folder when NULL), each built on first use. */
typedef struct render_src {
    const assay_dataset *ds;
    const assay_result *res;
    const assay_report_opts *opts;
    const char *dir; /* the folder report.json names as the reports' place */
    const char *spool_dir;
    json_t *etsi, *doc;
    assay__findings_spool spool;
} render_src;

static void render_src_free(render_src *r) {
    json_decref(r->doc);
    json_decref(r->etsi);
    assay__findings_spool_free(&r->spool);
}

static assay_status need_doc(assay_ctx *ctx, render_src *r) {
    if (r->etsi == NULL) ASSAY_TRY(assay__etsi_load(ctx, &r->etsi));
    if (r->doc != NULL) return ASSAY_OK;
    r->doc = assay__report_json(r->ds, r->res, r->opts, r->etsi, r->dir);
    if (r->doc == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory building report.json");
    /* The formats are rendered from the document as report.json saves it (its numbers rounded
     * as written), so `assay report render` reproduces them byte for byte; the findings are
     * read back from their saved text too. */
    ASSAY_TRY(assay__report_as_saved(ctx, &r->doc));
    ASSAY_TRY(assay__findings_spool_open(ctx, &r->spool, r->spool_dir));
    return assay__report_findings(ctx, r->ds, r->res, r->etsi, &r->spool);
}

/* Writes the set's i-th file to fp (`path` names it in messages). */
static assay_status render_one(assay_ctx *ctx, render_src *r, size_t i, FILE *fp,
                               const char *path) {
    switch (i) {
    case OUT_SCORES:
        return assay__write_scores_csv(ctx, r->ds, r->res, fp);
    case OUT_FLAGGED:
        return assay__write_flagged_csv(ctx, r->ds, r->res, fp);
    case OUT_MANIFEST: {
        if (r->etsi == NULL) ASSAY_TRY(assay__etsi_load(ctx, &r->etsi));
        json_t *manifest = assay__manifest_json(r->ds, r->res, r->opts, r->etsi);
        assay_status s = assay__dump_json(ctx, manifest, fp, 0, path);
        json_decref(manifest);
        return s;
    }
    default: {
        /* the formats rendered from the document: each with its own reader of the findings, so
         * that they can run side by side */
        ASSAY_TRY(need_doc(ctx, r));
        assay__findings fs;
        ASSAY_TRY(assay__findings_of_spool(ctx, &fs, &r->spool));
        assay_status s =
            i < OUT_RESULT_COUNT + assay__doc_format_count
                ? assay__doc_formats[i - OUT_RESULT_COUNT].render(ctx, r->doc, &fs, fp, path)
                : assay__dump_report(ctx, r->doc, &fs, fp, path);
        assay__findings_free(&fs);
        return s;
    }
    }
}

/* The set is rendered as independent tasks on the context's threads, in two rounds: first
 * report.json (whose task builds the document and spools the findings), manifest.json,
 * scores.csv and flagged.csv; then every format rendered from the document, each reading the
 * findings with its own reader. Each task writes its own file; the ETSI table is loaded before,
 * so the tasks share nothing they write. The bytes do not depend on the threads
 * (test_reports_identical_across_threads). */
typedef struct render_job {
    assay_ctx *ctx;
    render_src *r;
    const uint8_t *want;
    FILE **fp;
    char (*path)[PATH_MAX / 4];
    const size_t *files; /* this round's files, largest first */
    size_t wanted, done;
    int failed;           /* a task failed: the others that have not started are skipped */
    pthread_mutex_t lock; /* done, failed, and the progress it reports in order */
    assay_status *s;      /* per task of the round */
} render_job;

static void render_task(void *arg, size_t task, int worker) {
    (void)worker;
    render_job *j = arg;
    size_t i = j->files[task];
    j->s[task] = ASSAY_OK;
    pthread_mutex_lock(&j->lock);
    int skip = !j->want[i] || j->failed; /* the set is lost: its message stays the first one's */
    pthread_mutex_unlock(&j->lock);
    if (skip) return;
    assay_status s = render_one(j->ctx, j->r, i, j->fp[i], j->path[i]);
    j->s[task] = s;
    pthread_mutex_lock(&j->lock);
    if (s != ASSAY_OK)
        j->failed = 1;
    else
        assay__progress(j->ctx, "report", ++j->done, j->wanted);
    pthread_mutex_unlock(&j->lock);
}

static assay_status render_set(assay_ctx *ctx, render_src *r, const uint8_t *want, FILE **fp,
                               char (*path)[PATH_MAX / 4], size_t n_out) {
    if (r->etsi == NULL) ASSAY_TRY(assay__etsi_load(ctx, &r->etsi));
    enum { MAX_FILES = OUT_RESULT_COUNT + 16 };
    const size_t first[] = {n_out - 1, OUT_MANIFEST, OUT_SCORES, OUT_FLAGGED};
    size_t second[MAX_FILES], n_second = 0;
    /* SARIF (two passes over the findings) and findings.jsonl (one) take longest: first */
    static const char *const heavy[] = {"report.sarif", "findings.jsonl"};
    for (size_t h = 0; h < 2; h++)
        for (size_t i = OUT_RESULT_COUNT; i + 1 < n_out; i++)
            if (strcmp(set_name(i), heavy[h]) == 0) second[n_second++] = i;
    for (size_t i = OUT_RESULT_COUNT; i + 1 < n_out; i++)
        if (strcmp(set_name(i), heavy[0]) != 0 && strcmp(set_name(i), heavy[1]) != 0)
            second[n_second++] = i;
    assay_status st[MAX_FILES];
    render_job j = {ctx, r, want, fp, path, first, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER, st};
    for (size_t i = 0; i < n_out; i++) j.wanted += want[i];
    assay_status s = ASSAY_OK;
    for (int round = 0; s == ASSAY_OK && round < 2; round++) {
        size_t n = round == 0 ? sizeof first / sizeof first[0] : n_second;
        j.files = round == 0 ? first : second;
        int threads = ctx->n_threads < (int)n ? ctx->n_threads : (int)n;
        s = assay__parallel_for(ctx, n, threads, render_task, &j);
        for (size_t t = 0; s == ASSAY_OK && t < n; t++) s = st[t];
    }
    pthread_mutex_destroy(&j.lock);
    return s;
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
    const size_t n_out = set_count();
    const size_t out_report = n_out - 1;
    if (n_out > MAX_OUT) return assay__fail(ctx, ASSAY_E_INTERNAL, "too many report formats");
    /* The files asked for (every one by default); report.json always, as the set's record. */
    uint8_t want[MAX_OUT] = {0};
    want[out_report] = 1;
    for (size_t i = 0; i < n_out; i++) want[i] |= opts == NULL || opts->n_formats == 0;
    for (size_t f = 0; opts != NULL && f < opts->n_formats; f++) {
        size_t i;
        ASSAY_TRY(set_index(ctx, opts->formats[f], &i));
        want[i] = 1;
    }
    FILE *fp[MAX_OUT] = {NULL};
    char path[MAX_OUT][PATH_MAX / 4]; /* final paths, for messages */
    /* The set is staged inside dir and swapped in as a whole by the commit (core/outfile.h). */
    assay__outset set;
    assay_status s = assay__outset_begin(ctx, &set, dir);
    render_src src = {.ds = ds, .res = res, .opts = opts, .dir = dir, .spool_dir = set.stage};
    for (size_t i = 0; s == ASSAY_OK && i < n_out; i++) {
        assay__outset_final(&set, set_name(i), path[i], sizeof path[i]);
        if (want[i]) s = assay__outset_add(ctx, &set, set_name(i), &fp[i]);
    }
    if (s == ASSAY_OK) s = render_set(ctx, &src, want, fp, path, n_out);
    if (s == ASSAY_OK && summary_out != NULL) s = summary_line(ctx, src.doc, dir, summary_out);
    if (s == ASSAY_OK) s = assay__outset_commit(ctx, &set);
    if (s != ASSAY_OK && summary_out != NULL) {
        free(*summary_out);
        *summary_out = NULL;
    }
    assay__outset_discard(&set);
    render_src_free(&src);
    return s;
}

assay_status assay_report_text(assay_ctx *ctx, const assay_dataset *ds, const assay_result *res,
                               const char *format, const assay_report_opts *opts, char **out,
                               size_t *len) {
    if (out != NULL) *out = NULL;
    if (len != NULL) *len = 0;
    if (ctx == NULL || ds == NULL || res == NULL || format == NULL || out == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_report_text: NULL argument");
    size_t i;
    ASSAY_TRY(set_index(ctx, format, &i));
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    if (fp == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (%s)", set_name(i));
    render_src src = {.ds = ds, .res = res, .opts = opts, .dir = "."};
    assay_status s = render_one(ctx, &src, i, fp, set_name(i));
    render_src_free(&src);
    if (fclose(fp) != 0 && s == ASSAY_OK) s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    if (s != ASSAY_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    if (len != NULL) *len = n;
    return ASSAY_OK;
}

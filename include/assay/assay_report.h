/* SPDX-License-Identifier: Apache-2.0 */
/* Reports rendered from one assay_result: report.json, findings.jsonl, report.sarif, junit.xml,
 * bom.cdx.json, report.html, manifest.json, scores.csv and flagged.csv (docs/reports.md), and the
 * short human summary. Files are written under temporary names and renamed into place only when
 * all of them are complete, so an error or a kill never leaves a half-written report. */
#ifndef ASSAY_REPORT_H
#define ASSAY_REPORT_H

#include <stdio.h>
#include "assay_api.h"
#include "assay_status.h"
#include "assay_ctx.h"
#include "assay_dataset.h"
#include "assay_scan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_report_opts {
    int argc;                 /* command line recorded in report.json (0 = none) */
    const char *const *argv;  /* argc strings, only read during the call */
    const char *input_source; /* optional provenance (URL or description) for manifest.json */
    int n_environment;        /* "ASSAY_OUT=dir" strings of variables that set options (0 = none) */
    const char *const *environment;
    /* When not NULL, receives on success the run's one-line JSON summary, built from
     * report.json's document so it says what the report says (malloc'd, no newline; the
     * caller frees it): {"tool","version","status":"pass|warn|fail","exit_code","reasons",
     * "rows","flagged","flagged_fraction","findings_by_severity","dataset_sha256","report",
     * "out"}, reasons being report.json's gate reasons (the same sentences, in order), report
     * dir/report.json and out dir. What `assay scan --json-summary` prints. */
    char **summary_json;
    /* The files assay_report_write writes, by format name ("scores", "flagged", "manifest",
     * "jsonl", "sarif", "junit", "cyclonedx", "html", "json") or file name ("report.sarif");
     * report.json is always written (it records the set). n_formats 0 = every file. */
    const char *const *formats;
    size_t n_formats;
} assay_report_opts;
#define ASSAY_REPORT_OPTS_INIT                                                                     \
    { 0, NULL, NULL, 0, NULL, NULL, NULL, 0 }

/* Checks, before any work, that the report set can be written into `dir`: an existing folder
 * files can be created in (or, when `dir` does not exist yet, any chain of missing folders under
 * a writable existing one: they are created, like mkdir -p, only by assay_report_write; an
 * ancestor that is a file is refused), and no folder or other non-regular file in the way of a
 * report file. Creates nothing. Returns ASSAY_OK, ASSAY_E_IO (the message names the path and the
 * reason) or ASSAY_E_RESOURCE (a full disk, a quota...). */
ASSAY_API assay_status assay_report_prepare_dir(assay_ctx *ctx, const char *dir);

/* Writes the report set (or the files opts->formats names) into `dir` (created with its missing
 * parents when absent): scores.csv, flagged.csv, manifest.json, one file per format of
 * assay_report_format_at, report.json and the commit record .assay-commit (the files of the set
 * with their SHA-256). `opts` may be NULL.
 *
 * Guarantee (docs/atomic-output.md): the files are written into a staging folder inside `dir`
 * and swapped in together; any failure -- a file that cannot be replaced, a full disk, a
 * signal handled with assay_output_interrupt() -- leaves the previous set intact and complete,
 * never a mix of old and new files, and removes every temporary. Files in `dir` that are not
 * part of the set are never touched. Returns ASSAY_OK, ASSAY_E_IO, ASSAY_E_RESOURCE (a full
 * disk, a quota, EIO, no memory: errno's text in the message), ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_report_write(assay_ctx *ctx, const assay_dataset *ds,
                                          const assay_result *res, const char *dir,
                                          const assay_report_opts *opts);

/* Renders one file of the report set into memory instead of a folder: `format` as in
 * assay_report_opts.formats ("json" for report.json's text, "scores" for scores.csv, "sarif"...).
 * The text is what assay_report_write would write into the file, byte for byte. *out is the
 * caller's to free() (NUL-terminated; *len, if not NULL, its length). `opts` may be NULL (its
 * summary_json and formats are ignored). Returns ASSAY_OK, ASSAY_E_INVAL (unknown format: the
 * message lists them), ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_report_text(assay_ctx *ctx, const assay_dataset *ds,
                                         const assay_result *res, const char *format,
                                         const assay_report_opts *opts, char **out, size_t *len);

/* Finding i of the result (assay_result_finding) as its report explains it: one sentence for a
 * reviewer, written into buf (truncated to len bytes, NUL-terminated); and its detector's
 * evidence fields as a JSON object text (report.json's "evidence"; *json is the caller's to
 * free). ASSAY_E_INVAL when i is out of range, ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_report_explain(const assay_dataset *ds, const assay_result *res,
                                            size_t i, char *buf, size_t len);
ASSAY_API assay_status assay_report_evidence_json(assay_ctx *ctx, const assay_dataset *ds,
                                                  const assay_result *res, size_t i, char **json);

/* Renders formats again from a saved report.json (`assay report render`), with the renderers a
 * scan uses, so the files are byte-identical to the ones the scan wrote. `formats` names them
 * by option ("jsonl", "sarif", "junit", "cyclonedx", "html"); n_formats 0 = every format. They
 * are written into `dir` (NULL = the folder holding report_path) under temporary names and
 * renamed into place together. Returns ASSAY_OK; ASSAY_E_NOTFOUND / ASSAY_E_IO (unreadable
 * report, unwritable folder); ASSAY_E_FORMAT (not JSON, or "schema" is not "assay-report/1", or
 * a key a format needs is missing: the message names the file, the line and what was expected);
 * ASSAY_E_INVAL (unknown format name); ASSAY_E_NOMEM. */
ASSAY_API assay_status assay_report_render(assay_ctx *ctx, const char *report_path, const char *dir,
                                           const char *const *formats, size_t n_formats);

/* The formats `assay_report_render` renders, in the order a scan writes them: i-th format's
 * option name ("sarif", for `assay report render --sarif`) and its file in the report folder
 * ("report.sarif"). Returns 0 for i out of range. */
ASSAY_API size_t assay_report_format_count(void);
ASSAY_API int assay_report_format_at(size_t i, const char **option, const char **file);

/* For a signal handler (async-signal-safe): removes every temporary file and staging folder
 * of the outputs this process is writing, then ends the process with _exit(exit_code). When a
 * report set is being swapped in at that moment (a few renames), the swaps made are undone
 * first and the exit follows from the thread doing it, so the folder holds the previous set.
 * `assay` calls it on SIGINT, SIGTERM and SIGHUP with 128 + the signal. */
ASSAY_API void assay_output_interrupt(int exit_code);

/* How many report sets this process has committed (async-signal-safe). A set counts from the
 * moment its swaps are kept, before assay_report_write returns: a handler that finds it nonzero
 * knows the new set is in place, and that assay_output_interrupt would no longer undo it. */
ASSAY_API int assay_output_committed(void);

/* Writes the short human summary (counts, gate verdict, evaluation if any, report paths) to `fp`.
 * `dir` is the report folder named in the summary (may be NULL). */
ASSAY_API void assay_report_summary(const assay_dataset *ds, const assay_result *res,
                                    const char *dir, FILE *fp);

/* Rewrites, in place, every real number of JSON text outside strings to the shortest decimal
 * that reads back to the same double, as every JSON document assay writes has them (0.7, not
 * 0.69999999999999996); a real keeps a point or an exponent (1.0), integers are left alone.
 * For text from json_dumps at its default precision (reals must read back exactly). The text
 * never grows; returns `json_text` (NULL stays NULL). */
ASSAY_API char *assay_json_shortest_reals(char *json_text);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* The short human summary printed after a scan: what was scanned, what was flagged and why,
 * how the flags compare with planted truth (when given), the gate verdict and where the
 * reports are. Rendered from the same result as the files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "report/render.h"
#include "report/report_internal.h"
#include "detect/params.h"

static void print_eval(const assay__eval *e, FILE *fp) {
    fprintf(fp, "  evaluation against %s: %zu planted poisons, %zu flagged rows\n", e->truth_path,
            e->poisons, e->flagged);
    fprintf(fp, "    found %zu of %zu planted poisons: precision %.3f, recall %.3f, AUROC %.4f\n",
            e->true_positives, e->poisons, e->precision, e->recall, e->auroc);
    for (size_t g = 0; g < e->n_groups; g++)
        fprintf(fp, "    %-20s %6zu rows  flagged %6zu  recall %.3f  AUROC %.4f\n",
                e->groups[g].name, e->groups[g].rows, e->groups[g].flagged, e->groups[g].recall,
                e->groups[g].auroc);
}

static int cmp_test_q(const void *a, const void *b) {
    const assay__test *x = *(const assay__test *const *)a, *y = *(const assay__test *const *)b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    return (x > y) - (x < y);
}

/* How many tests were run, and the significant ones, strongest first (at most 10). */
/* Why the gate did or did not fail on a detector's flagged rows, from what it did with the
 * detector's own tests. */
static const char *gate_use(const assay__det_out *s) {
    int best = -1;
    for (size_t i = 0; i < s->n_tests; i++) {
        if (s->tests[i].det != s->id) continue;
        if (isnan(s->tests[i].p)) {
            if (best < 0) best = -2; /* informational only, so far */
            continue;
        }
        int e = s->tests[i].effect;
        int rank = e == ASSAY__EFFECT_FAIL       ? 3
                   : e == ASSAY__EFFECT_WARN     ? 2
                   : e == ASSAY__EFFECT_ACCEPTED ? 1
                                                 : 0;
        if (rank > best || best == -2) best = rank;
    }
    switch (best) {
    case 3:
        return ": its test fails the gate";
    case 2:
        return ": its test only warns";
    case 1:
        return ": its test's rows are all allowlisted";
    case 0:
        return ": for review, its test is not significant (the gate does not fail on them)";
    case -2:
        return ": for review (its test is informational: it never fails the gate)";
    default:
        return "";
    }
}

/* The largest off-diagonal cell of a detector's class-by-class matrix (knn-label: the
 * estimated label noise; a targeted flip shows as one large cell). */
static void print_matrix(const assay_dataset *ds, const assay__det_out *s, FILE *fp) {
    size_t i = 0, j = 0;
    double peak = assay__out_matrix_peak(s, &i, &j);
    if (peak < 0.0) return;
    fprintf(fp,
            "                       estimated label noise: largest '%s' labelled '%s' (%.1f%% of "
            "'%s')\n",
            assay__class_text(ds, (int32_t)i), assay__class_text(ds, (int32_t)j), 100.0 * peak,
            assay__class_text(ds, (int32_t)i));
}

static void print_tests(const assay_dataset *ds, const assay_result *res, FILE *fp) {
    fprintf(fp, "  tests against \"no poison\": %zu run, %zu significant at FDR %s\n", res->n_tests,
            res->n_significant, assay__num(assay_param_value(&res->opts, ASSAY__P_FDR)).s);
    const assay__test **sig = malloc((res->n_significant ? res->n_significant : 1) * sizeof *sig);
    if (sig == NULL) return;
    size_t m = 0;
    for (size_t i = 0; i < res->n_tests && m < res->n_significant; i++)
        if (res->tests[i].significant) sig[m++] = &res->tests[i];
    if (m > 1) qsort(sig, m, sizeof *sig, cmp_test_q);
    for (size_t i = 0; i < m && i < 10; i++)
        fprintf(fp, "    %-15s %-14s q = %.2g: %s\n", assay_detector_name(sig[i]->det),
                sig[i]->cls >= 0 ? assay__class_text(ds, sig[i]->cls) : "(dataset)", sig[i]->q,
                sig[i]->detail);
    if (m > 10) fprintf(fp, "    ... and %zu more in report.json \"tests\"\n", m - 10);
    free(sig);
}

/* " in each of 3 ranks" when MPI ranks built the graph, "" otherwise. */
typedef struct {
    char s[48];
} ranks_str;
static ranks_str ranks_text(const assay_result *res) {
    ranks_str r = {""};
    if (res->n_ranks > 1) snprintf(r.s, sizeof r.s, " in each of %d ranks", res->n_ranks);
    return r;
}

static void write_summary(const assay_dataset *ds, const assay_result *res, const char *dir,
                          FILE *fp) {
    /* arrays have no file: their name ("(memory)" by default) stands alone */
    const int memory = ds->format == ASSAY_FORMAT_MEMORY;
    fprintf(fp, "assay %s: %s%s%s%s, %zu rows x %zu dims, %zu classes\n", assay_version(), ds->path,
            memory ? "" : " (", memory ? "" : assay_format_name(ds->format), memory ? "" : ")",
            ds->n, ds->d, ds->n_classes);
    if (res->graph_file.n_parts > 0)
        fprintf(fp,
                "  neighbour graph: k=%u, %s, %zu rows, merged from %zu shard files and checked in "
                "%.2f s\n",
                res->opts.k, assay_metric_name(res->opts.metric), res->n_in_graph,
                res->graph_file.n_parts, res->t_knn);
    else if (res->graph_file.path != NULL)
        fprintf(
            fp, "  neighbour graph: k=%u, %s, %zu rows, read from %s and checked in %.2f s%s%s%s\n",
            res->opts.k, assay_metric_name(res->opts.metric), res->n_in_graph, res->graph_file.path,
            res->t_knn, res->graph_file.approx ? " (approximate; recall@k when built: " : "",
            res->graph_file.approx ? assay__num(res->graph_file.approx_recall).s : "",
            res->graph_file.approx ? ")" : "");
    else if (res->graph.approx.used)
        fprintf(fp,
                "  neighbour graph: k=%u, %s, %zu rows, %.2f s on %d thread%s, approximate (%u of "
                "%u lists per row): recall@%u %.4f on %u sample rows (target %.2f)\n",
                res->opts.k, assay_metric_name(res->opts.metric), res->n_in_graph, res->t_knn,
                res->n_threads, res->n_threads == 1 ? "" : "s", res->graph.approx.probes,
                res->graph.approx.lists, res->opts.k, res->graph.approx.recall,
                res->graph.approx.sample_rows, res->graph.approx.target);
    else
        fprintf(fp,
                "  neighbour graph: k=%u, %s, %zu rows, %.2f s on %d thread%s%s (%s kernels%s%s)\n",
                res->opts.k, assay_metric_name(res->opts.metric), res->n_in_graph, res->t_knn,
                res->n_threads, res->n_threads == 1 ? "" : "s", ranks_text(res).s,
                assay_isa_name(res->isa), res->graph.precision == ASSAY_PRECISION_FP32 ? "" : ", ",
                res->graph.precision == ASSAY_PRECISION_FP32
                    ? ""
                    : (res->graph.precision == ASSAY_PRECISION_INT8 ? "int8 candidates"
                                                                    : "bf16 candidates"));
    const assay__approx_info *ax = &res->graph.approx;
    if (ax->requested && !ax->used)
        fprintf(fp, "  (--graph-method approx: the exact graph was built: %s)\n",
                ax->fallback == ASSAY__APPROX_FEW_ROWS
                    ? "too few rows for an approximation to save time"
                : ax->fallback == ASSAY__APPROX_RANGE
                    ? "rows too large in magnitude for float32 distances"
                    : "the target recall needs more lists per row than would save time");
    else if (!ax->requested && res->graph_file.path == NULL && res->graph_file.n_parts == 0 &&
             res->n_in_graph >= ASSAY_APPROX_SUGGEST_ROWS)
        fprintf(fp,
                "  (from %d rows, --graph-method approx builds the graph in a fraction of the "
                "time, with its recall measured and reported)\n",
                ASSAY_APPROX_SUGGEST_ROWS);
    double frac = res->n ? (double)res->n_flagged / (double)res->n : 0.0;
    fprintf(fp, "  flagged: %zu rows (%.2f%%): %zu high, %zu medium, %zu low\n", res->n_flagged,
            100.0 * frac, res->rows_by_sev[ASSAY_SEV_HIGH] + res->rows_by_sev[ASSAY_SEV_CRITICAL],
            res->rows_by_sev[ASSAY_SEV_MEDIUM], res->rows_by_sev[ASSAY_SEV_LOW]);
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        const assay__det_out *s = &res->det[d];
        if (!s->ran) {
            fprintf(fp, "    %-15s    not run: %s\n", assay_detector_name(d),
                    s->note ? s->note : "not applicable");
            continue;
        }
        fprintf(fp, "    %-15s %6zu rows", assay_detector_name(d), s->flagged);
        if (s->by_sev[ASSAY_SEV_HIGH] > 0) fprintf(fp, " (%zu high)", s->by_sev[ASSAY_SEV_HIGH]);
        if (s->flagged > 0) fputs(gate_use(s), fp);
        fputc('\n', fp);
        /* what a detector that ran says about how (confident: where its probabilities came
         * from and how accurate they are on the given labels) */
        if (s->note != NULL) fprintf(fp, "      %s\n", s->note);
        print_matrix(ds, s, fp);
    }
    print_tests(ds, res, fp);
    if (res->small_classes > 0)
        fprintf(fp, "  warning: %zu class%s fewer than 2 rows\n", res->small_classes,
                res->small_classes == 1 ? " has" : "es have");
    if (ds->n > res->n_in_graph)
        fprintf(fp, "  warning: %zu rows left out of the neighbour graph (integrity findings)\n",
                ds->n - res->n_in_graph);
    if (res->eval.present) print_eval(&res->eval, fp);
    static const char *const verdicts[] = {"PASS", "WARN", "FAIL"};
    fprintf(fp, "  gate: %s (exit %d%s): %s\n", verdicts[res->verdict % 3], res->exit_code,
            res->exit_zero && res->verdict == ASSAY_VERDICT_FAIL ? ", --exit-zero" : "",
            res->gate_reason);
    if (dir != NULL) {
        fprintf(fp, "  reports: %s/report.json, flagged.csv, scores.csv, manifest.json", dir);
        for (size_t f = 0; f < assay__doc_format_count; f++)
            fprintf(fp, ", %s", assay__doc_formats[f].file);
        fputc('\n', fp);
    }
}

/* The summary goes to a terminal, and class names, ids, paths and attack names come from the
 * input: control bytes (an escape sequence in a label could rewrite the screen) are shown as
 * \xNN. Text that is not ASCII passes through unchanged (the loaders refuse invalid UTF-8). */
void assay_report_summary(const assay_dataset *ds, const assay_result *res, const char *dir,
                          FILE *fp) {
    if (ds == NULL || res == NULL || fp == NULL) return;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL) return;
    write_summary(ds, res, dir, mem);
    if (fclose(mem) != 0) {
        free(text);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            fprintf(fp, "\\x%02x", c);
        else
            fputc(c, fp);
    }
    free(text);
}

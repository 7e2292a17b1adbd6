/* SPDX-License-Identifier: Apache-2.0 */
/* The short human summary printed after a scan: what was scanned, what was flagged and why,
 * how the flags compare with planted truth (when given), the gate verdict and where the
 * reports are. Rendered from the same result as the files. */
#include <math.h>
#include <stdio.h>

#include "report/report_internal.h"

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

void assay_report_summary(const assay_dataset *ds, const assay_result *res, const char *dir,
                          FILE *fp) {
    if (ds == NULL || res == NULL || fp == NULL) return;
    fprintf(fp, "assay %s: %s (%s), %zu rows x %zu dims, %zu classes\n", assay_version(), ds->path,
            assay_format_name(ds->format), ds->n, ds->d, ds->n_classes);
    if (res->graph_file.path != NULL)
        fprintf(fp, "  neighbour graph: k=%u, %s, %zu rows, read from %s and checked in %.2f s\n",
                res->opts.k, assay_metric_name(res->opts.metric), res->n_in_graph,
                res->graph_file.path, res->t_knn);
    else
        fprintf(fp, "  neighbour graph: k=%u, %s, %zu rows, %.2f s on %d thread%s (%s kernels)\n",
                res->opts.k, assay_metric_name(res->opts.metric), res->n_in_graph, res->t_knn,
                res->n_threads, res->n_threads == 1 ? "" : "s", assay_isa_name(res->isa));
    double frac = res->n ? (double)res->n_flagged / (double)res->n : 0.0;
    fprintf(fp, "  flagged: %zu rows (%.2f%%): %zu high, %zu medium, %zu low\n", res->n_flagged,
            100.0 * frac, res->rows_by_sev[ASSAY_SEV_HIGH] + res->rows_by_sev[ASSAY_SEV_CRITICAL],
            res->rows_by_sev[ASSAY_SEV_MEDIUM], res->rows_by_sev[ASSAY_SEV_LOW]);
    for (int d = 0; d < ASSAY_DET_COUNT; d++) {
        const assay__det_summary *s = &res->det[d];
        fprintf(fp, "    %-12s %6zu rows", assay_detector_name(d), s->flagged);
        if (s->by_sev[ASSAY_SEV_HIGH] > 0) fprintf(fp, " (%zu high)", s->by_sev[ASSAY_SEV_HIGH]);
        fputc('\n', fp);
    }
    if (res->small_classes > 0)
        fprintf(fp, "  warning: %zu class%s fewer than 2 rows\n", res->small_classes,
                res->small_classes == 1 ? " has" : "es have");
    if (ds->n > res->n_in_graph)
        fprintf(fp, "  warning: %zu rows left out of the neighbour graph (integrity findings)\n",
                ds->n - res->n_in_graph);
    if (res->eval.present) print_eval(&res->eval, fp);
    fprintf(fp, "  gate: %s (exit %d): %s\n", res->gate_passed ? "PASS" : "FAIL",
            res->gate_passed ? 0 : 1, res->gate_reason);
    if (dir != NULL)
        fprintf(fp, "  reports: %s/report.json, flagged.csv, scores.csv, manifest.json\n", dir);
}

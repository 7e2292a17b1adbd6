/* SPDX-License-Identifier: Apache-2.0 */
/* The scan pipeline: validate options, build the exact neighbour graph over the usable rows,
 * run the detectors (each reads the dataset and the graph), combine their evidence, decide. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baseline/baseline.h"
#include "core/numfmt.h"
#include "decide/result.h"
#include "detect/class_cov.h"
#include "detect/label.h"
#include "graph/graph_file.h"
#include "graph/knn.h"
#include "scan/trusted.h"

static assay_status check_opts(assay_ctx *ctx, const assay_scan_opts *o) {
    if (o->k < 1) return assay__fail(ctx, ASSAY_E_INVAL, "-k must be at least 1, got %u", o->k);
    if (o->metric != ASSAY_METRIC_COSINE && o->metric != ASSAY_METRIC_L2)
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown metric %d", (int)o->metric);
    if (o->graph_method != ASSAY_GRAPH_EXACT && o->graph_method != ASSAY_GRAPH_APPROX)
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown graph method %d", (int)o->graph_method);
    if (!(o->approx_recall >= 0.0 && o->approx_recall <= 1.0))
        return assay__fail(ctx, ASSAY_E_INVAL, "--approx-recall must be in (0, 1], got %s",
                           assay__num(o->approx_recall).s);
    if (!(o->label_threshold > 0.0 && o->label_threshold <= 1.0))
        return assay__fail(ctx, ASSAY_E_INVAL, "--label-threshold must be in (0, 1], got %s",
                           assay__num(o->label_threshold).s);
    if (!(o->outlier_iqr >= 0.0) || isinf(o->outlier_iqr))
        return assay__fail(ctx, ASSAY_E_INVAL, "--outlier-iqr must be a finite number >= 0, got %s",
                           assay__num(o->outlier_iqr).s);
    if (!(o->max_flagged_fraction >= 0.0 && o->max_flagged_fraction <= 1.0))
        return assay__fail(ctx, ASSAY_E_INVAL, "--max-flagged-fraction must be in [0, 1], got %s",
                           assay__num(o->max_flagged_fraction).s);
    for (size_t i = 0; i < assay_param_count(); i++) {
        const assay_param_info *p = assay_param_info_at(i);
        double v = assay_param_value(o, i);
        if (!(v >= p->min && v <= p->max) || (p->integer && v != floor(v)))
            return assay__fail(ctx, ASSAY_E_INVAL, "--%s must be %s in [%s, %s], got %s", p->name,
                               p->integer ? "an integer" : "a number", assay__num(p->min).s,
                               assay__num(p->max).s, assay__num(v).s);
    }
    if (o->skip >> ASSAY_DET_COUNT)
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown detector bit in skip mask 0x%x", o->skip);
    if (o->fail_on < ASSAY_SEV_NONE || o->fail_on > ASSAY_SEV_CRITICAL)
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown severity %d", (int)o->fail_on);
    if (o->n_graph_parts > 0 && (o->graph_parts == NULL || o->graph_path != NULL))
        return assay__fail(ctx, ASSAY_E_INVAL,
                           o->graph_parts == NULL ? "graph_parts is NULL"
                                                  : "give either a graph file or shard files");
    for (size_t i = 0; i < o->n_graph_parts; i++)
        if (o->graph_parts[i] == NULL)
            return assay__fail(ctx, ASSAY_E_INVAL, "graph_parts[%zu] is NULL", i);
    return ASSAY_OK;
}

/* The rows that take part in the graph (non-finite rows, and all-zero rows under cosine, do
 * not), and the k a graph the scan builds gets: knn-label's Deep k-NN looks at 2 x the expected
 * poisons per class (--expected-poison), so a built graph gets at least that many neighbours.
 * A graph file keeps its own k. */
static assay_status graph_plan(assay_ctx *ctx, const assay_dataset *ds, const assay_scan_opts *o,
                               uint8_t **in_graph, size_t *n_in_graph, uint32_t *k) {
    *in_graph = malloc(ds->n ? ds->n : 1);
    if (*in_graph == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    *n_in_graph = 0;
    for (size_t r = 0; r < ds->n; r++) {
        (*in_graph)[r] = (uint8_t)assay__row_in_graph(ds, r, o->metric);
        *n_in_graph += (*in_graph)[r];
    }
    *k = o->k;
    if (o->graph_path == NULL && !(o->skip >> ASSAY_DET_KNN_LABEL & 1u)) {
        uint32_t kd = assay__deep_knn_k(o, *n_in_graph, ds->n_classes);
        if (kd > *k) *k = kd;
    }
    return ASSAY_OK;
}

/* Runs detector i of the list (unless skipped) on *in. The baseline comparison is made just before
 * the first detector that needs it; *in is then renewed to carry it. */
static assay_status run_one(assay_ctx *ctx, const assay_dataset *ds, assay_result *res, size_t i,
                            assay__det_input *in) {
    const assay__detector *d = assay__detector_at(i);
    assay__det_out *out = &res->det[d->id];
    if (res->opts.skip >> d->id & 1u) {
        out->note = "skipped (--skip)";
        return ASSAY_OK;
    }
    ASSAY_TRY(assay__check_cancel(ctx));
    double t0 = assay__now();
    if ((d->desc->needs & ASSAY__NEEDS_BASELINE) && res->baseline != NULL &&
        !res->baseline->compared) {
        const assay__bl_scan scan = assay__result_bl_scan(ds, res);
        ASSAY_TRY(assay__baseline_compare(ctx, &scan, res->baseline));
        res->class_shift_p = res->baseline->diff.p_value;
        assay__class_covs *covs = in->class_covs;
        *in = assay__result_input(ctx, ds, res);
        in->class_covs = covs;
    }
    ASSAY_TRY(d->desc->run(in, out));
    out->seconds = assay__now() - t0;
    assay__progress(ctx, "detect", i + 1, ASSAY_DET_COUNT);
    return ASSAY_OK;
}

/* Runs every detector in the order of the detector list, each on the same read-only view and
 * into its own output. The baseline comparison is made just before the first detector that
 * needs it (tampering, last), so its class statistics see the other detectors' scores. Class
 * covariances are kept from the first detector that needs them to the last, when two run. */
static assay_status detectors_in_order(assay_ctx *ctx, const assay_dataset *ds, assay_result *res) {
    size_t cov_users = 0, last_cov_user = 0;
    for (size_t i = 0; i < ASSAY_DET_COUNT; i++) {
        const assay__detector *d = assay__detector_at(i);
        if ((d->desc->needs & ASSAY__NEEDS_CLASS_COV) && !(res->opts.skip >> d->id & 1u)) {
            cov_users++;
            last_cov_user = i;
        }
    }
    assay__class_covs *covs =
        cov_users > 1 ? assay__class_covs_new(ds->n_classes, ds->d, ASSAY__CLASS_COV_BUDGET) : NULL;
    assay__det_input in = assay__result_input(ctx, ds, res);
    in.class_covs = covs;
    assay_status s = ASSAY_OK;
    for (size_t i = 0; i < ASSAY_DET_COUNT && s == ASSAY_OK; i++) {
        s = run_one(ctx, ds, res, i, &in);
        if (i == last_cov_user) {
            assay__class_covs_free(covs);
            in.class_covs = covs = NULL;
        }
    }
    assay__class_covs_free(covs);
    return s;
}

/* With BLAS single-threaded: OpenBLAS's own thread count, which is the machine's (its CPUs, a
 * CPU affinity such as mpirun's binding, OPENBLAS_NUM_THREADS), changes the last digits of some
 * of its routines (subgroup's separation ratios, mahalanobis before per_class did the same), and
 * a verdict must not depend on it. The detectors that gain from threads run their classes or
 * rows side by side on assay's own threads. */
static assay_status run_detectors(assay_ctx *ctx, const assay_dataset *ds, assay_result *res) {
    assay__blas_single_begin();
    assay_status s = detectors_in_order(ctx, ds, res);
    assay__blas_single_end();
    return s;
}

/* A rank other than 0: its share of the exact graph, which rank 0 gathers; no result. */
static assay_status graph_share(assay_ctx *ctx, const assay_dataset *ds, assay_scan_opts *o) {
    uint8_t *in_graph = NULL;
    size_t n_in_graph;
    ASSAY_TRY(graph_plan(ctx, ds, o, &in_graph, &n_in_graph, &o->k));
    assay__graph g;
    assay_status s = n_in_graph <= o->k ? ASSAY_OK /* rank 0 says why */
                                        : assay__knn_build(ctx, ds->x, ds->n, ds->d, ds->ld,
                                                           in_graph, o->k, o->metric, NULL, &g);
    if (s == ASSAY_OK && n_in_graph > o->k) assay__graph_free(&g);
    free(in_graph);
    return s;
}

assay_status assay_scan(assay_ctx *ctx, const assay_dataset *ds, const assay_scan_opts *opts,
                        assay_result **out) {
    if (out == NULL) return assay__fail(ctx, ASSAY_E_INVAL, "assay_scan: out is NULL");
    *out = NULL;
    if (ctx == NULL || ds == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_scan: NULL argument");
    ctx->errmsg[0] = '\0';
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    if (opts != NULL) o = *opts;
    ASSAY_TRY(check_opts(ctx, &o));
    if (ctx->ranks.size > 1) {
        if (o.graph_path != NULL || o.n_graph_parts > 0 || o.graph_method == ASSAY_GRAPH_APPROX)
            return assay__fail(ctx, ASSAY_E_INVAL,
                               "%d ranks build the exact graph together: %s runs in one process",
                               ctx->ranks.size,
                               o.graph_path      ? "--graph"
                               : o.n_graph_parts ? "a merge of shards"
                                                 : "--graph-method approx");
        if (ctx->ranks.rank != 0) return graph_share(ctx, ds, &o);
    }

    double t0 = assay__now();
    assay_result *res = calloc(1, sizeof *res);
    if (res == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    res->opts = o;
    res->n_threads = ctx->n_threads;
    res->n_ranks = ctx->ranks.size;
    res->isa = ctx->isa;
    assay__utc_timestamp(res->started, sizeof res->started);
    uint8_t *in_graph = NULL;
    assay_status s = assay__result_alloc(ctx, res, ds->n);
    if (s == ASSAY_OK) s = graph_plan(ctx, ds, &o, &in_graph, &res->n_in_graph, &o.k);
    if (s != ASSAY_OK) goto fail;
    res->opts.k = o.k;
    /* The baseline is read before the graph is built: a wrong file fails in a second. */
    if (o.baseline_path != NULL) {
        if ((s = assay__baseline_open(ctx, o.baseline_path, &res->baseline)) != ASSAY_OK) goto fail;
        res->opts.baseline_path = res->baseline->old_side.path;
    }
    /* Trusted rows are matched before the graph too: a wrong list fails in a second. */
    if ((s = assay__trusted_open(ctx, ds, &o, res)) != ASSAY_OK) goto fail;
    if (o.trusted_ids_path != NULL &&
        (res->opts.trusted_ids_path = res->trusted_ids_path = strdup(o.trusted_ids_path)) == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (trusted ids)");
        goto fail;
    }
    if (res->n_in_graph <= o.k) {
        size_t left_out = ds->n - res->n_in_graph;
        s = assay__fail(ctx, ASSAY_E_INVAL,
                        "%s: k = %u needs at least %u rows in the neighbour graph, but the data "
                        "has %zu row%s%s",
                        ds->path, o.k, o.k + 1, ds->n, ds->n == 1 ? "" : "s",
                        left_out ? " (some are left out: non-finite or all-zero)" : "");
        goto fail;
    }

    double tk = assay__now();
    if (o.graph_path != NULL) {
        s = assay__graph_load_for_scan(ctx, ds, &o, in_graph, &res->graph, &res->graph_file);
        res->opts.graph_path = res->graph_file.path;
    } else if (o.n_graph_parts > 0) {
        s = assay__graph_load_shards(ctx, ds, &o, in_graph, &res->graph, &res->graph_file);
        res->opts.graph_parts = NULL; /* the caller's; the result keeps graph_file.parts */
        res->opts.n_graph_parts = res->graph_file.n_parts;
    } else if (o.graph_method == ASSAY_GRAPH_APPROX)
        s = assay__knn_build_approx(ctx, ds->x, ds->n, ds->d, ds->ld, in_graph, o.k, o.metric,
                                    o.approx_recall > 0.0 ? o.approx_recall : 0.99, &res->graph);
    else
        s = assay__knn_build(ctx, ds->x, ds->n, ds->d, ds->ld, in_graph, o.k, o.metric, NULL,
                             &res->graph);
    res->t_knn = assay__now() - tk;
    if (s != ASSAY_OK) goto fail;
    if (ctx->ranks.size > 1 && ctx->ranks.threads_after_graph > 0)
        ctx->n_threads = ctx->ranks.threads_after_graph; /* the other ranks are done */

    double td = assay__now();
    if ((s = run_detectors(ctx, ds, res)) != ASSAY_OK) goto fail;
    /* The trusted data is the caller's, alive only during the scan: the result keeps its name. */
    if (o.trusted_data != NULL) {
        const char *tp = o.trusted_data->path ? o.trusted_data->path : "(in memory)";
        res->trusted_data_rows = o.trusted_data->n;
        if ((res->trusted_data_path = strdup(tp)) == NULL) {
            s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (trusted data)");
            goto fail;
        }
    }
    res->trusted.data = NULL;
    res->opts.trusted_data = NULL;
    if ((s = assay__combine(ctx, ds, res)) != ASSAY_OK) goto fail;
    res->t_detect = assay__now() - td;
    res->t_total = assay__now() - t0;
    assay__utc_timestamp(res->finished, sizeof res->finished);
    free(in_graph);
    *out = res;
    return ASSAY_OK;
fail:
    free(in_graph);
    assay_result_destroy(res);
    return s;
}

assay_status assay_graph_write_shard(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_scan_opts *opts, size_t index, size_t count,
                                     const char *path) {
    if (ctx == NULL || ds == NULL || path == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_graph_write_shard: NULL argument");
    ctx->errmsg[0] = '\0';
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    if (opts != NULL) o = *opts;
    o.graph_path = NULL;
    o.graph_parts = NULL;
    o.n_graph_parts = 0;
    ASSAY_TRY(check_opts(ctx, &o));
    if (count == 0)
        return assay__fail(ctx, ASSAY_E_INVAL, "--shard %zu/%zu: a split into no shards", index,
                           count);
    uint8_t *in_graph = NULL;
    size_t n_in_graph;
    uint32_t k;
    ASSAY_TRY(graph_plan(ctx, ds, &o, &in_graph, &n_in_graph, &k));
    free(in_graph);
    return assay__graph_write_rows(ctx, ds, &o, k, index, count, path);
}

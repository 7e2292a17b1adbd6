/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour graphs kept in files (graph.h5): reading one for a scan after checking that it
 * belongs to the dataset and the scan's options. (Writing one is assay_graph_write.) */
#ifndef ASSAY_GRAPH_FILE_H
#define ASSAY_GRAPH_FILE_H

#include "core/neighbours.h"
#include "io/dataset_internal.h"

/* One shard file of a merged graph (assay merge). */
typedef struct assay__graph_part {
    char *path; /* as given; owned */
    uint64_t bytes;
    unsigned char sha256[32];
    char tool[64];
    size_t row_begin, row_end;
} assay__graph_part;

/* Where a scan's neighbour graph came from: built by the scan (path NULL, n_parts 0), read from
 * a graph file, or merged from shard files (parts), after checking that it belongs to the
 * dataset. */
typedef struct assay__graph_source {
    char *path; /* as given; owned */
    uint64_t bytes;
    unsigned char sha256[32];
    char tool[64];            /* the file's `tool` attribute ("assay 0.1.0"), "" if absent */
    int approx;               /* built by --graph-method approx */
    double approx_recall;     /* its measured recall@k then (NaN if not recorded) */
    assay__graph_part *parts; /* merged shards, in row order; owned */
    size_t n_parts;
    int counts_known; /* every shard recorded how its lists were ranked (the graph's counts) */
} assay__graph_source;

void assay__graph_source_free(assay__graph_source *src);

/* Builds the lists of shard `index` of `count` (count 0: the whole graph) with k neighbours and
 * o's metric and graph method, and writes them to `path` atomically (assay_graph_write). */
assay_status assay__graph_write_rows(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_scan_opts *o, size_t k, size_t index, size_t count,
                                     const char *path);

/* Reads the shard files o->graph_parts into *g and *src: every one built for this dataset with
 * o's k and metric, together one of each shard of the same count; each is checked as
 * assay__graph_load_for_scan checks a graph file, and the merged lists as one graph. */
assay_status assay__graph_load_shards(assay_ctx *ctx, const assay_dataset *ds,
                                      const assay_scan_opts *o, const uint8_t *in_graph,
                                      assay__graph *g, assay__graph_source *src);

/* Reads the graph file o->graph_path into *g and *src after checking that it was built for this
 * dataset (rows, digest), with o's k and metric, and leaves out exactly the rows in_graph does
 * not mark; every listed distance is measured again. On failure *g and *src are left empty. */
assay_status assay__graph_load_for_scan(assay_ctx *ctx, const assay_dataset *ds,
                                        const assay_scan_opts *o, const uint8_t *in_graph,
                                        assay__graph *g, assay__graph_source *src);

#endif

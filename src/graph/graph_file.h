/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour graphs kept in files (graph.h5): reading one for a scan after checking that it
 * belongs to the dataset and the scan's options. (Writing one is assay_graph_write.) */
#ifndef ASSAY_GRAPH_FILE_H
#define ASSAY_GRAPH_FILE_H

#include "core/neighbours.h"
#include "io/dataset_internal.h"

/* Where a scan's neighbour graph came from: built by the scan (path NULL), or read from a graph
 * file after checking that it belongs to the dataset. */
typedef struct assay__graph_source {
    char *path; /* as given; owned */
    uint64_t bytes;
    unsigned char sha256[32];
    char tool[64];        /* the file's `tool` attribute ("assay 0.1.0"), "" if absent */
    int approx;           /* built by --graph-method approx */
    double approx_recall; /* its measured recall@k then (NaN if not recorded) */
} assay__graph_source;

/* Reads the graph file o->graph_path into *g and *src after checking that it was built for this
 * dataset (rows, digest), with o's k and metric, and leaves out exactly the rows in_graph does
 * not mark; every listed distance is measured again. On failure *g and *src are left empty. */
assay_status assay__graph_load_for_scan(assay_ctx *ctx, const assay_dataset *ds,
                                        const assay_scan_opts *o, const uint8_t *in_graph,
                                        assay__graph *g, assay__graph_source *src);

#endif

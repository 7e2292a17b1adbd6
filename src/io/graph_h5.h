/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour-graph files (graph.h5): the ann-benchmarks HDF5 layout (/neighbors int64 [N, k],
 * /distances float32 [N, k], attribute `distance`) plus assay's own attributes, which tie the file
 * to one dataset (docs/reports.md, "graph.h5"). Only the file format lives here, apart from the
 * dataset, so the reader can be fuzzed alone; matching a file to a dataset is
 * src/graph/graph_file.c. */
#ifndef ASSAY_GRAPH_H5_H
#define ASSAY_GRAPH_H5_H

#include "core/internal.h"
#include "core/neighbours.h"

#define ASSAY__GRAPH_FORMAT "assay-graph/1"

/* What a graph file says about itself (its root attributes). */
typedef struct assay__graph_meta {
    size_t n_rows, k;
    assay_metric metric;
    unsigned char
        dataset_digest[32]; /* dataset_sha256: the digest of the dataset it was built for */
    char tool[64];          /* who wrote it ("assay 0.1.0"), "" when absent */
    int approx;             /* graph_method = "approx" (absent: exact) */
    double approx_recall;   /* its recall@k as measured when built; NaN when absent */
    /* A shard (assay scan --shard) holds the lists of rows [row_begin, row_end) only, shard
     * shard_index of shard_count (assay__shard_rows); a whole graph has shard_count 0 and rows
     * [0, n_rows). */
    size_t shard_index, shard_count, row_begin, row_end;
    /* How the lists' exact order was established (assay__graph's counts over the file's rows);
     * -1 when absent (files written before shards). */
    int64_t certified_rows, radius_rows, exhaustive_rows;
} assay__graph_meta;

/* Writes graph `g` built for the dataset with digest `digest` to `path` (created or truncated;
 * making it atomic is the caller's job): the whole graph when shard_count is 0, else the rows of
 * shard shard_index of shard_count with the shard's attributes. Messages name `display` (the
 * final file name), not the temporary `path`. Returns ASSAY_OK, ASSAY_E_HDF5 or ASSAY_E_IO. */
assay_status assay__graph_h5_write(assay_ctx *ctx, const char *path, const char *display,
                                   const assay__graph *g, const unsigned char digest[32],
                                   size_t shard_index, size_t shard_count);

/* An open graph file whose attributes and dataset shapes have been read and checked. */
typedef struct assay__graph_h5 assay__graph_h5;

/* Opens `path` and checks its metadata: attributes assay_format ("assay-graph/1"), n_rows and k
 * (integers, 1 <= k < n_rows), metric ("cosine" or "l2"; `distance`, when present, must agree),
 * dataset_sha256 (64 hex digits), for a shard shard_index < shard_count <= n_rows with row_begin
 * and row_end as assay__shard_rows gives them, and datasets /neighbors (integer) and /distances
 * (float), both [row_end - row_begin, k]. A missing attribute is refused with a message naming it
 * (files from other tools cannot be matched to a dataset). `path` is borrowed until close. On
 * success *out is open (assay__graph_h5_close) and *meta filled. Returns ASSAY_OK,
 * ASSAY_E_NOTFOUND, ASSAY_E_IO, ASSAY_E_FORMAT, ASSAY_E_UNSUPPORTED, ASSAY_E_HDF5, ASSAY_E_NOMEM.
 */
assay_status assay__graph_h5_open(assay_ctx *ctx, const char *path, assay__graph_h5 **out,
                                  assay__graph_meta *meta);

/* Reads the neighbour lists into *g (row_end - row_begin rows of k, freed with assay__graph_free)
 * and checks their structure: ids in [-1, n_rows); a row either lists k distinct neighbours,
 * never itself and never a row of the file out of the graph, with finite distances >= 0 sorted
 * nearest first, or is out of the graph (ids -1, distances NaN). Returns ASSAY_OK, ASSAY_E_FORMAT,
 * ASSAY_E_HDF5, ASSAY_E_NOMEM. */
assay_status assay__graph_h5_read(assay__graph_h5 *h, assay__graph *g);

/* Closes the file. NULL is a no-op. */
void assay__graph_h5_close(assay__graph_h5 *h);

/* assay__graph_h5_open on a file image in memory (the fuzz harness); `path` names it. */
assay_status assay__graph_h5_open_image(assay_ctx *ctx, const char *path, const void *image,
                                        size_t image_len, assay__graph_h5 **out,
                                        assay__graph_meta *meta);

/* Checks the structure of neighbour lists as assay__graph_h5_read does (messages name `path`):
 * g holds the lists of rows [row0, row0 + g->n) of a graph of n_rows rows. */
assay_status assay__graph_h5_check_lists(assay_ctx *ctx, const char *path, const assay__graph *g,
                                         size_t row0, size_t n_rows);

/* Opens and reads the graph file at `path` (open + read + close), in the sandbox's child unless
 * assay_limits.no_sandbox (src/io/sandbox.h): a crash or hang of libhdf5 is then ASSAY_E_FORMAT
 * naming the file. On success *meta and *g (assay__graph_free) are filled. */
assay_status assay__graph_h5_load(assay_ctx *ctx, const char *path, assay__graph_meta *meta,
                                  assay__graph *g);

#endif

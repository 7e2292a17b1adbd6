/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour graphs kept in files: build one and write it atomically (assay_graph_write), and
 * reuse one in a scan after checking that it belongs to the dataset and the scan's options. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/outfile.h"
#include "graph/graph_file.h"
#include "graph/knn.h"
#include "io/graph_h5.h"

/* Rows per task when re-measuring the listed distances. */
#define CHECK_ROWS_PER_TASK 1024

/* Splits `path` into its folder ("." when it has none) and file name. */
static assay_status split_path(assay_ctx *ctx, const char *path, char *dir, size_t dir_len,
                               const char **name) {
    const char *slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;
    if ((*name)[0] == '\0')
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: names a folder, not a graph file", path);
    size_t len = slash ? (size_t)(slash - path) : 1;
    if (slash == path) len = 1; /* "/graph.h5": the root folder */
    if (len >= dir_len) return assay__fail(ctx, ASSAY_E_INVAL, "%s: path too long", path);
    memcpy(dir, slash ? path : ".", len);
    dir[len] = '\0';
    return ASSAY_OK;
}

/* The rows a graph with `metric` can hold, exactly as assay_scan decides them. */
static assay_status graph_rows(assay_ctx *ctx, const assay_dataset *ds, size_t k,
                               assay_metric metric, uint8_t **in_graph) {
    *in_graph = malloc(ds->n ? ds->n : 1);
    if (*in_graph == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    size_t used = 0;
    for (size_t r = 0; r < ds->n; r++) {
        (*in_graph)[r] = (uint8_t)assay__row_in_graph(ds, r, metric);
        used += (*in_graph)[r];
    }
    if (used > k) return ASSAY_OK;
    free(*in_graph);
    *in_graph = NULL;
    return assay__fail(ctx, ASSAY_E_INVAL,
                       "%s: k = %zu needs at least %zu rows in the neighbour graph, but the data "
                       "has %zu row%s%s",
                       ds->path, k, k + 1, ds->n, ds->n == 1 ? "" : "s",
                       used < ds->n ? " (some are left out: non-finite or all-zero)" : "");
}

/* ---- writing ---- */

static assay_status sync_file(assay_ctx *ctx, const char *tmp, const char *display) {
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL)) {
        int e = errno;
        if (fd >= 0) close(fd);
        return assay__fail(ctx, assay__errno_status(e), "%s: write failed: %s", display,
                           strerror(e));
    }
    close(fd);
    return ASSAY_OK;
}

assay_status assay_graph_write(assay_ctx *ctx, const assay_dataset *ds, const assay_scan_opts *opts,
                               const char *path) {
    if (ctx == NULL || ds == NULL || path == NULL)
        return assay__fail(ctx, ASSAY_E_INVAL, "assay_graph_write: NULL argument");
    ctx->errmsg[0] = '\0';
    assay_scan_opts o = ASSAY_SCAN_OPTS_INIT;
    if (opts != NULL) o = *opts;
    return assay__graph_write_rows(ctx, ds, &o, o.k, 0, 0, path);
}

assay_status assay__graph_write_rows(assay_ctx *ctx, const assay_dataset *ds,
                                     const assay_scan_opts *opts, size_t k, size_t index,
                                     size_t count, const char *path) {
    assay_scan_opts o = *opts;
    if (k < 1) return assay__fail(ctx, ASSAY_E_INVAL, "-k must be at least 1, got %zu", k);
    if (o.metric != ASSAY_METRIC_COSINE && o.metric != ASSAY_METRIC_L2)
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown metric %d", (int)o.metric);
    if ((o.graph_method != ASSAY_GRAPH_EXACT && o.graph_method != ASSAY_GRAPH_APPROX) ||
        !(o.approx_recall >= 0.0 && o.approx_recall <= 1.0))
        return assay__fail(ctx, ASSAY_E_INVAL, "unknown graph method %d or approx recall %g",
                           (int)o.graph_method, o.approx_recall);
    if (count > 0 && o.graph_method == ASSAY_GRAPH_APPROX)
        return assay__fail(ctx, ASSAY_E_UNSUPPORTED,
                           "--shard builds exact neighbour lists; the approximate graph "
                           "(--graph-method approx) chooses its lists from every row at once and "
                           "cannot be sharded");
    if (count > 0 && (index >= count || count > ds->n))
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "--shard %zu/%zu: expected i/n with 0 <= i < n <= the %zu rows", index,
                           count, ds->n);
    char dir[PATH_MAX];
    const char *name;
    ASSAY_TRY(split_path(ctx, path, dir, sizeof dir, &name));
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return assay__fail(ctx, ASSAY_E_IO, "%s: is a folder; give the graph file's name", path);
    /* Fail fast on an unwritable folder, before minutes of work. */
    assay__outfile f;
    assay_status s = assay__out_open(ctx, dir, name, &f);
    if (s != ASSAY_OK) {
        assay__errmsg_prefix(ctx, "%s: ", path);
        return s;
    }
    assay__out_discard(&f);

    uint8_t *in_graph = NULL;
    ASSAY_TRY(graph_rows(ctx, ds, k, o.metric, &in_graph));
    assay__graph g;
    memset(&g, 0, sizeof g);
    size_t r0 = 0, r1 = ds->n;
    if (count > 0) assay__shard_rows(index, count, ds->n, &r0, &r1);
    if (o.graph_method == ASSAY_GRAPH_APPROX)
        s = assay__knn_build_approx(ctx, ds->x, ds->n, ds->d, ds->ld, in_graph, k, o.metric,
                                    o.approx_recall > 0.0 ? o.approx_recall : 0.99, &g);
    else
        s = assay__knn_build_rows(ctx, ds->x, ds->n, ds->d, ds->ld, in_graph, k, o.metric, r0, r1,
                                  NULL, &g);
    free(in_graph);
    if (s != ASSAY_OK) return s;

    /* HDF5 writes by file name: the temporary file is created (exclusively, next to the final
     * one), closed, written by HDF5, synced and renamed into place only when complete. */
    assay__progress(ctx, "graph-file", 0, 1);
    s = assay__out_open(ctx, dir, name, &f);
    if (s == ASSAY_OK) {
        fclose(f.fp);
        f.fp = NULL;
        errno = 0;
        s = assay__graph_h5_write(ctx, f.tmp_path, path, &g, ds->digest, index, count);
        /* HDF5 says only that a write failed; errno still says why (a full disk is exit 3) */
        int e = errno;
        if (s != ASSAY_OK && assay__errno_status(e) == ASSAY_E_RESOURCE)
            s = assay__fail(ctx, ASSAY_E_RESOURCE, "%s: write failed: %s", path, strerror(e));
    }
    if (s == ASSAY_OK) s = sync_file(ctx, f.tmp_path, path);
    if (s == ASSAY_OK) s = assay__out_commit(ctx, &f);
    assay__out_discard(&f);
    assay__graph_free(&g);
    if (s == ASSAY_OK) assay__progress(ctx, "graph-file", 1, 1);
    return s;
}

/* ---- reading for a scan ---- */

/* The size and SHA-256 of the file at `path`, as it is now. */
static assay_status hash_file(assay_ctx *ctx, const char *path, uint64_t *bytes,
                              unsigned char sha256[32]) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return assay__fail(ctx, ASSAY_E_IO, "%s: cannot reopen to hash it: %s", path,
                           strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20);
    int ok = md != NULL && buf != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    size_t got;
    *bytes = 0;
    while (ok && (got = fread(buf, 1, 1 << 20, fp)) > 0) {
        ok = EVP_DigestUpdate(md, buf, got);
        *bytes += got;
    }
    int read_error = ferror(fp);
    unsigned int len = 0;
    if (ok && !read_error) ok = EVP_DigestFinal_ex(md, sha256, &len);
    EVP_MD_CTX_free(md);
    free(buf);
    fclose(fp);
    if (read_error) return assay__fail(ctx, ASSAY_E_IO, "%s: read error while hashing it", path);
    return ok ? ASSAY_OK : assay__fail(ctx, ASSAY_E_INTERNAL, "SHA-256 (OpenSSL) failed");
}

/* The file's own description against the dataset and the scan's options. */
static assay_status check_meta(assay_ctx *ctx, const char *path, const assay__graph_meta *m,
                               const assay_dataset *ds, const assay_scan_opts *o) {
    if (m->n_rows != ds->n)
        return assay__fail(ctx, ASSAY_E_SHAPE, "%s: built for %zu rows, the dataset has %zu rows",
                           path, m->n_rows, ds->n);
    if (m->metric != o->metric)
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "%s: built for metric %s, scan uses %s (give --metric %s)", path,
                           assay_metric_name(m->metric), assay_metric_name(o->metric),
                           assay_metric_name(m->metric));
    /* Equal k only: the first k columns of a larger graph may differ from a k-graph where
     * distances nearly tie, and a reused graph must give the scores a fresh scan gives. */
    if (m->k != o->k)
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "%s: built with k = %zu, scan uses k = %u (give -k %zu)", path, m->k,
                           o->k, m->k);
    if (memcmp(m->dataset_digest, ds->digest, 32) != 0) {
        char file_hex[65], data_hex[65];
        assay__hex32(m->dataset_digest, file_hex);
        assay__hex32(ds->digest, data_hex);
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "%s: built for another dataset (dataset_sha256 %s), the loaded dataset "
                           "is %s: its features, labels or ids differ",
                           path, file_hex, data_hex);
    }
    return ASSAY_OK;
}

typedef struct check_job {
    assay_ctx *ctx;
    const char *path;
    size_t row0, row1; /* the rows to check */
    int progress;      /* report "graph-file" progress (a whole file; merge reports per shard) */
    const assay_dataset *ds;
    const uint8_t *in_graph;
    const assay__graph *g;
    size_t n_tasks, tasks_done;
    pthread_mutex_t lock;
    size_t bad_row; /* the lowest row found wrong, SIZE_MAX if none */
    char msg[ASSAY_ERRMSG_MAX];
} check_job;

/* Row r's list against the dataset: in or out of the graph as the scan decides, and every
 * distance as the data gives it. Returns 0 and writes msg when wrong. */
static int check_row(const check_job *j, size_t r, char *msg, size_t len) {
    const size_t k = j->g->k;
    const int64_t *id = j->g->ids + r * k;
    const float *dist = j->g->dist + r * k;
    int listed = id[0] >= 0; /* the reader checked that rows are wholly in or out */
    if (listed != (j->in_graph[r] != 0)) {
        snprintf(msg, len,
                 "%s: row %zu is %s the graph, but the scan %s (non-finite rows, and all-zero "
                 "rows under cosine, are left out)",
                 j->path, r, listed ? "in" : "out of", listed ? "leaves it out" : "includes it");
        return 0;
    }
    if (!listed) return 1;
    const float *x = j->ds->x + r * j->ds->ld;
    for (size_t c = 0; c < k; c++) {
        double exact =
            assay__distance_exact(x, j->ds->x + (size_t)id[c] * j->ds->ld, j->ds->d, j->g->metric);
        /* Equal to the float32 rounding of the exact distance when written by the same build;
         * the slack only covers another compiler's double rounding. */
        if (!(fabs((double)dist[c] - exact) <= 1e-5 * fabs(exact) + 1e-7)) {
            snprintf(msg, len,
                     "%s: row %zu, column %zu: the file gives distance %.9g to row %lld, the data "
                     "gives %.9g (the graph does not match the data)",
                     j->path, r, c, (double)dist[c], (long long)id[c], exact);
            return 0;
        }
    }
    return 1;
}

static void check_task(void *arg, size_t task, int worker) {
    (void)worker;
    check_job *j = arg;
    size_t r0 = j->row0 + task * CHECK_ROWS_PER_TASK, r1 = r0 + CHECK_ROWS_PER_TASK;
    if (r1 > j->row1) r1 = j->row1;
    char msg[ASSAY_ERRMSG_MAX];
    for (size_t r = r0; r < r1; r++) {
        if (check_row(j, r, msg, sizeof msg)) continue;
        /* The lowest wrong row is reported, whatever order the tasks ran in. */
        pthread_mutex_lock(&j->lock);
        if (r < j->bad_row) {
            j->bad_row = r;
            memcpy(j->msg, msg, sizeof msg);
        }
        pthread_mutex_unlock(&j->lock);
        break;
    }
    pthread_mutex_lock(&j->lock);
    size_t done = ++j->tasks_done;
    pthread_mutex_unlock(&j->lock);
    if (j->progress) assay__progress(j->ctx, "graph-file", done, j->n_tasks + 1);
}

/* Rows [row0, row1) of g against the data; messages name `path`. */
static assay_status check_lists(assay_ctx *ctx, const char *path, const assay_dataset *ds,
                                const uint8_t *in_graph, const assay__graph *g, size_t row0,
                                size_t row1) {
    check_job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx;
    j.path = path;
    j.row0 = row0;
    j.row1 = row1;
    j.progress = row0 == 0 && row1 == ds->n;
    j.ds = ds;
    j.in_graph = in_graph;
    j.g = g;
    j.n_tasks = (row1 - row0 + CHECK_ROWS_PER_TASK - 1) / CHECK_ROWS_PER_TASK;
    j.bad_row = SIZE_MAX;
    if (pthread_mutex_init(&j.lock, NULL) != 0)
        return assay__fail(ctx, ASSAY_E_THREAD, "cannot create a mutex");
    assay_status s = assay__parallel_for(ctx, j.n_tasks, ctx->n_threads, check_task, &j);
    pthread_mutex_destroy(&j.lock);
    if (s != ASSAY_OK) return s;
    if (j.bad_row != SIZE_MAX) return assay__fail(ctx, ASSAY_E_INVAL, "%s", j.msg);
    return ASSAY_OK;
}

assay_status assay__graph_load_for_scan(assay_ctx *ctx, const assay_dataset *ds,
                                        const assay_scan_opts *o, const uint8_t *in_graph,
                                        assay__graph *out, assay__graph_source *src) {
    const char *path = o->graph_path;
    assay__graph_meta meta;
    assay__graph g;
    memset(&g, 0, sizeof g);
    memset(src, 0, sizeof *src);
    assay__progress(ctx, "graph-file", 0, 1);
    /* Read in the HDF5 sandbox (libhdf5 can crash or hang on a damaged file). */
    assay_status s = assay__graph_h5_load(ctx, path, &meta, &g);
    if (s == ASSAY_OK) s = check_meta(ctx, path, &meta, ds, o);
    if (s == ASSAY_OK && meta.shard_count > 0)
        s = assay__fail(ctx, ASSAY_E_INVAL,
                        "%s: shard %zu of %zu (rows %zu to %zu), not a whole graph: merge the "
                        "shards with 'assay merge'",
                        path, meta.shard_index, meta.shard_count, meta.row_begin, meta.row_end);
    if (s == ASSAY_OK) s = check_lists(ctx, path, ds, in_graph, &g, 0, ds->n);
    if (s == ASSAY_OK) {
        src->path = malloc(strlen(path) + 1);
        if (src->path == NULL) s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    }
    if (s == ASSAY_OK) {
        memcpy(src->path, path, strlen(path) + 1);
        memcpy(src->tool, meta.tool, sizeof meta.tool);
        src->approx = meta.approx;
        src->approx_recall = meta.approx_recall;
        /* The digest recorded in the report is of the file as it is now; it was just read. */
        s = hash_file(ctx, path, &src->bytes, src->sha256);
    }
    if (s != ASSAY_OK) {
        assay__graph_free(&g);
        free(src->path);
        memset(src, 0, sizeof *src);
        return s;
    }
    *out = g;
    assay__progress(ctx, "graph-file", 1, 1);
    return ASSAY_OK;
}

void assay__graph_source_free(assay__graph_source *src) {
    free(src->path);
    for (size_t i = 0; i < src->n_parts; i++) free(src->parts[i].path);
    free(src->parts);
    memset(src, 0, sizeof *src);
}

/* ---- merging shards (assay merge) ---- */

/* Part `p` (shard file `path`) after its lists were read: one shard of the same count as the
 * others, not seen before, built exactly. `first` is the first part's metadata. */
static assay_status check_part(assay_ctx *ctx, const char *path, const assay__graph_meta *m,
                               const assay__graph_meta *first, const char *first_path,
                               const assay__graph_source *src, size_t n_given) {
    if (m->shard_count == 0)
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "%s: a whole graph, not a shard ('assay scan --shard i/n' writes "
                           "shards; give a whole graph with --graph)",
                           path);
    if (m->approx)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: an approximate graph cannot be a shard", path);
    if (m->shard_count != first->shard_count)
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "%s: shard %zu of %zu, but %s is shard %zu of %zu: every shard must "
                           "come from the same --shard i/n split",
                           path, m->shard_index, m->shard_count, first_path, first->shard_index,
                           first->shard_count);
    if (m->shard_count != n_given)
        return assay__fail(ctx, ASSAY_E_INVAL,
                           "%s: shard %zu of %zu, but %zu shard file%s given: give one file per "
                           "shard",
                           path, m->shard_index, m->shard_count, n_given, n_given == 1 ? "" : "s");
    for (size_t i = 0; i < src->n_parts; i++)
        if (src->parts[i].row_begin == m->row_begin)
            return assay__fail(ctx, ASSAY_E_INVAL, "%s: shard %zu of %zu is given twice (also %s)",
                               path, m->shard_index, m->shard_count, src->parts[i].path);
    return ASSAY_OK;
}

static int part_cmp(const void *a, const void *b) {
    const assay__graph_part *x = a, *y = b;
    return (x->row_begin > y->row_begin) - (x->row_begin < y->row_begin);
}

assay_status assay__graph_load_shards(assay_ctx *ctx, const assay_dataset *ds,
                                      const assay_scan_opts *o, const uint8_t *in_graph,
                                      assay__graph *out, assay__graph_source *src) {
    const size_t n_given = o->n_graph_parts, n = ds->n, k = o->k;
    memset(src, 0, sizeof *src);
    memset(out, 0, sizeof *out);
    size_t nk;
    if (assay__mul_overflows(n, k, &nk))
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
    assay__graph g;
    memset(&g, 0, sizeof g);
    g.n = n;
    g.k = k;
    g.metric = o->metric;
    g.ids = malloc(nk ? nk * sizeof *g.ids : 1);
    g.dist = malloc(nk ? nk * sizeof *g.dist : 1);
    src->parts = calloc(n_given, sizeof *src->parts);
    if (g.ids == NULL || g.dist == NULL || src->parts == NULL) {
        assay__graph_free(&g);
        free(src->parts);
        src->parts = NULL;
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for the neighbour graph");
    }
    assay__graph_meta first;
    memset(&first, 0, sizeof first);
    assay_status s = ASSAY_OK;
    src->counts_known = 1;
    assay__progress(ctx, "graph-file", 0, n_given + 1);
    for (size_t i = 0; i < n_given && s == ASSAY_OK; i++) {
        const char *path = o->graph_parts[i];
        assay__graph_meta meta;
        assay__graph part;
        memset(&part, 0, sizeof part);
        /* Read in the HDF5 sandbox (libhdf5 can crash or hang on a damaged file). */
        s = assay__graph_h5_load(ctx, path, &meta, &part);
        if (s == ASSAY_OK) s = check_meta(ctx, path, &meta, ds, o);
        if (s == ASSAY_OK)
            s = check_part(ctx, path, &meta, i ? &first : &meta, i ? o->graph_parts[0] : path, src,
                           n_given);
        if (s == ASSAY_OK) {
            if (i == 0) first = meta;
            memcpy(g.ids + meta.row_begin * k, part.ids, part.n * k * sizeof *g.ids);
            memcpy(g.dist + meta.row_begin * k, part.dist, part.n * k * sizeof *g.dist);
            assay__graph_part *p = &src->parts[src->n_parts];
            p->row_begin = meta.row_begin;
            p->row_end = meta.row_end;
            memcpy(p->tool, meta.tool, sizeof p->tool);
            if ((p->path = strdup(path)) == NULL)
                s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
            else
                src->n_parts++;
            if (meta.certified_rows < 0 || meta.radius_rows < 0 || meta.exhaustive_rows < 0)
                src->counts_known = 0;
            else {
                g.n_certified += (size_t)meta.certified_rows;
                g.n_radius += (size_t)meta.radius_rows;
                g.n_exhaustive += (size_t)meta.exhaustive_rows;
            }
        }
        assay__graph_free(&part);
        if (s == ASSAY_OK) { /* the digest the report records is of the file just read */
            assay__graph_part *p = &src->parts[src->n_parts - 1];
            s = hash_file(ctx, path, &p->bytes, p->sha256);
        }
        if (s == ASSAY_OK) assay__progress(ctx, "graph-file", i + 1, n_given + 1);
    }
    /* As many files as shards and none twice: every shard is here. The merged lists are then
     * checked as one graph (a shard cannot see rows of others left out of the graph), and each
     * part's rows against the data. */
    if (s == ASSAY_OK) {
        qsort(src->parts, src->n_parts, sizeof *src->parts, part_cmp);
        s = assay__graph_h5_check_lists(ctx, "the merged shards", &g, 0, n);
    }
    for (size_t i = 0; i < src->n_parts && s == ASSAY_OK; i++)
        s = check_lists(ctx, src->parts[i].path, ds, in_graph, &g, src->parts[i].row_begin,
                        src->parts[i].row_end);
    if (s != ASSAY_OK) {
        assay__graph_free(&g);
        assay__graph_source_free(src);
        return s;
    }
    *out = g;
    assay__progress(ctx, "graph-file", n_given + 1, n_given + 1);
    return ASSAY_OK;
}

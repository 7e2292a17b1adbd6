/* SPDX-License-Identifier: Apache-2.0 */
/* HDF5 readers in the sandbox (src/io/sandbox.h): the child runs the ordinary reader and sends
 * what it read; the parent takes the float matrix over as shared memory (zero-copy) and copies
 * the columns, checking every count and length it is sent as it would check a file. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "io/graph_h5.h"
#include "io/h5_read.h"
#include "io/input.h"
#include "io/sandbox.h"

#define SB_TRY(expr)                                                                               \
    do {                                                                                           \
        if ((expr) != ASSAY_OK) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");           \
    } while (0)

/* ---- datasets ---- */

typedef struct h5_job {
    const char *path;
    const assay_load_opts *opts;
} h5_job;

static assay_status put_column(assay_ctx *ctx, assay__sandbox *sb, const assay__column *c) {
    SB_TRY(assay__sandbox_put_u64(sb, (uint64_t)c->type));
    if (c->type == ASSAY__COL_NONE) return ASSAY_OK;
    SB_TRY(assay__sandbox_put_u64(sb, (uint64_t)c->n));
    SB_TRY(assay__sandbox_put_str(sb, c->source));
    if (c->type == ASSAY__COL_INT) {
        SB_TRY(assay__sandbox_put(sb, c->i, c->n * sizeof *c->i));
    } else {
        for (size_t r = 0; r < c->n; r++) SB_TRY(assay__sandbox_put_str(sb, c->s[r]));
    }
    return ASSAY_OK;
}

static assay_status child_load(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    const h5_job *j = arg;
    /* Nothing here is freed: the process exits as soon as the reply is sent. */
    assay_dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    ASSAY_TRY(assay__h5_read(ctx, ds, j->path, NULL, 0, j->opts, sb));
    SB_TRY(assay__sandbox_put_u64(sb, ds->n));
    SB_TRY(assay__sandbox_put_u64(sb, ds->d));
    SB_TRY(assay__sandbox_put_u64(sb, ds->ld));
    SB_TRY(assay__sandbox_put_str(sb, ds->h5_embeddings));
    ASSAY_TRY(put_column(ctx, sb, &ds->labels));
    ASSAY_TRY(put_column(ctx, sb, &ds->ids));
    SB_TRY(assay__sandbox_put_u64(sb, ds->n_declared));
    SB_TRY(assay__sandbox_put_u64(sb, (uint64_t)ds->declared_names_for_ints));
    for (size_t i = 0; i < ds->n_declared; i++) SB_TRY(assay__sandbox_put_str(sb, ds->declared[i]));
    SB_TRY(assay__sandbox_put_u64(sb, ds->pred_probs != NULL));
    if (ds->pred_probs != NULL) {
        SB_TRY(assay__sandbox_put_u64(sb, ds->pp_rows));
        SB_TRY(assay__sandbox_put_u64(sb, ds->pp_cols));
        SB_TRY(assay__sandbox_put(sb, ds->pred_probs, ds->pp_rows * ds->pp_cols * sizeof(float)));
        SB_TRY(assay__sandbox_put_str(sb, ds->pp_source));
    }
    return ASSAY_OK;
}

static assay_status malformed(assay_ctx *ctx, const char *path, const char *what) {
    return assay__fail(ctx, ASSAY_E_FORMAT,
                       "%s: the HDF5 reader sent a malformed reply (%s): the file is damaged or "
                       "hostile",
                       path, what);
}

/* n * size bytes, or 0 when that overflows. */
static int array_bytes(uint64_t n, size_t size, size_t *out) {
    return n <= SIZE_MAX && !assay__mul_overflows((size_t)n, size, out);
}

static assay_status get_column(assay_ctx *ctx, const char *path, assay__sandbox_reader *r,
                               assay__column *out) {
    uint64_t type, n;
    const char *src;
    if (!assay__sandbox_get_u64(r, &type) || type > ASSAY__COL_STR)
        return malformed(ctx, path, "column type");
    if (type == ASSAY__COL_NONE) return ASSAY_OK;
    if (!assay__sandbox_get_u64(r, &n) || !assay__sandbox_get_str(r, &src, NULL) || src == NULL ||
        n > (uint64_t)(r->end - r->p))
        return malformed(ctx, path, "column");
    assay__column c;
    memset(&c, 0, sizeof c);
    c.n = (size_t)n;
    assay_status s = ASSAY_OK;
    size_t bytes;
    if (type == ASSAY__COL_INT) {
        const void *p;
        if (!array_bytes(n, sizeof(int64_t), &bytes) || !assay__sandbox_get_bytes(r, bytes, &p))
            return malformed(ctx, path, "integer column");
        if ((c.i = malloc(bytes ? bytes : 1)) == NULL)
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        memcpy(c.i, p, bytes);
        c.type = ASSAY__COL_INT;
    } else {
        c.type = ASSAY__COL_STR;
        if ((c.s = calloc(c.n ? c.n : 1, sizeof *c.s)) == NULL)
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        for (size_t i = 0; i < c.n && s == ASSAY_OK; i++) {
            const char *v;
            size_t len;
            if (!assay__sandbox_get_str(r, &v, &len) || v == NULL)
                s = malformed(ctx, path, "string column");
            else if ((c.s[i] = assay__strpool_add(&c.pool, v, len)) == NULL)
                s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        }
    }
    if (s == ASSAY_OK) s = assay__column_set_source(ctx, &c, "%s", src);
    if (s != ASSAY_OK) {
        assay__column_free(&c);
        return s;
    }
    assay__column_free(out);
    *out = c;
    return ASSAY_OK;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) memcpy(d, s, n);
    return d;
}

static assay_status adopt(assay_ctx *ctx, assay_dataset *ds, const char *path,
                          assay__sandbox_out *out) {
    assay__sandbox_reader r = {out->payload, out->payload + out->payload_len};
    uint64_t n, d, ld, nd, names_for_ints, has_pp;
    const char *emb;
    size_t bytes;
    if (!assay__sandbox_get_u64(&r, &n) || !assay__sandbox_get_u64(&r, &d) ||
        !assay__sandbox_get_u64(&r, &ld) || !assay__sandbox_get_str(&r, &emb, NULL) || emb == NULL)
        return malformed(ctx, path, "header");
    /* The matrix must be exactly the shared region the child filled. */
    if (n == 0 || d == 0 || d > SIZE_MAX || ld != assay__row_stride((size_t)d) ||
        !array_bytes(n, (size_t)ld, &bytes) || !array_bytes(bytes, sizeof(float), &bytes) ||
        bytes != out->shared_bytes)
        return malformed(ctx, path, "matrix size");
    ASSAY_TRY(get_column(ctx, path, &r, &ds->labels));
    ASSAY_TRY(get_column(ctx, path, &r, &ds->ids));
    if (!assay__sandbox_get_u64(&r, &nd) || !assay__sandbox_get_u64(&r, &names_for_ints) ||
        names_for_ints > 1 || nd > (uint64_t)(r.end - r.p))
        return malformed(ctx, path, "class names");
    if (nd > 0) {
        char **names = calloc((size_t)nd, sizeof *names);
        if (names == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        for (size_t i = 0; i < nd; i++) {
            const char *v;
            size_t len;
            if (!assay__sandbox_get_str(&r, &v, &len) || v == NULL) {
                free(names);
                return malformed(ctx, path, "class names");
            }
            if ((names[i] = assay__strpool_add(&ds->pool, v, len)) == NULL) {
                free(names);
                return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
            }
        }
        free(ds->declared);
        ds->declared = names;
        ds->n_declared = (size_t)nd;
        ds->declared_names_for_ints = (int)names_for_ints;
    }
    if (!assay__sandbox_get_u64(&r, &has_pp) || has_pp > 1)
        return malformed(ctx, path, "probabilities");
    if (has_pp) {
        uint64_t rows, cols;
        const void *p;
        const char *src;
        if (!assay__sandbox_get_u64(&r, &rows) || !assay__sandbox_get_u64(&r, &cols) ||
            !array_bytes(rows, sizeof(float), &bytes) || !array_bytes(cols, bytes, &bytes) ||
            !assay__sandbox_get_bytes(&r, bytes, &p) || !assay__sandbox_get_str(&r, &src, NULL) ||
            src == NULL)
            return malformed(ctx, path, "probabilities");
        float *pp = malloc(bytes ? bytes : 1);
        char *ps = dup_str(src);
        if (pp == NULL || ps == NULL) {
            free(pp);
            free(ps);
            return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
        }
        memcpy(pp, p, bytes);
        free(ds->pred_probs);
        free(ds->pp_source);
        ds->pred_probs = pp;
        ds->pp_rows = (size_t)rows;
        ds->pp_cols = (size_t)cols;
        ds->pp_source = ps;
    }
    if (r.p != r.end) return malformed(ctx, path, "trailing bytes");
    char *e = dup_str(emb);
    if (e == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
    free(ds->h5_embeddings);
    ds->h5_embeddings = e;
    ds->x = out->shared;
    ds->x_mapped = out->shared_bytes;
    assay__bulk_adopt(ctx, ds->x, ds->x_mapped); /* a scratch file under --memory-limit */
    ds->n = (size_t)n;
    ds->d = (size_t)d;
    ds->ld = (size_t)ld;
    out->shared = NULL;
    out->shared_bytes = 0;
    return ASSAY_OK;
}

assay_status assay__h5_load_sandboxed(assay_ctx *ctx, assay_dataset *ds, const char *path,
                                      const assay_load_opts *opts) {
    assay_load_opts defaults = ASSAY_LOAD_OPTS_INIT;
    h5_job j = {path, opts ? opts : &defaults};
    assay__sandbox_out out;
    ASSAY_TRY(assay__sandbox_run(ctx, path, "HDF5 reader", child_load, &j, &out));
    assay_status s = adopt(ctx, ds, path, &out);
    assay__sandbox_out_free(&out);
    return s;
}

/* ---- graph files ---- */

static assay_status read_graph(assay_ctx *ctx, const char *path, assay__graph_meta *meta,
                               assay__graph *g) {
    assay__graph_h5 *h = NULL;
    assay_status s = assay__graph_h5_open(ctx, path, &h, meta);
    if (s == ASSAY_OK) s = assay__graph_h5_read(h, g);
    assay__graph_h5_close(h);
    return s;
}

static assay_status child_graph(assay_ctx *ctx, assay__sandbox *sb, void *arg) {
    const char *path = arg;
    assay__graph_meta meta;
    assay__graph g;
    memset(&meta, 0, sizeof meta);
    memset(&g, 0, sizeof g);
    ASSAY_TRY(read_graph(ctx, path, &meta, &g));
    size_t cells = g.n * g.k; /* checked by the reader */
    SB_TRY(assay__sandbox_put(sb, &meta, sizeof meta));
    SB_TRY(assay__sandbox_put(sb, g.ids, cells * sizeof *g.ids));
    SB_TRY(assay__sandbox_put(sb, g.dist, cells * sizeof *g.dist));
    return ASSAY_OK;
}

/* A reply's shard fields as the reader checks them (the reply is not trusted). */
static int shard_meta_ok(const assay__graph_meta *m) {
    size_t b = 0, e = m->n_rows;
    if (m->shard_count > 0) {
        if (m->shard_index >= m->shard_count || m->shard_count > m->n_rows) return 0;
        assay__shard_rows(m->shard_index, m->shard_count, m->n_rows, &b, &e);
    } else if (m->shard_index != 0) {
        return 0;
    }
    size_t rows = e - b;
    int64_t c[3] = {m->certified_rows, m->radius_rows, m->exhaustive_rows};
    for (int i = 0; i < 3; i++)
        if (c[i] < -1 || (c[i] >= 0 && (uint64_t)c[i] > rows)) return 0;
    return m->row_begin == b && m->row_end == e;
}

assay_status assay__graph_h5_load(assay_ctx *ctx, const char *path, assay__graph_meta *meta,
                                  assay__graph *g) {
    memset(g, 0, sizeof *g);
    /* A FIFO or device is refused here: the reader (sandboxed or not) would block on it. */
    assay__input in;
    assay_status s0 = assay__input_open(ctx, path, "an HDF5 graph file", 0, &in);
    if (s0 == ASSAY_E_NOTFOUND)
        return assay__fail(ctx, s0, "%s: cannot open the graph file: %s", path, strerror(ENOENT));
    if (s0 != ASSAY_OK) return s0;
    assay__input_close(&in);
    if (!assay__sandbox_enabled(ctx)) return read_graph(ctx, path, meta, g);
    assay__sandbox_out out;
    ASSAY_TRY(assay__sandbox_run(ctx, path, "HDF5 reader", child_graph, (void *)path, &out));
    assay__sandbox_reader r = {out.payload, out.payload + out.payload_len};
    const void *pm, *pi, *pd;
    assay__graph_meta m;
    size_t cells, ib, db;
    assay_status s = ASSAY_OK;
    if (!assay__sandbox_get_bytes(&r, sizeof m, &pm)) {
        s = malformed(ctx, path, "graph header");
        goto out;
    }
    memcpy(&m, pm, sizeof m);
    if (m.k == 0 || m.n_rows <= m.k ||
        (m.metric != ASSAY_METRIC_COSINE && m.metric != ASSAY_METRIC_L2) ||
        memchr(m.tool, '\0', sizeof m.tool) == NULL || (m.approx != 0 && m.approx != 1) ||
        !(isnan(m.approx_recall) || (m.approx_recall >= 0.0 && m.approx_recall <= 1.0)) ||
        !shard_meta_ok(&m) || assay__mul_overflows(m.row_end - m.row_begin, m.k, &cells) ||
        assay__mul_overflows(cells, sizeof(int64_t), &ib) ||
        assay__mul_overflows(cells, sizeof(float), &db) || !assay__sandbox_get_bytes(&r, ib, &pi) ||
        !assay__sandbox_get_bytes(&r, db, &pd) || r.p != r.end) {
        s = malformed(ctx, path, "graph size");
        goto out;
    }
    g->ids = malloc(ib);
    g->dist = malloc(db);
    if (g->ids == NULL || g->dist == NULL) {
        s = assay__fail(ctx, ASSAY_E_NOMEM, "%s: out of memory for %zu x %zu neighbours", path,
                        m.row_end - m.row_begin, m.k);
        goto out;
    }
    memcpy(g->ids, pi, ib);
    memcpy(g->dist, pd, db);
    g->n = m.row_end - m.row_begin;
    g->k = m.k;
    g->metric = m.metric;
    /* The child checked the lists; checked again here because the reply crossed a process
     * boundary from code that read hostile input. */
    s = assay__graph_h5_check_lists(ctx, path, g, m.row_begin, m.n_rows);
    if (s == ASSAY_OK) *meta = m;
out:
    if (s != ASSAY_OK) assay__graph_free(g);
    assay__sandbox_out_free(&out);
    return s;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Fingerprints with OpenSSL's SHA-256: one digest per row over a canonical encoding, one for the
 * dataset over the row digests in order, and one per input file.
 *
 * Row encoding (assay-row/v1), hashed in this order:
 *   the d features as float32 little-endian (after conversion from the file's dtype),
 *   the label: 0x01 + int64 little-endian, or 0x02 + uint32 LE byte length + UTF-8 bytes,
 *   the id:    0x00 when there are no ids, else encoded like the label.
 * The features-only prefix gives a second digest used to find exact duplicate rows; it is taken
 * from a copy of the hash state, so the features are read once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "io/dataset_internal.h"

static void put_u32le(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64le(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Hashes one value of a label or id column (or "absent"). */
static int update_value(EVP_MD_CTX *md, const assay__column *c, size_t r) {
    unsigned char buf[12];
    if (c->type == ASSAY__COL_NONE) {
        buf[0] = 0x00;
        return EVP_DigestUpdate(md, buf, 1);
    }
    if (c->type == ASSAY__COL_INT) {
        buf[0] = 0x01;
        put_u64le(buf + 1, (uint64_t)c->i[r]);
        return EVP_DigestUpdate(md, buf, 9);
    }
    size_t len = strlen(c->s[r]);
    buf[0] = 0x02;
    put_u32le(buf + 1, (uint32_t)len);
    return EVP_DigestUpdate(md, buf, 5) && EVP_DigestUpdate(md, c->s[r], len);
}

typedef struct fp_job {
    assay_ctx *ctx;
    const EVP_MD *sha256; /* fetched once: OpenSSL 3 fetches per call otherwise, under a lock */
    assay_dataset *ds;
    size_t rows_per_task;
    size_t n_row_tasks;
    int failed; /* set by any task that failed (only OpenSSL or I/O can) */
    char file_error[512];
    pthread_mutex_t lock;
    uint64_t rows_done;
} fp_job;

static void set_error(fp_job *j, const char *fmt, ...) ASSAY_PRINTF(2, 3);
static void set_error(fp_job *j, const char *fmt, ...) {
    pthread_mutex_lock(&j->lock);
    if (!j->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->file_error, sizeof j->file_error, fmt, ap);
        va_end(ap);
    }
    j->failed = 1;
    pthread_mutex_unlock(&j->lock);
}

static void hash_rows(fp_job *j, size_t task) {
    assay_dataset *ds = j->ds;
    size_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task;
    if (r1 > ds->n) r1 = ds->n;
    EVP_MD_CTX *md = EVP_MD_CTX_new(), *tmp = EVP_MD_CTX_new();
    float *swap = assay__host_is_little_endian() ? NULL : malloc(ds->d * sizeof(float));
    int ok = md != NULL && tmp != NULL && (assay__host_is_little_endian() || swap != NULL);
    for (size_t r = r0; ok && r < r1; r++) {
        const float *x = ds->x + r * ds->ld;
        if (swap != NULL) { /* big-endian host: hash the little-endian bytes */
            for (size_t c = 0; c < ds->d; c++) {
                unsigned char *s = (unsigned char *)&swap[c];
                const unsigned char *p = (const unsigned char *)&x[c];
                s[0] = p[3], s[1] = p[2], s[2] = p[1], s[3] = p[0];
            }
            x = swap;
        }
        unsigned int len = 0;
        ok = EVP_DigestInit_ex(md, j->sha256, NULL) &&
             EVP_DigestUpdate(md, x, ds->d * sizeof(float)) && EVP_MD_CTX_copy_ex(tmp, md) &&
             EVP_DigestFinal_ex(tmp, ds->content_digest[r], &len) &&
             update_value(md, &ds->labels, r) && update_value(md, &ds->ids, r) &&
             EVP_DigestFinal_ex(md, ds->row_digest[r], &len);
    }
    EVP_MD_CTX_free(md);
    EVP_MD_CTX_free(tmp);
    free(swap);
    if (!ok) set_error(j, "SHA-256 (OpenSSL) failed while hashing rows");
    pthread_mutex_lock(&j->lock);
    j->rows_done += r1 - r0;
    uint64_t done = j->rows_done;
    pthread_mutex_unlock(&j->lock);
    assay__progress(j->ctx, "fingerprint", done, ds->n);
}

static void hash_file(fp_job *j, assay__file_info *f) {
    if (f->hashed) return; /* standard input: hashed while it was read */
    FILE *fp = fopen(f->path, "rb");
    if (fp == NULL) {
        set_error(j, "%s: cannot reopen to hash it: %s", f->path, strerror(errno));
        return;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20);
    int ok = md != NULL && buf != NULL && EVP_DigestInit_ex(md, j->sha256, NULL);
    uint64_t total = 0;
    size_t got;
    while (ok && (got = fread(buf, 1, 1 << 20, fp)) > 0) {
        ok = EVP_DigestUpdate(md, buf, got);
        total += got;
    }
    if (ok && ferror(fp)) {
        set_error(j, "%s: read error while hashing it", f->path);
        ok = 0;
    }
    unsigned int len = 0;
    if (ok) ok = EVP_DigestFinal_ex(md, f->sha256, &len);
    f->bytes = total;
    if (!ok) set_error(j, "%s: SHA-256 of the file failed", f->path);
    EVP_MD_CTX_free(md);
    free(buf);
    fclose(fp);
}

/* Files first, so one thread hashes a large file while the others hash rows. */
static void fp_task(void *arg, size_t task, int worker) {
    (void)worker;
    fp_job *j = arg;
    if (task < j->ds->n_files)
        hash_file(j, &j->ds->files[task]);
    else
        hash_rows(j, task - j->ds->n_files);
}

assay_status assay__fingerprint(assay_ctx *ctx, assay_dataset *ds) {
    ds->row_digest = malloc(ds->n * sizeof *ds->row_digest);
    ds->content_digest = malloc(ds->n * sizeof *ds->content_digest);
    if (ds->row_digest == NULL || ds->content_digest == NULL)
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory for %zu row digests", ds->n);
    fp_job job;
    memset(&job, 0, sizeof job);
    job.ctx = ctx;
    job.ds = ds;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MD *fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    job.sha256 = fetched;
#else
    job.sha256 = EVP_sha256();
#endif
    if (job.sha256 == NULL) return assay__fail(ctx, ASSAY_E_INTERNAL, "OpenSSL has no SHA-256");
    job.rows_per_task = 2048;
    job.n_row_tasks = (ds->n + job.rows_per_task - 1) / job.rows_per_task;
    if (pthread_mutex_init(&job.lock, NULL) != 0)
        return assay__fail(ctx, ASSAY_E_THREAD, "cannot create a mutex");
    assay_status s =
        assay__parallel_for(ctx, ds->n_files + job.n_row_tasks, ctx->n_threads, fp_task, &job);
    pthread_mutex_destroy(&job.lock);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 0;
    int ok = s == ASSAY_OK && !job.failed && md != NULL &&
             EVP_DigestInit_ex(md, job.sha256, NULL) &&
             EVP_DigestUpdate(md, ds->row_digest, ds->n * sizeof *ds->row_digest) &&
             EVP_DigestFinal_ex(md, ds->digest, &len);
    EVP_MD_CTX_free(md);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    EVP_MD_free(fetched);
#endif
    if (s != ASSAY_OK) return s;
    if (job.failed) return assay__fail(ctx, ASSAY_E_IO, "%s", job.file_error);
    return ok ? ASSAY_OK : assay__fail(ctx, ASSAY_E_INTERNAL, "SHA-256 (OpenSSL) failed");
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic output: single files renamed into place, sets of files swapped in together with an
 * undo, and the registry of temporaries a signal handler removes (core/outfile.h,
 * docs/atomic-output.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/outfile.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1u << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1u << 1)
#endif

int assay__outset_fail_at;
int assay__outset_no_exchange;
void (*assay__outset_swap_hook)(int n);

/* ---- the registry of temporaries ---- */

/* Fixed slots, so the signal-time walk needs no lock and no allocation; a slot's path is written
 * before its state says it is live. */
enum { TMP_SLOTS = 128 };
enum { SLOT_FREE, SLOT_CLAIMED, SLOT_FILE, SLOT_DIR };
static struct {
    _Atomic int state;
    char path[PATH_MAX];
} g_tmp[TMP_SLOTS];
/* g_state: the number of set commits swapping files right now (low bits) and STATE_ABORT once
 * assay_output_interrupt() was called; one word, so a commit deciding to keep its swaps and a
 * handler deciding to wait for that commit cannot both miss each other. */
enum { STATE_ABORT = 1 << 30 };
static _Atomic int g_state;
static _Atomic int g_abort_code;     /* the exit code assay_output_interrupt() was given */
static _Atomic int g_sets_committed; /* sets this process committed (assay_output_committed) */

int assay__tmp_register(const char *path, int is_dir) {
    size_t n = strlen(path);
    if (n >= PATH_MAX) return 0;
    for (int i = 0; i < TMP_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&g_tmp[i].state, &expect, SLOT_CLAIMED)) continue;
        memcpy(g_tmp[i].path, path, n + 1);
        atomic_store(&g_tmp[i].state, is_dir ? SLOT_DIR : SLOT_FILE);
        return i + 1;
    }
    return 0;
}

void assay__tmp_unregister(int slot) {
    if (slot > 0 && slot <= TMP_SLOTS) atomic_store(&g_tmp[slot - 1].state, SLOT_FREE);
}

/* Async-signal-safe: unlink() and rmdir() only. Files first, then folders (a few passes, as
 * a staging folder may sit inside an output folder this process created, and that inside the
 * parents it created). */
static void tmp_remove_all(void) {
    for (int i = 0; i < TMP_SLOTS; i++)
        if (atomic_load(&g_tmp[i].state) == SLOT_FILE) unlink(g_tmp[i].path);
    for (int pass = 0, removed = 1; removed && pass < TMP_SLOTS; pass++) {
        removed = 0; /* until a pass removes nothing: a chain of created parents nests deeply */
        for (int i = 0; i < TMP_SLOTS; i++)
            if (atomic_load(&g_tmp[i].state) == SLOT_DIR && rmdir(g_tmp[i].path) == 0) removed = 1;
    }
}

void assay_output_interrupt(int exit_code) {
    int zero = 0;
    atomic_compare_exchange_strong(&g_abort_code, &zero, exit_code != 0 ? exit_code : 1);
    /* A commit swapping files undoes its swaps, then exits (commit_end). */
    if (atomic_fetch_or(&g_state, STATE_ABORT) & ~STATE_ABORT) return;
    tmp_remove_all();
    _exit(atomic_load(&g_abort_code));
}

int assay_output_committed(void) {
    return atomic_load(&g_sets_committed);
}

/* Ends a commit that failed or was undone; the last one out exits when an interruption came. */
static void commit_end(void) {
    int old = atomic_fetch_sub(&g_state, 1);
    if ((old & STATE_ABORT) && (old & ~STATE_ABORT) == 1) {
        tmp_remove_all();
        _exit(atomic_load(&g_abort_code));
    }
}

/* 0, or -1 (after which the process exits) when an interruption is already under way. */
static int commit_begin(void) {
    if ((atomic_fetch_add(&g_state, 1) & STATE_ABORT) == 0) return 0;
    commit_end();
    return -1;
}

/* Ends a commit whose swaps are all done: 0 when it keeps them, -1 when an interruption came
 * during the swaps (they must be undone, then commit_end exits). Counted as committed before
 * the commit leaves g_state, so a handler that sees no commit under way sees this set. */
static int commit_keep(void) {
    atomic_fetch_add(&g_sets_committed, 1);
    int s = atomic_load(&g_state);
    while ((s & STATE_ABORT) == 0)
        if (atomic_compare_exchange_weak(&g_state, &s, s - 1)) return 0;
    atomic_fetch_sub(&g_sets_committed, 1);
    return -1;
}

/* ---- helpers ---- */

static int join(char *buf, size_t len, const char *dir, const char *name) {
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

static unsigned long salt_for(const void *p) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long)ts.tv_nsec ^ (unsigned long)(uintptr_t)p ^ (unsigned long)ts.tv_sec;
}

/* The status for a failed output operation: a full disk, a quota, EIO... are resource errors. */
static assay_status out_errno(int e) {
    return assay__errno_status(e);
}

assay_status assay__out_check_target(assay_ctx *ctx, const char *dir, const char *name) {
    char path[PATH_MAX];
    if (join(path, sizeof path, dir, name) != 0)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
    struct stat st;
    if (lstat(path, &st) != 0) return ASSAY_OK;
    if (S_ISDIR(st.st_mode))
        return assay__fail(ctx, ASSAY_E_IO,
                           "%s: a folder is in the way of this output file; remove or rename "
                           "it (nothing was replaced)",
                           path);
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        return assay__fail(ctx, ASSAY_E_IO,
                           "%s: exists and is not a regular file; expected a file assay can "
                           "replace (nothing was replaced)",
                           path);
    return ASSAY_OK;
}

/* Creates (O_EXCL) a registered file at path; its stream in *fp. errno set on failure. */
static int create_registered(const char *path, FILE **fp, int *slot) {
    *slot = assay__tmp_register(path, 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        assay__tmp_unregister(*slot);
        *slot = 0;
        errno = e;
        return -1;
    }
    *fp = fdopen(fd, "w");
    if (*fp == NULL) {
        int e = errno;
        close(fd);
        unlink(path);
        assay__tmp_unregister(*slot);
        *slot = 0;
        errno = e;
        return -1;
    }
    return 0;
}

/* Flushes, syncs and closes fp; 0 or an errno. fflush is tried even after an earlier error: it
 * rewrites what is still buffered and so reports why the stream failed (ENOSPC...). */
static int close_stream(FILE *fp) {
    int e = 0;
    int had_error = ferror(fp);
    if (fflush(fp) != 0) e = errno ? errno : EIO;
    if (e == 0 && had_error) e = EIO;
    if (e == 0 && fsync(fileno(fp)) != 0 && errno != EINVAL) e = errno;
    if (fclose(fp) != 0 && e == 0) e = errno ? errno : EIO;
    return e;
}

assay_status assay__write_failed(assay_ctx *ctx, FILE *fp, const char *path) {
    int e = errno; /* of the write that failed, unless flushing again says more */
    if (fp != NULL && fflush(fp) != 0 && errno != 0) e = errno;
    if (e == 0) e = EIO;
    return assay__fail(ctx, out_errno(e), "%s: write failed: %s", path, strerror(e));
}

/* ---- one file ---- */

/* The temporary file is created with O_EXCL and mode 0666, so the umask applies as it does to
 * any file the user creates (mkstemp would force 0600 on reports meant to be shared). */
assay_status assay__out_open(assay_ctx *ctx, const char *dir, const char *name, assay__outfile *f) {
    memset(f, 0, sizeof *f);
    if (join(f->final_path, sizeof f->final_path, dir, name) != 0)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
    ASSAY_TRY(assay__out_check_target(ctx, dir, name));
    unsigned long salt = salt_for(f);
    int e = 0;
    for (int attempt = 0; attempt < 100 && f->fp == NULL; attempt++) {
        int b = snprintf(f->tmp_path, sizeof f->tmp_path, "%s/.%s.tmp-%ld-%lx", dir, name,
                         (long)getpid(), salt + (unsigned long)attempt);
        if (b < 0 || (size_t)b >= sizeof f->tmp_path) {
            f->tmp_path[0] = '\0';
            return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
        }
        if (create_registered(f->tmp_path, &f->fp, &f->slot) == 0) break;
        e = errno;
        if (e != EEXIST) break;
    }
    if (f->fp == NULL) {
        f->tmp_path[0] = '\0';
        return assay__fail(ctx, out_errno(e), "%s: cannot create a file in the output folder: %s",
                           dir, strerror(e));
    }
    return ASSAY_OK;
}

assay_status assay__out_close(assay_ctx *ctx, assay__outfile *f) {
    if (f->fp == NULL) return ASSAY_OK;
    int e = close_stream(f->fp);
    f->fp = NULL;
    if (e != 0)
        return assay__fail(ctx, out_errno(e), "%s: write failed: %s", f->final_path, strerror(e));
    return ASSAY_OK;
}

assay_status assay__out_commit(assay_ctx *ctx, assay__outfile *f) {
    if (rename(f->tmp_path, f->final_path) != 0) {
        int e = errno;
        return assay__fail(ctx, out_errno(e), "%s: cannot rename into place: %s", f->final_path,
                           strerror(e));
    }
    /* unregistered only after the rename: a signal in between unlinks a name already gone */
    assay__tmp_unregister(f->slot);
    f->slot = 0;
    f->tmp_path[0] = '\0';
    return ASSAY_OK;
}

void assay__out_discard(assay__outfile *f) {
    if (f->fp != NULL) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->tmp_path[0] != '\0') {
        unlink(f->tmp_path);
        f->tmp_path[0] = '\0';
    }
    assay__tmp_unregister(f->slot);
    f->slot = 0;
}

/* The length of path's parent in path (trailing slashes dropped), 0 for a single component,
 * 1 for a child of the root. */
static size_t parent_len(const char *path, size_t n) {
    while (n > 1 && path[n - 1] == '/') n--;
    while (n > 0 && path[n - 1] != '/') n--;
    while (n > 1 && path[n - 1] == '/') n--;
    return n;
}

assay_status assay__out_check_dir(assay_ctx *ctx, const char *dir) {
    if (dir == NULL || dir[0] == '\0')
        return assay__fail(ctx, ASSAY_E_INVAL, "no output folder given");
    struct stat st;
    char parent[PATH_MAX];
    const char *probe_in = dir;
    if (stat(dir, &st) != 0) {
        int e = errno;
        if (e != ENOENT && e != ENOTDIR)
            return assay__fail(ctx, out_errno(e), "%s: cannot use the output folder: %s", dir,
                               strerror(e));
        /* Not created yet (it and its missing parents are created when the reports are
         * written): the nearest existing ancestor must be a folder files can be created in. */
        size_t n = strlen(dir);
        for (;;) {
            n = parent_len(dir, n);
            if (n == 0)
                snprintf(parent, sizeof parent, ".");
            else if (n < sizeof parent)
                snprintf(parent, sizeof parent, "%.*s", (int)n, dir);
            else
                return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
            if (stat(parent, &st) == 0) break;
            e = errno;
            /* up to "." or "/", which exist unless something is badly wrong */
            if ((e != ENOENT && e != ENOTDIR) || n == 0 || (n == 1 && dir[0] == '/'))
                return assay__fail(ctx, out_errno(e), "%s: cannot create the output folder: %s: %s",
                                   dir, parent, strerror(e));
        }
        if (!S_ISDIR(st.st_mode))
            return assay__fail(ctx, ASSAY_E_IO,
                               "%s: cannot create the output folder: %s exists and is not a "
                               "folder",
                               dir, parent);
        probe_in = parent;
    } else if (!S_ISDIR(st.st_mode)) {
        return assay__fail(ctx, ASSAY_E_IO, "%s: exists and is not a folder", dir);
    }
    /* Probe by creating (and removing) a temporary file: access() is not enough on read-only
     * mounts, and a scan should not run for minutes before finding that out. */
    assay__outfile probe;
    assay_status s = assay__out_open(ctx, probe_in, "write-probe", &probe);
    if (s != ASSAY_OK) {
        if (probe_in != dir) assay__errmsg_prefix(ctx, "%s: ", dir);
        return s;
    }
    assay__out_discard(&probe);
    return ASSAY_OK;
}

/* ---- sets of files ---- */

enum { MODE_NONE, MODE_EXCHANGED, MODE_NEW, MODE_BACKUP };

static int rename2(const char *from, const char *to, unsigned flags) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
#else
    (void)from, (void)to, (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

/* Staging folders older than this whose process is gone are left by a kill -9 or a crash. */
#define STALE_STAGING_SECONDS 600

/* Removes such folders from dir (best effort, silent): the files in them are a set that was
 * never committed, or the files a committed set replaced. The age guard keeps the folder of a
 * live writer whose pid this process cannot see (another container on a shared folder). */
static void remove_stale_staging(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    static const char prefix[] = ".assay-staging-";
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, sizeof prefix - 1) != 0) continue;
        char *end = NULL;
        long pid = strtol(e->d_name + sizeof prefix - 1, &end, 10);
        if (end == NULL || *end != '-' || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char stage[PATH_MAX], file[PATH_MAX];
        struct stat st;
        if (join(stage, sizeof stage, dir, e->d_name) != 0 || lstat(stage, &st) != 0 ||
            !S_ISDIR(st.st_mode) || now - st.st_mtime < STALE_STAGING_SECONDS)
            continue;
        DIR *sd = opendir(stage);
        if (sd == NULL) continue;
        struct dirent *f;
        while ((f = readdir(sd)) != NULL)
            if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0 &&
                join(file, sizeof file, stage, f->d_name) == 0)
                unlink(file);
        closedir(sd);
        rmdir(stage);
    }
    closedir(d);
}

/* mkdir -p of set->dir's missing parents, each registered (an interruption removes them again
 * while empty) and recorded for discard. */
static assay_status make_parents(assay_ctx *ctx, assay__outset *set) {
    char path[PATH_MAX];
    size_t end = parent_len(set->dir, strlen(set->dir));
    for (size_t i = 1; i <= end; i++) {
        if (i < end && (set->dir[i] != '/' || set->dir[i - 1] == '/')) continue;
        memcpy(path, set->dir, i);
        path[i] = '\0';
        struct stat st;
        if (stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) continue;
            return assay__fail(ctx, ASSAY_E_IO,
                               "%s: cannot create the output folder: %s exists and is not a "
                               "folder",
                               set->dir, path);
        }
        int slot = assay__tmp_register(path, 1);
        if (mkdir(path, 0777) != 0) {
            int e = errno;
            assay__tmp_unregister(slot);
            if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                continue; /* another process made it meanwhile: not ours to remove */
            return assay__fail(ctx, out_errno(e), "%s: cannot create the output folder %s: %s",
                               set->dir, path, strerror(e));
        }
        if (set->n_parents < ASSAY__OUT_MAX_PARENTS) {
            set->parent_len[set->n_parents] = i;
            set->parent_slots[set->n_parents++] = slot;
        } else {
            assay__tmp_unregister(slot); /* left behind if the write fails */
        }
    }
    return ASSAY_OK;
}

/* Forgets the parents the set created: they now hold committed files. */
static void keep_parents(assay__outset *set) {
    for (size_t i = 0; i < set->n_parents; i++) assay__tmp_unregister(set->parent_slots[i]);
    set->n_parents = 0;
}

assay_status assay__outset_begin(assay_ctx *ctx, assay__outset *set, const char *dir) {
    memset(set, 0, sizeof *set);
    if (dir == NULL || dir[0] == '\0')
        return assay__fail(ctx, ASSAY_E_INVAL, "no output folder given");
    if (strlen(dir) >= sizeof set->dir)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
    memcpy(set->dir, dir, strlen(dir) + 1);
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            assay_status ps = make_parents(ctx, set);
            if (ps != ASSAY_OK) {
                assay__outset_discard(set);
                return ps;
            }
            /* registered before mkdir: an interruption removes it again when it is still empty */
            set->dir_slot = assay__tmp_register(dir, 1);
            e = mkdir(dir, 0777) == 0 ? 0 : errno;
        }
        if (e != 0) {
            assay__tmp_unregister(set->dir_slot);
            set->dir_slot = 0;
            assay__outset_discard(set); /* the parents it created */
            return assay__fail(ctx, out_errno(e), "%s: cannot create the output folder: %s", dir,
                               strerror(e));
        }
    } else if (!S_ISDIR(st.st_mode)) {
        return assay__fail(ctx, ASSAY_E_IO, "%s: exists and is not a folder", dir);
    } else {
        remove_stale_staging(dir);
    }
    unsigned long salt = salt_for(set);
    int e = 0;
    for (int attempt = 0; attempt < 100; attempt++) {
        int b = snprintf(set->stage, sizeof set->stage, "%s/.assay-staging-%ld-%lx", dir,
                         (long)getpid(), salt + (unsigned long)attempt);
        if (b < 0 || (size_t)b >= sizeof set->stage) {
            set->stage[0] = '\0';
            assay__outset_discard(set);
            return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", dir);
        }
        set->stage_slot = assay__tmp_register(set->stage, 1);
        if (mkdir(set->stage, 0777) == 0) return ASSAY_OK;
        e = errno;
        assay__tmp_unregister(set->stage_slot);
        set->stage_slot = 0;
        if (e != EEXIST) break;
    }
    set->stage[0] = '\0';
    assay__outset_discard(set);
    return assay__fail(ctx, out_errno(e), "%s: cannot create a folder in the output folder: %s",
                       dir, strerror(e));
}

const char *assay__outset_final(const assay__outset *set, const char *name, char *buf, size_t len) {
    if (join(buf, len, set->dir, name) != 0) snprintf(buf, len, "%s", name);
    return buf;
}

assay_status assay__outset_add(assay_ctx *ctx, assay__outset *set, const char *name, FILE **fp) {
    *fp = NULL;
    if (set->stage[0] == '\0')
        return assay__fail(ctx, ASSAY_E_INTERNAL, "output set used before it began");
    if (strlen(name) >= sizeof set->files[0].name || strchr(name, '/') != NULL)
        return assay__fail(ctx, ASSAY_E_INTERNAL, "bad output file name '%s'", name);
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->files[i].name, name) == 0)
            return assay__fail(ctx, ASSAY_E_INTERNAL, "output file '%s' added twice", name);
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 16;
        assay__setfile *bigger = realloc(set->files, cap * sizeof *bigger);
        if (bigger == NULL) return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (output set)");
        set->files = bigger;
        set->cap = cap;
    }
    assay__setfile *f = &set->files[set->n];
    memset(f, 0, sizeof *f);
    memcpy(f->name, name, strlen(name) + 1);
    if (join(f->path, sizeof f->path, set->stage, name) != 0)
        return assay__fail(ctx, ASSAY_E_INVAL, "%s: output path too long", set->dir);
    if (create_registered(f->path, &f->fp, &f->slot) != 0) {
        int e = errno;
        char final[PATH_MAX];
        return assay__fail(ctx, out_errno(e), "%s: cannot create it: %s",
                           assay__outset_final(set, name, final, sizeof final), strerror(e));
    }
    set->n++;
    *fp = f->fp;
    return ASSAY_OK;
}

/* SHA-256 and size of a file, into the record. */
static int hash_file(const char *path, char hex[65], long long *bytes) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    enum { BUF = 1 << 16 };
    unsigned char *buf = malloc(BUF), digest[32]; /* off the stack: callers' threads may be small */
    int ok = md != NULL && buf != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    size_t got;
    *bytes = 0;
    while (ok && (got = fread(buf, 1, BUF, fp)) > 0) {
        ok = EVP_DigestUpdate(md, buf, got);
        *bytes += (long long)got;
    }
    unsigned int len = 0;
    if (ok && !ferror(fp))
        ok = EVP_DigestFinal_ex(md, digest, &len) && len == 32;
    else
        ok = 0;
    EVP_MD_CTX_free(md);
    free(buf);
    int e = errno;
    fclose(fp);
    if (!ok) {
        errno = e ? e : EIO;
        return -1;
    }
    assay__hex32(digest, hex);
    return 0;
}

/* The commit record: the previous record's entries for files this set does not write (a
 * `report render` into a scan folder keeps the scan's entries), then this set's files. */
static assay_status write_record(assay_ctx *ctx, assay__outset *set) {
    char prev_path[PATH_MAX];
    json_t *files = NULL;
    if (join(prev_path, sizeof prev_path, set->dir, ASSAY__COMMIT_RECORD) == 0) {
        json_t *prev = json_load_file(prev_path, JSON_REJECT_DUPLICATES, NULL);
        const char *schema = json_string_value(json_object_get(prev, "schema"));
        json_t *pf = json_object_get(prev, "files");
        if (schema != NULL && strcmp(schema, ASSAY__COMMIT_SCHEMA) == 0 && json_is_object(pf))
            files = json_deep_copy(pf);
        json_decref(prev);
    }
    if (files == NULL) files = json_object();
    char ts[32];
    assay__utc_timestamp(ts, sizeof ts);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "schema", ASSAY__COMMIT_SCHEMA, "tool", "assay",
                            "version", assay_version(), "committed", ts);
    if (rec == NULL || files == NULL) {
        json_decref(rec);
        json_decref(files);
        return assay__fail(ctx, ASSAY_E_NOMEM, "out of memory (commit record)");
    }
    for (size_t i = 0; i < set->n; i++) {
        char hex[65];
        long long bytes = 0;
        if (hash_file(set->files[i].path, hex, &bytes) != 0) {
            int e = errno;
            char final[PATH_MAX];
            json_decref(rec);
            json_decref(files);
            return assay__fail(ctx, out_errno(e), "%s: cannot read it back: %s",
                               assay__outset_final(set, set->files[i].name, final, sizeof final),
                               strerror(e));
        }
        json_object_set_new(files, set->files[i].name,
                            json_pack("{s:s, s:I}", "sha256", hex, "bytes", (json_int_t)bytes));
    }
    json_object_set_new(rec, "files", files);
    FILE *fp = NULL;
    assay_status s = assay__outset_add(ctx, set, ASSAY__COMMIT_RECORD, &fp);
    if (s == ASSAY_OK && json_dumpf(rec, fp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        s = ASSAY_E_IO; /* the close below reports why */
    if (fp != NULL) fputc('\n', fp);
    json_decref(rec);
    if (fp != NULL) {
        assay__setfile *f = &set->files[set->n - 1];
        int e = close_stream(f->fp);
        f->fp = NULL;
        if (e != 0) {
            char final[PATH_MAX];
            return assay__fail(ctx, out_errno(e), "%s: write failed: %s",
                               assay__outset_final(set, f->name, final, sizeof final), strerror(e));
        }
    }
    return s == ASSAY_OK ? ASSAY_OK
                         : assay__fail(ctx, ASSAY_E_INTERNAL, "cannot write the commit record");
}

static void backup_path(const assay__outset *set, const assay__setfile *f, char *buf, size_t len) {
    int n = snprintf(buf, len, "%s/.old-%s", set->stage, f->name);
    if (n < 0 || (size_t)n >= len) buf[0] = '\0'; /* too long: no backup name (rename fails) */
}

/* Puts f in place of dst, keeping the file it replaces in the staging folder; 0 or -1 (errno). */
static int swap_in(const assay__outset *set, assay__setfile *f, const char *dst) {
    if (assay__outset_no_exchange) { /* as renameat2 answers where exchange is not supported */
        struct stat st;
        errno = lstat(dst, &st) == 0 ? EINVAL : ENOENT;
    } else if (rename2(f->path, dst, RENAME_EXCHANGE) == 0) {
        f->mode = MODE_EXCHANGED; /* the old file is now at f->path */
        return 0;
    }
    if (errno == ENOENT) { /* nothing to replace */
        if (rename2(f->path, dst, RENAME_NOREPLACE) == 0 ||
            ((errno == EINVAL || errno == ENOSYS) && rename(f->path, dst) == 0)) {
            f->mode = MODE_NEW;
            return 0;
        }
        return -1;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return -1;
    /* No exchange on this file system: the old file is kept under a second name (a hard link,
     * or moved when links are not supported) before the new one is renamed over it. */
    char bak[PATH_MAX];
    backup_path(set, f, bak, sizeof bak);
    int slot = assay__tmp_register(bak, 0);
    if (link(dst, bak) != 0 && rename(dst, bak) != 0) {
        int e = errno;
        assay__tmp_unregister(slot);
        errno = e;
        return -1;
    }
    if (rename(f->path, dst) != 0) {
        int e = errno;
        if (rename(bak, dst) == 0) unlink(bak); /* a hard link stays under both names */
        assay__tmp_unregister(slot);
        errno = e;
        return -1;
    }
    f->mode = MODE_BACKUP;
    assay__tmp_unregister(f->slot); /* f->path is gone; the backup is what is left to remove */
    f->slot = slot;
    return 0;
}

/* Undoes swap_in; 0 or -1 (errno). */
static int swap_out(const assay__outset *set, assay__setfile *f, const char *dst) {
    int r = 0;
    if (f->mode == MODE_EXCHANGED) {
        r = rename2(f->path, dst, RENAME_EXCHANGE);
    } else if (f->mode == MODE_NEW) {
        r = rename(dst, f->path);
    } else if (f->mode == MODE_BACKUP) {
        char bak[PATH_MAX];
        backup_path(set, f, bak, sizeof bak);
        r = rename(bak, dst);
    }
    if (r == 0) f->mode = MODE_NONE;
    return r;
}

static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

assay_status assay__outset_commit(assay_ctx *ctx, assay__outset *set) {
    char final[PATH_MAX];
    for (size_t i = 0; i < set->n; i++) {
        assay__setfile *f = &set->files[i];
        if (f->fp == NULL) continue;
        int e = close_stream(f->fp);
        f->fp = NULL;
        if (e != 0)
            return assay__fail(ctx, out_errno(e), "%s: write failed: %s",
                               assay__outset_final(set, f->name, final, sizeof final), strerror(e));
    }
    /* Every target checked before the first swap: a folder in the way of one file must not
     * leave the others replaced. */
    for (size_t i = 0; i < set->n; i++)
        ASSAY_TRY(assay__out_check_target(ctx, set->dir, set->files[i].name));
    ASSAY_TRY(assay__out_check_target(ctx, set->dir, ASSAY__COMMIT_RECORD));
    ASSAY_TRY(write_record(ctx, set)); /* added last: swapped in last */

    if (commit_begin() != 0)
        return assay__fail(ctx, ASSAY_E_INTERRUPTED, "%s: interrupted before the commit", set->dir);
    size_t done = 0;
    int e = 0;
    for (; done < set->n; done++) {
        assay__setfile *f = &set->files[done];
        assay__outset_final(set, f->name, final, sizeof final);
        if (assay__outset_swap_hook != NULL) assay__outset_swap_hook((int)done + 1);
        if (assay__outset_fail_at > 0 && (size_t)assay__outset_fail_at == done + 1) {
            e = EIO;
            break;
        }
        if (swap_in(set, f, final) != 0) {
            e = errno;
            break;
        }
    }
    if (done == set->n && assay__outset_swap_hook != NULL) assay__outset_swap_hook((int)done + 1);
    if (done == set->n && commit_keep() == 0) {
        /* the folder now holds the set: it is no longer a temporary to remove */
        assay__tmp_unregister(set->dir_slot);
        set->dir_slot = 0;
        keep_parents(set);
        sync_dir(set->dir);
        return ASSAY_OK;
    }
    /* Undo the swaps made, newest first: all of them when a signal came during the swaps (the
     * previous set stays, and commit_end exits). */
    int interrupted = done == set->n;
    char failed[PATH_MAX];
    if (!interrupted) assay__outset_final(set, set->files[done].name, failed, sizeof failed);
    int undo_failed = 0;
    char undo_path[PATH_MAX] = "";
    while (done-- > 0) {
        assay__setfile *f = &set->files[done];
        assay__outset_final(set, f->name, final, sizeof final);
        if (swap_out(set, f, final) != 0 && !undo_failed) {
            undo_failed = errno ? errno : EIO;
            snprintf(undo_path, sizeof undo_path, "%s", final);
        }
    }
    sync_dir(set->dir);
    commit_end();
    if (interrupted) /* another thread's commit is still swapping: it exits when done */
        return assay__fail(ctx, ASSAY_E_INTERRUPTED, "%s: interrupted during the commit%s%s",
                           set->dir, undo_failed ? "; restoring failed: " : "",
                           undo_failed ? undo_path : "");
    if (undo_failed)
        return assay__fail(ctx, out_errno(e),
                           "%s: cannot rename into place: %s; restoring %s failed too (%s): the "
                           "folder may hold a mixed set, which its %s shows",
                           failed, strerror(e), undo_path, strerror(undo_failed),
                           ASSAY__COMMIT_RECORD);
    return assay__fail(ctx, out_errno(e),
                       "%s: cannot rename into place: %s (the previous files were restored)",
                       failed, strerror(e));
}

void assay__outset_discard(assay__outset *set) {
    for (size_t i = 0; i < set->n; i++) {
        assay__setfile *f = &set->files[i];
        if (f->fp != NULL) fclose(f->fp);
        f->fp = NULL;
        /* after a commit f->path holds the replaced file (or nothing) */
        unlink(f->path);
        char bak[PATH_MAX];
        backup_path(set, f, bak, sizeof bak);
        unlink(bak);
        assay__tmp_unregister(f->slot);
        f->slot = 0;
    }
    if (set->stage[0] != '\0') rmdir(set->stage);
    assay__tmp_unregister(set->stage_slot);
    set->stage_slot = 0;
    set->stage[0] = '\0';
    /* a folder this set created is removed again only when nothing was committed into it */
    if (set->dir_slot != 0) rmdir(set->dir);
    assay__tmp_unregister(set->dir_slot);
    set->dir_slot = 0;
    /* and so are the parents it created, innermost first */
    char path[PATH_MAX];
    while (set->n_parents > 0) {
        size_t i = --set->n_parents;
        memcpy(path, set->dir, set->parent_len[i]);
        path[set->parent_len[i]] = '\0';
        rmdir(path);
        assay__tmp_unregister(set->parent_slots[i]);
    }
    free(set->files);
    set->files = NULL;
    set->n = set->cap = 0;
}

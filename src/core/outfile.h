/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic output (docs/atomic-output.md).
 *
 * One file (a graph file): written under a hidden temporary name next to the final one, synced,
 * renamed into place.
 *
 * A set of files committed together (a report folder, `report render`, diff.json): written into
 * a staging folder inside the target folder (same file system, also when the target is a mount
 * point), then swapped in one by one with renameat2(RENAME_EXCHANGE), the commit record
 * `.assay-commit` last; a failed swap exchanges the earlier ones back, so the folder holds the
 * old set or the new one, never a mix, and files assay did not write are never touched.
 *
 * Every temporary file and staging folder is recorded in a process-wide registry that
 * assay_output_interrupt() (async-signal-safe) removes; a signal arriving during a commit's
 * swaps is deferred until they are undone. */
#ifndef ASSAY_OUTFILE_H
#define ASSAY_OUTFILE_H

#include <limits.h>
#include <stdio.h>

#include "core/internal.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* The commit record of a folder's report set (docs/atomic-output.md). */
#define ASSAY__COMMIT_RECORD ".assay-commit"
#define ASSAY__COMMIT_SCHEMA "assay-commit/1"

typedef struct assay__outfile {
    char final_path[PATH_MAX];
    char tmp_path[PATH_MAX];
    FILE *fp;
    int slot; /* registry slot + 1 (0: none) */
} assay__outfile;

/* Creates a hidden temporary file next to dir/name; fails (naming it) when dir/name is a folder
 * or another non-regular file, before anything is written. */
assay_status assay__out_open(assay_ctx *ctx, const char *dir, const char *name, assay__outfile *f);
/* Flushes, syncs and closes; reports write errors naming the file with errno's text (a full
 * disk, a quota, EIO are ASSAY_E_RESOURCE). */
assay_status assay__out_close(assay_ctx *ctx, assay__outfile *f);
/* Renames the temporary file into place. */
assay_status assay__out_commit(assay_ctx *ctx, assay__outfile *f);
/* Closes (if open) and removes the temporary file. Safe to call twice. */
void assay__out_discard(assay__outfile *f);

/* A failed write on fp (a renderer saw fputs or json_dumpf fail): the message names path and
 * errno's text, the status is ASSAY_E_RESOURCE for a full disk, a quota, EIO... */
assay_status assay__write_failed(assay_ctx *ctx, FILE *fp, const char *path);

/* ---- sets of files committed together ---- */

typedef struct assay__setfile {
    char name[64];
    char path[PATH_MAX]; /* in the staging folder */
    FILE *fp;
    int slot;
    int mode; /* how it was committed (outfile.c), for the undo */
} assay__setfile;

enum { ASSAY__OUT_MAX_PARENTS = 32 };

typedef struct assay__outset {
    char dir[PATH_MAX];
    char stage[PATH_MAX];
    int stage_slot, dir_slot;
    /* the missing parents of dir this set created (mkdir -p), outermost first: their lengths in
     * dir and registry slots; removed again with dir when nothing was committed */
    size_t n_parents;
    size_t parent_len[ASSAY__OUT_MAX_PARENTS];
    int parent_slots[ASSAY__OUT_MAX_PARENTS];
    size_t n, cap;
    assay__setfile *files;
} assay__outset;

/* Starts a set in dir: creates dir and its missing parents (mkdir -p) when absent and the staging
 * folder inside it. */
assay_status assay__outset_begin(assay_ctx *ctx, assay__outset *set, const char *dir);
/* A new file `name` of the set, open for writing in *fp (owned by the set). */
assay_status assay__outset_add(assay_ctx *ctx, assay__outset *set, const char *name, FILE **fp);
/* The final path of the set's file `name` (dir/name), for messages. */
const char *assay__outset_final(const assay__outset *set, const char *name, char *buf, size_t len);
/* Closes every file, checks every target (nothing in the way), writes the commit record and
 * swaps the files in; on any failure the folder is left as it was. */
assay_status assay__outset_commit(assay_ctx *ctx, assay__outset *set);
/* Removes the staging folder (and dir when this set created it and it is still empty). Safe to
 * call after commit and twice. */
void assay__outset_discard(assay__outset *set);

/* Fails (naming the path) when `name` cannot be committed into dir: a folder or a non-regular
 * file is in the way. For checks before the work starts. */
assay_status assay__out_check_target(assay_ctx *ctx, const char *dir, const char *name);
/* Checks that files can be created in dir; when dir does not exist, that its nearest existing
 * ancestor is a writable folder (an ancestor that is a file is refused; nothing is created). */
assay_status assay__out_check_dir(assay_ctx *ctx, const char *dir);

/* ---- the registry of temporaries ---- */
/* Records a path to remove on interruption (is_dir: rmdir, else unlink); returns slot + 1, or 0
 * when the registry is full (the path is then not cleaned up by a signal). */
int assay__tmp_register(const char *path, int is_dir);
void assay__tmp_unregister(int slot);
/* Tests only: the set commit fails (as if a rename failed with EIO) at its n-th swap (1-based;
 * 0: never). */
extern int assay__outset_fail_at;
/* Tests only: nonzero makes the commit behave as on a file system without RENAME_EXCHANGE. */
extern int assay__outset_no_exchange;
/* Tests only: called before each swap with its 1-based position, and after the last one with
 * files + 1 (NULL: nothing). */
extern void (*assay__outset_swap_hook)(int n);

#endif

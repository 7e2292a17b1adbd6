/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic output (core/outfile.c, docs/atomic-output.md): a set of files is swapped in whole or
 * not at all -- a swap failing at any position restores the old files byte for byte, a folder
 * in the way fails before anything is replaced, files assay did not write survive, the commit
 * record lists the set with its digests -- and the registry of temporaries is emptied by
 * assay_output_interrupt(); write errors carry errno (a file-size limit, /dev/full). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "test_util.h"

#include "core/outfile.h"

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void assert_file(const char *dir, const char *name, const char *want) {
    char p[2200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *got = slurp(p);
    if (got == NULL) fail_msg("%s is missing", p);
    if (strcmp(got, want) != 0) fail_msg("%s holds '%s', expected '%s'", p, got, want);
    free(got);
}

/* Entries of dir other than . and .. whose name contains `part` (NULL: all). */
static int count_entries(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            (part == NULL || strstr(e->d_name, part) != NULL))
            n++;
    closedir(d);
    return n;
}

static void fresh_dir(char *dir, size_t len, const char *name) {
    tu_path(dir, len, "%s", name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mkdir(dir, 0777), 0);
}

/* Commits files named names[i] holding "<tag>-<name>"; returns the status. */
static assay_status commit_set(assay_ctx *ctx, const char *dir, const char *const *names, size_t n,
                               const char *tag) {
    assay__outset set;
    assay_status s = assay__outset_begin(ctx, &set, dir);
    for (size_t i = 0; s == ASSAY_OK && i < n; i++) {
        FILE *fp = NULL;
        s = assay__outset_add(ctx, &set, names[i], &fp);
        if (s == ASSAY_OK) fprintf(fp, "%s-%s", tag, names[i]);
    }
    if (s == ASSAY_OK) s = assay__outset_commit(ctx, &set);
    assay__outset_discard(&set);
    return s;
}

static const char *const k_names[] = {"a.json", "b.csv", "c.html", "d.sarif"};
enum { N_NAMES = 4 };

static void assert_set(const char *dir, const char *tag) {
    char want[64];
    for (int i = 0; i < N_NAMES; i++) {
        snprintf(want, sizeof want, "%s-%s", tag, k_names[i]);
        assert_file(dir, k_names[i], want);
    }
}

/* The record names every file with the SHA-256 of what is in the folder. */
static void assert_record_matches(const char *dir) {
    char p[1024];
    snprintf(p, sizeof p, "%s/" ASSAY__COMMIT_RECORD, dir);
    json_t *rec = json_load_file(p, 0, NULL);
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "schema")), ASSAY__COMMIT_SCHEMA);
    json_t *files = json_object_get(rec, "files");
    const char *name;
    json_t *entry;
    int n = 0;
    json_object_foreach(files, name, entry) {
        snprintf(p, sizeof p, "%s/%s", dir, name);
        char *text = slurp(p);
        assert_non_null(text);
        unsigned char d[32];
        unsigned int len = 0;
        EVP_Digest(text, strlen(text), d, &len, EVP_sha256(), NULL);
        char hex[65];
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
        assert_string_equal(json_string_value(json_object_get(entry, "sha256")), hex);
        free(text);
        n++;
    }
    assert_true(n >= N_NAMES);
    json_decref(rec);
}

static void test_outfile_set_commits_whole_with_a_record(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024];
    fresh_dir(dir, sizeof dir, "outfile_set");
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "old"), ASSAY_OK);
    assert_set(dir, "old");
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "new"), ASSAY_OK);
    assert_set(dir, "new");
    assert_record_matches(dir);
    /* nothing left but the set and its record */
    assert_int_equal(count_entries(dir, NULL), N_NAMES + 1);
    /* a set of one (diff.json, a render) keeps the record's other entries */
    const char *one[] = {"e.json"};
    assert_int_equal(commit_set(ctx, dir, one, 1, "x"), ASSAY_OK);
    assert_record_matches(dir);
    char p[1100];
    snprintf(p, sizeof p, "%s/" ASSAY__COMMIT_RECORD, dir);
    char *rec = slurp(p);
    assert_non_null(strstr(rec, "\"a.json\""));
    assert_non_null(strstr(rec, "\"e.json\""));
    free(rec);
}

/* A swap failing at every position (the record's included) leaves the old set byte for byte,
 * a file assay did not write untouched, and no staging folder. */
static void test_outfile_failed_swap_restores_the_old_set(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024], p[1100];
    fresh_dir(dir, sizeof dir, "outfile_rollback");
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "old"), ASSAY_OK);
    snprintf(p, sizeof p, "%s/" ASSAY__COMMIT_RECORD, dir);
    char *record = slurp(p);
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    tu_write_text(p, "mine");
    /* a file of the new set that the old one did not have, so an undo must remove it too */
    const char *names5[] = {"a.json", "b.csv", "new.txt", "c.html", "d.sarif"};
    for (int at = 1; at <= 6; at++) {
        assay__outset_fail_at = at;
        assay_status s = commit_set(ctx, dir, names5, 5, "new");
        assay__outset_fail_at = 0;
        assert_int_equal(s, ASSAY_E_RESOURCE); /* EIO */
        assert_non_null(strstr(assay_ctx_errmsg(ctx), "previous files were restored"));
        assert_set(dir, "old");
        assert_file(dir, "notes.txt", "mine");
        snprintf(p, sizeof p, "%s/new.txt", dir);
        assert_false(access(p, F_OK) == 0);
        snprintf(p, sizeof p, "%s/" ASSAY__COMMIT_RECORD, dir);
        char *now = slurp(p);
        assert_string_equal(now, record);
        free(now);
        assert_int_equal(count_entries(dir, "staging"), 0);
        assert_int_equal(count_entries(dir, NULL), N_NAMES + 2);
    }
    free(record);
}

/* The same on a file system without RENAME_EXCHANGE: the old files are kept under a hard link
 * in the staging folder and renamed back on failure. */
static void test_outfile_without_exchange(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024], p[1100];
    fresh_dir(dir, sizeof dir, "outfile_no_exchange");
    assay__outset_no_exchange = 1;
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "old"), ASSAY_OK);
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "mid"), ASSAY_OK);
    assert_set(dir, "mid");
    assert_record_matches(dir);
    snprintf(p, sizeof p, "%s/" ASSAY__COMMIT_RECORD, dir);
    char *record = slurp(p);
    for (int at = 1; at <= N_NAMES + 1; at++) {
        assay__outset_fail_at = at;
        assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "new"), ASSAY_E_RESOURCE);
        assay__outset_fail_at = 0;
        assert_set(dir, "mid");
        char *now = slurp(p);
        assert_string_equal(now, record);
        free(now);
        assert_int_equal(count_entries(dir, NULL), N_NAMES + 1);
    }
    assay__outset_no_exchange = 0;
    free(record);
}

/* A folder in the way of one file fails before any file is replaced. */
static void test_outfile_folder_in_the_way_replaces_nothing(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024], p[1100];
    fresh_dir(dir, sizeof dir, "outfile_in_the_way");
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "old"), ASSAY_OK);
    snprintf(p, sizeof p, "%s/c.html", dir);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkdir(p, 0777), 0);
    assert_int_equal(assay__out_check_target(ctx, dir, "c.html"), ASSAY_E_IO);
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "new"), ASSAY_E_IO);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "c.html: a folder is in the way"));
    assert_file(dir, "a.json", "old-a.json");
    assert_file(dir, "b.csv", "old-b.csv");
    assert_file(dir, "d.sarif", "old-d.sarif");
    assert_int_equal(count_entries(dir, "staging"), 0);
}

/* A folder the set created is removed again when nothing was committed; check_dir creates
 * nothing and accepts a missing chain of parents under a writable folder. */
static void test_outfile_created_folder_and_checks(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024], sub[1100];
    fresh_dir(dir, sizeof dir, "outfile_created");
    snprintf(sub, sizeof sub, "%s/out", dir);
    assert_int_equal(assay__out_check_dir(ctx, sub), ASSAY_OK);
    assert_false(access(sub, F_OK) == 0);
    snprintf(sub, sizeof sub, "%s/missing/deeper/out", dir);
    assert_int_equal(assay__out_check_dir(ctx, sub), ASSAY_OK);
    assert_int_equal(count_entries(dir, NULL), 0);
    snprintf(sub, sizeof sub, "%s/out", dir);
    assay__outset set;
    FILE *fp;
    assert_int_equal(assay__outset_begin(ctx, &set, sub), ASSAY_OK);
    assert_int_equal(assay__outset_add(ctx, &set, "a.json", &fp), ASSAY_OK);
    fputs("x", fp);
    assay__outset_discard(&set);
    assert_false(access(sub, F_OK) == 0);
    assert_int_equal(count_entries(dir, NULL), 0);
}

/* --out a/b/c (mkdir -p): the missing parents are created with the folder when the set begins,
 * kept once it is committed, and removed again (innermost first) when nothing was; an ancestor
 * that is a file, or a folder that takes no new file, is refused by the check, naming it. */
static void test_outfile_creates_missing_parents(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024], sub[1100], file[1100];
    fresh_dir(dir, sizeof dir, "outfile_parents");
    snprintf(sub, sizeof sub, "%s/a/b//c/out/", dir);
    assay__outset set;
    FILE *fp;
    assert_int_equal(assay__outset_begin(ctx, &set, sub), ASSAY_OK);
    assert_int_equal(assay__outset_add(ctx, &set, "a.json", &fp), ASSAY_OK);
    fputs("x", fp);
    assay__outset_discard(&set);
    assert_int_equal(count_entries(dir, NULL), 0);

    assert_int_equal(assay__outset_begin(ctx, &set, sub), ASSAY_OK);
    assert_int_equal(assay__outset_add(ctx, &set, "a.json", &fp), ASSAY_OK);
    fputs("committed", fp);
    assert_int_equal(assay__outset_commit(ctx, &set), ASSAY_OK);
    assay__outset_discard(&set);
    assert_file(sub, "a.json", "committed");

    /* relative, with a one-letter missing ancestor */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assay_status rel = assay__out_check_dir(ctx, "q/r");
    int made = assay__outset_begin(ctx, &set, "q/r") == ASSAY_OK;
    assay__outset_discard(&set);
    int left = access("q", F_OK) == 0;
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rel, ASSAY_OK);
    assert_true(made);
    assert_false(left);

    /* a regular file among the ancestors */
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/plain/x/out", dir);
    assert_int_equal(assay__out_check_dir(ctx, sub), ASSAY_E_IO);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "plain exists and is not a folder"));
    assert_int_equal(assay__outset_begin(ctx, &set, sub), ASSAY_E_IO);
    assay__outset_discard(&set);

    /* a read-only ancestor (root ignores permissions: checked only when they apply) */
    snprintf(file, sizeof file, "%s/ro", dir);
    assert_int_equal(mkdir(file, 0555), 0);
    snprintf(sub, sizeof sub, "%s/ro/x/y", dir);
    if (access(file, W_OK) != 0) {
        assert_int_equal(assay__out_check_dir(ctx, sub), ASSAY_E_IO);
        assert_non_null(strstr(assay_ctx_errmsg(ctx), sub));
        assert_non_null(strstr(assay_ctx_errmsg(ctx), "/ro"));
    }
    assert_int_equal(count_entries(file, NULL), 0);
    chmod(file, 0755);
}

/* assay_output_interrupt removes every registered temporary and exits with the code given:
 * run in a child, as it ends the process. */
static void test_outfile_interrupt_removes_temporaries(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024], sub[1100];
    fresh_dir(dir, sizeof dir, "outfile_interrupt");
    snprintf(sub, sizeof sub, "%s/out", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        assay__outset set;
        FILE *fp;
        assay__outfile single;
        if (assay__outset_begin(ctx, &set, sub) != ASSAY_OK ||
            assay__outset_add(ctx, &set, "a.json", &fp) != ASSAY_OK ||
            assay__out_open(ctx, dir, "graph.h5", &single) != ASSAY_OK)
            _exit(50);
        fputs("partial", fp);
        fflush(fp);
        assay_output_interrupt(143);
        _exit(51); /* not reached */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    /* the created output folder, its staging folder and the graph's temporary: all gone */
    assert_int_equal(count_entries(dir, NULL), 0);
}

static int g_interrupt_at;
static void interrupt_now(int n) {
    if (n == g_interrupt_at) assay_output_interrupt(130); /* as a signal handler would */
}

/* A signal during the swaps is deferred: the swaps made are undone, then the process exits with
 * the code given, the previous set complete and every temporary removed. Before each swap, and
 * after the last one (n = files + 1) before the commit keeps them. Fails when the commit
 * completes (the new set) or exits before its undo (a mix). */
static void test_outfile_interrupt_during_commit_is_undone(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024];
    fresh_dir(dir, sizeof dir, "outfile_deferred");
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "old"), ASSAY_OK);
    for (int at = 1; at <= N_NAMES + 2; at++) { /* + 2: the commit record, then "all swapped" */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            g_interrupt_at = at;
            assay__outset_swap_hook = interrupt_now;
            commit_set(ctx, dir, k_names, N_NAMES, "new");
            _exit(51); /* not reached: the commit's end exits */
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 130);
        assert_set(dir, "old");
        assert_record_matches(dir);
        assert_int_equal(count_entries(dir, "staging"), 0);
        assert_int_equal(count_entries(dir, NULL), N_NAMES + 1);
    }
}

/* assay_output_committed counts the sets kept, not the failed ones. */
static void test_outfile_committed_counts_kept_sets(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024];
    fresh_dir(dir, sizeof dir, "outfile_committed");
    int before = assay_output_committed();
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "old"), ASSAY_OK);
    assert_int_equal(assay_output_committed(), before + 1);
    assay__outset_fail_at = 2;
    assay_status s = commit_set(ctx, dir, k_names, N_NAMES, "new");
    assay__outset_fail_at = 0;
    assert_int_equal(s, ASSAY_E_RESOURCE);
    assert_int_equal(assay_output_committed(), before + 1);
    assert_set(dir, "old");
}

/* A write failing for want of space is a resource error naming the file and errno's text. */
static void test_outfile_write_errors_carry_errno(void **state) {
    assay_ctx *ctx = *state;
    FILE *fp = fopen("/dev/full", "w");
    if (fp == NULL) skip();
    for (int i = 0; i < 10000; i++) fputs("0123456789", fp);
    fflush(fp);
    assert_true(ferror(fp));
    assert_int_equal(assay__write_failed(ctx, fp, "x/report.json"), ASSAY_E_RESOURCE);
    assert_non_null(strstr(assay_ctx_errmsg(ctx), "x/report.json: write failed: No space left"));
    fclose(fp);

    /* a file-size limit (EFBIG) in a child, through a set's commit */
    char dir[1024];
    fresh_dir(dir, sizeof dir, "outfile_fsize");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        assay__outset set;
        FILE *f;
        if (assay__outset_begin(ctx, &set, dir) != ASSAY_OK ||
            assay__outset_add(ctx, &set, "big.csv", &f) != ASSAY_OK)
            _exit(50);
        for (int i = 0; i < 20000; i++) fputs("0123456789", f);
        assay_status s = assay__outset_commit(ctx, &set);
        assay__outset_discard(&set);
        _exit(s == ASSAY_E_RESOURCE && strstr(assay_ctx_errmsg(ctx), "big.csv: write failed: "
                                                                     "File too large") != NULL
                  ? 0
                  : 52);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(count_entries(dir, NULL), 0);
}

/* A staging folder left by a killed run (its process gone, older than ten minutes) is removed
 * by the next commit into the folder; a recent one is left (it may be a live writer's). */
static void test_outfile_stale_staging_is_removed(void **state) {
    assay_ctx *ctx = *state;
    char dir[1024], old_stage[1200], new_stage[1200], p[1300];
    fresh_dir(dir, sizeof dir, "outfile_stale");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid); /* now a pid no process has */
    snprintf(old_stage, sizeof old_stage, "%s/.assay-staging-%ld-1", dir, (long)pid);
    snprintf(new_stage, sizeof new_stage, "%s/.assay-staging-%ld-2", dir, (long)pid);
    assert_int_equal(mkdir(old_stage, 0777), 0);
    assert_int_equal(mkdir(new_stage, 0777), 0);
    snprintf(p, sizeof p, "%s/report.json", old_stage);
    tu_write_text(p, "half");
    struct timespec times[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    assert_int_equal(utimensat(AT_FDCWD, old_stage, times, 0), 0);
    assert_int_equal(commit_set(ctx, dir, k_names, N_NAMES, "new"), ASSAY_OK);
    assert_false(access(old_stage, F_OK) == 0);
    assert_true(access(new_stage, F_OK) == 0);
    assert_set(dir, "new");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outfile_set_commits_whole_with_a_record),
        cmocka_unit_test(test_outfile_failed_swap_restores_the_old_set),
        cmocka_unit_test(test_outfile_without_exchange),
        cmocka_unit_test(test_outfile_folder_in_the_way_replaces_nothing),
        cmocka_unit_test(test_outfile_created_folder_and_checks),
        cmocka_unit_test(test_outfile_creates_missing_parents),
        cmocka_unit_test(test_outfile_interrupt_removes_temporaries),
        cmocka_unit_test(test_outfile_interrupt_during_commit_is_undone),
        cmocka_unit_test(test_outfile_committed_counts_kept_sets),
        cmocka_unit_test(test_outfile_write_errors_carry_errno),
        cmocka_unit_test(test_outfile_stale_staging_is_removed),
    };
    return cmocka_run_group_tests_name("outfile", tests, tu_setup_ctx, tu_teardown_ctx);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Atomic output through the real binary (docs/atomic-output.md): a failure -- a folder in the
 * way, an unwritable --json-summary, a file-size limit, a signal -- leaves the previous report
 * set byte for byte and no temporary file; files assay did not write survive; `report render`
 * and `diff` into an existing scan folder commit with the set's record; --out is not created
 * before the input has loaded; SIGINT/SIGTERM/SIGHUP exit 130/143/129. */
#include <errno.h>
#include <sys/resource.h>

#include "test_cli_util.h"

#include "test_data.h"

static int run_assay(const char *const *argv) {
    return tu_run_assay("cli_atomic", argv);
}

/* Fails unless the last run's stderr contains needle. */
static void assert_err(const char *needle) {
    char *e = tu_slurp(g_err, NULL);
    assert_non_null(e);
    if (strstr(e, needle) == NULL) fail_msg("stderr lacks '%s': %s", needle, e);
    free(e);
}

static void make_data(const char *path, size_t n) {
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT;
    o.n = n;
    o.d = 16;
    o.classes = 4;
    o.separation = 12.0;
    o.plant.random_flip = 0.02;
    tu_write_synth(&o, DATAGEN_FORMAT_H5, path, NULL, NULL);
}

/* "name sha256\n" for every entry of dir (hidden ones included, sorted), "name/\n" for
 * folders: equal snapshots mean a byte-identical folder. */
static char *snapshot(const char *dir) {
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) return strdup("(absent)");
    size_t cap = 256 + (size_t)n * 400, used = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            char p[2048], hex[65];
            struct stat st;
            snprintf(p, sizeof p, "%s/%s", dir, name);
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                used += (size_t)snprintf(out + used, cap - used, "%s/\n", name);
            } else {
                tu_sha256_hex(p, hex);
                used += (size_t)snprintf(out + used, cap - used, "%s %s\n", name, hex);
            }
        }
        free(list[i]);
    }
    free(list);
    return out;
}

/* Temporary files or staging folders left in dir. */
static int leftovers(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    int c = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        c += strstr(e->d_name, ".tmp-") != NULL || strstr(e->d_name, ".assay-staging") != NULL;
    closedir(d);
    return c;
}

/* The folder is byte for byte what `before` (its snapshot, freed here) recorded, and no
 * temporary file or staging folder is left in it. */
static void assert_set_intact(const char *out, char *before) {
    char *after = snapshot(out);
    assert_string_equal(before, after);
    assert_int_equal(leftovers(out), 0);
    free(before);
    free(after);
}

static void rm_rf(const char *path) {
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* Every file the record names holds the bytes the record's digest says. */
static void assert_record_matches(const char *dir) {
    char p[2048], hex[65];
    snprintf(p, sizeof p, "%s/.assay-commit", dir);
    json_t *rec = tu_load_json(p);
    json_t *files = json_object_get(rec, "files");
    assert_true(json_object_size(files) > 0);
    const char *name;
    json_t *entry;
    json_object_foreach(files, name, entry) {
        snprintf(p, sizeof p, "%s/%s", dir, name);
        tu_sha256_hex(p, hex);
        if (strcmp(hex, json_string_value(json_object_get(entry, "sha256"))) != 0)
            fail_msg("%s does not match its digest in .assay-commit", p);
    }
    json_decref(rec);
}

static char g_data[1024];

static int setup(void **state) {
    (void)state;
    tu_path(g_data, sizeof g_data, "cli_atomic.h5");
    make_data(g_data, 600);
    return 0;
}

/* A folder in the way of report.html: exit 2 naming it, before the scan, nothing replaced. */
static void test_atomic_folder_in_the_way(void **state) {
    (void)state;
    char out[1024], p[1200];
    tu_path(out, sizeof out, "cli_atomic_way");
    rm_rf(out);
    const char *args[] = {"assay", "scan", g_data, "--out", out, "-q", NULL};
    assert_in_range(run_assay(args), 0, 1);
    snprintf(p, sizeof p, "%s/report.html", out);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkdir(p, 0777), 0);
    char *before = snapshot(out);
    assert_int_equal(run_assay(args), 2);
    assert_err("report.html: a folder is in the way");
    assert_set_intact(out, before);
}

/* Files assay did not write stay as they were; the new set matches its record. */
static void test_atomic_foreign_files_survive(void **state) {
    (void)state;
    char out[1024], p[1200];
    tu_path(out, sizeof out, "cli_atomic_foreign");
    rm_rf(out);
    assert_int_equal(mkdir(out, 0777), 0);
    snprintf(p, sizeof p, "%s/notes.txt", out);
    tu_write_text(p, "not assay's");
    snprintf(p, sizeof p, "%s/sub", out);
    assert_int_equal(mkdir(p, 0777), 0);
    const char *args[] = {"assay", "scan", g_data, "--out", out, "-q", NULL};
    assert_in_range(run_assay(args), 0, 1);
    assert_in_range(run_assay(args), 0, 1);
    snprintf(p, sizeof p, "%s/notes.txt", out);
    char *notes = tu_slurp(p, NULL);
    assert_string_equal(notes, "not assay's");
    free(notes);
    snprintf(p, sizeof p, "%s/sub", out);
    assert_true(tu_exists(p));
    assert_record_matches(out);
    assert_int_equal(leftovers(out), 0);
}

/* `report render` and `diff` into an existing scan folder: a folder in the way changes
 * nothing; otherwise their files join the folder's record. */
static void test_atomic_render_and_diff_into_a_scan_folder(void **state) {
    (void)state;
    char out[1024], p[1200], report[1200], manifest[1200];
    tu_path(out, sizeof out, "cli_atomic_render");
    rm_rf(out);
    const char *scan[] = {"assay", "scan", g_data, "--out", out, "-q", NULL};
    assert_in_range(run_assay(scan), 0, 1);
    snprintf(report, sizeof report, "%s/report.json", out);
    snprintf(manifest, sizeof manifest, "%s/manifest.json", out);
    snprintf(p, sizeof p, "%s/junit.xml", out);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(mkdir(p, 0777), 0);
    char *before = snapshot(out);
    const char *render_all[] = {"assay", "report", "render", report, "-q", NULL};
    assert_int_equal(run_assay(render_all), 2);
    assert_err("junit.xml: a folder is in the way");
    char *after = snapshot(out);
    assert_string_equal(before, after);
    free(after);
    snprintf(p, sizeof p, "%s/diff.json", out);
    assert_int_equal(mkdir(p, 0777), 0);
    free(before);
    before = snapshot(out);
    const char *diff[] = {"assay", "diff", manifest, manifest, "--out", out, "-q", NULL};
    assert_int_equal(run_assay(diff), 2);
    after = snapshot(out);
    assert_string_equal(before, after);
    free(after);
    free(before);
    assert_int_equal(rmdir(p), 0);
    snprintf(p, sizeof p, "%s/junit.xml", out);
    assert_int_equal(rmdir(p), 0);
    assert_int_equal(run_assay(render_all), 0);
    assert_int_equal(run_assay(diff), 0);
    assert_record_matches(out);
    snprintf(p, sizeof p, "%s/.assay-commit", out);
    char *rec = tu_slurp(p, NULL);
    assert_contains(rec, "\"diff.json\"");
    assert_contains(rec, "\"junit.xml\"");
    assert_contains(rec, "\"scores.csv\"");
    free(rec);
    assert_int_equal(leftovers(out), 0);
}

/* An unwritable --json-summary fails before the scan and before --out is created or touched. */
static void test_atomic_summary_checked_first(void **state) {
    (void)state;
    char out[1024], bad[1200], p[1200];
    tu_path(out, sizeof out, "cli_atomic_summary");
    rm_rf(out);
    snprintf(bad, sizeof bad, "--json-summary=%s/no/such/folder/s.json", out);
    const char *a1[] = {"assay", "scan", g_data, "--out", out, "-q", bad, NULL};
    assert_int_equal(run_assay(a1), 2);
    assert_err("its folder does not exist");
    assert_false(tu_exists(out));
    /* an existing report folder is left as it was; a folder in the summary's way is refused */
    const char *scan[] = {"assay", "scan", g_data, "--out", out, "-q", NULL};
    assert_in_range(run_assay(scan), 0, 1);
    char *before = snapshot(out);
    snprintf(p, sizeof p, "--json-summary=%s", out);
    const char *a2[] = {"assay", "scan", g_data, "--out", out, "-q", p, NULL};
    assert_int_equal(run_assay(a2), 2);
    assert_err("is a folder");
    char *after = snapshot(out);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* a full device: the write fails with errno's text, exit 3 (a resource, not the input) */
    const char *a3[] = {"assay", "scan", g_data, "--out", out, "-q", "--json-summary=/dev/full",
                        NULL};
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(run_assay(a3), 3);
        assert_err("No space left on device");
    }
}

/* A dataset that does not load leaves no --out folder behind. */
static void test_atomic_out_not_created_for_bad_input(void **state) {
    (void)state;
    char out[1024], missing[1024];
    tu_path(out, sizeof out, "cli_atomic_noinput");
    tu_path(missing, sizeof missing, "cli_atomic_missing.h5");
    rm_rf(out);
    const char *args[] = {"assay", "scan", missing, "--out", out, "-q", NULL};
    assert_int_equal(run_assay(args), 2);
    assert_false(tu_exists(out));
}

/* Runs the assay binary with argv (argv[0] ignored) under a file-size limit of `bytes` (ulimit
 * -f), its stderr captured into g_err; returns its exit code (-1 when a signal ended it). */
static int run_with_file_size_limit(const char *const *argv, rlim_t bytes) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {bytes, bytes};
        setrlimit(RLIMIT_FSIZE, &rl);
        int fd = open(g_err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        execv(ASSAY_BIN, (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A file-size limit (ulimit -f): exit 3 with errno's text, previous set intact. */
static void test_atomic_file_size_limit(void **state) {
    (void)state;
    char out[1024];
    tu_path(out, sizeof out, "cli_atomic_fsize");
    rm_rf(out);
    const char *args[] = {"assay", "scan", g_data, "--out", out, "-q", NULL};
    assert_in_range(run_assay(args), 0, 1);
    char *before = snapshot(out);
    /* the matrix (38 KB) fits, report.html not */
    const char *limited[] = {"assay", "scan", g_data, "--out", out, "-q", NULL};
    assert_int_equal(run_with_file_size_limit(limited, 64 * 1024), 3);
    assert_err("File too large");
    assert_set_intact(out, before);
}

/* The findings are spooled to an unnamed temporary file in the staging folder before report.json
 * is written (one thread: that task runs first): a write that fails there (here a file-size
 * limit, as a full disk would) is exit 3 naming that file, with the previous set intact and
 * nothing left behind. */
static void test_atomic_findings_spool_write_fails(void **state) {
    (void)state;
    char data[1024], out[1024];
    tu_path(data, sizeof data, "cli_atomic_spool.h5");
    datagen_synth_opts o = DATAGEN_SYNTH_OPTS_INIT; /* a small matrix, many findings */
    o.n = 3000;
    o.d = 4;
    o.classes = 4;
    o.separation = 12.0;
    o.plant.random_flip = 0.2;
    tu_write_synth(&o, DATAGEN_FORMAT_H5, data, NULL, NULL);
    tu_path(out, sizeof out, "cli_atomic_spool");
    rm_rf(out);
    const char *args[] = {"assay", "scan", data, "--out", out, "-q", NULL};
    assert_in_range(run_assay(args), 0, 1);
    char *before = snapshot(out);
    /* the matrix (48 KB) fits, the spool not */
    const char *limited[] = {"assay", "scan", data, "--out", out, "-q", "--threads", "1", NULL};
    assert_int_equal(run_with_file_size_limit(limited, 256 * 1024), 3);
    assert_err("the findings' temporary file");
    assert_err("File too large");
    assert_set_intact(out, before);
}

/* SIGINT, SIGTERM, SIGHUP mid-scan: exit 128 + signal, previous set intact, no temporary. */
static void test_atomic_signals(void **state) {
    (void)state;
    char data[1024], out[1024];
    tu_path(data, sizeof data, "cli_atomic_sig.h5");
    make_data(data, 20000);
    tu_path(out, sizeof out, "cli_atomic_sig");
    rm_rf(out);
    const char *args[] = {"assay", "scan", data, "--out", out, "-q", NULL};
    assert_in_range(run_assay(args), 0, 1);
    char *before = snapshot(out);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        posix_spawnattr_t at;
        posix_spawnattr_init(&at);
        sigset_t def;
        sigemptyset(&def);
        sigaddset(&def, SIGINT);
        sigaddset(&def, SIGHUP);
        posix_spawnattr_setsigdefault(&at, &def); /* not ignored even under a background shell */
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, ASSAY_BIN, &fa, &at, (char *const *)args, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        struct timespec ts = {0, 150 * 1000000L + i * 100 * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, sigs[i]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 128 + sigs[i]);
        char *after = snapshot(out);
        assert_string_equal(before, after);
        free(after);
        assert_int_equal(leftovers(out), 0);
    }
    free(before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_folder_in_the_way),
        cmocka_unit_test(test_atomic_foreign_files_survive),
        cmocka_unit_test(test_atomic_render_and_diff_into_a_scan_folder),
        cmocka_unit_test(test_atomic_summary_checked_first),
        cmocka_unit_test(test_atomic_out_not_created_for_bad_input),
        cmocka_unit_test(test_atomic_file_size_limit),
        cmocka_unit_test(test_atomic_findings_spool_write_fails),
        cmocka_unit_test(test_atomic_signals),
    };
    return cmocka_run_group_tests_name("cli_atomic", tests, setup, NULL);
}

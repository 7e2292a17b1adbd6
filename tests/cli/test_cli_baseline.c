/* SPDX-License-Identifier: Apache-2.0 */
/* Scheduled scans through the assay command: a dataset is scanned, a modified copy (5 rows with
 * changed features, 3 added, 2 removed, 4 relabelled) is scanned with --baseline, and report.json
 * must name exactly those rows, the changed ones as tampering findings of high severity that fail
 * the gate; `assay diff` of the two manifests must give the same sets; without ids the rows are
 * matched by digest and the report says so. Every JSON file is validated against its schema. */
#include <jansson.h>
#include <hdf5.h>

#include "test_cli_util.h"
#include "test_data.h"

enum { N = 400, D = 8, C = 4, N_NEW = N - 2 + 3 };

static const size_t k_changed[5] = {3, 50, 77, 120, 333};
static const size_t k_relabelled[4] = {10, 60, 200, 301};
static const size_t k_removed[2] = {5, 250};

typedef struct table {
    size_t n;
    float x[N_NEW * D];
    int64_t label[N_NEW];
    char id[N_NEW][16];
} table;

/* The clean dataset (Gaussian blobs) with ids img-0000 ... */
static void make_old(table *t) {
    datagen_synth_opts so = DATAGEN_SYNTH_OPTS_INIT;
    so.n = N;
    so.d = D;
    so.classes = C;
    so.seed = 11;
    datagen_data data;
    datagen_truth truth;
    datagen_error err;
    assert_int_equal(datagen_synth(&so, &data, &truth, NULL, &err), ASSAY_OK);
    t->n = N;
    memcpy(t->x, data.x, sizeof(float) * N * D);
    for (size_t r = 0; r < N; r++) {
        t->label[r] = data.labels[r];
        snprintf(t->id[r], sizeof t->id[r], "img-%04zu", r);
    }
    datagen_data_free(&data);
    datagen_truth_free(&truth);
}

static int listed(const size_t *v, size_t n, size_t r) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == r) return 1;
    return 0;
}

/* The modified copy: features of 5 rows nudged, 4 rows relabelled, 2 removed, 3 appended. */
static void make_new(const table *o, table *t) {
    t->n = 0;
    for (size_t r = 0; r < N; r++) {
        if (listed(k_removed, 2, r)) continue;
        size_t i = t->n++;
        memcpy(t->x + i * D, o->x + r * D, sizeof(float) * D);
        t->label[i] = o->label[r];
        memcpy(t->id[i], o->id[r], sizeof t->id[i]);
        if (listed(k_changed, 5, r)) t->x[i * D] += 0.25f;
        if (listed(k_relabelled, 4, r)) t->label[i] = (o->label[r] + 1) % C;
    }
    for (size_t k = 0; k < 3; k++) {
        size_t i = t->n++;
        memcpy(t->x + i * D, o->x + (100 + k) * D, sizeof(float) * D);
        t->x[i * D + 1] += 0.5f;
        t->label[i] = o->label[100 + k];
        snprintf(t->id[i], sizeof t->id[i], "new-%zu", k);
    }
}

/* Index in the new table of old row r (rows after a removed one move up). */
static size_t new_index(size_t r) {
    return r - (r > k_removed[0]) - (r > k_removed[1]);
}

static void write_h5(const char *path, const table *t) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t d2[2] = {t->n, D}, d1[1] = {t->n};
    hid_t sp = H5Screate_simple(2, d2, NULL);
    hid_t ds =
        H5Dcreate2(f, "/embeddings", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->x) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    sp = H5Screate_simple(1, d1, NULL);
    ds = H5Dcreate2(f, "/labels", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->label) >= 0);
    H5Dclose(ds);
    hid_t st = H5Tcopy(H5T_C_S1);
    assert_true(H5Tset_size(st, H5T_VARIABLE) >= 0);
    assert_true(H5Tset_cset(st, H5T_CSET_UTF8) >= 0);
    const char *ids[N_NEW];
    for (size_t r = 0; r < t->n; r++) ids[r] = t->id[r];
    ds = H5Dcreate2(f, "/ids", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids) >= 0);
    H5Dclose(ds);
    H5Tclose(st);
    H5Sclose(sp);
    H5Fclose(f);
}

/* CSV without an id column: label,f0,...,f7. */
static void write_csv(const char *path, const table *t) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "label");
    for (size_t j = 0; j < D; j++) fprintf(fp, ",f%zu", j);
    fprintf(fp, "\n");
    for (size_t r = 0; r < t->n; r++) {
        fprintf(fp, "%lld", (long long)t->label[r]);
        for (size_t j = 0; j < D; j++) fprintf(fp, ",%.9g", (double)t->x[r * D + j]);
        fprintf(fp, "\n");
    }
    assert_int_equal(fclose(fp), 0);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The "id" of every entry of block[key].rows as a sorted comma-separated list. */
static void ids_of(const json_t *baseline, const char *key, char *out, size_t len) {
    const json_t *rows = json_object_get(json_object_get(baseline, key), "rows");
    assert_true(json_is_array(rows));
    const char *v[64];
    size_t n = json_array_size(rows);
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        v[i] = json_string_value(json_object_get(json_array_get(rows, i), "id"));
        assert_non_null(v[i]);
    }
    qsort(v, n, sizeof *v, cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, v[i], len - strlen(out) - 1);
        if (i + 1 < n) strncat(out, ",", len - strlen(out) - 1);
    }
}

static const char k_changed_ids[] =
    "img-0003,img-0010,img-0050,img-0060,img-0077,img-0120,img-0200,img-0301,img-0333";
static const char k_relabelled_ids[] = "img-0010,img-0060,img-0200,img-0301";
static const char k_added_ids[] = "new-0,new-1,new-2";
static const char k_removed_ids[] = "img-0005,img-0250";

static void assert_row_sets(const json_t *b) {
    char got[1024];
    ids_of(b, "changed", got, sizeof got);
    assert_string_equal(got, k_changed_ids);
    ids_of(b, "relabelled", got, sizeof got);
    assert_string_equal(got, k_relabelled_ids);
    ids_of(b, "added", got, sizeof got);
    assert_string_equal(got, k_added_ids);
    ids_of(b, "removed", got, sizeof got);
    assert_string_equal(got, k_removed_ids);
    const json_t *counts = json_object_get(b, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "changed")), 9);
    assert_int_equal(json_integer_value(json_object_get(counts, "relabelled")), 4);
    assert_int_equal(json_integer_value(json_object_get(counts, "added")), 3);
    assert_int_equal(json_integer_value(json_object_get(counts, "removed")), 2);
    assert_string_equal(json_string_value(json_object_get(b, "matched_by")), "id");
}

/* The last line of a text file. */
static void last_line(const char *path, char *out, size_t len) {
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[4096];
    out[0] = '\0';
    while (fgets(line, sizeof line, fp)) snprintf(out, len, "%s", line);
    fclose(fp);
}

static void test_h5_with_string_ids(void **state) {
    (void)state;
    static table old_t, new_t;
    make_old(&old_t);
    make_new(&old_t, &new_t);
    char old_h5[1024], new_h5[1024], old_dir[1024], new_dir[1024], plain_dir[1024], diff_dir[1024];
    write_h5(tu_path(old_h5, sizeof old_h5, "bl_old.h5"), &old_t);
    write_h5(tu_path(new_h5, sizeof new_h5, "bl_new.h5"), &new_t);
    tu_path(old_dir, sizeof old_dir, "bl_old_out");
    tu_path(new_dir, sizeof new_dir, "bl_new_out");
    tu_path(plain_dir, sizeof plain_dir, "bl_new_plain_out");
    tu_path(diff_dir, sizeof diff_dir, "bl_diff_out");
    char man_old[1200], man_new[1200], rep_old[1200], rep_new[1200], diff_json[1200];
    snprintf(man_old, sizeof man_old, "%s/manifest.json", old_dir);
    snprintf(man_new, sizeof man_new, "%s/manifest.json", new_dir);
    snprintf(rep_old, sizeof rep_old, "%s/report.json", old_dir);
    snprintf(rep_new, sizeof rep_new, "%s/report.json", new_dir);
    snprintf(diff_json, sizeof diff_json, "%s/diff.json", diff_dir);

    const char *scan_old[] = {"assay", "scan", old_h5, "-o", old_dir, "-q", NULL};
    int rc_old = tu_run_assay("bl_scan_old", scan_old);
    assert_true(rc_old == 0 || rc_old == 1);
    /* the new data on its own: the gate decides on the other detectors only */
    const char *scan_plain[] = {"assay", "scan", new_h5, "-o", plain_dir, "-q", NULL};
    int rc_plain = tu_run_assay("bl_scan_plain", scan_plain);
    assert_true(rc_plain == 0 || rc_plain == 1);
    const char *scan_new[] = {"assay", "scan",  new_h5, "--baseline", man_old,
                              "-o",    new_dir, "-q",   NULL};
    assert_int_equal(tu_run_assay("bl_scan_new", scan_new), 1);

    json_t *rep = tu_load_json(rep_new);
    const json_t *b = json_object_get(rep, "baseline");
    assert_true(json_is_object(b));
    assert_row_sets(b);
    /* the chain: the SHA-256 of the report next to the baseline manifest, and of the manifest */
    char hex[65];
    tu_sha256_hex(rep_old, hex);
    assert_string_equal(json_string_value(json_object_get(b, "previous_report_sha256")), hex);
    tu_sha256_hex(man_old, hex);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(b, "manifest"), "sha256")), hex);
    /* the changed rows are tampering findings of high severity, and only they */
    size_t i, tampering = 0, relabelled = 0;
    const json_t *f;
    json_array_foreach(json_object_get(rep, "findings"), i, f) {
        if (strcmp(json_string_value(json_object_get(f, "kind")), "tampering") != 0) continue;
        tampering++;
        assert_string_equal(json_string_value(json_object_get(f, "severity")), "high");
        assert_string_equal(json_string_value(json_object_get(f, "detector")), "tampering");
        const char *id = json_string_value(json_object_get(f, "id"));
        assert_non_null(strstr(k_changed_ids, id));
        const json_t *ev = json_object_get(f, "evidence");
        int rel = json_is_true(json_object_get(ev, "relabelled"));
        relabelled += (size_t)rel;
        assert_int_equal(rel, strstr(k_relabelled_ids, id) != NULL);
        assert_true(json_is_string(json_object_get(ev, "old_sha256")));
        assert_string_not_equal(json_string_value(json_object_get(ev, "old_sha256")),
                                json_string_value(json_object_get(ev, "new_sha256")));
        assert_int_equal(
            json_equal(json_object_get(ev, "old_label"), json_object_get(ev, "new_label")), !rel);
    }
    assert_int_equal(tampering, 9);
    assert_int_equal(relabelled, 4);
    /* the gate failed because of them: the scan without a baseline differs only by them */
    const json_t *gate = json_object_get(rep, "gate");
    assert_false(json_is_true(json_object_get(gate, "passed")));
    json_t *plain = NULL;
    char plain_rep[1200];
    snprintf(plain_rep, sizeof plain_rep, "%s/report.json", plain_dir);
    plain = tu_load_json(plain_rep);
    assert_true(json_is_null(json_object_get(plain, "baseline")));
    size_t plain_high = 0, new_high = 0;
    json_array_foreach(json_object_get(plain, "findings"), i, f) plain_high +=
        strcmp(json_string_value(json_object_get(f, "severity")), "high") == 0;
    json_array_foreach(json_object_get(rep, "findings"), i, f) new_high +=
        strcmp(json_string_value(json_object_get(f, "severity")), "high") == 0;
    assert_int_equal(new_high, plain_high + 9);
    if (rc_plain == 0) assert_int_equal(plain_high, 0); /* then tampering alone failed it */
    const json_t *det;
    json_array_foreach(json_object_get(plain, "detectors"), i, det) {
        if (strcmp(json_string_value(json_object_get(det, "name")), "tampering") != 0) continue;
        assert_false(json_is_true(json_object_get(det, "ran")));
        assert_string_equal(json_string_value(json_object_get(det, "note")), "no baseline given");
    }
    json_decref(plain);

    /* assay diff of the two manifests: the same sets, exit 1, a JSON line last */
    const char *diff[] = {"assay", "diff",   man_old,          man_new,
                          "--out", diff_dir, "--json-summary", NULL};
    assert_int_equal(tu_run_assay("bl_diff", diff), 1);
    json_t *dj = tu_load_json(diff_json);
    assert_row_sets(json_object_get(dj, "baseline"));
    assert_int_equal(json_integer_value(json_object_get(dj, "exit_code")), 1);
    /* the same class shift as the scan computed */
    assert_true(json_equal(json_object_get(json_object_get(dj, "baseline"), "class_shift"),
                           json_object_get(b, "class_shift")));
    char line[4096];
    last_line(g_out, line, sizeof line);
    json_error_t e;
    json_t *summary = json_loads(line, 0, &e);
    assert_non_null(summary);
    assert_int_equal(json_integer_value(json_object_get(summary, "changed")), 9);
    assert_int_equal(json_integer_value(json_object_get(summary, "exit_code")), 1);
    json_decref(summary);
    /* unchanged data: exit 0 */
    const char *same[] = {"assay", "diff", man_old, man_old, NULL};
    assert_int_equal(tu_run_assay("bl_diff_same", same), 0);

    tu_schema_valid(TU_SCHEMA("assay-report-1.schema.json"), rep_new);
    tu_schema_valid(TU_SCHEMA("assay-report-1.schema.json"), rep_old);
    tu_schema_valid(TU_SCHEMA("assay-manifest-1.schema.json"), man_old);
    tu_schema_valid(TU_SCHEMA("assay-manifest-1.schema.json"), man_new);
    tu_schema_valid(TU_SCHEMA("assay-diff-1.schema.json"), diff_json);
    json_decref(dj);
    json_decref(rep);
}

/* Without ids: matched by digest only, said so; changed rows are removed + added digests. */
static void test_csv_without_ids(void **state) {
    (void)state;
    static table old_t, new_t;
    make_old(&old_t);
    make_new(&old_t, &new_t);
    char old_csv[1024], new_csv[1024], old_dir[1024], lone_dir[1024], new_dir[1024];
    write_csv(tu_path(old_csv, sizeof old_csv, "bl_old.csv"), &old_t);
    write_csv(tu_path(new_csv, sizeof new_csv, "bl_new.csv"), &new_t);
    tu_path(old_dir, sizeof old_dir, "bl_csv_old_out");
    tu_path(new_dir, sizeof new_dir, "bl_csv_new_out");
    tu_path(lone_dir, sizeof lone_dir, "bl_csv_lone");
    const char *scan_old[] = {"assay", "scan", old_csv, "-o", old_dir, "-q", NULL};
    int rc = tu_run_assay("bl_csv_old", scan_old);
    assert_true(rc == 0 || rc == 1);
    /* the baseline manifest alone in a folder: no report.json to chain to */
    char man_old[1200], man_lone[1200], man_new[1200], rep_new[1200];
    snprintf(man_old, sizeof man_old, "%s/manifest.json", old_dir);
    snprintf(man_lone, sizeof man_lone, "%s/manifest.json", lone_dir);
    snprintf(man_new, sizeof man_new, "%s/manifest.json", new_dir);
    snprintf(rep_new, sizeof rep_new, "%s/report.json", new_dir);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "mkdir -p %s && rm -f %s/report.json && cp %s %s", lone_dir, lone_dir,
             man_old, man_lone);
    assert_int_equal(system(cmd), 0);
    const char *scan_new[] = {"assay", "scan",  new_csv, "--baseline", man_lone,
                              "-o",    new_dir, "-q",    NULL};
    rc = tu_run_assay("bl_csv_new", scan_new);
    assert_true(rc == 0 || rc == 1);

    json_t *rep = tu_load_json(rep_new), *mo = tu_load_json(man_old), *mn = tu_load_json(man_new);
    const json_t *b = json_object_get(rep, "baseline");
    /* no ids: rows are matched by the digest of their features, so a relabelled row is found */
    assert_string_equal(json_string_value(json_object_get(b, "matched_by")), "content");
    assert_contains(json_string_value(json_object_get(b, "matching_note")),
                    "cannot be told from a removed row plus an added one");
    assert_true(json_is_null(json_object_get(b, "previous_report_sha256")));
    assert_contains(
        json_string_value(json_object_get(json_object_get(b, "previous_report"), "note")),
        "no report.json");
    /* removed: the 2 removed rows and the 5 whose features changed, as old digests; added: the 3
     * new rows and those 5, as new digests; the 4 relabelled rows keep their features: matched,
     * and changed */
    const json_t *orows = json_object_get(mo, "rows"), *nrows = json_object_get(mn, "rows");
    char want_removed[16][65], want_added[16][65];
    size_t nr = 0, na = 0;
    for (size_t r = 0; r < N; r++) {
        int gone = listed(k_removed, 2, r), moved = listed(k_changed, 5, r);
        if (gone || moved)
            snprintf(want_removed[nr++], 65, "%s",
                     json_string_value(json_array_get(json_array_get(orows, r), 3)));
        if (moved)
            snprintf(want_added[na++], 65, "%s",
                     json_string_value(json_array_get(json_array_get(nrows, new_index(r)), 3)));
    }
    for (size_t k = 0; k < 3; k++)
        snprintf(want_added[na++], 65, "%s",
                 json_string_value(json_array_get(json_array_get(nrows, N - 2 + k), 3)));
    assert_int_equal(nr, 7);
    assert_int_equal(na, 8);
    const json_t *counts = json_object_get(b, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "removed")), 7);
    assert_int_equal(json_integer_value(json_object_get(counts, "added")), 8);
    assert_int_equal(json_integer_value(json_object_get(counts, "changed")), 4);
    assert_int_equal(json_integer_value(json_object_get(counts, "relabelled")), 4);
    const json_t *list[2] = {json_object_get(json_object_get(b, "removed"), "rows"),
                             json_object_get(json_object_get(b, "added"), "rows")};
    char(*want[2])[65] = {want_removed, want_added};
    size_t want_n[2] = {nr, na};
    for (int l = 0; l < 2; l++) {
        assert_int_equal(json_array_size(list[l]), want_n[l]);
        for (size_t k = 0; k < want_n[l]; k++) {
            int found = 0;
            size_t i;
            const json_t *row;
            json_array_foreach(list[l], i, row) found +=
                strcmp(json_string_value(json_object_get(row, "sha256")), want[l][k]) == 0;
            if (found != 1) fail_msg("digest %s listed %d times, expected once", want[l][k], found);
            assert_true(json_is_null(json_object_get(json_array_get(list[l], 0), "id")));
        }
    }
    /* the relabelled rows are tampering findings even without ids; nothing else is */
    size_t i, tampered = 0;
    const json_t *f;
    json_array_foreach(json_object_get(rep, "findings"), i, f) {
        if (strcmp(json_string_value(json_object_get(f, "kind")), "tampering") != 0) continue;
        size_t row = (size_t)json_integer_value(json_object_get(f, "index"));
        int relabelled = 0;
        for (size_t r = 0; r < N; r++)
            relabelled |= listed(k_relabelled, 4, r) && new_index(r) == row;
        assert_true(relabelled);
        tampered++;
    }
    assert_int_equal(tampered, 4);
    /* assay diff agrees, and exits 1: rows are known to have changed */
    const char *diff[] = {"assay", "diff", man_lone, man_new, NULL};
    assert_int_equal(tu_run_assay("bl_csv_diff", diff), 1);
    char *out = tu_slurp(g_out, NULL);
    assert_contains(out, "8 added, 7 removed, 4 changed (4 relabelled)");
    assert_contains(out, "matched by the digest of their features (a side has no ids)");
    free(out);
    tu_schema_valid(TU_SCHEMA("assay-report-1.schema.json"), rep_new);
    tu_schema_valid(TU_SCHEMA("assay-manifest-1.schema.json"), man_new);
    json_decref(rep);
    json_decref(mo);
    json_decref(mn);
}

/* The same rows under new ids (0..N-1 re-exported as "img-0000"...): `assay diff` must not pass
 * on "N added, N removed, 0 changed". It says the ids changed wholesale, matches by row digest
 * (which covers the id, so nothing matches), fails (exit 1) with the reason, and diff.json says
 * so (valid against its schema). */
static void test_diff_ids_changed_wholesale(void **state) {
    (void)state;
    static table t;
    make_old(&t);
    char csv_old[1024], csv_new[1024], dir_old[1024], dir_new[1024], dir_diff[1024];
    tu_path(csv_old, sizeof csv_old, "bl_renum_old.csv");
    tu_path(csv_new, sizeof csv_new, "bl_renum_new.csv");
    for (int side = 0; side < 2; side++) {
        FILE *fp = fopen(side ? csv_new : csv_old, "w");
        assert_non_null(fp);
        fprintf(fp, "id,label");
        for (size_t j = 0; j < D; j++) fprintf(fp, ",f%zu", j);
        fprintf(fp, "\n");
        for (size_t r = 0; r < t.n; r++) {
            /* the re-export also relabels rows 10..14 and moves the features of rows 20..22 */
            long long label = side && r >= 10 && r < 15 ? (t.label[r] + 1) % C : t.label[r];
            if (side)
                fprintf(fp, "%s,%lld", t.id[r], label);
            else
                fprintf(fp, "%zu,%lld", r, label);
            for (size_t j = 0; j < D; j++)
                fprintf(fp, ",%.9g",
                        (double)t.x[r * D + j] + (side && r >= 20 && r < 23 && j == 0 ? 0.5 : 0.0));
            fprintf(fp, "\n");
        }
        assert_int_equal(fclose(fp), 0);
    }
    tu_path(dir_old, sizeof dir_old, "bl_renum_old_out");
    tu_path(dir_new, sizeof dir_new, "bl_renum_new_out");
    tu_path(dir_diff, sizeof dir_diff, "bl_renum_diff_out");
    tu_remove_dir(dir_diff);
    assert_int_equal(mkdir(dir_diff, 0777), 0);
    const char *s_old[] = {"assay", "scan", csv_old, "-o", dir_old, "-q", NULL};
    int rc = tu_run_assay("bl_renum_old", s_old);
    assert_true(rc == 0 || rc == 1);
    const char *s_new[] = {"assay", "scan", csv_new, "-o", dir_new, "-q", NULL};
    rc = tu_run_assay("bl_renum_new", s_new);
    assert_true(rc == 0 || rc == 1);
    char man_old[1200], man_new[1200], diff_json[1200];
    snprintf(man_old, sizeof man_old, "%s/manifest.json", dir_old);
    snprintf(man_new, sizeof man_new, "%s/manifest.json", dir_new);
    snprintf(diff_json, sizeof diff_json, "%s/diff.json", dir_diff);
    const char *d[] = {"assay", "diff",   man_old,          man_new,
                       "--out", dir_diff, "--json-summary", NULL};
    assert_int_equal(tu_run_assay("bl_renum_diff", d), 1);
    char *out = tu_slurp(g_out, NULL);
    assert_contains(out, "ids changed wholesale: 0 of 400 baseline rows share an id with the 400 "
                         "current rows; cannot match rows by id");
    /* matched by their features: the relabelled rows are found, the moved ones cannot be */
    assert_contains(out, "matched by the digest of their features instead: 397 rows matched");
    assert_contains(out, "3 added, 3 removed, 5 changed (5 relabelled), 392 unchanged");
    assert_contains(out, "verdict: FAIL: the ids changed wholesale");
    free(out);
    char line[4096];
    last_line(g_out, line, sizeof line);
    json_error_t e;
    json_t *summary = json_loads(line, 0, &e);
    assert_non_null(summary);
    assert_string_equal(json_string_value(json_object_get(summary, "status")), "fail");
    assert_true(json_is_true(json_object_get(summary, "ids_changed_wholesale")));
    assert_string_equal(json_string_value(json_object_get(summary, "matched_by")), "content");
    json_decref(summary);
    json_t *dj = tu_load_json(diff_json);
    assert_int_equal(json_integer_value(json_object_get(dj, "exit_code")), 1);
    const json_t *w = json_object_get(dj, "ids_changed_wholesale");
    assert_true(json_is_object(w));
    assert_int_equal(json_integer_value(json_object_get(w, "ids_in_common")), 0);
    assert_int_equal(json_integer_value(json_object_get(w, "old_rows")), 400);
    assert_int_equal(json_integer_value(json_object_get(w, "rows_matched_by_digest")), 397);
    assert_string_equal(json_string_value(json_object_get(w, "matched_by")), "content");
    assert_contains(json_string_value(json_object_get(w, "reason")), "ids changed wholesale");
    const json_t *b = json_object_get(dj, "baseline");
    assert_string_equal(json_string_value(json_object_get(b, "matched_by")), "content");
    assert_contains(json_string_value(json_object_get(b, "matching_note")),
                    "cannot be matched by id");
    json_decref(dj);
    tu_schema_valid(TU_SCHEMA("assay-diff-1.schema.json"), diff_json);
    /* the same manifest twice: ids all shared, exit 0, diff.json says null */
    const char *same[] = {"assay", "diff", man_new, man_new, "--out", dir_diff, NULL};
    assert_int_equal(tu_run_assay("bl_renum_same", same), 0);
    dj = tu_load_json(diff_json);
    assert_true(json_is_null(json_object_get(dj, "ids_changed_wholesale")));
    json_decref(dj);
    tu_schema_valid(TU_SCHEMA("assay-diff-1.schema.json"), diff_json);
}

/* Bad input: exit 2, naming the file and the key. */
static void test_bad_input(void **state) {
    (void)state;
    char not_manifest[1024], missing[1024];
    tu_path(not_manifest, sizeof not_manifest, "bl_not_a_manifest.json");
    tu_write_text(not_manifest, "{\"schema\": \"assay-report/1\", \"rows\": []}\n");
    tu_path(missing, sizeof missing, "bl_no_such_dir/manifest.json");
    const char *d1[] = {"assay", "diff", not_manifest, not_manifest, NULL};
    assert_int_equal(tu_run_assay("bl_bad_diff", d1), 2);
    char *stderr_text = tu_slurp(g_err, NULL);
    assert_contains(stderr_text, not_manifest);
    assert_contains(stderr_text, "key 'schema'");
    free(stderr_text);
    const char *d2[] = {"assay", "diff", missing, not_manifest, NULL};
    assert_int_equal(tu_run_assay("bl_missing_diff", d2), 2);
    const char *d3[] = {"assay", "diff", not_manifest, NULL};
    assert_int_equal(tu_run_assay("bl_one_arg_diff", d3), 2);
    char csv[1024], out[1024];
    tu_write_text(tu_path(csv, sizeof csv, "bl_tiny.csv"),
                  "label,a,b\n0,1,0\n0,1,0.1\n1,0,1\n1,0.1,1\n0,1,0.2\n1,0.2,1\n");
    tu_path(out, sizeof out, "bl_bad_scan_out");
    const char *s1[] = {"assay",      "scan", csv, "-k", "2", "--baseline",
                        not_manifest, "-o",   out, "-q", NULL};
    assert_int_equal(tu_run_assay("bl_bad_scan", s1), 2);
}

/* The diff.json schema carries a copy of report.json's baseline block: it must be current. */
/* A baseline export that lacked most of one class, and the full export now (70 rows added, no
 * row changed; the new data is clean): the class shift is significant,
 * the gate warns (exit 0, never fails on drift alone), the reason names it, and report.sarif
 * carries one dataset-level drift warning (valid against the OASIS schema). */
static void test_class_shift_warns(void **state) {
    (void)state;
    static table old_t, new_t;
    make_old(&new_t);
    old_t.n = 0;
    size_t dropped = 0;
    for (size_t r = 0; r < N; r++) {
        if (new_t.label[r] == 0 && dropped < 70) { /* of about 100 rows of class 0 */
            dropped++;
            continue;
        }
        size_t i = old_t.n++;
        memcpy(old_t.x + i * D, new_t.x + r * D, sizeof(float) * D);
        old_t.label[i] = new_t.label[r];
        memcpy(old_t.id[i], new_t.id[r], sizeof old_t.id[i]);
    }
    char old_h5[1024], new_h5[1024], old_dir[1024], new_dir[1024], p[1200];
    write_h5(tu_path(old_h5, sizeof old_h5, "bl_shift_old.h5"), &old_t);
    write_h5(tu_path(new_h5, sizeof new_h5, "bl_shift_new.h5"), &new_t);
    tu_path(old_dir, sizeof old_dir, "bl_shift_old_out");
    tu_path(new_dir, sizeof new_dir, "bl_shift_new_out");
    const char *scan_old[] = {"assay", "scan", old_h5, "-o", old_dir, "-q", NULL};
    int rc_old = tu_run_assay("bl_shift_old", scan_old);
    assert_true(rc_old == 0 || rc_old == 1);
    snprintf(p, sizeof p, "%s/manifest.json", old_dir);
    const char *scan_new[] = {"assay", "scan", new_h5, "--baseline", p, "-o", new_dir, "-q", NULL};
    assert_int_equal(tu_run_assay("bl_shift_new", scan_new), 0);
    snprintf(p, sizeof p, "%s/report.json", new_dir);
    json_t *rep = tu_load_json(p);
    const json_t *b = json_object_get(rep, "baseline");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "counts"), "added")),
                     70);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "counts"), "changed")),
                     0);
    double pv = json_number_value(json_object_get(json_object_get(b, "class_shift"), "p_value"));
    assert_true(pv < 1e-3);
    const json_t *gate = json_object_get(rep, "gate");
    assert_string_equal(json_string_value(json_object_get(gate, "verdict")), "warn");
    assert_contains(json_string_value(json_object_get(gate, "reason")),
                    "class distribution changed against the baseline");
    json_decref(rep);
    snprintf(p, sizeof p, "%s/report.sarif", new_dir);
    tu_schema_valid(ASSAY_SHARED_SCHEMAS "/sarif-schema-2.1.0.json", p);
    json_t *sarif = tu_load_json(p);
    const json_t *results =
        json_object_get(json_array_get(json_object_get(sarif, "runs"), 0), "results");
    size_t i, drift = 0;
    const json_t *r;
    json_array_foreach(results, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "ruleId")), "ASSAY-DRIFT") != 0) continue;
        drift++;
        assert_string_equal(json_string_value(json_object_get(r, "level")), "warning");
    }
    assert_int_equal(drift, 1);
    json_decref(sarif);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h5_with_string_ids),         cmocka_unit_test(test_csv_without_ids),
        cmocka_unit_test(test_diff_ids_changed_wholesale), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_class_shift_warns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

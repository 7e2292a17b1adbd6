/* SPDX-License-Identifier: Apache-2.0 */
/* The in-memory API (issue 15): datasets from the caller's arrays -- every dtype and layout,
 * borrowed or copied, the same digests and scan as the same data saved as .npy --, the result's
 * accessors, reports rendered into memory, and cancellation. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "assay/assay.h"
#include "test_util.h"

enum { N = 600, D = 24, C = 3 };

/* A dataset with class structure and a few flipped labels, so findings and tests exist. */
static float g_x[N * D];
static int64_t g_y[N];

static void make_data(void) {
    uint64_t s = 12345;
    for (size_t i = 0; i < N; i++) {
        int64_t c = (int64_t)(i % C);
        g_y[i] = c;
        for (size_t j = 0; j < D; j++)
            g_x[i * D + j] = (float)(tu_normal(&s) + (j % C == (size_t)c ? 4.0 : 0.0));
    }
    for (size_t i = 0; i < 12; i++) g_y[i * 37] = (g_y[i * 37] + 1) % C; /* flipped labels */
}

/* Writes a C-order .npy of `descr` ("<f4", "<i8") and shape (rows[, cols]). */
static void write_npy(const char *path, const char *descr, size_t rows, size_t cols,
                      const void *data, size_t bytes) {
    char hdr[256];
    int len;
    if (cols == 0)
        len = snprintf(hdr, sizeof hdr,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, rows);
    else
        len = snprintf(hdr, sizeof hdr,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr,
                       rows, cols);
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite("\x93NUMPY\x01\x00", 1, 8, fp);
    uint16_t hl = (uint16_t)((size_t)len + pad + 1);
    fputc(hl & 0xff, fp);
    fputc(hl >> 8, fp);
    fwrite(hdr, 1, (size_t)len, fp);
    for (size_t i = 0; i < pad; i++) fputc(' ', fp);
    fputc('\n', fp);
    fwrite(data, 1, bytes, fp);
    assert_int_equal(fclose(fp), 0);
}

static assay_arrays base_arrays(void) {
    assay_arrays a = ASSAY_ARRAYS_INIT;
    a.embeddings = (assay_array){g_x, ASSAY_DTYPE_F32, N, D, 0, 0};
    a.labels = (assay_array){g_y, ASSAY_DTYPE_I64, N, 1, 0, 0};
    return a;
}

static void digest_of(const assay_dataset *ds, char *hex) {
    assert_int_equal(assay_dataset_digest_hex(ds, hex, 65), ASSAY_OK);
}

/* The same values from a file and from memory: the same row digests, in every dtype. */
static void test_same_digest_as_npy(void **state) {
    assay_ctx *ctx = *state;
    char xp[512], yp[512];
    write_npy(tu_path(xp, sizeof xp, "mem_x.npy"), "<f4", N, D, g_x, sizeof g_x);
    write_npy(tu_path(yp, sizeof yp, "mem_y.npy"), "<i8", N, 0, g_y, sizeof g_y);
    assay_load_opts lo = ASSAY_LOAD_OPTS_INIT;
    lo.labels_file = yp;
    assay_dataset *file = NULL, *mem = NULL;
    assert_int_equal(assay_dataset_load(ctx, xp, &lo, &file), ASSAY_OK);
    assay_arrays a = base_arrays();
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &mem), ASSAY_OK);
    assert_true(assay_dataset_borrowed(mem));
    assert_int_equal(assay_dataset_format(mem), ASSAY_FORMAT_MEMORY);
    assert_string_equal(assay_format_name(ASSAY_FORMAT_MEMORY), "memory");
    char h1[65], h2[65];
    digest_of(file, h1);
    digest_of(mem, h2);
    assert_string_equal(h1, h2);
    assert_ptr_equal(assay_dataset_row(mem, 5), g_x + 5 * D); /* read in place */
    assay_dataset_destroy(mem);

    /* float64, Fortran order, forced copy: converted, same digest */
    double *xd = malloc(sizeof(double) * N * D);
    assert_non_null(xd);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < D; j++) xd[j * N + i] = g_x[i * D + j];
    a.embeddings = (assay_array){xd, ASSAY_DTYPE_F64, N, D, sizeof(double), sizeof(double) * N};
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &mem), ASSAY_OK);
    assert_false(assay_dataset_borrowed(mem));
    digest_of(mem, h2);
    assert_string_equal(h1, h2);
    assay_dataset_destroy(mem);
    free(xd);

    /* int32 labels and a float64 whole-valued label vector: the same labels */
    int32_t y32[N];
    double yd[N];
    for (size_t i = 0; i < N; i++) y32[i] = (int32_t)g_y[i], yd[i] = (double)g_y[i];
    a = base_arrays();
    a.labels = (assay_array){y32, ASSAY_DTYPE_I32, N, 0, 0, 0};
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &mem), ASSAY_OK);
    digest_of(mem, h2);
    assert_string_equal(h1, h2);
    assay_dataset_destroy(mem);
    a.labels = (assay_array){yd, ASSAY_DTYPE_F64, N, 1, 0, 0};
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &mem), ASSAY_OK);
    digest_of(mem, h2);
    assert_string_equal(h1, h2);
    assay_dataset_destroy(mem);
    assay_dataset_destroy(file);
}

/* Every dtype converts as the .npy loader converts it; odd strides (every other column, rows in
 * reverse) read the right elements; a padded float32 row stride is borrowed. */
static void test_dtypes_and_strides(void **state) {
    assay_ctx *ctx = *state;
    enum { R = 7, K = 5 };
    int64_t lab[R] = {0, 1, 0, 1, 0, 1, 0};
    for (int t = 0; t < ASSAY_DTYPE_COUNT; t++) {
        size_t es = assay_dtype_size((assay_dtype)t);
        assert_true(es > 0);
        unsigned char buf[R * K * 8];
        float want[R * K];
        for (size_t i = 0; i < R * K; i++) {
            int v = (int)(i % 11) + 1;
            switch (t) {
            case ASSAY_DTYPE_F32: {
                float f = (float)v * 0.5f;
                memcpy(buf + i * es, &f, es);
                want[i] = f;
                break;
            }
            case ASSAY_DTYPE_F64: {
                double f = (double)v * 0.1;
                memcpy(buf + i * es, &f, es);
                want[i] = (float)f;
                break;
            }
            case ASSAY_DTYPE_F16: {
                uint16_t h = (uint16_t)(0x3c00 + v); /* 1 + v/1024 */
                memcpy(buf + i * es, &h, es);
                want[i] = 1.0f + (float)v / 1024.0f;
                break;
            }
            case ASSAY_DTYPE_I8:
            case ASSAY_DTYPE_I16:
            case ASSAY_DTYPE_I32:
            case ASSAY_DTYPE_I64: {
                int64_t x = -v;
                memcpy(buf + i * es, &x, es); /* little-endian host: low bytes first */
                want[i] = (float)-v;
                break;
            }
            default: {
                uint64_t x = (uint64_t)v;
                memcpy(buf + i * es, &x, es);
                want[i] = (float)v;
            }
            }
        }
        assay_arrays a = ASSAY_ARRAYS_INIT;
        a.embeddings = (assay_array){buf, (assay_dtype)t, R, K, 0, 0};
        a.labels = (assay_array){lab, ASSAY_DTYPE_I64, R, 1, 0, 0};
        assay_dataset *ds = NULL;
        assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
        assert_int_equal(assay_dataset_borrowed(ds), t == ASSAY_DTYPE_F32);
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < K; j++)
                assert_true(assay_dataset_row(ds, i)[j] == want[i * K + j]);
        assay_dataset_destroy(ds);

        /* columns 0, 2, 4 of rows 6, 5, ..., 0 (negative row stride, column step 2) */
        a.embeddings = (assay_array){buf + (R - 1) * K * es, (assay_dtype)t,     R, 3,
                                     -(ptrdiff_t)(K * es),   (ptrdiff_t)(2 * es)};
        assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
        assert_false(assay_dataset_borrowed(ds));
        for (size_t i = 0; i < R; i++)
            for (size_t j = 0; j < 3; j++)
                assert_true(assay_dataset_row(ds, i)[j] == want[(R - 1 - i) * K + 2 * j]);
        assay_dataset_destroy(ds);
    }
    /* float32 rows with padding between them: borrowed with that stride */
    float padded[R * 8];
    for (size_t i = 0; i < R * 8; i++) padded[i] = (float)i;
    assay_arrays a = ASSAY_ARRAYS_INIT;
    a.embeddings = (assay_array){padded, ASSAY_DTYPE_F32, R, K, 8 * sizeof(float), 0};
    a.labels = (assay_array){lab, ASSAY_DTYPE_I64, R, 1, 0, 0};
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
    assert_true(assay_dataset_borrowed(ds));
    assert_true(assay_dataset_row(ds, 3)[4] == 28.0f);
    assay_dataset_destroy(ds);
    /* copy = 1 never borrows */
    a.copy = 1;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
    assert_false(assay_dataset_borrowed(ds));
    assay_dataset_destroy(ds);
}

/* A row with NaN: the caller's array is never written; the dataset works on a copy. */
static void test_nonfinite_rows_not_written(void **state) {
    assay_ctx *ctx = *state;
    float *x = malloc(sizeof g_x);
    assert_non_null(x);
    memcpy(x, g_x, sizeof g_x);
    x[10 * D + 3] = NAN;
    assay_arrays a = base_arrays();
    a.embeddings.data = x;
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
    assert_false(assay_dataset_borrowed(ds));
    assert_true(isnan(x[10 * D + 3]));
    assert_true(x[10 * D + 4] == g_x[10 * D + 4]);
    assert_true(assay_dataset_row(ds, 10)[3] == 0.0f); /* zeroed in the copy */
    assay_result *res = NULL;
    assert_int_equal(assay_scan(ctx, ds, NULL, &res), ASSAY_OK);
    assert_true(assay_result_flags(res)[10]); /* an integrity finding */
    assay_result_destroy(res);
    assay_dataset_destroy(ds);
    free(x);
}

/* String labels and ids; the errors name the array, the row and what was expected. */
static void test_strings_and_errors(void **state) {
    assay_ctx *ctx = *state;
    static const char *names[C] = {"cat", "dog", "\xc3\xa9l\xc3\xa8ve"};
    const char **lab = malloc(N * sizeof *lab), **ids = malloc(N * sizeof *ids);
    char(*idbuf)[16] = malloc(N * sizeof *idbuf);
    assert_true(lab && ids && idbuf);
    for (size_t i = 0; i < N; i++) {
        lab[i] = names[g_y[i]];
        snprintf(idbuf[i], sizeof idbuf[i], "img-%zu", i);
        ids[i] = idbuf[i];
    }
    assay_arrays a = base_arrays();
    a.labels.data = NULL;
    a.label_strings = lab;
    a.id_strings = ids;
    assay_dataset *ds = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
    assert_int_equal(assay_dataset_classes(ds), 3);
    char id[32];
    assert_int_equal(assay_dataset_row_id(ds, 7, id, sizeof id), ASSAY_OK);
    assert_string_equal(id, "img-7");
    char lb[32];
    assert_int_equal(assay_dataset_row_label(ds, 7, lb, sizeof lb), ASSAY_OK);
    assert_string_equal(lb, names[g_y[7]]);
    assert_int_equal(assay_dataset_row_label(ds, N, lb, sizeof lb), ASSAY_E_INVAL);
    assert_int_equal(assay_dataset_row_label(ds, 2, lb, 3), ASSAY_E_INVAL); /* too short */
    assay_dataset_destroy(ds);
    /* an integer label outside the declared set: its class is -1, its text is still the label */
    a = base_arrays();
    a.classes = "0,1";
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
    assert_int_equal(assay_dataset_row_class(ds, 2), -1);
    assert_int_equal(assay_dataset_row_label(ds, 2, lb, sizeof lb), ASSAY_OK);
    assert_string_equal(lb, "2");
    assay_dataset_destroy(ds);
    a = base_arrays();
    a.labels.data = NULL;
    a.label_strings = lab;
    a.id_strings = ids;

    lab[5] = "";
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_FORMAT);
    assert_null(ds);
    assert_contains(assay_ctx_errmsg(ctx), "labels: row 5 is empty");
    lab[5] = "\xff\xfe";
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "not valid UTF-8");
    lab[5] = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "labels: row 5 is NULL");
    lab[5] = "cat";

    /* both kinds of labels, no labels, wrong lengths, fractional labels, bad probabilities */
    a = base_arrays();
    a.label_strings = lab;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "not both");
    a = base_arrays();
    a.labels.data = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "labels: none given");
    a = base_arrays();
    a.labels.rows = N - 1;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_SHAPE);
    assert_contains(assay_ctx_errmsg(ctx), "labels have 599 rows, but the embeddings have 600");
    double frac[N];
    for (size_t i = 0; i < N; i++) frac[i] = (double)g_y[i];
    frac[3] = 0.5;
    a = base_arrays();
    a.labels = (assay_array){frac, ASSAY_DTYPE_F64, N, 1, 0, 0};
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "labels: row 3 is 0.5, not an integer");
    a = base_arrays();
    a.embeddings.data = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "embeddings: no array given");
    float *pp = calloc(N * C, sizeof *pp);
    assert_non_null(pp);
    for (size_t i = 0; i < N; i++) pp[i * C + (size_t)g_y[i]] = 1.0f;
    pp[4 * C] = 2.0f;
    a = base_arrays();
    a.pred_probs = (assay_array){pp, ASSAY_DTYPE_F32, N, C, 0, 0};
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_FORMAT);
    assert_contains(assay_ctx_errmsg(ctx), "pred_probs (array): row 4, column 0");
    free(pp);
    /* the context's limits hold for arrays too */
    assay_limits lim;
    assay_limits_default(&lim);
    lim.max_rows = 100;
    assert_int_equal(assay_ctx_set_limits(ctx, &lim), ASSAY_OK);
    a = base_arrays();
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_E_LIMIT);
    assert_contains(assay_ctx_errmsg(ctx), "600 rows exceed --max-rows (100)");
    assay_limits_default(&lim);
    assert_int_equal(assay_ctx_set_limits(ctx, &lim), ASSAY_OK);
    free(lab);
    free(ids);
    free(idbuf);
}

/* report.json without what an array has no value for (the input's path, format and files, the
 * rows' places in a file) and without the timings and the command line: what must be equal
 * between a scan of a file and a scan of the same data in memory. */
static json_t *comparable(const char *text) {
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    assert_non_null(doc);
    json_t *input = json_object_get(doc, "input");
    json_object_del(input, "path");
    json_object_del(input, "format");
    json_object_del(input, "files");
    json_object_del(doc, "command");
    json_object_del(doc, "started");
    json_object_del(doc, "finished");
    json_object_del(doc, "timings_seconds");
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(doc, "findings"), i, f) json_object_del(f, "location");
    json_array_foreach(json_object_get(doc, "detectors"), i, f) json_object_del(f, "seconds");
    return doc;
}

/* A scan of arrays equals the scan of the same file, and the accessors agree with report.json. */
static void test_scan_and_accessors(void **state) {
    assay_ctx *ctx = *state;
    char xp[512], yp[512];
    tu_path(xp, sizeof xp, "mem_x.npy");
    tu_path(yp, sizeof yp, "mem_y.npy");
    assay_load_opts lo = ASSAY_LOAD_OPTS_INIT;
    lo.labels_file = yp;
    assay_dataset *file = NULL, *mem = NULL;
    assert_int_equal(assay_dataset_load(ctx, xp, &lo, &file), ASSAY_OK);
    assay_arrays a = base_arrays();
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &mem), ASSAY_OK);
    assay_result *rf = NULL, *rm = NULL;
    assert_int_equal(assay_scan(ctx, file, NULL, &rf), ASSAY_OK);
    assert_int_equal(assay_scan(ctx, mem, NULL, &rm), ASSAY_OK);
    char *jf = NULL, *jm = NULL;
    assert_int_equal(assay_report_text(ctx, file, rf, "json", NULL, &jf, NULL), ASSAY_OK);
    assert_int_equal(assay_report_text(ctx, mem, rm, "report.json", NULL, &jm, NULL), ASSAY_OK);
    assert_contains(jm, "\"format\": \"memory\"");
    json_t *df = comparable(jf), *dm = comparable(jm);
    if (!json_equal(df, dm)) { /* both kept for a diff */
        char p1[512], p2[512];
        json_dump_file(df, tu_path(p1, sizeof p1, "mem_report_file.json"), JSON_INDENT(1));
        json_dump_file(dm, tu_path(p2, sizeof p2, "mem_report_memory.json"), JSON_INDENT(1));
        fail_msg("report.json differs between the file and the arrays: diff %s %s", p1, p2);
    }
    json_decref(df);
    json_decref(dm);

    /* accessors */
    assert_int_equal(assay_result_rows(rm), N);
    const float *score = assay_result_scores(rm);
    const uint8_t *flag = assay_result_flags(rm);
    size_t flagged = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true(score[i] == assay_result_score(rm, i));
        flagged += flag[i];
    }
    assert_int_equal(flagged, assay_result_flagged_count(rm));
    assert_true(flagged >= 6); /* the planted flips */
    const size_t *rank = assay_result_ranking(rm);
    for (size_t i = 1; i < flagged; i++) assert_true(score[rank[i - 1]] >= score[rank[i]]);
    const float *kl = assay_result_detector_scores(rm, ASSAY_DET_KNN_LABEL);
    assert_true(assay_result_detector_ran(rm, ASSAY_DET_KNN_LABEL));
    assert_true(kl[37] == assay_result_detector_score(rm, ASSAY_DET_KNN_LABEL, 37));
    assert_null(assay_result_detector_scores(rm, (assay_detector)99));
    size_t nf = assay_result_finding_count(rm), seen = 0;
    assert_true(nf >= flagged);
    for (size_t r = 0; r < N; r++) {
        size_t first, cnt = assay_result_row_findings(rm, r, &first);
        assert_true(cnt == 0 || flag[r] || cnt > 0);
        for (size_t i = first; i < first + cnt; i++) {
            assay_finding_info fi;
            assert_int_equal(assay_result_finding(rm, i, &fi), ASSAY_OK);
            assert_int_equal(fi.row, r);
            assert_non_null(fi.kind);
            assert_non_null(fi.reason);
            char why[512];
            assert_int_equal(assay_report_explain(mem, rm, i, why, sizeof why), ASSAY_OK);
            assert_true(strlen(why) > 10);
            assert_non_null(strstr(jm, why) != NULL ? jm : NULL); /* as report.json says it */
            char *ev = NULL;
            assert_int_equal(assay_report_evidence_json(ctx, mem, rm, i, &ev), ASSAY_OK);
            assert_true(ev[0] == '{');
            free(ev);
            seen++;
        }
    }
    assert_int_equal(seen, nf);
    assay_finding_info fi;
    assert_int_equal(assay_result_finding(rm, nf, &fi), ASSAY_E_INVAL);
    size_t nt = assay_result_test_count(rm);
    assert_true(nt > 0);
    for (size_t i = 0; i < nt; i++) {
        assay_test_info ti;
        assert_int_equal(assay_result_test(rm, i, &ti), ASSAY_OK);
        assert_non_null(ti.statistic);
        assert_non_null(strstr(jm, ti.detail));
    }
    assert_true(assay_result_reason_count(rm) > 0);
    assert_non_null(strstr(jm, assay_result_reason(rm, 0)));
    assert_null(assay_result_reason(rm, assay_result_reason_count(rm)));
    char *pol = NULL;
    assert_int_equal(assay_result_policy_json(ctx, rm, 0, &pol), ASSAY_OK);
    assert_string_equal(pol, "null"); /* no policy applied yet */
    free(pol);
    assay_policy *p = NULL;
    assert_int_equal(assay_policy_create(ctx, &p), ASSAY_OK);
    assert_int_equal(assay_policy_set_option(ctx, p, "fail-on", "critical", ASSAY_SRC_FLAG),
                     ASSAY_OK);
    assert_int_equal(assay_policy_apply(ctx, mem, rm, p, NULL), ASSAY_OK);
    assert_int_equal(assay_result_policy_json(ctx, rm, 1, &pol), ASSAY_OK);
    assert_contains(pol, "critical");
    free(pol);
    assay_policy_destroy(p);

    /* every format renders to memory; unknown names are refused with a suggestion */
    for (size_t i = 0; i < assay_report_format_count(); i++) {
        const char *opt;
        assert_true(assay_report_format_at(i, &opt, NULL));
        char *t = NULL;
        size_t len = 0;
        assert_int_equal(assay_report_text(ctx, mem, rm, opt, NULL, &t, &len), ASSAY_OK);
        assert_true(len > 0 && strlen(t) == len);
        free(t);
    }
    char *t = NULL;
    assert_int_equal(assay_report_text(ctx, mem, rm, "scores", NULL, &t, NULL), ASSAY_OK);
    assert_true(strncmp(t, "index,", 6) == 0);
    free(t);
    assert_int_equal(assay_report_text(ctx, mem, rm, "sarf", NULL, &t, NULL), ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "did you mean 'sarif'");
    free(jf);
    free(jm);
    assay_result_destroy(rf);
    assay_result_destroy(rm);
    assay_dataset_destroy(file);
    assay_dataset_destroy(mem);
}

/* assay_report_write with a format list writes those files and report.json, nothing else. */
static void test_write_selected_formats(void **state) {
    assay_ctx *ctx = *state;
    assay_arrays a = base_arrays();
    assay_dataset *ds = NULL;
    assay_result *res = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
    assert_int_equal(assay_scan(ctx, ds, NULL, &res), ASSAY_OK);
    char dir[1024], f[1200];
    tu_path(dir, sizeof dir, "mem_sel/sub");
    const char *formats[] = {"sarif", "scores.csv"};
    assay_report_opts ro = ASSAY_REPORT_OPTS_INIT;
    ro.formats = formats;
    ro.n_formats = 2;
    char parent[1024];
    tu_path(parent, sizeof parent, "mem_sel");
    (void)mkdir(parent, 0755);
    assert_int_equal(assay_report_write(ctx, ds, res, dir, &ro), ASSAY_OK);
    snprintf(f, sizeof f, "%s/report.sarif", dir);
    assert_int_equal(access(f, F_OK), 0);
    snprintf(f, sizeof f, "%s/scores.csv", dir);
    assert_int_equal(access(f, F_OK), 0);
    snprintf(f, sizeof f, "%s/report.json", dir);
    assert_int_equal(access(f, F_OK), 0);
    snprintf(f, sizeof f, "%s/junit.xml", dir);
    assert_int_equal(access(f, F_OK), -1);
    snprintf(f, sizeof f, "%s/report.html", dir);
    assert_int_equal(access(f, F_OK), -1);
    const char *bad[] = {"htlm"};
    ro.formats = bad;
    ro.n_formats = 1;
    assert_int_equal(assay_report_write(ctx, ds, res, dir, &ro), ASSAY_E_INVAL);
    assert_contains(assay_ctx_errmsg(ctx), "did you mean 'html'");
    assay_result_destroy(res);
    assay_dataset_destroy(ds);
}

/* ---- cancellation ---- */

typedef struct cancel_arg {
    assay_ctx *ctx;
    useconds_t after_us;
} cancel_arg;

static void *cancel_later(void *p) {
    cancel_arg *c = p;
    usleep(c->after_us);
    assay_ctx_cancel(c->ctx);
    return NULL;
}

/* n x d normal noise with labels i mod classes, as arrays (the buffers are the caller's). */
static assay_arrays noise_arrays(size_t n, size_t d, int64_t classes, uint64_t seed, float **x,
                                 int64_t **y) {
    *x = malloc(sizeof(float) * n * d);
    *y = malloc(sizeof(int64_t) * n);
    assert_true(*x && *y);
    for (size_t i = 0; i < n * d; i++) (*x)[i] = (float)tu_normal(&seed);
    for (size_t i = 0; i < n; i++) (*y)[i] = (int64_t)i % classes;
    assay_arrays a = ASSAY_ARRAYS_INIT;
    a.embeddings = (assay_array){*x, ASSAY_DTYPE_F32, n, d, 0, 0};
    a.labels = (assay_array){*y, ASSAY_DTYPE_I64, n, 1, 0, 0};
    return a;
}

/* A progress callback that cancels at the first tile of the graph and counts the detector
 * steps that still started: deterministic, no timing. */
typedef struct cancel_probe {
    assay_ctx *ctx;
    int knn_seen, detect_seen;
} cancel_probe;

static void cancel_at_knn(void *user, const char *stage, uint64_t done, uint64_t total) {
    (void)total;
    cancel_probe *p = user;
    if (strcmp(stage, "knn") == 0 && done > 0 && !p->knn_seen++) assay_ctx_cancel(p->ctx);
    if (strcmp(stage, "detect") == 0) p->detect_seen++;
}

static void test_cancel_from_progress(void **state) {
    (void)state;
    cancel_probe probe = {NULL, 0, 0};
    assay_ctx_opts o = ASSAY_CTX_OPTS_INIT;
    o.n_threads = 2;
    o.progress = cancel_at_knn;
    o.progress_user = &probe;
    assert_int_equal(assay_ctx_create(&probe.ctx, &o), ASSAY_OK);
    float *x;
    int64_t *y;
    assay_arrays a = noise_arrays(6000, 32, 4, 9, &x, &y);
    assay_dataset *ds = NULL;
    assay_result *res = NULL;
    assert_int_equal(assay_dataset_from_arrays(probe.ctx, &a, &ds), ASSAY_OK);
    assert_int_equal(assay_scan(probe.ctx, ds, NULL, &res), ASSAY_E_CANCELLED);
    assert_null(res);
    assert_true(probe.knn_seen >= 1);
    assert_int_equal(probe.detect_seen, 0); /* stopped in the graph: no detector ran */
    assay_dataset_destroy(ds);
    assay_ctx_destroy(probe.ctx);
    free(x);
    free(y);
}

static void test_cancel(void **state) {
    (void)state;
    assay_ctx *ctx = tu_ctx(2);
    assay_arrays a = base_arrays();
    assay_dataset *ds = NULL;
    assay_result *res = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
    /* requested before the call: the call stops at its first check, leaves nothing */
    assay_ctx_cancel(ctx);
    assert_true(assay_ctx_cancelled(ctx));
    assert_int_equal(assay_scan(ctx, ds, NULL, &res), ASSAY_E_CANCELLED);
    assert_null(res);
    assert_contains(assay_ctx_errmsg(ctx), "cancelled");
    assay_dataset *ds2 = NULL;
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds2), ASSAY_E_CANCELLED);
    assert_null(ds2);
    assert_int_equal(assay_ctx_cancel_reset(ctx), 1);
    assert_int_equal(assay_ctx_cancel_reset(ctx), 0);
    assert_int_equal(assay_scan(ctx, ds, NULL, &res), ASSAY_OK);
    assay_result_destroy(res);
    res = NULL;
    assay_dataset_destroy(ds);

    /* from another thread while a larger scan runs: it stops early */
    float *x;
    int64_t *y;
    a = noise_arrays(20000, 64, 5, 7, &x, &y);
    assert_int_equal(assay_dataset_from_arrays(ctx, &a, &ds), ASSAY_OK);
    pthread_t th;
    cancel_arg c = {ctx, 1000};
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
    assert_int_equal(assay_scan(ctx, ds, NULL, &res), ASSAY_E_CANCELLED);
    pthread_join(th, NULL);
    assert_null(res);
    assay_ctx_cancel_reset(ctx);
    assay_dataset_destroy(ds);
    free(x);
    free(y);
    assay_ctx_destroy(ctx);
}

int main(void) {
    make_data();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_digest_as_npy),
        cmocka_unit_test(test_dtypes_and_strides),
        cmocka_unit_test(test_nonfinite_rows_not_written),
        cmocka_unit_test(test_strings_and_errors),
        cmocka_unit_test(test_scan_and_accessors),
        cmocka_unit_test(test_write_selected_formats),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_from_progress),
    };
    return cmocka_run_group_tests(tests, tu_setup_ctx, tu_teardown_ctx);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* A user's program against an installed libassay (tests/install/check_install.sh builds it with
 * pkg-config and with the CMake package, shared and static): scans a small CSV file with two
 * conflicting copies planted in it, as docs/library.md's example does, through the public
 * API only. Usage: consumer WORKDIR. Exit 0 when the scan finds the copies and fails the gate. */
#include <stdio.h>
#include <stdlib.h>

#include <assay/assay.h>

static int fail(assay_ctx *ctx, const char *what, assay_status s) {
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, assay_status_str(s),
            ctx ? assay_ctx_errmsg(ctx) : "");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: consumer WORKDIR\n");
        return 2;
    }
    char csv[4096], out[4096];
    snprintf(csv, sizeof csv, "%s/consumer.csv", argv[1]);
    snprintf(out, sizeof out, "%s/consumer-report", argv[1]);
    FILE *fp = fopen(csv, "w");
    if (fp == NULL) return 2;
    fprintf(fp, "id,f0,f1,f2,label\n");
    unsigned s = 12345u;
    for (int r = 0; r < 200; r++) { /* two classes around (0,0,4) and (4,0,0) */
        double v[3];
        for (int j = 0; j < 3; j++) {
            s = s * 1103515245u + 12345u;
            v[j] = (double)(s >> 8 & 0xffff) / 65536.0 - 0.5;
        }
        int c = r % 2;
        fprintf(fp, "r%d,%.6f,%.6f,%.6f,%s\n", r, v[0] + 4.0 * c, v[1], v[2] + 4.0 * (1 - c),
                c ? "cat" : "dog");
    }
    fprintf(fp, "copy,1.000000,2.000000,3.000000,cat\ncopy2,1.000000,2.000000,3.000000,dog\n");
    fclose(fp);

    assay_ctx *ctx = NULL;
    assay_status st = assay_ctx_create(&ctx, NULL);
    if (st != ASSAY_OK) return fail(NULL, "context", st);
    assay_dataset *ds = NULL;
    assay_result *res = NULL;
    int rc = 1;
    if ((st = assay_dataset_load(ctx, csv, NULL, &ds)) != ASSAY_OK) {
        rc = fail(ctx, "load", st);
    } else if ((st = assay_scan(ctx, ds, NULL, &res)) != ASSAY_OK) {
        rc = fail(ctx, "scan", st);
    } else if ((st = assay_report_prepare_dir(ctx, out)) != ASSAY_OK ||
               (st = assay_report_write(ctx, ds, res, out, NULL)) != ASSAY_OK) {
        rc = fail(ctx, "report", st);
    } else {
        size_t n = assay_dataset_rows(ds);
        /* the conflicting pair: the copy whose label is foreign there (or both) flagged high */
        int copies = assay_result_row_severity(res, n - 2) >= ASSAY_SEV_HIGH ||
                     assay_result_row_severity(res, n - 1) >= ASSAY_SEV_HIGH;
        printf("assay %s: %zu rows, %zu flagged, conflicting copies %s, gate %s\n", assay_version(),
               n, assay_result_flagged_count(res), copies ? "found" : "missed",
               assay_result_gate_passed(res) ? "passed" : "failed");
        rc = copies && !assay_result_gate_passed(res) ? 0 : 1;
    }
    assay_result_destroy(res);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    return rc;
}

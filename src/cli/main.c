/* SPDX-License-Identifier: Apache-2.0 */
/* The assay command-line tool. The only part of the project that prints: a short summary on
 * stdout, progress and errors on stderr, and the exit codes of cli.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/dispatch.h"

static int exit_for(assay_status s) {
    if (s == ASSAY_OK) return CLI_EXIT_PASS;
    return assay_status_is_input_error(s) ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
}

static int report_error(cli_progress *p, assay_ctx *ctx, assay_status s, const char *what) {
    if (p != NULL) cli_progress_end(p);
    const char *msg = ctx ? assay_ctx_errmsg(ctx) : "";
    fprintf(stderr, "assay: error: %s: %s\n", what, msg[0] ? msg : assay_status_str(s));
    return exit_for(s);
}

static int cmd_info(void) {
    assay_ctx *ctx = NULL;
    assay_status s = assay_ctx_create(&ctx, NULL);
    if (s != ASSAY_OK) {
        fprintf(stderr, "assay: error: %s (check ASSAY_ISA)\n", assay_status_str(s));
        return exit_for(s);
    }
    printf("assay %s\n", assay_version());
    printf("cpu features:  %s\n", assay__cpu_feature_names());
    printf("kernels built: ");
    for (int i = 0; i < ASSAY_ISA_COUNT; i++)
        if (assay__kernels_for((assay_isa)i) != NULL) printf("%s ", assay_isa_name((assay_isa)i));
    printf("\nkernels used:  %s%s\n", assay_isa_name(assay_ctx_isa(ctx)),
           getenv("ASSAY_ISA") ? " (ASSAY_ISA set)" : "");
    printf("threads:       %d\n", assay_ctx_threads(ctx));
    printf("blas:          %s\n", assay_blas_info());
    assay_ctx_destroy(ctx);
    return CLI_EXIT_PASS;
}

static int cmd_scan(const cli_opts *o, int argc, char **argv) {
    cli_progress prog;
    cli_progress_init(&prog, o->quiet);
    assay_ctx_opts copts = ASSAY_CTX_OPTS_INIT;
    copts.n_threads = o->threads;
    copts.progress = cli_progress_cb;
    copts.progress_user = &prog;
    assay_ctx *ctx = NULL;
    assay_status s = assay_ctx_create(&ctx, &copts);
    if (s != ASSAY_OK) {
        fprintf(stderr, "assay: error: cannot start: %s%s\n", assay_status_str(s),
                s == ASSAY_E_INVAL ? " (ASSAY_ISA names no instruction set)" : "");
        return exit_for(s);
    }
    assay_dataset *ds = NULL;
    assay_result *res = NULL;
    int code;
    /* Fail fast on an unusable output folder, before minutes of work. */
    if ((s = assay_report_prepare_dir(ctx, o->out_dir)) != ASSAY_OK) {
        code = report_error(&prog, ctx, s, "output folder");
        goto out;
    }
    if ((s = assay_dataset_load(ctx, o->input, &o->load, &ds)) != ASSAY_OK) {
        code = report_error(&prog, ctx, s, "cannot load the dataset");
        goto out;
    }
    if ((s = assay_scan(ctx, ds, &o->scan, &res)) != ASSAY_OK) {
        code = report_error(&prog, ctx, s, "scan failed");
        goto out;
    }
    if (o->truth != NULL && (s = assay_result_evaluate(ctx, res, o->truth)) != ASSAY_OK) {
        code = report_error(&prog, ctx, s, "cannot evaluate against the truth file");
        goto out;
    }
    assay_report_opts ropts = ASSAY_REPORT_OPTS_INIT;
    ropts.argc = argc;
    ropts.argv = (const char *const *)argv;
    ropts.input_source = o->source;
    if ((s = assay_report_write(ctx, ds, res, o->out_dir, &ropts)) != ASSAY_OK) {
        code = report_error(&prog, ctx, s, "cannot write the reports");
        goto out;
    }
    cli_progress_end(&prog);
    assay_report_summary(ds, res, o->out_dir, stdout);
    fflush(stdout);
    code = assay_result_gate_passed(res) ? CLI_EXIT_PASS : CLI_EXIT_FAIL;
out:
    assay_result_destroy(res);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    return code;
}

int main(int argc, char **argv) {
    cli_opts o;
    char err[512];
    int rc = cli_parse(argc, argv, &o, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "assay: error: %s\n", err);
        fprintf(stderr, "Try 'assay --help' or 'assay scan --help'.\n");
        return rc;
    }
    switch (o.cmd) {
    case CMD_HELP:
        cli_print_usage(stdout);
        return CLI_EXIT_PASS;
    case CMD_VERSION:
        printf("assay %s\n", assay_version());
        return CLI_EXIT_PASS;
    case CMD_INFO:
        return cmd_info();
    case CMD_SCAN:
        if (o.help) {
            cli_print_scan_help(stdout);
            return CLI_EXIT_PASS;
        }
        return cmd_scan(&o, argc, argv);
    }
    return CLI_EXIT_INTERNAL;
}

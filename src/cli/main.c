/* SPDX-License-Identifier: Apache-2.0 */
/* The assay command-line tool. The only part of the project that prints: a short summary on
 * stdout, progress and errors on stderr, and the exit codes of cli.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/dispatch.h"
#include "core/internal.h"

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
        if (assay__isa_built((assay_isa)i)) printf("%s ", assay_isa_name((assay_isa)i));
    printf("\ncpu runs:      ");
    for (int i = 0; i < ASSAY_ISA_COUNT; i++)
        if (assay_isa_supported((assay_isa)i)) printf("%s ", assay_isa_name((assay_isa)i));
    const char *env = getenv("ASSAY_ISA");
    printf("\nkernels used:  %s (%s%s)\n", assay_isa_name(assay_ctx_isa(ctx)),
           env && env[0] ? "lowered by ASSAY_ISA=" : "the best this CPU runs",
           env && env[0] ? env : "");
    printf("threads:       %d\n", assay_ctx_threads(ctx));
    printf("blas:          %s\n", assay_blas_info());
    printf("blas threads:  %d (set to 1 inside the graph, whose tasks run on assay's threads)\n",
           assay__blas_get_threads());
    assay_ctx_destroy(ctx);
    return CLI_EXIT_PASS;
}

/* The context of a scan or knn run, reporting progress to `prog`; NULL after printing why. */
static assay_ctx *start_ctx(const cli_opts *o, cli_progress *prog, assay_status *s) {
    cli_progress_init(prog, o->quiet);
    assay_ctx_opts copts = ASSAY_CTX_OPTS_INIT;
    copts.n_threads = o->threads;
    copts.progress = cli_progress_cb;
    copts.progress_user = prog;
    assay_ctx *ctx = NULL;
    *s = assay_ctx_create(&ctx, &copts);
    if (*s != ASSAY_OK)
        fprintf(stderr, "assay: error: cannot start: %s%s\n", assay_status_str(*s),
                *s == ASSAY_E_INVAL ? " (ASSAY_ISA names no instruction set)" : "");
    return ctx;
}

static int cmd_scan(const cli_opts *o, int argc, char **argv) {
    cli_progress prog;
    assay_status s;
    assay_ctx *ctx = start_ctx(o, &prog, &s);
    if (ctx == NULL) return exit_for(s);
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

/* assay knn: load as scan does, build the graph, write it atomically. */
static int cmd_knn(const cli_opts *o) {
    cli_progress prog;
    assay_status s;
    assay_ctx *ctx = start_ctx(o, &prog, &s);
    if (ctx == NULL) return exit_for(s);
    assay_dataset *ds = NULL;
    int code;
    if ((s = assay_dataset_load(ctx, o->input, &o->load, &ds)) != ASSAY_OK) {
        code = report_error(&prog, ctx, s, "cannot load the dataset");
        goto out;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((s = assay_graph_write(ctx, ds, &o->scan, o->out_file)) != ASSAY_OK) {
        code = report_error(&prog, ctx, s, "cannot write the neighbour graph");
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cli_progress_end(&prog);
    char digest[65];
    assay_dataset_digest_hex(ds, digest, sizeof digest);
    printf("assay %s: %s (%s), %zu rows x %zu dims\n", assay_version(), o->input,
           assay_format_name(assay_dataset_format(ds)), assay_dataset_rows(ds),
           assay_dataset_dims(ds));
    printf("  neighbour graph: k=%u, %s, %.2f s on %d thread%s\n", o->scan.k,
           assay_metric_name(o->scan.metric),
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
           assay_ctx_threads(ctx), assay_ctx_threads(ctx) == 1 ? "" : "s");
    printf("  wrote %s (dataset sha256 %s)\n", o->out_file, digest);
    printf("  reuse it: assay scan %s --graph %s -k %u --metric %s\n", o->input, o->out_file,
           o->scan.k, assay_metric_name(o->scan.metric));
    fflush(stdout);
    code = CLI_EXIT_PASS;
out:
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
    case CMD_KNN:
        if (o.help) {
            cli_print_knn_help(stdout);
            return CLI_EXIT_PASS;
        }
        return cmd_knn(&o);
    }
    return CLI_EXIT_INTERNAL;
}

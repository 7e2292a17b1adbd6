/* SPDX-License-Identifier: Apache-2.0 */
/* The assay command-line tool. The only part of the project that prints: a short summary on
 * stdout, progress and errors on stderr, and the exit codes of cli.h. */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* SIGINT, SIGTERM, SIGHUP: remove every temporary file and staging folder, exit 128 + the signal
 * (130, 143, 129) with the previous report set in place. Only async-signal-safe calls: write,
 * unlink, rmdir, _exit (the library's assay_output_interrupt undoes a report set being swapped
 * in first). Exiting from the handler, rather than setting a flag, stops a long neighbour-graph
 * build at once. Once the new set is committed the scan has done its work: the first signal
 * after that is noted and the command finishes with its own exit code (what is left is the
 * summary), so 129/130/143 always mean "the previous set"; a second one exits at once. */
static void on_signal(int sig) {
    static const char msg_int[] = "assay: interrupted (SIGINT); temporary files removed\n",
                      msg_term[] = "assay: interrupted (SIGTERM); temporary files removed\n",
                      msg_hup[] = "assay: interrupted (SIGHUP); temporary files removed\n",
                      msg_late[] = "assay: signal after the reports were committed: finishing "
                                   "(send it again to stop at once)\n";
    static volatile sig_atomic_t late;
    if (assay_output_committed() > 0 && !late) {
        late = 1;
        ssize_t w = write(STDERR_FILENO, msg_late, sizeof msg_late - 1);
        (void)w;
        return;
    }
    const char *m = sig == SIGINT ? msg_int : sig == SIGTERM ? msg_term : msg_hup;
    size_t len = sig == SIGINT ? sizeof msg_int : sig == SIGTERM ? sizeof msg_term : sizeof msg_hup;
    cli_summary_cleanup();
    ssize_t w = write(STDERR_FILENO, m, len - 1);
    (void)w;
    assay_output_interrupt(128 + sig);
}

static void install_signal_handlers(void) {
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < 3; i++) sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < 3; i++) {
        struct sigaction old;
        /* a signal ignored by whoever started us (nohup, a background job) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
    /* A file-size limit (ulimit -f) then makes a write fail with EFBIG, reported as a resource
     * error (exit 3) naming the file, instead of killing the process with a core dump. */
    signal(SIGXFSZ, SIG_IGN);
}

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
    printf("cpu features:  %s\n", assay_cpu_features());
    printf("kernels built: ");
    for (int i = 0; i < ASSAY_ISA_COUNT; i++)
        if (assay_isa_built((assay_isa)i)) printf("%s ", assay_isa_name((assay_isa)i));
    printf("\ncpu runs:      ");
    for (int i = 0; i < ASSAY_ISA_COUNT; i++)
        if (assay_isa_supported((assay_isa)i)) printf("%s ", assay_isa_name((assay_isa)i));
    const char *env = getenv("ASSAY_ISA");
    printf("\nkernels used:  %s (%s%s)\n", assay_isa_name(assay_ctx_isa(ctx)),
           env && env[0] ? "lowered by ASSAY_ISA=" : "the best this CPU runs",
           env && env[0] ? env : "");
    const char *penv = getenv("ASSAY_PRECISION");
    assay_precision pass = assay_ctx_candidate_precision(ctx);
    if (penv && penv[0])
        printf("graph pass:    %s candidates, re-ranked exactly (forced by ASSAY_PRECISION=%s)\n",
               assay_precision_name(pass), penv);
    else if (pass == ASSAY_PRECISION_FP32)
        printf("graph pass:    fp32 candidates, re-ranked exactly\n");
    else
        printf("graph pass:    %s candidates for rows wider than 256 values (from 8192 rows) "
               "when a pilot certifies 95%% of them, else fp32; re-ranked exactly (--precision "
               "auto)\n",
               assay_precision_name(pass));
    printf("threads:       %d\n", assay_ctx_threads(ctx));
    printf("blas:          %s\n", assay_blas_info());
    printf("blas threads:  %d (set to 1 inside the graph, whose tasks run on assay's threads)\n",
           assay_blas_threads());
    assay_ctx_destroy(ctx);
    return CLI_EXIT_PASS;
}

/* Where --memory-limit keeps its scratch files: the output's folder, or its nearest existing
 * parent when it is not created yet, so they sit on the disk the user chose for the results. */
static void scratch_dir(const cli_opts *o, char *buf, size_t len) {
    const char *out = o->out_file != NULL ? o->out_file : o->out_dir;
    snprintf(buf, len, "%s", out != NULL && out[0] != '\0' ? out : ".");
    struct stat st;
    int is_file = o->out_file != NULL;
    for (;;) {
        if (!is_file && stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) return;
        is_file = 0;
        char *slash = strrchr(buf, '/');
        if (slash == NULL) {
            snprintf(buf, len, ".");
            return;
        }
        if (slash == buf) {
            buf[1] = '\0'; /* "/" */
            return;
        }
        *slash = '\0';
    }
}

/* With --memory-limit, a note on stderr when the peak went more than a tenth above the limit:
 * the process's own memory (graph lists, the detectors' arrays) did not fit, or pages were
 * mapped faster than they were given back (docs/memory.md). */
static void note_memory_limit(const cli_opts *o) {
    struct rusage self, kids;
    if (o->memory_limit == 0 || o->quiet || getrusage(RUSAGE_SELF, &self) != 0 ||
        getrusage(RUSAGE_CHILDREN, &kids) != 0)
        return;
    double peak = (double)(self.ru_maxrss > kids.ru_maxrss ? self.ru_maxrss : kids.ru_maxrss);
    double limit = (double)o->memory_limit / 1024.0; /* ru_maxrss is in KiB */
    if (peak > 1.1 * limit)
        fprintf(stderr,
                "assay: note: peak resident memory %.0f MiB, above --memory-limit %.0f MiB: "
                "what is not the matrix needs more here (docs/memory.md)\n",
                peak / 1024.0, limit / 1024.0);
}

/* The context of a scan or knn run, reporting progress to `prog`; NULL after printing why. */
static assay_ctx *start_ctx(const cli_opts *o, cli_progress *prog, assay_status *s) {
    /* under mpirun: progress from rank 0 only, and the machine's cores shared by its ranks */
    int rank = cli_mpi_env_rank(), local = cli_mpi_env_local_size();
    cli_progress_init(prog, o->quiet || rank > 0, rank > 0 ? 0 : o->progress);
    assay_ctx_opts copts = ASSAY_CTX_OPTS_INIT;
    copts.n_threads = o->threads;
    if (copts.n_threads == 0 && local > 1) {
        int cpus = cli_online_cpus();
        copts.n_threads = cpus > local ? cpus / local : 1;
    }
    copts.precision = o->precision;
    copts.progress = cli_progress_cb;
    copts.progress_user = prog;
    assay_ctx *ctx = NULL;
    *s = assay_ctx_create(&ctx, &copts);
    if (*s == ASSAY_OK && o->no_sandbox) {
        assay_limits l = *assay_ctx_limits(ctx);
        l.no_sandbox = 1;
        *s = assay_ctx_set_limits(ctx, &l);
    }
    if (*s == ASSAY_OK && o->memory_limit != 0) {
        char dir[PATH_MAX];
        scratch_dir(o, dir, sizeof dir);
        *s = assay_ctx_set_memory_limit(ctx, o->memory_limit, dir);
    }
    if (*s != ASSAY_OK)
        fprintf(stderr, "assay: error: cannot start: %s%s\n", assay_status_str(*s),
                *s == ASSAY_E_INVAL ? " (ASSAY_ISA names no instruction set)" : "");
    return ctx;
}

/* report_error, and with --json-summary the error summary as stdout's last line. */
static int run_error(const cli_opts *o, cli_progress *p, assay_ctx *ctx, assay_status s,
                     const char *what) {
    int code = report_error(p, ctx, s, what);
    if (o->json_summary) {
        char msg[1024];
        const char *detail = ctx ? assay_ctx_errmsg(ctx) : "";
        snprintf(msg, sizeof msg, "%s: %s", what, detail[0] ? detail : assay_status_str(s));
        char *line = cli_summary_json_error(code, msg);
        cli_summary_emit(line, o->json_summary_file);
        free(line);
    }
    return code;
}

/* The human summary (unless --quiet), then the --json-summary line the library built from
 * report.json's document, so it says exactly what the report says. Returns nonzero when the
 * summary file cannot be written. */
static int print_scan_summaries(const cli_opts *o, const assay_dataset *ds, const assay_result *res,
                                const char *line) {
    if (!o->quiet) {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (mem != NULL) {
            assay_report_summary(ds, res, o->out_dir, mem);
            if (fclose(mem) == 0) cli_print_summary(text, cli_use_color(stdout), stdout);
            free(text);
        } else {
            assay_report_summary(ds, res, o->out_dir, stdout);
        }
        fflush(stdout);
    }
    if (!o->json_summary) return 0;
    return cli_summary_emit(line, o->json_summary_file);
}

/* merge's PART arguments as files: a folder stands for its shard-*-of-*.h5 files, in name
 * order (one glob per folder, kept until free_parts). */
typedef struct cli_parts {
    const char **paths;
    size_t n;
    glob_t *globs;
    size_t n_globs;
} cli_parts;

static void free_parts(cli_parts *p) {
    for (size_t i = 0; i < p->n_globs; i++) globfree(&p->globs[i]);
    free(p->globs);
    free(p->paths);
}

static int expand_parts(const cli_opts *o, cli_parts *p) {
    memset(p, 0, sizeof *p);
    size_t cap = o->n_merge_parts;
    p->paths = malloc(cap * sizeof *p->paths);
    p->globs = calloc(o->n_merge_parts, sizeof *p->globs);
    if (p->paths == NULL || p->globs == NULL) {
        fprintf(stderr, "assay: error: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    for (size_t i = 0; i < o->n_merge_parts; i++) {
        const char *a = o->merge_parts[i];
        struct stat st;
        if (stat(a, &st) != 0 || !S_ISDIR(st.st_mode)) {
            p->paths[p->n++] = a; /* a file; a missing one is named by the library */
            continue;
        }
        char pattern[4200];
        snprintf(pattern, sizeof pattern, "%s/shard-*-of-*.h5", a);
        glob_t *g = &p->globs[p->n_globs];
        int rc = glob(pattern, 0, NULL, g);
        if (rc == 0) p->n_globs++;
        if (rc == GLOB_NOSPACE) {
            fprintf(stderr, "assay: error: out of memory listing %s\n", a);
            return CLI_EXIT_INTERNAL;
        }
        if (rc != 0) {
            fprintf(stderr,
                    "assay: error: merge: %s: a folder with no shard files (shard-*-of-*.h5, as "
                    "'assay scan --shard I/N --out %s' writes them)\n",
                    a, a);
            return CLI_EXIT_USAGE;
        }
        const char **grown = realloc(p->paths, (cap += g->gl_pathc) * sizeof *p->paths);
        if (grown == NULL) {
            fprintf(stderr, "assay: error: out of memory\n");
            return CLI_EXIT_INTERNAL;
        }
        p->paths = grown;
        for (size_t k = 0; k < g->gl_pathc; k++) p->paths[p->n++] = g->gl_pathv[k];
    }
    return 0;
}

/* mkdir -p: the folder a shard file goes to. */
static int make_dirs(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return ENAMETOOLONG;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) return errno;
        if (stat(path, &st) != 0) return errno;
        if (!S_ISDIR(st.st_mode)) return ENOTDIR;
        *p = c;
        if (c == '\0') return 0;
    }
}

static int cmd_graph_file(const cli_opts *o);

static int cmd_scan(const cli_opts *o, int argc, char **argv) {
    if (o->shard_count > 0) return cmd_graph_file(o);
    cli_progress prog;
    assay_status s;
    assay_ctx *ctx = start_ctx(o, &prog, &s);
    if (ctx == NULL) return exit_for(s);
    assay_dataset *ds = NULL, *trusted = NULL;
    assay_result *res = NULL;
    char *summary = NULL;
    int code;
    cli_parts parts;
    memset(&parts, 0, sizeof parts);
    /* The policy first: a bad policy file is a usage error before any work. */
    assay_policy *policy = NULL;
    assay_scan_opts scan = o->scan;
    if ((s = cli_resolve_policy(o, ctx, &policy, &scan)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "policy");
        goto out;
    }
    if (o->cmd == CMD_MERGE) { /* the graph from the shards, then the scan as usual */
        if ((code = expand_parts(o, &parts)) != 0) {
            cli_progress_end(&prog);
            goto out;
        }
        scan.graph_parts = parts.paths;
        scan.n_graph_parts = parts.n;
    }
    /* Fail fast on an unusable output path, before minutes of work and before the report
     * folder is touched (it is created only when the reports are written). */
    if (o->json_summary_file != NULL && (code = cli_summary_check(o->json_summary_file)) != 0) {
        cli_progress_end(&prog);
        if (o->json_summary) {
            char *line = cli_summary_json_error(code, "--json-summary: the file cannot be written");
            cli_summary_emit(line, NULL);
            free(line);
        }
        goto out;
    }
    if ((s = assay_report_prepare_dir(ctx, o->out_dir)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "output folder");
        goto out;
    }
    if ((s = assay_dataset_load(ctx, o->input, &o->load, &ds)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "cannot load the dataset");
        goto out;
    }
    if (o->trusted_data != NULL) {
        /* read like the input, with its own labels file (if any) and no ids or probabilities */
        assay_load_opts tl = o->load;
        tl.format = ASSAY_FORMAT_AUTO;
        tl.labels_file = o->trusted_labels;
        tl.ids_file = NULL;
        tl.pred_probs_file = NULL;
        tl.h5_ids = NULL;
        tl.h5_pred_probs = NULL;
        if ((s = assay_dataset_load(ctx, o->trusted_data, &tl, &trusted)) != ASSAY_OK) {
            code = run_error(o, &prog, ctx, s, "cannot load the trusted data");
            goto out;
        }
        scan.trusted_data = trusted;
    }
    if ((code = cli_mpi_begin(ctx, o->threads > 0)) != 0) goto out;
    if ((s = assay_scan(ctx, ds, &scan, &res)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "scan failed");
        goto out;
    }
    if (res == NULL) { /* an MPI rank other than 0: its share of the graph is with rank 0 */
        cli_progress_end(&prog);
        code = CLI_EXIT_PASS;
        goto out;
    }
    if (o->truth != NULL && (s = assay_result_evaluate(ctx, res, o->truth)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "cannot evaluate against the truth file");
        goto out;
    }
    if ((s = assay_policy_apply(ctx, ds, res, policy, NULL)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "cannot apply the policy");
        goto out;
    }
    assay_report_opts ropts = ASSAY_REPORT_OPTS_INIT;
    ropts.argc = argc;
    ropts.argv = (const char *const *)argv;
    ropts.input_source = o->source;
    ropts.n_environment = (int)o->n_env_args;
    ropts.environment = o->env_args;
    ropts.summary_json = o->json_summary ? &summary : NULL;
    if ((s = assay_report_write(ctx, ds, res, o->out_dir, &ropts)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "cannot write the reports");
        goto out;
    }
    cli_progress_end(&prog);
    code = assay_result_exit_code(res); /* the verdict's code; 0 with --exit-zero */
    int summary_code = print_scan_summaries(o, ds, res, summary);
    if (summary_code != 0) code = summary_code;
    note_memory_limit(o);
out:
    free_parts(&parts);
    assay_policy_destroy(policy);
    free(summary);
    assay_result_destroy(res);
    assay_dataset_destroy(trusted);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    return cli_mpi_end(code);
}

/* The summary line of a shard, rows [r0, r1), for --json-summary. */
static int shard_summary(const cli_opts *o, const char *path, const char *digest, size_t r0,
                         size_t r1) {
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:I, s:I, s:I, s:I}, s:s, s:s}", "tool",
                          "assay", "version", assay_version(), "command", "scan", "status", "shard",
                          "exit_code", CLI_EXIT_PASS, "shard", "index", (json_int_t)o->shard_index,
                          "count", (json_int_t)o->shard_count, "row_begin", (json_int_t)r0,
                          "row_end", (json_int_t)r1, "dataset_sha256", digest, "file", path);
    char *line = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    int code = line == NULL || cli_summary_emit(line, o->json_summary_file) != 0 ? CLI_EXIT_INTERNAL
                                                                                 : CLI_EXIT_PASS;
    free(line);
    return code;
}

/* assay knn, and assay scan --shard I/N: load as scan does, build the graph (a shard: the lists
 * of its rows, into OUT/shard-I-of-N.h5 for assay merge), write it atomically. */
static int cmd_graph_file(const cli_opts *o) {
    cli_progress prog;
    assay_status s;
    assay_ctx *ctx = start_ctx(o, &prog, &s);
    if (ctx == NULL) return exit_for(s);
    assay_dataset *ds = NULL;
    const int shard = o->shard_count > 0;
    int code;
    char path[4200];
    snprintf(path, sizeof path, "%s", o->out_file ? o->out_file : "");
    if (shard)
        snprintf(path, sizeof path, "%s/shard-%0*zu-of-%zu.h5", o->out_dir,
                 snprintf(NULL, 0, "%zu", o->shard_count - 1), o->shard_index, o->shard_count);
    /* k and metric may come from the policy file or ASSAY_K/ASSAY_METRIC, as for scan */
    assay_policy *policy = NULL;
    assay_scan_opts scan = o->scan;
    if ((s = cli_resolve_policy(o, ctx, &policy, &scan)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "policy");
        goto out;
    }
    int e = shard ? make_dirs(o->out_dir) : 0;
    if (shard && (scan.graph_path != NULL || e != 0)) {
        cli_progress_end(&prog);
        if (e == 0)
            fprintf(stderr, "assay: error: --shard computes neighbour lists and --graph reuses "
                            "a graph: give one of them\n");
        else
            fprintf(stderr, "assay: error: %s: cannot create the folder: %s\n", o->out_dir,
                    strerror(e));
        code = e == ENOSPC || e == EDQUOT ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
        goto out;
    }
    if ((s = assay_dataset_load(ctx, o->input, &o->load, &ds)) != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s, "cannot load the dataset");
        goto out;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    s = shard ? assay_graph_write_shard(ctx, ds, &scan, o->shard_index, o->shard_count, path)
              : assay_graph_write(ctx, ds, &scan, path);
    if (s != ASSAY_OK) {
        code = run_error(o, &prog, ctx, s,
                         shard ? "cannot write the shard" : "cannot write the neighbour graph");
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cli_progress_end(&prog);
    code = CLI_EXIT_PASS;
    char digest[65];
    assay_dataset_digest_hex(ds, digest, sizeof digest);
    size_t n = assay_dataset_rows(ds);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    int threads = assay_ctx_threads(ctx);
    /* the shard's rows, as the library splits them (assay_graph_write_shard) */
    size_t r0 = (size_t)((unsigned __int128)o->shard_index * n / (shard ? o->shard_count : 1)),
           r1 =
               (size_t)((unsigned __int128)(o->shard_index + 1) * n / (shard ? o->shard_count : 1));
    if (!o->quiet) {
        printf("assay %s: %s (%s), %zu rows x %zu dims\n", assay_version(), o->input,
               assay_format_name(assay_dataset_format(ds)), n, assay_dataset_dims(ds));
        if (shard)
            printf("  shard %zu of %zu: neighbour lists of rows %zu to %zu, %.2f s on %d "
                   "thread%s\n",
                   o->shard_index, o->shard_count, r0, r1 - 1, secs, threads,
                   threads == 1 ? "" : "s");
        else
            printf("  neighbour graph: k=%u, %s, %.2f s on %d thread%s\n", scan.k,
                   assay_metric_name(scan.metric), secs, threads, threads == 1 ? "" : "s");
        printf("  wrote %s (dataset sha256 %s)\n", path, digest);
        if (shard)
            printf("  when all %zu shards are written: assay merge %s %s [the scan's options]\n",
                   o->shard_count, o->input, o->out_dir);
        else
            printf("  reuse it: assay scan %s --graph %s -k %u --metric %s\n", o->input, path,
                   scan.k, assay_metric_name(scan.metric));
        fflush(stdout);
    }
    if (shard && o->json_summary) code = shard_summary(o, path, digest, r0, r1);
out:
    assay_policy_destroy(policy);
    assay_dataset_destroy(ds);
    assay_ctx_destroy(ctx);
    return code;
}

/* assay report render: formats again from a saved report.json. */
static int cmd_render(const cli_opts *o) {
    cli_progress prog;
    assay_status s;
    assay_ctx *ctx = start_ctx(o, &prog, &s);
    if (ctx == NULL) return exit_for(s);
    s = assay_report_render(ctx, o->report, o->out_dir, o->render_formats, o->n_render_formats);
    int code = s == ASSAY_OK ? CLI_EXIT_PASS : report_error(&prog, ctx, s, "report render");
    cli_progress_end(&prog);
    assay_ctx_destroy(ctx);
    return code;
}

/* assay diff: two manifests compared without rescanning (docs/pipelines.md, "Scheduled scans").
 * Exit 0 when no row changed, 1 when rows changed (tampering) or the ids changed wholesale (rows
 * cannot be matched), 2 on a bad manifest. */
static int cmd_diff(const cli_opts *o) {
    assay_ctx *ctx = NULL;
    assay_status s = assay_ctx_create(&ctx, NULL);
    if (s != ASSAY_OK) return report_error(NULL, NULL, s, "cannot start");
    assay_diff *d = NULL;
    int code;
    /* the output folder checked first (not created: that waits until the manifests loaded) */
    if (o->out_dir != NULL && (s = assay_report_prepare_dir(ctx, o->out_dir)) != ASSAY_OK) {
        code = run_error(o, NULL, ctx, s, "cannot write diff.json");
        goto out;
    }
    if ((s = assay_diff_manifests(ctx, o->diff_old, o->diff_new, &d)) != ASSAY_OK) {
        code = run_error(o, NULL, ctx, s, "cannot compare the manifests");
        goto out;
    }
    code = assay_diff_changed(d) > 0 || assay_diff_ids_changed_wholesale(d) ? CLI_EXIT_FAIL
                                                                            : CLI_EXIT_PASS;
    if (o->out_dir != NULL && (s = assay_diff_write(ctx, d, o->out_dir, code)) != ASSAY_OK) {
        code = run_error(o, NULL, ctx, s, "cannot write diff.json");
        goto out;
    }
    if (!o->quiet) {
        assay_diff_summary(d, stdout);
        if (o->out_dir != NULL) printf("  wrote %s/diff.json\n", o->out_dir);
        fflush(stdout);
    }
    if (o->json_summary) {
        char path[4200];
        snprintf(path, sizeof path, "%s/diff.json", o->out_dir ? o->out_dir : "");
        double p = assay_diff_class_shift_p(d);
        json_t *j = json_pack(
            "{s:s, s:s, s:s, s:s, s:i, s:s, s:b, s:I, s:I, s:I, s:I, s:o, s:o}", "tool", "assay",
            "version", assay_version(), "command", "diff", "status",
            code == CLI_EXIT_PASS ? "pass" : "fail", "exit_code", code, "matched_by",
            assay_diff_matched_by(d), "ids_changed_wholesale", assay_diff_ids_changed_wholesale(d),
            "added", (json_int_t)assay_diff_added(d), "removed", (json_int_t)assay_diff_removed(d),
            "changed", (json_int_t)assay_diff_changed(d), "relabelled",
            (json_int_t)assay_diff_relabelled(d), "class_shift_p",
            isfinite(p) ? json_real(p) : json_null(), "diff",
            o->out_dir ? json_string(path) : json_null());
        char *line =
            j ? assay_json_shortest_reals(json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII)) : NULL;
        json_decref(j);
        if (line == NULL || cli_summary_emit(line, NULL) != 0) code = CLI_EXIT_INTERNAL;
        free(line);
    }
out:
    assay_diff_destroy(d);
    assay_ctx_destroy(ctx);
    return code;
}

int main(int argc, char **argv) {
    cli_opts o;
    char err[512];
    /* getopt_long permutes the array it parses: parse a copy (kept for the life of the
     * process), so report.json records the command exactly as typed. */
    static char **parsed_args;
    parsed_args = malloc(((size_t)argc + 1) * sizeof *parsed_args);
    if (parsed_args == NULL) {
        fprintf(stderr, "assay: error: out of memory\n");
        return CLI_EXIT_INTERNAL;
    }
    memcpy(parsed_args, argv, ((size_t)argc + 1) * sizeof *parsed_args);
    int rc = cli_parse(argc, parsed_args, &o, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "assay: error: %s\n", err);
        fprintf(stderr, "Try 'assay --help' or 'assay scan --help'.\n");
        return rc;
    }
    if (o.help) { /* COMMAND --help */
        cli_print_help(o.cmd, stdout);
        return CLI_EXIT_PASS;
    }
    install_signal_handlers();
    if (cli_mpi_env_size() > 1 && o.cmd != CMD_HELP && o.cmd != CMD_COMPLETION &&
        o.cmd != CMD_VERSION && o.cmd != CMD_INFO) {
        const char *why = !cli_mpi_built()    ? "this assay was built without MPI (cmake --preset "
                                                "mpi; docs/mpi.md)"
                          : o.cmd != CMD_SCAN ? "only assay scan runs as MPI ranks"
                          : o.shard_count > 0 ? "--shard splits the work without MPI: run the "
                                                "shards as separate jobs"
                                              : NULL;
        if (why != NULL) {
            if (cli_mpi_env_rank() == 0)
                fprintf(stderr, "assay: error: started by mpirun with %d ranks, but %s\n",
                        cli_mpi_env_size(), why);
            return CLI_EXIT_USAGE;
        }
    }
    switch (o.cmd) {
    case CMD_HELP:
        if (o.help_format == 'm')
            cli_print_man(stdout);
        else if (o.help_format == 'd')
            cli_print_markdown(stdout);
        else
            cli_print_help(o.help_cmd, stdout);
        return CLI_EXIT_PASS;
    case CMD_COMPLETION:
        cli_print_bash_completion(stdout);
        return CLI_EXIT_PASS;
    case CMD_VERSION:
        printf("assay %s\n", assay_version());
        return CLI_EXIT_PASS;
    case CMD_INFO:
        return cmd_info();
    case CMD_SCAN:
    case CMD_MERGE:
        return cmd_scan(&o, argc, argv);
    case CMD_POLICY:
        return cli_policy_show(&o);
    case CMD_KNN:
        return cmd_graph_file(&o);
    case CMD_DIFF:
        return cmd_diff(&o);
    case CMD_RENDER:
        return cmd_render(&o);
    }
    return CLI_EXIT_INTERNAL;
}

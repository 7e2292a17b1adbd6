/* SPDX-License-Identifier: Apache-2.0 */
/* The command line's side of the policy: the file, the ASSAY_* variables and the flags resolved
 * into one policy (each key from the highest source: flag > variable > file > default), and
 * `assay policy show`, which prints the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* 1 when policy option `name` is one of the input limits (limits.*). */
static int is_limit_option(const char *name) {
    for (size_t i = 0; i < assay_policy_option_count(); i++) {
        const assay_policy_option *opt = assay_policy_option_at(i);
        if (strcmp(opt->name, name) == 0) return strncmp(opt->key, "limits.", 7) == 0;
    }
    return 0;
}

assay_status cli_resolve_policy(const cli_opts *o, assay_ctx *ctx, assay_policy **out,
                                assay_scan_opts *scan) {
    assay_policy *p = NULL;
    assay_status s = assay_policy_create(ctx, &p);
    /* The limit flags first, so that --max-depth and --max-file-size bound the policy file too
     * (they win over the file's own limits: anyway). */
    for (size_t i = 0; s == ASSAY_OK && i < o->n_policy_args; i++)
        if (is_limit_option(o->policy_args[i].name))
            s = assay_policy_set_option(ctx, p, o->policy_args[i].name, o->policy_args[i].value,
                                        ASSAY_SRC_FLAG);
    if (s == ASSAY_OK) s = assay_policy_apply_limits(ctx, p);
    /* --policy first, so that ASSAY_POLICY only names a file when no flag did */
    for (size_t i = 0; s == ASSAY_OK && i < o->n_policy_args; i++)
        if (strcmp(o->policy_args[i].name, "policy") == 0)
            s = assay_policy_set_option(ctx, p, "policy", o->policy_args[i].value, ASSAY_SRC_FLAG);
    if (s == ASSAY_OK) s = assay_policy_load_env(ctx, p);
    for (size_t i = 0; s == ASSAY_OK && i < o->n_policy_args; i++)
        if (strcmp(o->policy_args[i].name, "policy") != 0)
            s = assay_policy_set_option(ctx, p, o->policy_args[i].name, o->policy_args[i].value,
                                        ASSAY_SRC_FLAG);
    if (s != ASSAY_OK) {
        assay_policy_destroy(p);
        return s;
    }
    assay_policy_scan_opts(p, scan);
    /* --max-* flags, ASSAY_MAX_* and the file's limits: bound the input before it is read */
    if ((s = assay_policy_apply_limits(ctx, p)) != ASSAY_OK) {
        assay_policy_destroy(p);
        return s;
    }
    *out = p;
    return ASSAY_OK;
}

int cli_policy_show(const cli_opts *o) {
    assay_ctx *ctx = NULL;
    assay_status s = assay_ctx_create(&ctx, NULL);
    if (s != ASSAY_OK) {
        fprintf(stderr, "assay: error: cannot start: %s\n", assay_status_str(s));
        return CLI_EXIT_INTERNAL;
    }
    assay_policy *p = NULL;
    assay_scan_opts scan = o->scan;
    char *text = NULL;
    if (o->policy_schema)
        s = assay_policy_schema_json(ctx, &text);
    else if ((s = cli_resolve_policy(o, ctx, &p, &scan)) == ASSAY_OK)
        s = assay_policy_effective_json(ctx, p, 1, &text);
    int code = CLI_EXIT_PASS;
    if (s == ASSAY_OK) {
        puts(text);
        fflush(stdout);
    } else {
        fprintf(stderr, "assay: error: policy: %s\n", assay_ctx_errmsg(ctx));
        code = assay_status_is_input_error(s) ? CLI_EXIT_USAGE : CLI_EXIT_INTERNAL;
    }
    free(text);
    assay_policy_destroy(p);
    assay_ctx_destroy(ctx);
    return code;
}

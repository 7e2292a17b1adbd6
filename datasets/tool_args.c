/* SPDX-License-Identifier: Apache-2.0 */
/* The options assay-fmnist and assay-synth share, parsed and checked in one place so both tools
 * accept the same spellings and print the same messages and exit codes for them. */
#include "tool_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tool_args_init(tool_args *a, const char *tool, void (*usage)(FILE *stream),
                    datagen_plant_opts *plant, uint64_t *seed) {
    memset(a, 0, sizeof *a);
    a->tool = tool;
    a->usage = usage;
    a->plant = plant;
    a->seed = seed;
}

int tool_usage_error(const char *tool, const char *msg) {
    fprintf(stderr, "%s: %s\n%s: see %s --help\n", tool, msg, tool, tool);
    return 2;
}

int tool_option_error(const char *tool, const char *option, const char *value,
                      const char *expected) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s '%s'%s%s", option, value, expected ? ": " : "",
             expected ? expected : "");
    return tool_usage_error(tool, msg);
}

int tool_parse_size(const char *text, size_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    /* strtoull accepts " -1" and wraps it, so any sign is rejected by hand. */
    if (end == text || *end != '\0' || errno != 0 || strchr(text, '-') || v > SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}

int tool_args_fraction(tool_args *a, const char *option, const char *text, double *out) {
    datagen_error err = {""};
    if (datagen_parse_fraction(text, option, out, &err) != ASSAY_OK)
        return tool_usage_error(a->tool, err.msg);
    a->attack_given = 1;
    return -1;
}

int tool_args_option(tool_args *a, int opt, char **argv) {
    datagen_plant_opts *plant = a->plant;
    datagen_error err = {""};
    size_t value = 0;
    switch (opt) {
    case TOOL_OPT_OUT:
        a->out = optarg;
        return -1;
    case TOOL_OPT_FORMAT:
        if (datagen_format_parse(optarg, &a->format, &err) != ASSAY_OK)
            return tool_usage_error(a->tool, err.msg);
        a->format_given = 1;
        return -1;
    case TOOL_OPT_TRUTH:
        a->truth = optarg;
        return -1;
    case TOOL_OPT_SEED:
        if (tool_parse_size(optarg, &value) != 0)
            return tool_option_error(a->tool, "--seed", optarg, "expected a non-negative integer");
        *a->seed = value;
        return -1;
    case TOOL_OPT_RANDOM:
        return tool_args_fraction(a, "--random-flip", optarg, &plant->random_flip);
    case TOOL_OPT_DUPLICATES:
        return tool_args_fraction(a, "--duplicates", optarg, &plant->duplicates);
    case TOOL_OPT_TARGETED:
        if (!a->targeted_given) plant->n_targeted = 0; /* replace the defaults */
        a->targeted_given = a->attack_given = 1;
        if (plant->n_targeted == DATAGEN_MAX_TARGETED)
            return tool_option_error(a->tool, "--targeted", optarg, "too many targeted flips");
        if (datagen_parse_targeted(optarg, &plant->targeted[plant->n_targeted], &err) != ASSAY_OK)
            return tool_usage_error(a->tool, err.msg);
        plant->n_targeted++;
        return -1;
    case TOOL_OPT_CLEAN:
        a->clean = 1;
        return -1;
    case TOOL_OPT_GZIP:
        if (tool_parse_size(optarg, &value) != 0 || value > 9)
            return tool_option_error(a->tool, "--gzip", optarg, "expected a level 0-9");
        a->gzip_level = (int)value;
        return -1;
    case 'h':
        a->usage(stdout);
        return 0;
    default:
        /* For a long option or a lone short one, getopt_long has already stepped past the
         * offending word, unknown or lacking its value. */
        return tool_option_error(a->tool, "unknown option or missing value in", argv[optind - 1],
                                 NULL);
    }
}

int tool_args_finish(tool_args *a, int argc, char **argv) {
    if (optind < argc) return tool_option_error(a->tool, "unexpected argument", argv[optind], NULL);
    if (a->out == NULL) return tool_usage_error(a->tool, "--out is required");
    if (a->clean && a->attack_given)
        return tool_usage_error(a->tool,
                                "--clean plants nothing; drop the attack options or --clean");
    if (!a->format_given) a->format = datagen_format_from_path(a->out);
    if (a->gzip_level > 0 && a->format != DATAGEN_FORMAT_H5)
        return tool_usage_error(a->tool, "--gzip applies to the h5 format only");
    return -1;
}

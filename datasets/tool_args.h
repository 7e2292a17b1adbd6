/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line handling shared by assay-fmnist and assay-synth: the options both accept, their
 * checks and the wording of every usage error, so the two tools cannot drift apart. */
#ifndef ASSAY_DATASETS_TOOL_ARGS_H
#define ASSAY_DATASETS_TOOL_ARGS_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "datagen.h"

/* getopt_long values of the shared options; a tool numbers its own from TOOL_OPT_FIRST_FREE. */
enum {
    TOOL_OPT_OUT = 256,
    TOOL_OPT_FORMAT,
    TOOL_OPT_TRUTH,
    TOOL_OPT_SEED,
    TOOL_OPT_RANDOM,
    TOOL_OPT_TARGETED,
    TOOL_OPT_DUPLICATES,
    TOOL_OPT_CLEAN,
    TOOL_OPT_GZIP,
    TOOL_OPT_FIRST_FREE
};

/* The shared entries of a tool's `struct option` table, -h/--help included. Their place in the
 * table does not matter: getopt_long resolves exact names first and treats any two different
 * options matching an abbreviation as ambiguous, whatever their order. clang-format is kept off
 * the macro because it folds the last entry across three lines. */
/* clang-format off */
#define TOOL_ARGS_OPTIONS                                                                          \
    {"out", required_argument, NULL, TOOL_OPT_OUT},                                                \
    {"format", required_argument, NULL, TOOL_OPT_FORMAT},                                          \
    {"truth", required_argument, NULL, TOOL_OPT_TRUTH},                                            \
    {"seed", required_argument, NULL, TOOL_OPT_SEED},                                              \
    {"random-flip", required_argument, NULL, TOOL_OPT_RANDOM},                                     \
    {"targeted", required_argument, NULL, TOOL_OPT_TARGETED},                                      \
    {"duplicates", required_argument, NULL, TOOL_OPT_DUPLICATES},                                  \
    {"clean", no_argument, NULL, TOOL_OPT_CLEAN},                                                  \
    {"gzip", required_argument, NULL, TOOL_OPT_GZIP},                                              \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

typedef struct tool_args {
    const char *tool;            /* prefix of every message, e.g. "assay-synth" */
    void (*usage)(FILE *stream); /* prints the tool's own help text for -h/--help */
    const char *out;
    const char *truth;
    datagen_format format;
    int format_given;
    int gzip_level;
    int clean;
    int attack_given;          /* an attack option was used (conflicts with --clean) */
    int targeted_given;        /* the first --targeted replaces the tool's default list */
    uint64_t *seed;            /* where --seed is stored */
    datagen_plant_opts *plant; /* where the attack options are stored; holds the defaults */
} tool_args;

/* Zeroes `a` and points it at the tool's help text, seed and attack options; the latter keep
 * their defaults until an option overrides them. */
void tool_args_init(tool_args *a, const char *tool, void (*usage)(FILE *stream),
                    datagen_plant_opts *plant, uint64_t *seed);

/* Prints "TOOL: msg" and the --help hint to stderr; returns the usage exit code, 2. */
int tool_usage_error(const char *tool, const char *msg);

/* A tool_usage_error about one value: "--seed 'x': expected a non-negative integer", or without
 * `expected` just "unexpected argument 'x'". Returns 2. */
int tool_option_error(const char *tool, const char *option, const char *value,
                      const char *expected);

/* Parses a whole decimal number into *out. Returns 0, or -1 (and leaves *out alone) for empty
 * text, a minus sign, trailing text or overflow. */
int tool_parse_size(const char *text, size_t *out);

/* Parses an attack fraction in [0, 1] for `option` into *out and records that an attack was
 * asked for. Returns -1 to continue, or the exit code. */
int tool_args_fraction(tool_args *a, const char *option, const char *text, double *out);

/* Handles one getopt_long result `opt` (argument in optarg) that the tool did not recognise: a
 * shared option is stored in `a`, -h/--help prints the help text to stdout (exit code 0) and
 * anything else is reported as unknown. Returns -1 to continue, or the exit code. */
int tool_args_option(tool_args *a, int opt, char **argv);

/* After the getopt_long loop: rejects leftover arguments, requires --out, keeps --clean apart
 * from the attack options, derives the format from --out when --format is absent and limits
 * --gzip to h5. Returns -1 to continue, or the exit code. */
int tool_args_finish(tool_args *a, int argc, char **argv);

#endif

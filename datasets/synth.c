/* SPDX-License-Identifier: Apache-2.0 */
/* assay-synth: writes a seeded Gaussian-blob dataset with planted label flips, conflicting
 * duplicates, far outliers and NaN rows, plus its ground truth, in any of assay's input formats. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"
#include "tool_args.h"

#define TOOL "assay-synth"

static void usage(FILE *fp) {
    fprintf(
        fp,
        "usage: " TOOL " --out PATH [options]\n"
        "Writes Gaussian blobs (balanced classes, unit within-class variance) with planted\n"
        "poisons and, with --truth, the ground truth (index,is_poison,attack,source).\n"
        "\n"
        "  --out PATH           output file (h5, csv) or folder (npy: emb.npy, labels.npy,\n"
        "                       ids.npy)\n"
        "  --format h5|csv|npy  default: from --out (.csv -> csv, ending in / -> npy, else h5)\n"
        "  --truth PATH         ground-truth CSV\n"
        "  --rows N             rows (default 1000)\n"
        "  --dims D             features per row (default 16)\n"
        "  --classes C          classes (default 4)\n"
        "  --seed N             random seed (default 42); same seed -> identical files\n"
        "  --separation S       distance between class centres in within-class sds (default 8)\n"
        "  --random-flip F      fraction of rows relabelled uniformly (default 0.02)\n"
        "  --targeted A:B:F     relabel fraction F of class A as B (repeatable; default none)\n"
        "  --duplicates F       rows overwritten by a clean row of another class (default 0.01)\n"
        "  --outliers F         rows moved 10 data radii from the centre (default 0.005)\n"
        "  --nonfinite F        rows with one feature set to NaN (default 0)\n"
        "  --clean              plant nothing\n"
        "  --gzip LEVEL         HDF5 only: chunked, gzip level 1-9 (default 0: contiguous)\n"
        "  -h, --help           this text\n"
        "Exit status: 0 written, 2 bad usage or input, 3 internal failure.\n");
}

typedef struct synth_args {
    tool_args common; /* --out, --format, --truth, --seed, the label attacks, --clean, --gzip */
    datagen_synth_opts synth;
} synth_args;

/* Returns -1 to continue, or the exit code. */
static int parse_args(int argc, char **argv, synth_args *a) {
    enum {
        OPT_ROWS = TOOL_OPT_FIRST_FREE,
        OPT_DIMS,
        OPT_CLASSES,
        OPT_SEPARATION,
        OPT_OUTLIERS,
        OPT_NONFINITE
    };
    static const struct option options[] = {TOOL_ARGS_OPTIONS,
                                            {"rows", required_argument, NULL, OPT_ROWS},
                                            {"dims", required_argument, NULL, OPT_DIMS},
                                            {"classes", required_argument, NULL, OPT_CLASSES},
                                            {"separation", required_argument, NULL, OPT_SEPARATION},
                                            {"outliers", required_argument, NULL, OPT_OUTLIERS},
                                            {"nonfinite", required_argument, NULL, OPT_NONFINITE},
                                            {NULL, 0, NULL, 0}};
    datagen_plant_opts *plant = &a->synth.plant;
    int opt, rc = -1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_ROWS:
            if (tool_parse_size(optarg, &a->synth.n) != 0 || a->synth.n == 0)
                return tool_option_error(TOOL, "--rows", optarg, "expected a number of rows >= 1");
            break;
        case OPT_DIMS:
            if (tool_parse_size(optarg, &a->synth.d) != 0 || a->synth.d == 0)
                return tool_option_error(TOOL, "--dims", optarg,
                                         "expected a number of dimensions >= 1");
            break;
        case OPT_CLASSES:
            if (tool_parse_size(optarg, &a->synth.classes) != 0 || a->synth.classes < 2)
                return tool_option_error(TOOL, "--classes", optarg,
                                         "expected a number of classes >= 2");
            break;
        case OPT_SEPARATION: {
            char *end = NULL;
            a->synth.separation = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(a->synth.separation >= 0.0) ||
                a->synth.separation > 1e6)
                return tool_option_error(TOOL, "--separation", optarg, "expected a distance >= 0");
            break;
        }
        case OPT_OUTLIERS:
            rc = tool_args_fraction(&a->common, "--outliers", optarg, &plant->outliers);
            break;
        case OPT_NONFINITE:
            rc = tool_args_fraction(&a->common, "--nonfinite", optarg, &plant->nonfinite);
            break;
        default:
            rc = tool_args_option(&a->common, opt, argv);
        }
        if (rc >= 0) return rc;
    }
    rc = tool_args_finish(&a->common, argc, argv);
    /* datagen_synth plants whatever `plant` holds, so --clean has to clear the defaults too. */
    if (rc < 0 && a->common.clean) {
        datagen_plant_opts none = DATAGEN_PLANT_OPTS_INIT;
        *plant = none;
    }
    return rc;
}

int main(int argc, char **argv) {
    synth_args a;
    memset(&a, 0, sizeof a);
    a.synth = (datagen_synth_opts)DATAGEN_SYNTH_OPTS_INIT;
    tool_args_init(&a.common, TOOL, usage, &a.synth.plant, &a.synth.seed);
    a.synth.plant.random_flip = 0.02;
    a.synth.plant.duplicates = 0.01;
    a.synth.plant.outliers = 0.005;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;

    datagen_error err = {""};
    datagen_data data;
    datagen_truth truth;
    datagen_plant_report report;
    memset(&report, 0, sizeof report);
    char description[256];
    assay_status s = datagen_synth(&a.synth, &data, &truth, &report, &err);
    if (s == ASSAY_OK) {
        snprintf(description, sizeof description,
                 TOOL " Gaussian blobs: %zu rows, %zu dims, %zu classes, separation %g, seed %llu",
                 a.synth.n, a.synth.d, a.synth.classes, a.synth.separation,
                 (unsigned long long)a.synth.seed);
        data.description = description;
        s = datagen_write(a.common.format, a.common.out, &data, a.common.gzip_level, &err);
    }
    if (s == ASSAY_OK && a.common.truth != NULL)
        s = datagen_write_truth(a.common.truth, &truth, &err);
    if (s == ASSAY_OK) {
        for (int k = DATAGEN_ATTACK_NONE + 1; k < DATAGEN_ATTACK_COUNT; k++)
            if (report.by_attack[k] > 0)
                fprintf(stderr, TOOL ": %s: %zu rows\n", datagen_attack_name((datagen_attack)k),
                        report.by_attack[k]);
        fprintf(stderr, TOOL ": wrote %s (%zu x %zu, %s)%s%s: %zu poisoned rows\n", a.common.out,
                data.n, data.d, datagen_format_name(a.common.format), a.common.truth ? " and " : "",
                a.common.truth ? a.common.truth : "", report.poisoned);
    } else {
        fprintf(stderr, TOOL ": %s\n", err.msg);
    }
    datagen_data_free(&data);
    datagen_truth_free(&truth);
    return datagen_exit_code(s);
}

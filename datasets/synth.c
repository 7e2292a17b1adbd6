/* SPDX-License-Identifier: Apache-2.0 */
/* assay-synth: writes a seeded Gaussian-blob dataset with planted label flips, conflicting
 * duplicates, far outliers and NaN rows, plus its ground truth, in any of assay's input formats. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"

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

static int usage_error(const char *msg) {
    fprintf(stderr, TOOL ": %s\n" TOOL ": see " TOOL " --help\n", msg);
    return 2;
}

/* "--seed 'x': expected a non-negative integer"; without `expected`, "unknown option 'x'". */
static int option_error(const char *option, const char *value, const char *expected) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s '%s'%s%s", option, value, expected ? ": " : "",
             expected ? expected : "");
    return usage_error(msg);
}

static int parse_size(const char *text, size_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || text[0] == '-' || v > SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}

typedef struct synth_args {
    datagen_synth_opts synth;
    const char *out, *truth;
    datagen_format format;
    int format_given, gzip_level, clean, attack_given;
} synth_args;

/* Returns -1 to continue, or the exit code. */
static int parse_args(int argc, char **argv, synth_args *a) {
    enum {
        OPT_OUT = 256,
        OPT_FORMAT,
        OPT_TRUTH,
        OPT_ROWS,
        OPT_DIMS,
        OPT_CLASSES,
        OPT_SEED,
        OPT_SEPARATION,
        OPT_RANDOM,
        OPT_TARGETED,
        OPT_DUPLICATES,
        OPT_OUTLIERS,
        OPT_NONFINITE,
        OPT_CLEAN,
        OPT_GZIP
    };
    static const struct option options[] = {{"out", required_argument, NULL, OPT_OUT},
                                            {"format", required_argument, NULL, OPT_FORMAT},
                                            {"truth", required_argument, NULL, OPT_TRUTH},
                                            {"rows", required_argument, NULL, OPT_ROWS},
                                            {"dims", required_argument, NULL, OPT_DIMS},
                                            {"classes", required_argument, NULL, OPT_CLASSES},
                                            {"seed", required_argument, NULL, OPT_SEED},
                                            {"separation", required_argument, NULL, OPT_SEPARATION},
                                            {"random-flip", required_argument, NULL, OPT_RANDOM},
                                            {"targeted", required_argument, NULL, OPT_TARGETED},
                                            {"duplicates", required_argument, NULL, OPT_DUPLICATES},
                                            {"outliers", required_argument, NULL, OPT_OUTLIERS},
                                            {"nonfinite", required_argument, NULL, OPT_NONFINITE},
                                            {"clean", no_argument, NULL, OPT_CLEAN},
                                            {"gzip", required_argument, NULL, OPT_GZIP},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    datagen_plant_opts *plant = &a->synth.plant;
    datagen_error err = {""};
    size_t value = 0;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        double *fraction = NULL;
        const char *what = NULL;
        switch (opt) {
        case OPT_OUT:
            a->out = optarg;
            break;
        case OPT_FORMAT:
            if (datagen_format_parse(optarg, &a->format, &err) != ASSAY_OK)
                return usage_error(err.msg);
            a->format_given = 1;
            break;
        case OPT_TRUTH:
            a->truth = optarg;
            break;
        case OPT_ROWS:
            if (parse_size(optarg, &a->synth.n) != 0 || a->synth.n == 0)
                return option_error("--rows", optarg, "expected a number of rows >= 1");
            break;
        case OPT_DIMS:
            if (parse_size(optarg, &a->synth.d) != 0 || a->synth.d == 0)
                return option_error("--dims", optarg, "expected a number of dimensions >= 1");
            break;
        case OPT_CLASSES:
            if (parse_size(optarg, &a->synth.classes) != 0 || a->synth.classes < 2)
                return option_error("--classes", optarg, "expected a number of classes >= 2");
            break;
        case OPT_SEED:
            if (parse_size(optarg, &value) != 0)
                return option_error("--seed", optarg, "expected a non-negative integer");
            a->synth.seed = value;
            break;
        case OPT_SEPARATION: {
            char *end = NULL;
            a->synth.separation = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(a->synth.separation >= 0.0) ||
                a->synth.separation > 1e6)
                return option_error("--separation", optarg, "expected a distance >= 0");
            break;
        }
        case OPT_RANDOM:
            fraction = &plant->random_flip, what = "--random-flip";
            break;
        case OPT_DUPLICATES:
            fraction = &plant->duplicates, what = "--duplicates";
            break;
        case OPT_OUTLIERS:
            fraction = &plant->outliers, what = "--outliers";
            break;
        case OPT_NONFINITE:
            fraction = &plant->nonfinite, what = "--nonfinite";
            break;
        case OPT_TARGETED:
            a->attack_given = 1;
            if (plant->n_targeted == DATAGEN_MAX_TARGETED)
                return option_error("--targeted", optarg, "too many targeted flips");
            if (datagen_parse_targeted(optarg, &plant->targeted[plant->n_targeted], &err) !=
                ASSAY_OK)
                return usage_error(err.msg);
            plant->n_targeted++;
            break;
        case OPT_CLEAN:
            a->clean = 1;
            break;
        case OPT_GZIP:
            if (parse_size(optarg, &value) != 0 || value > 9)
                return option_error("--gzip", optarg, "expected a level 0-9");
            a->gzip_level = (int)value;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return option_error("unknown option or missing value in", argv[optind - 1], NULL);
        }
        if (fraction != NULL) {
            if (datagen_parse_fraction(optarg, what, fraction, &err) != ASSAY_OK)
                return usage_error(err.msg);
            a->attack_given = 1;
        }
    }
    if (optind < argc) return option_error("unexpected argument", argv[optind], NULL);
    if (a->out == NULL) return usage_error("--out is required");
    if (a->clean && a->attack_given)
        return usage_error("--clean plants nothing; drop the attack options or --clean");
    if (!a->format_given) a->format = datagen_format_from_path(a->out);
    if (a->gzip_level > 0 && a->format != DATAGEN_FORMAT_H5)
        return usage_error("--gzip applies to the h5 format only");
    if (a->clean) {
        datagen_plant_opts none = DATAGEN_PLANT_OPTS_INIT;
        *plant = none;
    }
    return -1;
}

int main(int argc, char **argv) {
    synth_args a;
    memset(&a, 0, sizeof a);
    a.synth = (datagen_synth_opts)DATAGEN_SYNTH_OPTS_INIT;
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
        s = datagen_write(a.format, a.out, &data, a.gzip_level, &err);
    }
    if (s == ASSAY_OK && a.truth != NULL) s = datagen_write_truth(a.truth, &truth, &err);
    if (s == ASSAY_OK) {
        for (int k = DATAGEN_ATTACK_NONE + 1; k < DATAGEN_ATTACK_COUNT; k++)
            if (report.by_attack[k] > 0)
                fprintf(stderr, TOOL ": %s: %zu rows\n", datagen_attack_name((datagen_attack)k),
                        report.by_attack[k]);
        fprintf(stderr, TOOL ": wrote %s (%zu x %zu, %s)%s%s: %zu poisoned rows\n", a.out, data.n,
                data.d, datagen_format_name(a.format), a.truth ? " and " : "",
                a.truth ? a.truth : "", report.poisoned);
    } else {
        fprintf(stderr, TOOL ": %s\n", err.msg);
    }
    datagen_data_free(&data);
    datagen_truth_free(&truth);
    return datagen_exit_code(s);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The detector and verdict parameters: one X-macro list gives the internal ids, the public
 * table (assay_param_info_at), the CLI flags and the report's "parameters" object. */
#ifndef ASSAY_PARAMS_H
#define ASSAY_PARAMS_H

#include "assay/assay_scan.h"

/* X(id, name, detector, default, min, max, integer, help) */
#define ASSAY__PARAMS(X)                                                                           \
    X(FDR, "fdr", "verdict", 0.01, 1e-9, 0.5, 0,                                                   \
      "false discovery rate for the per-class/per-dataset tests (Benjamini-Hochberg) and for "     \
      "the row flags of tested detectors")                                                         \
    X(FLAG_CAP, "flag-cap", "verdict", 0.3, 0.01, 1, 0,                                            \
      "a detector flagging more than this share of the rows it scores is capped: its rows are "    \
      "not flagged and rank below the flag line (it does not tell them apart); its tests stand")   \
    X(SEED, "seed", "verdict", 0, 0, 4294967295.0, 1,                                              \
      "seed of every randomised step (k-means, permutations, samples): same seed, same report")    \
    X(EXPECTED_POISON, "expected-poison", "knn-label", 0, 0, 0.5, 0,                               \
      "expected poisoned fraction (0 = unknown); when given, Deep k-NN uses k = 2 x the expected " \
      "poisons per class (the graph's k is raised to it, up to 256)")                              \
    X(LABEL_NOISE_TOLERANCE, "label-noise-tolerance", "knn-label", 0.05, 0, 1, 0,                  \
      "share of rows whose label the neighbourhood rejects that natural class overlap is allowed " \
      "to explain; more is significant label noise")                                               \
    X(SPECTRAL_ITERS, "spectral-iters", "spectral", 100, 5, 10000, 1,                              \
      "power iterations at most for the top singular vector of each class")                        \
    X(SPECTRAL_DIRECTIONS, "spectral-directions", "spectral", 8, 1, 64, 1,                         \
      "top singular directions of each class searched for a separated tail (the paper: 1)")        \
    X(SPECTRAL_TOLERANCE, "spectral-tolerance", "spectral", 0.03, 0.001, 0.5, 0,                   \
      "share of a class that natural tails may put beyond 4 robust SDs on one side of a top "      \
      "direction; more is a poisoning signature (spectral and spectre class tests)")               \
    X(SPECTRE_ALPHA, "spectre-alpha", "spectre", 4, 0.1, 100, 0,                                   \
      "quantum-entropy (QUE) scoring strength alpha")                                              \
    X(SPECTRE_MAX_DIM, "spectre-max-dim", "spectre", 64, 1, 256, 1,                                \
      "largest PCA dimension tried (dimensions 1, 4, 9, ... up to this)")                          \
    X(CLUSTER_DIMS, "cluster-dims", "cluster", 20, 1, 256, 1,                                      \
      "principal directions of each class, whitened, before 2-means")                              \
    X(CLUSTER_RESTARTS, "cluster-restarts", "cluster", 5, 1, 1000, 1,                              \
      "k-means++ restarts per class and search level (the 4 lowest-inertia splits are tested)")    \
    X(CLUSTER_SAMPLE, "cluster-sample", "cluster", 1000, 50, 1000000, 1,                           \
      "rows sampled per class for the silhouette score")                                           \
    X(CLUSTER_MAX_SHARE, "cluster-max-share", "cluster", 0.35, 0.01, 0.5, 0,                       \
      "a separated cluster is suspicious only if it holds at most this share of its class")        \
    X(CLUSTER_GAP, "cluster-gap", "cluster", 0.1, 0.001, 1, 0,                                     \
      "a cluster is separated when the class's density in the gap is below this share of the "     \
      "cluster's peak density")                                                                    \
    X(SUBGROUP_DIMS, "subgroup-dims", "subgroup", 64, 2, 256, 1,                                   \
      "principal directions of the whole dataset in which the global model is fitted and each "    \
      "class is split (all features when there are fewer)")                                        \
    X(SUBGROUP_RATIO, "subgroup-ratio", "subgroup", 1.3, 1, 100, 0,                                \
      "a class's subgroup separation must be at least this x the other classes' median to be "     \
      "tested (an effect size: natural classes of a dataset differ by less)")                      \
    X(SUBGROUP_MIN_ROWS, "subgroup-min-rows", "subgroup", 10, 2, 1000000, 1,                       \
      "rows of the smaller subgroup at least (fewer is an outlier's business, not a group's)")     \
    X(GRAM_SKETCH, "gram-sketch", "gram", 64, 4, 1024, 1,                                          \
      "random second-order products sketched per row (Beatrix-style higher-order statistics)")     \
    X(MAHALANOBIS_SHRINKAGE, "mahalanobis-shrinkage", "mahalanobis", -1, -1, 1, 0,                 \
      "covariance shrinkage towards a scaled identity; -1 = Ledoit-Wolf estimate")                 \
    X(CONFIDENT_FILTER, "confident-filter", "confident", 0, 0, 4, 1,                               \
      "0 prune_by_noise_rate, 1 prune_by_class, 2 both, 3 confident_learning, "                    \
      "4 predicted_neq_given")                                                                     \
    X(CONFIDENT_RANK, "confident-rank", "confident", 0, 0, 1, 1,                                   \
      "ranking score: 0 self_confidence, 1 normalized_margin")                                     \
    X(CONFIDENT_TOLERANCE, "confident-tolerance", "confident", 0.08, 0, 1, 0,                      \
      "share of rows confident learning may mark as label issues on clean data (natural class "    \
      "overlap and the model's own errors); more is significant label noise")                      \
    X(CROSSFIT_FOLDS, "crossfit-folds", "confident", 5, 0, 20, 1,                                  \
      "without --pred-probs, confident uses out-of-fold probabilities of a ridge classifier on "   \
      "the embeddings cross-fitted over this many stratified folds (0 = off, else at least 2)")    \
    X(NEAR_DUP_RADIUS, "near-dup-radius", "near-duplicate", 0.13, 0, 1, 0,                         \
      "rows closer than this x the median nearest-neighbour distance are near duplicates")         \
    X(ORDERING_PERMUTATIONS, "ordering-permutations", "ordering", 199, 19, 100000, 1,              \
      "random row permutations for the ordering test's p-value")                                   \
    X(IMBALANCE_RATIO, "imbalance-ratio", "imbalance", 0.1, 0, 1, 0,                               \
      "a class is underrepresented below this x its expected share")

typedef enum assay__param_id {
#define ASSAY__PARAM_ENUM(id, ...) ASSAY__P_##id,
    ASSAY__PARAMS(ASSAY__PARAM_ENUM)
#undef ASSAY__PARAM_ENUM
        ASSAY__P_COUNT
} assay__param_id;

/* The effective value of a parameter in o (set or default). */
double assay__param(const assay_scan_opts *o, assay__param_id id);

#endif

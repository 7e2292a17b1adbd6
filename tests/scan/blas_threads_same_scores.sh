#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The per-class detectors give the same scores whatever OpenBLAS's own thread count is: 15,000
# Fashion-MNIST images (784 pixels), mahalanobis and cluster only, OPENBLAS_NUM_THREADS=1 and 2,
# scores.csv byte for byte. Before BLAS was kept single-threaded there, 20 of 60,000
# mahalanobis scores changed in their last digits between the two.
# usage: blas_threads_same_scores.sh ASSAY ASSAY_FMNIST WORKDIR
set -eu
assay=$1 fmnist=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"$fmnist" --clean --rows 15000 --out "$work/fm.h5" >/dev/null
skip=knn-label,knn-outlier,duplicate,near-duplicate,valuation,confident,ecod,ordering,gram
skip=$skip,subgroup,spectral,spectre
for t in 1 2; do
    OPENBLAS_NUM_THREADS=$t "$assay" scan "$work/fm.h5" --out "$work/out$t" -q --skip "$skip" \
        --exit-zero
done
cmp "$work/out1/scores.csv" "$work/out2/scores.csv"

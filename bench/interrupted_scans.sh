#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Interrupted scans (issue 14): 100 trials of SIGINT or SIGTERM at random moments of `assay scan`
# on a 20,000 x 128 dataset; after each, the previous report set must be byte-identical (or, when
# the scan finished first, the new set complete per its .assay-commit) and no temporary file
# left. CTest runs the same script with 10 trials (cli_interrupt_trials). Result:
# bench/RESULTS.md, "Interrupted scans (issue 14)".
# usage: bench/interrupted_scans.sh [BUILD_DIR] [TRIALS]   (default build/release, 100)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/release}
trials=${2:-100}
exec /usr/bin/python3 "$here/tests/cli/interrupt_trials.py" "$build/assay" \
    "$build/bench-interrupt-trials" --trials "$trials" --seed 1414

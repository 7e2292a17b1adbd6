#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Snakemake (Debian's snakemake) runs examples/snakemake as a user would: `assay scan` gates a
# training rule. Clean digits: the gate passes and the model is trained. Digits with a planted
# backdoor: the workflow stops on the gate's exit code, the reports stay for the reviewer, and
# no model exists.
#   snakemake_gate.sh ASSAY_BIN_DIR EXAMPLE_DIR WORK_DIR [Snakefile] [PYTHON]
# With Snakefile.python the gate runs through the Python API: PYTHON is an interpreter that
# imports assay and snakemake (snakemake then runs as `PYTHON -m snakemake`).
set -eu
bin_dir=$1 example=$2 work=$3 snakefile=${4:-Snakefile} python=${5:-}
# the workflow's `python3` is Debian's (scikit-learn, pandas), then the assay under test
PATH="$bin_dir:/usr/bin:$PATH"
export PATH
if [ -n "$python" ]; then
    snakemake() { "$python" -m snakemake "$@"; }
fi
rm -rf "$work"
mkdir -p "$work/data"
/usr/bin/python3 "$example/make_data.py" "$work/data"

fail() {
    echo "snakemake_gate: $*" >&2
    exit 1
}

for case in clean backdoor; do
    dir="$work/$case"
    mkdir -p "$dir"
    cp "$example/$snakefile" "$example/train.py" "$dir/"
    set +e
    (cd "$dir" && snakemake -s "$snakefile" --cores 2 --config data="$work/data/$case.csv") \
        > "$dir/snakemake.log" 2>&1
    rc=$?
    set -e
    echo "$case: snakemake exit code $rc"
    [ -f "$dir/reports/report.json" ] || fail "$case: no reports/report.json (log: $dir/snakemake.log)"
    if [ "$case" = clean ]; then
        [ "$rc" -eq 0 ] || fail "clean data: the workflow failed (log: $dir/snakemake.log)"
        [ -s "$dir/model/model.pkl" ] || fail "clean data: the training rule did not run"
        grep -q '"passed": true' "$dir/reports/report.json" || fail "clean data: gate not passed"
    else
        [ "$rc" -ne 0 ] || fail "backdoor: the workflow went on past a failing gate"
        [ ! -e "$dir/model/model.pkl" ] || fail "backdoor: a model was trained on poisoned data"
        [ ! -e "$dir/gate/passed" ] || fail "backdoor: the gate's pass flag exists"
        grep -q '"verdict": "fail"' "$dir/reports/report.json" ||
            fail "backdoor: report.json does not record the failing verdict"
        grep -q "Error in rule gate" "$dir/snakemake.log" ||
            fail "backdoor: the workflow did not stop in the gate rule"
        # the reviewer's folder is complete: every file of the set with its digest
        [ -f "$dir/reports/.assay-commit" ] || fail "backdoor: the report set is not committed"
    fi
done
echo "snakemake_gate: $snakefile: clean data trained, backdoored data stopped at the gate"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the tool says about its options is generated from its tables, and stays so:
#   - docs/cli.md is exactly `assay help --markdown`, and schemas/assay-policy-1.schema.json
#     exactly `assay policy schema` (after changing an option, a parameter or the detector list:
#     cmake --build BUILD --target regenerate);
#   - the man page renders without a warning (groff -ww), when groff is installed;
#   - the bash completion script parses and completes commands, options and option values.
#   check_help.sh ASSAY SOURCE_DIR WORK_DIR
set -euo pipefail
assay=$1 src=$2 work=$3
mkdir -p "$work"

"$assay" help --markdown >"$work/cli.md"
if ! diff -u "$src/docs/cli.md" "$work/cli.md" >"$work/cli.md.diff"; then
    echo "docs/cli.md is not what 'assay help --markdown' prints (regenerate it):" >&2
    head -40 "$work/cli.md.diff" >&2
    exit 1
fi
echo "docs/cli.md is current"

"$assay" policy schema >"$work/policy.schema.json"
if ! diff -u "$src/schemas/assay-policy-1.schema.json" "$work/policy.schema.json" \
    >"$work/schema.diff"; then
    echo "schemas/assay-policy-1.schema.json is not what 'assay policy schema' prints:" >&2
    head -40 "$work/schema.diff" >&2
    exit 1
fi
echo "the policy schema is current"

"$assay" help --man >"$work/assay.1"
grep -q '^\.TH ASSAY 1' "$work/assay.1"
if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww -z "$work/assay.1" 2>"$work/groff.log"
    if [ -s "$work/groff.log" ]; then
        cat "$work/groff.log" >&2
        exit 1
    fi
    echo "the man page renders without warnings"
fi

"$assay" completion bash >"$work/assay.bash"
bash -n "$work/assay.bash"
# complete WORDS... : prints the completions of the last word
complete_words() {
    bash -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _assay
        printf "%s\n" "${COMPREPLY[@]}"' _ "$work/assay.bash" "$@"
}
expect() { # WANTED WORDS...
    local want=$1 offered
    shift
    offered=$(complete_words "$@") # read whole: `| grep -q` fails under pipefail when it stops early
    if ! grep -qx -- "$want" <<<"$offered"; then
        echo "completing '$*' does not offer '$want'; it offers:" >&2
        echo "$offered" >&2
        exit 1
    fi
}
expect scan assay sc
expect --metric assay scan --met
expect l2 assay scan --metric ""
expect high assay scan --fail-on h
expect knn-label,spectre assay scan --skip knn-label,spec
expect spectral= assay scan --threshold spectr
expect backdoor assay scan --fail-kinds back
expect --sarif assay report render --sar
expect render assay report ""
expect --json-summary assay diff --json
expect merge assay mer
expect --shard assay scan --sha
expect --policy assay merge x.h5 parts --pol
if [ -n "$(complete_words assay knn --trut)" ]; then
    echo "knn offers --truth, a scan-only option" >&2
    exit 1
fi
if [ -n "$(complete_words assay merge x.h5 parts --grap)" ]; then
    echo "merge offers --graph, which builds or reuses a graph: not for merge" >&2
    exit 1
fi
echo "the bash completion completes commands, options and values"

#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer harness long (docs/fuzzing.md): builds the `fuzz` preset when needed,
# fuzzes each built fuzz_* for SECONDS (default 600) with 2 jobs on 2 workers, merges the
# inputs that add coverage back into tests/fuzz/corpus/<name>/ (-merge=1), and prints per
# harness the executions, the coverage of the merged corpus (cov = edges, ft = features) and
# its size. Crashes, leaks, timeouts and out-of-memory inputs are kept under
# build/fuzz/tests/fuzz/long/ and listed; the exit status is 1 when there is any.
#   tests/fuzz/run-long.sh [SECONDS_PER_HARNESS] [NAME...]
# Environment: ASSAY_FUZZ_JOBS (default 2), ASSAY_FUZZ_RSS_MB (default 2048).
set -eu
secs=${1:-600}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build/fuzz
jobs=${ASSAY_FUZZ_JOBS:-2}
rss=${ASSAY_FUZZ_RSS_MB:-2048}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_HARNESS] [NAME...]" >&2; exit 2 ;; esac

cd "$root"
[ -f "$build/CMakeCache.txt" ] || cmake --preset fuzz
cmake --build "$build" --target fuzz -j2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
long=$build/tests/fuzz/long
mkdir -p "$long"
found=0
printf '%-14s %8s %12s %7s %7s %7s %8s\n' harness cpu_s execs cov ft corpus crashes
for exe in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    name=${exe##*/fuzz_}
    if [ $# -gt 0 ]; then
        want=0
        for n in "$@"; do [ "$n" = "$name" ] && want=1; done
        [ $want = 1 ] || continue
    fi
    corpus=$root/tests/fuzz/corpus/$name
    work=$long/$name
    mkdir -p "$work" "$corpus"
    rm -f "$long/$name".job*.log
    # -jobs runs independent fuzzing processes on -workers processes; they share the scratch
    # corpus (each reloads what the others add). Each writes fuzz-<job>.log in its folder.
    # CPU seconds are measured (user + system of every job), not assumed: on a shared machine
    # the jobs get less than their wall time.
    timer=""
    [ -x /usr/bin/time ] && timer="/usr/bin/time -f %U,%S -o $long/$name.time"
    rm -f "$long/$name.time"
    (cd "$work" && $timer "$exe" -jobs="$jobs" \
        -workers="$jobs" -max_total_time="$secs" -timeout=10 -rss_limit_mb="$rss" \
        -print_final_stats=1 -artifact_prefix="$long/$name-" "$work" "$corpus" \
        >/dev/null 2>&1) || true
    cpu=$(awk -F, 'END { printf "%d", $1 + $2 }' "$long/$name.time" 2>/dev/null || echo "?")
    execs=0
    for log in "$work"/fuzz-*.log; do
        [ -f "$log" ] || continue
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        execs=$((execs + ${n:-0}))
        mv "$log" "$long/$name.job$(basename "$log" .log | sed 's/fuzz-//').log"
    done
    # Inputs that add coverage go into the repository's corpus.
    "$exe" -merge=1 -timeout=10 -rss_limit_mb="$rss" "$corpus" "$work" >"$long/$name.merge.log" 2>&1 || true
    stats=$("$exe" -runs=0 -rss_limit_mb="$rss" "$corpus" 2>&1 | sed -n 's/.*INITED cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p' | tail -n 1)
    files=$(find "$corpus" -type f | wc -l)
    crashes=$(find "$long" -maxdepth 1 -type f \( -name "$name-crash-*" -o -name "$name-leak-*" \
        -o -name "$name-timeout-*" -o -name "$name-oom-*" \) | wc -l)
    [ "$crashes" -gt 0 ] && found=1
    printf '%-14s %8s %12s %7s %7s %7s %8s\n' "$name" "$cpu" "$execs" \
        "${stats%% *}" "${stats##* }" "$files" "$crashes"
done
if [ $found = 1 ]; then
    echo "inputs that crashed, leaked, timed out or ran out of memory:" >&2
    find "$long" -maxdepth 1 -type f \( -name '*-crash-*' -o -name '*-leak-*' -o -name '*-timeout-*' \
        -o -name '*-oom-*' \) >&2
    echo "fix each, then keep it as a regression input in tests/fuzz/corpus/<name>/" >&2
    exit 1
fi

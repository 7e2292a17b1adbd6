#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Time and peak resident memory of one scan without and with --memory-limit, side by side.

    bench/memory_limit.py --assay build/release/assay --data DATA.h5 --work DIR \\
        [--limits 768M,512M] [--repeat 1] [-- extra scan options]

Each repeat runs the scan without a limit, then with each limit, alternated, under
/usr/bin/time (wall seconds, maximum resident set size of the process and its sandbox child),
and checks that the reports are the same (tests/normalize_report.py). Prints a Markdown table.
"""
import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import normalize_report  # noqa: E402


def scan(assay, data, out, extra, limit):
    shutil.rmtree(out, ignore_errors=True)
    cmd = ["/usr/bin/time", "-f", "TIME %e %M", assay, "scan", data, "--out", out, "-q", *extra]
    if limit:
        cmd += ["--memory-limit", limit]
    p = subprocess.run(cmd, capture_output=True, text=True)
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("TIME ")][-1].split()
    return p.returncode, float(line[1]), int(line[2]) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assay", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--limits", default="768M,512M")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    out = os.path.join(a.work, "out")
    rows = []
    for r in range(a.repeat):
        ref = None
        for limit in [""] + a.limits.split(","):
            rc, secs, peak = scan(a.assay, a.data, out, a.extra, limit)
            kept = os.path.join(a.work, f"r{r}-{limit or 'none'}")
            shutil.rmtree(kept, ignore_errors=True)
            os.rename(out, kept)
            same = "" if ref is None else (
                "same" if normalize_report.compare([ref, kept]) == 0 else "DIFFERENT")
            ref = ref or kept
            rows.append((limit or "none", rc, secs, peak, same))
            print(f"limit {limit or 'none'}: exit {rc}, {secs:.1f} s, peak {peak:.0f} MiB {same}",
                  file=sys.stderr)
    print("| --memory-limit | exit | wall s | peak RSS MiB | reports vs no limit |")
    print("|---|---|---|---|---|")
    for limit, rc, secs, peak, same in rows:
        print(f"| {limit} | {rc} | {secs:.1f} | {peak:.0f} | {same or '(reference)'} |")


if __name__ == "__main__":
    main()

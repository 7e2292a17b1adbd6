#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Times two builds of assay side by side on the same machine and data, alternating runs so that
a noisy neighbour hurts both alike: the whole scan, the neighbour graph and every detector, read
from the timings each scan's report.json records.

    compare_builds.py --old OLD/assay --new NEW/assay --input DATA.h5 [--runs 3] [--threads 2]
                      [--work DIR] [--md FILE] [-- EXTRA SCAN ARGS]

Prints (and with --md writes) a table of medians: old, new and new/old for the graph, each
detector and the whole scan. Used for the "no regression" figures of refactorings
(bench/RESULTS.md).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys


def scan(binary, data, out, threads, extra):
    cmd = [binary, "scan", data, "--out", out, "--threads", str(threads), "--quiet"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr))
    with open(os.path.join(out, "report.json")) as f:
        doc = json.load(f)
    t = {"graph": doc["timings_seconds"]["knn"], "detectors": doc["timings_seconds"]["detect"],
         "scan": doc["timings_seconds"]["scan_total"]}
    for d in doc["detectors"]:
        if d.get("seconds") is not None and d["ran"]:
            t["detector " + d["name"]] = d["seconds"]
    return t


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="compare-builds")
    ap.add_argument("--md")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    times = {"old": [], "new": []}
    for run in range(a.runs):
        for side in ("old", "new") if run % 2 == 0 else ("new", "old"):
            binary = a.old if side == "old" else a.new
            out = os.path.join(a.work, side)
            times[side].append(scan(binary, a.input, out, a.threads, a.extra))
            print("run %d %s: scan %.2f s" % (run + 1, side, times[side][-1]["scan"]),
                  file=sys.stderr)
    keys = [k for k in times["old"][0] if k in times["new"][0]]
    keys = keys[:3] + sorted(keys[3:])
    rows = ["| stage | old s | new s | new / old |", "|---|---|---|---|"]
    for k in keys:
        o = statistics.median(t[k] for t in times["old"])
        n = statistics.median(t[k] for t in times["new"])
        rows.append("| %s | %.3f | %.3f | %s |" % (k, o, n, "%.3f" % (n / o) if o > 0 else "-"))
    cpu = subprocess.run([a.new, "info"], capture_output=True, text=True).stdout
    info = " ".join(line.strip() for line in cpu.splitlines()
                    if line.startswith(("cpu features", "kernels used", "blas:")))
    env = ", ".join("%s=%s" % (v, os.environ.get(v, "(unset)"))
                    for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    text = "\n".join(rows) + (
        "\n\nMedians of %d alternating runs each, %d threads, on %s (%s). %s; %s. Command: "
        "`bench/compare_builds.py --old %s --new %s --input %s --runs %d --threads %d`\n"
        % (a.runs, a.threads, platform.node() or "this machine", platform.machine(), info, env,
           a.old, a.new, a.input, a.runs, a.threads))
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

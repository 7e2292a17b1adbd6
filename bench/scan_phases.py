#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Where a whole `assay scan` spends its time, each phase as a ratio to the neighbour graph.

    bench/scan_phases.py INPUT [--assay build/release/assay] [--threads 2] [--repeat 1]
                         [--out DIR] [--json FILE] [-- extra scan options]

Runs `assay scan INPUT --threads T --out DIR -q [extra]` (a default scan unless told otherwise)
and reads report.json's timings: load, fingerprint, knn (the graph), each detector's seconds and
detect (the detectors and the decision step). Two phases are not in report.json and are derived:

  combine  detect - the sum of the detectors' seconds (the decision step, assay__combine);
  reports  the process's wall time - load - fingerprint - scan_total: writing the report set,
           plus the CLI's own work and the process's start and exit (small next to the reports).

Issue 16's targets: detectors <= 0.2 x graph, reports <= 0.05 x graph. With --repeat N the scan
runs N times and each phase shows its median (and min-max). Debian's python3, standard library
only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGETS = {"detectors": 0.2, "reports": 0.05}


def run_once(a, out_dir, extra):
    cmd = [a.assay, "scan", a.input, "--threads", str(a.threads), "--out", out_dir, "-q"] + extra
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc not in (0, 1):  # 1: the gate failed, the reports are written
        sys.exit("scan_phases: %s exited %d" % (" ".join(cmd), rc))
    with open(os.path.join(out_dir, "report.json")) as f:
        doc = json.load(f)
    t = doc["timings_seconds"]
    ph = {"load": t["load"], "fingerprint": t["fingerprint"], "graph": t["knn"]}
    dets = [(d["name"], d["seconds"]) for d in doc["detectors"] if d.get("ran", True)]
    for name, s in dets:
        ph["detector " + name] = s
    ph["detectors"] = sum(s for _, s in dets)
    ph["combine"] = t["detect"] - ph["detectors"]
    ph["reports"] = wall - t["load"] - t["fingerprint"] - t["scan_total"]
    ph["wall"] = wall
    info = {
        "rows": doc["input"].get("rows"),
        "dims": doc["input"].get("dims"),
        "k": doc["parameters"].get("k"),
        "metric": doc["parameters"].get("metric"),
        "peak_rss_mib": ru.ru_maxrss / 1024.0,
    }
    return ph, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("--assay", default="build/release/assay")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", help="report folder (default: a temporary folder, removed)")
    ap.add_argument("--json", help="also write the runs' phase times to this file")
    a, extra = ap.parse_known_args()
    if extra and extra[0] == "--":
        extra = extra[1:]
    runs, info = [], None
    with tempfile.TemporaryDirectory(prefix="scan_phases.") as tmp:
        out_dir = a.out or os.path.join(tmp, "report")
        for i in range(a.repeat):
            ph, info = run_once(a, out_dir, extra)
            runs.append(ph)
            print("run %d/%d: wall %.2f s, graph %.2f s" % (i + 1, a.repeat, ph["wall"],
                                                           ph["graph"]), file=sys.stderr)
    names = list(runs[0].keys())
    med = {n: statistics.median(r[n] for r in runs) for n in names}
    graph = med["graph"]
    print("assay scan %s --threads %d%s: %s rows x %s dims, k = %s, %s; %d run%s, median; "
          "peak RSS %.0f MiB" % (a.input, a.threads, " " + " ".join(extra) if extra else "",
                                 info["rows"], info["dims"], info["k"], info["metric"], a.repeat,
                                 "" if a.repeat == 1 else "s", info["peak_rss_mib"]))
    print()
    print("| phase | seconds | x graph | min-max s | target |")
    print("|---|---:|---:|---:|---|")
    for n in names:
        lo, hi = min(r[n] for r in runs), max(r[n] for r in runs)
        ratio = med[n] / graph if graph > 0 else float("nan")
        target = ""
        if n in TARGETS:
            target = "<= %.2f: %s" % (TARGETS[n], "met" if ratio <= TARGETS[n] else "missed")
        label = "**%s**" % n if n in ("graph", "detectors", "reports", "wall") else n
        print("| %s | %.3f | %.3f | %.3f-%.3f | %s |" % (label, med[n], ratio, lo, hi, target))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"input": a.input, "threads": a.threads, "extra": extra, "info": info,
                       "runs": runs, "median": med}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

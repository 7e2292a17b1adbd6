#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What sharding costs and gains (issue 17, part 4), in one run, on one dataset:

  - the one-process scan (--threads T), its graph time and its whole time;
  - P shards run T at a time with one thread each (T machines of one core, or one Slurm array
    with T slots), then 'assay merge' with T threads: the wall time of the shard phase, of the
    merge (reading and checking the shards, then the detectors and reports), and of both;
  - each shard's time, and the sum of the shards' graph times against the one-process graph's
    (T threads x time): what the split adds (each shard loads the data, computes the norms and
    runs the precision pilot again);
  - that the merged reports equal the one-process scan's (tests/normalize_report.py after
    removing the command line and the graph's source).

usage: bench_shards.py ASSAY DATA.h5 WORKDIR [--threads T] [--shards 2,4,8] [scan options...]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def run(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
    return time.monotonic() - t0


def graph_seconds(report):
    with open(report) as f:
        return json.load(f)["timings_seconds"]["knn"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("assay")
    ap.add_argument("data")
    ap.add_argument("work")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shards", default="2,4,8")
    args, scan_opts = ap.parse_known_args()
    T = args.threads
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    w = lambda *p: os.path.join(args.work, *p)  # noqa: E731
    base = [args.assay, "scan", args.data, "-q", "--exit-zero"] + scan_opts
    one_wall = run(base + ["--threads", str(T), "--out", w("one")])
    one_graph = graph_seconds(w("one", "report.json"))
    print("one process, %d threads: scan %.2f s, graph %.2f s" % (T, one_wall, one_graph))
    print("| shards | shard phase (wall, %d at a time) | slowest shard | sum of shard times | "
          "sum / (%d x one-process graph) | merge (wall) | shards + merge | one-process scan | "
          "same reports |" % (T, T))
    print("|---|---|---|---|---|---|---|---|---|")
    for P in [int(x) for x in args.shards.split(",")]:
        parts = w("parts%d" % P)
        times = [0.0] * P
        t0 = time.monotonic()
        running = []
        for i in range(P):
            cmd = base + ["--shard", "%d/%d" % (i, P), "--threads", "1", "--out", parts]
            running.append((i, time.monotonic(), subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                                  stderr=subprocess.PIPE)))
            while len(running) >= T or (i == P - 1 and running):
                j, s, p = running.pop(0)
                if p.wait() != 0:
                    sys.exit("shard %d/%d failed: %s" % (j, P, p.stderr.read().decode()))
                times[j] = time.monotonic() - s
        phase = time.monotonic() - t0
        merge = run([args.assay, "merge", args.data, parts, "-q", "--exit-zero", "--threads",
                     str(T), "--out", w("merged%d" % P)] + scan_opts)
        same = subprocess.run([sys.executable, os.path.join(os.path.dirname(
            os.path.abspath(__file__)), "..", "tests", "scan", "shards_merge.py"), "--compare",
            w("one"), w("merged%d" % P)], capture_output=True, text=True).returncode == 0
        print("| %d | %.2f s | %.2f s | %.2f s | %.2f | %.2f s | %.2f s | %.2f s | %s |"
              % (P, phase, max(times), sum(times), sum(times) / (T * one_graph), merge,
                 phase + merge, one_wall, "yes" if same else "NO"))


if __name__ == "__main__":
    main()

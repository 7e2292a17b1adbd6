#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The neighbour graph under mpirun (issue 17, part 1), in one run, on one dataset: the
parallel efficiency time(1 rank x T threads) / time(T ranks x 1 thread), with T the machine's
cores, and the peak memory of every rank.

Each configuration runs --repeat times, alternated (the machines are shared and noisy), and the
median of report.json's graph time (timings_seconds.knn, rank 0's: it ends after the lists are
gathered) and of the wall time is printed; every rank runs under /usr/bin/time for its peak RSS.
The reports of every configuration must equal the one-process scan's (tests/normalize_report.py).

usage: bench_mpi.py ASSAY DATA.h5 WORKDIR [--cores T] [--repeat R] [--ranks 2,4] [scan options]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import normalize_report  # noqa: E402


def run(cmd, cwd):
    os.makedirs(cwd, exist_ok=True)
    shutil.rmtree(os.path.join(cwd, "report"), ignore_errors=True)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    wall = time.monotonic() - t0
    if p.returncode not in (0, 1):
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-2000:]))
    with open(os.path.join(cwd, "report", "report.json")) as f:
        knn = json.load(f)["timings_seconds"]["knn"]
    rss = [int(m) / 1024.0 for m in re.findall(r"^maxrss_kb=(\d+)$", p.stderr, re.M)]
    return wall, knn, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("assay")
    ap.add_argument("data")
    ap.add_argument("work")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ranks", default="")
    ap.add_argument("--mpirun", default="mpirun")
    args, scan_opts = ap.parse_known_args()
    T = args.cores
    data = os.path.abspath(args.data)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    timed = ["/usr/bin/time", "-f", "maxrss_kb=%M"]
    scan = [os.path.abspath(args.assay), "scan", data, "--out", "report", "-q", *scan_opts]
    mpi = [args.mpirun, "--allow-run-as-root", "--oversubscribe"]
    configs = [("1 process x %d threads (no mpirun)" % T, timed + scan + ["--threads", str(T)]),
               ("1 rank x %d threads" % T,
                mpi + ["--bind-to", "none", "-n", "1"] + timed + scan + ["--threads", str(T)]),
               ("%d ranks x 1 thread" % T, mpi + ["-n", str(T)] + timed + scan + ["--threads", "1"])]
    for r in [int(x) for x in args.ranks.split(",") if x]:
        configs.append(("%d ranks x 1 thread (oversubscribed)" % r,
                        mpi + ["-n", str(r)] + timed + scan + ["--threads", "1"]))
    results = {name: [] for name, _ in configs}
    for rep in range(args.repeat):
        for i, (name, cmd) in enumerate(configs):
            results[name].append(run(cmd, os.path.join(args.work, "c%d" % i)))
    same = normalize_report.compare([os.path.join(args.work, "c%d" % i, "report")
                                     for i in range(len(configs))]) == 0
    print("\n| configuration | graph (median s) | wall (median s) | peak RSS per rank (MiB) |")
    print("|---|---|---|---|")
    med = {}
    for name, _ in configs:
        knn = statistics.median(r[1] for r in results[name])
        wall = statistics.median(r[0] for r in results[name])
        rss = results[name][-1][2]
        med[name] = knn
        print("| %s | %.2f | %.2f | %s |" % (name, knn, wall, ", ".join("%.0f" % m for m in rss)))
    one, ranks = configs[1][0], configs[2][0]
    print("\nparallel efficiency of the graph, time(%s) / time(%s): %.3f" %
          (one, ranks, med[one] / med[ranks]))
    print("reports equal across configurations: %s" % ("yes" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

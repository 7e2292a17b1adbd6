#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Peak memory of a whole `assay scan` against the number of findings (issue 17, part 2).

    bench/findings_memory.py [--assay build/release/assay] [--rows 100000] [--dims 128]
                             [--flips 0,0.05,0.2] [--threads 2] [--work DIR]

Writes one clustered dataset (10 Gaussian classes, seed 3) and copies of it with a share of the
labels moved to another class, scans each with default options, and prints the findings, the
size of report.json and the process's peak RSS (getrusage of the child) as a Markdown table.
The matrix and the graph are the same in every row, so what grows is what the findings cost.
Debian's python3 with numpy and h5py.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import h5py
import numpy as np


def write(path, X, y):
    with h5py.File(path, "w") as f:
        f["embeddings"] = X
        f["labels"] = y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assay", default="build/release/assay")
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--dims", type=int, default=128)
    ap.add_argument("--flips", default="0,0.05,0.2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", help="folder for the data and reports (default: temporary)")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="assay-findings-mem-")
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(3)
    k = 10
    centres = rng.normal(0.0, 1.0, (k, a.dims))
    y = rng.integers(0, k, a.rows)
    X = (centres[y] + rng.normal(0.0, 1.2, (a.rows, a.dims))).astype(np.float32)
    print("| labels moved | findings | report.json MB | wall s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for frac in [float(f) for f in a.flips.split(",")]:
        yy = y.copy()
        idx = rng.choice(a.rows, int(frac * a.rows), replace=False)
        yy[idx] = (yy[idx] + rng.integers(1, k, len(idx))) % k
        data = os.path.join(work, "flip%g.h5" % frac)
        out = os.path.join(work, "out%g" % frac)
        write(data, X, yy)
        cmd = [a.assay, "scan", data, "--out", out, "--threads", str(a.threads), "-q"]
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        rc = os.waitstatus_to_exitcode(status)
        if rc not in (0, 1):
            raise SystemExit("%s exited %d" % (" ".join(cmd), rc))
        with open(os.path.join(out, "report.json")) as f:
            n_findings = len(json.load(f)["findings"])
        size = os.path.getsize(os.path.join(out, "report.json")) / 1e6
        print("| %.0f%% | %d | %.1f | %.2f | %.0f |" % (100 * frac, n_findings, size, wall,
                                                      ru.ru_maxrss / 1024.0))


if __name__ == "__main__":
    main()

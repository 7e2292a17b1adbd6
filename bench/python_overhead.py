#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Side by side, interleaved in one run: the same scan through the command line and through the
Python package (issue 15's targets).

- Wall time: `assay scan emb.npy --labels-file labels.npy --out DIR` as a process, against
  `assay.scan(X, y)` + `result.write(DIR)` inside a Python process that already holds X (the
  array a user has in memory), median of --runs interleaved runs each. Target: the Python scan
  within 5% of the CLI.
- Memory: the CLI's peak RSS, against the Python process's peak RSS during the scan minus its
  RSS just before it (X already loaded). Target: the Python extra at most the CLI's peak minus
  the array's size plus 64 MiB (no second copy of X). The same with copy=True shows what a copy
  costs.

Run with Debian's interpreter after `pip install --no-build-isolation .` (see docs/python.md):

    /usr/bin/python3 bench/python_overhead.py --build build/release [--md bench/RESULTS.md]
    /usr/bin/python3 bench/python_overhead.py --build build/release --rows 10000 --runs 3  # quick

Data: Fashion-MNIST train (assay-fmnist --clean, float32 784 pixels/255). Not a test.
"""
import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

BEGIN, END = "<!-- python_overhead:begin -->", "<!-- python_overhead:end -->"

# Runs in a fresh interpreter: load X, then time scan + write and read the peak RSS around it.
CHILD = r"""
import json, resource, sys, time
import numpy as np
import assay
emb, labels, out, copy, threads = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", int(sys.argv[5])
X = np.load(emb)
y = np.load(labels)
def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
before = rss_kib()
t0 = time.monotonic()
r = assay.scan(X, y, copy=copy, threads=threads)
t1 = time.monotonic()
r.write(out)
t2 = time.monotonic()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"scan": t1 - t0, "total": t2 - t0, "before_kib": before, "peak_kib": peak,
                  "verdict": r.verdict, "flagged": int(r.scores["flagged"].sum())}))
"""


def cli_run(assay, emb, labels, out, threads):
    t0 = time.monotonic()
    pid = os.spawnv(os.P_NOWAIT, assay, [assay, "scan", emb, "--labels-file", labels, "--out", out,
                                         "--quiet", "--threads", str(threads)])
    _, status, ru = os.wait4(pid, 0)
    seconds = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"assay scan failed with exit code {code}")
    return seconds, ru.ru_maxrss


def py_run(python, emb, labels, out, copy, threads):
    res = subprocess.run([python, "-c", CHILD, emb, labels, out, "1" if copy else "0",
                          str(threads)], check=True, capture_output=True, text=True)
    import json
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", required=True, help="CMake build folder (assay, assay-fmnist)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with assay installed")
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--md", help="write the table into this file between the markers")
    a = ap.parse_args()
    assay = os.path.join(a.build, "assay")
    with tempfile.TemporaryDirectory(prefix="assay-pyover-") as work:
        data = os.path.join(work, "fm") + "/"
        subprocess.run([os.path.join(a.build, "assay-fmnist"), "--clean", "--rows", str(a.rows),
                        "--out", data], check=True, capture_output=True)
        emb, labels = data + "emb.npy", data + "labels.npy"
        array_mib = os.path.getsize(emb) / 2**20
        cli_t, cli_rss, py_t, py_scan, py_extra, cp_extra = [], [], [], [], [], []
        for i in range(a.runs):  # interleaved: the machine's load hits both alike
            t, rss = cli_run(assay, emb, labels, os.path.join(work, f"cli{i}"), a.threads)
            cli_t.append(t)
            cli_rss.append(rss / 1024)
            r = py_run(a.python, emb, labels, os.path.join(work, f"py{i}"), False, a.threads)
            py_t.append(r["total"])
            py_scan.append(r["scan"])
            py_extra.append((r["peak_kib"] - r["before_kib"]) / 1024)
            r = py_run(a.python, emb, labels, os.path.join(work, f"cp{i}"), True, a.threads)
            cp_extra.append((r["peak_kib"] - r["before_kib"]) / 1024)
            print(f"run {i + 1}: cli {t:.2f} s {rss / 1024:.0f} MiB; python {py_t[-1]:.2f} s "
                  f"(scan {py_scan[-1]:.2f}) +{py_extra[-1]:.0f} MiB; copy=True "
                  f"+{cp_extra[-1]:.0f} MiB", file=sys.stderr)
    med = statistics.median
    ratio = med(py_t) / med(cli_t)
    budget = med(cli_rss) - array_mib + 64
    info = subprocess.run([assay, "info"], capture_output=True, text=True).stdout
    isa = next((l.split(":", 1)[1].strip() for l in info.splitlines()
                if l.startswith("kernels used")), "?")
    lines = [
        f"`{' '.join(sys.argv)}` on {platform.node()}, {a.rows} x 784 float32 "
        f"({array_mib:.0f} MiB), {a.threads} threads, kernels {isa}; medians of {a.runs} "
        "interleaved runs",
        "",
        "| | command line | Python (`assay.scan` + `write`) | ratio | target |",
        "|---|---|---|---|---|",
        f"| wall time | {med(cli_t):.2f} s | {med(py_t):.2f} s (scan alone {med(py_scan):.2f} s) "
        f"| {ratio:.3f} | <= 1.05: {'met' if ratio <= 1.05 else 'missed'} |",
        f"| memory | peak {med(cli_rss):.0f} MiB | +{med(py_extra):.0f} MiB during the scan "
        f"(copy=True: +{med(cp_extra):.0f} MiB) | | <= {budget:.0f} MiB (CLI peak - array + 64): "
        f"{'met' if med(py_extra) <= budget else 'missed'} |",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    if a.md:
        with open(a.md) as f:
            page = f.read()
        b, e = page.find(BEGIN), page.find(END)
        if b < 0 or e < b:
            sys.exit(f"{a.md} has no {BEGIN} ... {END} block")
        with open(a.md, "w") as f:
            f.write(page[:b + len(BEGIN)] + "\n" + table + page[e:])


if __name__ == "__main__":
    main()

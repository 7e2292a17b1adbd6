#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""End to end, as a user runs it: clean files that look like poison to naive statistics pass a
default `assay scan` (exit 0, warnings allowed, at most 0.5% of rows at high severity), and the
same files with a backdoor planted fail it (so the gate is not simply off).

  - wine as scikit-learn ships it: sorted by class (a row-order effect: warns, rows not flagged);
  - digits as shipped: class 1 holds a natural sub-style (serif ones) that spectral and SPECTRE
    separate like a trigger (it warns as a sub-style, its rows are not flagged);
  - a time-ordered table whose class centres drift;
  - classes made of 2-3 well separated natural sub-styles (every class split by an empty gap:
    the cluster test's index across classes keeps it quiet);
  - controls: digits with a 2x2 corner patch on 3% of the rows relabelled 0, and the sorted wine
    with 6 conflicting exact copies, fail.

Usage: clean_files_pass.py ASSAY WORKDIR (CTest: scan_clean_files_pass)."""
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "quality"))
import run_suite as suite  # noqa: E402  (the suite's loaders, generators and writers)


def scan(assay, work, name, x, y):
    path = os.path.join(work, name + ".h5")
    attack = np.array(["none"] * len(y), dtype=object)
    suite.write_file(path, path + ".truth.csv", x, y, attack, np.full(len(y), -1))
    out = os.path.join(work, name + ".scan")
    shutil.rmtree(out, ignore_errors=True)
    run = subprocess.run([assay, "scan", path, "--out", out, "-q"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if run.returncode not in (0, 1):
        sys.exit("%s: exit %d\n%s" % (name, run.returncode, run.stderr))
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    high = 0
    with open(os.path.join(out, "scores.csv")) as f:
        flagged = sum(int(r["flagged"]) for r in csv.DictReader(f))
    for line in open(os.path.join(out, "findings.jsonl")):
        high += json.loads(line)["severity"] == "high"
    return run.returncode, report, high, flagged


def significant(report, detector):
    return [t for t in report["tests"] if t["detector"] == detector and t["significant"]]


def main():
    assay, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    failures = []

    def expect(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    def clean(name, x, y, check=None):
        code, report, high, flagged = scan(assay, work, name, x, y)
        expect(code == 0, "%s: clean file passes (exit %d, reason: %s)"
               % (name, code, report["gate"].get("reason", "")))
        expect(high <= 0.005 * len(y), "%s: %d rows at high severity (<= 0.5%% of %d)"
               % (name, high, len(y)))
        if check:
            check(report, flagged)
        return report

    x, y = suite.load_sklearn("wine")
    wine = suite.transform({"std": True}, x)

    def sorted_file(report, flagged):
        order = significant(report, "ordering")
        expect(bool(order) and all(t["gate"] == "warn" for t in order),
               "wine: the row-order test is significant and warns")
        expect(flagged == 0, "wine: the sorted block's rows are not flagged (%d flagged)" % flagged)
    clean("wine_sorted", wine, y, sorted_file)

    dx, dy = suite.load_sklearn("digits")

    def substyle(report, flagged):
        sub = significant(report, "spectral") + significant(report, "spectre")
        expect(bool(sub) and all(t["class"] == "1" and t["gate"] == "warn" and
                                 "sub-style" in t["detail"] for t in sub),
               "digits: class 1's serif ones are reported as a sub-style and warn")
    clean("digits", dx, dy, substyle)

    rng = np.random.default_rng(12)
    xs, ys = suite.synth_drift(rng)
    clean("drift", xs, ys)
    xs, ys = suite.synth_substyles(rng)
    clean("substyles", suite.transform({"std": True}, xs), ys)

    # controls: the same kinds of file with poison planted fail the gate
    px, py = dx.copy(), dy.copy()
    suite.plant_patch(px, py, np.random.default_rng(5), 0.03, (8, 8),
                      np.array(["none"] * len(py), dtype=object), np.full(len(py), -1))
    code, report, _, _ = scan(assay, work, "digits_badnets3", px, py)
    expect(code == 1 and any(t["gate"] == "fail" for t in significant(report, "spectral")),
           "digits with a 3%% corner patch fails on spectral (exit %d)" % code)
    wx, wy = wine.copy(), y.copy()
    for i, j in enumerate(range(0, 60, 10)):  # 6 copies of class-0 rows relabelled 2
        k = len(wy) - 1 - i
        wx[k], wy[k] = wx[j], 2
    code, report, _, _ = scan(assay, work, "wine_conflicts", wx, wy)
    expect(code == 1, "sorted wine with 6 conflicting exact copies fails (exit %d, %s)"
           % (code, report["gate"].get("reason", "")))

    if failures:
        sys.exit("%d check(s) failed" % len(failures))


if __name__ == "__main__":
    main()

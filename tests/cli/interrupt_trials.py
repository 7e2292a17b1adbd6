#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Interrupted scans (issue 14): `assay scan` of a 20,000 x 128 dataset is sent SIGINT or SIGTERM
at random moments; after every trial the report folder must hold the previous report set byte for
byte (or, when the scan finished first, a complete new set matching its .assay-commit record),
and no temporary file or staging folder may be left anywhere under the work folder.

usage: interrupt_trials.py ASSAY WORKDIR [--trials N] [--seed S] [--rows N] [--dims D]

CTest runs 10 trials; bench/interrupted_scans.sh runs 100 (bench/RESULTS.md, "Interrupted scans
(issue 14)"). A third of the moments fall between just before the report phase (as timed on the
first scan) and the scan's end, where the reports are written and committed; the rest anywhere in
it. The stage each signal hit is read from the scan's --progress lines. Exit 0 when every trial passed."""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np


def snapshot(folder):
    """{name: sha256} of every file in folder (hidden ones included); folders as None."""
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            out[name] = None
        else:
            with open(path, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def leftovers(root):
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if ".tmp-" in name or ".assay-staging" in name:
                bad.append(os.path.join(dirpath, name))
    return bad


def record_problems(folder):
    """What is wrong with the set as its commit record describes it (empty when complete)."""
    try:
        with open(os.path.join(folder, ".assay-commit")) as f:
            rec = json.load(f)
    except (OSError, ValueError) as e:
        return ["no readable .assay-commit: %s" % e]
    if rec.get("schema") != "assay-commit/1":
        return ["unexpected schema %r" % rec.get("schema")]
    snap = snapshot(folder)
    problems = []
    for name, entry in rec.get("files", {}).items():
        if snap.get(name) != entry.get("sha256"):
            problems.append("%s does not match its digest" % name)
    for required in ("report.json", "manifest.json", "scores.csv"):
        if required not in rec.get("files", {}):
            problems.append("%s is not in the record" % required)
    return problems


def run_scan(assay, data, labels, out):
    # --progress: plain "assay: STAGE started" lines on stderr tell which phase a signal hit
    return [assay, "scan", data, "--labels-file", labels, "--out", out, "--progress"]


def last_stage(stderr_text):
    stage = "start"
    for line in stderr_text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "assay:" and words[2] == "started":
            stage = words[1]
    return stage


def default_signals():
    # a scan started from a background shell inherits SIGINT ignored (and assay keeps an ignored
    # signal ignored, as shells expect): the trials want the default disposition
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("assay")
    ap.add_argument("workdir")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--dims", type=int, default=128)
    a = ap.parse_args()
    started = time.monotonic()
    rng = random.Random(a.seed)
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    gen = np.random.default_rng(a.seed)
    classes = 10
    centres = gen.normal(0, 4, size=(classes, a.dims)).astype(np.float32)
    y = gen.integers(0, classes, size=a.rows).astype(np.int64)
    x = centres[y] + gen.normal(0, 1, size=(a.rows, a.dims)).astype(np.float32)
    flip = gen.random(a.rows) < 0.02
    y[flip] = (y[flip] + 1) % classes
    data = os.path.join(a.workdir, "x.npy")
    labels = os.path.join(a.workdir, "y.npy")
    np.save(data, x)
    np.save(labels, y)
    out = os.path.join(a.workdir, "report")
    cmd = run_scan(a.assay, data, labels, out)

    # the first scan, timed stage by stage: when its report phase starts
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=default_signals)
    report_at = None
    for raw in p.stderr:
        if last_stage(raw.decode(errors="replace")) == "report" and report_at is None:
            report_at = time.monotonic() - t0
    rc = p.wait()
    full = time.monotonic() - t0
    if report_at is None:
        report_at = 0.85 * full
    if rc not in (0, 1):
        print("the first scan failed with exit code %d" % rc, file=sys.stderr)
        return 1
    problems = record_problems(out)
    if problems:
        print("the first scan's set is incomplete: %s" % "; ".join(problems), file=sys.stderr)
        return 1
    previous = snapshot(out)

    interrupted = completed = failures = early = 0
    by_signal, by_stage = {}, {}
    for t in range(a.trials):
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        late = t % 3 == 2
        delay = rng.uniform(report_at - 0.05 * full, full) if late else rng.uniform(0.0, full)
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             preexec_fn=default_signals)
        time.sleep(delay)
        p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            print("trial %d: no exit within 120 s of %s" % (t, sig.name), file=sys.stderr)
            failures += 1
            continue
        rc = p.returncode
        what = []
        if rc == 128 + sig:
            interrupted += 1
            by_signal[sig.name] = by_signal.get(sig.name, 0) + 1
            stage = last_stage(err.decode(errors="replace"))
            by_stage[stage] = by_stage.get(stage, 0) + 1
            now = snapshot(out)
            if now != previous:
                changed = sorted(n for n in set(now) | set(previous) if now.get(n) != previous.get(n))
                what.append("the previous report changed: %s" % ", ".join(changed))
        elif rc == -sig and not err.strip():
            # the signal came before assay's main installed its handlers (the process was still
            # being loaded: likely on a busy machine with a delay near 0): killed by the default
            # action before it could write anything; the checks below still apply
            early += 1
            if snapshot(out) != previous:
                what.append("the previous report changed although assay had not started")
        elif rc in (0, 1):  # finished before the signal arrived, or it came after the commit
            completed += 1
            what.extend(record_problems(out))
            previous = snapshot(out)
        else:
            what.append("exit code %d after %s (stderr: %s)" % (rc, sig.name,
                                                                 err.decode(errors="replace")[-300:]))
        left = leftovers(a.workdir)
        if left:
            what.append("temporaries left: %s" % ", ".join(left))
        if what:
            failures += 1
            print("trial %d (%s at %.2f s): %s" % (t, sig.name, delay, "; ".join(what)),
                  file=sys.stderr)
    elapsed = time.monotonic() - started
    print("interrupt trials: %d trials on %d x %d (a full scan %.2f s, reports from %.2f s): "
          "%d interrupted (%s; in stage %s), %d finished first, %d before assay started, "
          "%d failed; %.1f s in all" %
          (a.trials, a.rows, a.dims, full, report_at, interrupted,
           ", ".join("%s %d" % kv for kv in sorted(by_signal.items())) or "none",
           ", ".join("%s %d" % kv for kv in sorted(by_stage.items())) or "none", completed,
           early, failures, elapsed))
    if interrupted == 0:
        print("no trial interrupted a scan: the moments are not random enough", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

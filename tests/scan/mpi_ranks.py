#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mpirun -n P assay scan (issue 17, part 1), started as users start it: Open MPI's mpirun on
this machine (--oversubscribe, as root in CI: --allow-run-as-root).

For P = 1, 2, 3, 4 (and P = 2 with the default threads, where rank 0 takes the machine's cores
after the graph) the report folder equals the one-process scan's (same binary, no mpirun)
after removing times and the thread and rank counts, with the same exit code: an HDF5 file with
rows left out of the graph (non-finite), L2 with float32 candidates, and cosine with int8 and
bf16 candidates forced. report.json records the ranks. Options that cannot run as ranks exit 2
with a message and leave no report folder. A rank killed by SIGKILL during the graph, and SIGINT
sent to mpirun, end the job (mpirun exits 137, and 1 after SIGINT: docs/mpi.md) with the
previous report set byte for byte and no temporary left.

usage: mpi_ranks.py ASSAY MPIEXEC WORKDIR"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import normalize_report  # noqa: E402

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def make_data(path, n, d, seed):
    g = np.random.default_rng(seed)
    centres = g.normal(0, 3, (8, d))
    y = g.integers(0, 8, n)
    x = (centres[y] + g.normal(0, 1, (n, d))).astype(np.float32)
    flip = g.random(n) < 0.02
    y[flip] = (y[flip] + 1) % 8
    x[g.random(n) < 0.005, 0] = np.nan  # left out of the graph
    with h5py.File(path, "w") as h:
        h["embeddings"] = x
        h["labels"] = y


def snapshot(folder):
    """{name: sha256} of every file in folder, hidden ones included."""
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def rank_pid(rank, marker):
    """The pid of MPI rank `rank` of the job whose command line holds `marker` (or None)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read().split(b"\0")
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env and marker.encode() in cmd:
                return int(pid)
        time.sleep(0.05)
    return None


def mpirun(p):
    return [MPIEXEC, "--allow-run-as-root", "--oversubscribe", "-n", str(p)]


def scan(cwd, prefix, data, extra):
    os.makedirs(cwd, exist_ok=True)
    shutil.rmtree(os.path.join(cwd, "report"), ignore_errors=True)
    # the same command line in every folder: report.json records it
    cmd = prefix + [ASSAY, "scan", data, "--out", "report", "-q", *extra]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def main():
    global ASSAY, MPIEXEC
    ASSAY, MPIEXEC, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "d.h5")
    make_data(data, 2600, 40, 3)
    cases = [("l2", ["--metric", "l2", "-k", "7"], {}),
             ("int8", ["--precision", "int8"], {}),
             ("bf16", ["--precision", "bf16", "--expected-poison", "0.03"], {})]
    for name, extra, _ in cases:
        one = os.path.join(work, name, "one")
        rc1, _, err = scan(one, [], data, extra + ["--threads", "2"])
        check(rc1 in (0, 1), f"{name}: one-process scan exits 0 or 1, got {rc1}: {err}")
        for p in (1, 2, 3, 4):
            folder = os.path.join(work, name, f"ranks{p}")
            rc, out, err = scan(folder, mpirun(p), data, extra + ["--threads", "1"])
            check(rc == rc1, f"{name}, {p} ranks: exit {rc1} as one process, got {rc}: {err}")
            a, b = os.path.join(one, "report"), os.path.join(folder, "report")
            if not os.path.isdir(b):
                check(False, f"{name}, {p} ranks: no report folder")
                continue
            check(normalize_report.compare([a, b]) == 0,
                  f"{name}, {p} ranks: reports differ from one process's")
            with open(os.path.join(b, "report.json")) as f:
                rep = json.load(f)
            check(rep["tool"]["ranks"] == p, f"{name}: report.json tool.ranks {rep['tool']}")
        if name == "l2":  # default threads: ranks split the cores, rank 0 takes them all after
            folder = os.path.join(work, name, "ranks2-default-threads")
            rc, out, err = scan(folder, mpirun(2), data, extra)
            check(rc == rc1 and normalize_report.compare(
                [os.path.join(one, "report"), os.path.join(folder, "report")]) == 0,
                f"{name}, 2 ranks with default threads: same exit and reports, got {rc}: {err}")

    # options that cannot run as ranks: exit 2, a message, no report folder
    for extra, needle in ((["--graph-method", "approx"], "--graph-method approx runs in one"),
                          (["--shard", "0/2"], "--shard splits the work without MPI")):
        folder = os.path.join(work, "refused")
        rc, out, err = scan(folder, mpirun(2), data, extra)
        check(rc == 2, f"mpirun with {extra}: exit 2, got {rc}: {err}")
        check(needle in err, f"mpirun with {extra}: message '{needle}' in {err!r}")
        check(not os.path.exists(os.path.join(folder, "report")), f"{extra}: no report folder")
    p = subprocess.run(mpirun(2) + [ASSAY, "knn", data, "--out", os.path.join(work, "g.h5")],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 2 and "only assay scan runs as MPI ranks" in p.stderr,
          f"mpirun assay knn: exit 2 with a message, got {p.returncode}: {p.stderr}")

    # a rank killed during the graph, and mpirun interrupted: the previous reports stay
    big = os.path.join(work, "big.h5")
    make_data(big, 30000, 96, 4)
    folder = os.path.join(work, "killed")
    cmd = mpirun(2) + [ASSAY, "scan", big, "--out", "report", "--progress", "--threads", "1"]
    rc, _, err = scan(folder, mpirun(2), big, ["--threads", "1"])
    check(rc in (0, 1), f"the scan before the interruptions: {err}")
    before = snapshot(os.path.join(folder, "report")) if rc in (0, 1) else None
    for how in ("kill rank 1", "SIGINT to mpirun"):
        proc = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:  # rank 0's progress: wait for the graph
            if "knn" in line:
                break
        if how == "SIGINT to mpirun":
            proc.send_signal(signal.SIGINT)
        else:
            victim = rank_pid(1, big)
            check(victim is not None, "found rank 1's process")
            if victim is not None:
                os.kill(victim, signal.SIGKILL)
        proc.stderr.read()
        rc = proc.wait(timeout=120)
        print(f"mpirun exit code after {how}: {rc}")
        check(rc not in (0,) and (rc != 1 or how == "SIGINT to mpirun"),
              f"{how}: the job fails, got exit {rc}")
        after = snapshot(os.path.join(folder, "report"))
        check(before is not None and after == before, f"{how}: the previous reports changed")
        left = [n for d, _, files in os.walk(folder) for n in files + [d]
                if ".tmp-" in n or "staging" in n]
        check(not left, f"{how}: temporaries left {left}")

    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("mpi ranks: reports equal to one process for 1-4 ranks (l2, int8, bf16); refusals, a "
          "killed rank and an interrupted mpirun checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())

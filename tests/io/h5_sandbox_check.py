#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The HDF5 sandbox through the real binary (issue 14, part 1).

usage: h5_sandbox_check.py ASSAY WORKDIR [sanitize=0|1] [crash-dir]

Checks: a tiny file declaring two million rows is refused within 1 s and 100 MB; a crash, a hang
and a limit in the child become exit 2, 2 and 3 with a message naming the file; --no-sandbox
reads the same data; a label over --max-label-bytes' default is refused naming the row; the
50-bit-flip sweep of a valid dataset file and of a valid graph file gives no signal, no hang and
an exit code in {0, 1, 2}; every file in crash-dir (inputs that crash libhdf5 itself) is contained
(exit 2, never a signal or a hang)."""
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

ASSAY, WORK = sys.argv[1], sys.argv[2]
SANITIZE = len(sys.argv) > 3 and sys.argv[3] == "1"
CRASH_DIR = sys.argv[4] if len(sys.argv) > 4 else None
FLIPS = 50
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args, env_extra=None, timeout=30):
    env = dict(os.environ)
    env.pop("ASSAY_TEST_SANDBOX", None)
    env.update(env_extra or {})
    t0 = time.monotonic()
    p = subprocess.Popen([ASSAY] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    # A sanitizer report from the reader's child is expected on a hostile file (ASan builds);
    # one from the assay process itself is a failure.
    check(f"=={p.pid}==ERROR" not in err and "runtime error" not in err,
          f"sanitizer report in the parent process: {args}: {err[:2000]}")
    return p.returncode, err, time.monotonic() - t0


def out_dir(name):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
rng = np.random.default_rng(14)

# 1. Huge declared size, no data: refused fast and small (first, so ru_maxrss is its own).
huge = os.path.join(WORK, "huge.h5")
with h5py.File(huge, "w") as f:
    f.create_dataset("embeddings", shape=(2000000, 64), chunks=(1000, 64), dtype="f4")
    f.create_dataset("labels", shape=(2000000,), chunks=(1000,), dtype="i8")
size = os.path.getsize(huge)
rc, err, dt = run(["scan", huge, "--out", out_dir("o-huge"), "-q"])
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
print(f"huge: {size} bytes declaring [2000000, 64]: exit {rc} in {dt:.3f} s, peak {rss_mb:.0f} MB")
check(rc == 2 and "huge.h5:/embeddings" in err and "2000000" in err, f"huge file: {rc} {err}")
check(dt < 1.0, f"huge file took {dt:.2f} s")
check(SANITIZE or rss_mb < 100, f"huge file peak RSS {rss_mb:.0f} MB")

# 2. A valid dataset: same result sandboxed and not.
ok = os.path.join(WORK, "ok.h5")
n, d = 300, 8
with h5py.File(ok, "w") as f:
    f["embeddings"] = rng.standard_normal((n, d)).astype("f4")
    f["labels"] = rng.integers(0, 3, n)
    f["ids"] = np.array([("row-%d" % i).encode() for i in range(n)], dtype=h5py.string_dtype())
    f["labels"].attrs["class_names"] = np.array([b"cat", b"dog", b"owl"])
reports = []
for extra in ([], ["--no-sandbox"]):
    o = out_dir("o-ok" + "".join(extra))
    rc, err, _ = run(["scan", ok, "--out", o, "-q"] + extra)
    check(rc in (0, 1), f"valid file {extra}: exit {rc} {err}")
    reports.append(json.load(open(os.path.join(o, "report.json")))["input"])
check(reports[0] == reports[1], "sandboxed and --no-sandbox reads differ")

# 3. Crash, hang and CPU spin in the child (test hook), and a limit on a consistent file.
rc, err, _ = run(["scan", ok, "--out", out_dir("o-c"), "-q"], {"ASSAY_TEST_SANDBOX": "crash"})
check(rc == 2 and "ok.h5: the HDF5 reader crashed" in err and "hostile" in err, f"crash: {rc} {err}")
rc, err, dt = run(["scan", ok, "--out", out_dir("o-h"), "-q"],
                  {"ASSAY_TEST_SANDBOX": "hang", "ASSAY_SANDBOX_TIMEOUT": "1"})
check(rc == 2 and "no progress for 1 s" in err and dt < 10, f"hang: {rc} {dt:.1f} s {err}")
rc, err, dt = run(["scan", ok, "--out", out_dir("o-s"), "-q"],
                  {"ASSAY_TEST_SANDBOX": "spin", "ASSAY_SANDBOX_CPU": "1"})
check(rc == 2 and "CPU-time limit" in err and dt < 15, f"cpu spin: {rc} {dt:.1f} s {err}")
rc, err, _ = run(["scan", ok, "--out", out_dir("o-n"), "-q", "--no-sandbox"],
                 {"ASSAY_TEST_SANDBOX": "crash"})
check(rc in (0, 1), "--no-sandbox still forked a child")
if not SANITIZE:  # AddressSanitizer runs have no address-space limit (docs/security.md)
    big = os.path.join(WORK, "big.h5")
    with h5py.File(big, "w") as f:
        f.create_dataset("embeddings", data=np.zeros((20000, 1024), "f4"), chunks=(1000, 1024),
                         compression="gzip")
        f["labels"] = np.zeros(20000, "i8")
    rc, err, _ = run(["scan", big, "--out", out_dir("o-m"), "-q"], {"ASSAY_SANDBOX_MEMORY": "48"})
    check(rc == 3 and "big.h5" in err and "memory limit (48 MiB" in err, f"limit: {rc} {err}")

# 4. A label longer than the default limit (4096 bytes), named with its row.
lab = os.path.join(WORK, "longid.h5")
with h5py.File(lab, "w") as f:
    f["embeddings"] = rng.standard_normal((n, d)).astype("f4")
    f["labels"] = rng.integers(0, 3, n)
    ids = ["r%d" % i for i in range(n)]
    ids[7] = "x" * 5000
    f["ids"] = np.array(ids, dtype=h5py.string_dtype())
rc, err, _ = run(["scan", lab, "--out", out_dir("o-l"), "-q"])
check(rc == 2 and "longid.h5:/ids: row 7 is 5000 bytes" in err, f"long id: {rc} {err}")

# 5. The bit-flip sweeps: a dataset file and a graph file.
graph = os.path.join(WORK, "graph.h5")
rc, err, _ = run(["knn", ok, "--out", graph, "-q"])
check(rc == 0, f"knn: {rc} {err}")


def sweep(src, make_args, label):
    data = bytearray(open(src, "rb").read())
    rnd = random.Random(1400 + len(label))
    codes, worst = {}, 0.0
    for i in range(FLIPS):
        b = bytearray(data)
        bit = rnd.randrange(len(b) * 8)
        b[bit // 8] ^= 1 << (bit % 8)
        path = os.path.join(WORK, f"flip-{label}.h5")
        open(path, "wb").write(b)
        try:
            rc, err, dt = run(make_args(path), {"ASSAY_SANDBOX_TIMEOUT": "3"}, timeout=30)
        except subprocess.TimeoutExpired:
            check(False, f"{label} flip {i} (bit {bit}): hang")
            continue
        worst = max(worst, dt)
        codes[rc] = codes.get(rc, 0) + 1
        check(rc in (0, 1, 2), f"{label} flip {i} (bit {bit}): exit {rc} {err}")
        if rc == 2:
            msg = [l for l in err.splitlines() if l.startswith("assay: error")]
            check(len(msg) == 1 and "flip-" in msg[0],
                  f"{label} flip {i}: message does not name the file: {err}")
    print(f"{label}: {FLIPS} bit flips of {len(data)} bytes: exit codes {codes}, slowest {worst:.2f} s")


sweep(ok, lambda p: ["knn", p, "--out", os.path.join(WORK, "g-out.h5"), "-q"], "dataset")
sweep(graph, lambda p: ["scan", ok, "--graph", p, "--out", out_dir("o-g"), "-q"], "graph")

# 6. Inputs known to crash libhdf5 itself: contained.
if CRASH_DIR and os.path.isdir(CRASH_DIR):
    for name in sorted(n for n in os.listdir(CRASH_DIR) if n.endswith(".h5")):
        p = os.path.join(CRASH_DIR, name)
        args = (["scan", ok, "--graph", p, "--out", out_dir("o-x"), "-q"] if "graph" in name
                else ["knn", p, "--out", os.path.join(WORK, "x.h5"), "-q"])
        try:
            rc, err, _ = run(args, {"ASSAY_SANDBOX_TIMEOUT": "2"}, timeout=30)
        except subprocess.TimeoutExpired:
            check(False, f"crash file {name}: hang")
            continue
        msg = [l for l in err.splitlines() if l.startswith("assay: error")]
        print(f"crash file {name}: exit {rc}: {(msg or [err])[0].strip()[:160]}")
        check(rc == 2 and len(msg) == 1 and name in msg[0], f"crash file {name}: exit {rc} {err}")

print("FAILED: %d" % len(failures) if failures else "all passed")
sys.exit(1 if failures else 0)

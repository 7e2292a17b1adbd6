#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""assay scan --memory-limit (issue 17, part 2), run as users run it.

- The same reports with and without the limit (apart from times and the option itself): HDF5
  read in the sandbox and without it, .npy, the exact graph (float32 and int8 candidates) and
  the approximate graph. At the smallest limit (64M) the process's own memory is already near
  the trigger, so the matrix's pages are given back many times while the scan runs.
- The peak resident memory is lower under the limit: 100,000 x 512 rows (a 205 MB matrix and
  the approximate graph's copy of it, 410 MB of the 435 MB peak without the limit) peak at
  least 48 MiB lower under --memory-limit 160M (91 MiB lower when measured). Skipped in
  sanitizer builds, whose shadow memory makes resident memory meaningless.
- Bad sizes exit 2; a scratch file that cannot be allocated (a file-size limit standing in for
  a full disk) exits 3 naming the scratch folder, with no report folder.

usage: memory_limit.py ASSAY ASSAY_SYNTH WORKDIR SANITIZED(0|1)
"""
import os
import resource
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import normalize_report  # noqa: E402

FAILURES = []
LIMIT = "64M"  # the smallest: below the process's own memory here, so pages go back often


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def run(*args, preexec=None):
    """Runs assay; returns (exit code, stderr, peak RSS in KiB of this run alone)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = subprocess.run([ASSAY, *args], capture_output=True, text=True, timeout=600,
                       preexec_fn=preexec)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of the children is a maximum over all of them: a run is measured alone only
    # when it sets a new maximum, so the large runs go first (see below).
    return p.returncode, p.stderr, after if after > before else None


def same(a, b, label):
    check(normalize_report.compare([a, b]) == 0, f"{label}: reports differ with --memory-limit")


def scan_twice(work, label, args, limit):
    """The scan without and with --memory-limit, into the same --out (it is recorded), each
    report folder then moved aside; returns the two exit codes, stderrs and peaks."""
    out = os.path.join(work, "out")
    got = []
    for suffix, extra in (("free", []), ("lim", ["--memory-limit", limit])):
        shutil.rmtree(out, ignore_errors=True)
        got.append(run(*args, "--out", out, *extra))
        if os.path.exists(out):
            os.rename(out, os.path.join(work, f"{label}-{suffix}"))
    return got


def file_size_limit(kib):
    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, kib * 1024))
    return set_limit


def main():
    global ASSAY
    ASSAY, SYNTH, WORK = sys.argv[1:4]
    sanitized = sys.argv[4] == "1"
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    w = lambda *p: os.path.join(WORK, *p)  # noqa: E731
    # 20,000 x 96 for the exact graphs: 7.7 MB, still far above what stays resident at 64M.
    subprocess.run([SYNTH, "--out", w("small.h5"), "--rows", "20000", "--dims", "96", "--seed",
                    "7"], check=True, capture_output=True)
    subprocess.run([SYNTH, "--out", w("npy") + "/", "--rows", "6000", "--dims", "40",
                    "--seed", "4"], check=True, capture_output=True)

    # Peak memory, the approximate graph. ru_maxrss over children only grows, so the run with
    # the larger peak (without the limit) must come second to be measured on its own: the
    # limited run goes first, into the same --out.
    if not sanitized:
        subprocess.run([SYNTH, "--out", w("d.h5"), "--rows", "100000", "--dims", "512",
                        "--classes", "8", "--seed", "3"], check=True, capture_output=True)
        approx = ["scan", w("d.h5"), "--graph-method", "approx", "-q", "--threads", "2"]
        out = w("out")
        rc_lim, err, peak_lim = run(*approx, "--out", out, "--memory-limit", "160M")
        os.rename(out, w("approx-lim"))
        check(rc_lim in (0, 1), f"approx, limited: exit {rc_lim}: {err}")
        rc, err, peak_free = run(*approx, "--out", out)
        os.rename(out, w("approx-free"))
        check(rc == rc_lim, f"approx: exit {rc} without the limit, {rc_lim} with it: {err}")
        same(w("approx-free"), w("approx-lim"), "approx")
        check(peak_free is not None and peak_lim is not None and peak_lim < peak_free - 48 * 1024,
              f"peak RSS {peak_lim} KiB with --memory-limit 160M is at least 48 MiB below the "
              f"{peak_free} KiB without it (the matrix and its copy are 410 MB)")
        print(f"peak RSS, approximate graph: {peak_free} KiB free, {peak_lim} KiB at 160M")

    # The exact graph, float32 and int8 candidates; HDF5 without the sandbox; .npy.
    for label, data, extra in (
            ("fp32", w("small.h5"), ["--precision", "fp32"]),
            ("int8", w("small.h5"), ["--precision", "int8"]),
            ("no-sandbox", w("small.h5"), ["--no-sandbox", "--precision", "fp32"]),
            ("approx-small", w("small.h5"), ["--graph-method", "approx"]),
            ("npy", w("npy", "emb.npy"), ["--labels-file", w("npy", "labels.npy"),
                                          "--ids-file", w("npy", "ids.npy")])):
        (rc1, err1, _), (rc2, err2, _) = scan_twice(WORK, label, ["scan", data, "-q", "--threads",
                                                                  "2", *extra], LIMIT)
        check(rc1 in (0, 1) and rc2 == rc1, f"{label}: exits {rc1} and {rc2}: {err1} {err2}")
        same(w(label + "-free"), w(label + "-lim"), label)

    # Bad sizes: exit 2, the option named.
    for bad in ("10M", "abc", "1.5", "-1G", "64Q"):
        rc, err, _ = run("scan", w("small.h5"), "--out", w("bad"), "--memory-limit", bad)
        check(rc == 2 and "--memory-limit" in err, f"--memory-limit {bad}: exit 2, got {rc}: {err}")
    check(not os.path.exists(w("bad")), "no report folder after a bad size")

    # No room for the scratch file: exit 3 naming the scratch folder, no report folder. A
    # file-size limit of 2 MiB stands in for a full disk (the matrices need 8 to 10 MB); the .npy
    # matrix is allocated in this process, the HDF5 one in the sandbox's child.
    for label, data, extra in (
            ("npy", w("npy", "emb.npy"), ["--labels-file", w("npy", "labels.npy")]),
            ("hdf5", w("small.h5"), [])):
        if label == "npy":
            # the .npy data must exceed the file-size limit: 6,000 x 40 is 1 MB, so a big one
            subprocess.run([SYNTH, "--out", w("bignpy") + "/", "--rows", "40000", "--dims", "64",
                            "--seed", "5"], check=True, capture_output=True)
            data, extra = w("bignpy", "emb.npy"), ["--labels-file", w("bignpy", "labels.npy")]
        out = w("full-" + label)
        rc, err, _ = run("scan", data, "--out", out, "--memory-limit", "64M", *extra,
                         preexec=file_size_limit(2 * 1024))
        check(rc == 3, f"{label}: a scratch file beyond the file-size limit exits 3, got {rc}: "
              f"{err}")
        check("--memory-limit" in err and WORK in err and os.path.basename(data) + ":" in err,
              f"{label}: the message names the file, --memory-limit and the scratch folder: "
              f"{err}")
        check(not os.path.exists(out), f"{label}: no report folder {out}")
    leftovers = [n for n in os.listdir(WORK) if n.startswith(".assay-scratch")]
    check(not leftovers, f"no scratch file left in the work folder: {leftovers}")

    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("memory_limit: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side exact self-kNN benchmark: `assay knn` against FAISS (IndexFlatL2 / IndexFlatIP),
scikit-learn (NearestNeighbors, brute force) and OpenBLAS sgemm alone on the same shape.

Every tool runs as a separate whole process that loads the HDF5 file itself, searches and writes
its neighbour ids; the driver times each process with the wall clock and takes its peak RSS from
wait4(). Then it checks assay's neighbour ids against FAISS's (recall@10), re-measures the rows
where the tools disagree in float64 to say which ids are truly among the k nearest, and prints a
Markdown table (with --md FILE it replaces the marked section of that file, as bench_knn does).

Run with Debian's interpreter (/usr/bin/python3): it needs python3-numpy, python3-h5py,
python3-faiss and python3-sklearn. Not a test; `--smoke` is the small version CTest runs.

    /usr/bin/python3 bench/compare_knn.py --build build/release [--md bench/RESULTS.md]
    /usr/bin/python3 bench/compare_knn.py --build build/release --smoke
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time

BEGIN, END = "<!-- compare_knn:begin -->", "<!-- compare_knn:end -->"
MIB = 1024.0 * 1024.0

# name -> (tool, arguments after --out PATH, N, d). Clean data: nothing planted.
DATASETS = {
    "fmnist-784": ("fmnist", ["--clean"], 60000, 784),
    "fmnist-pca64": ("fmnist", ["--clean", "--pca", "64"], 60000, 64),
    "blobs-200000x128": ("synth", ["--clean", "--rows", "200000", "--dims", "128",
                                   "--classes", "10", "--seed", "42"], 200000, 128),
    "blobs-20000x4096": ("synth", ["--clean", "--rows", "20000", "--dims", "4096",
                                   "--classes", "10", "--seed", "42"], 20000, 4096),
    "blobs-3000x32": ("synth", ["--clean", "--rows", "3000", "--dims", "32",
                                "--classes", "10", "--seed", "42"], 3000, 32),
}
FULL = ["fmnist-784", "fmnist-pca64", "blobs-200000x128", "blobs-20000x4096"]
SMOKE = ["blobs-3000x32"]
TOOLS = ["assay", "faiss", "sklearn", "sgemm"]
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)
PILOT_MIN_ROWS = 50000  # FAISS/sklearn runs on sets this large are piloted (see --cap)
SMOKE_MIN_RECALL = 0.999


# ---------------------------------------------------------------------------------------------
# Worker: one FAISS or scikit-learn run in its own process (the driver times the whole process).
# ---------------------------------------------------------------------------------------------

def drop_self(ids, k):
    """[N, k+1] ids of a self-search -> [N, k] without the row itself. The row is removed by
    index, wherever it landed (an exact duplicate may come first); a row whose own index is not
    among the k+1 (more than k exact duplicates) loses its last id instead."""
    import numpy as np
    n = ids.shape[0]
    is_self = ids == np.arange(n, dtype=ids.dtype)[:, None]
    drop = is_self & (np.cumsum(is_self, axis=1) == 1)
    drop[~drop.any(axis=1), -1] = True
    return ids[~drop].reshape(n, k)


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{key: lib.get(key) for key in ("internal_api", "version", "architecture",
                                            "threading_layer", "num_threads", "filepath")}
            for lib in threadpool_info()]


def worker(argv):
    ap = argparse.ArgumentParser(prog="compare_knn.py worker")
    ap.add_argument("tool", choices=["faiss", "sklearn"])
    ap.add_argument("input")
    ap.add_argument("--metric", choices=["l2", "cosine"], required=True)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, help="only the first ROWS rows (the driver's pilot run)")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    import numpy as np
    import h5py
    with h5py.File(a.input, "r") as f:
        x = np.ascontiguousarray(f["/embeddings"][:a.rows] if a.rows else f["/embeddings"][...],
                                 dtype=np.float32)
    t1 = time.monotonic()
    if a.tool == "faiss":
        import faiss
        faiss.omp_set_num_threads(a.threads)
        if a.metric == "cosine":
            faiss.normalize_L2(x)  # in place; all-zero rows stay zero
            index = faiss.IndexFlatIP(x.shape[1])
        else:
            index = faiss.IndexFlatL2(x.shape[1])
        index.add(x)
        _, ids = index.search(x, a.k + 1)
        version = faiss.__version__
    else:
        import sklearn
        from sklearn.neighbors import NearestNeighbors
        nn = NearestNeighbors(n_neighbors=a.k + 1, algorithm="brute",
                              metric="euclidean" if a.metric == "l2" else "cosine",
                              n_jobs=a.threads)
        nn.fit(x)
        _, ids = nn.kneighbors(x)
        version = sklearn.__version__
    ids = drop_self(ids.astype(np.int64), a.k)
    t2 = time.monotonic()
    np.save(a.out, ids)
    t3 = time.monotonic()
    json.dump({"tool": a.tool, "version": version, "n": int(x.shape[0]), "d": int(x.shape[1]),
               "load_s": t1 - t0, "search_s": t2 - t1, "write_s": t3 - t2, "blas": blas_info()},
              sys.stdout)
    sys.stdout.write("\n")
    return 0


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def log(msg):
    print("compare_knn: " + msg, file=sys.stderr, flush=True)


def clean_env(extra):
    """The caller's environment without threading/BLAS settings, plus `extra`."""
    env = {key: v for key, v in os.environ.items()
           if not key.startswith(("OMP_", "OPENBLAS_", "GOTO_", "MKL_", "KMP_"))}
    env.update(extra)
    return env


LOADAVG = []  # 1-minute load average before each timed run: the machine may be shared


def run_timed(cmd, env, cap, base):
    """Runs cmd under GNU time (base.stdout, base.stderr, base.time); returns (exit code, or None
    when killed at the cap; wall seconds; peak RSS in MiB). The peak RSS comes from /usr/bin/time,
    not from our own wait4(): a process forked from this (large) Python process inherits its
    high-water mark until exec, so the tool must be a child of the small `time` process."""
    killed = []
    LOADAVG.append(os.getloadavg()[0])
    with open(base + ".stdout", "wb") as so, open(base + ".stderr", "wb") as se:
        t0 = time.monotonic()
        p = subprocess.Popen([TIME, "-f", "%e %M", "-o", base + ".time"] + cmd, env=env,
                             stdout=so, stderr=se, stdin=subprocess.DEVNULL,
                             start_new_session=True)

        def kill():  # the session we started: time and the tool under it
            killed.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(cap, kill) if cap and cap > 0 else None
        if timer:
            timer.start()
        try:
            rc = p.wait()
        except BaseException:  # interrupted: do not leave the tool running
            kill()
            p.wait()
            raise
        wall = time.monotonic() - t0
        if timer:
            timer.cancel()
    if killed:
        return None, wall, None
    last = open(base + ".time").read().strip().splitlines()[-1].split()
    return rc, wall, int(last[1]) / 1024.0


def cpu_info():
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, v = line.partition(":")
                key = key.strip()
                if key == "model name" and model == "unknown":
                    model = v.strip()
                elif key == "flags" and not flags:
                    flags = set(v.split())
    except OSError:
        pass
    wanted = ["avx", "fma", "avx2"] + sorted(f for f in flags if f.startswith("avx512"))
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem = ", %.0f GiB RAM" % (kb / MIB)
    except (OSError, AttributeError):
        pass
    have = [f for f in wanted if f in flags]
    if not any(f.startswith("avx512") for f in have):
        have.append("(no avx512)")
    return "%s, %d logical CPUs%s, CPU flags %s" % (model, os.cpu_count() or 0, mem,
                                                    " ".join(have))


def assay_has_knn(assay):
    r = subprocess.run([assay, "--help"], capture_output=True, text=True)
    return re.search(r"^\s+knn\b", r.stdout + r.stderr, re.M) is not None


def assay_info(assay):
    r = subprocess.run([assay, "info"], capture_output=True, text=True)
    info = {}
    for line in r.stdout.splitlines():
        key, _, v = line.partition(":")
        info[key.strip()] = v.strip()
    v = subprocess.run([assay, "--version"], capture_output=True, text=True).stdout.strip()
    info["version"] = v or "assay (unknown version)"
    return info


def make_dataset(name, a):
    tool, args, n, d = DATASETS[name]
    exe = a.fmnist if tool == "fmnist" else a.synth
    path = os.path.join(a.workdir, "data", name + ".h5")
    stamp = path + ".cmd"
    cmd = [exe, "--out", path] + args
    want = " ".join(cmd[:1] + cmd[3:])  # the output path may move with the work dir
    if os.path.exists(path) and os.path.exists(stamp) and open(stamp).read() == want:
        return path
    log("generating %s: %s" % (name, shlex.join(cmd)))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(stamp, "w") as f:
        f.write(want)
    return path


def read_ids(path, kind):
    import numpy as np
    if kind == "npy":
        return np.load(path)
    import h5py
    with h5py.File(path, "r") as f:
        return np.asarray(f["/neighbors"][...], dtype=np.int64)


def recall(a_ids, b_ids):
    """Mean share of a row's ids in `a_ids` also found in `b_ids`; and the rows that differ."""
    import numpy as np
    hit = (a_ids[:, :, None] == b_ids[:, None, :]).any(axis=2)
    per_row = hit.sum(axis=1)
    return float(per_row.sum()) / a_ids.size, np.nonzero(per_row < a_ids.shape[1])[0]


def exact_check(x, metric, rows, id_sets, k, max_rows):
    """Re-measures the given rows against every row in float64. Returns, per id set, the
    number of ids that are not among the row's k nearest (ties at the k-th distance count as
    correct), extrapolated to all `rows` when only max_rows of them were checked."""
    import numpy as np
    if len(rows) == 0:
        return [0 for _ in id_sets], False
    sampled = len(rows) > max_rows
    check = np.sort(np.random.default_rng(7).choice(rows, max_rows, replace=False)) \
        if sampled else rows
    x64 = x.astype(np.float64)
    if metric == "cosine":
        norm = np.linalg.norm(x64, axis=1)
        norm[norm == 0] = 1.0
        x64 /= norm[:, None]
    else:
        sq = np.einsum("ij,ij->i", x64, x64)
    wrong = [0 for _ in id_sets]
    for s in range(0, len(check), 64):
        r = check[s:s + 64]
        g = x64[r] @ x64.T
        dist = 1.0 - g if metric == "cosine" else sq[r, None] + sq[None, :] - 2.0 * g
        dist[np.arange(len(r)), r] = np.inf  # the row itself is never its own neighbour
        kth = np.partition(dist, k - 1, axis=1)[:, k - 1]
        tol = 1e-9 * np.maximum(np.abs(kth), 1e-3)
        for j, ids in enumerate(id_sets):
            sel = ids[r]
            ok = (sel >= 0) & (sel < len(x64))
            dd = np.where(ok, dist[np.arange(len(r))[:, None], np.clip(sel, 0, len(x64) - 1)],
                          np.inf)
            wrong[j] += int((dd > (kth + tol)[:, None]).sum())
    if sampled:
        wrong = [int(round(w * len(rows) / len(check))) for w in wrong]
    return wrong, sampled


def fmt(v, spec="%.2f", none="—"):
    return none if v is None else spec % v


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        return worker(sys.argv[2:])
    ap = argparse.ArgumentParser(
        description="Exact self-kNN: assay knn vs FAISS vs scikit-learn vs sgemm alone.")
    ap.add_argument("--build", help="build tree: binaries default to BUILD/assay, "
                    "BUILD/assay-fmnist, BUILD/assay-synth, BUILD/bench/bench_knn, and the work "
                    "dir to BUILD/bench/compare")
    ap.add_argument("--assay")
    ap.add_argument("--fmnist")
    ap.add_argument("--synth")
    ap.add_argument("--bench-knn")
    ap.add_argument("--workdir", help="datasets and outputs (a build tree, never git)")
    ap.add_argument("--datasets", help="comma list (default: %s; smoke: %s)"
                    % (",".join(FULL), ",".join(SMOKE)))
    ap.add_argument("--metrics", default="l2,cosine")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the fastest counts")
    ap.add_argument("--cap", type=float, default=1800.0,
                    help="time limit per run in seconds (0: none; default 1800). FAISS and "
                    "scikit-learn first run on a tenth of the rows of a large set, and are skipped "
                    "when that pilot extrapolates (N^2) beyond the cap; any run still over it is "
                    "killed. Either way the cell shows '—' and a note says why")
    ap.add_argument("--skip", action="append", default=[],
                    help="TOOL@DATASET or TOOL@DATASET@METRIC not to run (shown as '—' with a "
                    "note); repeatable")
    ap.add_argument("--check-rows", type=int, default=2000,
                    help="at most this many disagreeing rows are re-measured in float64")
    ap.add_argument("--smoke", action="store_true",
                    help="3000 x 32 blobs, every tool; exit 1 unless recall vs FAISS >= %.3f"
                    % SMOKE_MIN_RECALL)
    ap.add_argument("--md", help="replace the marked section of this Markdown file")
    ap.add_argument("--json", help="write all measurements to this file (default WORKDIR/results.json)")
    a = ap.parse_args()

    b = a.build
    a.assay = a.assay or (b and os.path.join(b, "assay"))
    a.fmnist = a.fmnist or (b and os.path.join(b, "assay-fmnist"))
    a.synth = a.synth or (b and os.path.join(b, "assay-synth"))
    a.bench_knn = a.bench_knn or (b and os.path.join(b, "bench", "bench_knn"))
    a.workdir = a.workdir or (b and os.path.join(b, "bench", "compare" + ("-smoke" if a.smoke else "")))
    if not (a.assay and a.synth and a.workdir):
        ap.error("give --build BUILD_DIR, or --assay, --fmnist, --synth, --bench-knn, --workdir")
    datasets = (a.datasets or ",".join(SMOKE if a.smoke else FULL)).split(",")
    metrics = a.metrics.split(",")
    tools = a.tools.split(",")
    for ds in datasets:
        if ds not in DATASETS:
            ap.error("unknown dataset %s (known: %s)" % (ds, ", ".join(DATASETS)))
        if DATASETS[ds][0] == "fmnist" and not a.fmnist:
            ap.error("%s needs --fmnist or --build" % ds)
    if any(m not in ("l2", "cosine") for m in metrics) or any(t not in TOOLS for t in tools):
        ap.error("metrics: l2,cosine; tools: %s" % ",".join(TOOLS))
    if "sgemm" in tools and not a.bench_knn:
        ap.error("sgemm needs --bench-knn or --build")

    missing = [] if os.access(TIME, os.X_OK) else ["time"]
    for mod, pkg in (("numpy", "python3-numpy"), ("h5py", "python3-h5py"),
                     ("faiss", "python3-faiss"), ("sklearn", "python3-sklearn")):
        try:
            __import__(mod)
        except ImportError:
            missing.append(pkg)
    if missing:
        log("%s lacks what it needs: apt-get install %s (and run it with Debian's "
            "/usr/bin/python3)" % (sys.executable, " ".join(missing)))
        return 2
    import numpy as np
    import h5py
    import faiss
    import sklearn

    os.makedirs(os.path.join(a.workdir, "out"), exist_ok=True)
    has_knn = "assay" in tools and assay_has_knn(a.assay)
    if "assay" in tools and not has_knn:
        log("WARNING: %s has no 'knn' command: timing 'assay scan' instead, without the "
            "recall check" % a.assay)
    ainfo = assay_info(a.assay) if "assay" in tools else {}
    started = datetime.datetime.now(datetime.timezone.utc)
    results, notes, stages, blas = [], [], {}, {}
    smoke_fail = []

    def publish(partial):
        """Renders the block and writes --md and the JSON; called after every (data, metric) so
        that a long run interrupted or still going has its rows on record."""
        finished = datetime.datetime.now(datetime.timezone.utc)
        block = render(a, results, notes, stages, blas, ainfo, has_knn, started, finished, np,
                       faiss, sklearn)
        if partial:
            block = ("**Partial**: %d of %d (data, metric) rows measured so far.\n\n"
                     % (len(results), len(datasets) * len(metrics))) + block
        with open(a.json or os.path.join(a.workdir, "results.json"), "w") as f:
            json.dump({"command": sys.argv, "started": started.isoformat(),
                       "finished": finished.isoformat(), "partial": partial,
                       "results": results, "stages": stages, "blas": blas, "assay": ainfo,
                       "notes": notes, "loadavg": LOADAVG}, f, indent=1)
        if a.md:
            write_md(a.md, block)
        return block

    for ds in datasets:
        path = make_dataset(ds, a)
        _, _, n, d = DATASETS[ds]
        with open(path, "rb") as f:  # the file is in the page cache for every tool alike
            while f.read(1 << 24):
                pass
        for metric in metrics:
            # sgemm right before assay, for each metric: on a shared machine the load changes
            # within minutes, and the ratio assay / sgemm is only fair between neighbouring runs
            sgemm = None
            if "sgemm" in tools:
                r = subprocess.run([a.bench_knn, "--input", path, "--threads", str(a.threads),
                                    "--sgemm-only"], capture_output=True, text=True)
                m = re.search(r"([\d.]+) GFLOP/s", r.stdout)
                if r.returncode != 0 or m is None:
                    log("bench_knn --sgemm-only failed on %s: %s" % (ds, r.stderr.strip()))
                    return 3
                sgemm = float(m.group(1))
                log("%s %s: %s" % (ds, metric, r.stdout.split(";")[0].strip()))
            row = {"dataset": ds, "n": n, "d": d, "metric": metric, "sgemm_gflops": sgemm,
                   "wall": {}, "rss_mib": {}}
            ids = {}
            for tool in [t for t in ("assay", "faiss", "sklearn") if t in tools]:
                tag = "%s-%s-%s" % (ds, metric, tool)
                base = os.path.join(a.workdir, "out", tag)
                if "%s@%s" % (tool, ds) in a.skip or "%s@%s@%s" % (tool, ds, metric) in a.skip:
                    notes.append("%s on %s (%s): skipped (--skip)." % (tool, ds, metric))
                    continue
                if tool == "assay":
                    if has_knn:
                        out = base + ".h5"
                        cmd = [a.assay, "knn", path, "-k", str(a.k), "--metric", metric,
                               "--threads", str(a.threads), "--out", out]
                    else:
                        out = base + "-report"
                        cmd = [a.assay, "scan", path, "-k", str(a.k), "--metric", metric,
                               "--threads", str(a.threads), "--out", out, "-q"]
                    env, ok_codes = clean_env({}), (0,) if has_knn else (0, 1)
                else:
                    out = base + ".npy"
                    cmd = [sys.executable, os.path.abspath(__file__), "worker", tool, path,
                           "--metric", metric, "-k", str(a.k), "--threads", str(a.threads),
                           "--out", out]
                    extra = {"OMP_NUM_THREADS": str(a.threads)}
                    if tool == "faiss":
                        extra["OMP_WAIT_POLICY"] = "PASSIVE"
                    env, ok_codes = clean_env(extra), (0,)
                    if a.cap and n >= PILOT_MIN_ROWS:
                        m = n // 10
                        rc, wall, _ = run_timed(cmd + ["--rows", str(m)], env, a.cap,
                                                base + "-pilot")
                        if rc not in (0, None):
                            log("%s pilot failed (exit %d): see %s.stderr" % (tag, rc, base))
                            return 3
                        st = json.loads(open(base + "-pilot.stdout").read().strip().splitlines()[-1]) \
                            if rc == 0 else None
                        est = None if st is None else \
                            wall - st["search_s"] + st["search_s"] * (n / m) ** 2
                        log("%s: pilot on %d rows %.1f s, full run estimated at %s s" % (
                            tag, m, wall, "> cap" if est is None else "%.0f" % est))
                        if est is None or est > a.cap:
                            notes.append("%s on %s (%s): not run: a pilot on %d rows took %.0f s, "
                                         "which extrapolates (N²) to %s s, over the %.0f s cap "
                                         "(--cap)." % (tool, ds, metric, m, wall,
                                                       "more than %.0f" % (100 * a.cap)
                                                       if est is None else "%.0f" % est, a.cap))
                            continue
                best = None
                for rep in range(a.repeat):
                    if os.path.exists(out) and not os.path.isdir(out):
                        os.remove(out)
                    log("%s: run %d: %s" % (tag, rep + 1, shlex.join(cmd)))
                    rc, wall, rss = run_timed(cmd, env, a.cap, base)
                    if rc is None:
                        notes.append("%s on %s (%s): killed at the %.0f s cap (--cap)."
                                     % (tool, ds, metric, a.cap))
                        best = None
                        break
                    if rc not in ok_codes:
                        err = open(base + ".stderr", errors="replace").read().strip()[-2000:]
                        log("%s failed (exit %d):\n%s" % (tag, rc, err))
                        return 3
                    log("%s: %.2f s, peak RSS %.0f MiB" % (tag, wall, rss))
                    if best is None or wall < best[0]:
                        best = (wall, rss)
                        if tool != "assay":
                            st = json.loads(open(base + ".stdout").read().strip().splitlines()[-1])
                            stages[tag] = st
                            blas.setdefault(tool, (st["version"], st["blas"]))
                if best is None:
                    continue
                row["wall"][tool], row["rss_mib"][tool] = best
                if tool != "assay":
                    ids[tool] = read_ids(out, "npy")
                elif has_knn:
                    ids[tool] = read_ids(out, "h5")
            # correctness: ids vs FAISS, and float64 re-measure of the rows where they differ
            if "faiss" in ids:
                with h5py.File(path, "r") as f:
                    x = np.ascontiguousarray(f["/embeddings"][...], dtype=np.float32)
                for tool in ("assay", "sklearn"):
                    if tool not in ids:
                        continue
                    if ids[tool].shape != ids["faiss"].shape:
                        log("%s: %s neighbour ids have shape %s, FAISS %s" % (
                            ds, tool, ids[tool].shape, ids["faiss"].shape))
                        return 3
                    rc_, rows = recall(ids[tool], ids["faiss"])
                    row["recall_" + tool] = rc_
                    wrong, sampled = exact_check(x, metric, rows, [ids[tool], ids["faiss"]],
                                                 a.k, a.check_rows)
                    row["exact_" + tool] = {"disagreeing_rows": int(len(rows)),
                                            "wrong_" + tool: wrong[0], "wrong_faiss": wrong[1],
                                            "sampled": sampled}
                    log("%s %s: %s recall@%d vs FAISS %.6f; %d rows differ; float64 check: "
                        "%s %d wrong ids, FAISS %d%s" % (
                            ds, metric, tool, a.k, rc_, len(rows), tool, wrong[0], wrong[1],
                            " (estimated from a sample)" if sampled else ""))
                    if a.smoke and rc_ < SMOKE_MIN_RECALL:
                        smoke_fail.append("%s %s: %s recall vs FAISS %.6f < %.3f"
                                          % (ds, metric, tool, rc_, SMOKE_MIN_RECALL))
                del x
            if a.smoke:
                for tool in ("assay", "faiss", "sklearn"):
                    if tool in tools and tool not in row["wall"]:
                        smoke_fail.append("%s %s: %s did not run" % (ds, metric, tool))
                if "assay" in tools and not has_knn:
                    smoke_fail.append("%s %s: %s has no 'knn' command, so its neighbours were "
                                      "not checked" % (ds, metric, a.assay))
            results.append(row)
            publish(len(results) < len(datasets) * len(metrics))

    sys.stdout.write(publish(False))
    if a.md:
        log("wrote the %s section of %s" % (BEGIN, a.md))
    if smoke_fail:
        for s in smoke_fail:
            log("SMOKE FAILED: " + s)
        return 1
    if a.smoke:
        log("smoke passed: every recall vs FAISS >= %.3f" % SMOKE_MIN_RECALL)
    return 0


def render(a, results, notes, stages, blas, ainfo, has_knn, started, finished, np, faiss, sklearn):
    k = a.k
    L = []
    L.append("| data | N | d | metric | assay s | FAISS s | sklearn s | FAISS / assay | "
             "assay GFLOP/s (2N²d) | sgemm GFLOP/s | assay / sgemm | assay RSS MiB | "
             "FAISS RSS MiB | sklearn RSS MiB | assay RSS budget MiB | budget | "
             "recall@%d assay vs FAISS | recall@%d sklearn vs FAISS | wrong ids (float64 "
             "check) assay / FAISS |" % (k, k))
    L.append("|" + "---|" * 19)
    for r in results:
        n, d, w, rss = r["n"], r["d"], r["wall"], r["rss_mib"]
        ta, tf = w.get("assay"), w.get("faiss")
        gf = 2.0 * n * n * d / ta / 1e9 if ta else None
        sg = r["sgemm_gflops"]
        budget = (1.2 * n * d * 4 + n * k * 8) / MIB + 64
        ra = rss.get("assay")
        ex = r.get("exact_assay")
        exs = "—" if ex is None else "%d / %d of %d%s" % (
            ex["wrong_assay"], ex["wrong_faiss"], n * k, " (est.)" if ex["sampled"] else "")
        L.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | "
                 "%s | %s | %s | %s |" % (
                     r["dataset"], n, d, r["metric"], fmt(ta), fmt(tf), fmt(w.get("sklearn")),
                     fmt(tf / ta if ta and tf else None), fmt(gf, "%.1f"), fmt(sg, "%.1f"),
                     fmt(gf / sg if gf and sg else None),
                     fmt(ra, "%.0f"), fmt(rss.get("faiss"), "%.0f"),
                     fmt(rss.get("sklearn"), "%.0f"), budget,
                     "—" if ra is None else ("pass" if ra <= budget else "**FAIL**"),
                     fmt(r.get("recall_assay"), "%.6f"), fmt(r.get("recall_sklearn"), "%.6f"),
                     exs))
    L.append("")
    if stages:
        L.append("Inside the Python processes (s): load (h5py) / search (incl. FAISS "
                 "normalisation, sklearn fit) / write (.npy): " + "; ".join(
                     "%s %.2f / %.2f / %.2f" % (tag, s["load_s"], s["search_s"], s["write_s"])
                     for tag, s in stages.items()) + ".")
        L.append("")
    if not has_knn and any("assay" in r["wall"] for r in results):
        notes.append("assay had no `knn` command in this build: its column times `assay scan` "
                     "(the whole scan, reports included) and has no recall check.")
    for s in notes:
        L.append("- " + s)
    if notes:
        L.append("")
    bl = []
    for tool in ("faiss", "sklearn"):
        if tool in blas:
            libs = ", ".join(" ".join(str(v) for v in (
                b["internal_api"], b["version"], b.get("architecture"), b.get("threading_layer"))
                if v) + " (%s threads)" % b["num_threads"] for b in blas[tool][1])
            bl.append("%s %s: %s" % ("FAISS" if tool == "faiss" else "scikit-learn",
                                     blas[tool][0], libs or "threadpoolctl not available"))
    ctype = os.environ.get("OPENBLAS_CORETYPE")
    L.append(
        "Machine: %s; Linux %s %s; Python %s, NumPy %s. assay: %s, kernels %s, BLAS %s. %s. "
        "OPENBLAS_CORETYPE=%s (OpenBLAS detects the CPU). Each tool is one whole process that "
        "loads the HDF5 file (in the page cache) and writes its [N, %d] ids: assay `knn` with "
        "`--threads %d`; FAISS %s exact search (IndexFlatL2, or IndexFlatIP on L2-normalised "
        "rows for cosine), k + 1 then self dropped by index, `omp_set_num_threads(%d)`, "
        "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=%d; scikit-learn %s "
        "`NearestNeighbors(n_neighbors=%d, algorithm=\"brute\", n_jobs=%d)` then `kneighbors` on "
        "the same rows, OMP_NUM_THREADS=%d. Wall clock and peak RSS (GNU time) of the whole "
        "process, best of %d run%s; cap %s. assay GFLOP/s = 2·N²·d / assay's wall time; sgemm = "
        "`bench_knn --sgemm-only` (OpenBLAS sgemm 4096 x N x d, %d threads, best of 3), run just "
        "before assay on each row. RSS "
        "budget = 1.2·N·d·4 + N·k·8 bytes + 64 MiB. recall@%d: share of a tool's ids also in "
        "FAISS's; rows where they differ are re-measured in float64 against all rows (ties at "
        "the k-th distance count as correct). 1-minute load average before the runs: %s. "
        "Date: %s to %s UTC. Command: `%s`" % (
            cpu_info(), platform.release(), platform.machine(), platform.python_version(),
            np.__version__, ainfo.get("version", "—"), ainfo.get("kernels used", "—"),
            ainfo.get("blas", "—"), "; ".join(bl) or "—", ctype or "(unset)", k, a.threads,
            faiss.__version__, a.threads, a.threads, sklearn.__version__, k + 1, a.threads,
            a.threads, a.repeat, "" if a.repeat == 1 else "s",
            "%.0f s per run" % a.cap if a.cap else "none", a.threads, k,
            "%.1f to %.1f" % (min(LOADAVG), max(LOADAVG)) if LOADAVG else "—",
            started.strftime("%Y-%m-%d %H:%M"), finished.strftime("%H:%M"),
            shlex.join(["/usr/bin/python3" if sys.executable == "/usr/bin/python3"
                        else sys.executable] + sys.argv)))
    return "\n".join(L) + "\n"


def write_md(path, block):
    """Replaces the text between the markers (or appends the block), as bench_knn --md does."""
    old = open(path).read() if os.path.exists(path) else ""
    b = old.find(BEGIN)
    e = old.find(END, b) if b >= 0 else -1
    if b >= 0 and e >= 0:
        new = old[:b] + BEGIN + "\n" + block + old[e:]
    else:
        new = old + "\n" + BEGIN + "\n" + block + END + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())

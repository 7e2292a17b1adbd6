#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Side by side: the out-of-fold probabilities assay computes itself when no --pred-probs are
given (src/detect/crossfit.c, timed by bench_crossfit) against scikit-learn's
LogisticRegression through 5-fold cross_val_predict (cleanlab's documented recipe), on the same
rows in one run. Both sets of probabilities are then judged by one implementation: accuracy and
log loss on the given labels, and confident learning (cleanlab's default filter, as the
confident detector runs it) against the planted label flips.

Run with Debian's interpreter (python3-numpy, python3-h5py, python3-sklearn):

    /usr/bin/python3 bench/compare_crossfit.py --build build/release [--md bench/RESULTS.md]
    /usr/bin/python3 bench/compare_crossfit.py --build build/release --rows 3000   # quick

The data: Fashion-MNIST train (assay-fmnist, 784 pixels/255) with 2% random label flips and
nothing else planted. Not a test.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

BEGIN, END = "<!-- compare_crossfit:begin -->", "<!-- compare_crossfit:end -->"


def run(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return out.stdout


def sklearn_probs(h5, threads, folds, out_path):
    """Standardised features, LogisticRegression() with its defaults (lbfgs, multinomial, C=1,
    max_iter=100, as cleanlab's examples use it),
    StratifiedKFold(folds, shuffle, seed 0): the probabilities and the wall time (folds run
    on `threads` worker processes, BLAS single-threaded in each)."""
    import h5py
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with h5py.File(h5, "r") as f:
        x = np.asarray(f["embeddings"], dtype=np.float32)
        y = np.asarray(f["labels"]).astype(np.int64)
    classes = np.unique(y)
    y = np.searchsorted(classes, y)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    t0 = time.monotonic()
    p = cross_val_predict(model, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=0),
                          method="predict_proba", n_jobs=threads)
    seconds = time.monotonic() - t0
    p.astype(np.float32).tofile(out_path)
    return seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--work", default=None, help="folder for the data (default BUILD/crossfit)")
    ap.add_argument("--rows", type=int, default=0, help="first N images only (default all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--md", default=None, help="replace the marked section of this file")
    a = ap.parse_args()
    work = a.work or os.path.join(a.build, "crossfit")
    os.makedirs(work, exist_ok=True)
    h5 = os.path.join(work, "fmnist-flip2.h5")
    truth = os.path.join(work, "fmnist-flip2.truth")
    gen = [os.path.join(a.build, "assay-fmnist"), "--out", h5, "--truth", truth,
           "--random-flip", "0.02", "--targeted", "0:6:0", "--badnets", "0:0",
           "--duplicates", "0"]
    if a.rows:
        gen += ["--rows", str(a.rows)]
    run(gen)
    bench = os.path.join(a.build, "bench", "bench_crossfit")
    ours = json.loads(run([bench, "--input", h5, "--truth", truth, "--threads", str(a.threads),
                           "--folds", str(a.folds)]))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    skp = os.path.join(work, "sklearn-probs.f32")
    # scikit-learn in a child process so its BLAS is single-threaded from the start
    code = ("import sys; sys.path.insert(0, %r); import compare_crossfit as c; "
            "print(c.sklearn_probs(%r, %d, %d, %r))" % (os.path.dirname(os.path.abspath(__file__)),
                                                        h5, a.threads, a.folds, skp))
    sk_seconds = float(run([sys.executable, "-c", code], env=env).strip().splitlines()[-1])
    sk = json.loads(run([bench, "--input", h5, "--truth", truth, "--eval-probs", skp]))
    sk["seconds"] = sk_seconds
    info = run([os.path.join(a.build, "assay"), "info"])
    def info_line(key):
        return next((" ".join(l.split()) for l in info.splitlines() if l.startswith(key)), "?")
    isa = "%s; %s" % (info_line("cpu features"), info_line("kernels used"))
    blas = info_line("blas:")

    rows = [("assay crossfit (%d folds, one-vs-rest ridge + fitted temperature, ridge %g)"
             % (a.folds, ours["alpha"]), ours),
            ("scikit-learn 1.2 LogisticRegression, %d-fold cross_val_predict" % a.folds, sk)]
    lines = ["| probabilities | N | d | threads | seconds | OOF accuracy | log loss | "
             "CL flagged | CL precision | CL recall (of %d flips) |" % ours["planted_flips"],
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append("| %s | %d | %d | %d | %.2f | %.4f | %.4f | %d | %.3f | %.3f |" % (
            name, r["rows"], r["d"], a.threads, r["seconds"], r["accuracy"], r["log_loss"],
            r["cl_flagged"], r["cl_precision"], r["cl_recall"]))
    lines.append("")
    lines.append("Machine: %s %s; %s; %s; OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s. "
                 "Command: `/usr/bin/python3 bench/compare_crossfit.py --build %s%s%s`" % (
                     platform.system(), platform.machine(), isa, blas,
                     os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                     os.environ.get("OPENBLAS_L2_SIZE", "(unset)"), a.build,
                     " --rows %d" % a.rows if a.rows else "", " --md %s" % a.md if a.md else ""))
    table = "\n".join(lines)
    print(table)
    if a.md:
        text = open(a.md).read()
        block = BEGIN + "\n" + table + "\n" + END
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        open(a.md, "w").write(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The approximate graph (--graph-method approx, issue 17) against the exact graph and against
FAISS IndexIVFFlat, in one run on the same files (L2, k = 10, every tool on all threads):

  for each 10^6 x 128 file (bench/make_approx_data.py: `clusters`, `fmnist` repeated with noise)
    - assay's approximate graph (bench_approx): time, phases, lists, probes, the recall it
      reports itself, and our own recall@10 on 10,000 random rows against FAISS IndexFlatL2;
    - FAISS IndexIVFFlat with the same number of lists (4 sqrt(N)), trained on 64 rows per list:
      the smallest nprobe whose recall@10 on the same 10,000 rows reaches assay's, then train +
      add timed, and the search of every row at that nprobe timed on 50,000 random rows and
      scaled to N (Debian's FAISS runs IVF distances in scalar code: all rows take many minutes);
  the exact graph (bench_approx --exact) of the `clusters` kind at 100k, 200k and 400k rows,
  with the approximate graph's time and recall over every row at each size, and the exact time
  at 10^6 extrapolated from them (a fit of t = a N^2).

Usage: compare_approx.py --bench-approx BUILD/bench/bench_approx [--workdir DIR] [--md FILE]
       [--smoke]      (20,000 rows, one file, no exact sizes beyond 20,000)
Needs Debian's python3-numpy, python3-h5py, python3-faiss."""
import argparse
import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE = os.path.join(HERE, "make_approx_data.py")


def run_json(cmd):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def make(kind, n, path):
    if not os.path.exists(path):
        subprocess.run([sys.executable, MAKE, kind, str(n), "128", path], check=True)


def load(path):
    with h5py.File(path, "r") as f:
        return np.ascontiguousarray(f["embeddings"][:], dtype=np.float32)


def truth(x, rows, k):
    import faiss
    ix = faiss.IndexFlatL2(x.shape[1])
    ix.add(x)
    _, ids = ix.search(x[rows], k + 1)
    return [list(r[r != q][:k]) for q, r in zip(rows, ids)]


def recall(lists, rows, want):
    return float(np.mean([len(set(lists[i]) & set(t)) / len(t) for i, t in zip(rows, want)]))


def faiss_ivf(x, rows, want, target, k):
    import faiss
    n, d = x.shape
    nlist = int(round(4 * np.sqrt(n)))
    t0 = time.time()
    q = faiss.IndexFlatL2(d)
    ix = faiss.IndexIVFFlat(q, d, nlist)
    rng = np.random.default_rng(0)
    ix.train(x[rng.choice(n, min(n, 64 * nlist), replace=False)])
    ix.add(x)
    t_build = time.time() - t0
    chosen, r = None, 0.0
    for nprobe in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256):
        ix.nprobe = nprobe
        _, ids = ix.search(x[rows], k + 1)
        got = [list(a[a != qq][:k]) for qq, a in zip(rows, ids)]
        r = float(np.mean([len(set(g) & set(t)) / k for g, t in zip(got, want)]))
        if r >= target:
            chosen = nprobe
            break
    if chosen is None:
        return {"nlist": nlist, "nprobe": None, "recall": r, "seconds": None}
    # Debian's FAISS computes IVF distances with its scalar reference code (fvec_L2sqr_ref): a
    # search of every row takes many minutes, so a random 50,000 of them are searched and the
    # time scaled to N (a search's cost is linear in the number of queries).
    qn = min(n, 50000)
    qs = np.sort(np.random.default_rng(1).choice(n, qn, replace=False))
    t0 = time.time()
    ix.search(x[qs], k + 1)
    t_search = (time.time() - t0) * n / qn
    return {"nlist": nlist, "nprobe": chosen, "recall": r, "seconds": t_build + t_search,
            "build_s": t_build, "search_s_scaled": t_search, "queries_timed": qn}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-approx", required=True)
    ap.add_argument("--workdir", default="approx-work")
    ap.add_argument("--md")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    k, big = 10, (20000 if a.smoke else 1000000)
    sample = 2000 if a.smoke else 10000
    out = {"files": [], "exact": []}
    for kind in (("clusters",) if a.smoke else ("clusters", "fmnist")):
        path = os.path.join(a.workdir, f"{kind}-{big}.h5")
        make(kind, big, path)
        ids_path = path + ".ids.npy"
        ours = run_json([a.bench_approx, "--input", path, "-k", str(k), "--ids-out", ids_path])
        x = load(path)
        rows = np.random.default_rng(5).choice(len(x), sample, replace=False)
        want = truth(x, rows, k)
        lists = np.load(ids_path, mmap_mode="r")
        ours["recall_10k"] = recall(lists, rows, want)
        print(f"{kind}: assay {ours['approx_s']:.1f} s, recall {ours['recall_10k']:.4f}; FAISS...",
              file=sys.stderr, flush=True)
        ours["faiss_ivf"] = faiss_ivf(x, rows, want, ours["recall_10k"], k)
        out["files"].append(ours)
        print(json.dumps(ours), flush=True)
        del x, lists
    for n in ((20000,) if a.smoke else (100000, 200000, 400000)):
        path = os.path.join(a.workdir, f"clusters-{n}.h5")
        make("clusters", n, path)
        r = run_json([a.bench_approx, "--input", path, "-k", str(k), "--exact"])
        out["exact"].append(r)
        print(json.dumps(r), flush=True)
    ns = np.array([r["n"] for r in out["exact"]], float)
    ts = np.array([r["exact_s"] for r in out["exact"]], float)
    coef = float((ts * ns ** 2).sum() / (ns ** 4).sum())
    out["exact_at_big_extrapolated_s"] = coef * big ** 2
    print(json.dumps({"exact_fit_a": coef, "exact_at_%d_s" % big: coef * big ** 2}))
    if a.md:
        with open(a.md + ".approx.json", "w") as f:
            json.dump(out, f, indent=1)
    for f in out["files"]:
        fi = f["faiss_ivf"]
        if fi["seconds"] is None:
            sys.exit(f"FAISS IVF never reached recall {f['recall_10k']:.4f} on {f['input']}")
        print(f"{os.path.basename(f['input'])}: assay approx {f['approx_s']:.1f} s "
              f"(recall@10 {f['recall_10k']:.4f} on {sample} rows, reported {f['recall']:.4f}), "
              f"exact extrapolated {out['exact_at_big_extrapolated_s']:.0f} s "
              f"({out['exact_at_big_extrapolated_s'] / f['approx_s']:.1f}x), FAISS IVFFlat "
              f"nprobe {fi['nprobe']} {fi['seconds']:.1f} s ({fi['seconds'] / f['approx_s']:.2f}x)")


if __name__ == "__main__":
    main()

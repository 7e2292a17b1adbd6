#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Data for the approximate-graph benchmark (bench/compare_approx.py, issue 17), as HDF5
(`embeddings` float32, `labels` int64):

  clusters N D OUT   N rows in D dimensions around 2 sqrt(N) Gaussian centres whose spread
                     varies by cluster (seeded), with a heavy-tailed share of cluster sizes;
  fmnist N D OUT     Fashion-MNIST (Debian's dataset-fashion-mnist) projected on its first D
                     principal components, repeated to N rows with Gaussian noise of 0.25 of the
                     per-component standard deviation, so that copies are near but not equal.
"""
import gzip
import os
import sys

import h5py
import numpy as np

FMNIST = "/usr/share/datasets/fashion-mnist"


def write(path, x, y):
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("embeddings", data=x.astype(np.float32), chunks=(min(len(x), 8192), x.shape[1]))
        f.create_dataset("labels", data=y.astype(np.int64))
    os.replace(tmp, path)


def clusters(n, d, seed=17):
    rng = np.random.default_rng(seed)
    c = int(round(2 * np.sqrt(n)))
    centres = rng.normal(0.0, 1.0, (c, d)).astype(np.float32)
    scale = rng.uniform(0.15, 0.45, c).astype(np.float32)
    w = rng.pareto(1.5, c) + 1.0
    g = rng.choice(c, size=n, p=w / w.sum())
    x = np.empty((n, d), np.float32)
    for s in range(0, n, 65536):
        e = min(n, s + 65536)
        x[s:e] = centres[g[s:e]] + rng.normal(0.0, 1.0, (e - s, d)).astype(np.float32) * scale[g[s:e], None]
    return x, (g % 10).astype(np.int64)


def read_idx(name):
    with gzip.open(os.path.join(FMNIST, name)) as f:
        data = f.read()
    if name.find("images") >= 0:
        return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def fmnist(n, d, seed=23):
    x = np.concatenate([read_idx("train-images-idx3-ubyte.gz"), read_idx("t10k-images-idx3-ubyte.gz")])
    y = np.concatenate([read_idx("train-labels-idx1-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")])
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x[::7], full_matrices=False)
    p = (x @ vt[:d].T).astype(np.float32)
    sd = p.std(0)
    rng = np.random.default_rng(seed)
    idx = np.arange(n) % len(p)
    out = np.empty((n, d), np.float32)
    for s in range(0, n, 65536):
        e = min(n, s + 65536)
        out[s:e] = p[idx[s:e]] + rng.normal(0.0, 0.25, (e - s, d)).astype(np.float32) * sd
    return out, y[idx]


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("clusters", "fmnist"):
        sys.exit(__doc__)
    kind, n, d, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    x, y = (clusters if kind == "clusters" else fmnist)(n, d)
    write(out, x, y)

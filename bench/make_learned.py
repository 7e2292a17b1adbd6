#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Learned features for the graph benchmarks (issue 16): the 128-dim penultimate activations of
the quality suite's small CNN (bench/quality/run_quality.py, same architecture and training),
trained on a clean Fashion-MNIST file, written as an assay HDF5 file. Post-ReLU activations are
sparse and non-negative, unlike raw pixels or PCA projections: the third kind of data the
reduced-precision candidate pass is measured on.

    /usr/bin/python3 bench/make_learned.py --input FMNIST.h5 --out LEARNED.h5 [--epochs 2]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "quality"))
import run_quality as rq  # noqa: E402  (sets OMP_WAIT_POLICY before torch loads)

import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="a Fashion-MNIST file of assay-fmnist")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch = rq.torch_or_none()
    if torch is None:
        sys.exit("make_learned: needs python3-torch")
    import h5py
    torch.set_num_threads(2)
    x, y, ids, _ = rq.read_h5(a.input)
    images, labels = rq.to_images(torch, x), torch.from_numpy(y.astype(np.int64))
    t0 = time.monotonic()
    model = rq.train_model(torch, images, labels, a.epochs, a.seed)
    _, emb = rq.predict(torch, model, images, with_embeddings=True)
    tmp = a.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("embeddings", data=emb.astype("<f4"))
        f.create_dataset("labels", data=y.astype("<i4"))
        f.create_dataset("ids", data=np.asarray(ids).astype("<i8"))
        f.attrs["description"] = ("128-dim penultimate activations of a small CNN (%d epochs, "
                                  "seed %d) on %s" % (a.epochs, a.seed, os.path.basename(a.input)))
    os.replace(tmp, a.out)
    print("make_learned: %s: %d x %d in %.0f s" % (a.out, emb.shape[0], emb.shape[1],
                                                    time.monotonic() - t0))


if __name__ == "__main__":
    main()

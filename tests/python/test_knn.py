# SPDX-License-Identifier: Apache-2.0
"""assay.knn: the scan's own graph, and exact against brute force."""

import numpy as np
import pytest

import assay
from conftest import make_data


def brute(X, k, metric):
    X = X.astype(np.float64)
    if metric == "cosine":
        U = X / np.linalg.norm(X, axis=1, keepdims=True)
        D = 1.0 - U @ U.T
    else:
        sq = (X * X).sum(1)
        D = sq[:, None] + sq[None, :] - 2.0 * X @ X.T
    np.fill_diagonal(D, np.inf)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_knn_brute_force(metric):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((300, 12)).astype(np.float32)
    ids, dist = assay.knn(X, k=7, metric=metric)
    assert ids.shape == (300, 7) and ids.dtype == np.int64 and dist.dtype == np.float32
    bi, bd = brute(X, 7, metric)
    assert np.allclose(dist, bd, rtol=1e-4, atol=1e-4)
    # ties aside (none in random data), the same neighbours in the same order
    assert (ids == bi).mean() > 0.99
    assert (ids != np.arange(300)[:, None]).all()  # never the row itself
    assert (np.diff(dist, axis=1) >= 0).all()  # nearest first


def test_knn_equals_scan_graph():
    X, y = make_data(n=500, d=20, seed=9)
    r = assay.scan(X, y, k=12)
    gi, gd = r.graph
    ki, kd = assay.knn(X, k=12)
    assert np.array_equal(gi, ki) and np.array_equal(gd, kd)
    # from a Dataset, and with the other metric
    li, ld = assay.knn(r.dataset, k=12)
    assert np.array_equal(li, ki)
    r2 = assay.scan(X, y, metric="l2", k=5)
    assert np.array_equal(r2.neighbours[0], assay.knn(X, k=5, metric="l2")[0])


def test_knn_every_precision_same_graph():
    """The candidate pass changes speed, never the graph; report.json says which pass ran."""
    X, y = make_data(n=400, d=24, seed=4)
    ref = assay.knn(X, k=8, precision="fp32")
    for p in ("bf16", "int8", "auto"):
        got = assay.knn(X, k=8, precision=p)
        assert np.array_equal(ref[0], got[0]) and np.array_equal(ref[1], got[1])
    r = assay.scan(X, y, precision="int8")
    assert r.report()["graph"]["candidates"]["precision"] == "int8"
    assert r.report()["graph"]["candidates"]["requested"] == "int8"
    with pytest.raises(assay.InputError, match="precision"):
        assay.knn(X, precision="fp16")


def test_knn_approx_recall_reported():
    """graph_method="approx": an inverted file on clustered rows; its lists agree with the exact
    graph to the recall report.json states, which was measured on a sample."""
    rng = np.random.default_rng(21)
    centres = rng.standard_normal((40, 16)) * 4.0
    X = (centres[rng.integers(0, 40, 4000)] + rng.standard_normal((4000, 16))).astype(np.float32)
    y = np.arange(4000) % 5
    exact = assay.knn(X, k=10, metric="l2")[0]
    r = assay.scan(X, y, metric="l2", graph_method="approx", approx_recall=0.95)
    g = r.report()["graph"]
    assert g["method"] == "approx" and g["approx"]["used"] is True
    assert g["approx"]["target_recall"] == 0.95 and g["approx"]["sample_rows"] > 0
    approx = r.neighbours[0]
    found = np.mean([len(set(a) & set(e)) / 10.0 for a, e in zip(approx, exact)])
    assert found >= 0.93 and abs(found - g["approx"]["recall"]) < 0.03
    assert (approx != np.arange(4000)[:, None]).all()
    ids, _ = assay.knn(X, k=10, metric="l2", graph_method="approx", approx_recall=0.95)
    assert np.array_equal(ids, approx)
    assert assay.scan(X, y).report()["graph"]["method"] == "exact"
    with pytest.raises(assay.InputError, match="graph_method"):
        assay.knn(X, graph_method="ivf")
    with pytest.raises(assay.InputError, match="approx_recall"):
        assay.knn(X, graph_method="approx", approx_recall=1.5)

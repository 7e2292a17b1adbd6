# SPDX-License-Identifier: Apache-2.0
"""Reads the graph file `assay knn` wrote with h5py, as an ann-benchmarks user would, and checks
the layout (neighbors int64 [N, k], distances float32 [N, k], the attributes) and the lists
themselves against a NumPy brute force over the embeddings.
    check_graph.py GRAPH DATA K DATASET_SHA256"""
import sys
import numpy as np
import h5py

graph, data, k, digest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with h5py.File(data, "r") as h:
    x = h["embeddings"][...].astype(np.float32).astype(np.float64)  # as assay converts
n = x.shape[0]


def fail(msg):
    sys.exit("check_graph.py: %s: %s" % (graph, msg))


with h5py.File(graph, "r") as f:
    nb, ds = f["neighbors"], f["distances"]
    if nb.dtype != np.int64 or nb.shape != (n, k):
        fail("neighbors is %s %s, expected int64 (%d, %d)" % (nb.dtype, nb.shape, n, k))
    if ds.dtype != np.float32 or ds.shape != (n, k):
        fail("distances is %s %s, expected float32 (%d, %d)" % (ds.dtype, ds.shape, n, k))
    a = dict(f.attrs)
    want = {"distance": "angular", "metric": "cosine", "assay_format": "assay-graph/1",
            "dataset_sha256": digest}
    for key, value in want.items():
        if a.get(key) != value:
            fail("attribute %s = %r, expected %r" % (key, a.get(key), value))
    for key, value in {"k": k, "n_rows": n, "rows_in_graph": n}.items():
        if int(a.get(key, -1)) != value:
            fail("attribute %s = %r, expected %d" % (key, a.get(key), value))
    if not str(a.get("tool", "")).startswith("assay "):
        fail("attribute tool = %r" % a.get("tool"))
    if "1 - cos" not in a.get("distance_definition", ""):
        fail("attribute distance_definition = %r" % a.get("distance_definition"))
    ids, dist = nb[...], ds[...]

# brute force: 1 - cos, the row itself excluded, nearest first, ties by lower index
norms = np.sqrt((x * x).sum(axis=1))
d = 1.0 - (x @ x.T) / np.sqrt(np.outer(norms * norms, norms * norms))
np.fill_diagonal(d, np.inf)
order = np.lexsort((np.broadcast_to(np.arange(n), (n, n)), d), axis=1)[:, :k]
if not np.array_equal(order, ids):
    bad = np.nonzero((order != ids).any(axis=1))[0]
    fail("neighbour lists differ from brute force in %d rows, first %d: %s vs %s"
         % (len(bad), bad[0], ids[bad[0]], order[bad[0]]))
ref = np.maximum(np.take_along_axis(d, order, axis=1), 0.0)
if not np.allclose(dist, ref, rtol=1e-5, atol=1e-6):
    fail("distances differ from brute force by up to %g" % np.abs(dist - ref).max())
print("graph file read by h5py: ann-benchmarks layout, %d x %d, lists match brute force" % (n, k))

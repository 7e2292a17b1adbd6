# SPDX-License-Identifier: Apache-2.0
"""assay.write_shard and scan(graph_parts=...): a scan fanned out in shards (as Ray or a process
pool would run them) gives the result of the scan alone; shards of other data are refused."""

import concurrent.futures
import json

import numpy as np
import pytest

import assay
from conftest import assert_same_report, make_data, run_cli


@pytest.mark.parametrize("n_shards", [1, 3])
def test_shards_give_the_scan_alone(tmp_path, n_shards):
    X, y = make_data(n=900, d=20, seed=21)
    ids = [f"row{i}" for i in range(900)]
    opts = dict(k=8, metric="l2", expected_poison=0.03)
    alone = assay.scan(X, y, ids, **opts)
    paths = [tmp_path / f"s{i}.h5" for i in range(n_shards)]
    # one task per shard, as a pool of workers runs them (the GIL is released)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda i: assay.write_shard(X, y, ids, shard=(i, n_shards),
                                                          out=paths[i], threads=1, **opts),
                             range(n_shards)))
    assert done == [str(p) for p in paths]
    merged = assay.scan(X, y, ids, graph_parts=reversed(paths), **opts)
    g = merged.report()["graph"]
    assert g["source"] == "shards" and len(g["shards"]) == n_shards
    assert g["exact_ranking"] == alone.report()["graph"]["exact_ranking"]
    assert_same_report(merged.report(), alone.report(), tmp_path, also=("graph",))
    assert np.array_equal(merged.neighbours[0], alone.neighbours[0])
    assert merged.exit_code == alone.exit_code


def test_shards_of_other_data_or_options_are_refused(tmp_path):
    X, y = make_data(n=400, d=12, seed=3)
    for i in range(2):
        assay.write_shard(X, y, shard=(i, 2), out=tmp_path / f"p{i}.h5", k=6)
    parts = [tmp_path / "p0.h5", tmp_path / "p1.h5"]
    y2 = y.copy()
    y2[5] = (y2[5] + 1) % 3
    with pytest.raises(assay.InputError, match="built for another dataset"):
        assay.scan(X, y2, graph_parts=parts, k=6)
    with pytest.raises(assay.InputError, match="built with k = 6"):
        assay.scan(X, y, graph_parts=parts, k=7)
    with pytest.raises(assay.InputError, match="1 shard file given"):
        assay.scan(X, y, graph_parts=parts[:1], k=6)
    with pytest.raises(assay.InputError, match="--shard 2/2"):
        assay.write_shard(X, y, shard=(2, 2), out=tmp_path / "bad.h5")
    with pytest.raises(TypeError):
        assay.write_shard(X, y, shard=3, out=tmp_path / "bad.h5")


def test_cli_merges_shards_written_from_python(tmp_path, assay_bin):
    """Shards written by the Python API from an HDF5 file's arrays merge with the CLI."""
    h5py = pytest.importorskip("h5py")
    X, y = make_data(n=500, d=16, seed=5)
    data = tmp_path / "d.h5"
    with h5py.File(data, "w") as f:
        f["embeddings"] = X
        f["labels"] = y
    ds = assay.load(data)
    for i in range(2):
        assay.write_shard(ds, shard=(i, 2), out=tmp_path / "parts" / f"shard-{i}-of-2.h5")
    p = run_cli(assay_bin, "merge", data, tmp_path / "parts", "--out", tmp_path / "rep", "-q",
                "--exit-zero")
    assert p.returncode == 0, p.stderr
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert rep["graph"]["source"] == "shards"

# SPDX-License-Identifier: Apache-2.0
"""Errors raise assay exceptions carrying the library's message, the one the CLI prints."""

import numpy as np
import pytest

import assay
from conftest import make_data, run_cli


@pytest.fixture(scope="module")
def data():
    return make_data(n=200, d=8)


def test_wrong_lengths(data):
    X, y = data
    with pytest.raises(assay.InputError) as e:
        assay.scan(X, y[:-1])
    assert e.value.status == "E_SHAPE"
    assert str(e.value) == "labels have 199 rows, but the embeddings have 200 rows"
    assert isinstance(e.value, ValueError) and isinstance(e.value, assay.AssayError)
    with pytest.raises(ValueError, match="ids have 3 rows, but the embeddings have 200"):
        assay.scan(X, y, ids=["a", "b", "c"])
    with pytest.raises(ValueError, match="expected a 2-D"):
        assay.scan(X[:, 0], y)


def test_bad_labels(data):
    X, y = data
    yf = y.astype(np.float64)
    yf[3] = np.nan
    with pytest.raises(assay.InputError) as e:
        assay.scan(X, yf)
    assert "labels" in str(e.value) and "row 3" in str(e.value)
    yf[3] = 0.5
    with pytest.raises(assay.InputError, match="labels: row 3 is 0.5, not an integer"):
        assay.scan(X, yf)
    lab = [str(v) for v in y]
    lab[5] = ""
    with pytest.raises(assay.InputError, match="labels: row 5 is empty"):
        assay.scan(X, lab)
    lab[5] = 7
    with pytest.raises(TypeError, match="labels: row 5 is int, not str"):
        assay.scan(X, lab)
    with pytest.raises(TypeError, match="labels"):
        assay.scan(X)


def test_unknown_param_suggests(data):
    X, y = data
    with pytest.raises(TypeError, match="'fial_on'; did you mean 'fail_on'"):
        assay.scan(X, y, fial_on="high")
    with pytest.raises(TypeError, match="unexpected keyword argument 'zzz'$"):
        assay.scan(X, y, zzz=1)


def test_bad_values_same_message_as_cli(data, tmp_path, assay_bin):
    X, y = data
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    for kw, flag in (({"fail_on": "hgh"}, ["--fail-on", "hgh"]),
                     ({"k": 0}, ["-k", "0"]),
                     ({"threshold": {"knn-lable": 0.7}}, ["--threshold", "knn-lable=0.7"])):
        with pytest.raises(assay.InputError) as e:
            assay.scan(X, y, **kw)
        p = run_cli(assay_bin, "scan", tmp_path / "x.npy", "--labels-file", tmp_path / "y.npy",
                    "--out", tmp_path / "o", *flag)
        assert p.returncode == 2
        assert e.value.message in p.stderr, (e.value.message, p.stderr)


def test_policy_errors_same_message_as_cli(data, tmp_path, assay_bin):
    X, y = data
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    bad = tmp_path / "assay.yml"
    bad.write_text("version: 1\ngate:\n  fail-on: hgh\n")
    with pytest.raises(assay.InputError) as e:
        assay.scan(X, y, policy=bad)
    assert "assay.yml:3" in str(e.value) and "gate.fail-on" in str(e.value)
    p = run_cli(assay_bin, "scan", tmp_path / "x.npy", "--labels-file", tmp_path / "y.npy",
                "--out", tmp_path / "o", "--policy", bad)
    assert p.returncode == 2
    assert f"assay: error: policy: {e.value.message}\n" in p.stderr
    # a missing file
    with pytest.raises(assay.InputError) as e:
        assay.scan(X, y, policy=tmp_path / "nope.yml")
    assert "nope.yml" in str(e.value)
    # unknown keys: in a file and in a dict
    bad.write_text("version: 1\ngate:\n  fial-on: high\n")
    with pytest.raises(assay.InputError, match="fial-on"):
        assay.scan(X, y, policy=bad)
    with pytest.raises(assay.InputError) as e:
        assay.scan(X, y, policy={"gate.fial-on": "high"})
    assert "gate.fial-on" in str(e.value)
    with pytest.raises(TypeError, match="policy must be"):
        assay.scan(X, y, policy=3)


def test_limits(data):
    X, y = data
    with pytest.raises(assay.LimitError) as e:
        assay.scan(X, y, max_rows=100)
    assert e.value.status == "E_LIMIT"
    assert "200 rows exceed --max-rows (100)" in str(e.value)


def test_load_errors(tmp_path):
    with pytest.raises(assay.InputError) as e:
        assay.load(tmp_path / "missing.h5")
    assert "missing.h5" in str(e.value)
    X, y = make_data(n=50, d=4)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y[:-1])
    with pytest.raises(assay.InputError) as e:
        assay.load(tmp_path / "x.npy", labels_file=tmp_path / "y.npy")
    assert "y.npy" in str(e.value)
    np.save(tmp_path / "y.npy", y)
    ds = assay.load(tmp_path / "x.npy", labels_file=tmp_path / "y.npy")
    assert (ds.n, ds.d, ds.format) == (50, 4, "npy")
    assert ds.classes == ["0", "1", "2"]
    assert np.array_equal(ds.X, X)
    with pytest.raises(TypeError, match="labels, ids and pred_probs come from the dataset"):
        assay.scan(ds, y)
    with pytest.raises(ValueError, match="format"):
        assay.load(tmp_path / "x.npy", format="parquet")

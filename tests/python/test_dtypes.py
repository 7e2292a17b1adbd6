# SPDX-License-Identifier: Apache-2.0
"""Every dtype and layout scans like the float32 C-order array holding the same values, and
float32 rows are read in place (borrowed) while everything else is converted."""

import json

import numpy as np
import pytest

import assay
from conftest import assert_same_report


def small_int_data(n=300, d=16, c=3, seed=1):
    """Values every dtype holds exactly (0..23): the same data in uint8, int8, float16..."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % c
    X = rng.integers(0, 8, size=(n, d)) + 16 * ((np.arange(d)[None, :] % c) == y[:, None])
    y[::29] = (y[::29] + 1) % c
    return X.astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="module")
def reference():
    X, y = small_int_data()
    r = assay.scan(X, y)
    assert r.dataset.borrowed
    return X, y, r


@pytest.mark.parametrize("dtype", ["float64", "float16", "int8", "uint8", "int16", "int32",
                                   "int64", "uint16", "uint32", "uint64"])
def test_dtype_equals_float32(reference, dtype, tmp_path):
    X, y, ref = reference
    r = assay.scan(X.astype(dtype), y)
    assert not r.dataset.borrowed
    assert r.dataset.digest == ref.dataset.digest
    assert_same_report(r.report(), ref.report(), tmp_path)


def test_label_dtypes(reference, tmp_path):
    X, y, ref = reference
    for lab in (y.astype(np.int32), y.astype(np.uint8), y.astype(np.float64), y.tolist(),
                y.reshape(-1, 1)):
        r = assay.scan(X, lab)
        assert r.dataset.digest == ref.dataset.digest
        assert_same_report(r.report(), ref.report(), tmp_path)


def test_layouts(reference, tmp_path):
    X, y, ref = reference
    # Fortran order: converted, same result
    r = assay.scan(np.asfortranarray(X), y)
    assert not r.dataset.borrowed
    assert_same_report(r.report(), ref.report(), tmp_path)
    # every other column: the same as that contiguous copy
    sub = X[:, ::2]
    r1, r2 = assay.scan(sub, y), assay.scan(np.ascontiguousarray(sub), y)
    assert not r1.dataset.borrowed and r2.dataset.borrowed
    assert_same_report(r1.report(), r2.report(), tmp_path)
    # rows reversed (negative stride)
    rev = X[::-1]
    r1, r2 = assay.scan(rev, y[::-1]), assay.scan(np.ascontiguousarray(rev), y[::-1].copy())
    assert_same_report(r1.report(), r2.report(), tmp_path)
    # float32 rows with padding (the first d columns of a wider array): borrowed in place
    wide = np.zeros((X.shape[0], X.shape[1] + 5), dtype=np.float32)
    wide[:, : X.shape[1]] = X
    r = assay.scan(wide[:, : X.shape[1]], y)
    assert r.dataset.borrowed
    assert np.shares_memory(r.dataset.X, wide)
    assert_same_report(r.report(), ref.report(), tmp_path)
    # copy=True: never borrowed, same result
    r = assay.scan(X, y, copy=True)
    assert not r.dataset.borrowed
    assert_same_report(r.report(), ref.report(), tmp_path)
    # a list of lists and a pandas DataFrame
    import pandas as pd
    r = assay.scan(pd.DataFrame(X), pd.Series(y))
    assert_same_report(r.report(), ref.report(), tmp_path)
    # big-endian: converted by the package
    r = assay.scan(X.astype(">f4"), y)
    assert_same_report(r.report(), ref.report(), tmp_path)


def test_memmap_is_borrowed(reference, tmp_path):
    X, y, ref = reference
    path = tmp_path / "x.f32"
    X.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    r = assay.scan(mm, y)
    assert r.dataset.borrowed
    assert np.shares_memory(r.dataset.X, mm)
    assert_same_report(r.report(), ref.report(), tmp_path)
    # the result keeps the mapping alive after the caller drops it
    del mm
    assert r.dataset.X[3, 2] == X[3, 2]
    assert len(r.scores) == len(X)


def test_torch_numpy(reference, tmp_path):
    torch = pytest.importorskip("torch")
    X, y, ref = reference
    t = torch.from_numpy(X.copy())
    r = assay.scan(t.numpy(), torch.from_numpy(y).numpy())
    assert r.dataset.borrowed
    assert_same_report(r.report(), ref.report(), tmp_path)


def test_result_keeps_array_alive(reference):
    X, y, ref = reference
    Xc = X.copy()
    r = assay.scan(Xc, y)
    view = r.dataset.X
    assert not view.flags.writeable
    del Xc
    import gc
    gc.collect()
    assert np.array_equal(view, X)
    assert np.array_equal(r.dataset.X, X)

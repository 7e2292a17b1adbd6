# SPDX-License-Identifier: Apache-2.0
"""Threads: the same result on 1 and 2 threads; the GIL is released while a scan runs."""

import threading

import numpy as np

import assay
from conftest import assert_same_report, make_data


def test_threads_identical(tmp_path):
    X, y = make_data(n=1500, d=32, seed=11)
    r1 = assay.scan(X, y, threads=1)
    r2 = assay.scan(X, y, threads=2)
    assert r1.report()["tool"]["threads"] == 1 and r2.report()["tool"]["threads"] == 2
    assert_same_report(r1.report(), r2.report(), tmp_path, also=["tool.threads"])
    a, b = r1.scores, r2.scores
    assert a.equals(b)
    i1, d1 = r1.neighbours
    i2, d2 = r2.neighbours
    assert np.array_equal(i1, i2) and np.array_equal(d1, d2)


def test_gil_released():
    """A Python thread keeps running while the scan runs: with the GIL held it could not."""
    X, y = make_data(n=8000, d=64, seed=2)
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        before = ticks[0]
        assay.scan(X, y, threads=1)
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    assert during > 10000, during


def test_concurrent_scans_from_threads(tmp_path):
    """Two Python threads scanning at once (each its own context) get the sequential results."""
    X, y = make_data(n=800, d=16, seed=4)
    ref = assay.scan(X, y).report()
    out = [None, None]

    def work(i):
        out[i] = assay.scan(X, y, threads=1).report()

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for doc in out:
        assert_same_report(doc, ref, tmp_path, also=["tool.threads"])

# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the Python package's tests: the CLI binary, clean environments, datasets."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def cli_path():
    """The `assay` binary: $ASSAY_BIN, else a build folder of this checkout, else PATH."""
    env = os.environ.get("ASSAY_BIN")
    if env:
        return env
    for cand in ("build/release/assay", "build/ci/assay", "build/debug/assay", "build/python/assay"):
        p = ROOT / cand
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return shutil.which("assay")


@pytest.fixture(scope="session")
def assay_bin():
    p = cli_path()
    if p is None:
        pytest.skip("no assay binary: set ASSAY_BIN")
    return p


def clean_env():
    """The environment without ASSAY_* variables, which the CLI reads and the package does not."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}


def run_cli(assay_bin, *args):
    return subprocess.run([assay_bin, *map(str, args)], env=clean_env(), capture_output=True,
                          text=True)


def make_data(n=600, d=24, c=3, seed=0, flip_every=37):
    """Embeddings with class structure and a few flipped labels (findings and tests exist)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % c
    X = rng.normal(size=(n, d)) + 4.0 * ((np.arange(d)[None, :] % c) == y[:, None])
    y = y.astype(np.int64)
    y[::flip_every] = (y[::flip_every] + 1) % c
    return X.astype(np.float32), y


# What a scan of arrays has no value for, or what differs from run to run: removed from both
# report.json documents before they are compared.
REMOVED = [
    "timings_seconds", "started", "finished", "command",  # the run, not the data
    "input.path", "input.format", "input.files",  # an array has no file
    "findings[*].location",  # a row's place in a file
    "detectors[*].seconds",  # timings
]


def comparable(doc, also=()):
    doc = json.loads(json.dumps(doc))
    for dotted in also:
        parent, _, key = dotted.rpartition(".")
        (doc.get(parent, {}) if parent else doc).pop(key, None)
    for key in ("timings_seconds", "started", "finished", "command"):
        doc.pop(key, None)
    for key in ("path", "format", "files"):
        doc.get("input", {}).pop(key, None)
    for f in doc.get("findings", []):
        f.pop("location", None)
    for d in doc.get("detectors", []):
        if isinstance(d, dict):
            d.pop("seconds", None)
    return json.dumps(doc, indent=1, sort_keys=False)


def assert_same_report(py_doc, cli_doc, tmp_path, also=()):
    a, b = comparable(py_doc, also), comparable(cli_doc, also)
    if a != b:
        (tmp_path / "python.json").write_text(a)
        (tmp_path / "cli.json").write_text(b)
        import difflib
        diff = "".join(list(difflib.unified_diff(b.splitlines(True), a.splitlines(True),
                                                 "cli", "python"))[:80])
        pytest.fail(f"report.json differs (diff {tmp_path}/cli.json python.json):\n{diff}")


def run_python(code, fresh_rusage=False, **kw):
    """Runs code in a fresh interpreter (the same one, with the same sys.path).

    fresh_rusage: start it from a shell that forks it, so its ru_maxrss starts from the
    shell's peak: Linux carries a process's peak RSS across execve, and this process (pytest,
    numpy, maybe torch) would otherwise hand its own few hundred MB down to the child."""
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    argv = [sys.executable, "-c", code]
    if fresh_rusage:
        argv = ["/bin/sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, code]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)

# SPDX-License-Identifier: Apache-2.0
"""The example of docs/python.md (examples/python/digits_label_flips.py) runs and finds most of
the planted label flips."""

import re

import pytest

from conftest import ROOT, run_python


def test_digits_example():
    pytest.importorskip("sklearn")
    script = (ROOT / "examples" / "python" / "digits_label_flips.py").read_text()
    p = run_python(script)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    m = re.search(r"flagged (\d+) rows; found (\d+) of (\d+) planted flips", out)
    assert m, out
    flagged, found, planted = map(int, m.groups())
    assert planted == 89
    assert found >= 0.8 * planted, out  # most flips found
    assert found >= 0.8 * flagged, out  # and most flagged rows are flips
    m = re.search(r"suggested label is the original one for (\d+) of (\d+)", out)
    assert m and int(m.group(1)) >= 0.8 * int(m.group(2)), out

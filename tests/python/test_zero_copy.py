# SPDX-License-Identifier: Apache-2.0
"""Zero copy: scanning a float32 C-contiguous array adds little more than the scan's own working
memory to the peak RSS; copy=True adds about one more array. A ratio of memory, not of time."""

import json

from conftest import run_python

CHILD = r"""
import json, resource, sys
import numpy as np
import assay
copy = sys.argv[1] == "1" if len(sys.argv) > 1 else COPY
X = np.random.default_rng(0).standard_normal((4000, 6400), dtype=np.float32)  # 97.7 MiB
y = np.arange(len(X)) % 10
# the graph-based detectors: their working memory is O(rows), not O(dims^2)
keep = {"knn-label", "knn-outlier", "duplicate", "integrity", "near-duplicate"}
skip = [d for d in assay.detectors() if d not in keep]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
r = assay.scan(X, y, skip=skip, copy=copy)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before": before, "after": after, "growth_kib": after - before, "array_kib": X.nbytes // 1024,
                  "borrowed": r.dataset.borrowed}))
"""


def peak(copy):
    p = run_python(CHILD.replace("COPY", "True" if copy else "False"), fresh_rusage=True)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    return json.loads(out.splitlines()[-1])


def test_zero_copy_peak_rss():
    a = peak(False)
    b = peak(True)
    arr = a["array_kib"]
    assert a["borrowed"] and not b["borrowed"]
    # the baseline is the child's own (numpy and the array), not an inherited peak
    assert a["before"] < 4 * arr and b["before"] < 4 * arr, (a, b)
    print(f"peak RSS growth: {a['growth_kib'] / 1024:.1f} MiB borrowed, "
          f"{b['growth_kib'] / 1024:.1f} MiB with copy=True, array {arr / 1024:.1f} MiB")
    # borrowed: well under one array (the graph, scores and BLAS tiles)
    assert a["growth_kib"] < 0.5 * arr, a
    # the copy costs about one array more
    assert 0.8 * arr < b["growth_kib"] - a["growth_kib"] < 1.3 * arr, (a, b)

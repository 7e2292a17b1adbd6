# SPDX-License-Identifier: Apache-2.0
"""A small synthetic dataset with planted flags, for the report tests (html_check.py,
bom_check.py): four Gaussian classes in 24 dimensions, rows shuffled, with 60 labels flipped
from the first class to the second (7.5% of the rows: enough for the label-noise test), two far
outliers and one duplicated row carrying a different label. Class names hold characters HTML
must escape, one of them a <script> tag."""
import os
import subprocess

import numpy as np

CLASS_NAMES = ["T-shirt", "Pull<over>", "Dress & co", "<script>alert(1)</script>"]
OUTLIERS = [50, 300]
DUPLICATE = (500, 501)  # row 501 copies row 500's features with another label


def write_csv(path, seed=5):
    rng = np.random.default_rng(seed)
    n_per, k, d = 200, 4, 24
    centres = rng.normal(0, 3, (k, d))
    x = np.vstack([centres[c] + rng.normal(0, 1, (n_per, d)) for c in range(k)])
    y = np.repeat(np.arange(k), n_per)
    perm = rng.permutation(len(y))
    x, y = x[perm].astype(np.float32), y[perm]
    flipped = [int(i) for i in np.where(y == 0)[0][:60]]
    y[flipped] = 1
    x[OUTLIERS] = rng.normal(0, 12, (len(OUTLIERS), d))
    x[DUPLICATE[1]] = x[DUPLICATE[0]]
    y[DUPLICATE[1]] = (y[DUPLICATE[0]] + 1) % k
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,label," + ",".join("f%d" % i for i in range(d)) + "\n")
        for i in range(len(y)):
            f.write("row%d,%s," % (i, CLASS_NAMES[y[i]]) + ",".join("%.5f" % v for v in x[i]))
            f.write("\n")
    return {"flipped": flipped, "outliers": OUTLIERS, "duplicate": DUPLICATE}


def scan(assay, csv, out, *extra):
    """Runs `assay scan`; returns the exit code (0 pass, 1 gate failed: both are complete scans)."""
    cmd = [assay, "scan", csv, "--out", out, "--quiet", *extra]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit("%s failed (%d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                    r.stderr))
    for name in ("report.json", "report.html", "bom.cdx.json"):
        if not os.path.exists(os.path.join(out, name)):
            raise SystemExit("%s: missing after the scan" % os.path.join(out, name))
    return r.returncode

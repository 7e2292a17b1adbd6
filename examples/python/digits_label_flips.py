# SPDX-License-Identifier: Apache-2.0
"""Plant label flips in scikit-learn's digits and let assay find them (docs/python.md).

Run: python3 examples/python/digits_label_flips.py
"""

import numpy as np
from sklearn.datasets import load_digits

import assay

# 1,797 8x8 images of digits, 64 pixel features (0..16) and their labels
X, y = load_digits(return_X_y=True)
X = X.astype(np.float32)

# flip 5% of the labels to another digit
rng = np.random.default_rng(0)
flipped = rng.choice(len(y), size=int(0.05 * len(y)), replace=False)
y_noisy = y.copy()
y_noisy[flipped] = (y[flipped] + rng.integers(1, 10, size=len(flipped))) % 10

# scan: the float32 array is read in place
r = assay.scan(X, y_noisy)
print(r)

issues = r.issues
print(issues[["index", "label", "suggested_label", "detector", "severity", "score"]].head(10))

# the flagged rows, most suspicious first: how many are planted flips?
found = np.intersect1d(r.ranking, flipped)
print(f"flagged {len(r.ranking)} rows; found {len(found)} of {len(flipped)} planted flips "
      f"(precision {len(found) / max(len(r.ranking), 1):.2f})")

# where the neighbours agree on another label, that label is usually the true one
sugg = issues.drop_duplicates("index").set_index("index")["suggested_label"]
right = sum(sugg.get(i) == str(y[i]) for i in found)
print(f"suggested label is the original one for {right} of {len(found)} found flips")

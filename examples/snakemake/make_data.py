"""Two training sets for the example: scikit-learn's digits as they are (clean.csv), and with a
BadNets-style backdoor planted (backdoor.csv: a bright 2x2 patch in the corner of 40 images,
relabelled 0)."""
import csv
import sys

import numpy as np
from sklearn.datasets import load_digits

out = sys.argv[1] if len(sys.argv) > 1 else "."
X, y = load_digits(return_X_y=True)
rng = np.random.default_rng(7)
order = rng.permutation(len(y))  # row order must not follow the class
X, y = X[order].astype(int), y[order]
P, q = X.copy(), y.copy()
poisoned = rng.choice(np.flatnonzero(y != 0), 40, replace=False)
for i in poisoned:
    P[i].reshape(8, 8)[6:8, 6:8] = 16
q[poisoned] = 0
for name, features, labels in (("clean.csv", X, y), ("backdoor.csv", P, q)):
    with open(f"{out}/{name}", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"] + [f"px{j}" for j in range(64)])
        for i in range(len(labels)):
            w.writerow([f"img{i:04d}", labels[i], *features[i]])

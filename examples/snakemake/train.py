"""The training step the gate protects: a logistic regression on the CSV's feature columns."""
import pickle
import sys

import pandas as pd
from sklearn.linear_model import LogisticRegression

data, out = sys.argv[1], sys.argv[2]
table = pd.read_csv(data)
X = table.drop(columns=["id", "label"]).to_numpy("float32")
model = LogisticRegression(max_iter=2000).fit(X, table["label"])
with open(out, "wb") as f:
    pickle.dump(model, f)
print(f"trained on {len(table)} rows: training accuracy {model.score(X, table['label']):.3f}")

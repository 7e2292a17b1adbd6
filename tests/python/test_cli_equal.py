# SPDX-License-Identifier: Apache-2.0
"""A scan from Python equals `assay scan` on the same data: report.json, scores.csv, summary."""

import json

import numpy as np
import pandas as pd

import assay
from conftest import REMOVED, assert_same_report, comparable, make_data, run_cli


def test_comparison_removes_only_the_listed_keys():
    """comparable() drops exactly REMOVED (the list docs/python.md gives) and nothing else."""
    doc = {"schema": 1, "timings_seconds": {}, "started": "a", "finished": "b", "command": [],
           "input": {"path": "x", "format": "npy", "files": [], "rows": 3},
           "findings": [{"location": {}, "row": 1}], "detectors": [{"seconds": 1.0, "n": 2}]}
    left = json.loads(comparable(doc))
    assert left == {"schema": 1, "input": {"rows": 3}, "findings": [{"row": 1}],
                    "detectors": [{"n": 2}]}
    assert len(REMOVED) == 9


def test_npy_equals_cli(tmp_path, assay_bin):
    X, y = make_data()
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "cli"
    p = run_cli(assay_bin, "scan", tmp_path / "x.npy", "--labels-file", tmp_path / "y.npy",
                "--out", out)
    assert p.returncode in (0, 1), p.stderr
    r = assay.scan(X, y)
    assert r.exit_code == p.returncode
    cli_doc = json.loads((out / "report.json").read_text())
    assert_same_report(r.report(), cli_doc, tmp_path)
    # scores from the C arrays equal scores.csv (written with 6 significant digits)
    csv = pd.read_csv(out / "scores.csv", keep_default_na=False, na_values=[""])
    df = r.scores
    assert list(df.columns) == list(csv.columns)
    assert (df["index"].to_numpy() == csv["index"].to_numpy()).all()
    assert (df["label"].astype(str).to_numpy() == csv["label"].astype(str).to_numpy()).all()
    assert (df["flagged"].to_numpy() == csv["flagged"].to_numpy()).all()
    for col in df.columns[5:].tolist() + ["score"]:
        a = df[col].to_numpy(dtype=np.float64)
        b = csv[col].to_numpy(dtype=np.float64)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        ok = ~np.isnan(a)
        assert np.allclose(a[ok], b[ok], rtol=1e-5, atol=1e-30), col
    # the rendered text equals the CLI's file byte for byte
    assert r.report_text("scores") == (out / "scores.csv").read_text()
    # the CLI's summary, but for the input's name (line 1) and the graph's timing (line 2)
    assert len(p.stdout.splitlines()) > 5
    assert r.summary(out).splitlines()[2:] == p.stdout.splitlines()[2:]
    # issues: every flagged row, most suspicious first, evidence as dicts
    iss = r.issues
    flagged = int(df["flagged"].sum())
    assert iss["index"].nunique() == flagged
    assert list(dict.fromkeys(iss["index"].tolist())) == r.ranking.tolist()
    assert all(isinstance(e, dict) for e in iss["evidence"])
    tests = r.tests
    assert len(tests) == len(cli_doc["tests"])
    for row, t in zip(tests.to_dict("records"), cli_doc["tests"]):
        for key in ("detector", "class", "statistic", "significant", "severity", "gate", "null",
                    "detail"):
            assert row[key] == t[key], key
    assert r.verdict == cli_doc["gate"]["verdict"]
    assert r.passed == cli_doc["gate"]["passed"]
    assert r.reasons == cli_doc["gate"]["reasons"]
    assert r.verdict in ("pass", "warn", "fail") and r.passed == (r.verdict != "fail")


def test_csv_string_labels_equal_cli(tmp_path, assay_bin):
    X, y = make_data(n=450, d=12, seed=3)
    names = np.array(["cat", "dog", "élève"])[y]
    ids = [f"img-{i}" for i in range(len(y))]
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    df.insert(0, "label", names)
    df.insert(0, "id", ids)
    # repr of float32 round-trips: the CSV holds the same float32 values
    df.to_csv(tmp_path / "d.csv", index=False, float_format="%.9g")
    out = tmp_path / "cli"
    p = run_cli(assay_bin, "scan", tmp_path / "d.csv", "--out", out, "--quiet")
    assert p.returncode in (0, 1), p.stderr
    r = assay.scan(X, list(names), ids=ids)
    assert_same_report(r.report(), json.loads((out / "report.json").read_text()), tmp_path)
    r2 = assay.scan(X, names)  # a numpy <U array
    assert r2.scores["label"].tolist() == list(names)
    assert r.scores["id"].tolist() == ids
    # load() of the same file: the same report again
    r3 = assay.scan(assay.load(tmp_path / "d.csv"))
    assert_same_report(r3.report(), json.loads((out / "report.json").read_text()), tmp_path)


def test_policy_and_params_equal_cli_flags(tmp_path, assay_bin):
    X, y = make_data(seed=5)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    pol = tmp_path / "assay.yml"
    pol.write_text("version: 1\ngate:\n  fail-on: medium\n  max-flagged-fraction: 0.5\n"
                   "detectors:\n  knn-outlier:\n    severity: low\n")
    out = tmp_path / "cli"
    p = run_cli(assay_bin, "scan", tmp_path / "x.npy", "--labels-file", tmp_path / "y.npy",
                "--out", out, "--quiet", "--policy", pol, "-k", "15", "--threshold",
                "knn-label=0.7", "--fail-on", "high", "--skip", "ordering")
    assert p.returncode in (0, 1), p.stderr
    r = assay.scan(X, y, policy=pol, k=15, threshold={"knn-label": 0.7}, fail_on="high",
                   skip=["ordering"])
    doc = json.loads((out / "report.json").read_text())
    assert_same_report(r.report(), doc, tmp_path)
    assert r.exit_code == p.returncode
    assert r.policy["effective"]["gate"]["fail-on"] == "high"
    assert r.policy["sources"]["gate.fail-on"] == "flag"
    assert r.policy["effective"]["gate"]["max-flagged-fraction"] == 0.5
    # a dict policy of dotted keys weighs like flags
    r2 = assay.scan(X, y, policy={"gate.fail-on": "critical", "scan": {"k": 15}})
    assert r2.policy["effective"]["gate"]["fail-on"] == "critical"
    assert r2.policy["effective"]["scan"]["k"] == 15

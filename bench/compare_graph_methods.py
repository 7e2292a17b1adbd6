#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Detection on the approximate graph against the exact graph: two JSON files of
bench/quality/run_quality.py, one run with default scans and one with
--scan-args='--graph-method approx', on the same variants. Prints one Markdown table: per file
the gate verdict, the combined score's AUROC, the flagged share, the AUROC of the detectors that
read neighbour lists, and the graph's time, exact | approx.

Usage: compare_graph_methods.py EXACT.json APPROX.json"""
import json
import sys

GRAPH_DETECTORS = ("knn-label", "knn-outlier", "near-duplicate", "valuation")


def load(path):
    with open(path) as f:
        return {(r["variant"], r["representation"]): r for r in json.load(f)["results"]}


def num(v, fmt="%.4f"):
    return "–" if v is None else fmt % v


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ex, ap = load(sys.argv[1]), load(sys.argv[2])
    head = ["file", "verdict", "combined AUROC", "flagged share"] + \
        ["%s AUROC" % d for d in GRAPH_DETECTORS] + ["graph s"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    worst = 0.0
    for key in ex:
        if key not in ap:
            continue
        e, a = ex[key], ap[key]
        se, sa = e["scores"], a["scores"]
        cells = ["%s/%s" % key, "%s \\| %s" % (e["scan"].get("verdict"), a["scan"].get("verdict"))]
        for name, field in (("assay (combined)", "auroc"), ("assay (combined)", "flagged_fraction")):
            cells.append("%s \\| %s" % (num(se.get(name, {}).get(field)),
                                        num(sa.get(name, {}).get(field))))
        for d in GRAPH_DETECTORS:
            x, y = se.get(d, {}).get("auroc"), sa.get(d, {}).get("auroc")
            if x is not None and y is not None:
                worst = max(worst, x - y)
            cells.append("%s \\| %s" % (num(x), num(y)))
        te = (e["scan"].get("report_timings") or {}).get("knn")
        ta = (a["scan"].get("report_timings") or {}).get("knn")
        cells.append("%s \\| %s" % (num(te, "%.1f"), num(ta, "%.1f")))
        print("| " + " | ".join(cells) + " |")
    print("\nlargest AUROC drop of a graph detector (exact - approx): %.4f" % worst)


if __name__ == "__main__":
    main()

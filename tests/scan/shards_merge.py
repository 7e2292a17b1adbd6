#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""assay scan --shard I/N and assay merge (issue 17, part 4), run as users run them.

The reports of 'assay merge' over N shards equal those of the one-process scan with the same
options, for N = 1, 2, 3, 4 (apart from the recorded command line and report.json's "graph",
which names the shard files), also with options that change the graph's k (--expected-poison
raises it for Deep k-NN: the shards must build what the scan would). Shards that do not belong
together are refused with exit 2, a message naming the file, and no report folder.

usage: shards_merge.py ASSAY ASSAY_SYNTH WORKDIR
       shards_merge.py --compare ONE_DIR MERGED_DIR   (exit 0 when the reports are the same;
                                                        bench/bench_shards.py uses it)
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import normalize_report  # noqa: E402

FAILURES = []


def run(*args, env=None):
    p = subprocess.run([ASSAY, *args], capture_output=True, text=True, env=env, timeout=600)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def scrub(folder, dest):
    """A copy of a report folder without the command line and the graph's source."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(folder, dest)
    with open(os.path.join(dest, "report.json")) as f:
        rep = json.load(f)
    rep.pop("command")
    graph = rep.pop("graph")
    with open(os.path.join(dest, "report.json"), "w") as f:
        json.dump(rep, f, indent=1, sort_keys=True)
    with open(os.path.join(dest, "report.sarif")) as f:
        sarif = json.load(f)
    for r in sarif["runs"]:
        for inv in r.get("invocations", []):
            inv.pop("commandLine", None)
            inv.pop("arguments", None)
    with open(os.path.join(dest, "report.sarif"), "w") as f:
        json.dump(sarif, f, indent=1, sort_keys=True)
    html = os.path.join(dest, "report.html")
    with open(html) as f:
        text = re.sub(r"command: <code>[^<]*</code>", "command:", f.read())
    with open(html, "w") as f:
        f.write(text)
    return graph


def same_reports(one, merged, n_shards, label):
    g_one = scrub(one, one + ".scrubbed")
    g_merged = scrub(merged, merged + ".scrubbed")
    equal = normalize_report.compare([one + ".scrubbed", merged + ".scrubbed"]) == 0
    check(equal, f"{label}: merged reports differ from the one-process scan's")
    check(g_merged["source"] == "shards" and len(g_merged["shards"]) == n_shards,
          f"{label}: report.json graph names the {n_shards} shards")
    rows = [(s["row_begin"], s["row_end"]) for s in g_merged["shards"]]
    check(rows[0][0] == 0 and all(a[1] == b[0] for a, b in zip(rows, rows[1:])),
          f"{label}: the shards' rows follow one another from row 0: {rows}")
    check(g_merged["exact_ranking"] == g_one["exact_ranking"],
          f"{label}: ranking counts {g_merged['exact_ranking']} vs {g_one['exact_ranking']}")


def shards(data, n, folder, extra=(), threads=None):
    for i in range(n):
        t = threads if threads is not None else str(1 + i % 2)
        rc, out, err = run("scan", data, "--shard", f"{i}/{n}", "--out", folder, "--threads", t,
                           "-q", *extra)
        check(rc == 0, f"scan --shard {i}/{n} exits 0, got {rc}: {err}")


def refused(args, needle, label, out_dir=None):
    rc, out, err = run(*args)
    check(rc == 2, f"{label}: exit 2, got {rc} ({err.strip()})")
    check(needle in err, f"{label}: message names '{needle}': {err.strip()}")
    if out_dir is not None:
        check(not os.path.exists(out_dir), f"{label}: no report folder {out_dir}")


def main():
    global ASSAY
    if sys.argv[1] == "--compare":
        one, merged = sys.argv[2:4]
        scrub(one, one + ".scrubbed")
        scrub(merged, merged + ".scrubbed")
        return normalize_report.compare([one + ".scrubbed", merged + ".scrubbed"])
    ASSAY, SYNTH, WORK = sys.argv[1:4]
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    data = os.path.join(WORK, "d.h5")
    other = os.path.join(WORK, "other.h5")
    for path, seed in ((data, "5"), (other, "6")):
        subprocess.run([SYNTH, "--out", path, "--rows", "2500", "--dims", "24", "--seed", seed,
                        "--nonfinite", "0.01"], check=True, capture_output=True)
    w = lambda *p: os.path.join(WORK, *p)  # noqa: E731

    # The same reports as one process, for 1 to 4 shards (shard bounds inside the 512-row
    # blocks of the graph's tiles), thread counts mixed.
    rc, _, err = run("scan", data, "--out", w("one"), "-q", "--threads", "2")
    check(rc in (0, 1), f"one-process scan: {err}")
    for n in (1, 2, 3, 4):
        shards(data, n, w(f"parts{n}"))
        rc2, out, err = run("merge", data, w(f"parts{n}"), "--out", w(f"merged{n}"),
                            "--threads", "2")
        check(rc2 == rc, f"merge of {n} shards exits {rc} as the scan does, got {rc2}: {err}")
        check(f"merged from {n} shard files" in out, f"merge of {n}: summary names the shards")
        same_reports(w("one"), w(f"merged{n}"), n, f"{n} shards")

    # Options that shape the graph: l2, k = 7, raised by --expected-poison for Deep k-NN.
    opts = ["-k", "7", "--metric", "l2", "--expected-poison", "0.04"]
    rc, _, err = run("scan", data, "--out", w("one-opts"), "-q", *opts)
    check(rc in (0, 1), f"one-process scan with options: {err}")
    shards(data, 3, w("parts-opts"), opts)
    files = sorted(os.listdir(w("parts-opts")))
    check(files == ["shard-0-of-3.h5", "shard-1-of-3.h5", "shard-2-of-3.h5"], f"names {files}")
    # files may be given one by one, in any order
    rc2, _, err = run("merge", data, *[w("parts-opts", f) for f in reversed(files)],
                      "--out", w("merged-opts"), "-q", *opts)
    check(rc2 == rc, f"merge with options exits {rc}, got {rc2}: {err}")
    with open(w("merged-opts", "report.json")) as f:
        check(json.load(f)["parameters"]["k"] > 7, "--expected-poison raised the shards' k")
    same_reports(w("one-opts"), w("merged-opts"), 3, "options")

    # Shards that do not belong together: exit 2, the file named, no report folder.
    p3 = lambda i: w("parts3", f"shard-{i}-of-3.h5")  # noqa: E731
    bad = w("bad-out")
    refused(["merge", data, p3(0), p3(2), "--out", bad], "2 shard files given",
            "a missing shard", bad)
    refused(["merge", data, p3(0), p3(1), p3(1), "--out", bad], "is given twice",
            "a repeated shard", bad)
    refused(["merge", data, p3(0), p3(1), w("parts4", "shard-3-of-4.h5"), "--out", bad],
            "same --shard i/n split", "shards of two splits", bad)
    refused(["merge", data, w("parts3"), "-k", "12", "--out", bad], "built with k = 10",
            "another k", bad)
    refused(["merge", other, w("parts3"), "--out", bad], "built for another dataset",
            "another dataset", bad)
    rc, _, err = run("knn", data, "--out", w("whole.h5"), "-q")
    check(rc == 0, f"knn: {err}")
    refused(["merge", data, w("whole.h5"), "--out", bad], "a whole graph, not a shard",
            "a whole graph given to merge", bad)
    refused(["scan", data, "--graph", p3(1), "--out", bad], "not a whole graph",
            "a shard given to --graph", bad)
    os.makedirs(w("empty"))
    refused(["merge", data, w("empty"), "--out", bad], "no shard files", "an empty folder", bad)
    refused(["merge", data, "--out", bad], "merge needs the shard files", "no shard files given")
    refused(["merge", data, w("parts3"), "--precision", "int8"], "is for scan, not merge",
            "a graph-building option given to merge")
    refused(["merge", data, w("parts3"), "--graph", w("whole.h5")], "is for scan, not merge",
            "--graph given to merge")
    for arg in ("3/3", "1", "a/2", "-1/2", "0/0", "1/2/3"):
        refused(["scan", data, "--shard", arg, "--out", bad], "--shard expects I/N",
                f"--shard {arg}")
    refused(["scan", data, "--shard", "0/2", "--graph-method", "approx", "--out", w("pa")],
            "cannot be sharded", "an approximate graph in shards")
    refused(["scan", data, "--shard", "0/2", "--graph", w("whole.h5"), "--out", w("pa")],
            "give one of them", "--shard with --graph")
    refused(["scan", data, "--shard", "2600/2601", "--out", w("pa")], "<= the 2500 rows",
            "more shards than rows")

    # A shard whose lists were changed after it was written: its distances are re-measured.
    import h5py  # noqa: E402
    shutil.copytree(w("parts3"), w("tampered"))
    with h5py.File(w("tampered", "shard-1-of-3.h5"), "r+") as f:
        nb = f["neighbors"][...]
        row = next(r for r in range(nb.shape[0]) if nb[r, 0] >= 0)
        nb[row, 0], nb[row, 1] = nb[row, 1], nb[row, 0]
        f["neighbors"][...] = nb
    refused(["merge", data, w("tampered"), "--out", bad], "shard-1-of-3.h5: row",
            "a tampered shard", bad)
    with h5py.File(w("tampered", "shard-1-of-3.h5"), "r+") as f:
        f.attrs["row_begin"] = 0
    refused(["merge", data, w("tampered"), "--out", bad], "'row_begin' and 'row_end'",
            "shard attributes that contradict each other", bad)

    # --json-summary: one line an orchestrator reads.
    rc, out, err = run("scan", data, "--shard", "1/3", "--out", w("js"), "-q", "--json-summary")
    line = json.loads(out.strip().splitlines()[-1])
    check(rc == 0 and line["status"] == "shard" and line["shard"]["index"] == 1
          and line["shard"]["row_begin"] == 833 and line["file"].endswith("shard-1-of-3.h5"),
          f"--json-summary of a shard: {line}")

    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("shards: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

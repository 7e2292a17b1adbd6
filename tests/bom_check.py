#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bom.cdx.json and report.json's "plots": scans a small synthetic dataset with planted flags
(report_fixture.py) with --threads 1 and --threads 2 and checks
  - bom.cdx.json validates against CycloneDX 1.6 (tests/schema_check.py, offline) and says what
    the report says: the data component's SHA-256 is the dataset digest, every input file is a
    sub-component with its SHA-256, every ETSI provision of the report is a requirement, every
    claim targets the data component and cites evidence that exists, every attestation's
    conformance follows the gate, and the attestation lists what the scan cannot evidence;
  - report.json (with its plots) validates against schemas/assay-report-1.schema.json, the
    plots agree with the report (histogram counts sum to the scored rows, flagged counts per
    class to the flagged rows, every flagged row in the graph is in the scatter);
  - plots, report.html and bom.cdx.json are the same for both thread counts apart from
    timestamps, the command line and what derives from them (the BOM's serial number);
  - `assay report render report.json --html --cyclonedx` reproduces both files byte for byte.

usage: bom_check.py ASSAY SOURCE_DIR CYCLONEDX_SCHEMA OUT_DIR"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_fixture  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def schema_valid(checker, schema, path):
    r = subprocess.run([sys.executable, checker, schema, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0, "%s does not validate against %s:\n%s" % (path, schema, r.stderr))


def bom_checks(bom, report):
    data = [c for c in bom["components"] if c["type"] == "data"]
    check(len(data) == 1, "expected one data component")
    if not data:
        return
    d = data[0]
    sha = report["input"]["dataset_sha256"]
    check(d["hashes"] == [{"alg": "SHA-256", "content": sha}],
          "the data component's hash is not the dataset SHA-256")
    check(d["data"][0]["type"] == "dataset", "data[0].type is not dataset")
    files = {c["name"]: c["hashes"][0]["content"] for c in d.get("components", [])}
    for f in report["input"]["files"]:
        check(files.get(f["path"]) == f["sha256"], "input file %s missing or wrong" % f["path"])
    props = {p["name"]: p["value"] for p in d["properties"]}
    check(props.get("assay:flagged_rows") == str(report["summary"]["flagged"]),
          "assay:flagged_rows differs from the report")
    verdict = report["gate"].get("verdict") or ("pass" if report["gate"]["passed"] else "fail")
    check(props.get("assay:gate_verdict") == verdict, "assay:gate_verdict differs")
    check(re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                       r"[0-9a-f]{12}", bom["serialNumber"]) is not None,
          "serialNumber is not a version-5 UUID")
    check(bom["metadata"]["tools"]["components"][0]["version"] == report["tool"]["version"],
          "the tool version differs")

    std = bom["definitions"]["standards"][0]
    check(std["name"] == "ETSI EN 304 223" and std["version"] == report["etsi"]["version"],
          "the standard is not ETSI EN 304 223 at the report's version")
    req_ids = {r["identifier"]: r["bom-ref"] for r in std["requirements"]}
    cited = {p["id"] for e in report["etsi"]["evidence"].values() for p in e["provisions"]}
    check(cited == set(req_ids), "requirements %s differ from the report's provisions %s" %
          (sorted(set(req_ids) ^ cited), sorted(cited)))

    decl = bom["declarations"]
    evidence = {e["bom-ref"] for e in decl["evidence"]}
    claims = {c["bom-ref"]: c for c in decl["claims"]}
    for c in claims.values():
        check(c["target"] == d["bom-ref"], "claim %s does not target the data" % c["bom-ref"])
        check(c["evidence"] and set(c["evidence"]) <= evidence,
              "claim %s cites missing evidence" % c["bom-ref"])
    # the gate-backed and content provisions are claimed (5.2.1-4.1 is the main anchor)
    check("claim:5.2.1-4.1" in claims, "no claim for EN 304 223 5.2.1-4.1")
    att = decl["attestations"][0]
    check(att["assessor"] == decl["assessors"][0]["bom-ref"], "attestation assessor unknown")
    check(decl["assessors"][0]["thirdParty"] is False, "the tool is not a self assessor")
    want = {"pass": 1.0, "warn": 0.5, "fail": 0.0}[verdict]
    for m in att["map"]:
        check(m["requirement"] in req_ids.values(), "map cites an unknown requirement")
        check(set(m["claims"]) <= set(claims), "map cites an unknown claim")
        content = any(e not in ("evidence:manifest", "evidence:report")
                      for c in m["claims"] for e in claims[c]["evidence"])
        if content:
            check(m["conformance"]["score"] == want,
                  "%s: conformance %s does not follow the gate (%s)" %
                  (m["requirement"], m["conformance"]["score"], verdict))
        check("not" in m["conformance"]["rationale"] and "compl" in m["conformance"]["rationale"],
              "%s: the rationale does not say it is not compliance" % m["requirement"])
        check(m["confidence"]["score"] < 1.0, "confidence of 1 is over-claiming")
    for item in report["etsi"]["not_evidenced"]:
        check(item["provisions"] in att["summary"], "summary omits %s" % item["provisions"])


def plots_checks(report):
    plots = report["plots"]
    ran = [d["name"] for d in report["detectors"] if d["ran"]]
    hist = {h["detector"]: h for h in plots["score_histograms"]}
    check(set(hist) <= set(ran), "a histogram for a detector that did not run")
    for name, h in hist.items():
        check(sum(h["counts"]) == h["rows"], "%s: counts do not sum to rows" % name)
        check(len(h["edges"]) == len(h["counts"]) + 1, "%s: edges and counts disagree" % name)
        check(h["cut"] == 0.5, "%s: the cut is not 0.5" % name)
        above = sum(c for c, lo in zip(h["counts"], h["edges"]) if lo >= 0.5)
        check(above <= h["rows_at_or_above_cut"], "%s: bars above the cut" % name)
    by_class = plots["flagged_by_class"]
    check(sum(c["flagged"] for c in by_class) == report["summary"]["flagged"],
          "flagged per class does not sum to the flagged rows")
    check(sum(c["rows"] for c in by_class) == report["summary"]["rows"],
          "rows per class do not sum to the rows")
    pca = plots["pca"]
    check(pca["available"] is True, "no PCA for the fixture")
    pts = pca["points"]
    check(len(pts) == min(report["input"]["rows_in_graph"], pca["max_points"]),
          "the scatter does not show every row of a small dataset")
    flagged_rows = {f["index"] for f in report["findings"]}
    shown = {p[4] for p in pts if p[3] == 1}
    check(shown == flagged_rows, "the scatter's flagged points are not the flagged rows")
    ev = pca["explained_variance"]
    check(0 < ev[1] <= ev[0] < 1, "explained variance %s is not descending in (0, 1)" % ev)


def masked_html(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)
    return re.sub(r"command: <code>.*?</code>", "command", text)


def masked_bom(bom):
    bom = json.loads(json.dumps(bom))
    bom["serialNumber"] = "SERIAL"
    text = json.dumps(bom, sort_keys=True)
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    assay, src, cdx_schema, out = argv[1], argv[2], argv[3], os.path.abspath(argv[4])
    checker = os.path.join(src, "tests", "schema_check.py")
    report_schema = os.path.join(src, "schemas", "assay-report-1.schema.json")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    csv = os.path.join(out, "planted.csv")
    report_fixture.write_csv(csv)
    dirs = []
    for threads in (1, 2):
        d = os.path.join(out, "threads%d" % threads)
        report_fixture.scan(assay, csv, d, "--threads", str(threads))
        dirs.append(d)
    for d in dirs:
        schema_valid(checker, cdx_schema, os.path.join(d, "bom.cdx.json"))
        schema_valid(checker, report_schema, os.path.join(d, "report.json"))
    report = load(os.path.join(dirs[0], "report.json"))
    bom = load(os.path.join(dirs[0], "bom.cdx.json"))
    bom_checks(bom, report)
    plots_checks(report)

    other = load(os.path.join(dirs[1], "report.json"))
    check(report["plots"] == other["plots"], "plots differ between --threads 1 and 2")
    check(masked_html(os.path.join(dirs[0], "report.html")) ==
          masked_html(os.path.join(dirs[1], "report.html")),
          "report.html differs between --threads 1 and 2 beyond timestamps and the command")
    check(masked_bom(bom) == masked_bom(load(os.path.join(dirs[1], "bom.cdx.json"))),
          "bom.cdx.json differs between --threads 1 and 2 beyond timestamps")

    rerender = os.path.join(out, "rendered")
    r = subprocess.run([assay, "report", "render", os.path.join(dirs[0], "report.json"),
                        "--html", "--cyclonedx", "--out", rerender, "--quiet"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 0, "assay report render failed: %s" % r.stderr)
    for name in ("report.html", "bom.cdx.json"):
        a, b = os.path.join(dirs[0], name), os.path.join(rerender, name)
        same = os.path.exists(b) and open(a, "rb").read() == open(b, "rb").read()
        check(same, "%s rendered from report.json differs from the scan's" % name)
    print("bom.cdx.json: %d bytes, report.html: %d bytes, report.json: %d bytes" %
          tuple(os.path.getsize(os.path.join(dirs[0], n))
                for n in ("bom.cdx.json", "report.html", "report.json")))
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("bom.cdx.json and plots checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

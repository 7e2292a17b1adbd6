#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""report.html in a real browser: scans a small synthetic dataset with planted flags
(report_fixture.py), opens the page in headless Chromium and checks that it loads without
console errors, that the DOM holds the verdict, the plots and the tables, and that a screenshot
is not blank; checks statically that the page is self-contained (no scripts, no external or
relative resources) and escapes what came from the input file.

usage: html_check.py ASSAY OUT_DIR
Exit code 0 pass, 1 fail, 77 (CTest: skipped) when no Chromium is installed."""
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_fixture  # noqa: E402

SKIP = 77
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(browser, out, *args):
    """Runs headless Chromium; returns (stdout, stderr). --no-sandbox: CI runs as root."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0", "--user-data-dir=" + os.path.join(out, "profile"),
           *args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=180)
    if r.returncode != 0:
        failures.append("chromium exited with %d" % r.returncode)
        print(r.stderr[-3000:], file=sys.stderr)
    return r.stdout, r.stderr


def static_checks(html):
    low = html.lower()
    check("<script" not in low, "the page contains a <script> element")
    check(re.search(r"\bon[a-z]+\s*=", low) is None, "the page has an inline event handler")
    check(re.search(r"https?://", low) is None, "the page references an http(s) URL")
    check(re.search(r"\b(src|srcset|href|xlink:href)\s*=", low) is None,
          "the page loads or links a resource (src/href attribute)")
    check("url(" not in low and "@import" not in low, "the style sheet loads a resource")
    for tag in ("<link", "<iframe", "<object", "<embed", "<img"):
        check(tag not in low, "the page contains " + tag)
    # the fixture's class names must arrive escaped
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in html, "a <script> class name is not escaped")
    check("Pull&lt;over&gt;" in html and "Dress &amp; co" in html, "class names are not escaped")


def dom_checks(dom, report):
    check(re.search(r'id="verdict"[^>]*>\s*GATE (PASS|WARN|FAIL)', dom) is not None,
          "the DOM has no gate verdict")
    verdict = report["gate"].get("verdict") or ("pass" if report["gate"]["passed"] else "fail")
    check("GATE " + verdict.upper() in dom, "the DOM's verdict is not the report's (%s)" % verdict)
    ran = sum(1 for d in report["detectors"] if d["ran"])
    svgs = dom.count("<svg")
    # one histogram per detector that ran, the per-class bars and the scatter
    check(svgs >= ran + 2, "%d SVG plots in the DOM, expected at least %d" % (svgs, ran + 2))
    for section in ("gate", "fingerprint", "detectors", "plots", "flagged", "tests", "etsi"):
        check('id="%s"' % section in dom, "the DOM has no section #" + section)
    check(report["input"]["dataset_sha256"] in dom, "the DOM lacks the dataset SHA-256")
    for f in report["input"]["files"]:
        check(f["sha256"] in dom, "the DOM lacks the SHA-256 of " + f["path"])
    check(dom.count("<table") >= 5, "fewer tables than expected in the DOM")
    # every flagged row of the scatter is drawn ringed, with its row number as hover text
    pca = report["plots"]["pca"]
    flagged = sum(1 for p in pca["points"] if p[3] == 1)
    check(flagged > 0, "the fixture's planted flags are not in the PCA sample")
    check(dom.count('stroke="#c62828" stroke-width="2"><title>row ') == flagged,
          "the scatter does not ring exactly the %d flagged points" % flagged)
    # the top-rows table lists the first 50 flagged rows in rank order, the planted conflicting
    # duplicate (high severity) among them
    listed = [int(m) for m in re.findall(r'<td class="n row">(\d+)', dom)]
    ranked = []
    for f in report["findings"]:
        if f["index"] not in ranked:
            ranked.append(f["index"])
    check(listed == ranked[:50], "the top-rows table is not the first 50 flagged rows by rank")
    for row in report_fixture.DUPLICATE:
        check(row in listed, "planted duplicate row %d is not in the top-rows table" % row)
    check("No baseline given" in dom, "the page does not say that no baseline was given")
    check("cannot evidence" in dom and report["etsi"]["disclaimer"][:40] in dom,
          "the ETSI section lacks the not-evidenced list or the disclaimer")


def console_checks(log):
    bad = [line for line in log.splitlines()
           if re.search(r"CONSOLE|Uncaught|net::ERR_|Failed to load|Refused to", line)]
    check(not bad, "the browser reported errors:\n  " + "\n  ".join(bad[:10]))


def screenshot_checks(png):
    from PIL import Image
    check(os.path.exists(png), "no screenshot written")
    if not os.path.exists(png):
        return
    img = Image.open(png).convert("RGB")
    check(img.size == (1280, 2000), "screenshot size %s, expected 1280x2000" % (img.size,))
    small = img.resize((320, 500))
    pixels = list(small.getdata())
    colours = len(set(pixels))
    non_white = sum(1 for p in pixels if min(p) < 235) / len(pixels)
    print("screenshot: %d colours, %.1f%% non-white pixels" % (colours, 100 * non_white))
    check(colours > 20, "the screenshot has %d colours: blank page?" % colours)
    check(0.03 < non_white < 0.9, "the screenshot is %.1f%% non-white" % (100 * non_white))


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    assay, out = argv[1], os.path.abspath(argv[2])
    browser = find_chromium()
    if browser is None:
        print("chromium is not installed: skipped (apt-get install chromium)")
        return SKIP
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    csv = os.path.join(out, "planted.csv")
    report_fixture.write_csv(csv)
    scan_dir = os.path.join(out, "scan")
    report_fixture.scan(assay, csv, scan_dir)
    page = os.path.join(scan_dir, "report.html")
    import json
    with open(os.path.join(scan_dir, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    with open(page, encoding="utf-8") as f:
        static_checks(f.read())
    url = "file://" + page
    dom, log1 = chromium(browser, out, "--dump-dom", url)
    dom_checks(dom, report)
    png = os.path.join(out, "report.png")
    _, log2 = chromium(browser, out, "--screenshot=" + png, "--window-size=1280,2000", url)
    console_checks(log1 + log2)
    screenshot_checks(png)
    print("report.html: %d bytes; screenshot %s" % (os.path.getsize(page), png))
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("report.html checks passed in %s" % os.path.basename(browser))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Shows that two builds of assay write the same reports: every scan recorded in a tree of
report folders (each report.json holds its command line and ASSAY_* environment) is run again
with an OLD and a NEW assay binary, and the exit codes, standard output, standard error and
every report file are compared after tests/normalize_report.py has removed wall-clock times and
durations (and nothing else).

    compare_builds.py --old OLD/assay --new NEW/assay --reports TREE [--reports TREE2] --work DIR

Both binaries are started through the same path (DIR/bin/assay, a symbolic link switched between
the two) and write into the same folder (DIR/run/NAME/out, moved aside after each run), so the
command lines recorded in the reports are identical too. Exit status 0 when every scan matched,
1 otherwise (a diff is printed for each difference). Used to show that a refactoring changed no
byte of any report (docs/architecture.md).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import normalize_report  # noqa: E402


def recorded_scans(roots):
    """(name, argv[1:], environment) of every scan a report.json records, by folder."""
    out = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            if "report.json" not in files:
                continue
            try:
                with open(os.path.join(dirpath, "report.json")) as f:
                    doc = json.load(f)
            except (OSError, ValueError):
                continue
            cmd = doc.get("command") or []
            if len(cmd) < 2 or cmd[1] != "scan":
                continue  # written through the library API: no command to repeat
            name = os.path.relpath(dirpath, root).replace(os.sep, "_")
            out.append((os.path.basename(os.path.normpath(root)) + "_" + name, cmd[1:],
                        doc.get("environment") or []))
    return sorted(out)


def retarget(args, out_dir, summary_file):
    """The arguments with --out and --json-summary=FILE pointed into the work folder."""
    res, i = [], 0
    while i < len(args):
        a = args[i]
        if a in ("--out", "-o") and i + 1 < len(args):
            res += [a, out_dir]
            i += 2
            continue
        if a.startswith("--out="):
            res.append("--out=" + out_dir)
        elif a.startswith("--json-summary="):
            res.append("--json-summary=" + summary_file)
        else:
            res.append(a)
        i += 1
    if "--out" not in res and "-o" not in res and not any(r.startswith("--out=") for r in res):
        res += ["--out", out_dir]
    return res


def run_one(link, binary, args, env_items, run_dir):
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.abspath(binary), link)
    out_dir = os.path.join(run_dir, "out")
    summary = os.path.join(run_dir, "summary.json")
    for p in (out_dir, summary):
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.remove(p)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    for item in env_items:
        k, _, v = item.partition("=")
        env[k] = v.replace("\x00", "")
    env["NO_COLOR"] = "1"
    p = subprocess.run([link] + retarget(args, out_dir, summary), env=env, capture_output=True,
                       cwd=run_dir, timeout=3600)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def text_lines(text):
    """Standard output and error without times and durations (the summary prints them)."""
    text = normalize_report.clean_text(text)
    return normalize_report.SECONDS.sub("<seconds>", text).splitlines()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--reports", action="append", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", help="run only scans whose name contains this text")
    a = ap.parse_args(argv)
    os.makedirs(os.path.join(a.work, "bin"), exist_ok=True)
    link = os.path.join(a.work, "bin", "assay")
    scans = recorded_scans(a.reports)
    if a.only:
        scans = [s for s in scans if a.only in s[0]]
    bad = 0
    for name, args, env_items in scans:
        run_dir = os.path.join(a.work, "run", name)
        os.makedirs(run_dir, exist_ok=True)
        results = {}
        for side, binary in (("old", a.old), ("new", a.new)):
            results[side] = run_one(link, binary, args, env_items, run_dir)
            dest = os.path.join(run_dir, side)
            if os.path.isdir(dest):
                shutil.rmtree(dest)
            if os.path.isdir(os.path.join(run_dir, "out")):
                os.rename(os.path.join(run_dir, "out"), dest)
            else:
                os.makedirs(dest)
            if os.path.exists(os.path.join(run_dir, "summary.json")):
                os.rename(os.path.join(run_dir, "summary.json"),
                          os.path.join(dest, "json-summary.txt"))
        (co, so, eo), (cn, sn, en) = results["old"], results["new"]
        problems = []
        if co != cn:
            problems.append("exit code %d vs %d" % (co, cn))
        if text_lines(so) != text_lines(sn):
            problems.append("stdout differs:\n--- old\n%s\n--- new\n%s" % (so[-2000:], sn[-2000:]))
        if text_lines(eo) != text_lines(en):
            problems.append("stderr differs:\n--- old\n%s\n--- new\n%s" % (eo[-2000:], en[-2000:]))
        old_dir, new_dir = os.path.join(run_dir, "old"), os.path.join(run_dir, "new")
        files = normalize_report.report_files(old_dir)
        if files != normalize_report.report_files(new_dir):
            problems.append("different files: %s vs %s"
                            % (files, normalize_report.report_files(new_dir)))
        elif files and normalize_report.compare([old_dir, new_dir]) != 0:
            problems.append("report files differ (diff above)")
        if problems:
            bad += 1
            print("DIFFERENT %s (exit %d): %s" % (name, co, "; ".join(problems)))
        else:
            print("same      %s (exit %d, %d files)" % (name, co, len(files)))
        sys.stdout.flush()
    print("%d of %d scans identical" % (len(scans) - bad, len(scans)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

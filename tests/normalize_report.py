#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compares assay report folders after removing what legitimately differs between two runs of
the same scan: wall-clock times, durations, the thread count and the MPI rank count. Everything
else must be equal.

    normalize_report.py --compare DIR_A DIR_B [DIR_C ...]   exit 0 if equal, 1 (and a diff) if not
    normalize_report.py FILE                                 prints FILE normalised

What is removed (and nothing else):
  JSON files (.json, .sarif; .jsonl line by line), at any depth:
    - keys "started", "finished", "created", "timestamp" (wall-clock times),
      "startTimeUtc", "endTimeUtc" (SARIF invocation times);
    - keys "timings_seconds", "seconds", "time" (durations);
    - keys "threads" and "ranks" (tool.threads, tool.ranks: the thread and MPI rank counts);
    - top-level "serialNumber" (CycloneDX: a fresh UUID per document);
    - in arrays of strings (the recorded command line): "--threads" and "--memory-limit" with
      the value after them, and "--threads=N", "--memory-limit=SIZE";
    - in every string value: RFC 3339 date-times -> <datetime> (e.g. CycloneDX's
      "assay:scan_started" property), "--threads N" and "--memory-limit SIZE" -> removed (SARIF's commandLine).
  Text files (.xml, .html, others):
    - attributes time="..." and timestamp="..." -> time="" / timestamp="";
    - RFC 3339 date-times (2025-01-31T12:00:00Z, with fraction or offset) -> <datetime>;
    - in .html only, durations written as "<number> s" -> <seconds>;
    - "--threads N" / "--threads=N" and "--memory-limit SIZE" -> removed; a JUnit/HTML "threads"
      property value -> "".
  CSV files are compared as they are.
"""
import json
import os
import re
import sys
import difflib

DROP_KEYS = {"started", "finished", "created", "timestamp", "startTimeUtc", "endTimeUtc",
             "timings_seconds", "seconds", "time", "threads", "ranks"}
DROP_TOP_KEYS = {"serialNumber"}

DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
TIME_ATTR = re.compile(r'\b(time|timestamp)="[^"]*"')
SECONDS = re.compile(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\s?s\b")
THREADS_ARG = re.compile(r"\s?--(?:threads(?:=|\s+)\d+|memory-limit(?:=|\s+)[0-9.]+[A-Za-z]*)")
RUN_SHAPE_OPTS = ("--threads", "--memory-limit")
THREADS_PROP = re.compile(r'(name="threads"\s+value=")[^"]*(")')


def drop_threads_args(items):
    out, skip = [], False
    for v in items:
        if skip:
            skip = False
            continue
        if v in RUN_SHAPE_OPTS:
            skip = True
            continue
        if isinstance(v, str) and v.startswith(tuple(o + "=" for o in RUN_SHAPE_OPTS)):
            continue
        out.append(v)
    return out


def clean(value, top=False):
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()
                if k not in DROP_KEYS and not (top and k in DROP_TOP_KEYS)}
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            value = drop_threads_args(value)
        return [clean(v) for v in value]
    if isinstance(value, str):
        return DATETIME.sub("<datetime>", THREADS_ARG.sub("", value))
    return value


def clean_text(text):
    text = TIME_ATTR.sub(r'\1=""', text)
    text = DATETIME.sub("<datetime>", text)
    text = THREADS_ARG.sub("", text)
    text = THREADS_PROP.sub(r"\1\2", text)
    return text


def normalise(path):
    """The file's text with the fields above removed, as a list of lines."""
    name = os.path.basename(path)
    with open(path, "rb") as f:
        raw = f.read().decode("utf-8", errors="replace")
    if name.endswith((".json", ".sarif")):
        doc = clean(json.loads(raw), top=True)
        return json.dumps(doc, indent=1, ensure_ascii=True).splitlines()
    if name.endswith(".jsonl"):
        return [json.dumps(clean(json.loads(line), top=True), ensure_ascii=True)
                for line in raw.splitlines()]
    if name.endswith(".csv"):
        return raw.splitlines()
    if name.endswith(".html"):
        return SECONDS.sub("<seconds>", clean_text(raw)).splitlines()
    return clean_text(raw).splitlines()


def report_files(folder):
    return sorted(n for n in os.listdir(folder)
                  if not n.startswith(".") and os.path.isfile(os.path.join(folder, n)))


def compare(folders):
    ref = folders[0]
    names = report_files(ref)
    if not names:
        print("%s: no report files" % ref, file=sys.stderr)
        return 1
    bad = 0
    for other in folders[1:]:
        if report_files(other) != names:
            print("%s and %s hold different files: %s vs %s"
                  % (ref, other, names, report_files(other)), file=sys.stderr)
            bad = 1
            continue
        for n in names:
            a, b = normalise(os.path.join(ref, n)), normalise(os.path.join(other, n))
            if a != b:
                bad = 1
                diff = difflib.unified_diff(a, b, os.path.join(ref, n), os.path.join(other, n),
                                            lineterm="", n=1)
                print("\n".join(list(diff)[:40]), file=sys.stderr)
    if not bad:
        print("identical after normalisation: %s (%s)" % (", ".join(folders), ", ".join(names)))
    return bad


def main(argv):
    if len(argv) >= 3 and argv[0] == "--compare":
        return compare(argv[1:])
    if len(argv) == 1 and not argv[0].startswith("-"):
        print("\n".join(normalise(argv[0])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Parses a junit.xml as GitLab does (testsuites/testsuite/testcase with failure|error|skipped)
and prints a JSON summary for the tests to assert on:

  {"tests": N, "failures": F, "errors": E, "skipped": S,
   "cases": [{"classname", "name", "result": "passed|failure|error|skipped", "message", "text"}]}

usage: junit_summary.py JUNIT_XML

Exit code 1 (with the reason on stderr) when the file is not well-formed XML, when the counts in
the <testsuites>/<testsuite> attributes disagree with the test cases, or when two test cases share
a classname and name (GitLab drops duplicates)."""
import json
import sys
import xml.etree.ElementTree as ET


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        root = ET.parse(argv[1]).getroot()
    except ET.ParseError as e:
        print("%s: not well-formed XML: %s" % (argv[1], e), file=sys.stderr)
        return 1
    if root.tag != "testsuites":
        print("%s: root element is <%s>, expected <testsuites>" % (argv[1], root.tag), file=sys.stderr)
        return 1
    cases, seen, bad = [], set(), []
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.findall("testsuite"):
        mine = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for tc in suite.findall("testcase"):
            key = (tc.get("classname"), tc.get("name"))
            if key in seen:
                bad.append("duplicate test case %r" % (key,))
            seen.add(key)
            result, message, text = "passed", None, None
            for tag, name in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                el = tc.find(tag)
                if el is not None:
                    result, message, text = tag, el.get("message"), el.text
                    mine[name] += 1
                    break
            if result == "passed" and tc.find("system-out") is not None:
                text = tc.find("system-out").text
            mine["tests"] += 1
            cases.append({"classname": key[0], "name": key[1], "result": result,
                          "message": message, "text": text})
        for k in mine:
            if int(suite.get(k, -1)) != mine[k]:
                bad.append("testsuite %s=%s, but its test cases give %d" % (k, suite.get(k), mine[k]))
            counts[k] += mine[k]
    for k in counts:
        if int(root.get(k, -1)) != counts[k]:
            bad.append("testsuites %s=%s, but the test cases give %d" % (k, root.get(k), counts[k]))
    if bad:
        for b in bad:
            print("%s: %s" % (argv[1], b), file=sys.stderr)
        return 1
    counts["cases"] = cases
    json.dump(counts, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

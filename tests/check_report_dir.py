#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Validates every machine-readable file of an assay report folder against its schema.

usage: check_report_dir.py REPO SHARED DIR

REPO is the source tree (schemas/), SHARED the reference folder beside it (../shared, with the
official SARIF 2.1.0 and CycloneDX 1.6 schemas), DIR the report folder. report.json, manifest.json
and findings.jsonl are required; report.sarif, bom.cdx.json and diff.json are checked when present.
Exit 0 when all are valid."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    repo, shared, folder = argv[1:]
    checks = [
        ("report.json", os.path.join(repo, "schemas", "assay-report-1.schema.json"), True),
        ("manifest.json", os.path.join(repo, "schemas", "assay-manifest-1.schema.json"), True),
        ("findings.jsonl", os.path.join(repo, "schemas", "assay-findings-1.schema.json"), True),
        ("diff.json", os.path.join(repo, "schemas", "assay-diff-1.schema.json"), False),
        ("report.sarif", os.path.join(shared, "schemas", "sarif-schema-2.1.0.json"), False),
        ("bom.cdx.json",
         os.path.join(shared, "schemas", "cyclonedx-1.6", "bom-1.6.schema.json"), False),
    ]
    bad = 0
    for name, schema, required in checks:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            if required:
                print("%s: missing" % path, file=sys.stderr)
                bad += 1
            continue
        rc = subprocess.call([sys.executable, os.path.join(HERE, "schema_check.py"), schema, path])
        bad += rc != 0
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

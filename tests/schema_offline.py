#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The report schemas validate offline: no validator ever needs the network for them.

usage: schema_offline.py ASSAY SRC OUT

Every schemas/*.schema.json must name itself with a urn: $id (an identifier, never a location a
validator tries to download), point $schema at the 2020-12 meta-schema the jsonschema package
ships, and use only local ("#/...") or urn: references to each other. Each schema is then checked
against its meta-schema and every $ref in it resolved, and the files of a real scan (report.json,
manifest.json, findings.jsonl, `assay diff`'s diff.json, `assay policy show`'s policy) are
validated, all with a resolver that fails on any fetch: the schemas are found only in a store
keyed by their $id, as docs/reports.md ("Validating offline") tells users to do. Exit 0 when all
holds."""
import glob
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

import jsonschema

import report_fixture

# jsonschema before 4.18 joins "#/..." onto a base only for the schemes urllib lists as relative
# (docs/reports.md says the same to users of those versions).
for _schemes in (urllib.parse.uses_relative, urllib.parse.uses_fragment):
    if "urn" not in _schemes:
        _schemes.append("urn")

META_2020_12 = "https://json-schema.org/draft/2020-12/schema"
FETCHES = []


def no_fetch(self, uri):
    FETCHES.append(uri)
    raise RuntimeError("schema_offline: a validator tried to fetch %s" % uri)


# Every resolver (ours, and the one check_schema builds for the meta-schema) fails on a fetch.
jsonschema.RefResolver.resolve_remote = no_fetch


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def load_schemas(src):
    schemas = {}
    errors = []
    for path in sorted(glob.glob(os.path.join(src, "schemas", "*.schema.json"))):
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        sid = schema.get("$id", "")
        if not sid.startswith("urn:"):
            errors.append("%s: $id %r is not a urn: (validators may try to fetch it)" % (name, sid))
        if schema.get("$schema") != META_2020_12:
            errors.append("%s: $schema %r is not %s" % (name, schema.get("$schema"), META_2020_12))
        for ref in refs(schema):
            if not (ref.startswith("#") or ref.startswith("urn:")):
                errors.append("%s: $ref %r is neither local nor urn:" % (name, ref))
        schemas[name] = schema
    if len(schemas) < 5:
        errors.append("only %d schemas in %s/schemas" % (len(schemas), src))
    return schemas, errors


def validator(schema, store):
    cls = jsonschema.validators.validator_for(schema, default=None)
    if cls is not jsonschema.Draft202012Validator:
        raise SystemExit("%s: not a 2020-12 schema the jsonschema package knows" % schema["$id"])
    cls.check_schema(schema)
    resolver = jsonschema.RefResolver(schema["$id"], schema, store=store)
    return cls(schema, resolver=resolver, format_checker=cls.FORMAT_CHECKER), resolver


def documents(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith(".jsonl"):
            return [json.loads(line) for line in f if line.strip()]
        return [json.load(f)]


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    assay, src, out = argv[1], argv[2], os.path.abspath(argv[3])
    schemas, errors = load_schemas(src)
    store = {s["$id"]: s for s in schemas.values() if "$id" in s}
    checked = {}
    for name, schema in schemas.items():
        try:
            v, resolver = validator(schema, store)
            for ref in refs(schema):  # every reference resolves from the store alone
                resolver.resolve(ref)
            checked[name] = v
        except Exception as e:  # noqa: BLE001 -- reported with the schema's name
            errors.append("%s: %s" % (name, e))

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    csv = os.path.join(out, "planted.csv")
    report_fixture.write_csv(csv)
    scan = os.path.join(out, "scan")
    report_fixture.scan(assay, csv, scan)
    manifest = os.path.join(scan, "manifest.json")
    diff_out = os.path.join(out, "diff")
    subprocess.run([assay, "diff", manifest, manifest, "--out", diff_out, "-q"], check=True)
    policy = os.path.join(out, "policy.json")
    with open(policy, "w", encoding="utf-8") as f:
        subprocess.run([assay, "policy", "show", "--fail-on", "critical"], stdout=f, check=True)
    files = [("assay-report-1.schema.json", os.path.join(scan, "report.json")),
             ("assay-manifest-1.schema.json", manifest),
             ("assay-findings-1.schema.json", os.path.join(scan, "findings.jsonl")),
             ("assay-diff-1.schema.json", os.path.join(diff_out, "diff.json")),
             ("assay-policy-1.schema.json", policy)]
    for name, path in files:
        if name not in checked:
            continue
        docs = documents(path)
        if not docs:
            errors.append("%s: empty" % path)
        for doc in docs:
            try:
                for err in checked[name].iter_errors(doc):
                    where = "/".join(str(p) for p in err.absolute_path)
                    errors.append("%s: /%s: %s" % (path, where, err.message[:300]))
            except Exception as e:  # noqa: BLE001 -- an unresolvable reference, a fetch
                errors.append("%s: %s" % (path, e))
    if FETCHES:
        errors.append("fetches attempted: %s" % ", ".join(sorted(set(FETCHES))))
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    print("%d schemas and %d files valid offline" % (len(checked), len(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

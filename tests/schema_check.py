#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Validates JSON documents (or JSON-lines files, one document per line) against a JSON Schema.

usage: schema_check.py SCHEMA FILE [FILE...]

Every schema found next to SCHEMA (same folder) is loaded into the resolver's store under its
$id, so relative references such as CycloneDX's "spdx.schema.json" resolve offline. Format
keywords (date-time, uri, ...) are checked where the jsonschema package can check them.
Exit code 0 when every document is valid, 1 otherwise (each error printed with its path)."""
import json
import os
import sys
import urllib.parse

import jsonschema

# Our schemas use urn: ids; let references inside them ("#/$defs/...") resolve against a urn base
# as they do against http ones (urllib only joins the schemes it knows).
for _scheme_list in (urllib.parse.uses_relative, urllib.parse.uses_fragment):
    if "urn" not in _scheme_list:
        _scheme_list.append("urn")


def load_store(schema_path):
    store = {}
    folder = os.path.dirname(os.path.abspath(schema_path))
    for name in os.listdir(folder):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            try:
                s = json.load(f)
            except ValueError:
                continue
        if not isinstance(s, dict):
            continue
        for key in ("$id", "id"):
            if isinstance(s.get(key), str):
                store[s[key]] = s
                base = s[key].rsplit("/", 1)[0]
                store[base + "/" + name] = s
        store["file://" + os.path.join(folder, name)] = s
    return store


def documents(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".jsonl"):
        for i, line in enumerate(text.splitlines(), 1):
            yield "%s:%d" % (path, i), json.loads(line)
    else:
        yield path, json.loads(text)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    base = schema.get("$id") or schema.get("id") or "file://" + os.path.abspath(argv[1])
    resolver = jsonschema.RefResolver(base, schema, store=load_store(argv[1]))
    validator = cls(schema, resolver=resolver, format_checker=cls.FORMAT_CHECKER)
    bad = 0
    count = 0
    for path in argv[2:]:
        for name, doc in documents(path):
            count += 1
            for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
                bad += 1
                where = "/".join(str(p) for p in err.absolute_path)
                print("%s: /%s: %s" % (name, where, err.message[:300]), file=sys.stderr)
    if bad:
        print("%d schema error(s) in %d document(s)" % (bad, count), file=sys.stderr)
        return 1
    print("%d document(s) valid against %s" % (count, argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Checks docs/asyncapi.yaml and keeps docs/asyncapi.json (its JSON copy, read by the
TypeScript SDK's tests) in sync with it.

    .venv/bin/python scripts/asyncapi.py           # check; exit 1 with the problems
    .venv/bin/python scripts/asyncapi.py --write   # check, then regenerate the JSON

Checks: every component schema is a valid draft-07 and draft 2020-12 schema; every
`$ref` resolves inside the document and has no sibling keywords (they mean
different things in the two drafts); every message example validates against its
message's payload schema; every x-handlers entry names existing schemas; the JSON
copy equals the YAML.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterator

import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[1]
YAML_PATH = ROOT / "docs" / "asyncapi.yaml"
JSON_PATH = ROOT / "docs" / "asyncapi.json"
URI = "urn:streamer:asyncapi"


def json_text(doc: dict[str, Any]) -> str:
    """The canonical JSON copy: 2-space indent, keys in document order, final newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def resolve(doc: dict[str, Any], ref: str) -> Any:
    """The node a local `#/a/b` reference points to; KeyError if there is none."""
    if not ref.startswith("#/"):
        raise KeyError(f"not a local reference: {ref}")
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object holding a `$ref`, with its location."""
    if isinstance(node, dict):
        if "$ref" in node:
            yield path, node
        for k, v in node.items():
            yield from refs(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from refs(v, f"{path}/{i}")


def problems(doc: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for where, node in refs(doc):
        try:
            resolve(doc, node["$ref"])
        except KeyError:
            out.append(f"{where}: $ref {node['$ref']} does not resolve")
        extra = set(node) - {"$ref"}
        if extra:
            out.append(f"{where}: $ref with sibling keywords {sorted(extra)}")
    for name, schema in doc["components"]["schemas"].items():
        for cls in (Draft7Validator, Draft202012Validator):
            try:
                cls.check_schema(schema)
            except Exception as e:  # SchemaError: keep going to report every schema
                out.append(f"components/schemas/{name}: not a valid {cls.__name__} schema: {e}")
    registry = Registry().with_resource(URI, Resource(doc, specification=DRAFT202012))
    for name, message in doc["components"]["messages"].items():
        validator = Draft202012Validator({"$ref": URI + message["payload"]["$ref"]}, registry=registry)
        for example in message.get("examples", []):
            for err in validator.iter_errors(example["payload"]):
                out.append(f"components/messages/{name} example {example['name']}: {err.message}")
    for action, spec in doc.get("x-handlers", {}).items():
        for key in ("payload", "result"):
            if "$ref" not in spec.get(key, {}):
                out.append(f"x-handlers/{action}: no {key} schema")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="regenerate docs/asyncapi.json")
    args = parser.parse_args()
    doc = yaml.safe_load(YAML_PATH.read_text(encoding="utf-8"))
    found = problems(doc)
    for p in found:
        print(f"asyncapi: {p}", file=sys.stderr)
    if found:
        return 1
    text = json_text(doc)
    if args.write:
        JSON_PATH.write_text(text, encoding="utf-8")
    elif not JSON_PATH.exists() or JSON_PATH.read_text(encoding="utf-8") != text:
        print("asyncapi: docs/asyncapi.json is out of date; run scripts/asyncapi.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

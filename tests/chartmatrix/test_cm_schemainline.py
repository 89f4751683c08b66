"""Inlined Kubernetes schemas give jsonschema's verdicts unchanged (schemainline.py)."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from chartmatrix import k8syaml
from chartmatrix.findings import json_path
from chartmatrix.schemainline import Inliner
from chartmatrix.validate import _api_file_part, _describe, _VersionSchemas
from referencing import Resource

REPO = Path(__file__).resolve().parents[2]
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer", "default": 1}},
                            }
                        },
                    }
                },
            }
        ],
    },
}


def _documents() -> list[dict[str, Any]]:
    """Every distinct document of the repository's golden files, and a CRD (whose schema,
    JSONSchemaProps, refers to itself)."""
    found: dict[str, dict[str, Any]] = {}
    for file in sorted(REPO.glob("chart_tests/*/golden/**/*.yaml")):
        for doc in k8syaml.load_all(file.read_text()):
            if isinstance(doc, dict) and doc.get("kind"):
                found.setdefault(json.dumps(doc, sort_keys=True), doc)
    found["crd"] = CRD
    return list(found.values())


def _mutants(doc: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """Copies of ``doc`` each broken in one place: an unknown field, or a wrong type."""
    spots: list[tuple[tuple[Any, ...], Any]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        spots.append((path, node))
        if isinstance(node, dict | list):
            for key, value in node.items() if isinstance(node, dict) else enumerate(node):
                walk(value, (*path, key))

    walk(doc, ())
    out = []
    for path, node in rng.sample(spots, min(5, len(spots))):
        mutant = copy.deepcopy(doc)
        parent = mutant
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(node, dict):
            (parent[path[-1]] if path else parent)["unknownField"] = {"x": 1}
        elif path:
            wrong = {str: 12345, bool: "yes", int: "seven", list: {"a": "map"}}
            parent[path[-1]] = wrong.get(type(node), [1])
        out.append(mutant)
    return out


def _verdict(validator: jsonschema.protocols.Validator, doc: dict[str, Any]) -> list[Any]:
    return sorted((json_path(e.absolute_path), _describe(e)) for e in validator.iter_errors(doc))


@pytest.mark.parametrize("version", ["1.30", "1.36"])
def test_inlined_schemas_give_the_same_verdicts(version: str) -> None:
    schemas = _VersionSchemas(version)
    rng = random.Random(12)
    pairs: dict[tuple[str, str], tuple[Any, Any] | None] = {}
    compared = invalid = 0
    for doc in _documents():
        key = (str(doc.get("apiVersion")), str(doc.get("kind")))
        if key not in pairs:
            file = schemas.dir / f"{key[1].lower()}-{_api_file_part(key[0])}.json"
            pairs[key] = None
            if file.is_file():
                schema = json.loads(file.read_text())
                registry = Resource.from_contents(schema) @ schemas.registry
                pairs[key] = (
                    jsonschema.Draft202012Validator(schema, registry=registry),
                    jsonschema.Draft202012Validator(
                        schemas.inliner.schema(schema), registry=registry
                    ),
                )
        pair = pairs[key]
        if pair is None:
            continue
        for case in [doc, *_mutants(doc, rng)]:
            by_reference, inlined = (_verdict(v, case) for v in pair)
            assert by_reference == inlined, (key, case)
            compared += 1
            invalid += bool(by_reference)
    # the comparison covered broken documents, not only valid ones
    assert compared > 200 and invalid > compared / 2, (compared, invalid)
    assert ("apiextensions.k8s.io/v1", "CustomResourceDefinition") in pairs


def test_only_pure_references_to_acyclic_definitions_are_inlined() -> None:
    definitions = {
        "$id": "https://example.com/defs.json",
        "$defs": {
            "Leaf": {"type": "string"},
            "Node": {"properties": {"child": {"$ref": "#/$defs/Node"}}},
            "Holder": {
                "properties": {
                    # property names that are keywords elsewhere are still schemas
                    "default": {"$ref": "#/$defs/Leaf", "description": "a field"},
                    "$ref": {"type": "string"},
                    "guarded": {"$ref": "#/$defs/Leaf", "maxLength": 3},
                },
                "default": {"$ref": "#/$defs/Leaf"},  # data: left alone
            },
        },
    }
    inliner = Inliner(definitions)
    out = inliner.schema({"$ref": "#/$defs/Holder"})
    props = out["properties"]
    assert props["default"] == {"type": "string"}
    assert props["$ref"] == {"type": "string"}
    # a reference with a validating sibling stays one, made absolute
    assert props["guarded"] == {"$ref": "https://example.com/defs.json#/$defs/Leaf", "maxLength": 3}
    assert out["default"] == {"$ref": "#/$defs/Leaf"}
    node = inliner.schema({"$ref": "#/$defs/Node"})
    assert node == {"$ref": "https://example.com/defs.json#/$defs/Node"}  # recursive: kept
    # converted once, shared by every schema that uses it
    assert inliner.schema({"$ref": "#/$defs/Holder"}) is out

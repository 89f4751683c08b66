"""Inlined Kubernetes schemas give jsonschema's verdicts unchanged (schemainline.py)."""

from __future__ import annotations

import json
import random
from typing import Any

import jsonschema
import pytest
from chartmatrix.findings import json_path
from chartmatrix.schemainline import Inliner
from chartmatrix.validate import _api_file_part, _describe, _VersionSchemas
from cm_documents import broken_copies, golden_documents
from referencing import Resource


def _verdict(validator: jsonschema.protocols.Validator, doc: dict[str, Any]) -> list[Any]:
    return sorted((json_path(e.absolute_path), _describe(e)) for e in validator.iter_errors(doc))


@pytest.mark.parametrize("version", ["1.30", "1.36"])
def test_inlined_schemas_give_the_same_verdicts(version: str) -> None:
    schemas = _VersionSchemas(version)
    rng = random.Random(12)
    pairs: dict[tuple[str, str], tuple[Any, Any] | None] = {}
    compared = invalid = 0
    for doc in golden_documents():
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
        for case in [doc, *broken_copies(doc, rng)]:
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

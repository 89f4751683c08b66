"""The quick yes/no check (fastvalid.py) agrees with jsonschema on every document: a
document it passes has no errors, and one it fails has some."""

from __future__ import annotations

import random

import pytest
from chartmatrix.fastvalid import Compiler, Unsupported
from chartmatrix.validate import _VersionSchemas
from cm_documents import broken_copies, golden_documents


@pytest.mark.parametrize("version", ["1.30", "1.36"])
def test_quick_check_agrees_with_jsonschema(version: str) -> None:
    schemas = _VersionSchemas(version)
    rng = random.Random(21)
    compared = invalid = 0
    kinds: set[str] = set()
    for doc in golden_documents():
        api, kind = str(doc.get("apiVersion")), str(doc.get("kind"))
        compiled = schemas.validator(api, kind)
        if compiled is None:
            continue
        check = compiled.quick
        assert check is not None, f"{api} {kind}: the quick check does not compile"
        kinds.add(kind)
        for case in [doc, *broken_copies(doc, rng, count=8)]:
            errors = list(compiled.validator.iter_errors(case))
            assert check(case) == (not errors), (kind, case, [e.message for e in errors])
            compared += 1
            invalid += bool(errors)
    # broken and whole documents both, of many kinds (the CRD's schema refers to itself)
    assert compared > 500 and compared / 4 < invalid < compared, (compared, invalid)
    assert {"CustomResourceDefinition", "StatefulSet", "Deployment", "Service"} <= kinds


def test_types_are_jsonschemas_and_other_keywords_are_left_to_it() -> None:
    compiler = Compiler({"$id": "https://example.com/defs.json", "$defs": {}})
    integer = compiler.compile({"type": ["integer", "null"]})
    assert integer(3) and integer(3.0) and integer(None)
    assert not integer(True) and not integer(3.5) and not integer("3")
    closed = compiler.compile(
        {"properties": {"a": {"enum": ["x"]}}, "required": ["a"], "additionalProperties": False}
    )
    assert closed({"a": "x"}) and not closed({"a": "y"}) and not closed({})
    assert not closed({"a": "x", "b": 1}) and closed("not an object: other keywords' business")
    for schema in ({"pattern": "^a"}, {"minimum": 1}, {"enum": [1]}, {"$ref": "#/elsewhere"}):
        with pytest.raises(Unsupported):
            compiler.compile(schema)

"""Rendered documents, and broken copies of them, for the validator tests: every distinct
document of the repository's golden files plus a CRD (whose schema refers to itself)."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

from chartmatrix import k8syaml

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


def golden_documents() -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for file in sorted(REPO.glob("chart_tests/*/golden/**/*.yaml")):
        for doc in k8syaml.load_all(file.read_text()):
            if isinstance(doc, dict) and doc.get("kind"):
                found.setdefault(json.dumps(doc, sort_keys=True), doc)
    found["crd"] = CRD
    return list(found.values())


def broken_copies(doc: dict[str, Any], rng: random.Random, count: int = 5) -> list[dict[str, Any]]:
    """Copies of ``doc`` each changed in one place: an unknown field, a field removed, a
    string no enum allows, or a value of the wrong type."""
    spots: list[tuple[tuple[Any, ...], Any]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        spots.append((path, node))
        if isinstance(node, dict | list):
            for key, value in node.items() if isinstance(node, dict) else enumerate(node):
                walk(value, (*path, key))

    walk(doc, ())
    out = []
    for path, node in rng.sample(spots, min(count, len(spots))):
        copied = copy.deepcopy(doc)
        target: Any = copied
        for key in path:
            target = target[key]
        parent: Any = copied
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(node, dict) and node and rng.random() < 0.3:
            del target[rng.choice(sorted(target))]
        elif isinstance(node, dict):
            target["unknownField"] = {"x": 1}
        elif isinstance(node, str) and path and rng.random() < 0.5:
            parent[path[-1]] = "zz-no-such-value"
        elif path:
            wrong = {str: 12345, bool: "yes", int: "seven", float: "x", list: {"a": "map"}}
            parent[path[-1]] = wrong.get(type(node), [1])
        out.append(copied)
    return out

"""Mode coverage: every value of the enums a spec lists appears in some rendered case.

``coverage: [session.mode, topology.antiAffinity]`` in a matrix spec names value paths;
their allowed values come from the chart's ``values.schema.json`` enum (or are given as
``{path: ..., values: [...]}``; ``default:`` is the value a chart uses when the key is
unset, e.g. a library default). A value that no passing-render case uses (with the
chart's defaults applied, Helm's rules) is reported, so "every mode is tested" is
checked rather than claimed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chartmatrix.errors import ChartmatrixError
from chartmatrix.findings import Finding, Severity
from chartmatrix.spec import MatrixSpec
from chartmatrix.values import coalesce, split_path

_MISSING = object()


def _resolve(schema: dict[str, Any], node: Any) -> Any:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _resolve(schema, target)
    return node


def enum_at(schema: dict[str, Any], path: str) -> list[Any] | None:
    """The ``enum`` of the property at a dotted value path, if the schema has one."""
    node: Any = schema
    for key in split_path(path):
        node = _resolve(schema, node)
        node = (node.get("properties") or {}).get(key) if isinstance(node, dict) else None
        if node is None:
            return None
    node = _resolve(schema, node)
    enum = node.get("enum") if isinstance(node, dict) else None
    return list(enum) if isinstance(enum, list) else None


def _value_at(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for key in split_path(path):
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def check_coverage(spec: MatrixSpec, defaults: dict[str, Any]) -> list[Finding]:
    if not spec.coverage:
        return []
    schema_file = spec.chart_dir / "values.schema.json"
    schema = _load(schema_file) if schema_file.is_file() else {}
    wanted: dict[str, list[Any]] = {}
    for item in spec.coverage:
        wanted[item.path] = list(item.values) or enum_at(schema, item.path) or []
        if not wanted[item.path]:
            raise ChartmatrixError(
                spec.spec_file,
                f"coverage: {item.path} has no enum in {schema_file.name}; list its values",
            )
    seen = _seen_values(spec, defaults)
    findings = []
    for item in spec.coverage:
        missing = [v for v in wanted[item.path] if v not in seen[item.path]]
        if missing:
            findings.append(
                Finding(
                    "coverage",
                    "coverage/modes",
                    Severity.ERROR,
                    f"{item.path}: no case renders {', '.join(map(repr, missing))} "
                    f"(of {', '.join(map(repr, wanted[item.path]))})",
                )
            )
    return findings


def _seen_values(spec: MatrixSpec, defaults: dict[str, Any]) -> dict[str, list[Any]]:
    """The distinct values each coverage path takes over the rendering cases. One case's
    effective values (the chart's defaults coalesced) at a time: a whole copy of the
    defaults per case, all kept, grew a large run's memory by megabytes."""
    seen: dict[str, list[Any]] = {item.path: [] for item in spec.coverage}
    for case in spec.cases:
        if case.expect_failure is not None:
            continue
        values = coalesce(defaults, case.values)
        for item in spec.coverage:
            value = _value_at(values, item.path)
            if value is _MISSING and item.has_default:
                value = item.default
            if value not in seen[item.path]:
                seen[item.path].append(value)
    return seen


def _load(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ChartmatrixError(file, f"invalid JSON: {exc}") from None
    return data if isinstance(data, dict) else {}

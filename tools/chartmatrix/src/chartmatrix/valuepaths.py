"""Does a value path exist in a chart? A typo'd axis silently tests nothing.

A path is known when the chart's values (its values.yaml, with each subchart's
values.yaml under the subchart's name or alias) or its values.schema.json lead to it, or
when the chart's own templates read it (``.Values.a.b``, for a value left out of
values.yaml; below a map they read, anything). An empty map, a ``null`` or a schema
without ``properties`` accepts any key below it, and ``global`` is always known (Helm
passes it to every chart).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chartmatrix import k8syaml
from chartmatrix.charts import dependencies, tgz_member, vendored
from chartmatrix.errors import ChartmatrixError
from chartmatrix.values import merge, split_path

if TYPE_CHECKING:
    from chartmatrix.spec import MatrixSpec


def _load(text: str | None, loader: Any) -> Any:
    if not text:
        return None
    try:
        return loader(text)
    except ValueError:
        return None


def _chart_file(chart: Path, name: str) -> str | None:
    if chart.is_dir():
        file = chart / name
        return file.read_text(encoding="utf-8", errors="replace") if file.is_file() else None
    try:
        return tgz_member(chart, name)
    except ChartmatrixError:  # an unreadable archive has no known values
        return None


def chart_values(chart_dir: Path) -> dict[str, Any]:
    """values.yaml with each subchart's defaults under its name (or alias)."""
    own = _load(_chart_file(chart_dir, "values.yaml"), k8syaml.load)
    out: dict[str, Any] = own if isinstance(own, dict) else {}
    if not chart_dir.is_dir():
        return out
    subs = {v.name: v for v in vendored(chart_dir)}
    for dep in dependencies(chart_dir):
        sub = subs.get(str(dep.get("name") or ""))
        if sub is None:
            continue
        key = str(dep.get("alias") or sub.name)
        sub_values = chart_values(sub.path) if sub.path.is_dir() else _tgz_values(sub.path)
        out = merge({key: sub_values}, out)
    return out


def _tgz_values(tgz: Path) -> dict[str, Any]:
    values = _load(_chart_file(tgz, "values.yaml"), k8syaml.load)
    return values if isinstance(values, dict) else {}


def _known_in_values(parts: list[str], values: Any) -> bool:
    node = values
    for part in parts:
        if node is None or node == {}:
            return True
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _known_in_schema(parts: list[str], schema: Any) -> bool:
    node = schema
    for part in parts:
        if not isinstance(node, dict):
            return True  # `true` or no schema: anything goes
        props = node.get("properties")
        if isinstance(props, dict) and part in props:
            node = props[part]
            continue
        if node.get("patternProperties") or isinstance(node.get("additionalProperties"), dict):
            return True
        return props is None and node.get("additionalProperties") is not False
    return True


_READ = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _template_reads(chart_dir: Path) -> set[tuple[str, ...]]:
    """The value paths the chart's own templates read as ``.Values.a.b``."""
    templates = chart_dir / "templates"
    found: set[tuple[str, ...]] = set()
    for file in templates.rglob("*") if templates.is_dir() else ():
        if file.is_file():
            text = file.read_text(encoding="utf-8", errors="replace")
            found.update(tuple(m.split(".")[1:]) for m in _READ.findall(text))
    return found


def _read_by_templates(parts: list[str], reads: set[tuple[str, ...]]) -> bool:
    path = tuple(parts)
    return any(path[: len(read)] == read for read in reads)


def unknown_value_paths(spec: MatrixSpec, chart_dir: Path) -> list[str]:
    """A message per value path of the spec that the chart does not have."""
    if not spec.value_paths:
        return []
    values = chart_values(chart_dir)
    schema = _load(_chart_file(chart_dir, "values.schema.json"), json.loads)
    reads: set[tuple[str, ...]] | None = None  # read from the templates when needed
    out = []
    for path in spec.value_paths:
        try:
            parts = split_path(path)
        except ValueError:
            continue
        if parts[0] == "global" or _known_in_values(parts, values):
            continue
        if schema is not None and _known_in_schema(parts, schema):
            continue
        if reads is None:
            reads = _template_reads(chart_dir)
        if _read_by_templates(parts, reads):
            continue
        out.append(
            f"{path}: the chart has no such value (not in values.yaml, values.schema.json "
            "or its templates' .Values), so setting it probably tests nothing; fix the "
            "path, or suppress spec/unknown-value if the chart reads it anyway"
        )
    return out

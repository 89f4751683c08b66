"""Assemble a consumer chart's values.schema.json from the destate library's schemas.

The library's ``library-chart/schema/<area>.json`` files are the single source of the
values schema of each area. A consumer chart keeps a small source file next to its
values.yaml, ``values.schema.in.json``::

    {
      "areas": ["names", "image", "workload", "persistence", "config", "topology"],
      "properties": {"flavor": {"enum": ["mysql", "mariadb"]}},
      "required": []
    }

``areas`` picks the library areas whose top-level properties the chart accepts; a chart
that lists its areas in Chart.yaml (annotation ``destate/areas``, which the library's
templates read too) leaves ``areas`` out here, so the list lives in one place;
``properties`` adds the chart's own top-level keys (they may not redefine an area's);
``required`` is optional. The output is a strict draft-07 schema
(``additionalProperties: false``) that also admits the ``destate`` and ``global`` maps
Helm adds for the library dependency.

Usage::

    python -m destate_tools.schemabuild [--library DIR] [--check] [CHART_DIR ...]

Without CHART_DIR every ``charts/*`` directory holding a values.schema.in.json is
processed. ``--check`` writes nothing and exits 1 naming each chart whose
values.schema.json is out of date. Problems with the inputs exit 2 with one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from chartmatrix.project import find_root

SOURCE_NAME = "values.schema.in.json"
TARGET_NAME = "values.schema.json"
DRAFT = "http://json-schema.org/draft-07/schema#"
SOURCE_KEYS = frozenset({"areas", "properties", "required", "description"})
HELM_KEYS: dict[str, Any] = {
    "global": {"type": "object", "description": "Helm global values."},
    "destate": {
        "type": "object",
        "description": "Values Helm passes to the destate library dependency (unused).",
    },
}


class SchemaBuildError(Exception):
    """An input problem, reported as one line naming the file."""


@dataclass(frozen=True)
class Outcome:
    chart: Path
    target: Path
    up_to_date: bool


def repo_root() -> Path:
    """The checkout this tool belongs to, found by chartmatrix's one rule from here."""
    return find_root(Path(__file__).resolve().parent)


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaBuildError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise SchemaBuildError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc


def library_areas(library_schema_dir: Path) -> dict[str, dict[str, Any]]:
    """Area name -> that area's top-level properties."""
    if not library_schema_dir.is_dir():
        raise SchemaBuildError(f"{library_schema_dir}: library schema directory not found")
    areas: dict[str, dict[str, Any]] = {}
    for path in sorted(library_schema_dir.glob("*.json")):
        doc = load_json(path)
        props = doc.get("properties") if isinstance(doc, dict) else None
        if not isinstance(props, dict):
            raise SchemaBuildError(f"{path}: a library schema needs an object 'properties'")
        areas[path.stem] = props
    return areas


def read_source(path: Path) -> dict[str, Any]:
    doc = load_json(path)
    if not isinstance(doc, dict):
        raise SchemaBuildError(f"{path}: must be a JSON object")
    unknown = sorted(set(doc) - SOURCE_KEYS)
    if unknown:
        raise SchemaBuildError(f"{path}: unknown key(s) {', '.join(unknown)}")
    areas = doc.get("areas", [])
    if not isinstance(areas, list) or not all(isinstance(a, str) for a in areas):
        raise SchemaBuildError(f"{path}: 'areas' must be a list of area names")
    if not isinstance(doc.get("properties", {}), dict):
        raise SchemaBuildError(f"{path}: 'properties' must be an object")
    if not isinstance(doc.get("required", []), list):
        raise SchemaBuildError(f"{path}: 'required' must be a list")
    return doc


def assemble(
    chart_name: str, source: dict[str, Any], source_path: Path, areas: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for area in source["areas"]:
        if area not in areas:
            known = ", ".join(sorted(areas))
            raise SchemaBuildError(f"{source_path}: unknown area {area!r} (known: {known})")
        properties.update(areas[area])
    properties.update(HELM_KEYS)
    for key, schema in source.get("properties", {}).items():
        if key in properties:
            raise SchemaBuildError(
                f"{source_path}: property {key!r} is already defined by a library area"
            )
        properties[key] = schema
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "title": f"{chart_name} values",
        "description": source.get(
            "description",
            f"Values of {chart_name}. Generated by destate_tools.schemabuild from the destate "
            f"library schemas and {SOURCE_NAME}; do not edit.",
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if source.get("required"):
        schema["required"] = list(source["required"])
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


AREAS_ANNOTATION = "destate/areas"
BASE_AREAS = ("names", "image", "workload")


def chart_areas(chart: Path) -> list[str] | None:
    """The areas of the chart's Chart.yaml annotation ``destate/areas`` (names separated
    by spaces or commas; names, image and workload always come first), or None."""
    path = chart / "Chart.yaml"
    if not path.is_file():
        return None
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SchemaBuildError(f"{path}: not valid YAML ({exc})") from None
    listed = ((meta.get("annotations") or {}) if isinstance(meta, dict) else {}).get(
        AREAS_ANNOTATION
    )
    if not listed:
        return None
    names = [n for n in str(listed).replace(",", " ").split() if n not in BASE_AREAS]
    return [*BASE_AREAS, *dict.fromkeys(names)]


def build_chart(chart: Path, areas: dict[str, dict[str, Any]], check: bool) -> Outcome:
    source_path = chart / SOURCE_NAME
    source = read_source(source_path)
    listed = chart_areas(chart)
    if listed is not None:
        if source.get("areas"):
            raise SchemaBuildError(
                f"{source_path}: 'areas' is listed in Chart.yaml ({AREAS_ANNOTATION}); "
                "list the areas once"
            )
        source = {**source, "areas": listed}
    text = render(assemble(chart.resolve().name, source, source_path, areas))
    target = chart / TARGET_NAME
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current == text:
        return Outcome(chart, target, True)
    if not check:
        target.write_text(text, encoding="utf-8")
    return Outcome(chart, target, False)


def discover(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "charts").glob(f"*/{SOURCE_NAME}"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m destate_tools.schemabuild",
        description="Assemble charts' values.schema.json from the destate library schemas.",
    )
    parser.add_argument("charts", nargs="*", type=Path, help="chart directories")
    parser.add_argument(
        "--library",
        type=Path,
        default=None,
        help="library schema directory (default: library-chart/schema)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a chart's schema is out of date",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = repo_root()
    library = args.library or root / "library-chart" / "schema"
    try:
        areas = library_areas(library)
        charts = list(args.charts) or discover(root)
        outcomes = [build_chart(chart, areas, args.check) for chart in charts]
    except SchemaBuildError as exc:
        print(f"schemabuild: {exc}", file=sys.stderr)
        return 2
    stale = [o for o in outcomes if not o.up_to_date]
    for outcome in stale:
        if args.check:
            print(
                f"schemabuild: {outcome.chart.name}: {outcome.target} is out of date; "
                f"run python -m destate_tools.schemabuild {outcome.chart}",
                file=sys.stderr,
            )
        else:
            print(f"schemabuild: wrote {outcome.target}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())

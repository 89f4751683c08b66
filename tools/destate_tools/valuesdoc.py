"""Generate a chart README's values table from the comments in its values.yaml.

Convention: the comment lines written directly above a key (no blank line in
between) describe that key. Maps with keys are walked; everything else (scalars,
lists, empty maps) is one row of the table. A key without a comment is still
listed, so the table always covers every value.

The table lives in README.md between the two marker lines

    <!-- valuesdoc:start -->
    <!-- valuesdoc:end -->

Usage:
    python -m destate_tools.valuesdoc [CHART_DIR ...]          rewrite the tables
    python -m destate_tools.valuesdoc --check [CHART_DIR ...]  exit 1 when one is stale

Without CHART_DIR every chart under ./charts is processed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

START_MARKER = "<!-- valuesdoc:start -->"
END_MARKER = "<!-- valuesdoc:end -->"

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[^\s#'\"\-][^:#]*?|\"[^\"]+\"|'[^']+'):(?:\s|$)")
_BLOCK_SCALAR = re.compile(r":\s*[|>][-+0-9]*\s*(#.*)?$")


class ValuesDocError(Exception):
    """A problem with a chart's files, reported as one line naming the file."""


@dataclass(frozen=True)
class Row:
    """One line of the values table."""

    path: str
    type: str
    default: str
    description: str


def _unquote(key: str) -> str:
    key = key.strip()
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
        return key[1:-1]
    return key


def comment_index(text: str) -> dict[str, str]:
    """Map each dotted key path in a values.yaml text to the comment written above it.

    Only block-style mappings are walked; the contents of lists, flow collections
    and block scalars are skipped (they are values, not keys).
    """
    descriptions: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    pending: list[str] = []
    skip_deeper_than: int | None = None
    for raw in text.splitlines():
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip(" "))
        if skip_deeper_than is not None:
            if not stripped or indent > skip_deeper_than:
                continue
            skip_deeper_than = None
        if not stripped:
            pending = []
            continue
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        if stripped == "---":
            continue
        match = _KEY_LINE.match(raw)
        if match is None:
            # a list item or a continuation line: its content is part of a value
            if stripped.startswith("-"):
                skip_deeper_than = indent
            pending = []
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = _unquote(match.group("key"))
        path = ".".join([k for _, k in stack] + [key])
        descriptions[path] = " ".join(line for line in pending if line)
        pending = []
        rest = raw[match.end() :].split(" #", 1)[0].strip()
        if _BLOCK_SCALAR.search(raw):
            skip_deeper_than = indent
        elif rest == "" or rest.startswith("#"):
            stack.append((indent, key))
    return descriptions


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    return "null"


def _default_text(value: Any) -> str:
    if isinstance(value, str) and "\n" in value:
        return "(multi-line string)"
    return json.dumps(value, sort_keys=False, default=str)


def _walk(value: Any, prefix: str, comments: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """Leaf paths in file order. A map is one leaf when it is empty or when none of
    its keys has a comment (e.g. a securityContext default written out in full)."""
    if isinstance(value, dict) and (prefix == "" or _has_documented_key(prefix, comments)):
        for key, child in value.items():
            yield from _walk(child, f"{prefix}.{key}" if prefix else str(key), comments)
    else:
        yield prefix, value


def _has_documented_key(prefix: str, comments: dict[str, str]) -> bool:
    return any(path.startswith(prefix + ".") and text for path, text in comments.items())


def rows(values_text: str, source: str = "values.yaml") -> list[Row]:
    """The table rows for a values.yaml text, in file order."""
    try:
        values = yaml.safe_load(values_text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ValuesDocError(f"{source}{where}: not valid YAML") from err
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValuesDocError(f"{source}: top level must be a mapping")
    comments = comment_index(values_text)
    return [
        Row(path, _type_name(value), _default_text(value), comments.get(path, ""))
        for path, value in _walk(values, "", comments)
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(table_rows: Sequence[Row]) -> str:
    """A Markdown table of the rows."""
    lines = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for row in table_rows:
        lines.append(
            f"| `{_cell(row.path)}` | {row.type} | `{_cell(row.default)}` | "
            f"{_cell(row.description)} |"
        )
    return "\n".join(lines)


def splice(readme: str, table: str, source: str = "README.md") -> str:
    """Put the table between the markers of a README text."""
    start = readme.find(START_MARKER)
    end = readme.find(END_MARKER)
    if start < 0 or end < 0 or end < start:
        raise ValuesDocError(
            f"{source}: needs the lines {START_MARKER} and {END_MARKER} (in that order)"
        )
    head = readme[: start + len(START_MARKER)]
    return f"{head}\n{table}\n{readme[end:]}"


def expected_readme(chart_dir: Path) -> tuple[Path, str, str]:
    """(README path, current text, text with a fresh table) for a chart directory."""
    values_path = chart_dir / "values.yaml"
    readme_path = chart_dir / "README.md"
    for path in (values_path, readme_path):
        if not path.is_file():
            raise ValuesDocError(f"{path}: file not found")
    table = render_table(rows(values_path.read_text(), str(values_path)))
    current = readme_path.read_text()
    return readme_path, current, splice(current, table, str(readme_path))


def _chart_dirs(args: Sequence[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    return sorted(p.parent for p in Path("charts").glob("*/values.yaml"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="valuesdoc", description="Write README values tables from values.yaml comments."
    )
    parser.add_argument("charts", nargs="*", help="chart directories (default: charts/*)")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when a README is stale"
    )
    opts = parser.parse_args(argv)
    status = 0
    for chart_dir in _chart_dirs(opts.charts):
        try:
            readme_path, current, fresh = expected_readme(chart_dir)
        except ValuesDocError as err:
            print(f"valuesdoc: {err}", file=sys.stderr)
            status = 1
            continue
        if current == fresh:
            continue
        if opts.check:
            print(
                f"valuesdoc: {chart_dir.name}: {readme_path} values table is out of date "
                f"(run: python -m destate_tools.valuesdoc {chart_dir})",
                file=sys.stderr,
            )
            status = 1
        else:
            readme_path.write_text(fresh)
            print(f"valuesdoc: {chart_dir.name}: updated {readme_path}")
    return status


if __name__ == "__main__":
    sys.exit(main())

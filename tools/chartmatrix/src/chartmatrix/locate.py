"""Where in the user's files a finding points: a chart template, a values file or the spec.

Annotations on a pull request (``report/github.py``) need a file and a line. A rendered
object knows its template (helm's ``# Source:``), a failed render names
``chart/templates/x.yaml:LINE`` in its message, and every other finding of a case
comes from the case's own values (a ``ci/*-values.yaml`` file, or its entry in the
spec). The line inside a template is that of the deepest key of the finding's JSON path
the template spells out; when none does, the object's ``kind:`` line, else line 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from chartmatrix.charts import is_unpacked
from chartmatrix.errors import ChartmatrixError
from chartmatrix.findings import Finding
from chartmatrix.manifests import Manifest
from chartmatrix.spec import Case, MatrixSpec
from chartmatrix.yamlfile import load_yaml_file

# helm's "template: c/templates/x.yaml:41:10: ..." (v3), "execution error at
# (c/templates/x.yaml:41:10): ...", or the message starting with
# "c/templates/x.yaml:41:10" (v4)
_TEMPLATE_AT = re.compile(
    r"(?:template: |\(|^|\n)\s*([^\s():]+/[^\s():]+):(\d+)(?::\d+)?", re.MULTILINE
)
# "YAML parse error on c/templates/x.yaml: ...": the file (its line is the output's)
_PARSE_ERROR_ON = re.compile(r"parse error on ([^\s():]+/[^\s():]+):")
_PATH_KEY = re.compile(r"[^.\[\]\"'\s=]+")


@lru_cache(maxsize=256)
def _read_lines(file: Path, _mtime_ns: int) -> tuple[str, ...]:
    return tuple(file.read_text(encoding="utf-8", errors="replace").splitlines())


def _lines(file: Path) -> tuple[str, ...]:
    """The file's lines, read once per version of the file (a long pytest session may
    edit a chart between runs)."""
    try:
        return _read_lines(file, file.stat().st_mtime_ns)
    except OSError:
        return ()


def _first_line(file: Path, patterns: Iterable[re.Pattern[str]]) -> int:
    """1-based line of the first pattern (in order of preference) found; 1 if none."""
    lines = _lines(file)
    for pattern in patterns:
        for number, text in enumerate(lines, 1):
            if pattern.search(text):
                return number
    return 1


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*(?:-\s+)?[\"']?{re.escape(key)}[\"']?\s*:")


@lru_cache(maxsize=64)
def _file_dependencies(chart_dir: Path) -> dict[str, Path]:
    """Subchart name -> its source directory, for ``file://`` dependencies."""
    try:
        meta = load_yaml_file(chart_dir / "Chart.yaml")
    except ChartmatrixError:  # an unreadable Chart.yaml was reported by the run already
        return {}
    out: dict[str, Path] = {}
    for dep in meta.get("dependencies") or []:
        repo = str(dep.get("repository") or "") if isinstance(dep, dict) else ""
        if repo.startswith("file://"):
            out[str(dep.get("alias") or dep.get("name"))] = chart_dir / repo.removeprefix("file://")
    return out


def template_file(chart_dir: Path, source: str) -> Path | None:
    """``mysql/templates/x.yaml`` (helm's name, chart name first) -> the file on disk;
    a subchart's template resolves into its ``file://`` source when not vendored."""
    parts = source.split("/")[1:]
    while parts:
        candidate = chart_dir.joinpath(*parts)
        if candidate.is_file():
            return candidate
        if len(parts) > 2 and parts[0] == "charts":
            # charts/<dep>/...: the dependency's own directory, then its own subcharts
            source_dir = _file_dependencies(chart_dir).get(parts[1])
            if source_dir is None:
                return None
            chart_dir, parts = source_dir, parts[2:]
            continue
        return None
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _key_indent(text: str) -> int:
    """The column of a line's key (after a list item's ``- ``)."""
    stripped = text.lstrip()
    indent = _indent(text)
    return indent + len(stripped) - len(stripped.removeprefix("-").lstrip()) if stripped else indent


def _block_end(lines: list[str], at: int) -> int:
    """Where the YAML block of the key on line ``at`` ends: the next line spelled at its
    column or left of it (template actions and blank lines do not end it)."""
    column = _key_indent(lines[at])
    for n in range(at + 1, len(lines)):
        stripped = lines[n].strip()
        if not stripped or stripped.startswith(("{{", "#")):
            continue
        if stripped == "---" or _key_indent(lines[n]) <= column:
            return n
    return len(lines)


_TEMPLATED_KIND = re.compile(r"kind:\s*[\"']?\{\{")


def path_keys(path: str) -> list[str | tuple[str, int]]:
    """A finding's path as the keys :func:`_path_line` looks for: ``containers[1]`` is
    ``("containers", 1)``, the second item of that list."""
    keys: list[str | tuple[str, int]] = []
    for token in _PATH_KEY.findall(path):
        if token.isdigit():
            if keys and isinstance(keys[-1], str):
                keys[-1] = (keys[-1], int(token))
        else:
            keys.append(token)
    return keys


def _path_line(
    file: Path,
    kind: str,
    keys: list[str | tuple[str, int]],
    ordinal: int = 0,
    obj: Any = None,
) -> int:
    """The line of the deepest key of ``keys`` the template spells out, each searched
    inside the block of the previous one (so a container's ``securityContext`` is not
    the pod's), starting at the object's ``kind:`` line (the ``ordinal``-th object of
    that kind the template renders: a file of several documents); 1 when nothing
    matches. A key the template does not spell out (an ``include`` writes it) leaves the
    line of the last key found; ``obj``, the rendered object, tells list items apart."""
    lines = _lines(file)
    kind_line = re.compile(rf"^\s*kind:\s*[\"']?{re.escape(kind)}\b")
    kinds = [n for n, text in enumerate(lines) if kind_line.search(text)]
    # top-level kind lines (a scaleTargetRef's `kind: Deployment` is no object's)
    top = [n for n in kinds if not lines[n][:1].isspace()] or kinds
    kind_at = top[ordinal] if ordinal < len(top) else (top[0] if top else None)
    if kind_at is None:  # `kind: {{ $kind }}`: a top-level kind the template computes
        kind_at = next((n for n, text in enumerate(lines) if _TEMPLATED_KIND.match(text)), None)
    start = kind_at or 0
    found = 1 if kind_at is None else kind_at + 1
    # the object's document: from its kind line to the next ---
    end = next((n for n in range(start + 1, len(lines)) if lines[n].strip() == "---"), len(lines))
    column = -1  # keys of the document's top level sit at any column
    node = obj  # the rendered value at the key reached
    for key in keys:
        index = None
        if isinstance(key, tuple):
            key, index = key
        node = node.get(key) if isinstance(node, dict) else None
        pattern = _key_pattern(key)
        hits = [
            n
            for n in range(start, end)
            if pattern.search(lines[n]) and _key_indent(lines[n]) > column
        ]
        if not hits:
            break
        # the child of the previous key, not a grandchild of the same name
        hit = min(hits, key=lambda n: (_key_indent(lines[n]), n))
        start, found = hit, hit + 1
        column, end = _key_indent(lines[hit]), _block_end(lines, hit)
        if index is not None:
            rendered = node if isinstance(node, list) else None
            node = rendered[index] if rendered is not None and index < len(rendered) else None
            name = node.get("name") if isinstance(node, dict) else None
            count = len(rendered) if rendered is not None else None
            item = _list_item(lines, hit + 1, end, index, name, count)
            if item is None:  # items the template writes in a loop, an include or an if
                break
            start, end = item
            found, column = start + 1, _indent(lines[start])
    return found


def _list_item(
    lines: list[str],
    start: int,
    end: int,
    index: int,
    name: object = None,
    count: int | None = None,
) -> tuple[int, int] | None:
    """Lines [first, end) of the rendered ``index``-th item among the ``- `` items of a
    block the template spells out: the one whose ``name:`` is the rendered item's
    ``name``, else the ``index``-th when the template spells exactly the ``count`` items
    rendered (or the count is unknown); None when it cannot tell."""
    dashes = [n for n in range(start, end) if lines[n].lstrip().startswith("- ")]
    if not dashes:
        return None
    column = min(_indent(lines[n]) for n in dashes)
    items = [n for n in dashes if _indent(lines[n]) == column]
    bounds = [(n, items[i + 1] if i + 1 < len(items) else end) for i, n in enumerate(items)]
    if isinstance(name, str) and name:
        named = re.compile(rf"^\s*(?:-\s+)?name:\s*[\"']?{re.escape(name)}[\"']?\s*(?:#.*)?$")
        for first, last in bounds:
            if any(named.match(lines[n]) for n in range(first, last)):
                return first, last
    if index >= len(items) or (count is not None and count != len(items)):
        return None
    return bounds[index]


def _in_template(finding: Finding, manifests: Iterable[Manifest], chart_dir: Path) -> Finding:
    manifest = next((m for m in manifests if m.ref == finding.resource), None)
    if manifest is None or not manifest.source:
        return finding
    file = template_file(chart_dir, manifest.source)
    if file is None:
        return finding
    # the how-manieth object of its kind its template renders
    ordinal = [
        m for m in manifests if m.source == manifest.source and m.kind == manifest.kind
    ].index(manifest)
    line = _path_line(file, manifest.kind, path_keys(finding.path), ordinal, manifest.obj)
    return replace(finding, file=str(file), file_line=line)


def _in_message(finding: Finding, chart_dir: Path) -> Finding:
    for pattern in (_TEMPLATE_AT, _PARSE_ERROR_ON):
        match = pattern.search(finding.message)
        file = template_file(chart_dir, match.group(1)) if match else None
        if match is not None and file is not None:
            line = int(match.group(2)) if pattern.groups > 1 else 1
            return replace(finding, file=str(file), file_line=line)
    return finding


def defining_file(finding: Finding, spec: MatrixSpec, case: Case | None) -> tuple[Path, int] | None:
    """The file (and line) a finding without a rendered object comes from: the chart's
    Chart.yaml for its dependencies, else the case's ci values file or its spec entry."""
    if finding.rule.startswith("chart/") or finding.rule == "render/kube-version":
        if is_unpacked(spec.chart_dir):
            return None  # a packaged chart: its Chart.yaml is no file of the user's
        chart_yaml = spec.chart_dir / "Chart.yaml"
        key = "kubeVersion" if finding.rule == "render/kube-version" else "dependencies"
        return chart_yaml, _first_line(chart_yaml, [_key_pattern(key)])
    if case is not None and Path(case.origin).is_file():
        return Path(case.origin), 1
    if spec.spec_file is None or not spec.spec_file.is_file():
        return None
    patterns = []
    if case is not None:
        patterns.append(re.compile(rf"\bname:\s*[\"']?{re.escape(case.id)}[\"']?\s*(?:#.*)?$"))
        patterns.append(_key_pattern("axes"))
    else:  # chart-level (coverage/modes, spec/unknown-value): "<value path>: problem"
        named = finding.message.split(": ", 1)[0]
        if named != finding.message and " " not in named:
            patterns.append(re.compile(rf"(?:^|[\s\[{{,'\"]){re.escape(named)}\b"))
        patterns.append(_key_pattern(finding.rule.split("/")[0]))
    return spec.spec_file, _first_line(spec.spec_file, patterns)


_UNSETTLED = "golden/nondeterministic"


def locate(
    findings: list[Finding],
    spec: MatrixSpec,
    case: Case | None,
    manifests: Iterable[Manifest] = (),
) -> list[Finding]:
    """``findings`` with ``file``/``line`` filled in where they can be known."""
    manifests = list(manifests)
    out = []
    for finding in findings:
        if not finding.file and finding.resource and manifests:
            finding = _in_template(finding, manifests, spec.chart_dir)
        if not finding.file:
            finding = _in_message(finding, spec.chart_dir)
        if not finding.file and finding.check != "golden":
            where = defining_file(finding, spec, case)
            if where is not None:
                finding = replace(finding, file=str(where[0]), file_line=where[1])
        if not finding.file and finding.rule == _UNSETTLED and spec.spec_file is not None:
            # no golden file is written: the fix is a mask in the spec
            line = _first_line(spec.spec_file, [_key_pattern("mask"), _key_pattern("chart")])
            finding = replace(finding, file=str(spec.spec_file), file_line=line)
        out.append(finding)
    return out


_HUNK = re.compile(r"^@@ -(\d+)", re.MULTILINE)


def first_changed_line(diff: str) -> int:
    """The golden file's line a golden finding points at: the diff's first change (its
    first hunk starts with up to three lines of context)."""
    hunk = _HUNK.search(diff)
    if not hunk:
        return 1
    line = int(hunk.group(1))
    for text in diff[hunk.end() :].splitlines()[1:]:
        if not text.startswith(" "):
            break  # the first removed or added line: where the file changes
        line += 1
    return max(line, 1)


def in_golden_file(findings: list[Finding], file: Path, diff: str) -> list[Finding]:
    """Golden findings point at the case's golden file, at its first changed line."""
    line = first_changed_line(diff)
    return [
        replace(f, file=str(file), file_line=line) if f.check == "golden" and not f.file else f
        for f in findings
    ]

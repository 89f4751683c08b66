"""``chartmatrix init CHART``: a starter matrix.yaml proposed from the chart itself.

Axes come from what the chart says it can vary: ``enabled`` (or ``enable``) switches,
dependency conditions and replica counts in values.yaml, booleans and enums in
values.schema.json. Axes multiply, so only the most telling ones (switches first, then
replica counts, enums, other booleans) are kept while the product stays under
``--max-cases``; the rest are listed as comments, and so is an axis that changes nothing
with the defaults or whose value cannot render alone
(:mod:`chartmatrix.initprobe` renders each once).
The chart's ``ci/*-values.yaml`` files are cases too. The file written is loaded back
to count its cases, so the count printed is the one ``chartmatrix run`` will use.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chartmatrix.charts import ChartInfo, chart_dir_of, dependencies, load_chart, subcharts
from chartmatrix.errors import ChartmatrixError
from chartmatrix.initprobe import DefaultsFail, effects
from chartmatrix.spec import SPEC_FILE, load_spec
from chartmatrix.values import (
    helm_set_values,
    merge,
    merge_all,
    parse_helm_set,
    split_path,
)
from chartmatrix.yamlfile import load_yaml_file

REPLICA_KEYS = ("replicas", "replicaCount")
SWITCH_KEYS = ("enabled", "enable")  # spark-operator, among others, says `enable:`
# helm's message when a values schema $refs what it cannot load (a URL, offline)
_UNLOADABLE_SCHEMA = re.compile(r"failing loading|failed to load|HTTP request failed")
_PRIORITY = {"switch": 0, "replicas": 1, "enum": 2, "boolean": 3}
MAX_DEPTH = 5


@dataclass(frozen=True)
class Candidate:
    path: str
    values: tuple[Any, ...]
    why: str  # switch | replicas | enum | boolean

    @property
    def depth(self) -> int:
        return self.path.count(".")


def _key(parent: str, key: str) -> str:
    escaped = str(key).replace(".", "\\.")
    return f"{parent}.{escaped}" if parent else escaped


def _replicas(value: int, schema: Any) -> tuple[int, ...]:
    """The default first, then 3 or 1 (whichever it is not), else the nearest count the
    schema's minimum and maximum leave (2 where at most 2, 5 where at least 3): an axis
    lists its default first, init renders the others."""
    bounds = schema if isinstance(schema, dict) else {}
    low, high = bounds.get("minimum", -math.inf), bounds.get("maximum", math.inf)
    others = (3, 2) if value <= 1 else (1, 2, 3, value + 2, value + 1, value - 1)
    other = next((n for n in others if n != value and low <= n <= high), None)
    return tuple(n for n in (value, other) if n is not None and low <= n <= high)


def _replica_axis(path: str, value: Any, schema: Any) -> Iterator[Candidate]:
    """A replica count's axis, when ``value`` is a count the schema lets vary."""
    if isinstance(value, int) and not isinstance(value, bool):
        values = _replicas(value, schema)
        if len(values) > 1:
            yield Candidate(path, values, "replicas")


def _from_values(
    node: Any, schema: Any = None, parent: str = "", depth: int = 0
) -> Iterator[Candidate]:
    """Candidates from the chart's defaults; ``schema``: the values schema at ``node``."""
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return
    properties = (schema.get("properties") if isinstance(schema, dict) else None) or {}
    for key, value in node.items():
        path = _key(parent, str(key))
        if str(key).startswith("_"):
            continue  # private by convention (istio's _internal_defaults_do_not_set)
        if key in SWITCH_KEYS and isinstance(value, bool) and parent:
            yield Candidate(path, (value, not value), "switch")
        elif key in REPLICA_KEYS and not isinstance(value, dict):
            yield from _replica_axis(path, value, properties.get(key))
        elif key in REPLICA_KEYS:
            # a count per role (yugabyte's `replicas: {master: 3, tserver: 3}`)
            counts = properties.get(key)
            counts = (counts.get("properties") if isinstance(counts, dict) else None) or {}
            for role, n in value.items():
                yield from _replica_axis(_key(path, str(role)), n, counts.get(role))
        elif isinstance(value, dict):
            yield from _from_values(value, properties.get(key), path, depth + 1)


def _from_schema(node: Any, defaults: Any, parent: str = "", depth: int = 0) -> Iterator[Candidate]:
    if not isinstance(node, dict) or depth > MAX_DEPTH:
        return
    for key, prop in (node.get("properties") or {}).items():
        if str(key).startswith("_") or not isinstance(prop, dict):
            continue
        path = _key(parent, str(key))
        default = defaults.get(key) if isinstance(defaults, dict) else None
        enum = prop.get("enum")
        if isinstance(enum, list) and 1 < len(enum) <= 6:
            ordered = [default, *(e for e in enum if e != default)] if default in enum else enum
            yield Candidate(path, tuple(ordered), "enum")
        elif prop.get("type") == "boolean":
            first = default if isinstance(default, bool) else False
            yield Candidate(path, (first, not first), "switch" if key in SWITCH_KEYS else "boolean")
        else:
            yield from _from_schema(prop, default, path, depth + 1)


def _conditions(info: ChartInfo) -> Iterator[Candidate]:
    """Chart.yaml's dependency conditions (``condition: postgresql.enabled``): Helm leaves
    the subchart out when the first path that is set holds false, and renders it when
    none is set."""
    for dep in dependencies(info.path):
        paths = [p.strip() for p in str(dep.get("condition") or "").split(",") if p.strip()]
        for path in paths:
            try:
                value = _lookup(info.defaults, split_path(path))
            except (KeyError, ValueError):
                continue
            if isinstance(value, bool):
                yield Candidate(path, (value, not value), "switch")
            break  # the first path that is set decides (a non-boolean: Helm ignores it)
        else:
            if paths:
                yield Candidate(paths[0], (True, False), "switch")


def _lookup(tree: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(tree, dict):
            raise KeyError(key)
        tree = tree[key]
    return tree


def candidates(info: ChartInfo) -> list[Candidate]:
    """Proposed axes, most telling first, one per value path."""
    found: dict[str, Candidate] = {}
    schema_file = info.path / "values.schema.json"
    schema: Any = None
    if schema_file.is_file():
        try:
            schema = json.loads(schema_file.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise ChartmatrixError(schema_file, f"not readable JSON ({exc})") from None
        for c in _from_schema(schema, info.defaults):
            found.setdefault(c.path, c)
    own = list(_from_values(info.defaults, schema))
    for c in own:
        found.setdefault(c.path, c)
    main = _main_replicas([found[c.path] for c in own if c.why == "replicas"])
    # a dependency's `condition:` is a switch even when values.yaml does not spell it,
    # and when the schema calls it a boolean
    for c in _conditions(info):
        known = found.get(c.path)
        if known is None:
            found[c.path] = c
        elif known.why == "boolean":
            found[c.path] = dataclasses.replace(known, why="switch")
    # a subchart's own switches and replica counts, under its key (the parent's values,
    # above, win where they set the same path)
    for key, sub_dir in subcharts(info.path).items():
        own = {k: v for k, v in load_chart(sub_dir).defaults.items() if k != "global"}
        for c in _from_values(own, None, _key("", key), 1):
            found.setdefault(c.path, c)
    return sorted(found.values(), key=lambda c: _rank(c, main))


def _main_replicas(own: list[Candidate]) -> str:
    """The main workload's replica count: the chart's own shallowest one (a top-level
    ``replicaCount``, cockroachdb's ``statefulset.replicas``) when no other is as shallow
    (argo-cd's five components at one depth name no main one); "" when none is."""
    if not own:
        return ""
    top = min(c.depth for c in own)
    shallowest = [c for c in own if c.depth == top]
    return shallowest[0].path if len(shallowest) == 1 else ""


def _rank(c: Candidate, main: str = "") -> tuple[int, int, int, str]:
    """The main replica count first (which the topology rules need to see above 1), then
    switches, other replica counts, enums and booleans, shallow before deep."""
    return (0 if c.path == main else 1, _PRIORITY[c.why], c.depth, c.path)


def choose(options: list[Candidate], max_cases: int) -> tuple[list[Candidate], list[Candidate]]:
    """Keep axes in order while the product of their sizes stays within ``max_cases``."""
    kept: list[Candidate] = []
    rest: list[Candidate] = []
    for c in options:
        if math.prod(len(k.values) for k in [*kept, c]) <= max_cases:
            kept.append(c)
        else:
            rest.append(c)
    return kept, rest


def _flow(values: tuple[Any, ...]) -> str:
    return yaml.safe_dump(list(values), default_flow_style=True, width=10_000).strip()


@dataclass
class Probe:
    """What rendering the candidates told: why some are left out, and what the spec
    needs for the chart's defaults to render at all."""

    notes: dict[str, str] = field(default_factory=dict)  # path -> why not proposed
    skip_schema: str = ""  # why the spec skips schema validation ("": it does not)
    api_versions: tuple[str, ...] = ()  # what the cluster must serve
    files: tuple[Path, ...] = ()  # values files every case layers (--values)
    sets: tuple[str, ...] = ()  # KEY=VALUE every case sets (--set)


def _probe(chart: Path, info: ChartInfo, found: list[Candidate], base: dict[str, Any]) -> Probe:
    """Render the candidates; when the defaults do not render, try again without a
    values schema that cannot be loaded offline, then on a cluster that serves the APIs
    the templates test (no value can fix either), and say what it took."""
    probe = Probe()
    failure = ""
    for attempt in ("plain", "schema", "apis"):
        if attempt == "schema":
            if not _UNLOADABLE_SCHEMA.search(failure):
                continue
            probe.skip_schema = (
                "its values.schema.json refers to a schema that cannot be loaded offline"
            )
        if attempt == "apis":
            if not info.tested_apis:
                break
            probe.api_versions = info.tested_apis
        flags = ("--skip-schema-validation",) if probe.skip_schema else ()
        try:
            probe.notes = {
                p: e.note
                for p, e in effects(info, found, flags, probe.api_versions, base).items()
                if e.note
            }
        except DefaultsFail as exc:
            failure = str(exc)
            continue
        if probe.skip_schema:
            print(f"note: {chart}: {probe.skip_schema}: the spec skips schema validation")
        if probe.api_versions:
            print(
                f"note: {chart}: the defaults render only on a cluster that serves "
                f"{', '.join(probe.api_versions)}: the spec says it does"
            )
        return probe
    print(
        f"note: {chart}: the chart's defaults do not render ({failure}); every case needs "
        "the values it asks for (values: or set: in the spec)"
    )
    return Probe()


def render_spec(
    chart: Path,
    name: str,
    out_file: Path,
    kept: list[Candidate],
    rest: list[Candidate],
    probe: Probe | None = None,
) -> str:
    """The spec's text; ``probe``: why a candidate in ``rest`` is not proposed, and what
    the spec needs for the defaults to render."""
    probe = probe or Probe()
    notes = probe.notes
    chart_rel = os.path.relpath(chart.resolve(), out_file.parent.resolve())
    lines = [
        f"# chartmatrix spec for chart {name}, proposed by `chartmatrix init`: review the axes,",
        "# then run `chartmatrix run --update-golden` and review the golden files.",
        f"chart: {json.dumps(chart_rel)}",
    ]
    if probe.files:
        here = out_file.parent.resolve()
        paths = [os.path.relpath(f.resolve(), here) for f in probe.files]
        lines.append(f"files: {json.dumps(paths)}")
    pairs = [pair for item in probe.sets for pair in parse_helm_set(item)]
    # a spec's set: takes dotted paths; what indexes a list (a[0]=x) goes in as values
    indexed = [(key, value) for key, value in pairs if "[" in key]
    if indexed:
        lines.append(f"values: {json.dumps(helm_set_values(indexed))}  # from --set")
    if len(indexed) < len(pairs):
        lines.append("set:")
        for key, value in pairs:
            if "[" not in key:
                lines.append(f"  {json.dumps(key)}: {_flow((value,))[1:-1]}")
    if probe.skip_schema:
        lines.append(f"skipSchemaValidation: true  # {probe.skip_schema}")
    if probe.api_versions:
        lines += [
            "kubernetes:  # the defaults render only on a cluster that serves these",
            f"  apiVersions: {_flow(probe.api_versions)}",
        ]
    if kept:
        lines.append("axes:")
        lines += [f"  {json.dumps(c.path)}: {_flow(c.values)}  # {c.why}" for c in kept]
    if rest:
        lines.append("# more candidate axes (each multiplies the case count):")
        lines += [
            f"#   {json.dumps(c.path)}: {_flow(c.values)}  # {c.why}"
            + (f"; {notes[c.path]}" if notes and c.path in notes else "")
            for c in rest
        ]
    return "\n".join(lines) + "\n"


def default_output(chart_name: str) -> Path:
    """``chart_tests/<chart>/matrix.yaml`` under the project root, where ``run`` finds it."""
    from chartmatrix.project import find_root

    root = find_root()
    out = root / "chart_tests" / chart_name / SPEC_FILE
    return out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out


def _given_values(files: list[Path], sets: list[str]) -> dict[str, Any]:
    """The values of ``--values`` files and ``--set`` flags (read as helm's --set)."""
    out: dict[str, Any] = merge_all([load_yaml_file(f) for f in files])
    try:
        given = helm_set_values(pair for item in sets for pair in parse_helm_set(item))
    except ValueError as exc:
        raise ChartmatrixError("--set", str(exc)) from None
    return merge(out, given)


def init(
    chart: Path,
    out_file: Path | None,
    *,
    force: bool,
    max_cases: int,
    files: list[Path] | None = None,
    sets: list[str] | None = None,
) -> int:
    """Write a spec for ``chart`` (a directory or a packaged ``.tgz``, which the spec
    then names as it is); ``files`` and ``sets``: values every case needs (the spec's
    ``files:`` and ``set:``), which init renders with too."""
    chart_dir = chart_dir_of(Path(chart))
    info = load_chart(chart_dir)
    if info.chart_type == "library":
        raise ChartmatrixError(chart_dir, "a library chart renders nothing; init a chart using it")
    out_file = out_file or default_output(info.name)
    if out_file.exists() and not force:
        raise ChartmatrixError(out_file, "exists; pass --force to overwrite it")
    found = candidates(info)
    base = _given_values(files or [], sets or [])
    probe = _probe(Path(chart), info, found, base)
    probe.files = tuple(files or ())
    probe.sets = tuple(sets or ())
    notes = probe.notes
    kept, rest = choose([c for c in found if c.path not in notes], max_cases)
    rest += [c for c in found if c.path in notes]
    text = render_spec(Path(chart), info.name, out_file, kept, rest, probe)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    spec = load_spec(out_file)
    ci = sum(1 for c in spec.cases if c.id.startswith("ci/"))
    axes = " x ".join(f"{c.path} ({len(c.values)})" for c in kept) or "no axes"
    print(
        f"wrote {out_file}: {len(spec.cases)} cases ({axes}; {ci} ci/ file(s)); "
        f"{len(rest)} more candidate axes listed as comments"
    )
    return 0

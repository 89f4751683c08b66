"""Golden files: one normalized YAML render per case, compared with unified diffs.

Normalization makes the file stable and reviewable: documents sorted by kind, namespace
and name; keys sorted; each document preceded by its ``# Source:`` template; volatile
fields replaced by ``<masked>`` — the ``helm.sh/chart`` label (it changes with every chart
version bump) everywhere it appears, plus any ``mask:`` entries of the spec.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chartmatrix.manifests import Manifest, _tokens
from chartmatrix.spec import Mask

MASK = "<masked>"
VOLATILE_LABELS = ("helm.sh/chart",)
HEADER = (
    "# chartmatrix golden render: chart {chart}, case {case}.\n"
    "# Reviewed output. Regenerate with `chartmatrix run --update-golden`.\n"
)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


def _str_presenter(dumper: Any, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)


def _mask_labels(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "labels" and isinstance(value, dict):
                for label in VOLATILE_LABELS:
                    if label in value:
                        value[label] = MASK
            else:
                _mask_labels(value)
    elif isinstance(node, list):
        for item in node:
            _mask_labels(item)


def _apply_mask(obj: Any, path: str) -> None:
    steps = _tokens(path)
    parents = [obj]
    for kind, step in steps[:-1]:
        nxt: list[Any] = []
        for parent in parents:
            if kind == "key" and step == "*" and isinstance(parent, dict):
                nxt.extend(parent.values())
            elif (kind == "key" and isinstance(parent, dict) and step in parent) or (
                kind == "index" and isinstance(parent, list) and -len(parent) <= step < len(parent)
            ):
                nxt.append(parent[step])
            elif kind == "select" and isinstance(parent, list):
                nxt.extend(
                    i for i in parent if isinstance(i, dict) and str(i.get(step[0])) == step[1]
                )
        parents = nxt
    kind, last = steps[-1]
    for parent in parents:
        if kind == "key" and isinstance(parent, dict):
            for key in list(parent) if last == "*" else [last]:
                if key in parent:
                    parent[key] = MASK
        elif kind == "index" and isinstance(parent, list) and -len(parent) <= last < len(parent):
            parent[last] = MASK


def _sort_key(m: Manifest) -> tuple[str, str, str, str]:
    return (m.kind, m.namespace, m.name, m.api_version)


def normalize(manifests: Iterable[Manifest], masks: Iterable[Mask] = ()) -> list[Manifest]:
    """Masked deep copies in a stable order."""
    out: list[Manifest] = []
    masks = list(masks)
    for m in sorted(manifests, key=_sort_key):
        obj = copy.deepcopy(m.obj)
        _mask_labels(obj)
        for mask in masks:
            if fnmatch.fnmatchcase(m.kind, mask.kind) and fnmatch.fnmatchcase(m.name, mask.name):
                _apply_mask(obj, mask.path)
        out.append(Manifest(obj, m.source, len(out)))
    return out


def dump(manifests: Iterable[Manifest], chart: str, case: str) -> str:
    parts = [HEADER.format(chart=chart, case=case)]
    for m in manifests:
        body = yaml.dump(
            m.obj,
            Dumper=_Dumper,
            sort_keys=True,
            default_flow_style=False,
            width=1000,
            allow_unicode=True,
        )
        source = f"# Source: {m.source}\n" if m.source else ""
        parts.append(f"---\n{source}{body}")
    return "".join(parts)


@dataclass(frozen=True)
class GoldenResult:
    """``status``: same | changed | missing | written | updated."""

    status: str
    file: Path
    diff: str = ""


def compare(file: Path, text: str, *, update: bool, ci: bool) -> GoldenResult:
    """Compare ``text`` with ``file``; write it when updating (or when new and not in CI)."""
    if not file.exists():
        if update or not ci:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text, encoding="utf-8")
            return GoldenResult("written", file)
        return GoldenResult("missing", file)
    old = file.read_text(encoding="utf-8")
    if old == text:
        return GoldenResult("same", file)
    diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{file} (golden)",
            tofile=f"{file} (rendered)",
        )
    )
    if update:
        file.write_text(text, encoding="utf-8")
        return GoldenResult("updated", file, diff)
    return GoldenResult("changed", file, diff)


def orphans(golden_dir: Path, expected: Iterable[str]) -> list[Path]:
    """Golden files that no case produces."""
    if not golden_dir.is_dir():
        return []
    wanted = set(expected)
    return sorted(p for p in golden_dir.glob("*.yaml") if p.name not in wanted)

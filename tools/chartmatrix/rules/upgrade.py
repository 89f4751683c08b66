"""Upgrade safety: changes to immutable fields against the golden (previous) render.

``helm upgrade`` fails with "Forbidden: updates to statefulset spec for fields other than
..." (or "field is immutable") when a chart change touches these fields; this rule
catches that before any cluster sees it. It needs a golden render to compare with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from chartmatrix.findings import Severity
from chartmatrix.manifests import Manifest
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import is_hook

IMMUTABLE: dict[str, tuple[str, ...]] = {
    "StatefulSet": (
        "spec.volumeClaimTemplates",
        "spec.selector",
        "spec.serviceName",
        "spec.podManagementPolicy",
    ),
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "Job": ("spec.selector", "spec.template"),
    "Service": ("spec.clusterIP",),
    "PersistentVolumeClaim": ("spec",),
}
_ABSENT = object()


def _get(obj: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return _ABSENT
        obj = obj[key]
    return obj


def _pvc_spec(spec: Any) -> Any:
    if not isinstance(spec, dict):
        return spec
    return {k: v for k, v in spec.items() if k not in ("resources", "volumeAttributesClassName")}


def _show(value: Any) -> str:
    if value is _ABSENT or value is None:
        return "<unset>"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def first_difference(was: Any, now: Any, path: str = "") -> tuple[str, Any, Any]:
    """The first place two values differ: (sub-path, old, new), so a long message shows
    the change itself rather than a common prefix cut short."""
    if isinstance(was, dict) and isinstance(now, dict):
        for key in sorted(set(was) | set(now), key=str):
            if was.get(key, _ABSENT) != now.get(key, _ABSENT):
                return first_difference(
                    was.get(key, _ABSENT), now.get(key, _ABSENT), f"{path}.{key}"
                )
    if isinstance(was, list) and isinstance(now, list) and len(was) == len(now):
        for i, (a, b) in enumerate(zip(was, now, strict=True)):
            if a != b:
                return first_difference(a, b, f"{path}[{i}]")
    return path, was, now


def _key(m: Manifest) -> tuple[str, str, str]:
    return (m.kind, m.namespace, m.name)


@rule(
    "upgrade/immutable-field",
    Severity.ERROR,
    "no change to immutable fields relative to the golden render (helm upgrade would fail)",
)
def immutable_fields(ctx: RuleContext) -> Iterator[Violation]:
    if ctx.golden is None:
        return
    before = {_key(m): m for m in ctx.golden}
    for m in ctx.manifests:
        paths = IMMUTABLE.get(m.kind)
        old = before.get(_key(m))
        if not paths or old is None or is_hook(m):
            continue
        for path in paths:
            was, now = _get(old.obj, path), _get(m.obj, path)
            if m.kind == "PersistentVolumeClaim":
                was, now = _pvc_spec(was), _pvc_spec(now)
            if was != now:
                where, old_part, new_part = first_difference(was, now)
                yield Violation(
                    f"{path} changed ({path}{where}: {_show(old_part)} -> {_show(new_part)}): "
                    "immutable, `helm upgrade` would fail (Forbidden / field is immutable)",
                    m.ref,
                    path,
                )

"""Upgrade safety: changes to immutable fields against the golden (previous) render.

``helm upgrade`` fails with "Forbidden: updates to statefulset spec for fields other than
..." (or "field is immutable") when a chart change touches these fields; this rule
catches that before any cluster sees it. It needs a golden render to compare with.
"""

from __future__ import annotations

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
    text = "<unset>" if value is _ABSENT else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


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
                yield Violation(
                    f"{path} changed from {_show(was)} to {_show(now)}: immutable, "
                    "`helm upgrade` would fail (Forbidden / field is immutable)",
                    m.ref,
                    path,
                )

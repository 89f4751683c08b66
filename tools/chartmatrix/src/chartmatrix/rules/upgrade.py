"""Upgrade safety against the golden (previous) render.

- ``upgrade/immutable-field``: ``helm upgrade`` fails with "Forbidden: updates to
  statefulset spec for fields other than ..." (or "field is immutable") when a chart change
  touches these fields; caught before any cluster sees it.
- ``upgrade/renamed-statefulset``: a StatefulSet renamed on upgrade (fullnameOverride,
  nameOverride, a changed name helper) does not fail at all: Helm deletes the old one and
  creates the new one, whose pods get new, empty claims. Caught by a StatefulSet with claims
  that leaves the render while one with the same role (claim names, component, selector
  apart from name-bearing labels) appears.
Both need a golden render to compare with.
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
    for m in ctx.as_golden:
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


# Selector labels that carry a name: they change with nameOverride/fullnameOverride.
NAME_LABELS = frozenset(
    {"app.kubernetes.io/name", "app", "name", "k8s-app", "app.kubernetes.io/fullname"}
)
COMPONENT_LABEL = "app.kubernetes.io/component"


def _claim_names(m: Manifest) -> frozenset[str]:
    templates = _get(m.obj, "spec.volumeClaimTemplates")
    if not isinstance(templates, list):
        return frozenset()
    return frozenset(
        str(t.get("metadata", {}).get("name") or "") for t in templates if isinstance(t, dict)
    )


def _selector(m: Manifest) -> dict[str, str]:
    labels = _get(m.obj, "spec.selector.matchLabels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _component(m: Manifest) -> str:
    for labels in (m.metadata.get("labels"), _get(m.obj, "spec.template.metadata.labels")):
        if isinstance(labels, dict) and labels.get(COMPONENT_LABEL):
            return str(labels[COMPONENT_LABEL])
    return _selector(m).get(COMPONENT_LABEL, "")


def _same_role(old: Manifest, new: Manifest) -> bool:
    """Same claims, same component, and the same selector once the labels that carry
    the name (a well-known name label, or one whose value is part of each name) are
    left out."""
    if _claim_names(old) != _claim_names(new) or _component(old) != _component(new):
        return False
    was, now = _selector(old), _selector(new)
    if not was or set(was) != set(now):
        return False
    for key, value in was.items():
        if now[key] == value or key in NAME_LABELS:
            continue
        if not (value in old.name and now[key] in new.name):
            return False
    return True


@rule(
    "upgrade/renamed-statefulset",
    Severity.ERROR,
    "no StatefulSet with claims disappears from the golden render while one with the same "
    "role appears under another name (a rename starts on empty volumes)",
)
def renamed_statefulsets(ctx: RuleContext) -> Iterator[Violation]:
    if ctx.golden is None:
        return
    old_sets = {_key(m): m for m in ctx.golden if m.kind == "StatefulSet" and not is_hook(m)}
    new_sets = {_key(m): m for m in ctx.as_golden if m.kind == "StatefulSet" and not is_hook(m)}
    appeared = [m for key, m in new_sets.items() if key not in old_sets]
    for key, old in old_sets.items():
        claims = _claim_names(old)
        if key in new_sets or not claims:
            continue
        for new in appeared:
            if new.namespace != old.namespace or not _same_role(old, new):
                continue
            examples = ", ".join(f"{c}-{old.name}-N -> {c}-{new.name}-N" for c in sorted(claims))
            yield Violation(
                f"StatefulSet {old.name} is gone and {new.name} takes its role (same claims, "
                f"component and selector apart from the name): on upgrade the new pods get new, "
                f"empty claims ({examples}) and the old claims are orphaned. Usually a changed "
                "fullnameOverride/nameOverride or name helper; keep the old name, or suppress "
                "upgrade/renamed-statefulset once the data has been moved",
                new.ref,
                "metadata.name",
            )

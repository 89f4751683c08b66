"""Configuration state: pods roll when the chart's own ConfigMaps/Secrets change.

The destate checksum convention (defined by the destate library, ``_config.tpl``): a pod
annotation ``checksum/<x>`` holds the SHA-256 hex digest of Go's ``toJson`` of the
object's ``.data`` map (keys sorted, no spaces, ``<``, ``>``, ``&``, U+2028 and U+2029
escaped as ``\\uXXXX``, other characters kept as UTF-8). For a Secret, ``.data`` holds the
base64 values as rendered. :func:`canonical_hash` computes it.

Charts that do not use the library ("presence" convention) only need some
``checksum/*`` annotation, and its absence is a warning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import is_hook, pod_templates, references

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_to_json(value: Any) -> str:
    """Go ``encoding/json`` output (Helm's ``toJson``) for plain YAML data."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def canonical_hash(data: dict[str, Any] | None) -> str:
    return hashlib.sha256(go_to_json(data or {}).encode()).hexdigest()


def _used(ctx: RuleContext) -> Iterator[tuple[Any, str, str, Any]]:
    """(pod, kind, name, object) for each rendered ConfigMap/Secret a non-hook pod uses."""
    for pod in pod_templates(ctx.manifests):
        if is_hook(pod.owner):
            continue
        seen = set()
        for ref in references(pod):
            if not ref.mounted or ref.kind not in ("ConfigMap", "Secret"):
                continue
            target = ctx.find(ref.kind, ref.name)
            if target is None or (ref.kind, ref.name) in seen:
                continue
            seen.add((ref.kind, ref.name))
            yield pod, ref.kind, ref.name, target


@rule(
    "config/checksum-annotation",
    Severity.ERROR,
    "pods using a ConfigMap/Secret rendered by the chart carry a checksum/* annotation "
    "(warning for charts outside the destate convention)",
)
def checksum_present(ctx: RuleContext) -> Iterator[Violation]:
    severity = Severity.ERROR if ctx.checksum_convention == "destate" else Severity.WARNING
    for pod, kind, name, _ in _used(ctx):
        if not any(k.startswith("checksum/") for k in pod.annotations):
            yield Violation(
                f"uses {kind} {name!r} from this chart but has no checksum/* pod annotation: "
                "config changes will not roll the pods",
                pod.owner.ref,
                f"{pod.prefix}metadata.annotations",
                severity,
            )


CONVENTION = {"checksum/config": "ConfigMap", "checksum/secret": "Secret"}


@rule(
    "config/checksum-value",
    Severity.ERROR,
    "destate convention: checksum/config (checksum/secret) equals the hash of the data of "
    "a ConfigMap (Secret) of this chart that the pod uses",
)
def checksum_value(ctx: RuleContext) -> Iterator[Violation]:
    if ctx.checksum_convention != "destate":
        return
    hashes = {
        (m.kind, m.name): canonical_hash(m.obj.get("data"))
        for m in ctx.of_kind("ConfigMap", "Secret")
    }
    for pod in pod_templates(ctx.manifests):
        if is_hook(pod.owner):
            continue
        used = {(r.kind, r.name) for r in references(pod) if r.mounted}
        for annotation, kind in CONVENTION.items():
            value = pod.annotations.get(annotation)
            if value is None:
                continue
            rendered = [key for key in hashes if key[0] == kind]
            # the objects the pod uses first; a checksum of an unused object is allowed
            candidates = [key for key in rendered if key in used] or rendered
            if value in {hashes[key] for key in candidates}:
                continue
            if any(value == hashes[key] for key in rendered):
                continue
            want = ", ".join(f"{n}={hashes[(k, n)][:12]}..." for k, n in candidates)
            yield Violation(
                f"{annotation}={str(value)[:12]}... is not the hash of the data of a {kind} "
                f"of this chart ({want or 'none rendered'}): it will not roll the pods on change",
                pod.owner.ref,
                f'{pod.prefix}metadata.annotations["{annotation}"]',
            )

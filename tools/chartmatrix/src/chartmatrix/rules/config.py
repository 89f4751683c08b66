"""Configuration state: pods roll when the chart's own ConfigMaps/Secrets change.

The ``data-hash`` checksum convention (what ``{{ .data | toJson | sha256sum }}`` in a
template gives): a pod annotation ``checksum/config`` (``checksum/secret``) holds the
SHA-256 hex digest of Go's ``toJson`` of a ConfigMap's (Secret's) ``.data`` map (keys
sorted, no spaces, ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as ``\\uXXXX``, other
characters kept as UTF-8). For a Secret, ``.data`` holds the base64 values as rendered.
:func:`canonical_hash` computes it.

``config/checksum-annotation`` wants every ConfigMap/Secret of the chart that a rolling
workload uses covered per object: by a checksum annotation whose value is its hash or
whose key names it (``checksum/config`` covers ConfigMaps, not a Secret), by a config
reloader (stakater Reloader annotations, a reloader sidecar), or by not changing in place
(immutable, content-named, ``helm.sh/resource-policy: keep``); :mod:`chartmatrix.rules.rollout`
documents the heuristic. An uncovered object is a warning under the ``presence``
convention (the default), an error under ``strict`` and ``data-hash``
(:mod:`chartmatrix.checksumconvention`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import PodTemplate, is_hook, pod_templates, references
from chartmatrix.rules.rollout import (
    Checksum,
    Target,
    checksum_covers,
    checksums,
    reloader_covers,
    unchanging,
    words,
)

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


ROLLING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}
CHECKSUM_RULE = "config/checksum-annotation"


def _hashes(obj: dict[str, Any], text: str = "", siblings: Sequence[str] = ()) -> frozenset[str]:
    """The checksums that cover the object: of its data as a whole, of each single value
    (a chart that hashes the one file it templates, ``tpl … | sha256sum``), and of its
    template's rendered text (``include (print $.Template.BasePath "/secret.yaml") . |
    sha256sum``: helm prints the document trimmed, the template's text may start with
    the newline after an ``{{- if }}`` and end without one); ``siblings``: the texts of
    every document of a template that renders several, in order, joined as helm split
    them."""
    out = {canonical_hash(obj.get("data"))}
    wholes = [text] if text else []
    if len(siblings) > 1 and all(siblings):
        wholes += [sep.join(siblings) for sep in ("\n---\n", "\n\n---\n", "\n---\n\n")]
    for whole in wholes:
        # a template ending in `-}}` renders no final newline
        for start in ("", "\n", "---\n", "\n---\n"):
            for end in ("\n", ""):
                out.add(hashlib.sha256(f"{start}{whole}{end}".encode()).hexdigest())
    for key in ("data", "stringData"):
        items = obj.get(key)
        if not isinstance(items, dict):
            continue
        if key == "stringData":
            out.add(canonical_hash(items))
        for value in items.values():
            if isinstance(value, str):
                out.add(hashlib.sha256(value.encode()).hexdigest())
                if key == "data" and obj.get("kind") == "Secret":
                    decoded = _base64(value)
                    if decoded is not None:
                        out.add(hashlib.sha256(decoded).hexdigest())
    return frozenset(out)


def _base64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _volume_of(pod: PodTemplate, path: str) -> str | None:
    """The name of the volume a reference path (``...spec.volumes[3]...``) points into."""
    match = re.match(re.escape(f"{pod.prefix}spec.volumes[") + r"(\d+)\]", path)
    if match is None:
        return None
    volume = (pod.spec.get("volumes") or [])[int(match.group(1))]
    return str(volume.get("name")) if isinstance(volume, dict) else None


def _used(ctx: RuleContext) -> Iterator[tuple[PodTemplate, list[Target], set[str]]]:
    """Per rolling, non-hook pod template: the rendered ConfigMaps/Secrets it mounts or
    reads through env, and the names of every object it references."""
    texts: dict[str, list[str]] = {}  # template -> the documents it renders, in order
    for m in ctx.manifests:
        if m.source:
            texts.setdefault(m.source, []).append(m.text)
    for pod in pod_templates(ctx.manifests):
        if is_hook(pod.owner) or pod.owner.kind not in ROLLING:
            continue
        refs = references(pod)
        targets: dict[tuple[str, str], Target] = {}
        for ref in refs:
            if not ref.mounted or ref.kind not in ("ConfigMap", "Secret"):
                continue
            found = ctx.find(ref.kind, ref.name)
            if found is None:
                continue
            volume = _volume_of(pod, ref.path)
            known = targets.get((ref.kind, ref.name))
            if known is not None and (known.volume is None or volume is not None):
                continue  # env use (no volume) wins: a sidecar cannot reload it
            hashes = _hashes(found.obj, found.text, texts.get(found.source, ()))
            targets[(ref.kind, ref.name)] = Target(ref.kind, ref.name, found.obj, hashes, volume)
        if targets:
            yield pod, list(targets.values()), {r.name for r in refs}


def _names_specific(c: Checksum, name_words: list[set[str]]) -> bool:
    return any(c.specific <= w for w in name_words)


def _suggest(kind: str, name: str, present: list[Checksum]) -> str:
    key = "checksum/config" if kind == "ConfigMap" else "checksum/secret"
    if any(c.key == key for c in present):
        key = f"checksum/{name}"
    return key


@rule(
    CHECKSUM_RULE,
    Severity.ERROR,
    "a ConfigMap/Secret of the chart that a Deployment/StatefulSet/DaemonSet uses is covered "
    "by a checksum annotation naming or hashing it, or by a config reloader (a warning "
    "under the default checksumConvention, presence)",
)
def checksum_present(ctx: RuleContext) -> Iterator[Violation]:
    severity = Severity.WARNING if ctx.checksum_convention == "presence" else Severity.ERROR
    for pod, targets, names in _used(ctx):
        present = checksums(pod.annotations)
        name_words = [words(n) for n in names]
        names_specific = partial(_names_specific, name_words=name_words)
        for target in targets:
            if reloader_covers(pod, target) or unchanging(target):
                continue
            if any(checksum_covers(c, target, names_specific) for c in present):
                continue
            have = (
                f"none of its checksum annotations ({', '.join(c.key for c in present)}) "
                "names or hashes it"
                if present
                else "it has no checksum/* pod annotation"
            )
            yield Violation(
                f"uses {target.kind} {target.name!r} from this chart but {have}: changes to "
                "it will not roll the pods; add "
                f"{_suggest(target.kind, target.name, present)}: <sha256 of it>, "
                f'a reloader (reloader.stakater.com/auto: "true"), or suppress {CHECKSUM_RULE} '
                "if the app reloads it itself",
                pod.owner.ref,
                f"{pod.prefix}metadata.annotations",
                severity,
            )


CONVENTION = {"checksum/config": "ConfigMap", "checksum/secret": "Secret"}


@rule(
    "config/checksum-value",
    Severity.ERROR,
    "checksumConvention data-hash: checksum/config (checksum/secret) equals the hash of the "
    "data of a ConfigMap (Secret) of this chart that the pod uses",
)
def checksum_value(ctx: RuleContext) -> Iterator[Violation]:
    if ctx.checksum_convention != "data-hash":
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

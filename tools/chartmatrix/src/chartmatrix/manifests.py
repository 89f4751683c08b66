"""Parse ``helm template`` output and query manifests by kind, name and path.

Path syntax for :func:`query` (and ``Rendered.query``)::

    spec.template.spec.containers[0].image        keys and list indexes
    spec.template.spec.containers[name=app].image  the list item whose ``name`` is ``app``
    metadata.annotations["checksum/config"]        quoted key (may contain dots)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chartmatrix import k8syaml

_DOC_SPLIT = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)
_SOURCE = re.compile(r"^# Source: (.+)$", re.MULTILINE)
_TOKEN = re.compile(
    r"""\s*(?:
        \[\s*(?P<index>-?\d+)\s*\]
      | \[\s*(?P<selkey>[\w.\-/]+)\s*=\s*(?P<selval>[^\]]*)\]
      | \[\s*(?P<quote>["'])(?P<qkey>.*?)(?P=quote)\s*\]
      | (?P<key>[^.\[\]]+)
    )\s*\.?""",
    re.VERBOSE,
)
_MISSING = object()


class ManifestParseError(ValueError):
    """helm printed something that is not YAML."""


@dataclass(frozen=True)
class Manifest:
    """One rendered Kubernetes object with the template it came from."""

    obj: dict[str, Any]
    source: str
    index: int
    # the document as helm printed it (its template's text when the template renders this
    # one document); "" when unknown
    text: str = field(default="", compare=False, repr=False)

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def query(self, path: str, default: Any = _MISSING) -> Any:
        return query(self.obj, path, default)


# Parsed documents by text, least recently used first out: documents shared by many
# cases stay, one-off documents (a StatefulSet that differs in every case) leave, so
# memory stays flat over many cases. CRDs, large and the same in every case, are kept
# apart (up to a cap) so that a chart's many CRDs never push each other out.
_CHUNKS: dict[str, list[Any]] = {}
_CHUNK_CACHE_BYTES = 2 * 1024 * 1024  # of document text (the parsed objects are larger)
_cached_bytes = 0
_CRD_CHUNKS: dict[str, list[Any]] = {}
_CRD_CACHE_BYTES = 32 * 1024 * 1024
_crd_bytes = 0
_CRD_MARK = re.compile(r"^kind:\s*CustomResourceDefinition\s*$", re.MULTILINE)


def _remember(chunk: str, docs: list[Any]) -> None:
    global _cached_bytes, _crd_bytes
    if _CRD_MARK.search(chunk):
        if _crd_bytes + len(chunk) <= _CRD_CACHE_BYTES:
            _CRD_CHUNKS[chunk] = docs
            _crd_bytes += len(chunk)
        return
    while _CHUNKS and _cached_bytes + len(chunk) > _CHUNK_CACHE_BYTES:
        oldest = next(iter(_CHUNKS))
        del _CHUNKS[oldest]
        _cached_bytes -= len(oldest)
    if len(chunk) <= _CHUNK_CACHE_BYTES:
        _CHUNKS[chunk] = docs
        _cached_bytes += len(chunk)


def _load_chunk(chunk: str, source: str) -> list[Any]:
    """Parse one document; identical documents (common across cases) are parsed once.

    Callers must not modify the returned objects (normalization copies them).
    """
    docs = _CRD_CHUNKS.get(chunk)
    if docs is None:
        docs = _CHUNKS.pop(chunk, None)
        if docs is not None:
            _CHUNKS[chunk] = docs  # now the most recently used
    if docs is None:
        try:
            # as helm and the API server read it (sigs.k8s.io/yaml), not as PyYAML would
            docs = k8syaml.load_all(chunk)
        except k8syaml.YamlError as exc:
            where = f" in {source}" if source else ""
            at = ""
            if exc.line is not None:
                # count lines from the template's first rendered line, below "# Source:"
                found = _SOURCE.search(chunk)
                skip = chunk.count("\n", 0, found.end()) + 1 if found else 0
                at = f"line {exc.line - skip if exc.line > skip else exc.line}: "
            raise ManifestParseError(
                f"rendered output is not valid YAML{where}: {at}{exc.problem}"
            ) from None
        _remember(chunk, docs)
    return docs


def _is_list(doc: dict[str, Any]) -> bool:
    """A ``v1 List`` (or any ``...List`` kind) of objects, which Helm flattens on install."""
    items = doc.get("items")
    return (
        str(doc.get("kind") or "").endswith("List")
        and isinstance(items, list)
        and all(isinstance(item, dict) for item in items)
    )


def parse(text: str) -> list[Manifest]:
    """Split a multi-document render into manifests, skipping empty documents."""
    out: list[Manifest] = []
    source = ""
    for chunk in _DOC_SPLIT.split(text):
        if not chunk.strip():
            continue
        # Helm 3 prints "# Source:" once per template file, Helm 4 once per document: a
        # document without one continues the template before it.
        source_match = _SOURCE.search(chunk)
        if source_match:
            source = source_match.group(1).strip()
        docs = _load_chunk(chunk, source)
        text = _SOURCE.sub("", chunk, count=1).strip() if len(docs) == 1 else ""
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                where = f" in {source}" if source else ""
                raise ManifestParseError(
                    f"rendered document{where} is a {type(doc).__name__}, not an object"
                )
            if _is_list(doc):  # helm installs a List's items (kubectl too): so are they
                for item in doc["items"]:
                    out.append(Manifest(item, source, len(out)))
                continue
            out.append(Manifest(doc, source, len(out), text))
    return out


def _tokens(path: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    path = path.strip()
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match or match.end() == pos:
            raise ValueError(f"invalid path {path!r} at character {pos + 1}")
        pos = match.end()
        if match.group("index") is not None:
            out.append(("index", int(match.group("index"))))
        elif match.group("selkey") is not None:
            value = match.group("selval").strip().strip("\"'")
            out.append(("select", (match.group("selkey"), value)))
        elif match.group("qkey") is not None:
            out.append(("key", match.group("qkey")))
        else:
            out.append(("key", match.group("key").strip()))
    return out


def query(obj: Any, path: str, default: Any = _MISSING) -> Any:
    """Follow ``path`` into ``obj``; raise ``KeyError`` naming the missing step."""
    current = obj
    walked = ""
    for kind, step in _tokens(path):
        found = _MISSING
        if kind == "key" and isinstance(current, dict):
            found = current.get(step, _MISSING)
            label = f".{step}" if walked else step
        elif kind == "index" and isinstance(current, list):
            label = f"[{step}]"
            if -len(current) <= step < len(current):
                found = current[step]
        elif kind == "select" and isinstance(current, list):
            sel_key, sel_val = step
            label = f"[{sel_key}={sel_val}]"
            for item in current:
                if isinstance(item, dict) and str(item.get(sel_key)) == sel_val:
                    found = item
                    break
        else:
            label = f".{step}" if kind == "key" else f"[{step}]"
        if found is _MISSING:
            if default is not _MISSING:
                return default
            raise KeyError(f"{path}: nothing at {walked}{label}")
        current = found
        walked += label
    return current


class Rendered:
    """A chart's rendered manifests with helpers for hand-written tests."""

    def __init__(self, manifests: list[Manifest], text: str = "") -> None:
        self.manifests = manifests
        self.text = text

    @classmethod
    def from_text(cls, text: str) -> Rendered:
        return cls(parse(text), text)

    @property
    def all(self) -> list[dict[str, Any]]:
        """Every rendered object (plain dicts), in helm's order."""
        return [m.obj for m in self.manifests]

    def __len__(self) -> int:
        return len(self.manifests)

    def __iter__(self) -> Iterator[Manifest]:
        return iter(self.manifests)

    def kinds(self) -> list[str]:
        return sorted({m.kind for m in self.manifests})

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Objects of one kind (``"StatefulSet"``), in helm's order."""
        return [m.obj for m in self.manifests if m.kind == kind]

    def find(self, kind: str, name: str) -> Manifest | None:
        for m in self.manifests:
            if m.kind == kind and m.name == name:
                return m
        return None

    def get(self, kind: str, name: str | None = None) -> dict[str, Any]:
        """The one object of ``kind`` named ``name`` (or the only one of that kind)."""
        if name is None:
            matches = self.of_kind(kind)
            if len(matches) != 1:
                names = [str(o.get("metadata", {}).get("name")) for o in matches]
                raise KeyError(f"expected exactly one {kind}, rendered {len(matches)}: {names}")
            return matches[0]
        found = self.find(kind, name)
        if found is None:
            names = [m.name for m in self.manifests if m.kind == kind]
            raise KeyError(f"no {kind} named {name!r} (rendered {kind}: {names})")
        return found.obj

    def has(self, kind: str, name: str | None = None) -> bool:
        return any(m.kind == kind and (name is None or m.name == name) for m in self.manifests)

    def query(self, kind: str, name: str | None, path: str, default: Any = _MISSING) -> Any:
        """``query("StatefulSet", "x", "spec.serviceName")``."""
        return query(self.get(kind, name), path, default)

"""Golden files: one normalized YAML render per case, compared with unified diffs.

Normalization makes the file stable and reviewable: documents sorted by kind, namespace
and name; keys sorted; each document preceded by its ``# Source:`` template; volatile
fields replaced by ``<masked>`` — the ``helm.sh/chart`` label (it changes with every chart
version bump) everywhere it appears, plus any ``mask:`` entries of the spec.

CustomResourceDefinitions are large and usually the same in every case: each distinct CRD
is kept once per spec, in ``crds/<name>.yaml`` of the golden directory, and a case file
names it with a comment-only document (``# CRD <name>: see crds/<name>.yaml``). When cases
render different contents for one CRD name, the other contents are kept in
``crds/<name>.<digest>.yaml``.

Every file chartmatrix writes starts with :data:`MARK`; only such files are ever reported
as orphans or deleted.
"""

from __future__ import annotations

import bisect
import copy
import difflib
import fnmatch
import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from chartmatrix import blockyaml, k8syaml
from chartmatrix.manifests import Manifest, _tokens
from chartmatrix.spec import VERSION_MARK, Case, Mask

MASK = "<masked>"
VOLATILE_LABELS = ("helm.sh/chart",)
MARK = "# chartmatrix golden render: "
HEADER = (
    MARK + "chart {chart}, case {case}.\n"
    "# Reviewed output. Regenerate with `chartmatrix run --update-golden`.\n"
)
CRD_HEADER = (
    MARK + "chart {chart}, CRD {name}.\n"
    "# Reviewed output, shared by the case files that name it. "
    "Regenerate with `chartmatrix run --update-golden`.\n"
)
CRD_KIND = "CustomResourceDefinition"
CRD_DIR = "crds"
_STUB = re.compile(r"^# CRD (?P<name>\S+): see (?P<ref>\S+)$", re.MULTILINE)
_UNSAFE_FILE = re.compile(r"[^A-Za-z0-9._-]+")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# of normalized documents kept per spec, least recently used first out: documents shared
# by many cases stay, one-off documents leave (memory stays flat over many cases)
_CACHE_BYTES = 8 * 1024 * 1024


class _Dumper(k8syaml.Resolver, getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Quotes every string Kubernetes would not read back as that string (``y``, ``1e3``)."""

    def represent(self, data: Any) -> None:
        """PyYAML's nodes for a tree of dicts, lists, strings, integers, booleans and
        nulls, built without its generic dispatch (the most of a golden dump); anything
        else (floats, a container met twice, keys that do not sort) takes PyYAML's way."""
        try:
            node = _plain_node(data, set())
        except _NotPlain:
            super().represent(data)
        else:
            self.serialize(node)


class _NotPlain(Exception):
    pass


_STR = "tag:yaml.org,2002:str"


def _plain_node(data: Any, seen: set[int]) -> yaml.Node:
    """What SafeRepresenter and _str_presenter make of ``data`` with DUMP_OPTIONS."""
    kind = type(data)
    if kind is str:
        return yaml.ScalarNode(_STR, data, style="|" if "\n" in data else None)
    if kind is dict or kind is list:
        if id(data) in seen:  # PyYAML writes an anchor and an alias
            raise _NotPlain
        seen.add(id(data))
        if kind is list:
            items = [_plain_node(v, seen) for v in data]
            return yaml.SequenceNode("tag:yaml.org,2002:seq", items, flow_style=False)
        try:
            pairs = sorted(data.items(), key=lambda kv: kv[0])
        except TypeError:  # PyYAML keeps the order then
            raise _NotPlain from None
        mapping = [(_plain_node(k, seen), _plain_node(v, seen)) for k, v in pairs]
        return yaml.MappingNode("tag:yaml.org,2002:map", mapping, flow_style=False)
    if kind is bool:
        return yaml.ScalarNode("tag:yaml.org,2002:bool", "true" if data else "false")
    if kind is int:
        return yaml.ScalarNode("tag:yaml.org,2002:int", str(data))
    if data is None:
        return yaml.ScalarNode("tag:yaml.org,2002:null", "null")
    raise _NotPlain


def _str_presenter(dumper: Any, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar(_STR, data, style="|")
    return dumper.represent_scalar(_STR, data)


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


@cache
def _steps(path: str) -> tuple[tuple[str, Any], ...]:
    return tuple(_tokens(path))


def _apply_mask(obj: Any, path: str) -> int:
    """Replace what ``path`` names in ``obj`` with MASK; the number of places replaced."""
    steps = _steps(path)
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
    hits = 0
    for parent in parents:
        if kind == "key" and isinstance(parent, dict):
            for key in list(parent) if last == "*" else [last]:
                if key in parent:
                    parent[key] = MASK
                    hits += 1
        elif kind == "index" and isinstance(parent, list) and -len(parent) <= last < len(parent):
            parent[last] = MASK
            hits += 1
    return hits


_NAME = (("key", "metadata"), ("key", "name"))  # _steps("metadata.name")


def _sort_key(m: Manifest) -> tuple[str, str, str, str]:
    return (m.kind, m.namespace, m.name, m.api_version)


def _tree_copy(node: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy`` of a parsed document, a few times faster: dicts and lists are
    copied (a container met twice is copied once, as deepcopy does, so YAML anchors
    survive), other values are immutable scalars and shared; anything else is deepcopy's."""
    kind = type(node)
    if kind is dict or kind is list:
        done = memo.get(id(node))
        if done is not None:
            return done
        if kind is list:
            out: Any = []
            memo[id(node)] = out
            out.extend(_tree_copy(v, memo) for v in node)
        else:
            out = {}
            memo[id(node)] = out
            for k, v in node.items():
                out[k] = _tree_copy(v, memo)
        return out
    if kind in (str, int, bool, float) or node is None:
        return node
    return copy.deepcopy(node)


def _normalize_one(m: Manifest, masks: Sequence[Mask]) -> tuple[dict[str, Any], tuple[int, ...]]:
    obj = _tree_copy(m.obj, {})
    _mask_labels(obj)
    hits = tuple(
        _apply_mask(obj, mask.path)
        if fnmatch.fnmatchcase(m.kind, mask.kind) and fnmatch.fnmatchcase(m.name, mask.name)
        else 0
        for mask in masks
    )
    return obj, hits


def normalize(manifests: Iterable[Manifest], masks: Iterable[Mask] = ()) -> list[Manifest]:
    """Masked deep copies in a stable order."""
    return Normalizer(masks).normalize(manifests)


# how a golden document is written (_plain_node builds what these options ask for)
DUMP_OPTIONS: dict[str, Any] = {
    "sort_keys": True,
    "default_flow_style": False,
    "width": 1000,
    "allow_unicode": True,
}


def _dump_obj(obj: Any) -> str:
    # most documents are written directly, the rest by libyaml (the same text)
    fast = blockyaml.dump(obj)
    return fast if fast is not None else yaml.dump(obj, Dumper=_Dumper, **DUMP_OPTIONS)


def _document(m: Manifest) -> str:
    source = f"# Source: {m.source}\n" if m.source else ""
    return f"---\n{source}{_dump_obj(m.obj)}"


@dataclass(frozen=True)
class CrdDoc:
    """One CustomResourceDefinition of a render, kept in its own golden file."""

    name: str
    source: str
    text: str  # the normalized document, as in a case file
    digest: str

    @property
    def file_stem(self) -> str:
        return _UNSAFE_FILE.sub("_", self.name).strip("._") or "unnamed"

    def stub(self, ref: str) -> str:
        source = f"# Source: {self.source}\n" if self.source else ""
        return f"---\n{source}# CRD {self.name}: see {ref}\n"

    def file_text(self, chart: str) -> str:
        return CRD_HEADER.format(chart=chart, name=self.name) + self.text


@dataclass(frozen=True)
class Render:
    """One case's golden file in pieces: document texts, and CRDs kept elsewhere."""

    chart: str
    case: str
    parts: tuple[str | CrdDoc, ...]

    @property
    def crds(self) -> list[CrdDoc]:
        return [p for p in self.parts if isinstance(p, CrdDoc)]

    def key(self) -> tuple[str, ...]:
        """Equal for equal renders (CRDs compared by digest)."""
        return tuple(p.digest if isinstance(p, CrdDoc) else p for p in self.parts)

    def text(self, refs: Mapping[str, str] | None = None) -> str:
        """The case file; ``refs`` maps a CRD digest to its file (default crds/<name>.yaml)."""
        out = [HEADER.format(chart=self.chart, case=self.case)]
        for part in self.parts:
            if isinstance(part, CrdDoc):
                ref = (refs or {}).get(part.digest) or f"{CRD_DIR}/{part.file_stem}.yaml"
                out.append(part.stub(ref))
            else:
                out.append(part)
        return "".join(out)


class Normalizer:
    """Normalizes the renders of one spec and counts what each mask matched.

    Identical documents of different cases are the same parsed objects (see
    :func:`chartmatrix.manifests.parse`), so each is copied, masked and dumped once: a big
    CRD costs nothing after the first case. Normalized objects are shared between cases and
    must not be modified.
    """

    def __init__(self, masks: Iterable[Mask] = ()) -> None:
        self.masks = tuple(masks)
        self.hits = [0] * len(self.masks)
        # (id(parsed object), source) -> (parsed object, normalized object, mask hits); the
        # parsed object is kept so that its id cannot be reused while it is a key
        self._objects: dict[tuple[int, str], tuple[Any, dict[str, Any], tuple[int, ...]]] = {}
        self._cached: set[int] = set()  # ids of the normalized objects in _objects
        self._texts: dict[int, str] = {}  # id of such an object -> its document
        self._bytes = 0  # of cached documents

    def normalize(self, manifests: Iterable[Manifest], *, count: bool = True) -> list[Manifest]:
        """Masked copies in a stable order; ``count``: add to :attr:`hits`."""
        out: list[tuple[tuple[str, ...], Manifest]] = []
        for m in manifests:
            key = (id(m.obj), m.source)
            cached = self._objects.get(key)
            if cached is not None and cached[0] is m.obj:
                _, obj, hits = cached
                self._objects[key] = self._objects.pop(key)  # now the most recently used
            else:
                if cached is not None:
                    self._forget(key)
                obj, hits = _normalize_one(m, self.masks)
                while self._objects and self._bytes >= _CACHE_BYTES:
                    self._forget(next(iter(self._objects)))
                self._objects[key] = (m.obj, obj, hits)
                self._cached.add(id(obj))
            if count:
                for i, n in enumerate(hits):
                    self.hits[i] += n
            masked = Manifest(obj, m.source, 0, m.text)
            out.append((self._order(m, masked, hits), masked))
        out.sort(key=lambda pair: pair[0])
        return [Manifest(n.obj, n.source, i, n.text) for i, (_, n) in enumerate(out)]

    def _order(self, m: Manifest, masked: Manifest, hits: tuple[int, ...]) -> tuple[str, ...]:
        """Where a normalized object is written: by kind, namespace, name, apiVersion. A name
        a mask hides is not its order (it is random, so would reorder the file from render
        to render): the mask's name glob is, and objects that share it go in the order of
        their documents."""
        if masked.name != MASK or m.name == MASK:
            return (*_sort_key(m), "")
        names = (
            k.name for k, n in zip(self.masks, hits, strict=True) if n and _steps(k.path) == _NAME
        )
        glob = next(names, MASK)
        return (m.kind, m.namespace, glob, m.api_version, self._text(masked))

    def _forget(self, key: tuple[int, str]) -> None:
        _, obj, _ = self._objects.pop(key)
        self._cached.discard(id(obj))
        self._bytes -= len(self._texts.pop(id(obj), ""))

    def _text(self, m: Manifest) -> str:
        text = self._texts.get(id(m.obj))
        if text is None:
            text = _document(m)
            if id(m.obj) in self._cached:
                self._texts[id(m.obj)] = text
                self._bytes += len(text)
        return text

    def render(self, normalized: Iterable[Manifest], chart: str, case: str) -> Render:
        """The golden file pieces of normalized manifests (from :meth:`normalize`)."""
        parts: list[str | CrdDoc] = []
        for m in normalized:
            text = self._text(m)
            if m.kind == CRD_KIND and m.api_version.startswith("apiextensions.k8s.io/"):
                digest = hashlib.sha256(text.encode()).hexdigest()
                parts.append(CrdDoc(m.name, m.source, text, digest))
            else:
                parts.append(text)
        return Render(chart, case, tuple(parts))

    def unused(self) -> list[tuple[int, Mask]]:
        """Masks that matched nothing in what :meth:`normalize` counted."""
        return [(i, mask) for i, mask in enumerate(self.masks) if not self.hits[i]]


def dump(manifests: Iterable[Manifest], chart: str, case: str) -> str:
    """The case file of normalized manifests (CRDs as references to crds/<name>.yaml)."""
    return Normalizer().render(manifests, chart, case).text()


def is_golden(path: Path) -> bool:
    """Whether ``path`` is a file chartmatrix wrote (it starts with the golden header)."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(MARK)) == MARK.encode()
    except OSError:
        return False


def crd_refs(text: str) -> list[str]:
    """The CRD files a case file names (``crds/<file>``)."""
    return [m.group("ref") for m in _STUB.finditer(text)]


def without_refs(text: str) -> str:
    """A case file with its CRD references reduced to the CRD names."""
    return _STUB.sub(r"# CRD \g<name>", text)


def resolve_crds(
    renders: Sequence[Render], golden_dir: Path, kept: Iterable[str] = ()
) -> tuple[dict[str, str], dict[str, CrdDoc]]:
    """File names for the CRDs of one spec's renders (in case order).

    ``crds/<name>.yaml`` holds the content already there when some case still renders it;
    when none of these renders does, it keeps that content for the cases outside this run
    whose files name it (``kept``: the CRD files they name; a shard, ``--case``), else it
    takes the content of the first case. Other contents of the same CRD name go to
    ``crds/<name>.<digest>.yaml``. Returns digest -> ref and ref -> CRD.
    """
    variants: dict[str, dict[str, CrdDoc]] = {}
    for render in renders:
        for crd in render.crds:
            variants.setdefault(crd.file_stem, {}).setdefault(crd.digest, crd)
    kept = set(kept)
    refs: dict[str, str] = {}
    files: dict[str, CrdDoc] = {}
    for stem, by_digest in variants.items():
        plain = f"{CRD_DIR}/{stem}.yaml"
        canonical: str | None = next(iter(by_digest))
        on_disk = golden_dir / plain
        if on_disk.is_file() and is_golden(on_disk):
            text = on_disk.read_text(encoding="utf-8")
            found = [digest for digest, crd in by_digest.items() if text.endswith(crd.text)]
            if found:
                canonical = found[0]
            elif plain in kept:
                canonical = None  # another case's content: this run's go beside it
        for digest, crd in by_digest.items():
            ref = plain if digest == canonical else f"{CRD_DIR}/{stem}.{digest[:12]}.yaml"
            refs[digest] = ref
            files[ref] = crd
    return refs, files


# -- renders that differ between two runs of the same values ------------------------------


def _key_step(key: Any, first: bool) -> str:
    text = str(key)
    if _PLAIN_KEY.fullmatch(text):
        return text if first else f".{text}"
    if '"' not in text:
        return f'["{text}"]'
    if "'" not in text:
        return f"['{text}']"
    return "*" if first else ".*"


def _names(items: list[Any]) -> list[str] | None:
    names = [i.get("name") for i in items if isinstance(i, dict)]
    if len(names) != len(items) or not all(isinstance(n, str) and n for n in names):
        return None
    if len(set(names)) != len(names) or any("]" in n for n in names):
        return None
    return names


def _differences(a: Any, b: Any, path: str, out: list[str]) -> None:
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            step = path + _key_step(key, not path)
            if key in a and key in b:
                _differences(a[key], b[key], step, out)
            else:
                out.append(step)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and path:
        names = _names(a)
        named = names is not None and names == _names(b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            step = f"[name={x['name']}]" if named else f"[{i}]"
            _differences(x, y, path + step, out)
        return
    out.append(path)


@dataclass(frozen=True)
class Variation:
    """What differs between two renders of the same request."""

    kind: str
    name: str
    path: str  # "" when the object itself is in one render only

    @property
    def resource(self) -> str:
        return f"{self.kind}/{self.name}"

    def mask_entry(self) -> str:
        """The ``mask:`` list item that hides this variation (YAML flow style)."""
        entry = {"kind": self.kind, "name": self.name, "path": self.path}
        return yaml.safe_dump(entry, default_flow_style=True, width=10**6, sort_keys=False).strip()


def name_glob(a: str, b: str) -> str | None:
    """A name pattern that matches both names: the whole words they share at each end
    around a ``*`` (``x-1``, ``x-2``: ``x-*``; ``test-x-ab1``, ``test-x-a2c``: ``test-x-*``,
    not ``test-x-a*``, which random characters share by chance), or None when they share
    no word at either end."""
    prefix = _shared_stem(a, b)
    rest_a, rest_b = a[len(prefix) :], b[len(prefix) :]
    suffix = _shared_stem(rest_a[::-1], rest_b[::-1])[::-1]
    return f"{prefix}*{suffix}" if prefix or suffix else None


_SEPARATORS = "-._"


def _shared_stem(a: str, b: str) -> str:
    """What two names share at their start, cut back to the last separator when the cut
    falls inside a word (``pod1``, ``pod2``: nothing)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    if (
        n
        and a[n - 1] not in _SEPARATORS
        and not (a[n : n + 1] in _SEPARATORS and b[n : n + 1] in _SEPARATORS)
    ):
        n = max(a.rfind(c, 0, n) for c in _SEPARATORS) + 1
    return a[:n]


def variations(first: Iterable[Manifest], second: Iterable[Manifest]) -> list[Variation]:
    """Paths (manifest query syntax) whose values differ between two normalized renders."""

    def index(ms: Iterable[Manifest]) -> dict[tuple[str, str, str, str, int], Manifest]:
        # objects of one kind and masked name are paired in their written order
        seen: Counter[tuple[str, str, str, str]] = Counter()
        out: dict[tuple[str, str, str, str, int], Manifest] = {}
        for m in ms:
            key = _sort_key(m)
            out[(*key, seen[key])] = m
            seen[key] += 1
        return out

    a, b = index(first), index(second)
    out: list[Variation] = []
    for key in sorted(set(a) | set(b)):
        kind, _, name, _, _ = key
        if key not in a or key not in b:
            out.append(Variation(kind, name, ""))
            continue
        paths: list[str] = []
        _differences(a[key].obj, b[key].obj, "", paths)
        out.extend(Variation(kind, name, p) for p in paths if p)
    return out


# -- files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldenResult:
    """``status``: same | changed | missing | written | updated | error (``diff``: why)."""

    status: str
    file: Path
    diff: str = ""


_RANK = {"same": 0, "written": 1, "updated": 2, "missing": 3, "changed": 4, "error": 5}


def combine(
    case: GoldenResult, others: Iterable[GoldenResult], diffs: Iterable[str]
) -> GoldenResult:
    """A case's result with those of the CRD files it names: the worst status, all diffs."""
    status = max([case.status, *(o.status for o in others)], key=_RANK.__getitem__)
    diff = "".join([case.diff, *diffs])
    return GoldenResult(status, case.file, diff)


def _unique_common(
    a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int
) -> list[tuple[int, int]]:
    """The longest increasing run of lines unique in both ranges (patience diff's anchors)."""
    count_a = Counter(a[alo:ahi])
    count_b = Counter(b[blo:bhi])
    where_b = {b[j]: j for j in range(blo, bhi) if count_b[b[j]] == 1}
    pairs = [(i, where_b[a[i]]) for i in range(alo, ahi) if count_a[a[i]] == 1 and a[i] in where_b]
    tails: list[int] = []  # pair index ending the best run of each length
    tail_js: list[int] = []
    back = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        x = bisect.bisect_left(tail_js, j)
        if x == len(tail_js):
            tail_js.append(j)
            tails.append(k)
        else:
            tail_js[x] = j
            tails[x] = k
        back[k] = tails[x - 1] if x else -1
    out = []
    k = tails[-1] if tails else -1
    while k >= 0:
        out.append(pairs[k])
        k = back[k]
    return out[::-1]


def _matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int]]:
    """Equal runs of lines, patience style: near-linear where difflib's matcher is quadratic
    (a changed CRD of thousands of lines)."""
    blocks: list[tuple[int, int, int]] = []
    stack = [(0, len(a), 0, len(b))]
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        n = 0
        while alo + n < ahi and blo + n < bhi and a[alo + n] == b[blo + n]:
            n += 1
        if n:
            blocks.append((alo, blo, n))
            alo, blo = alo + n, blo + n
        n = 0
        while alo < ahi - n and blo < bhi - n and a[ahi - 1 - n] == b[bhi - 1 - n]:
            n += 1
        if n:
            blocks.append((ahi - n, bhi - n, n))
            ahi, bhi = ahi - n, bhi - n
        if alo == ahi or blo == bhi:
            continue
        anchors = _unique_common(a, b, alo, ahi, blo, bhi)
        if anchors:
            i0, j0 = alo, blo
            for i, j in anchors:
                stack.append((i0, i, j0, j))
                blocks.append((i, j, 1))
                i0, j0 = i + 1, j + 1
            stack.append((i0, ahi, j0, bhi))
        elif (ahi - alo) * (bhi - blo) <= 250_000:
            small = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
            blocks.extend((alo + m.a, blo + m.b, m.size) for m in small.get_matching_blocks())
    merged: list[tuple[int, int, int]] = []
    for i, j, n in sorted(x for x in blocks if x[2]):
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + n)
        else:
            merged.append((i, j, n))
    return [*merged, (len(a), len(b), 0)]


class _Matcher(difflib.SequenceMatcher):  # type: ignore[type-arg]
    def get_matching_blocks(self) -> list[difflib.Match]:
        if self.matching_blocks is None:
            self.matching_blocks = [difflib.Match(*m) for m in _matching_blocks(self.a, self.b)]
        return self.matching_blocks  # type: ignore[return-value]


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


def unified_diff(old: str, new: str, fromfile: str, tofile: str) -> str:
    """``difflib.unified_diff`` of two texts, fast on large files."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    out: list[str] = []
    for group in _Matcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        if not out:
            out += [f"--- {fromfile}\n", f"+++ {tofile}\n"]
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in a[i1:i2]]
                continue
            out += ["-" + line for line in a[i1:i2]]
            out += ["+" + line for line in b[j1:j2]]
    return "".join(out)


def compare(file: Path, text: str, *, update: bool, ci: bool) -> GoldenResult:
    """Compare ``text`` with ``file``; write it when updating (or when new and not in CI).
    A file that cannot be read or written is status ``error`` (``diff``: why), and the
    file on disk is left as it was."""
    try:
        if not file.exists():
            if update or not ci:
                write_atomically(file, text)
                return GoldenResult("written", file)
            return GoldenResult("missing", file)
        old = file.read_text(encoding="utf-8")
        if old == text:
            return GoldenResult("same", file)
        diff = unified_diff(old, text, f"{file} (golden)", f"{file} (rendered)")
        if update:
            write_atomically(file, text)
            return GoldenResult("updated", file, diff)
        return GoldenResult("changed", file, diff)
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return GoldenResult("error", file, why)


def write_atomically(file: Path, text: str) -> None:
    """Write ``file`` whole or not at all: a full disk or a crash never leaves a golden
    file half written (a temporary file in the same directory, then renamed over it)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, file)
    finally:
        temporary.unlink(missing_ok=True)


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def version_files(golden_dir: Path, cases: Iterable[Case]) -> list[str]:
    """The names of the golden files of lower Kubernetes versions' renders (see
    :meth:`Case.version_golden_name`) that ``cases`` have in ``golden_dir``."""
    stems = {c.golden_name.removesuffix(".yaml") + VERSION_MARK for c in cases}
    return [
        p.name
        for p in _yaml_files(golden_dir)
        if VERSION_MARK in p.name
        and p.name[: p.name.rindex(VERSION_MARK) + len(VERSION_MARK)] in stems
    ]


def read_golden(path: Path) -> str | None:
    """A golden file's text; None when it is not there or cannot be read (the comparison
    of its case reports that: :func:`compare`)."""
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def orphans(golden_dir: Path, expected: Iterable[str], rendered: Iterable[str] = ()) -> list[Path]:
    """Golden files that no case produces: case files not in ``expected``, and CRD files
    that neither an expected case file nor this run's renders (``rendered``: the CRD
    files they name, ``crds/<file>``) name. Only files with the golden header count."""
    if not golden_dir.is_dir():
        return []
    wanted = set(expected)
    out = [p for p in _yaml_files(golden_dir) if p.name not in wanted and is_golden(p)]
    crd_files = [p for p in _yaml_files(golden_dir / CRD_DIR) if is_golden(p)]
    if crd_files:
        named: set[str] = set(rendered)
        for name in wanted:
            case_file = golden_dir / name
            if case_file.is_file():
                named.update(crd_refs(case_file.read_text(encoding="utf-8")))
        out += [p for p in crd_files if f"{CRD_DIR}/{p.name}" not in named]
    return sorted(out)


def foreign(golden_dir: Path) -> list[Path]:
    """YAML files in the golden directory that chartmatrix did not write (left alone)."""
    files = [*_yaml_files(golden_dir), *_yaml_files(golden_dir / CRD_DIR)]
    return [p for p in files if not is_golden(p)]

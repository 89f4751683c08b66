"""Helm values arithmetic: layering user values and coalescing with chart defaults.

Helm's rules, which this module reproduces:

* maps merge key by key, recursively;
* lists (and every other non-map value) replace the value below them;
* ``null`` deletes: a user ``null`` removes the chart's default for that key.

Between *user* layers (base files, axis values, named cases) a ``null`` is kept, so it
still reaches helm and deletes the chart default there. :func:`coalesce` applies the
deletion against the chart defaults to show the effective values.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from chartmatrix import k8syaml

Values = dict[str, Any]


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> Values:
    """Layer ``overlay`` over ``base`` (like two ``-f`` files); neither input is modified,
    and the result shares nothing with them."""
    return layered(copy.deepcopy(dict(base)), overlay)


def merge_all(layers: Iterable[Mapping[str, Any]]) -> Values:
    """Layer several value sets, later ones winning."""
    out: Values = {}
    for layer in layers:
        out = merge(out, layer)
    return out


def layered(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> Values:
    """:func:`merge`'s result, sharing with ``base`` every subtree ``overlay`` does not
    reach: a matrix's cases each hold their base values this way, so a case costs the
    size of what it changes, not of the whole tree. Read the result, never modify it."""
    out = dict(base)
    for key, value in overlay.items():
        below = out.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = layered(below, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def coalesce(defaults: Mapping[str, Any], user: Mapping[str, Any]) -> Values:
    """The effective values helm renders with: ``user`` over chart ``defaults``.

    A ``None`` in ``user`` deletes the key; maps merge; everything else replaces.
    """
    out: Values = copy.deepcopy(dict(defaults))
    for key, value in user.items():
        if value is None:
            out.pop(key, None)
            continue
        below = out.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = coalesce(below, value)
        elif isinstance(value, Mapping):
            out[key] = _drop_nulls(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _drop_nulls(value: Mapping[str, Any]) -> Values:
    return {
        k: (_drop_nulls(v) if isinstance(v, Mapping) else copy.deepcopy(v))
        for k, v in value.items()
        if v is not None
    }


def split_path(path: str) -> list[str]:
    """Split a dotted value path; ``\\.`` escapes a dot inside a key."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        char = path[i]
        if char == "\\" and i + 1 < len(path) and path[i + 1] == ".":
            current.append(".")
            i += 2
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    if any(part == "" for part in parts):
        raise ValueError(f"invalid value path {path!r}: empty key")
    return parts


def from_path(path: str, value: Any) -> Values:
    """``from_path("a.b", 1) == {"a": {"b": 1}}``."""
    parts = split_path(path)
    out: Any = value
    for key in reversed(parts):
        out = {key: out}
    return out


_INDEXED = re.compile(r"([^\[\]]+)((?:\[\d+\])+)")


def helm_set_values(pairs: Iterable[tuple[str, Any]]) -> Values:
    """The values helm builds from ``--set`` pairs (:func:`parse_helm_set`), list indices
    included: ``a[1].b=x`` is ``{"a": [None, {"b": "x"}]}``."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        steps: list[str | int] = []
        for part in split_path(key):
            indexed = _INDEXED.fullmatch(part)
            if indexed is None:
                steps.append(part)
            else:
                steps.append(indexed.group(1))
                steps += [int(i) for i in re.findall(r"\d+", indexed.group(2))]
        node: Any = out
        for step, after in zip(steps, [*steps[1:], None], strict=True):
            if isinstance(node, list) != isinstance(step, int):
                raise ValueError(f"{key!r} gives {step!r} both a list index and a key")
            fresh: Any = value if after is None else ([] if isinstance(after, int) else {})
            if isinstance(step, int):
                node.extend([None] * (step + 1 - len(node)))
                if after is None or not isinstance(node[step], (dict, list)):
                    node[step] = fresh
                node = node[step]
            else:
                if after is None or not isinstance(node.get(step), (dict, list)):
                    node[step] = fresh
                node = node[step]
    return out


def parse_scalar(text: str) -> Any:
    """Parse one command-line axis value as YAML (``3`` -> 3, ``[a, b]`` -> a list)."""
    # the same YAML semantics as values files (helm reads those with sigs.k8s.io/yaml)
    try:
        return k8syaml.load(text) if text != "" else ""
    except k8syaml.YamlError:
        return text


_OPEN, _CLOSE = "[{", "]}"


def _quote_may_open(current: list[str]) -> bool:
    """A YAML quote starts a scalar only at its beginning (``it's`` is plain text)."""
    before = "".join(current).rstrip()
    return not before or before[-1] in "[{,:"


def split_values(raw: str) -> list[str]:
    """Split at top-level commas: commas inside ``[]``, ``{}`` or quotes never split."""
    items: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in raw:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'" and _quote_may_open(current):
            quote = char
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote or depth:
        raise ValueError(f"unbalanced quote or bracket in {raw!r}")
    items.append("".join(current))
    return items


def parse_axis(arg: str) -> tuple[str, list[Any]]:
    """``"workload.replicas=1,3"`` -> ``("workload.replicas", [1, 3])``.

    Each value is one YAML value: ``"tolerations=[],[{key: a, operator: Exists}]"`` is
    two values, an empty list and a list of one toleration.
    """
    if "=" not in arg:
        raise ValueError(f"axis {arg!r} must look like key=v1,v2")
    key, _, raw = arg.partition("=")
    key = key.strip()
    if not key:
        raise ValueError(f"axis {arg!r} has an empty key")
    split_path(key)
    return key, [parse_scalar(item.strip()) for item in split_values(raw)]


def _helm_scalar(text: str) -> Any:
    """A ``--set`` value as helm reads it: true, false, null and integers are typed,
    anything else (``1.10``, ``010``, ``yes``) stays a string."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if text == "0" or (text[:1] not in ("", "0") and text.lstrip("-").isdigit()):
        return int(text)
    return text


def _split_unescaped(text: str, sep: str) -> list[str]:
    """``text`` cut at ``sep`` outside ``{...}``; ``\\`` keeps the next character."""
    parts, current, depth, escaped = [], [], 0, False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse_helm_set(arg: str) -> list[tuple[str, Any]]:
    """``helm --set`` syntax: ``a.b=1,c={x,y}`` -> ``[("a.b", 1), ("c", ["x", "y"])]``,
    typed as helm types them (see :func:`_helm_scalar`)."""
    out: list[tuple[str, Any]] = []
    for item in _split_unescaped(arg, ","):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} must look like KEY=VALUE")
        if raw.startswith("{") and raw.endswith("}"):
            inner = raw[1:-1]
            value: Any = [_helm_scalar(v) for v in _split_unescaped(inner, ",")] if inner else []
        else:
            value = _helm_scalar(raw)
        split_path(key.strip())
        out.append((key.strip(), value))
    return out

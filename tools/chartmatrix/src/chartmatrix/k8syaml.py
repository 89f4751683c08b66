"""YAML read the way Kubernetes reads it: the JSON value the API server stores.

helm and kubectl turn YAML into JSON with sigs.k8s.io/yaml (``YAMLToJSON``: go-yaml v2
decodes into ``interface{}``, ``convertToJSONableObject`` makes keys strings, then
``encoding/json``), and the API server decodes ``application/yaml`` bodies the same way.
PyYAML's YAML 1.1 resolver differs (``=`` is a ``!!value`` it cannot construct, ``1e3``
a string, timestamps become dates, explicit keys beat ``<<`` merges, ``y``/``n`` are
strings), so chartmatrix parses with this module instead.

What follows go-yaml v2 (``resolve.go``, ``decode.go``) and sigs.k8s.io/yaml (``yaml.go``):

- plain scalars: ``y Y yes Yes YES on On ON true True TRUE`` (and the ``n``/``no``/``off``/
  ``false`` family) are booleans; ``"" ~ null Null NULL`` null; integers as Go's
  ``ParseInt(s, 0, 64)`` after removing ``_`` (``0777`` octal, ``0o17``, ``0x1F``,
  ``0b101``, ``+12``, ``1_000``), then ``ParseUint``, then floats matching
  ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`` (``1e3``, ``08``);
  ``.inf .nan`` and friends are floats; everything else (``=``, timestamps) is a string;
- explicit tags on scalars: ``!!str !!int !!float !!bool !!null !!timestamp`` check the
  value, ``!!binary`` is base64-decoded, any other (``!foo``, ``! 12``) gives the string;
  tags on maps and lists (``!!set``, ``!!omap``, ``!!null``) are ignored;
- merge keys ``<<`` set the merged keys in document order (a later key wins, also over an
  earlier explicit key; in a list of maps the first map wins); duplicate keys: last wins;
- keys become strings (``true``, ``1``, floats as Go's ``%g`` of a float32); a null,
  uint64, map or list key makes the document unreadable;
- JSON numbers as the API server keeps them: integral floats below 1e21 are integers,
  integers beyond int64 become floats; ``.inf``/``.nan`` cannot be JSON: unreadable;
- go-yaml's limits: alias expansion (``document contains excessive aliasing``, the
  "billion laughs" guard), an alias inside its own anchor; nesting deeper than 1000
  levels is refused (libyaml's limit; go-yaml allows 10000).

Aliases share one Python object (nothing is expanded in memory); treat results as
read-only or copy them.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re
import struct
from decimal import Decimal
from typing import Any

import yaml
from yaml.resolver import BaseResolver

__all__ = ["Resolver", "YamlError", "load", "load_all"]

_PREFIX = "tag:yaml.org,2002:"
STR, BOOL, INT, FLOAT, NULL, TIMESTAMP, BINARY, MERGE = (
    _PREFIX + name
    for name in ("str", "bool", "int", "float", "null", "timestamp", "binary", "merge")
)
_RESOLVABLE = frozenset({STR, BOOL, INT, FLOAT, NULL, TIMESTAMP})
_INF = float("inf")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_MAX_DEPTH = 10000  # go-yaml's max_flow_level / max_indents

# resolve.go's table: which strings are looked up in the map, by their first character
_HINT: dict[str, str] = {c: "S" for c in "+-"}
_HINT.update({c: "D" for c in "0123456789"})
_HINT.update({c: "M" for c in "yYnNtTfFoO~"})
_HINT["."] = "."
_MAP: dict[str, tuple[str, Any]] = {}
for _values, _item in (
    ("y Y yes Yes YES true True TRUE on On ON", (BOOL, True)),
    ("n N no No NO false False FALSE off Off OFF", (BOOL, False)),
    ("~ null Null NULL", (NULL, None)),
    (".nan .NaN .NAN", (FLOAT, float("nan"))),
    (".inf .Inf .INF +.inf +.Inf +.INF", (FLOAT, _INF)),
    ("-.inf -.Inf -.INF", (FLOAT, -_INF)),
):
    for _word in _values.split():
        _MAP[_word] = _item
_MAP[""] = (NULL, None)

# strconv.ParseInt(s, 0, 64) / ParseUint: optional sign, then 0x / 0o / 0b / 0 (octal) / decimal
_GO_INT = re.compile(
    r"(?P<sign>[-+]?)(?:0[xX](?P<hex>[0-9a-fA-F]+)|0[oO](?P<oct>[0-7]+)|0[bB](?P<bin>[01]+)"
    r"|0(?P<oct0>[0-7]*)|(?P<dec>[1-9][0-9]*))\Z"
)
_INT_BASES = {"hex": (16, 16), "oct": (8, 22), "bin": (2, 64), "oct0": (8, 22), "dec": (10, 20)}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
# ParseFloat of what starts with ".": Go float literal syntax, "_" only between digits
_DOT_FLOAT = re.compile(r"\.[0-9]+(_[0-9]+)*([eE][-+]?[0-9]+(_[0-9]+)*)?\Z")
# go-yaml's allowedTimestampFormats, as Go's time.Parse reads them
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})"
    r"(?:[.,][0-9]+)?(?P<tz>Z|[-+][0-9]{2}:[0-9]{2})?)?\Z"
)


class YamlError(ValueError):
    """The document is not what helm and the API server can read; one line, with its line."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        self.problem = " ".join(str(problem).split())
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is None:
            return self.problem
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.problem}"


def _short(tag: str) -> str:
    return "!!" + tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag


def _go_int(text: str) -> int | None:
    """``ParseInt(text, 0, 64)``, else ``ParseUint(text, 0, 64)``; None when both fail."""
    match = _GO_INT.match(text)
    if match is None:
        return None
    sign = match["sign"]
    group = next(g for g in ("hex", "oct", "bin", "oct0", "dec") if match[g] is not None)
    base, width = _INT_BASES[group]  # width: most digits a uint64 has in that base
    digits = match[group].lstrip("0") or "0"
    if len(digits) > width:  # beyond uint64 (and beyond int()'s digit limit for huge ones)
        return None
    value = int(digits, base)
    if sign == "-":
        value = -value
    if _INT64_MIN <= value <= _INT64_MAX or (not sign and value <= _UINT64_MAX):
        return value
    return None


def _go_float(text: str) -> float | None:
    """``ParseFloat(text, 64)`` of a decimal float; None on a range error (``1e400``)."""
    value = float(text)
    return None if value in (_INF, -_INF) else value


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP.match(text)
    if match is None:
        return False
    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return False
    if match["sep"] is None:
        return True
    if match["sep"] in "Tt" and match["tz"] is None:
        return False
    if match["sep"] == " " and match["tz"] is not None:
        return False
    return int(match["H"]) < 24 and int(match["M"]) < 60 and int(match["S"]) < 60


def resolve_plain(text: str, tag: str = "") -> tuple[str, Any]:
    """go-yaml v2's ``resolve`` of an untagged plain scalar (or one tagged ``tag``)."""
    hint = _HINT.get(text[:1], "N" if text == "" else "")
    if not hint:
        return STR, text
    item = _MAP.get(text)
    if item is not None:
        return item
    if hint == ".":
        if _DOT_FLOAT.match(text):
            value = _go_float(text.replace("_", ""))
            if value is not None:
                return FLOAT, value
    elif hint in "DS":
        if tag in ("", TIMESTAMP) and _is_timestamp(text):
            return TIMESTAMP, text
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return INT, number
        if _YAML_FLOAT.match(plain):
            value = _go_float(plain)
            if value is not None:
                return FLOAT, value
    return STR, text


def _scalar(value: str, tag: str | None, plain: bool, line: int) -> Any:
    """The Go value of one scalar (ints, floats, bools, None, str), as go-yaml decodes it."""
    if tag is None:
        return resolve_plain(value)[1] if plain else value
    if tag == BINARY:
        try:
            raw = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            raise YamlError("!!binary value contains invalid base64 data", line) from None
        # a Go string of bytes; encoding/json writes U+FFFD for each invalid byte
        return re.sub(r"[\udc80-\udcff]", "\ufffd", raw.decode("utf-8", "surrogateescape"))
    if tag not in _RESOLVABLE or tag == STR:
        return value
    rtag, out = resolve_plain(value, tag)
    if rtag == tag:
        return out
    if tag == FLOAT and rtag == INT and out <= _INT64_MAX:
        return float(out)
    raise YamlError(f"cannot decode {_short(rtag)} `{value}` as a {_short(tag)}", line)


def _float32_g(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'g', -1, 32)`` (how sigs.k8s.io/yaml writes float keys)."""
    if value != value:
        return "NaN"
    try:
        single = struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        single = _INF if value > 0 else -_INF
    if single in (_INF, -_INF):
        return "+Inf" if single > 0 else "-Inf"
    for digits in range(1, 10):
        text = f"{single:.{digits - 1}e}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == single:
            break
    mantissa, exp_text = text.split("e")
    exponent = int(exp_text)
    ndigits = len(mantissa.lstrip("-").replace(".", ""))
    if exponent < -4 or exponent >= 6:  # shortest %g switches to %e at exponent 6
        return text
    return f"{single:.{max(ndigits - 1 - exponent, 0)}f}"


def _key(value: Any, line: int) -> str:
    """convertToJSONableObject's map key conversion."""
    if isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        raise YamlError("null map key: JSON object keys must be strings", line)
    if isinstance(value, int):
        if value > _INT64_MAX:
            raise YamlError(
                f"map key {value} is beyond int64 (unsupported map key of type uint64)", line
            )
        return str(value)
    text = _float32_g(value)
    return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)


def _json(value: Any, line: int) -> Any:
    """A scalar as JSON carries it and the API server stores it."""
    if value is None or value is True or value is False or isinstance(value, str):
        return value
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
        value = float(value)  # a JSON integer beyond int64 is read back as a float64
    if value != value or value in (_INF, -_INF):
        go = "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")
        raise YamlError(f"{go} cannot be represented in JSON (json: unsupported value: {go})", line)
    if value.is_integer() and abs(value) < 1e21:
        # encoding/json writes the shortest digits without an exponent: an integer
        return int(Decimal(repr(value)))
    return value


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= 400_000:
        return 0.99
    if decodes >= 4_000_000:
        return 0.10
    return 0.99 - 0.89 * ((decodes - 400_000) / 3_600_000)  # decode.go's float arithmetic


_SCALAR, _MAPPING, _SEQUENCE = 0, 1, 2
_IN_PROGRESS = object()


class _Frame:
    """An open mapping or sequence (or the document) while events stream in."""

    __slots__ = ("anchor", "explicit", "has_key", "key", "kind", "line", "merge", "out", "size")

    def __init__(self, kind: int, out: Any, anchor: str | None, line: int, size: int) -> None:
        self.kind = kind
        self.out = out
        self.anchor = anchor
        self.line = line
        self.size = size  # go-yaml decode operations this node costs (alias expansion)
        self.has_key = False
        self.key = ""
        self.merge = False  # mapping: the pending key is "<<"; sequence: it is a merge list
        self.explicit: dict[str, int] = {}  # unique keys only: each key given, and its line


class _Builder:
    """Builds one stream's documents from PyYAML parser events, as go-yaml decodes them.
    ``unique_keys``: a key given twice in one mapping is an error (go-yaml v2 lets the
    last win, which silently drops the first value)."""

    def __init__(self, unique_keys: bool = False) -> None:
        self.unique_keys = unique_keys
        self.docs: list[Any] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, Any] = {}
        self.decodes = 0
        self.aliased = 0

    def count(self, line: int, size: int = 1, aliased: int = 0) -> None:
        # decode.go checks after each decode step; inside one alias expansion the ratio only
        # grows and the allowance only shrinks, so checking at its end is the same verdict
        self.decodes += size
        self.aliased += aliased
        if (
            self.aliased > 100
            and self.decodes > 1000
            and self.aliased / self.decodes > _allowed_alias_ratio(self.decodes)
        ):
            raise YamlError("document contains excessive aliasing", line)

    def start_document(self) -> None:
        self.anchors = {}
        self.decodes = 0
        self.aliased = 0
        self.count(0)
        self.stack = [_Frame(_SCALAR, None, None, 0, 1)]

    def end_document(self) -> None:
        self.docs.append(self.stack[0].out)
        self.stack = []

    def scalar(self, event: yaml.ScalarEvent) -> None:
        line = event.start_mark.line + 1
        parent = self.stack[-1]
        if (
            parent.kind == _MAPPING
            and not parent.has_key
            and event.value == "<<"
            and (event.implicit[0] or event.tag == MERGE)
        ):
            parent.has_key = True
            parent.merge = True
            if event.anchor is not None:
                self.anchors[event.anchor] = (_SCALAR, "<<", 1)
            return
        self.count(line)
        value = _scalar(event.value, event.tag, event.implicit[0], line)
        if event.anchor is not None:
            self.anchors[event.anchor] = (_SCALAR, value, 1)
        self.add(_SCALAR, value, 1, line)

    def alias(self, event: yaml.AliasEvent) -> None:
        line = event.start_mark.line + 1
        target = self.anchors.get(event.anchor)
        if target is None:
            raise YamlError(f"unknown anchor '{event.anchor}' referenced", line)
        if target is _IN_PROGRESS:
            raise YamlError(f"anchor '{event.anchor}' value contains itself", line)
        kind, value, size = target
        self.count(line)
        self.count(line, size, size)
        self.add(kind, value, 1 + size, line)

    def start(self, event: yaml.CollectionStartEvent, kind: int) -> None:
        line = event.start_mark.line + 1
        parent = self.stack[-1]
        merge_list = kind == _SEQUENCE and parent.kind == _MAPPING and parent.merge
        if len(self.stack) > _MAX_DEPTH:
            raise YamlError(f"exceeded max depth of {_MAX_DEPTH}", line)
        if not merge_list:
            self.count(line)
        frame = _Frame(
            kind, {} if kind == _MAPPING else [], event.anchor, line, 0 if merge_list else 1
        )
        frame.merge = merge_list
        if event.anchor is not None:
            self.anchors[event.anchor] = _IN_PROGRESS
        self.stack.append(frame)

    def end(self) -> None:
        frame = self.stack.pop()
        kind, value, size = frame.kind, frame.out, frame.size
        merge_list = frame.merge and kind == _SEQUENCE
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (kind, value, size + merge_list)
        self.add(kind, value, size, frame.line, merge_list=merge_list)

    def add(self, kind: int, value: Any, size: int, line: int, merge_list: bool = False) -> None:
        """A finished node (scalar value not yet JSON) goes into its parent."""
        parent = self.stack[-1]
        parent.size += size
        if parent.kind == _SEQUENCE:
            if parent.merge:
                if kind != _MAPPING:
                    raise YamlError("map merge requires map or sequence of maps as the value", line)
                parent.out.append(value)
            else:
                parent.out.append(_json(value, line) if kind == _SCALAR else value)
        elif parent.kind == _MAPPING:
            if not parent.has_key:
                if kind != _SCALAR:
                    raise YamlError("invalid map key: a map or list cannot be a key", line)
                parent.key = _key(value, line)
                parent.has_key = True
                return
            if parent.merge:
                if kind == _MAPPING:
                    parent.out.update(value)
                elif merge_list:
                    for item in reversed(value):  # earlier maps take precedence
                        parent.out.update(item)
                else:
                    raise YamlError("map merge requires map or sequence of maps as the value", line)
            else:
                if self.unique_keys:
                    first = parent.explicit.setdefault(parent.key, line)
                    if first != line:
                        raise YamlError(
                            f'mapping key "{parent.key}" given twice (first at line {first}): '
                            "the second would silently replace the first",
                            line,
                        )
                parent.out[parent.key] = _json(value, line) if kind == _SCALAR else value
            parent.has_key = False
            parent.merge = False
        else:  # the document
            parent.out = _json(value, line) if kind == _SCALAR else value


# libyaml's event parser (fast); its reader errors give byte offsets, the pure one's characters
_CPARSER: Any = getattr(yaml, "CBaseLoader", None)


def _parser(text: str) -> Any:
    return _CPARSER(text) if _CPARSER is not None else yaml.BaseLoader(text)


def _yaml_error(exc: yaml.YAMLError, text: str) -> YamlError:
    if isinstance(exc, yaml.reader.ReaderError):
        pos = max(exc.position, 0)
        if _CPARSER is not None:
            line = text.encode("utf-8", "surrogatepass")[:pos].count(b"\n") + 1
        else:
            line = text.count("\n", 0, pos) + 1
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return YamlError(f"unacceptable character {what}: {exc.reason}", line)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is not None:
        context = getattr(exc, "context", None)
        full = f"{problem} {context}" if context and problem else problem or context
        full = str(full or str(exc).splitlines()[0])
        if "exceeded maximum nesting depth" in full:
            # libyaml's limit; go-yaml's is 10000 (PyYAML's own parser is quadratic there)
            full += " (more than 1000 levels)"
        return YamlError(full, mark.line + 1, mark.column + 1)
    return YamlError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def load_all(text: str, *, unique_keys: bool = False) -> list[Any]:
    """Every document of ``text`` as the JSON value Kubernetes makes of it.

    Raises :class:`YamlError` (one line, with the line number) for anything helm or the
    API server would refuse, and with ``unique_keys`` for a key given twice in a mapping.
    """
    parser = _parser(text)
    builder = _Builder(unique_keys)
    handlers = {
        yaml.ScalarEvent: builder.scalar,
        yaml.AliasEvent: builder.alias,
        yaml.MappingStartEvent: lambda e: builder.start(e, _MAPPING),
        yaml.SequenceStartEvent: lambda e: builder.start(e, _SEQUENCE),
        yaml.MappingEndEvent: lambda _e: builder.end(),
        yaml.SequenceEndEvent: lambda _e: builder.end(),
        yaml.DocumentStartEvent: lambda _e: builder.start_document(),
        yaml.DocumentEndEvent: lambda _e: builder.end_document(),
    }
    try:
        while True:
            event = parser.get_event()
            if event is None or type(event) is yaml.StreamEndEvent:
                break
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text) from None
    finally:
        parser.dispose()
    return builder.docs


def load(text: str, *, unique_keys: bool = False) -> Any:
    """The one document of ``text`` (None when empty); more than one is an error."""
    docs = load_all(text, unique_keys=unique_keys)
    if len(docs) > 1:
        raise YamlError("expected a single document, found more (separated by ---)")
    return docs[0] if docs else None


class Resolver(BaseResolver):
    """Implicit tags as go-yaml v2 resolves plain scalars, for PyYAML dumpers.

    A dumper with this resolver quotes every string that Kubernetes would not read back
    as that string (``y``, ``1e3``, ``08``, ``<<``): ``class Dumper(Resolver, yaml.CSafeDumper)``.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            if value == "<<":
                return MERGE
            tag = resolve_plain(value)[0]
            return STR if tag == TIMESTAMP else tag
        return super().resolve(kind, value, implicit)

"""Golden documents written as libyaml writes them, without building PyYAML nodes.

A golden document is a tree of dicts, lists, strings, integers, booleans and nulls,
dumped with sorted keys in block style (``golden.DUMP_OPTIONS``) by libyaml's emitter,
whose scalar analysis decides how each string is written (plain, 'single quoted', a
``|`` literal block). :func:`dump` writes the same text directly for the strings whose
style it can tell for certain: printable ASCII, short enough never to be folded at the
line width. For anything else it returns None and the caller takes libyaml's way. A
test compares the two on every golden document and on random trees.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from chartmatrix.k8syaml import INT, STR, TIMESTAMP, resolve_plain


class _Unsure(Exception):
    """A value whose writing this module does not reproduce: libyaml writes it."""


# printable ASCII and line breaks: libyaml's IS_PRINTABLE without its unicode cases
_ASCII = re.compile(r"[\x20-\x7e\n]*\Z")
# what stops libyaml from writing a one-line string plain in block context: an indicator
# first (-, ?, : only before a space or the end), --- or ... first, ": " or a final
# ":", " #", a leading or trailing space
_NOT_PLAIN = re.compile(r"[#,\[\]{}&*!|>'\"%@`]|[-?:](?: |\Z)|---|\.\.\.|.*(?:: |:\Z| #)| |.* \Z")
_FOLD = 900  # columns past which a string with spaces might be folded at width 1000
_KEY = 128  # libyaml's longest simple key


@lru_cache(maxsize=16384)  # keys and values repeat across documents
def _plain(text: str) -> bool:
    """Written plain: nothing stops it, and read back as this string (a Kubernetes
    reader), not as a number, boolean, null or merge key."""
    return (
        bool(text)
        and not _NOT_PLAIN.match(text)
        and text != "<<"
        and resolve_plain(text)[0] in (STR, TIMESTAMP)
    )


def _one_line(text: str, column: int, key: bool) -> str:
    if key and len(text) > _KEY:
        raise _Unsure
    if " " in text and column + len(text) > _FOLD:
        raise _Unsure
    if _plain(text):
        return text
    return "'" + text.replace("'", "''") + "'"


def _literal(text: str, indent: int) -> str:
    """A ``|`` block: its header (after the key or dash) and its lines."""
    if text[0] in " \n" or text.endswith("\n\n") or " \n" in text or text.endswith(" "):
        raise _Unsure  # an indentation hint, keep-chomping, or double quotes
    header = "|" if text.endswith("\n") else "|-"
    pad = " " * indent
    lines = text.removesuffix("\n").split("\n")
    return header + "".join("\n" + (pad + line if line else "") for line in lines)


def _scalar(value: Any, column: int, indent: int) -> str:
    """A value written after ``key: `` or ``- `` at ``column``; block content at ``indent``."""
    kind = type(value)
    if kind is str:
        if not _ASCII.match(value):
            raise _Unsure
        if "\n" in value:
            return _literal(value, indent)
        return _one_line(value, column, key=False)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        text = str(value)
        if resolve_plain(text)[0] != INT:  # past int64: written with an explicit tag
            raise _Unsure
        return text
    if value is None:
        return "null"
    raise _Unsure  # floats and anything else


def _key(key: Any, column: int) -> str:
    if type(key) is not str or "\n" in key or not _ASCII.match(key):
        raise _Unsure
    return _one_line(key, column, key=True)


class _Writer:
    """The lines of one document."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.seen: set[int] = set()  # a container met twice gets an anchor: libyaml's way

    def _once(self, container: dict[str, Any] | list[Any]) -> None:
        if id(container) in self.seen:
            raise _Unsure
        self.seen.add(id(container))

    def mapping(self, data: dict[str, Any], indent: int, first: str | None) -> None:
        """A block mapping at ``indent``; ``first``: the prefix of its first line (``- ``
        in a sequence), else indentation."""
        self._once(data)
        pad = " " * indent
        try:
            items = sorted(data.items(), key=lambda kv: kv[0])
        except TypeError:
            raise _Unsure from None
        for i, (key, value) in enumerate(items):
            lead = first if i == 0 and first is not None else pad
            text = _key(key, indent) + ":"
            self.value(value, indent, lead + text, len(lead) + len(text) + 1)

    def sequence(self, data: list[Any], indent: int, first: str | None) -> None:
        """A block sequence whose dashes are at ``indent``."""
        self._once(data)
        pad = " " * indent
        for i, item in enumerate(data):
            lead = (first if i == 0 and first is not None else pad) + "-"
            if type(item) is dict and item:
                self.mapping(item, indent + 2, lead + " ")
            elif type(item) is list and item:
                self.sequence(item, indent + 2, lead + " ")
            else:
                self.value(item, indent, lead, len(lead) + 1)

    def value(self, value: Any, indent: int, line: str, column: int) -> None:
        """``line`` (a key and its colon, or a dash) followed by ``value``."""
        kind = type(value)
        if kind is dict or kind is list:
            if not value:
                self.lines.append(line + (" {}" if kind is dict else " []"))
            elif kind is dict:
                self.lines.append(line)
                self.mapping(value, indent + 2, None)
            else:  # a sequence in a mapping is not indented; one in a sequence is
                self.lines.append(line)
                self.sequence(value, indent, None)
        else:
            self.lines.append(line + " " + _scalar(value, column, indent + 2))


def dump(data: Any) -> str | None:
    """The document as libyaml writes it with ``golden.DUMP_OPTIONS``, or None when a
    value is one this module does not write (then ask libyaml)."""
    writer = _Writer()
    try:
        if type(data) is dict and data:
            writer.mapping(data, 0, None)
        elif type(data) is list and data:
            writer.sequence(data, 0, None)
        else:
            return None
    except _Unsure:
        return None
    return "\n".join(writer.lines) + "\n"

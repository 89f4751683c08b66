"""Go module paths and versions, checked the way the go command checks them.

A ``go://`` CRD reference ends up as an argument of ``go mod download``: anything that
is not a well-formed module path and a canonical semantic version is refused here, before
a process starts (a path starting with ``-`` would otherwise be read as a flag).
The rules follow golang.org/x/mod/module (``CheckPath``, ``CheckPathMajor``) and
golang.org/x/mod/semver (canonical versions only: no ``latest``, no branch names).
"""

from __future__ import annotations

import re

_BAD_WINDOWS_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
_ELEM_CHARS = re.compile(r"^[A-Za-z0-9._~-]+$")
_FIRST_CHARS = re.compile(r"^[a-z0-9.-]+$")
_VERSION = re.compile(
    r"^v(?P<major>0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-(?P<pre>(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?P<incompatible>\+incompatible)?$"
)
_MAJOR_SUFFIX = re.compile(r"/v(?P<n>[0-9]+)$")
_GOPKG_SUFFIX = re.compile(r"\.v(?P<n>[0-9]+)(?:-unstable)?$")


def _element_error(elem: str) -> str | None:
    if not elem:
        return "empty path element"
    if set(elem) == {"."}:
        return f"invalid path element {elem!r}"
    if elem.startswith("."):
        return f"leading dot in path element {elem!r}"
    if elem.endswith("."):
        return f"trailing dot in path element {elem!r}"
    if not _ELEM_CHARS.match(elem):
        bad = next(c for c in elem if not _ELEM_CHARS.match(c))
        return f"invalid character {bad!r} in path element {elem!r}"
    short = elem.split(".", 1)[0]
    if short.upper() in _BAD_WINDOWS_NAMES:
        return f"{short!r} is not allowed as a path element (reserved on Windows)"
    tilde = short.rfind("~")
    if 0 <= tilde < len(short) - 1 and short[tilde + 1 :].isdigit():
        return f"trailing tilde and digits in path element {elem!r}"
    return None


def module_path_error(path: str) -> str | None:
    """Why ``path`` is not a valid Go module path, or None when it is."""
    if not path:
        return "empty module path"
    if not path.isascii():
        return "non-ASCII character"
    if path.startswith("-"):
        return "leading dash (it would be read as a flag)"
    if path.startswith("/"):
        return "leading slash"
    if "//" in path:
        return "double slash"
    if path.endswith("/"):
        return "trailing slash"
    for elem in path.split("/"):
        error = _element_error(elem)
        if error:
            return error
    first = path.split("/", 1)[0]
    if "." not in first:
        return f"missing dot in first path element {first!r} (a module path starts with a domain)"
    if not _FIRST_CHARS.match(first):
        return f"first path element {first!r} may hold only lower-case letters, digits, '.' and '-'"
    major = _MAJOR_SUFFIX.search(path)
    if major and not path.startswith("gopkg.in/"):
        n = major["n"]
        if n.startswith("0") or n == "1":
            return f"invalid major version suffix /v{n} (only /v2 and above)"
    return None


def version_error(version: str) -> str | None:
    """Why ``version`` is not a canonical module version (``v1.2.3``, ``v1.2.3-rc.1``,
    a pseudo-version, ``v2.0.0+incompatible``), or None when it is."""
    if not _VERSION.match(version):
        return "not a canonical semantic version such as v1.2.3 (no branch names, no 'latest')"
    return None


def major_mismatch(path: str, version: str) -> str | None:
    """Why ``version`` cannot be a version of module ``path`` (``CheckPathMajor``)."""
    match = _VERSION.match(version)
    if not match:
        return version_error(version)
    major = int(match["major"])
    if path.startswith("gopkg.in/"):
        suffix = _GOPKG_SUFFIX.search(path)
        if suffix and int(suffix["n"]) != major and not (suffix["n"] == "0" and major <= 1):
            return f"gopkg.in path ends in .v{suffix['n']} but the version is v{major}"
        return None
    suffix = _MAJOR_SUFFIX.search(path)
    if suffix:
        if match["incompatible"]:
            return "+incompatible versions belong to paths without a /vN suffix"
        if int(suffix["n"]) != major:
            return f"the path ends in /v{suffix['n']} but the version is v{major}"
        return None
    if major >= 2 and not match["incompatible"]:
        return f"a v{major} version needs the module path to end in /v{major}"
    return None

"""Semantic versions and constraints with the rules Helm uses (Masterminds semver v3).

Helm checks ``dependencies[].version`` and ``kubeVersion`` of Chart.yaml with these rules:

* terms joined by spaces or commas must all hold; alternatives are joined by ``||``;
* operators ``=`` ``!=`` ``>`` ``>=`` ``<`` ``<=``, ``~`` (patch updates; ``~1`` any 1.x),
  ``^`` (no change to the left-most non-zero part), hyphen ranges ``1.2 - 1.4.5``, and
  ``x``/``X``/``*`` wildcards (``1.2.x``, ``*``);
* a pre-release version (``1.2.3-rc.1``) only satisfies a term that has a pre-release
  itself, which is why charts write ``>=1.30.0-0``;
* ``v`` prefixes and missing minor/patch parts are accepted (``v1.30`` is 1.30.0);
  build metadata (``+abc``) is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_VERSION = re.compile(
    r"^v?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)
_WILD = {"x", "X", "*"}
_TERM = re.compile(
    r"^(?P<op>!=|>=|<=|=>|=<|>|<|=|~>|~|\^)?\s*v?(?P<major>\d+|[xX*])"
    r"(?:\.(?P<minor>\d+|[xX*]))?(?:\.(?P<patch>\d+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)


class SemverError(ValueError):
    """A version or constraint Helm would refuse too."""


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # a release sorts after its pre-releases; numeric identifiers sort before others
        pre = tuple((0, int(p)) if p.isdigit() else (1, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)  # type: ignore[return-value]

    def __str__(self) -> str:
        pre = "-" + ".".join(self.pre) if self.pre else ""
        return f"{self.major}.{self.minor}.{self.patch}{pre}"


def parse_version(text: str) -> Version:
    match = _VERSION.match(str(text).strip())
    if not match:
        raise SemverError(f"{text!r} is not a semantic version")
    pre = match.group("pre")
    return Version(
        int(match.group("major")),
        int(match.group("minor") or 0),
        int(match.group("patch") or 0),
        tuple(pre.split(".")) if pre else (),
    )


def _cmp(a: Version, b: Version) -> int:
    ka, kb = a.key(), b.key()
    return (ka > kb) - (ka < kb)


@dataclass(frozen=True)
class _Term:
    op: str
    version: Version
    has_pre: bool

    def allows(self, v: Version) -> bool:
        if v.pre and not self.has_pre and self.op != "!=":
            return False
        c = _cmp(v, self.version)
        return {
            "=": c == 0,
            "!=": c != 0,
            ">": c > 0,
            ">=": c >= 0,
            "<": c < 0,
            "<=": c <= 0,
        }[self.op]


def _bump(parts: list[int], index: int) -> Version:
    """The first version after every version that starts with ``parts[: index + 1]``."""
    out = [*parts[: index + 1], 0, 0, 0][:3]
    out[index] += 1
    for i in range(index + 1, 3):
        out[i] = 0
    return Version(out[0], out[1], out[2])


def _expand(term: str) -> list[list[_Term]]:
    """One constraint term as alternatives of ANDed primitive comparisons."""
    match = _TERM.match(term)
    if not match:
        raise SemverError(f"{term!r} is not a version constraint")
    op = {"=>": ">=", "=<": "<=", "~>": "~"}.get(match.group("op") or "=", match.group("op") or "=")
    raw = [match.group("major"), match.group("minor"), match.group("patch")]
    pre_text = match.group("pre")
    pre = tuple(pre_text.split(".")) if pre_text else ()
    # how many leading parts are fixed; the rest are wildcards or absent
    fixed = 0
    for part in raw:
        if part is None or part in _WILD:
            break
        fixed += 1
    nums = [int(p) if p is not None and p not in _WILD else 0 for p in raw]
    base = Version(nums[0], nums[1], nums[2], pre if fixed == 3 else ())
    has_pre = bool(pre)

    def t(o: str, v: Version) -> _Term:
        return _Term(o, v, has_pre)

    if fixed == 0:  # *, x: anything (pre-releases only with a pre-release term)
        if op in ("<", ">", "!="):
            return [[t("<", Version(0, 0, 0))]]
        return [[t(">=", Version(0, 0, 0))]]
    if op == "~":
        upper = _bump(nums, 0 if fixed == 1 else 1)
        return [[t(">=", base), t("<", upper)]]
    if op == "^":
        if fixed == 1 or nums[0] > 0:
            upper = _bump(nums, 0)
        elif fixed == 2 or nums[1] > 0:
            upper = _bump(nums, 1)
        else:
            upper = _bump(nums, 2)
        return [[t(">=", base), t("<", upper)]]
    if fixed == 3:
        return [[t(op, base)]]
    upper = _bump(nums, fixed - 1)  # the first version past the wildcard range
    lower = Version(nums[0], nums[1] if fixed > 1 else 0, 0)
    return {
        "=": [[t(">=", lower), t("<", upper)]],
        "!=": [[t("<", lower)], [t(">=", upper)]],
        ">": [[t(">=", upper)]],
        ">=": [[t(">=", lower)]],
        "<": [[t("<", lower)]],
        "<=": [[t("<", upper)]],
    }[op]


_HYPHEN = re.compile(r"(\S+)\s+-\s+(\S+)")


@cache
def parse_constraint(text: str) -> tuple[tuple[_Term, ...], ...]:
    """A constraint as alternatives (``||``) of ANDed primitive terms."""
    alternatives: list[tuple[_Term, ...]] = []
    if not text.strip():
        raise SemverError("empty version constraint")
    for alternative in text.split("||"):
        alternative = _HYPHEN.sub(r">=\1 <=\2", alternative.strip())
        alternative = re.sub(r"(!=|>=|<=|=>|=<|~>|[<>=~^])\s+", r"\1", alternative)
        terms = [x for x in re.split(r"[\s,]+", alternative) if x]
        if not terms:
            raise SemverError(f"{text!r} has an empty alternative")
        expanded: list[list[_Term]] = [[]]
        for term in terms:
            options = _expand(term)
            expanded = [[*done, *opt] for done in expanded for opt in options]
        alternatives.extend(tuple(e) for e in expanded)
    return tuple(alternatives)


def satisfies(version: str, constraint: str) -> bool:
    """Does ``version`` satisfy ``constraint`` (raises SemverError when either is invalid)."""
    v = parse_version(version)
    return any(all(term.allows(v) for term in terms) for terms in parse_constraint(constraint))

"""The rule registry and the context a rule sees."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from chartmatrix.findings import Finding, Severity
from chartmatrix.manifests import Manifest


@dataclass(frozen=True)
class RuleContext:
    """One case's render plus what the spec declares about it."""

    manifests: list[Manifest]
    namespace: str = "default"
    external: dict[str, frozenset[str]] = field(default_factory=dict)
    checksum_convention: str = "presence"  # or strict, data-hash: chartmatrix.checksumconvention
    golden: list[Manifest] | None = None  # the golden file's render, masks applied
    # this render as its golden file would hold it (masks applied), what the upgrade
    # rules compare with ``golden``; every other rule reads ``manifests`` as rendered
    normalized: list[Manifest] | None = None

    @property
    def as_golden(self) -> list[Manifest]:
        """This render, masked as ``golden`` is (so that the two compare)."""
        return self.normalized if self.normalized is not None else self.manifests

    @cached_property
    def _by_kind(self) -> dict[str, list[Manifest]]:
        # every rule asks for kinds and names: index the render once, not per question
        out: dict[str, list[Manifest]] = {}
        for m in self.manifests:
            out.setdefault(m.kind, []).append(m)
        return out

    @cached_property
    def _by_kind_and_name(self) -> dict[tuple[str, str], Manifest]:
        out: dict[tuple[str, str], Manifest] = {}
        for m in self.manifests:
            out.setdefault((m.kind, m.name), m)  # the first, as a scan would find
        return out

    def of_kind(self, *kinds: str) -> list[Manifest]:
        """The manifests of these kinds, in render order."""
        if len(kinds) == 1:
            return list(self._by_kind.get(kinds[0], ()))
        return [m for m in self.manifests if m.kind in kinds]

    def find(self, kind: str, name: str) -> Manifest | None:
        return self._by_kind_and_name.get((kind, name))

    def is_external(self, kind: str, name: str) -> bool:
        return name in self.external.get(kind, frozenset())


@dataclass(frozen=True)
class Violation:
    message: str
    resource: str = ""
    path: str = ""
    severity: Severity | None = None  # overrides the rule's default


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    check: Callable[[RuleContext], Iterable[Violation]]


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, severity: Severity, summary: str
) -> Callable[[Callable[[RuleContext], Iterable[Violation]]], Rule]:
    """Register a rule function under ``rule_id``."""

    def register(fn: Callable[[RuleContext], Iterable[Violation]]) -> Rule:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} registered twice")
        RULES[rule_id] = Rule(rule_id, severity, summary, fn)
        return RULES[rule_id]

    return register


def run_rules(
    ctx: RuleContext,
    check: str = "rules",
    severities: Mapping[str, Severity | None] | None = None,
) -> list[Finding]:
    """Run every rule over one render.

    ``severities`` (from the project config, :mod:`chartmatrix.projectconfig`) overrides
    rules by id: ``None`` turns a rule off, a severity applies to every finding of the
    rule. A warning whose message does not say how to silence it gets the suppress hint.
    """
    severities = severities or {}
    findings = []
    for r in RULES.values():
        if r.id in severities and severities[r.id] is None:
            continue
        try:
            violations = list(r.check(ctx))
        except Exception as exc:  # a malformed object must not stop the run
            findings.append(
                Finding(
                    check=check,
                    rule=r.id,
                    severity=Severity.ERROR,
                    message=f"rule could not check this render ({type(exc).__name__}: {exc}); "
                    "the manifests are probably malformed (see the schema findings)",
                )
            )
            continue
        for v in violations:
            severity = severities.get(r.id) or v.severity or r.severity
            message = v.message
            if severity is Severity.WARNING and "suppress" not in message:
                message = f"{message} (suppress {r.id} to accept)"
            findings.append(
                Finding(
                    check=check if not r.id.startswith("upgrade/") else "golden",
                    rule=r.id,
                    severity=severity,
                    message=message,
                    resource=v.resource,
                    path=v.path,
                )
            )
    return findings

"""A finding: one problem found in one case by a check (schema, rule, golden, render)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Ids of the findings that do not come from a rule (rules are in chartmatrix.rules.RULES);
# together they are what a spec's ``suppress:`` entries may name.
NON_RULE_IDS = frozenset(
    {
        "render/failed",
        "render/kube-version",
        "render/parse",
        "render/duplicate",
        "expect/message",
        "expect/rendered",
        "schema/invalid",
        "schema/no-kind",
        "schema/unknown-kind",
        "schema/api-not-served",
        "golden/changed",
        "golden/missing",
        "golden/new",
        "golden/orphaned",
        "golden/unreadable",
        "golden/unwritable",
        "golden/nondeterministic",
        "golden/unknown-file",
        "golden/unused-mask",
        "coverage/modes",
        "chart/dependency-version",
        "spec/unknown-value",
        "spec/deprecated",
        "values/multi-document",
        "schema/no-name",
    }
)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """``check`` is the grid column (render/schema/rules/golden); ``rule`` the id."""

    check: str
    rule: str
    severity: Severity
    message: str
    resource: str = ""
    path: str = ""
    kube_version: str = ""
    # where in the user's files it points (chartmatrix.locate): a template, values or spec
    file: str = ""
    file_line: int = 0

    def line(self) -> str:
        where = self.resource + (f" {self.path}" if self.path else "")
        version = f" [k8s {self.kube_version}]" if self.kube_version else ""
        prefix = f"{where}: " if where else ""
        return f"{self.severity.value} {self.rule}{version}: {prefix}{self.message}"

    def as_dict(self) -> dict[str, str | int]:
        return {
            "check": self.check,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "resource": self.resource,
            "path": self.path,
            "kube_version": self.kube_version,
            "file": self.file,
            "line": self.file_line,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | int]) -> Finding:
        """The inverse of :meth:`as_dict` (a JSON report read back)."""
        return cls(
            check=str(data["check"]),
            rule=str(data["rule"]),
            severity=Severity(data["severity"]),
            message=str(data["message"]),
            resource=str(data.get("resource", "")),
            path=str(data.get("path", "")),
            kube_version=str(data.get("kube_version", "")),
            file=str(data.get("file", "")),
            file_line=int(data.get("line", 0)),
        )


def json_path(parts: object) -> str:
    """``["spec", "containers", 0, "image"]`` -> ``spec.containers[0].image``."""
    out = ""
    for part in parts:  # type: ignore[attr-defined]
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out

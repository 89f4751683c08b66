"""Hardening: pinned images and the Pod Security "restricted" basics (warnings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import pod_templates


def image_problem(image: str) -> str | None:
    if not image:
        return "no image"
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (pulls latest)"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image!r} uses the latest tag"
    return None


@rule("hardening/image-tag", Severity.WARNING, "images are pinned: no latest, no untagged")
def image_tag(ctx: RuleContext) -> Iterator[Violation]:
    for pod in pod_templates(ctx.manifests):
        for path, c in pod.containers():
            problem = image_problem(str(c.get("image") or ""))
            if problem:
                yield Violation(problem, pod.owner.ref, f"{path}.image")


@rule(
    "hardening/pod-security",
    Severity.WARNING,
    "Pod Security restricted basics: non-root, no privilege escalation, drop ALL, seccomp",
)
def pod_security(ctx: RuleContext) -> Iterator[Violation]:
    for pod in pod_templates(ctx.manifests):
        spec, ref, p = pod.spec, pod.owner.ref, pod.prefix
        psc = spec.get("securityContext") or {}
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key):
                yield Violation(f"{key}: true", ref, f"{p}spec.{key}")
        for i, vol in enumerate(spec.get("volumes") or []):
            if "hostPath" in vol:
                yield Violation("hostPath volume", ref, f"{p}spec.volumes[{i}]")
        for path, c in pod.containers():
            problems = container_problems(c.get("securityContext") or {}, psc)
            if problems:
                yield Violation("; ".join(problems), ref, f"{path}.securityContext")


def container_problems(sc: dict[str, Any], psc: dict[str, Any]) -> list[str]:
    """What keeps one container (with its pod's securityContext) from "restricted"."""
    problems = []
    if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
        problems.append("runAsNonRoot is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        problems.append("privileged")
    if "ALL" not in (((sc.get("capabilities") or {}).get("drop")) or []):
        problems.append("capabilities.drop lacks ALL")
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append("seccompProfile.type is not RuntimeDefault/Localhost")
    return problems

"""Session state: sticky sessions through Service ClientIP affinity."""

from __future__ import annotations

from collections.abc import Iterator

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule

MAX_TIMEOUT = 86400


@rule(
    "session/client-ip-timeout",
    Severity.ERROR,
    "ClientIP session affinity has a timeoutSeconds in 1..86400",
)
def client_ip_timeout(ctx: RuleContext) -> Iterator[Violation]:
    for svc in ctx.of_kind("Service"):
        spec = svc.obj.get("spec") or {}
        if spec.get("sessionAffinity") != "ClientIP":
            continue
        path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get(
            "timeoutSeconds"
        )
        if timeout is None:
            yield Violation(
                "ClientIP affinity without timeoutSeconds (Kubernetes defaults it to 10800); "
                "set it explicitly",
                svc.ref,
                path,
                Severity.WARNING,
            )
        elif (
            isinstance(timeout, bool)
            or not isinstance(timeout, int)
            or not (1 <= timeout <= MAX_TIMEOUT)
        ):
            yield Violation(
                f"timeoutSeconds must be in 1..{MAX_TIMEOUT} (got {timeout!r})", svc.ref, path
            )

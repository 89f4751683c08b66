"""Services must select pods the chart renders."""

from __future__ import annotations

from collections.abc import Iterator

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import map_selector_matches, pod_templates


@rule(
    "service/selector-matches",
    Severity.ERROR,
    "every Service selector matches some pod template in the render",
)
def service_selects_pods(ctx: RuleContext) -> Iterator[Violation]:
    pods = pod_templates(ctx.manifests)
    for svc in ctx.of_kind("Service"):
        selector = (svc.obj.get("spec") or {}).get("selector") or {}
        if not selector or ctx.is_external("Service", svc.name):
            continue
        if not any(map_selector_matches(selector, p) for p in pods):
            yield Violation(
                f"selector {selector} matches no pod template in the render",
                svc.ref,
                "spec.selector",
            )

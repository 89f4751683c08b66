"""Every ConfigMap, Secret and PVC a pod uses exists in the render or is declared external."""

from __future__ import annotations

from collections.abc import Iterator

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import pod_templates, references


@rule(
    "refs/exists",
    Severity.ERROR,
    "every ConfigMap/Secret/PVC a pod uses is rendered or declared under external",
)
def references_exist(ctx: RuleContext) -> Iterator[Violation]:
    for pod in pod_templates(ctx.manifests):
        for ref in references(pod):
            if ref.optional:
                continue
            if not ref.name:
                yield Violation(f"{ref.kind} reference has an empty name", pod.owner.ref, ref.path)
                continue
            if ctx.find(ref.kind, ref.name) or ctx.is_external(ref.kind, ref.name):
                continue
            yield Violation(
                f"{ref.kind} {ref.name!r} is not in the render; render it or declare it under "
                f"external.{ref.kind} in the matrix spec",
                pod.owner.ref,
                ref.path,
            )

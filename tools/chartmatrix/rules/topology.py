"""Topology state: stable network identity and disruption budgets for StatefulSets."""

from __future__ import annotations

from collections.abc import Iterator

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import map_selector_matches, pod_templates, selector_matches


@rule(
    "topology/headless-service",
    Severity.ERROR,
    "StatefulSet spec.serviceName names a headless Service in the render selecting its pods",
)
def headless_service(ctx: RuleContext) -> Iterator[Violation]:
    for pod in pod_templates(ctx.of_kind("StatefulSet")):
        sts = pod.owner
        name = (sts.obj.get("spec") or {}).get("serviceName")
        if not name:
            yield Violation(
                "no spec.serviceName: pods get no stable DNS names (POD.SVC.NS.svc...)",
                sts.ref,
                "spec.serviceName",
            )
            continue
        if ctx.is_external("Service", name):
            continue
        svc = ctx.find("Service", name)
        if svc is None:
            yield Violation(
                f"spec.serviceName {name!r} is not a Service in the render "
                "(declare it under external.Service if it is created elsewhere)",
                sts.ref,
                "spec.serviceName",
            )
            continue
        spec = svc.obj.get("spec") or {}
        if spec.get("clusterIP") != "None":
            yield Violation(
                f"Service {name!r} named by spec.serviceName is not headless "
                f"(clusterIP: {spec.get('clusterIP', '<unset>')}, want None)",
                sts.ref,
                "spec.serviceName",
            )
        if spec.get("clusterIP") == "None" and spec.get("publishNotReadyAddresses") is not True:
            yield Violation(
                f"headless Service {name!r} does not set publishNotReadyAddresses: true: pods "
                "cannot resolve their peers (NAME-N.SERVICE) until they are Ready, which "
                "stalls a cluster that bootstraps through those names",
                sts.ref,
                "spec.serviceName",
                Severity.WARNING,
            )
        if not map_selector_matches(spec.get("selector") or {}, pod):
            yield Violation(
                f"headless Service {name!r} selector {spec.get('selector')} does not match "
                f"the pod template labels {pod.labels}",
                sts.ref,
                "spec.serviceName",
            )


@rule(
    "topology/pdb",
    Severity.ERROR,
    "a PodDisruptionBudget selects every replicated StatefulSet",
)
def pdb_covers(ctx: RuleContext) -> Iterator[Violation]:
    pdbs = ctx.of_kind("PodDisruptionBudget")
    for pod in pod_templates(ctx.of_kind("StatefulSet")):
        replicas = (pod.owner.obj.get("spec") or {}).get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 2:
            continue
        selected = [
            p
            for p in pdbs
            if (p.obj.get("spec") or {}).get("selector")
            and selector_matches((p.obj.get("spec") or {}).get("selector"), pod.labels)
        ]
        if not selected:
            yield Violation(
                f"{replicas} replicas but no PodDisruptionBudget selects the pods: a node drain "
                "may evict several members at once",
                pod.owner.ref,
            )
        for p in selected:
            spec = p.obj.get("spec") or {}
            max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
            blocks = (
                max_unavailable in (0, "0%")
                or min_available == "100%"
                or (isinstance(min_available, int) and min_available >= replicas)
            )
            if blocks:
                yield Violation(
                    f"{p.ref} allows no voluntary disruption of the {replicas} replicas "
                    f"(maxUnavailable {max_unavailable}, minAvailable {min_available}): "
                    "node drains hang",
                    pod.owner.ref,
                    severity=Severity.WARNING,
                )


@rule(
    "topology/spread",
    Severity.WARNING,
    "a replicated StatefulSet spreads its pods (pod anti-affinity or topology spread constraints)",
)
def spread(ctx: RuleContext) -> Iterator[Violation]:
    for pod in pod_templates(ctx.of_kind("StatefulSet")):
        replicas = (pod.owner.obj.get("spec") or {}).get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 2:
            continue
        anti = ((pod.spec.get("affinity") or {}).get("podAntiAffinity")) or {}
        if not anti and not pod.spec.get("topologySpreadConstraints"):
            yield Violation(
                f"{replicas} replicas with neither podAntiAffinity nor "
                "topologySpreadConstraints: several members may share one node and fail "
                "together",
                pod.owner.ref,
                f"{pod.prefix}spec.affinity",
            )

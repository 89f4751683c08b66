"""Topology state: stable network identity and disruption budgets for StatefulSets."""

from __future__ import annotations

from collections.abc import Iterator

from chartmatrix.findings import Severity
from chartmatrix.manifests import Manifest
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import map_selector_matches, pod_templates, selector_matches

HEADLESS = "topology/headless-service"


def _hpa_max(ctx: RuleContext, sts: Manifest) -> int:
    """The highest maxReplicas of the render's HorizontalPodAutoscalers scaling ``sts``."""
    top = 0
    for hpa in ctx.of_kind("HorizontalPodAutoscaler"):
        spec = hpa.obj.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        if target.get("kind") == "StatefulSet" and target.get("name") == sts.name:
            value = spec.get("maxReplicas")
            top = max(top, value if isinstance(value, int) else 2)
    return top


def replicated(ctx: RuleContext, sts: Manifest) -> bool:
    """More than one member can run: ``replicas`` >= 2, or an HPA may scale it there.
    Unset ``replicas`` is Kubernetes' default of 1; a non-integer (a schema error) counts
    as replicated, since the count cannot be known."""
    spec = sts.obj.get("spec") or {}
    replicas = spec.get("replicas", 1)
    if replicas is None:
        replicas = 1
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        return True
    return replicas >= 2 or _hpa_max(ctx, sts) >= 2


@rule(
    HEADLESS,
    Severity.ERROR,
    "a replicated StatefulSet's spec.serviceName names a headless Service in the render "
    "selecting its pods (warnings for a single-member StatefulSet)",
)
def headless_service(ctx: RuleContext) -> Iterator[Violation]:
    """Peer discovery (NAME-N.SERVICE) matters when there are peers: for a StatefulSet
    that runs one member (replicas unset, 0 or 1 and no HPA) a missing serviceName is
    fine and a broken one only a warning; publishNotReadyAddresses is not checked."""
    for pod in pod_templates(ctx.of_kind("StatefulSet")):
        sts = pod.owner
        peers = replicated(ctx, sts)
        lesser = None if peers else Severity.WARNING
        # what the stable names are for, and how to accept their absence
        why = "" if peers else " (it runs one member: only clients that use it need them)"
        hint = f"suppress {HEADLESS} if nothing uses the pods' DNS names"
        name = (sts.obj.get("spec") or {}).get("serviceName")
        if not name:
            if peers:
                yield Violation(
                    "no spec.serviceName: pods get no stable DNS names (POD.SVC.NS.svc...) "
                    f"to find their peers; set it, or {hint}",
                    sts.ref,
                    "spec.serviceName",
                )
            continue
        if ctx.is_external("Service", name):
            continue
        svc = ctx.find("Service", name)
        if svc is None:
            yield Violation(
                f"spec.serviceName {name!r} is not a Service in the render: pods get no "
                f"stable DNS names{why}; render it, declare it under external.Service: "
                f"[{name}] if it is created elsewhere, or {hint}",
                sts.ref,
                "spec.serviceName",
                lesser,
            )
            continue
        spec = svc.obj.get("spec") or {}
        if spec.get("clusterIP") != "None":
            yield Violation(
                f"Service {name!r} named by spec.serviceName is not headless "
                f"(clusterIP: {spec.get('clusterIP', '<unset>')}, want None): pods get no "
                f"stable DNS names{why}; make it headless, or {hint}",
                sts.ref,
                "spec.serviceName",
                lesser,
            )
        elif peers and spec.get("publishNotReadyAddresses") is not True:
            yield Violation(
                f"headless Service {name!r} does not set publishNotReadyAddresses: true: pods "
                "cannot resolve their peers (NAME-N.SERVICE) until they are Ready, which "
                "stalls a cluster that bootstraps through those names; suppress "
                f"{HEADLESS} if the members find each other otherwise",
                sts.ref,
                "spec.serviceName",
                Severity.WARNING,
            )
        if not map_selector_matches(spec.get("selector") or {}, pod):
            yield Violation(
                f"headless Service {name!r} selector {spec.get('selector')} does not match "
                f"the pod template labels {pod.labels}: pods get no DNS records{why}; fix the "
                f"selector, or {hint}",
                sts.ref,
                "spec.serviceName",
                lesser,
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
                "may evict several members at once; add one, or suppress topology/pdb",
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
                    "node drains hang; allow one disruption, or suppress topology/pdb",
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
                "together; add one, or suppress topology/spread",
                pod.owner.ref,
                f"{pod.prefix}spec.affinity",
            )

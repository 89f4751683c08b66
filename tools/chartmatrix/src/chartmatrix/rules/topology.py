"""Topology state: stable network identity and disruption budgets for StatefulSets."""

from __future__ import annotations

from collections.abc import Iterator

from chartmatrix.findings import Severity
from chartmatrix.manifests import Manifest
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.pods import map_selector_matches, pod_templates, selector_matches

HEADLESS = "topology/headless-service"


def _hpa_range(ctx: RuleContext, sts: Manifest) -> tuple[int, int] | None:
    """(minReplicas, maxReplicas) of the HorizontalPodAutoscalers scaling ``sts``, widest."""
    found = None
    for hpa in ctx.of_kind("HorizontalPodAutoscaler"):
        spec = hpa.obj.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        if target.get("kind") == "StatefulSet" and target.get("name") == sts.name:
            low = spec.get("minReplicas", 1)
            high = spec.get("maxReplicas")
            low = low if isinstance(low, int) and not isinstance(low, bool) else 1
            high = high if isinstance(high, int) and not isinstance(high, bool) else low
            found = (low, high) if found is None else (min(found[0], low), max(found[1], high))
    return found


def member_range(ctx: RuleContext, sts: Manifest) -> tuple[int, int] | None:
    """The fewest and most members ``sts`` runs: ``spec.replicas`` (unset: 1), or what
    an HPA scaling it allows; None when the count is not an integer (a schema error)."""
    hpa = _hpa_range(ctx, sts)
    if hpa is not None:
        return hpa
    replicas = (sts.obj.get("spec") or {}).get("replicas", 1)
    if replicas is None:
        replicas = 1
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        return None
    return replicas, replicas


def _members(low: int, high: int) -> str:
    return f"{high} replicas" if low == high else f"{low} to {high} replicas (an HPA scales it)"


def _scaled(value: object, replicas: int) -> int | None:
    """An IntOrString of a PodDisruptionBudget as the disruption controller reads it: a
    percentage of the replicas rounded up; None when it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return -(-int(value[:-1]) * replicas // 100)
    return None


def replicated(ctx: RuleContext, sts: Manifest) -> bool:
    """More than one member can run: ``replicas`` >= 2, or an HPA may scale it there.
    Unset ``replicas`` is Kubernetes' default of 1; a non-integer (a schema error) counts
    as replicated, since the count cannot be known."""
    members = member_range(ctx, sts)
    return members is None or members[1] >= 2


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
        members = member_range(ctx, pod.owner)
        if members is None or members[1] < 2:
            continue
        low, high = members
        selected = [
            p
            for p in pdbs
            if (p.obj.get("spec") or {}).get("selector")
            and selector_matches((p.obj.get("spec") or {}).get("selector"), pod.labels)
        ]
        if not selected:
            yield Violation(
                f"{_members(low, high)} but no PodDisruptionBudget selects the pods: a node "
                "drain may evict several members at once; add one, or suppress topology/pdb",
                pod.owner.ref,
            )
        if low < 2:
            continue  # one member can never be disrupted without an outage anyway
        for p in selected:
            spec = p.obj.get("spec") or {}
            max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
            if max_unavailable is not None and min_available is not None:
                yield Violation(
                    f"{p.ref} sets both minAvailable and maxUnavailable: the API server refuses "
                    "it; keep one",
                    pod.owner.ref,
                )
                continue
            # at the fewest members; a percentage is rounded up (67% of 3 is 3)
            unavailable, available = _scaled(max_unavailable, low), _scaled(min_available, low)
            blocks = unavailable == 0 or (available is not None and available >= low)
            if blocks:
                yield Violation(
                    f"{p.ref} allows no voluntary disruption of the {low} replicas "
                    f"(maxUnavailable {max_unavailable}, minAvailable {min_available}, "
                    "percentages rounded up as the disruption controller does): node drains "
                    "hang; allow one disruption, or suppress topology/pdb",
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
        members = member_range(ctx, pod.owner)
        if members is None or members[1] < 2:
            continue
        anti = ((pod.spec.get("affinity") or {}).get("podAntiAffinity")) or {}
        if not anti and not pod.spec.get("topologySpreadConstraints"):
            yield Violation(
                f"{_members(*members)} with neither podAntiAffinity nor "
                "topologySpreadConstraints: several members may share one node and fail "
                "together; add one, or suppress topology/spread",
                pod.owner.ref,
                f"{pod.prefix}spec.affinity",
            )

"""Persistent state: local PersistentVolumes must pin their data to a node and be enough."""

from __future__ import annotations

from collections.abc import Iterator

from chartmatrix.findings import Severity
from chartmatrix.rules.base import RuleContext, Violation, rule

NO_PROVISIONER = "kubernetes.io/no-provisioner"
HOSTNAME = "kubernetes.io/hostname"


def _pins_hostname(pv: dict) -> bool:
    terms = ((pv.get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
    return bool(terms) and all(
        any(
            e.get("key") == HOSTNAME and e.get("operator") == "In" and e.get("values")
            for e in t.get("matchExpressions") or []
        )
        for t in terms
    )


@rule(
    "persistence/local-volumes",
    Severity.ERROR,
    "local PersistentVolumes have a required hostname nodeAffinity, and every claim on a "
    "rendered no-provisioner StorageClass has a PersistentVolume to bind",
)
def local_volumes(ctx: RuleContext) -> Iterator[Violation]:
    pvs = ctx.of_kind("PersistentVolume")
    for pv in pvs:
        spec = pv.obj.get("spec") or {}
        if "local" in spec and not _pins_hostname(spec):
            yield Violation(
                "local volume without a required nodeAffinity on kubernetes.io/hostname: "
                "the scheduler cannot keep the pod on the node that holds the data",
                pv.ref,
                "spec.nodeAffinity",
            )
    local_classes = {
        sc.name for sc in ctx.of_kind("StorageClass") if sc.obj.get("provisioner") == NO_PROVISIONER
    }
    by_class: dict[str, int] = {}
    for pv in pvs:
        spec = pv.obj.get("spec") or {}
        cls = spec.get("storageClassName", "")
        by_class[cls] = by_class.get(cls, 0) + 1
    for sts in ctx.of_kind("StatefulSet"):
        spec = sts.obj.get("spec") or {}
        replicas = spec.get("replicas", 1)
        for i, vct in enumerate(spec.get("volumeClaimTemplates") or []):
            cls = str((vct.get("spec") or {}).get("storageClassName") or "")
            short = isinstance(replicas, int) and by_class.get(cls, 0) < replicas
            if cls in local_classes and short:
                yield Violation(
                    f"{replicas} replicas claim StorageClass {cls} (no provisioner) but only "
                    f"{by_class.get(cls, 0)} PersistentVolume(s) of that class are rendered",
                    sts.ref,
                    f"spec.volumeClaimTemplates[{i}]",
                )
    for pvc in ctx.of_kind("PersistentVolumeClaim"):
        cls = str((pvc.obj.get("spec") or {}).get("storageClassName") or "")
        if not cls or by_class.get(cls):
            continue
        if cls in local_classes:
            yield Violation(
                f"claims StorageClass {cls} (no provisioner) but no PersistentVolume of that "
                "class is rendered: it will stay Pending",
                pvc.ref,
                "spec.storageClassName",
            )
        elif local_classes:
            yield Violation(
                f"claims StorageClass {cls}, which the chart does not render, while it renders "
                f"the local class(es) {', '.join(sorted(local_classes))} with volumes: a "
                "mismatched name leaves the claim Pending",
                pvc.ref,
                "spec.storageClassName",
                Severity.WARNING,
            )

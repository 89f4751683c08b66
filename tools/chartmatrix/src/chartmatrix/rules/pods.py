"""Pod templates inside workloads, label selectors, and what a pod references."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chartmatrix.manifests import Manifest

_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass(frozen=True)
class PodTemplate:
    owner: Manifest
    path: str  # JSON path of the template inside the owner ("" for a bare Pod)
    metadata: dict[str, Any]
    spec: dict[str, Any]

    @property
    def labels(self) -> dict[str, str]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def annotations(self) -> dict[str, str]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, dict) else {}

    def containers(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(path, container) for init, regular and ephemeral containers."""
        for key in ("initContainers", "containers"):
            for i, c in enumerate(self.spec.get(key) or []):
                if isinstance(c, dict):
                    yield f"{self.prefix}spec.{key}[{i}]", c

    @property
    def prefix(self) -> str:
        return f"{self.path}." if self.path else ""

    @property
    def claimed_volumes(self) -> frozenset[str]:
        """The volumes a StatefulSet's controller replaces by each pod's own claim: those
        named like one of its ``volumeClaimTemplates``, whatever the template says."""
        if self.owner.kind != "StatefulSet":
            return frozenset()
        spec = self.owner.obj.get("spec")
        claims = spec.get("volumeClaimTemplates") if isinstance(spec, dict) else None
        return frozenset(
            str((c.get("metadata") or {}).get("name"))
            for c in claims or []
            if isinstance(c, dict) and isinstance(c.get("metadata"), dict)
        )


def _dig(obj: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def is_hook(m: Manifest) -> bool:
    return "helm.sh/hook" in (m.metadata.get("annotations") or {})


def pod_templates(manifests: list[Manifest]) -> list[PodTemplate]:
    out = []
    for m in manifests:
        if m.kind == "Pod":
            out.append(PodTemplate(m, "", m.metadata, m.obj.get("spec") or {}))
            continue
        keys = _TEMPLATE_PATHS.get(m.kind)
        if keys is None:
            continue
        template = _dig(m.obj, keys)
        if isinstance(template, dict):
            out.append(
                PodTemplate(
                    m, ".".join(keys), template.get("metadata") or {}, template.get("spec") or {}
                )
            )
    return out


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels. Empty matches all."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


POD_INDEX = "apps.kubernetes.io/pod-index"
POD_NAME = "statefulset.kubernetes.io/pod-name"


def _runtime_label_matches(pod: PodTemplate, key: str, value: str) -> bool:
    """Labels the controller adds to pods at runtime (not in the template)."""
    spec = pod.owner.obj.get("spec") or {}
    if pod.owner.kind == "StatefulSet" and key in (POD_INDEX, POD_NAME):
        start = int(((spec.get("ordinals") or {}).get("start")) or 0)
        replicas = spec.get("replicas", 1)
        # a StatefulSet scaled to zero still has (future) pods: count at least one
        count = max(replicas, 1) if isinstance(replicas, int) else 1
        ordinals = range(start, start + count)
        names = {str(i): f"{pod.owner.name}-{i}" for i in ordinals}
        return value in (names if key == POD_INDEX else set(names.values()))
    if pod.owner.kind == "StatefulSet" and key == "controller-revision-hash":
        return True
    return pod.owner.kind == "Deployment" and key == "pod-template-hash"


def map_selector_matches(selector: dict[str, str], pod: PodTemplate) -> bool:
    """A Service selector (plain map) against a pod template, including the labels its
    controller adds (StatefulSet ``apps.kubernetes.io/pod-index`` within the replica range,
    ``statefulset.kubernetes.io/pod-name``; Deployment ``pod-template-hash``).
    An empty selector selects nothing here."""
    labels = pod.labels
    return bool(selector) and all(
        labels.get(k) == v if k in labels else _runtime_label_matches(pod, k, str(v))
        for k, v in selector.items()
    )


@dataclass(frozen=True)
class Reference:
    kind: str  # ConfigMap | Secret | PersistentVolumeClaim
    name: str
    path: str
    optional: bool
    mounted: bool  # volume / env (changes matter to the running pod)


def references(pod: PodTemplate) -> list[Reference]:
    """Every ConfigMap, Secret and PVC the pod template names (a StatefulSet's volume
    named like one of its claim templates is that claim: the controller replaces it)."""
    out: list[Reference] = []
    p = pod.prefix
    claimed = pod.claimed_volumes
    for i, vol in enumerate(pod.spec.get("volumes") or []):
        vp = f"{p}spec.volumes[{i}]"
        if vol.get("name") in claimed:
            continue  # the pod gets its own claim instead
        if cm := vol.get("configMap"):
            out.append(
                Reference("ConfigMap", cm.get("name", ""), vp, cm.get("optional") is True, True)
            )
        if sec := vol.get("secret"):
            out.append(
                Reference(
                    "Secret", sec.get("secretName", ""), vp, sec.get("optional") is True, True
                )
            )
        if pvc := vol.get("persistentVolumeClaim"):
            out.append(
                Reference("PersistentVolumeClaim", pvc.get("claimName", ""), vp, False, True)
            )
        for j, src in enumerate((vol.get("projected") or {}).get("sources") or []):
            sp = f"{vp}.projected.sources[{j}]"
            if cm := src.get("configMap"):
                out.append(
                    Reference("ConfigMap", cm.get("name", ""), sp, cm.get("optional") is True, True)
                )
            if sec := src.get("secret"):
                out.append(
                    Reference("Secret", sec.get("name", ""), sp, sec.get("optional") is True, True)
                )
    for cpath, container in pod.containers():
        for i, src in enumerate(container.get("envFrom") or []):
            ep = f"{cpath}.envFrom[{i}]"
            if cm := src.get("configMapRef"):
                out.append(
                    Reference("ConfigMap", cm.get("name", ""), ep, cm.get("optional") is True, True)
                )
            if sec := src.get("secretRef"):
                out.append(
                    Reference("Secret", sec.get("name", ""), ep, sec.get("optional") is True, True)
                )
        for i, env in enumerate(container.get("env") or []):
            source = env.get("valueFrom") or {}
            ep = f"{cpath}.env[{i}].valueFrom"
            if cm := source.get("configMapKeyRef"):
                out.append(
                    Reference("ConfigMap", cm.get("name", ""), ep, cm.get("optional") is True, True)
                )
            if sec := source.get("secretKeyRef"):
                out.append(
                    Reference("Secret", sec.get("name", ""), ep, sec.get("optional") is True, True)
                )
    for i, ref in enumerate(pod.spec.get("imagePullSecrets") or []):
        out.append(
            Reference("Secret", ref.get("name", ""), f"{p}spec.imagePullSecrets[{i}]", False, False)
        )
    return out

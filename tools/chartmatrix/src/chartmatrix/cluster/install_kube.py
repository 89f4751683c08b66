"""Kubernetes reads and writes for ``chartmatrix install``: namespaces, readiness,
leftovers and the diagnostics printed when a case fails.

Objects are plain dicts (the API's JSON); see :mod:`chartmatrix.cluster.api`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chartmatrix.cluster.api import Api
from chartmatrix.errors import ChartmatrixError

PSA_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
KEEP = "helm.sh/resource-policy"

# namespaced kinds checked for leftovers: (kind, API path under the namespace)
LEFTOVER_KINDS: tuple[tuple[str, str], ...] = (
    ("Pod", "/api/v1/namespaces/{ns}/pods"),
    ("Service", "/api/v1/namespaces/{ns}/services"),
    ("ConfigMap", "/api/v1/namespaces/{ns}/configmaps"),
    ("Secret", "/api/v1/namespaces/{ns}/secrets"),
    ("ServiceAccount", "/api/v1/namespaces/{ns}/serviceaccounts"),
    ("PersistentVolumeClaim", "/api/v1/namespaces/{ns}/persistentvolumeclaims"),
    ("StatefulSet", "/apis/apps/v1/namespaces/{ns}/statefulsets"),
    ("Deployment", "/apis/apps/v1/namespaces/{ns}/deployments"),
    ("Job", "/apis/batch/v1/namespaces/{ns}/jobs"),
    ("PodDisruptionBudget", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"),
    ("Role", "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles"),
    ("RoleBinding", "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"),
    ("Ingress", "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"),
    ("NetworkPolicy", "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"),
)
# cluster-scoped kinds a chart may create, found by the release's instance label
CLUSTER_KINDS: tuple[tuple[str, str], ...] = (
    ("PersistentVolume", "/api/v1/persistentvolumes"),
    ("StorageClass", "/apis/storage.k8s.io/v1/storageclasses"),
    ("ClusterRole", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
    ("ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"),
)
# what Kubernetes itself puts in every namespace
_SYSTEM_OBJECTS = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}


class Kube:
    """A connection to one cluster (kubeconfig file + context)."""

    def __init__(self, kubeconfig: Path | None, context: str | None) -> None:
        from kubernetes.config.config_exception import ConfigException

        self.kubeconfig = kubeconfig
        self.context = context
        try:
            self.api = Api.from_kubeconfig(kubeconfig, context)
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            where = kubeconfig or "kubeconfig"
            raise ChartmatrixError(
                where, f"cannot use context {context or '(current)'}: {exc}"
            ) from None

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        """GET an API path; 404 gives None, other errors raise ApiError."""
        return self.api.must_get(path, query)

    def items(self, path: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.api.items(path, query)

    def delete(self, path: str) -> bool:
        return self.api.delete(path)

    # --- namespaces ------------------------------------------------------------
    def create_namespace(self, name: str, labels: dict[str, str]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": labels},
        }
        self.api.create("/api/v1/namespaces", body, exist_ok=False)

    def delete_namespace(self, name: str, wait: float = 0.0) -> bool:
        self.api.delete(f"/api/v1/namespaces/{name}")
        if not wait:
            return True
        return wait_for(lambda: self.get(f"/api/v1/namespaces/{name}") is None, wait)

    # --- workloads -------------------------------------------------------------
    def workloads(self, namespace: str) -> list[dict[str, Any]]:
        out = []
        for kind, plural in (("StatefulSet", "statefulsets"), ("Deployment", "deployments")):
            for obj in self.items(f"/apis/apps/v1/namespaces/{namespace}/{plural}"):
                obj.setdefault("kind", kind)
                out.append(obj)
        return out

    def not_ready(self, namespace: str) -> list[dict[str, Any]]:
        return [w for w in self.workloads(namespace) if not workload_ready(w)]

    def wait_ready(self, namespace: str, timeout: float) -> list[dict[str, Any]]:
        """Wait until every StatefulSet and Deployment is ready; return those that are not."""
        pending: list[dict[str, Any]] = []

        def check() -> bool:
            nonlocal pending
            pending = self.not_ready(namespace)
            return not pending

        wait_for(check, timeout)
        return pending

    # --- leftovers and diagnostics ---------------------------------------------
    def leftovers(self, namespace: str, release: str) -> tuple[list[str], list[str], bool]:
        """(unexpected objects, retained objects, settling) after the release was
        uninstalled; ``settling``: some unexpected object is still being deleted or
        waits for the garbage collector (a pod, or an object with owners)."""
        found: list[tuple[str, dict[str, Any]]] = []
        for kind, path in LEFTOVER_KINDS:
            found += [(kind, obj) for obj in self.items(path.format(ns=namespace))]
        selector = {"labelSelector": f"app.kubernetes.io/instance={release}"}
        for kind, path in CLUSTER_KINDS:
            found += [(kind, obj) for obj in self.items(path, selector)]
        unexpected: list[str] = []
        retained: list[str] = []
        settling = False
        for kind, obj in found:
            verdict = classify_leftover(kind, obj, namespace)
            if verdict is None:
                continue
            keep, text = verdict
            (retained if keep else unexpected).append(text)
            meta = obj["metadata"]
            if not keep and (
                kind == "Pod" or meta.get("deletionTimestamp") or meta.get("ownerReferences")
            ):
                settling = True
        return unexpected, retained, settling

    def events(self, namespace: str, limit: int = 40) -> list[str]:
        events = self.items(f"/api/v1/namespaces/{namespace}/events")
        events.sort(
            key=lambda e: (
                e.get("lastTimestamp")
                or e.get("eventTime")
                or e["metadata"].get("creationTimestamp")
                or ""
            )
        )
        lines = []
        for ev in events[-limit:]:
            obj = ev.get("involvedObject") or {}
            lines.append(
                f"{ev.get('type', ''):8} {ev.get('reason', ''):22} "
                f"{obj.get('kind', '')}/{obj.get('name', '')}: "
                f"{(ev.get('message') or '').strip()}"
            )
        return lines

    def failing_objects(self, namespace: str) -> list[str]:
        """YAML of what is not ready: workloads, and pods that are not Running/Ready."""
        docs = []
        for workload in self.not_ready(namespace):
            docs.append(_brief(workload))
        for pod in self.items(f"/api/v1/namespaces/{namespace}/pods"):
            if pod.get("status", {}).get("phase") == "Succeeded":
                continue
            if not _pod_ready(pod):
                docs.append(_brief(pod))
        for claim in self.items(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"):
            if claim.get("status", {}).get("phase") != "Bound":
                docs.append(_brief(claim))
        return docs


def classify_leftover(kind: str, obj: dict[str, Any], namespace: str) -> tuple[bool, str] | None:
    """Judge an object still there after uninstall: None (Kubernetes' own), or
    (retained?, description). Retained: claims made from volumeClaimTemplates, objects
    Helm was told to keep, helm test pods, volumes held by such claims."""
    meta = obj["metadata"]
    ref = f"{kind}/{meta['name']}"
    annotations = meta.get("annotations") or {}
    if (kind, meta["name"]) in _SYSTEM_OBJECTS:
        return None
    if annotations.get(KEEP) == "keep":
        return True, f"{ref} ({KEEP}: keep)"
    if kind == "PersistentVolumeClaim" and not _helm_managed(obj):
        return True, f"{ref} (claim from a volumeClaimTemplate)"
    if kind == "Pod" and annotations.get("helm.sh/hook", "").startswith("test"):
        return True, f"{ref} (helm test pod without a hook-delete-policy)"
    claim = (obj.get("spec") or {}).get("claimRef") or {}
    held = kind == "PersistentVolume" and claim.get("namespace") == namespace
    if held and meta.get("deletionTimestamp"):
        return True, f"{ref} (deleted; held by retained claim {claim.get('name')})"
    if meta.get("deletionTimestamp"):
        return False, f"{ref} (still terminating)"
    return False, ref


def workload_ready(obj: dict[str, Any]) -> bool:
    """A StatefulSet or Deployment whose current spec is fully rolled out and ready."""
    spec, status = obj.get("spec", {}), obj.get("status") or {}
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return False
    if status.get("readyReplicas", 0) != want or status.get("replicas", 0) != want:
        return False
    if obj.get("kind") == "StatefulSet":
        strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
        if strategy == "RollingUpdate" and want > 0:
            return status.get("updatedReplicas", 0) == want and status.get(
                "currentRevision"
            ) == status.get("updateRevision")
        return True
    return status.get("updatedReplicas", 0) == want and status.get("availableReplicas", 0) == want


def _pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _helm_managed(obj: dict[str, Any]) -> bool:
    """Created by Helm itself (a release resource), not by a controller from a template.

    Labels are no proof (volumeClaimTemplates copy the chart's labels onto claims);
    Helm's own ownership annotation is.
    """
    return "meta.helm.sh/release-name" in (obj["metadata"].get("annotations") or {})


def _brief(obj: dict[str, Any]) -> str:
    """The object without managedFields and other noise, as YAML."""
    meta = {
        k: v
        for k, v in obj.get("metadata", {}).items()
        if k in ("name", "namespace", "labels", "annotations", "generation", "deletionTimestamp")
    }
    doc = {"kind": obj.get("kind", ""), "metadata": meta, "status": obj.get("status")}
    if obj.get("kind") == "Pod":
        doc["spec"] = {"nodeName": obj.get("spec", {}).get("nodeName")}
    return yaml.safe_dump(doc, sort_keys=False)


def wait_for(check: Callable[[], Any], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass(frozen=True)
class Target:
    """Which cluster to install on: a kubeconfig file and a context in it."""

    kubeconfig: Path | None
    context: str | None

    def describe(self) -> str:
        return f"context {self.context or '(current)'} of {self.kubeconfig or '$KUBECONFIG'}"

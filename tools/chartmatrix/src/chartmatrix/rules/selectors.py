"""Services must select pods: the chart's own, or pods it makes something else run.

A Service selector that matches no pod template of the render is an error, unless the pods
are probably made by someone else at install time, which is a warning naming the likely
source (declare the Service under ``external.Service`` or suppress the rule):

* an operator, from a custom resource of the render: a selector value is the custom
  resource's name or kind (``app.kubernetes.io/name: prometheus`` and a ``Prometheus``),
  or the selector is contained in a label map of its spec (``podMetadata.labels``);
* an operator in general: a selector key that operators set (``operator.prometheus.io/name``,
  a key whose prefix names an operator, ``app.kubernetes.io/managed-by`` other than Helm),
  or custom resources in the render whose kind may run pods (not a monitor, route, policy,
  certificate or secret kind);
* the control plane or another namespace: a Service in a namespace other than the
  release's (``kube-system``), or control-plane labels (``component: etcd``,
  ``k8s-app: kube-dns``);
* the pods themselves, at run time: the selector picks a component's pod template of
  the render (by a label beyond the release's) but for labels the template does not
  set, and the render lets that pod's ServiceAccount patch or update pods (a leader
  labelling itself ``vault-active: "true"`` or ``role: primary``, as Vault and Patroni
  do).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chartmatrix.findings import Severity
from chartmatrix.manifests import Manifest
from chartmatrix.rules.base import RuleContext, Violation, rule
from chartmatrix.rules.creators import (
    NO_PODS,
    covers_resource,
    granted_rules,
    is_custom,
    namespace_of,
    service_account,
)
from chartmatrix.rules.pods import PodTemplate, map_selector_matches, pod_templates

RULE = "service/selector-matches"
CONTROL_PLANE = {
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
    "kube-proxy",
    "kube-dns",
    "coredns",
    "kubelet",
    "control-plane",
    "cloud-controller-manager",
}
CONTROL_PLANE_KEYS = {"component", "k8s-app", "tier"}
# labels operators put on the pods they run (prometheus-operator, Zalando postgres-operator)
OPERATOR_KEYS = {"prometheus", "alertmanager", "thanos-ruler", "spilo-role"}
OPERATOR_PREFIXES = ("cnpg.io", "strimzi.io", "k8s.elastic.co")


def _norm(value: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(value).lower())


def _label_maps(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value and all(isinstance(v, str) for v in value.values()):
            yield value
        for v in value.values():
            yield from _label_maps(v)
    elif isinstance(value, list):
        for v in value:
            yield from _label_maps(v)


def _operator_resource(selector: dict[str, Any], crs: list[Manifest]) -> Manifest | None:
    values = {_norm(v) for v in selector.values()}
    for cr in crs:
        if _norm(cr.kind) in values or (cr.name and _norm(cr.name) in values):
            return cr
        if any(
            all(str(labels.get(k)) == str(v) for k, v in selector.items())
            for labels in _label_maps(cr.obj.get("spec"))
        ):
            return cr
    return None


_PATCH_VERBS = {"patch", "update", "*"}


def _may_patch_pods(ctx: RuleContext, pod: PodTemplate) -> str | None:
    """The role of the render (or built-in one it binds) that lets the pod's
    ServiceAccount patch or update pods, or None."""
    account = service_account(pod)
    for role, r in granted_rules(ctx, account, namespace_of(ctx, pod.owner)):
        if covers_resource(r, "pods") and _PATCH_VERBS & set(r.get("verbs") or []):
            return role
    return None


# labels every pod of a release carries: matching them alone does not pick a component
_RELEASE_LABELS = {
    "app",
    "release",
    "chart",
    "heritage",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
    "helm.sh/chart",
}


def _self_labelled(
    ctx: RuleContext, selector: dict[str, Any], pods: list[PodTemplate]
) -> str | None:
    """Why the selected pods may label themselves at run time, or None: the selector
    picks a component's pod template (a label beyond the release's, such as
    ``component: server``) but for labels it does not set, and the render lets that
    pod's ServiceAccount patch pods."""
    for pod in pods:
        labels = pod.labels
        missing = [k for k in selector if k not in labels]
        matched = [k for k in selector if k in labels]
        if not missing or any(str(labels[k]) != str(selector[k]) for k in matched):
            continue
        if not set(matched) - _RELEASE_LABELS:
            continue  # the release's pods in general: not this one labelling itself
        role = _may_patch_pods(ctx, pod)
        if role is not None:
            return (
                f"pods of {pod.owner.ref} once they label themselves {', '.join(missing)} at "
                f"run time (their ServiceAccount {service_account(pod)} may patch pods: {role})"
            )
    if any(k in pod.labels for pod in pods for k in selector):
        return None
    # only labels no template sets (Longhorn's manager labels its own pods): pods that a
    # pod of the render allowed to patch pods labels
    for pod in pods:
        role = _may_patch_pods(ctx, pod)
        if role is not None:
            return (
                f"pods labelled {', '.join(selector)} at run time: no template sets them, and "
                f"the ServiceAccount {service_account(pod)} of {pod.owner.ref} may patch pods "
                f"({role})"
            )
    return None


def _outside(ctx: RuleContext, svc: Manifest, selector: dict[str, Any]) -> str | None:
    """Why the selected pods are probably made outside the chart, or None."""
    crs = [m for m in ctx.manifests if is_custom(m) and m.kind not in NO_PODS]
    cr = _operator_resource(selector, crs)
    if cr is not None:
        return f"pods that the operator of {cr.ref} (custom resource) creates"
    if svc.namespace and svc.namespace != ctx.namespace:
        return f"pods in namespace {svc.namespace}, outside the release's"
    for key, value in selector.items():
        if key in CONTROL_PLANE_KEYS and str(value) in CONTROL_PLANE:
            return f"control-plane pods ({key}: {value})"
    for key, value in selector.items():
        prefix = key.rpartition("/")[0]
        if key in OPERATOR_KEYS or "operator" in prefix or prefix.endswith(OPERATOR_PREFIXES):
            return f"pods an operator creates (label {key})"
        if key == "app.kubernetes.io/managed-by" and str(value).lower() != "helm":
            return f"pods {value} creates"
    if crs:
        listed = ", ".join(m.ref for m in crs[:3]) + (", ..." if len(crs) > 3 else "")
        return f"pods an operator creates from the custom resources of the render ({listed})"
    return None


@rule(
    RULE,
    Severity.ERROR,
    "every Service selector matches some pod template in the render (warning when an "
    "operator or the control plane probably runs the pods, or the pods label themselves)",
)
def service_selects_pods(ctx: RuleContext) -> Iterator[Violation]:
    pods = pod_templates(ctx.manifests)
    for svc in ctx.of_kind("Service"):
        spec = svc.obj.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector or spec.get("type") == "ExternalName":
            continue
        if ctx.is_external("Service", svc.name):
            continue
        if any(map_selector_matches(selector, p) for p in pods):
            continue
        declare = f"declare it under external.Service: [{svc.name}] or suppress {RULE}"
        why = _outside(ctx, svc, selector) or _self_labelled(ctx, selector, pods)
        if why is not None:
            yield Violation(
                f"selector {selector} matches no pod template in the render; it probably "
                f"selects {why}, which cannot be checked offline: if so, {declare}",
                svc.ref,
                "spec.selector",
                Severity.WARNING,
            )
            continue
        yield Violation(
            f"selector {selector} matches no pod template in the render and nothing in the "
            f"render runs such pods: the Service has no endpoints; fix the selector or the pod "
            f"labels, or {declare} if the pods come from outside the chart",
            svc.ref,
            "spec.selector",
        )

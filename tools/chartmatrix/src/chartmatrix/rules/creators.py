"""What makes an object exist at install time although the render does not contain it.

Used by ``refs/exists`` and ``service/selector-matches``. Three degrees, strongest first:

* **made**: the render declares it and a controller creates it: a cert-manager
  ``Certificate`` (``spec.secretName``), an external-secrets ``ExternalSecret``
  (``spec.target.name``, default its own name), a ``SealedSecret`` (its name), a
  Service annotated ``service.beta.openshift.io/serving-cert-secret-name`` (OpenShift's
  service CA writes that Secret), a
  StatefulSet's ``volumeClaimTemplates`` (``<template>-<sts>-<ordinal>``), and the
  ``kube-root-ca.crt`` ConfigMap that Kubernetes puts in every namespace;
* **named creator**: a pod (hook Job or any workload) whose ServiceAccount is bound
  (Role/ClusterRole + RoleBinding/ClusterRoleBinding in the render, or a built-in
  ``cluster-admin``/``admin``/``edit``) to a rule allowing ``create`` on the resource,
  that also names the object: in its containers' command, args or env values
  (``--secret-name=x``), or in a ``resourceNames`` of its RBAC rules for that resource;
* **candidate**: such a pod that may create any object of the resource without naming
  this one, or a custom resource of the render that names the object in its spec, or
  whose name the object's name extends (``db`` -> ``db-app``): its operator may create it.

RBAC ``resourceNames`` limit a rule to the objects they list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chartmatrix.manifests import Manifest
from chartmatrix.rules.base import RuleContext
from chartmatrix.rules.pods import PodTemplate, is_hook, pod_templates

PLURAL = {
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "PersistentVolumeClaim": "persistentvolumeclaims",
}
ALWAYS_PRESENT = {("ConfigMap", "kube-root-ca.crt")}
# custom resource kinds that configure something but never make pods run
NO_PODS = {
    "AlertmanagerConfig",
    "AuthorizationPolicy",
    "BackendConfig",
    "BackendTLSPolicy",
    "Certificate",
    "CertificateRequest",
    "CiliumClusterwideNetworkPolicy",
    "CiliumNetworkPolicy",
    "ClusterIssuer",
    "ClusterSecretStore",
    "DestinationRule",
    "EnvoyFilter",
    "ExternalSecret",
    "FrontendConfig",
    "GatewayClass",
    "GRPCRoute",
    "GrafanaDashboard",
    "HTTPRoute",
    "IngressRoute",
    "IngressRouteTCP",
    "IngressRouteUDP",
    "Issuer",
    "ManagedCertificate",
    "Middleware",
    "MiddlewareTCP",
    "PeerAuthentication",
    "PodMonitor",
    "Probe",
    "PrometheusRule",
    "ReferenceGrant",
    "Route",
    "RequestAuthentication",
    "ScaledObject",
    "ScrapeConfig",
    "SealedSecret",
    "SecretStore",
    "ServersTransport",
    "ServiceEntry",
    "ServiceMonitor",
    "Sidecar",
    "TCPRoute",
    "Telemetry",
    "TLSOption",
    "TLSRoute",
    "TLSStore",
    "TraefikService",
    "TriggerAuthentication",
    "UDPRoute",
    "VerticalPodAutoscaler",
    "VirtualService",
}
# of those, the kinds whose controllers write Secrets (named in their spec)
WRITE_SECRETS = {
    "Certificate",
    "CertificateRequest",
    "ClusterIssuer",
    "ExternalSecret",
    "Issuer",
    "SealedSecret",
}
# a Service annotated so makes OpenShift's service CA write its TLS Secret
SERVING_CERT_ANNOTATIONS = (
    "service.beta.openshift.io/serving-cert-secret-name",
    "service.alpha.openshift.io/serving-cert-secret-name",
)
# built-in ClusterRoles that allow creating Secrets/ConfigMaps/PVCs in a namespace
BUILTIN_CREATORS = {"cluster-admin", "admin", "edit"}
# API groups served by Kubernetes itself; anything else is a custom resource
BUILTIN_GROUPS = {
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
}


def api_group(m: Manifest) -> str:
    return m.api_version.rpartition("/")[0]


def is_custom(m: Manifest) -> bool:
    return api_group(m) not in BUILTIN_GROUPS


@dataclass(frozen=True)
class Creator:
    ref: str  # Job/x, Certificate/y
    why: str  # "(hook) whose ServiceAccount may create Secrets"
    named: bool  # the creator names the object (strong evidence)


def made_by(ctx: RuleContext, kind: str, name: str) -> str | None:
    """The object of the render a controller turns into ``kind``/``name``, if any."""
    if (kind, name) in ALWAYS_PRESENT:
        return "Kubernetes (every namespace)"
    for m in ctx.manifests:
        group, spec = api_group(m), m.obj.get("spec") or {}
        if not isinstance(spec, dict):
            continue
        if kind == "Secret":
            if group == "cert-manager.io" and m.kind == "Certificate":
                if spec.get("secretName") == name:
                    return m.ref
            elif group == "external-secrets.io" and m.kind == "ExternalSecret":
                if ((spec.get("target") or {}).get("name") or m.name) == name:
                    return m.ref
            elif group == "bitnami.com" and m.kind == "SealedSecret":
                meta = (spec.get("template") or {}).get("metadata") or {}
                if (meta.get("name") or m.name) == name:
                    return m.ref
            elif m.kind == "Service" and group == "":
                annotations = (m.obj.get("metadata") or {}).get("annotations") or {}
                if name in (annotations.get(k) for k in SERVING_CERT_ANNOTATIONS):
                    return f"{m.ref} (OpenShift's service CA, serving-cert-secret-name)"
        if kind == "PersistentVolumeClaim" and m.kind == "StatefulSet" and _claim_of(m, name):
            return m.ref
    return None


def _claim_of(sts: Manifest, claim: str) -> bool:
    spec = sts.obj.get("spec") or {}
    for vct in spec.get("volumeClaimTemplates") or []:
        prefix = f"{(vct.get('metadata') or {}).get('name')}-{sts.name}-"
        if claim.startswith(prefix) and claim[len(prefix) :].isdigit():
            return True
    return False


def service_account(pod: PodTemplate) -> str:
    return str(pod.spec.get("serviceAccountName") or pod.spec.get("serviceAccount") or "default")


def namespace_of(ctx: RuleContext, m: Manifest) -> str:
    return m.namespace or ctx.namespace


def _binds(ctx: RuleContext, binding: Manifest, sa: str, namespace: str) -> bool:
    for subject in binding.obj.get("subjects") or []:
        if not isinstance(subject, dict):
            continue
        kind, sname = subject.get("kind"), subject.get("name")
        subject_ns = subject.get("namespace") or namespace_of(ctx, binding)
        if kind == "ServiceAccount" and sname == sa and subject_ns == namespace:
            return True
        if kind == "Group" and sname in (
            "system:serviceaccounts",
            f"system:serviceaccounts:{namespace}",
        ):
            return True
    return False


def granted_rules(
    ctx: RuleContext, sa: str, namespace: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(role ref, rule) for every RBAC rule granted to the ServiceAccount by the render;
    a binding to a built-in role yields a synthetic allow-all rule."""
    for binding in ctx.of_kind("RoleBinding", "ClusterRoleBinding"):
        if binding.kind == "RoleBinding" and namespace_of(ctx, binding) != namespace:
            continue
        if not _binds(ctx, binding, sa, namespace):
            continue
        role_ref = binding.obj.get("roleRef") or {}
        kind, name = role_ref.get("kind"), role_ref.get("name")
        role = ctx.find(str(kind), str(name))
        if role is None and kind == "ClusterRole" and name in BUILTIN_CREATORS:
            yield f"ClusterRole/{name}", {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
            continue
        if role is None:
            continue
        for r in role.obj.get("rules") or []:
            if isinstance(r, dict):
                yield role.ref, r


def covers_resource(r: dict[str, Any], plural: str) -> bool:
    groups = r.get("apiGroups") or []
    resources = r.get("resources") or []
    return ("" in groups or "*" in groups) and (plural in resources or "*" in resources)


def _may_create(r: dict[str, Any], plural: str, name: str) -> bool:
    verbs = r.get("verbs") or []
    names = r.get("resourceNames") or []
    return (
        covers_resource(r, plural)
        and ("create" in verbs or "*" in verbs)
        and (not names or name in names)
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _mentions(texts: Iterator[str], name: str) -> bool:
    word = re.compile(rf"(?<![A-Za-z0-9-]){re.escape(name)}(?![A-Za-z0-9-])")
    return any(word.search(t) for t in texts)


def _pod_mentions(pod: PodTemplate, name: str) -> bool:
    def texts() -> Iterator[str]:
        for _, c in pod.containers():
            yield from _strings(c.get("command"))
            yield from _strings(c.get("args"))
            for env in c.get("env") or []:
                if isinstance(env, dict):
                    yield from _strings(env.get("value"))

    return _mentions(texts(), name)


def creators(ctx: RuleContext, kind: str, name: str, user: Manifest) -> list[Creator]:
    """Objects of the render that may create ``kind``/``name`` at install time, the ones
    that name it first. ``user`` (the object that needs it) is never its own creator:
    a pod cannot start before the objects it mounts exist."""
    plural = PLURAL.get(kind)
    found: list[Creator] = []
    if plural is not None:
        for pod in pod_templates(ctx.manifests):
            if pod.owner is user:
                continue
            granted = list(granted_rules(ctx, service_account(pod), namespace_of(ctx, pod.owner)))
            if not any(_may_create(r, plural, name) for _, r in granted):
                continue
            named = _pod_mentions(pod, name) or any(
                covers_resource(r, plural) and name in (r.get("resourceNames") or [])
                for _, r in granted
            )
            hook = " (hook)" if is_hook(pod.owner) else ""
            found.append(
                Creator(
                    pod.owner.ref,
                    f"{hook} whose ServiceAccount may create {kind}s",
                    named,
                )
            )
    for m in ctx.manifests:
        if not is_custom(m) or m is user or m.kind in NO_PODS - WRITE_SECRETS:
            continue  # a route, a monitor, a policy: its controller creates no object
        spec = m.obj.get("spec")
        extends = bool(m.name) and (name == m.name or name.startswith(f"{m.name}-"))
        if extends or _mentions(_strings(spec), name):
            found.append(Creator(m.ref, " (custom resource: its operator may create it)", False))
    return sorted(found, key=lambda c: not c.named)

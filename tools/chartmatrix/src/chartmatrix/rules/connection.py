"""Connection state: long-lived gRPC connections must be balanced per request (L7)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import yaml

from chartmatrix.findings import Severity
from chartmatrix.manifests import Manifest
from chartmatrix.rules.base import RuleContext, Violation, rule

BACKEND_PROTOCOL = "nginx.ingress.kubernetes.io/backend-protocol"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DNS_TYPES = {"STRICT_DNS"}
DNS_EXTENSIONS = {"envoy.clusters.dns", "envoy.cluster.strict_dns"}


def _cluster_kind(cluster: dict[str, Any]) -> str:
    """STRICT_DNS for per-address DNS clusters (``type`` or the DnsCluster extension)."""
    ext = cluster.get("cluster_type")
    if isinstance(ext, dict):
        typed = ext.get("typed_config") or {}
        single = bool(typed.get("all_addresses_in_single_endpoint"))
        is_dns = ext.get("name") in DNS_EXTENSIONS or str(typed.get("@type", "")).endswith(
            ".DnsCluster"
        )
        if is_dns:
            return "LOGICAL_DNS" if single else "STRICT_DNS"
        return str(ext.get("name") or "custom")
    return str(cluster.get("type") or "STATIC")


def _grpc_ports(ctx: RuleContext) -> set[tuple[str, str]]:
    """(service, port name or number) pairs that speak gRPC."""
    out = set()
    for svc in ctx.of_kind("Service"):
        for port in (svc.obj.get("spec") or {}).get("ports") or []:
            proto = str(port.get("appProtocol") or "").lower()
            name = str(port.get("name") or "")
            if "grpc" in proto or name.startswith("grpc"):
                out.add((svc.name, name))
                out.add((svc.name, str(port.get("port"))))
    return out


def _backends(ingress: Manifest) -> Iterator[tuple[str, str]]:
    spec = ingress.obj.get("spec") or {}
    backends = [spec.get("defaultBackend") or {}]
    for r in spec.get("rules") or []:
        for p in ((r.get("http") or {}).get("paths")) or []:
            backends.append(p.get("backend") or {})
    for b in backends:
        svc = b.get("service") or {}
        port = svc.get("port") or {}
        if svc.get("name"):
            yield svc["name"], str(port.get("name") or port.get("number"))


@rule(
    "connection/grpc-ingress",
    Severity.ERROR,
    "a gRPC Ingress sets backend-protocol GRPC/GRPCS and terminates TLS",
)
def grpc_ingress(ctx: RuleContext) -> Iterator[Violation]:
    grpc = _grpc_ports(ctx)
    for ing in ctx.of_kind("Ingress"):
        ann = ing.metadata.get("annotations") or {}
        protocol = str(ann.get(BACKEND_PROTOCOL, ""))
        is_grpc = protocol.upper().startswith("GRPC") or any(b in grpc for b in _backends(ing))
        if not is_grpc:
            continue
        if protocol.upper() not in ("GRPC", "GRPCS"):
            yield Violation(
                f"routes to a gRPC port but {BACKEND_PROTOCOL} is {protocol or 'unset'} "
                "(want GRPC or GRPCS): ingress-nginx would proxy HTTP/1.1",
                ing.ref,
                "metadata.annotations",
            )
        if not (ing.obj.get("spec") or {}).get("tls"):
            yield Violation(
                "gRPC Ingress without spec.tls: ingress-nginx serves gRPC (HTTP/2) only over TLS",
                ing.ref,
                "spec.tls",
            )


@lru_cache(maxsize=256)
def _envoy_config(text: str, is_json: bool) -> dict[str, Any] | None:
    """The Envoy bootstrap in a ConfigMap value, or None. Many cases render the same
    config, so it is parsed once; the dict is shared: rules only read it."""
    try:
        doc = json.loads(text) if is_json else yaml.load(text, Loader=_LOADER)
    except (ValueError, yaml.YAMLError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("static_resources"), dict):
        return doc
    return None


def _envoy_configs(ctx: RuleContext) -> Iterator[tuple[Manifest, str, dict[str, Any]]]:
    for cm in ctx.of_kind("ConfigMap"):
        for key, text in (cm.obj.get("data") or {}).items():
            if not isinstance(text, str) or not key.endswith((".yaml", ".yml", ".json")):
                continue
            doc = _envoy_config(text, key.endswith(".json"))
            if doc is not None:
                yield cm, key, doc


def _addresses(cluster: dict[str, Any]) -> Iterator[str]:
    assignment = cluster.get("load_assignment") or {}
    for group in assignment.get("endpoints") or []:
        for lb in group.get("lb_endpoints") or []:
            sock = (((lb.get("endpoint") or {}).get("address")) or {}).get("socket_address") or {}
            if sock.get("address"):
                yield str(sock["address"])


def _service_of(address: str, ctx: RuleContext) -> tuple[str, str] | None:
    """In-cluster service (name, namespace) an address names; None when external or an IP.

    ``svc``, ``svc.ns.svc[.domain]`` are in-cluster; ``a.b`` is ``svc.ns`` when ``b`` is the
    release namespace or ``a`` a rendered Service, otherwise an external host name.
    """
    namespace = ctx.namespace
    host = address.rstrip(".")
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if host == "localhost":
        return None
    labels = host.split(".")
    if len(labels) == 1:
        return labels[0], namespace
    if len(labels) >= 3 and labels[2] == "svc":
        return labels[0], labels[1]
    if len(labels) == 2 and (labels[1] == namespace or ctx.find("Service", labels[0])):
        return labels[0], labels[1]
    return None


@rule(
    "connection/envoy-headless",
    Severity.ERROR,
    "every DNS cluster address in a rendered Envoy config is a headless Service in the render",
)
def envoy_clusters(ctx: RuleContext) -> Iterator[Violation]:
    for cm, key, doc in _envoy_configs(ctx):
        for i, cluster in enumerate(doc["static_resources"].get("clusters") or []):
            if not isinstance(cluster, dict):
                continue
            ctype = _cluster_kind(cluster)
            for address in _addresses(cluster):
                target = _service_of(address, ctx)
                if target is None:
                    continue
                name, ns = target
                where = f"data[{key!r}] clusters[{i}] {cluster.get('name', '')}"
                svc = ctx.find("Service", name)
                if svc is None and not ctx.is_external("Service", name):
                    yield Violation(f"{where}: {address} is not a Service in the render", cm.ref)
                    continue
                if svc is not None and (svc.namespace or ctx.namespace) != ns:
                    yield Violation(
                        f"{where}: {address} names namespace {ns}, the Service renders into "
                        f"{svc.namespace or ctx.namespace}",
                        cm.ref,
                    )
                if svc is not None and (svc.obj.get("spec") or {}).get("clusterIP") != "None":
                    yield Violation(
                        f"{where}: {address} is not headless: Envoy sees one virtual IP and "
                        "cannot balance requests over the pods",
                        cm.ref,
                    )
                if ctype not in DNS_TYPES:
                    yield Violation(
                        f"{where}: cluster type {ctype} does not balance over every address the "
                        "name resolves to; use STRICT_DNS (or the DnsCluster extension)",
                        cm.ref,
                    )

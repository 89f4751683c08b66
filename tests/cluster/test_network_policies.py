"""The charts' NetworkPolicies on a real API server (kwok nodes): admitted by the API
server's validation, and selecting the intended pods when the API server itself does the
label matching.

Each chart is installed with named clients, a restricted egress and (for the web app and
gRPC behind a Gateway) an edge namespace. Beside the release run labelled stand-ins: a
client in the release namespace, a reader and a stranger in a client namespace, an
Ingress/Gateway pod in an edge namespace, a pod labelled like the chart's ``helm test``
pod, an unlabelled stranger and a kube-dns pod in kube-system. Then, for every policy:

- its ``podSelector``, listed through the API, selects exactly the workload's pods;
- each ingress ``from`` and egress ``to`` peer, resolved through the API (namespaces by
  ``namespaceSelector``, then pods by ``podSelector``), selects exactly the intended pods.

No CNI enforces anything here (kwok runs no data plane): what is proven is what a CNI
is given; chart_tests/test_charts_network.py evaluates the same rules offline.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chartmatrix.cluster.install_kube import PSA_LABELS

pytestmark = pytest.mark.cluster

Pods = set[tuple[str, str]]  # (namespace, pod name)


# --- label selectors through the API ------------------------------------------------
def selector_query(selector: dict[str, Any] | None) -> str:
    """A LabelSelector as the API's labelSelector query ("" selects everything)."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            raise AssertionError(f"unknown operator {op}")
    return ",".join(parts)


def selected(cluster, namespace: str, selector: dict[str, Any]) -> Pods:
    return {
        (namespace, p["metadata"]["name"])
        for p in cluster.pods(namespace, selector_query(selector))
    }


def peer_pods(cluster, namespace: str, peers: list[dict[str, Any]]) -> Pods:
    """The pods a list of NetworkPolicy peers selects, as the API server matches labels."""
    found: Pods = set()
    for peer in peers:
        assert "ipBlock" not in peer, "these scenarios name pods only"
        if "namespaceSelector" in peer:
            query = selector_query(peer["namespaceSelector"])
            spaces = [
                n["metadata"]["name"]
                for n in cluster.kube.items(
                    "/api/v1/namespaces", {"labelSelector": query} if query else None
                )
            ]
        else:
            spaces = [namespace]
        for space in spaces:
            found |= selected(cluster, space, peer.get("podSelector") or {})
    return found


def policies(cluster, namespace: str, release: str) -> dict[str, dict[str, Any]]:
    items = cluster.kube.items(
        f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies",
        {"labelSelector": f"app.kubernetes.io/instance={release}"},
    )
    return {p["metadata"]["name"]: p for p in items}


def workload_pods(cluster, namespace: str, kind: str, name: str) -> Pods:
    plural = {"StatefulSet": "statefulsets", "Deployment": "deployments"}[kind]
    obj = cluster.kube.get(f"/apis/apps/v1/namespaces/{namespace}/{plural}/{name}")
    assert obj is not None, f"no {kind} {name}"
    pods = selected(cluster, namespace, obj["spec"]["selector"])
    assert len(pods) == obj["spec"]["replicas"], f"{kind} {name}: {sorted(pods)}"
    return pods


# --- stand-in pods and namespaces ------------------------------------------------------
def pod_body(name: str, labels: dict[str, str]) -> dict[str, Any]:
    restricted = {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {"name": "c", "image": "registry.example/stand-in:1", "securityContext": restricted}
            ],
        },
    }


class World:
    """The stand-ins of one test: extra namespaces and labelled pods."""

    def __init__(self, cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        suffix = time.time_ns() % 10**9
        self.clients_ns = f"clients-{suffix}"
        self.edge_ns = f"edge-{suffix}"
        # label values of this test only: namespaces of earlier tests may still be
        # terminating, and a selector must not find them
        self.team = {"destate.test/team": f"shop-{suffix}"}
        self.role = {"destate.test/role": f"edge-{suffix}"}
        self.spaces: list[str] = []
        self.dns: Pods = set()

    def space(self, name: str, labels: dict[str, str]) -> None:
        self.cluster.kube.create_namespace(name, {**PSA_LABELS, **labels})
        self.spaces.append(name)

    def pod(self, namespace: str, name: str, labels: dict[str, str]) -> tuple[str, str]:
        path = f"/api/v1/namespaces/{namespace}/pods"
        self.cluster.kube.api.create(path, pod_body(name, labels), exist_ok=False)
        return (namespace, name)

    def dns_pod(self) -> Pods:
        """A pod labelled like CoreDNS in kube-system (kept: other tests may share it)."""
        body = pod_body("destate-coredns-stand-in", {"k8s-app": "kube-dns"})
        self.cluster.kube.api.create("/api/v1/namespaces/kube-system/pods", body, exist_ok=True)
        return {("kube-system", "destate-coredns-stand-in")}

    def close(self) -> None:
        for name in self.spaces:
            self.cluster.kube.delete_namespace(name)


@pytest.fixture
def world(cluster, namespace: str) -> Iterator[World]:
    stand_ins = World(cluster, namespace)
    try:
        yield stand_ins
    finally:
        stand_ins.close()


def ingress_from(policy: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [rule.get("from") or [] for rule in policy["spec"].get("ingress") or []]


def egress_to(policy: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [rule.get("to") or [] for rule in policy["spec"].get("egress") or []]


def common_stand_ins(world: World, test_name: str, release: str) -> dict[str, tuple[str, str]]:
    """Clients by label here and in a client namespace, strangers, a fake helm test pod."""
    ns = world.namespace
    world.space(world.clients_ns, world.team)
    world.space(world.edge_ns, world.role)
    return {
        "client": world.pod(ns, "client", {"app": "shop"}),
        "stranger": world.pod(ns, "stranger", {"app": "other"}),
        "test": world.pod(
            ns,
            "fake-helm-test",
            {"app.kubernetes.io/name": test_name, "app.kubernetes.io/instance": release},
        ),
        "reader": world.pod(world.clients_ns, "reader", {"role": "reader"}),
        "writer": world.pod(world.clients_ns, "writer", {"role": "writer"}),
        "remote-shop": world.pod(world.clients_ns, "shop", {"app": "shop"}),
        "edge": world.pod(world.edge_ns, "controller", {"app": "edge-proxy"}),
    }


def strict_values(world: World) -> dict[str, Any]:
    return {
        "network": {
            "policy": {
                "allowExternal": False,
                "restrictEgress": True,
                "clients": [
                    {"podSelector": {"matchLabels": {"app": "shop"}}},
                    {
                        "namespaceSelector": {"matchLabels": world.team},
                        "podSelector": {
                            "matchExpressions": [
                                {"key": "role", "operator": "In", "values": ["reader"]}
                            ]
                        },
                    },
                ],
                "edge": [{"namespaceSelector": {"matchLabels": world.role}}],
            }
        }
    }


# --- the charts ----------------------------------------------------------------------------
def test_mysql_policy_selects_the_database_its_clients_and_its_peers(
    cluster, charts, world
) -> None:
    ns = world.namespace
    s = common_stand_ins(world, "mysql-test", "db")
    dns = world.dns_pod()
    values = {
        **strict_values(world),
        "workload": {"replicas": 3},
        "persistence": {"size": "1Gi"},
        "auth": {"rootPassword": "net-root", "replicationPassword": "net-repl"},
    }
    cluster.install(charts["mysql"], "db", ns, values)
    db = workload_pods(cluster, ns, "StatefulSet", "db-mysql")

    found = policies(cluster, ns, "db")
    assert sorted(found) == ["db-mysql"]  # admitted by the API server, one per workload
    policy = found["db-mysql"]
    assert selected(cluster, ns, policy["spec"]["podSelector"]) == db
    clients, peers = ingress_from(policy)
    assert peer_pods(cluster, ns, clients) == {s["test"], s["client"], s["reader"]}
    assert peer_pods(cluster, ns, peers) == db  # replicas <-> primary
    dns_to, peers_to = egress_to(policy)
    assert peer_pods(cluster, ns, dns_to) == dns
    assert peer_pods(cluster, ns, peers_to) == db


def test_web_session_policies_select_the_app_its_redis_and_their_callers(
    cluster, charts, world
) -> None:
    ns = world.namespace
    s = common_stand_ins(world, "web-session-test", "web")
    dns = world.dns_pod()
    values = {
        **strict_values(world),
        "workload": {"replicas": 2},
        "session": {"mode": "store"},
        "expose": {"mode": "ingress", "ingress": {"host": "shop.example.com"}},
    }
    cluster.install(charts["web-session"], "web", ns, values)
    app = workload_pods(cluster, ns, "Deployment", "web-web-session")
    redis = workload_pods(cluster, ns, "StatefulSet", "web-web-session-redis")

    found = policies(cluster, ns, "web")
    assert sorted(found) == ["web-web-session", "web-web-session-redis"]
    app_policy, redis_policy = found["web-web-session"], found["web-web-session-redis"]
    assert selected(cluster, ns, app_policy["spec"]["podSelector"]) == app
    assert selected(cluster, ns, redis_policy["spec"]["podSelector"]) == redis
    # the app: the helm test pod, named clients and the edge (Ingress controller) only
    assert ingress_from(app_policy) == [ingress_from(app_policy)[0]]
    assert peer_pods(cluster, ns, ingress_from(app_policy)[0]) == {
        s["test"],
        s["client"],
        s["reader"],
        s["edge"],
    }
    # Redis: the app's pods only (not the test pod, clients or strangers)
    assert [peer_pods(cluster, ns, peers) for peers in ingress_from(redis_policy)] == [app]
    # egress: the app reaches DNS and its Redis; Redis reaches DNS only
    assert [peer_pods(cluster, ns, to) for to in egress_to(app_policy)] == [dns, redis]
    assert [peer_pods(cluster, ns, to) for to in egress_to(redis_policy)] == [dns]


def test_grpc_policies_put_the_servers_behind_their_envoy(cluster, charts, world) -> None:
    ns = world.namespace
    s = common_stand_ins(world, "grpc-test", "echo")
    dns = world.dns_pod()
    values = {
        **strict_values(world),
        "workload": {"replicas": 3},
        "proxy": {"replicas": 2},
        "connection": {"mode": "envoy"},
    }
    cluster.install(charts["grpc"], "echo", ns, values)
    servers = workload_pods(cluster, ns, "Deployment", "echo-grpc")
    envoy = workload_pods(cluster, ns, "Deployment", "echo-grpc-envoy")
    assert not servers & envoy

    found = policies(cluster, ns, "echo")
    assert sorted(found) == ["echo-grpc", "echo-grpc-envoy"]
    server_policy, envoy_policy = found["echo-grpc"], found["echo-grpc-envoy"]
    assert selected(cluster, ns, server_policy["spec"]["podSelector"]) == servers
    assert selected(cluster, ns, envoy_policy["spec"]["podSelector"]) == envoy
    # servers: from their Envoy only; Envoy: the helm test pod and the named clients
    assert [peer_pods(cluster, ns, p) for p in ingress_from(server_policy)] == [envoy]
    assert [peer_pods(cluster, ns, p) for p in ingress_from(envoy_policy)] == [
        {s["test"], s["client"], s["reader"]}
    ]
    assert [peer_pods(cluster, ns, to) for to in egress_to(envoy_policy)] == [dns, servers]
    assert [peer_pods(cluster, ns, to) for to in egress_to(server_policy)] == [dns]


def test_grpc_behind_an_ingress_admits_the_edge_namespace(cluster, charts, world) -> None:
    ns = world.namespace
    s = common_stand_ins(world, "grpc-test", "echo")
    values = {
        **strict_values(world),
        "workload": {"replicas": 2},
        "connection": {
            "mode": "ingress",
            "ingress": {"host": "echo.example.com", "tls": {"secretName": "echo-tls"}},
        },
    }
    cluster.install(charts["grpc"], "echo", ns, values)
    servers = workload_pods(cluster, ns, "Deployment", "echo-grpc")
    found = policies(cluster, ns, "echo")
    assert sorted(found) == ["echo-grpc"]
    policy = found["echo-grpc"]
    assert selected(cluster, ns, policy["spec"]["podSelector"]) == servers
    # the Ingress controller's namespace (network.policy.edge), the test pod and clients
    assert [peer_pods(cluster, ns, p) for p in ingress_from(policy)] == [
        {s["test"], s["client"], s["reader"], s["edge"]}
    ]


def test_default_policies_are_admitted_and_open_on_the_serving_port(
    cluster, charts, namespace
) -> None:
    values = {"workload": {"replicas": 2}, "session": {"mode": "store"}}
    cluster.install(charts["web-session"], "web", namespace, values)
    found = policies(cluster, namespace, "web")
    app = found["web-web-session"]["spec"]
    assert app["policyTypes"] == ["Ingress"]  # egress left alone
    assert app["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]  # any source
    redis = found["web-web-session-redis"]["spec"]
    app_pods = workload_pods(cluster, namespace, "Deployment", "web-web-session")
    assert [
        peer_pods(cluster, namespace, p) for p in ingress_from(found["web-web-session-redis"])
    ] == [app_pods]
    assert redis["policyTypes"] == ["Ingress"]


@pytest.mark.parametrize(
    "peer,chart_message",
    [
        ({}, "must set podSelector, namespaceSelector or ipBlock"),
        (
            {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
            "must not combine ipBlock with podSelector or namespaceSelector",
        ),
    ],
    ids=["empty-peer", "ipblock-with-selector"],
)
def test_peers_the_chart_refuses_are_the_ones_the_api_server_rejects(
    cluster, charts, namespace, peer: dict[str, Any], chart_message: str
) -> None:
    """The library's peer checks mirror the API server's validation: what it refuses
    offline, the API server would reject at install time (status 422)."""
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "probe"},
        "spec": {"podSelector": {}, "ingress": [{"from": [peer]}]},
    }
    path = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
    status, payload = cluster.kube.api.request("POST", path, policy, {"dryRun": "All"})
    assert status == 422, payload
    done = subprocess.run(
        [
            cluster.helm,
            "template",
            "db",
            str(charts["mysql"]),
            "--skip-schema-validation",
            "--set",
            "global.destate.insecurePredictablePasswords=true",  # offline render
            "--set-json",
            f"network.policy.clients=[{json.dumps(peer)}]",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"network.policy.clients[0] {chart_message}" in done.stderr

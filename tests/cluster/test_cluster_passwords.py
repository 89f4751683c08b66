"""Generated passwords against the local control plane (a real kube-apiserver, not a fake):
an install that reaches the cluster generates a random password once and reads it back on
every upgrade, without the tests' predictable-placeholder opt-in; the same chart rendered
offline refuses to invent one (library README, "Generated passwords")."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess

import pytest
import yaml

pytestmark = pytest.mark.cluster

RELEASE = "web"
SECRET = "web-web-session-session-store"
VALUES = {"session": {"mode": "store"}, "workload": {"replicas": 1}}


def _secret(cluster, namespace: str) -> dict[str, str]:
    obj = cluster.kube.get(f"/api/v1/namespaces/{namespace}/secrets/{SECRET}")
    assert obj, f"no Secret {SECRET}"
    return {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}


def test_online_install_generates_once_and_offline_render_refuses(
    cluster, charts, namespace
) -> None:
    chart = str(charts["web-session"])
    cluster.install(charts["web-session"], RELEASE, namespace, VALUES)
    first = _secret(cluster, namespace)
    assert re.fullmatch(r"[A-Za-z0-9]{24}", first["password"])
    placeholder = hashlib.sha256(f"destate/{namespace}/{RELEASE}/{SECRET}/password".encode())
    assert first["password"] != placeholder.hexdigest()[:24]
    assert f":{first['password']}@" in first["url"]

    cluster.install(charts["web-session"], RELEASE, namespace, VALUES)  # upgrade
    assert _secret(cluster, namespace) == first  # read back, not generated again

    # a server-side dry run is online too: it reads the live Secret
    out = cluster.helm_run(
        "template", RELEASE, chart, "--namespace", namespace, "--dry-run=server", values=VALUES
    )
    (secret,) = [
        d
        for d in yaml.safe_load_all(out)
        if d and d["kind"] == "Secret" and d["metadata"]["name"] == SECRET
    ]
    assert base64.b64decode(secret["data"]["password"]).decode() == first["password"]

    # offline (what Argo CD and kustomize do): no cluster, so no password is invented
    offline = subprocess.run(
        [cluster.helm, "template", RELEASE, chart, "--namespace", namespace, "--values", "-"],
        input=yaml.safe_dump(VALUES),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert offline.returncode != 0
    assert "destate: session.store.redis.auth.password must be set" in offline.stderr

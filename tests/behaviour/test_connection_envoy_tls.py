"""Connection state with TLS to the pods: charts/grpc with connection.tls.existingSecret.

A throwaway CA and a server certificate for the headless Service name are made with openssl
and put in the kubernetes.io/tls Secret the release names (as cert-manager would). The
grpc-echo backends run with the rendered Deployment's env and its Secret volume (tls.crt,
tls.key), so they serve TLS only, with gRPC health in plaintext on the probe port; the real
Envoy runs the rendered envoy.yaml with the Secret's ca.crt where its pod mounts it. Envoy's
upstream TLS must verify the servers: a certificate from another CA, or for another name, is
refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from .front import HEADLESS_FQDN, Front, envoy_front
from .procs import Processes, wait_until
from .tlscerts import make_ca

SECRET = "demo-grpc-tls"
CALLS = 90


def values(**tls: str) -> dict[str, Any]:
    return {
        "connection": {
            "mode": "envoy",
            "envoy": {"healthCheck": {"interval": "1s", "timeout": "1s"}},
            "tls": {"existingSecret": SECRET, **tls},
        }
    }


@pytest.fixture
def front(procs: Processes, tmp_path: Path) -> Iterator[Front]:
    ca = make_ca(tmp_path / "pki")
    cert = ca.issue(tmp_path / "pki", "server", [HEADLESS_FQDN])
    with envoy_front(procs, tmp_path, values(), extra_docs=[cert.secret(SECRET)]) as started:
        yield started


def test_calls_through_envoy_reach_every_tls_server(front: Front) -> None:
    with front.client.channel(front.envoy.target) as chan:
        seen, failed = front.client.distribution(chan, CALLS)
    handshakes = front.stat("cluster.upstream.ssl.handshake")
    print(f"through Envoy over TLS: {dict(sorted(seen.items()))}; handshakes={handshakes}")
    assert failed == 0
    assert set(seen) == set(front.backends.procs)
    # Envoy reached the servers over TLS: one handshake per upstream connection (health
    # checks included), none failed verification
    assert handshakes >= len(front.backends.procs)
    assert front.stat("cluster.upstream.ssl.fail_verify_error") == 0
    assert front.stat("cluster.upstream.ssl.fail_verify_san") == 0


def test_the_servers_speak_tls_only(front: Front, tmp_path: Path) -> None:
    host = next(iter(front.backends.addresses.values()))
    target = f"{host}:{front.backends.port}"
    with front.client.channel(target) as plain, pytest.raises(grpc.RpcError) as refused:
        front.client.echo(plain, "plaintext?", timeout=3)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    ca = str(tmp_path / "pki" / "ca.crt")
    with front.client.channel(target, ca_file=ca, server_name=HEADLESS_FQDN) as secure:
        assert front.client.echo(secure, "tls", timeout=5).message == "tls"
    # the kubelet's gRPC probe port: health only, plaintext
    with front.client.channel(f"{host}:{front.backends.health_port}") as probe:
        assert front.client.health(probe) == "SERVING"
        with pytest.raises(grpc.RpcError) as no_echo:
            front.client.echo(probe, "echo on the probe port?", timeout=3)
    assert no_echo.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.parametrize(
    ("case", "stat"),
    [("certificate from another CA", "fail_verify_error"), ("another name", "fail_verify_san")],
)
def test_envoy_refuses_a_server_it_cannot_verify(
    procs: Processes, tmp_path: Path, case: str, stat: str
) -> None:
    pki = tmp_path / "pki"
    trusted = make_ca(pki, "trusted")
    if case == "another name":
        cert = trusted.issue(pki, "server", ["someone-else.default.svc.cluster.local"])
    else:
        cert = make_ca(pki, "impostor").issue(pki, "server", [HEADLESS_FQDN])
    secret = cert.secret(SECRET)
    secret["stringData"]["ca.crt"] = trusted.cert.read_text()  # what Envoy trusts
    with envoy_front(
        procs, tmp_path, values(), backends=2, extra_docs=[secret], wait_healthy=False
    ) as front:
        counter = f"cluster.upstream.ssl.{stat}"
        wait_until(lambda: front.stat(counter) > 0, 20, f"Envoy counts {counter}")
        with front.client.channel(front.envoy.target) as chan:
            seen, failed = front.client.distribution(chan, 5)
        print(f"{case}: {counter}={front.stat(counter)}, calls answered {dict(seen)}")
        assert (seen, failed) == ({}, 5)
        assert front.healthy() == []

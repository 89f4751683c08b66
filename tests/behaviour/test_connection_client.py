"""Connection state, client-side: the target and service config that charts/grpc renders for
connection.mode=client balance one channel over every pod of the headless Service, and the
servers' max connection age (rendered env) makes clients find pods added later.

Three examples/grpc-echo backends run with the rendered Deployment's env; a DNS server in the
test answers the headless Service name. Only the DNS server's address is patched into the
rendered target (`dns:///NAME:PORT` -> `dns://RESOLVER/NAME:PORT`) and the port.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import grpc
import pytest

from .dns import DnsServer
from .echo import Backends, echo_client, start_backends
from .procs import Processes, loopback_block, wait_until
from .rendered import files_of, named, render

CALLS = 300


def values(max_age: int) -> dict[str, object]:
    client = {"maxConnectionAgeSeconds": max_age, "maxConnectionAgeGraceSeconds": 1}
    return {"connection": {"mode": "client", "client": client}}


@dataclass
class Setup:
    client: ModuleType
    backends: Backends
    dns: DnsServer
    target: str
    service_config: str
    fqdn: str

    def channel(self, service_config: str | None) -> grpc.Channel:
        # A client's own knob: gRPC asks DNS again at most every 30 s by default; 1 s keeps
        # the test short. What makes it ask at all is the server closing the connection.
        options: list[tuple[str, str | int]] = [("grpc.dns_min_time_between_resolutions_ms", 1000)]
        if service_config:
            options.append(("grpc.service_config", service_config))
        return grpc.insecure_channel(self.target, options=options)


@pytest.fixture
def setup(procs: Processes, tmp_path: Path) -> Iterator[Setup]:
    with _setup(procs, tmp_path, max_age=2) as ready:
        yield ready


@contextmanager
def _setup(procs: Processes, tmp_path: Path, max_age: int) -> Iterator[Setup]:
    client = echo_client()
    docs = render("grpc", tmp_path, values(max_age))
    config = files_of(named(docs, "ConfigMap", "demo-grpc-grpc-client"))
    rendered_target = config["target"].decode()
    service_config = config["service-config.json"].decode()
    assert json.loads(service_config) == {"loadBalancingConfig": [{"round_robin": {}}]}
    prefix = "dns:///"
    assert rendered_target.startswith(prefix), rendered_target
    fqdn, _, _ = rendered_target[len(prefix) :].rpartition(":")
    backends = start_backends(docs, procs, tmp_path, loopback_block(3))
    dns = DnsServer(records={fqdn: list(backends.addresses.values())}).start()
    target = f"dns://{dns.host}:{dns.port}/{fqdn}:{backends.port}"
    try:
        yield Setup(client, backends, dns, target, service_config, fqdn)
    finally:
        dns.stop()


def _warm_up(setup: Setup, chan: grpc.Channel, backends: int) -> None:
    """round_robin sends calls only to connected pods: wait until all have answered."""
    seen: set[str] = set()

    def all_answered() -> bool:
        seen.add(setup.client.echo(chan, "warm-up").instance)
        return len(seen) == backends

    wait_until(all_answered, 10, f"all {backends} pods connected", step=0.01)


def test_rendered_service_config_spreads_one_channel_over_all_pods(setup: Setup) -> None:
    with setup.channel(setup.service_config) as chan:
        _warm_up(setup, chan, 3)
        seen, failed = setup.client.distribution(chan, CALLS)
    print(f"client-side round_robin: {dict(sorted(seen.items()))}")
    assert failed == 0
    assert set(seen) == set(setup.backends.procs)
    assert min(seen.values()) >= CALLS * 0.2


def test_without_the_service_config_the_channel_sticks_to_one_pod(setup: Setup) -> None:
    with setup.channel(None) as chan:  # gRPC's default: pick_first
        seen, failed = setup.client.distribution(chan, CALLS)
    print(f"pick_first over the same name: {dict(seen)}")
    assert failed == 0
    assert len(seen) == 1


def _scale_out(setup: Setup, wait: float) -> tuple[str, float | None]:
    """Calls over one channel while a third pod joins DNS; seconds until it got a call."""
    names = sorted(setup.backends.addresses)
    newcomer = names[-1]
    setup.dns.records[setup.fqdn] = [setup.backends.addresses[n] for n in names[:-1]]
    seen: Counter[str] = Counter()
    with setup.channel(setup.service_config) as chan:
        _warm_up(setup, chan, 2)
        for i in range(60):
            seen[setup.client.echo(chan, f"before {i}").instance] += 1
        assert newcomer not in seen, "the pod not yet in DNS must get no calls"
        assert len(seen) == 2
        # scale out: the new pod appears in DNS; the open channel does not ask DNS by itself
        setup.dns.records[setup.fqdn] = [setup.backends.addresses[n] for n in names]
        added = time.monotonic()
        while time.monotonic() - added < wait:
            if setup.client.echo(chan, "after").instance == newcomer:
                return newcomer, time.monotonic() - added
            time.sleep(0.02)
    return newcomer, None


def test_max_connection_age_lets_clients_find_a_new_pod(setup: Setup) -> None:
    newcomer, after = _scale_out(setup, wait=15)
    assert after is not None, f"no call reached {newcomer} within 15s of joining DNS"
    print(f"new pod reached {after:.2f}s after it appeared in DNS (max connection age 2s)")


def test_without_a_short_max_age_the_new_pod_gets_nothing(procs: Processes, tmp_path: Path) -> None:
    with _setup(procs, tmp_path, max_age=3600) as setup:
        newcomer, after = _scale_out(setup, wait=5)
        assert after is None, f"{newcomer} was reached although no connection was closed"

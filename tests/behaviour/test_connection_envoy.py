"""Connection state: Envoy balances the calls of ONE long-lived gRPC connection per request.

charts/grpc is rendered with connection.mode=envoy; three examples/grpc-echo backends run
with the env of the rendered backend Deployment on three loopback addresses; a DNS server in
the test answers the headless Service name with all three (as cluster DNS does), and Envoy
runs the rendered envoy.yaml with only its addresses and its resolver patched in (front.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from .echo import ECHO
from .envoy import Envoy
from .front import HEADLESS_FQDN, envoy_front
from .procs import Proc, Processes, wait_until
from .rendered import named

CALLS = 300
VALUES = {
    "connection": {
        "mode": "envoy",
        # chart values, not patches: check often so the test stays short
        "envoy": {"healthCheck": {"interval": "1s", "timeout": "1s", "unhealthyThreshold": 2}},
    }
}


@dataclass
class Setup:
    client: ModuleType
    envoy: Envoy
    backends: dict[str, Proc]  # instance name -> process
    addresses: dict[str, str]  # instance name -> address
    port: int
    procs: Processes


@pytest.fixture
def setup(procs: Processes, tmp_path: Path) -> Iterator[Setup]:
    with envoy_front(procs, tmp_path, VALUES) as front:
        headless = named(front.docs, "Service", "demo-grpc-headless")
        assert headless["spec"]["clusterIP"] == "None"
        assert f"{headless['metadata']['name']}.default.svc.cluster.local" == HEADLESS_FQDN
        b = front.backends
        yield Setup(front.client, front.envoy, b.procs, b.addresses, b.port, procs)


def test_envoy_starts_without_warnings(setup: Setup) -> None:
    """Envoy warns at start when a proxy has no limit on client connections (and about
    anything else it finds wrong); the chart's default config gives it nothing to warn."""
    assert setup.envoy.proc is not None
    log = setup.envoy.proc.tail(500)
    assert [line for line in log.splitlines() if "[warning]" in line] == [], log


def test_one_channel_through_envoy_reaches_every_backend(setup: Setup) -> None:
    with setup.client.channel(setup.envoy.target) as chan:
        seen, failed = setup.client.distribution(chan, CALLS)
    print(f"through Envoy: {dict(sorted(seen.items()))}")
    assert failed == 0
    assert set(seen) == set(setup.backends)
    for name, count in seen.items():
        assert count >= CALLS * 0.2, f"{name} got {count} of {CALLS} calls"


def test_the_same_client_without_envoy_sticks_to_one_backend(setup: Setup) -> None:
    first = next(iter(setup.addresses.values()))
    with setup.client.channel(f"{first}:{setup.port}") as chan:
        seen, failed = setup.client.distribution(chan, CALLS)
    print(f"direct: {dict(seen)}")
    assert failed == 0
    assert len(seen) == 1 and sum(seen.values()) == CALLS


def test_calls_keep_succeeding_after_a_backend_stops(setup: Setup) -> None:
    victim = sorted(setup.backends)[0]
    address = f"{setup.addresses[victim]}:{setup.port}"
    # Envoy checks a cluster that never had traffic only every no_traffic_interval (60 s):
    # clients are calling, as they would be when a pod dies.
    with setup.client.channel(setup.envoy.target) as chan:
        warm, failed = setup.client.distribution(chan, 30)
    assert failed == 0 and victim in warm
    stopped = time.monotonic()
    setup.procs.stop(setup.backends[victim], sig=signal.SIGKILL)
    health: dict[str, str] = {}

    def marked_down() -> bool:
        health.update(setup.envoy.host_health())
        return "failed_active_hc" in health.get(address, "")

    try:
        wait_until(marked_down, 15, f"Envoy's health check marks {victim} down")
    except AssertionError as err:
        raise AssertionError(f"{err}; hosts: {health}") from None
    noticed = time.monotonic() - stopped
    with setup.client.channel(setup.envoy.target) as chan:
        seen, failed = setup.client.distribution(chan, 100)
    print(f"health check noticed after {noticed:.2f}s; then {dict(sorted(seen.items()))}")
    assert failed == 0
    assert victim not in seen
    assert set(seen) == set(setup.backends) - {victim}


def test_client_script_shows_the_spread_through_envoy(setup: Setup) -> None:
    """examples/grpc-echo/client.py as documented in its README."""
    script = str(ECHO / "client.py")
    done = subprocess.run(
        [sys.executable, script, setup.envoy.target, "--calls", "30", "--check-health"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "health SERVING"
    assert sorted(lines[1:]) == [f"{name} 10" for name in sorted(setup.backends)]

"""Connection state, secure by default: the Envoy front proxy of charts/grpc has limits.

The chart is rendered with connection.envoy.downstream.maxConnections: 3 and run with the
real Envoy (see front.py). Three clients, each with its own connection, keep working; a
fourth and fifth are closed by Envoy as soon as they connect (the overload manager's
global_downstream_max_connections); when one of the three leaves, a new client gets in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from .front import Front, envoy_front
from .procs import Processes, wait_until

LIMIT = 3
VALUES = {
    "connection": {
        "mode": "envoy",
        "envoy": {
            "downstream": {"maxConnections": LIMIT},
            "healthCheck": {"interval": "1s", "timeout": "1s"},
        },
    }
}


@pytest.fixture
def front(procs: Processes, tmp_path: Path) -> Iterator[Front]:
    with envoy_front(procs, tmp_path, VALUES, backends=2) as started:
        yield started


def own_connection(target: str) -> grpc.Channel:
    """A channel with a connection of its own (gRPC shares sub-channels across channels to
    the same target unless told otherwise; here every client must be one connection)."""
    return grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


def call(front: Front, chan: grpc.Channel) -> str:
    """One Echo call; the instance that answered, or the failed call's status code name."""
    try:
        return str(front.client.echo(chan, "hello", timeout=3).instance)
    except grpc.RpcError as err:
        return str(err.code().name)


def test_connections_over_the_limit_are_refused_while_the_others_keep_working(
    front: Front,
) -> None:
    target = front.envoy.target
    listener = f"listener.{target.replace(':', '_')}"
    kept = [own_connection(target) for _ in range(LIMIT)]
    extra: list[grpc.Channel] = []
    try:
        answers = [call(front, chan) for chan in kept]
        assert all(a in front.backends.procs for a in answers), answers
        wait_until(
            lambda: front.stat(f"{listener}.downstream_cx_active") == LIMIT,
            5,
            f"Envoy holds {LIMIT} client connections",
        )

        extra = [own_connection(target) for _ in range(2)]
        refused = [call(front, chan) for chan in extra]
        overflow = front.stat(f"{listener}.downstream_global_cx_overflow")
        print(f"over the limit: {refused}; downstream_global_cx_overflow={overflow}")
        assert refused == ["UNAVAILABLE", "UNAVAILABLE"]
        assert overflow >= 2
        assert front.stat(f"{listener}.downstream_cx_active") == LIMIT

        # the clients inside the limit never noticed: same connections, calls still answered
        again = [call(front, chan) for chan in kept for _ in range(5)]
        assert all(a in front.backends.procs for a in again), again
        # (refused connections are counted apart: downstream_cx_total counts accepted ones)
        assert front.stat(f"{listener}.downstream_cx_total") == LIMIT

        # the limit counts open connections: one client leaves, a new one gets in
        kept.pop().close()
        wait_until(
            lambda: front.stat(f"{listener}.downstream_cx_active") == LIMIT - 1,
            5,
            "Envoy sees the closed connection",
        )
        newcomer = own_connection(target)
        kept.append(newcomer)
        assert call(front, newcomer) in front.backends.procs
    finally:
        for chan in kept + extra:
            chan.close()

"""Topology + persistence state: moving the primary (topology.primaryOrdinal) with the mysql
chart's own scripts on real MariaDB servers.

The chart is rendered twice, before and after the change; each pod restarts on its own
data directory (its claim) with the new render, highest ordinal first as the StatefulSet
rolls them. A switch-over done as the README says keeps every row and ends with one
primary and replicas following it; a switch to a replica that lacks the old primary's
last writes leaves the old primary's data untouched and says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from .mariadb import ChartPod, MariaDB
from .procs import Processes, free_port, loopback_block, require_binary, wait_until
from .rendered import Manifest, find, render

REPLICATION_TIMEOUT = 20.0


def _values(replicas: int, primary: int) -> dict:
    return {
        "flavor": "mariadb",
        "workload": {"replicas": replicas},
        "topology": {"primaryOrdinal": primary},
        "auth": {"rootPassword": "root-secret", "replicationPassword": "repl-secret"},
    }


@pytest.fixture
def pods(procs: Processes, tmp_path: Path) -> Callable[[int, int], list[ChartPod]]:
    """pods(replicas, primary) -> the pods of a render with that primary, on addresses and
    data directories that stay the same across renders (a pod restarted with a new render
    gets its claim back)."""
    for name in ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump"):
        require_binary(name, "apt-get install mariadb-server (tools/bootstrap-servers)")
    addresses = [(host, free_port(host)) for host in loopback_block(3)]

    def make(replicas: int, primary: int) -> list[ChartPod]:
        docs = render("mysql", tmp_path, _values(replicas, primary))
        sts: Manifest = find(docs, "StatefulSet")
        return [
            ChartPod(docs, sts, i, tmp_path, procs, addresses[i], addresses[primary])
            for i in range(replicas)
        ]

    return make


def _server(pod: ChartPod) -> MariaDB:
    assert pod.server is not None, f"{pod.name} has no server"
    return pod.server


def _write(server: MariaDB, note: str) -> None:
    server.sql(
        "CREATE DATABASE IF NOT EXISTS shop;"
        "CREATE TABLE IF NOT EXISTS shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);"
        f"INSERT INTO shop.orders (note) VALUES ('{note}')"
    )


def _notes(server: MariaDB) -> list[str]:
    return [row[0] for row in server.sql("SELECT note FROM shop.orders ORDER BY id")]


def _replicating(server: MariaDB) -> bool:
    status = server.replica_status()
    return status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes"


def _caught_up(primary: MariaDB, replica: MariaDB) -> None:
    wait_until(
        lambda: (
            replica.value("SELECT @@gtid_slave_pos") == primary.value("SELECT @@gtid_binlog_pos")
        ),
        REPLICATION_TIMEOUT,
        f"{replica.name} caught up with {primary.name}",
    )


def test_switch_to_a_replica_that_lacks_writes_leaves_the_old_primary_untouched(pods) -> None:
    old0, old1 = pods(2, 0)
    old0.start()
    old1.start()
    _write(_server(old0), "replicated")
    _caught_up(_server(old0), _server(old1))

    old1.stop()  # replica 1 is away while the primary takes more writes
    lost = [f"only-on-0-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    for note in lost:
        _write(_server(old0), note)
    before = _notes(_server(old0))
    errant = _server(old0).value("SELECT @@gtid_binlog_pos")
    old0.stop()

    new0, new1 = pods(2, 1)  # topology.primaryOrdinal: 0 -> 1, pods restart 1 then 0
    new1.start()
    assert _server(new1).value("SELECT @@read_only") == "0"
    assert _server(new1).replica_status() == {}, "the new primary still replicates"
    assert "was a replica of" in new1.log[-1]

    with pytest.raises(AssertionError) as refused:
        new0.start()  # runs the replication step, which must refuse
    message = str(refused.value)
    assert "REFUSING to copy the primary's data over this server's" in message
    assert f"lacks: {errant}" in message
    assert "set topology.primaryOrdinal back to 0" in message

    server = _server(new0)  # the server runs, read-only, on its old data
    assert _notes(server) == before, "the old primary's rows changed"
    assert set(lost) <= set(_notes(server))
    assert server.value("SELECT @@gtid_binlog_pos") == errant
    assert server.replica_status() == {}, "replication was configured anyway"
    assert not (server.datadir / "destate-clone.done").exists(), "a copy was taken"
    assert set(lost).isdisjoint(_notes(_server(new1))), "the test's premise: 1 lacks them"


def test_switch_over_as_documented_keeps_every_row(pods) -> None:
    """README "Switching the primary": stop writes, wait for the new primary to have
    everything, change topology.primaryOrdinal; the pods roll highest ordinal first."""
    old = pods(3, 0)
    for pod in old:
        pod.start()
    notes = [f"before-{i}" for i in range(5)]
    for note in notes:
        _write(_server(old[0]), note)
    _server(old[0]).sql("SET GLOBAL read_only = ON")  # 1. no more writes
    for replica in old[1:]:  # 2. the new primary (and the others) have everything
        _caught_up(_server(old[0]), _server(replica))

    new = pods(3, 1)  # 3. topology.primaryOrdinal: 0 -> 1
    for ordinal in (2, 1, 0):  # the StatefulSet's rolling update order
        old[ordinal].stop()
        new[ordinal].start()
    primary = _server(new[1])
    assert primary.value("SELECT @@read_only") == "0"
    assert primary.replica_status() == {}
    assert "now replicating from" in new[2].log[-1], new[2].log[-1]
    assert "copied the primary's data" in "\n".join(new[0].log), "the old primary was not copied"

    after = f"after-{uuid.uuid4().hex[:6]}"
    _write(primary, after)
    for ordinal in (0, 2):
        replica = _server(new[ordinal])
        assert replica.value("SELECT @@read_only") == "1"
        wait_until(lambda r=replica: _replicating(r), REPLICATION_TIMEOUT, "replicating")
        assert replica.replica_status()["Master_Host"] == primary.host
        wait_until(
            lambda r=replica: _notes(r) == [*notes, after],
            REPLICATION_TIMEOUT,
            f"every row on {replica.name}",
        )

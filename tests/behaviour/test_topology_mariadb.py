"""Topology + persistence state: MariaDB replication built by the mysql chart's own scripts.

charts/mysql is rendered (flavor mariadb, 3 replicas); each pod runs on this machine as the
kubelet would run it: the rendered init container (scripts/init-config.sh from the scripts
ConfigMap, role files from the role ConfigMap), a mariadbd on its own data directory in
place of the server container, and the replication container's configure-replication.sh.
Only addresses change: the pods' stable DNS names become loopback addresses and ports.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .mariadb import ChartPod, MariaDB
from .procs import Processes, free_port, loopback_block, require_binary, run, wait_until
from .rendered import Manifest, find, render

VALUES = {
    "flavor": "mariadb",
    "workload": {"replicas": 3},
    # fixed passwords: a rendered chart stands for an installed release here (the live
    # Secret would be reused by `lookup` on upgrade)
    "auth": {"rootPassword": "root-secret", "replicationPassword": "repl-secret"},
}
REPLICATION_TIMEOUT = 20.0


@dataclass
class Cluster:
    docs: list[Manifest]
    pods: dict[int, ChartPod]
    make: Callable[[int], ChartPod]

    def server(self, ordinal: int) -> MariaDB:
        server = self.pods[ordinal].server
        assert server is not None, f"pod {ordinal} has no server"
        return server


def _require_servers() -> None:
    for name in ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump"):
        require_binary(name, "apt-get install mariadb-server (tools/bootstrap-servers)")


@pytest.fixture(scope="module")
def cluster(module_procs: Processes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require_servers()
    root = tmp_path_factory.mktemp("mysql-chart")
    docs = render("mysql", root, VALUES)
    statefulset = find(docs, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    hosts = loopback_block(4)
    addresses = [(host, free_port(host)) for host in hosts]

    def make(ordinal: int) -> ChartPod:
        return ChartPod(
            docs, statefulset, ordinal, root, module_procs, addresses[ordinal], addresses[0]
        )

    pods: dict[int, ChartPod] = {}
    for ordinal in range(3):  # OrderedReady: each pod after the previous one is up
        pods[ordinal] = make(ordinal)
        pods[ordinal].start()
    yield Cluster(docs, pods, make)
    for pod in pods.values():
        pod.stop()


def _has_row(server: MariaDB, marker: str) -> bool:
    rows = server.sql(f"SELECT COUNT(*) FROM shop.orders WHERE note = '{marker}'")
    return rows == [["1"]]


def _write(cluster: Cluster, note: str) -> None:
    cluster.server(0).sql(
        "CREATE DATABASE IF NOT EXISTS shop;"
        "CREATE TABLE IF NOT EXISTS shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);"
        f"INSERT INTO shop.orders (note) VALUES ('{note}')"
    )


def _replicating(server: MariaDB) -> dict[str, str]:
    status = server.replica_status()
    assert status.get("Slave_IO_Running") == "Yes", status.get("Last_IO_Error")
    assert status.get("Slave_SQL_Running") == "Yes", status.get("Last_SQL_Error")
    return status


def test_primary_is_writable_and_replicas_are_read_only_replicating(cluster: Cluster) -> None:
    primary = cluster.server(0)
    assert primary.value("SELECT @@read_only") == "0"
    assert primary.value("SELECT @@server_id") == "100"
    assert primary.value("SELECT @@log_bin") == "1"
    assert primary.replica_status() == {}, "the primary must not replicate from anyone"
    primary.sql(
        "CREATE USER IF NOT EXISTS app@'%' IDENTIFIED BY 'app-secret';"
        "CREATE DATABASE IF NOT EXISTS shop;"
        "GRANT ALL ON shop.* TO app@'%';"
    )
    primary.sql("CREATE TABLE IF NOT EXISTS shop.t (v INT)", user="app", password="app-secret")
    primary.sql("INSERT INTO shop.t VALUES (1)", user="app", password="app-secret")
    for ordinal in (1, 2):
        replica = cluster.server(ordinal)
        assert replica.value("SELECT @@server_id") == str(100 + ordinal)
        assert replica.value("SELECT @@read_only") == "1"
        status = _replicating(replica)
        assert status["Master_Host"] == primary.host
        assert status["Using_Gtid"] == "Slave_Pos"
        wait_until(
            lambda r=replica: r.sql("SELECT COUNT(*) FROM shop.t") == [["1"]],
            REPLICATION_TIMEOUT,
            f"replica {ordinal} has the app user's table",
        )
        with pytest.raises(AssertionError, match=r"read-only|read_only"):
            replica.sql("INSERT INTO shop.t VALUES (2)", user="app", password="app-secret")


def test_write_on_primary_appears_on_every_replica(cluster: Cluster) -> None:
    note = f"order-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    _write(cluster, note)
    for ordinal in (1, 2):
        wait_until(
            lambda o=ordinal: _has_row(cluster.server(o), note),
            REPLICATION_TIMEOUT,
            f"row {note} on replica {ordinal}",
        )
    lag = time.monotonic() - started
    print(f"write on 0 visible on 1 and 2 after {lag:.2f}s")
    gtid = cluster.server(0).value("SELECT @@gtid_binlog_pos")
    for ordinal in (1, 2):
        assert cluster.server(ordinal).value("SELECT @@gtid_slave_pos") == gtid


def test_replication_step_is_idempotent(cluster: Cluster) -> None:
    """The replication sidecar runs its step every few seconds: a round with nothing to do
    writes nothing (no new GTID on the primary) and copies nothing."""
    primary = cluster.server(0)
    before = primary.value("SELECT @@gtid_binlog_pos")
    for ordinal in (0, 1, 2):
        cluster.pods[ordinal].configure()
    assert "replication user replicator in place" in cluster.pods[0].log[-1]
    for ordinal in (1, 2):
        assert "nothing to do" in cluster.pods[ordinal].log[-1]
        _replicating(cluster.server(ordinal))
    assert primary.value("SELECT @@gtid_binlog_pos") == before


def test_replication_sidecar_repairs_stopped_replication(
    cluster: Cluster, module_procs: Processes
) -> None:
    """The replication container as rendered (`--loop`) puts a stopped replica back."""
    pod = cluster.pods[2]
    (container,) = pod.pod.containers_running("configure-replication.sh")
    argv = pod.pod.command(container)
    assert argv[-1] == "--loop"
    env = pod.pod.env(container, {**pod.overrides(), "LOOP_INTERVAL": "1"})
    sidecar = module_procs.start("replication-2", argv, env=env)
    try:
        wait_until(lambda: "nothing to do" in sidecar.tail(), 20, "the sidecar's first round")
        server = cluster.server(2)
        server.sql("STOP SLAVE")
        assert server.replica_status()["Slave_SQL_Running"] == "No"
        wait_until(lambda: _replicating(server), 20, "the sidecar restarted replication")
        assert "restarted on existing data" in sidecar.tail()
    finally:
        module_procs.stop(sidecar)


def test_restarted_replica_resumes_on_its_data_without_a_new_copy(cluster: Cluster) -> None:
    _write(cluster, "before-restart")
    pod = cluster.pods[1]
    old = cluster.server(1)
    marker = old.datadir / "destate-clone.done"
    assert marker.is_file(), "replica 1 was never copied from the primary"
    copied = marker.read_text()
    copied_at = marker.stat().st_mtime_ns

    pod.stop()  # the pod goes away; its claim (the data directory) stays
    missed = f"while-down-{uuid.uuid4().hex[:8]}"
    _write(cluster, missed)

    moved = cluster.make(1)  # the pod comes back (elsewhere) with the same claim
    moved.start()
    cluster.pods[1] = moved
    server = cluster.server(1)
    assert server.datadir == old.datadir
    assert server.initialised_at is None, "the data directory was initialised again"
    assert marker.read_text() == copied and marker.stat().st_mtime_ns == copied_at, (
        "the replica was copied from the primary again"
    )
    assert "on existing data" in moved.log[-1]
    wait_until(
        lambda: _has_row(server, missed), REPLICATION_TIMEOUT, "row written while 1 was down"
    )
    _replicating(server)


def test_replica_added_after_data_exists_catches_up(cluster: Cluster) -> None:
    primary = cluster.server(0)
    for i in range(50):
        _write(cluster, f"bulk-{i}")
    # Purge the primary's old binary logs: a replica can only get this data by a copy.
    primary.sql("FLUSH BINARY LOGS")
    current = primary.sql("SHOW MASTER STATUS")[0][0]
    for ordinal in (1, 2):  # the running replicas have everything before the purge
        gtid = primary.value("SELECT @@gtid_binlog_pos")
        wait_until(
            lambda o=ordinal, g=gtid: cluster.server(o).value("SELECT @@gtid_slave_pos") == g,
            REPLICATION_TIMEOUT,
            f"replica {ordinal} up to date before the purge",
        )
    primary.sql(f"PURGE BINARY LOGS TO '{current}'")
    expected = primary.value("SELECT COUNT(*) FROM shop.orders")

    started = time.monotonic()
    newcomer = cluster.make(3)  # scale out: one more pod, one more claim
    cluster.pods[3] = newcomer
    newcomer.start()
    server = cluster.server(3)
    wait_until(
        lambda: server.value("SELECT COUNT(*) FROM shop.orders") == expected,
        REPLICATION_TIMEOUT,
        "replica 3 has every row",
    )
    catch_up = time.monotonic() - started
    print(f"replica 3 caught up ({expected} rows) {catch_up:.2f}s after its pod started")
    assert server.value("SELECT @@server_id") == "103"
    assert server.value("SELECT @@read_only") == "1"
    copied = (server.datadir / "destate-clone.done").read_text()
    assert f"source={primary.host}:{primary.port}" in copied
    print(f"replica 3's copy from the primary: {copied.split()}")
    _replicating(server)
    note = f"after-join-{uuid.uuid4().hex[:8]}"
    _write(cluster, note)
    wait_until(lambda: _has_row(server, note), REPLICATION_TIMEOUT, "new row on replica 3")


def test_scripts_come_from_the_rendered_configmap(cluster: Cluster, tmp_path: Path) -> None:
    """The scripts the pods ran are the chart's scripts/*.sh, byte for byte."""
    from .rendered import REPO, files_of

    scripts = find(cluster.docs, "ConfigMap", lambda d: "init-config.sh" in (d.get("data") or {}))
    rendered = files_of(scripts)
    for path in sorted((REPO / "charts/mysql/scripts").glob("*.sh")):
        assert rendered.get(path.name) == path.read_bytes(), f"{path.name} differs in the chart"
    out = run(["bash", "-n", str(REPO / "charts/mysql/scripts/init-config.sh")])
    assert out == ""

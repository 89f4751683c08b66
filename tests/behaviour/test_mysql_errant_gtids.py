"""No catch-up copy over data the primary lacks: the GTID checks of the mysql chart's
scripts (scripts/common.sh, require_gtid_subset).

The MariaDB comparison (domain-server-seq per domain) is run here on its own; the MySQL 8.4
branch (GTID_SUBTRACT) runs from the rendered chart against the recording stand-in client
of test_mysql_flavor_sql.py. Real MariaDB servers show the whole switch-over in
test_topology_switchover_mariadb.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .pods import LocalPod
from .rendered import REPO, find, render
from .test_mysql_flavor_sql import FAKE_CLIENT, GTID

COMMON = REPO / "charts" / "mysql" / "scripts" / "common.sh"
PRIMARY = "demo-mysql-0.demo-mysql-headless.default.svc.cluster.local"
OWN_UUID = "aaaaaaaa-0000-0000-0000-000000000001"


def _missing(have: str, want: str) -> str:
    script = f'. "{COMMON}"; mariadb_gtids_missing "$1" "$2"'
    done = subprocess.run(
        ["bash", "-c", script, "test", have, want],
        env={"POD_NAME": "db-1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("primary", "replica", "missing"),
    [
        ("", "", ""),  # both new
        ("0-100-57", "", ""),  # a new, empty replica
        ("0-100-60", "0-100-60", ""),  # in step
        ("0-100-60,0-101-3", "0-100-58", ""),  # the primary moved on, from another server too
        ("0-100-60", "0-100-61", "0-100-61"),  # a write the primary never got
        ("", "0-100-5", "0-100-5"),  # an empty primary: everything here would be lost
        ("0-100-60,0-101-63", "0-100-61", "0-100-61"),  # diverged: higher seq, other server
        ("0-100-60", "1-100-2", "1-100-2"),  # a domain the primary has never seen
        ("0-100-9", "0-100-10", "0-100-10"),  # numbers, not text
        ("0-100-18446744073709551614", "0-100-18446744073709551615", "0-100-18446744073709551615"),
        ("1-100-5,0-100-3", "0-100-3,1-100-5", ""),
        ("0-100-5", "garbage", "unparsable:garbage"),  # never silently accepted
    ],
)
def test_mariadb_gtid_subset_per_domain_and_server(
    primary: str, replica: str, missing: str
) -> None:
    assert _missing(primary, replica) == missing


def _replication_step(
    tmp_path: Path, ordinal: int, fake: dict[str, str]
) -> tuple[int, str, list[dict[str, str]]]:
    """Run the rendered replication container's step once (MySQL flavor, stand-in client)."""
    docs = render(
        "mysql",
        tmp_path,
        {"flavor": "mysql", "auth": {"rootPassword": "root-secret", "replicationPassword": "r"}},
    )
    pod = LocalPod(docs, find(docs, "StatefulSet"), ordinal, tmp_path / "pods")
    pod.lay_out()
    client = tmp_path / "fake-mysql"
    client.write_text(f"#!{sys.executable}\n{FAKE_CLIENT}")
    client.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    log.touch()
    sidecar = pod.container("replication")
    env = pod.env(
        sidecar,
        {
            "MYSQL_CLIENT": str(client),
            "FAKE_LOG": str(log),
            "FAKE_GTID": GTID,
            "PATH": "/usr/bin:/bin",
            "WAIT_TIMEOUT": "5",
            **fake,
        },
    )
    argv = [a for a in pod.command(sidecar) if a != "--loop"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return done.returncode, done.stderr, calls


def _local_sql(calls: list[dict[str, str]]) -> str:
    return "\n".join(c["sql"] for c in calls if c["host"] == "127.0.0.1")


def test_mysql_former_primary_with_data_is_not_cloned_over(tmp_path: Path) -> None:
    errant = f"{OWN_UUID}:1-40"
    code, stderr, calls = _replication_step(
        tmp_path,
        1,
        {
            "FAKE_LOCAL_GTID": f"{GTID},{errant}",
            "FAKE_ERRANT": errant,
            "FAKE_UUID": OWN_UUID,
            "FAKE_SCHEMAS": "2",
        },
    )
    assert code != 0
    assert "REFUSING to copy the primary's data over this server's and replicate from it" in stderr
    assert f"the primary {PRIMARY}:3306 lacks: {errant}" in stderr
    assert "set topology.primaryOrdinal back to 1" in stderr
    sql = _local_sql(calls)
    # the comparison ran on this server with both sides' gtid_executed
    assert f"GTID_SUBTRACT('{GTID},{errant}', '{GTID}')" in sql
    for step in ("CLONE INSTANCE", "CHANGE REPLICATION SOURCE", "START REPLICA"):
        assert step not in sql, f"{step} ran on a server with data the primary lacks"


def test_mysql_errant_gtids_of_another_server_refuse_even_without_databases(
    tmp_path: Path,
) -> None:
    """Only the image's own initialisation (this server's uuid, no database) is exempt."""
    errant = "bbbbbbbb-0000-0000-0000-000000000002:1-3"
    code, stderr, calls = _replication_step(
        tmp_path, 1, {"FAKE_ERRANT": errant, "FAKE_UUID": OWN_UUID, "FAKE_SCHEMAS": "0"}
    )
    assert code != 0 and f"lacks: {errant}" in stderr
    assert "CLONE INSTANCE" not in _local_sql(calls)


def test_mysql_new_replica_with_only_its_initialisation_gtids_is_cloned(tmp_path: Path) -> None:
    """The official image loads the time zone tables with the binary log on: a new replica
    has a few GTIDs of its own and no database; it is copied as before."""
    errant = f"{OWN_UUID}:1-5"
    code, stderr, calls = _replication_step(
        tmp_path, 1, {"FAKE_ERRANT": errant, "FAKE_UUID": OWN_UUID, "FAKE_SCHEMAS": "0"}
    )
    assert code == 0, stderr
    assert "come from the image's initialisation" in stderr
    sql = _local_sql(calls)
    assert "CLONE INSTANCE FROM" in sql and "START REPLICA" in sql
    assert sql.index("GTID_SUBTRACT") < sql.index("CLONE INSTANCE")


def test_mysql_promoted_primary_stops_replicating(tmp_path: Path) -> None:
    code, stderr, calls = _replication_step(
        tmp_path, 0, {"FAKE_CONFIGURED": "1", "FAKE_SOURCE": "db-old-primary"}
    )
    assert code == 0, stderr
    assert "STOP REPLICA; RESET REPLICA ALL" in _local_sql(calls)
    assert "was a replica of db-old-primary; replication stopped and removed" in stderr


def test_mysql_replica_follows_a_moved_primary_after_the_check(tmp_path: Path) -> None:
    """A replica configured for another source (the primary moved) re-points after proving
    it has nothing the new primary lacks; it is not copied again."""
    code, stderr, calls = _replication_step(
        tmp_path, 2, {"FAKE_CONFIGURED": "1", "FAKE_SOURCE": "db-old-primary"}
    )
    assert code == 0, stderr
    sql = _local_sql(calls)
    assert "CLONE INSTANCE" not in sql
    assert sql.index("GTID_SUBTRACT") < sql.index(f"SOURCE_HOST='{PRIMARY}'")
    assert f"now replicating from {PRIMARY}:3306 (was db-old-primary)" in stderr

"""The MySQL 8.4 branch of the mysql chart's replication step, run from the rendered chart
against a recording stand-in for the `mysql` client (MySQL itself is not packaged for
Debian; the MariaDB branch runs against real servers in test_topology_mariadb.py).
A unit test: it checks which SQL the scripts send where, and that no password is ever on a
command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .pods import LocalPod
from .rendered import find, render

GTID = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"
FAKE_CLIENT = """
import json, os, sys
args = sys.argv[1:]
sql = args[args.index("-e") + 1] if "-e" in args else sys.stdin.read()
host = args[args.index("-h") + 1]
user = args[args.index("-u") + 1]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({"argv": args, "host": host, "user": user, "sql": sql,
                          "pwd": os.environ.get("MYSQL_PWD", "")}) + "\\n")
configured = os.environ.get("FAKE_CONFIGURED") == "1"
if "SHOW REPLICA STATUS" in sql:
    if configured:
        default = "demo-mysql-0.demo-mysql-headless.default.svc.cluster.local"
        source = os.environ.get("FAKE_SOURCE", default)
        print(f"Source_Host: {source}\\nReplica_IO_Running: Yes\\nReplica_SQL_Running: Yes")
elif "SHOW GRANTS" in sql:
    sys.exit(1)  # the replication user does not exist yet
elif "GTID_SUBTRACT" in sql:
    print(os.environ.get("FAKE_ERRANT", ""))
elif "gtid_executed" in sql:
    gtid = os.environ["FAKE_GTID"]
    local = host == os.environ.get("MYSQL_HOST", "127.0.0.1")
    print(os.environ.get("FAKE_LOCAL_GTID", gtid) if local else gtid)
elif "server_uuid" in sql:
    print(os.environ.get("FAKE_UUID", ""))
elif "information_schema.schemata" in sql:
    print(os.environ.get("FAKE_SCHEMAS", "0"))
elif "clone_status" in sql:
    print("Completed")
elif "information_schema.plugins" in sql:
    print("0")
elif sql.strip() == "SELECT 1":
    print("1")
"""


def _run(tmp_path: Path, ordinal: int, configured: bool = False) -> list[dict[str, str]]:
    docs = render("mysql", tmp_path, {"flavor": "mysql", "auth": _auth()})
    pod = LocalPod(docs, find(docs, "StatefulSet"), ordinal, tmp_path / "pods")
    pod.lay_out()
    client = tmp_path / "fake-mysql"
    client.write_text(f"#!{sys.executable}\n{FAKE_CLIENT}")
    client.chmod(0o755)
    log = tmp_path / f"calls-{ordinal}.jsonl"
    sidecar = pod.container("replication")
    env = pod.env(
        sidecar,
        {
            "MYSQL_CLIENT": str(client),
            "FAKE_LOG": str(log),
            "FAKE_GTID": GTID,
            "FAKE_CONFIGURED": "1" if configured else "0",
            "PATH": "/usr/bin:/bin",
            "WAIT_TIMEOUT": "5",
        },
    )
    argv = [a for a in pod.command(sidecar) if a != "--loop"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    for call in calls:  # passwords only by env, never in argv
        assert not any("secret" in a for a in call["argv"]), call
    return calls


def _auth() -> dict[str, str]:
    return {"rootPassword": "root-secret", "replicationPassword": "repl-secret"}


def _sql(calls: list[dict[str, str]], host: str | None = None) -> str:
    return "\n".join(c["sql"] for c in calls if host is None or c["host"] == host)


def test_mysql_primary_creates_the_replication_user_with_clone_rights(tmp_path: Path) -> None:
    calls = _run(tmp_path, 0)
    sql = _sql(calls)
    assert "INSTALL PLUGIN clone SONAME 'mysql_clone.so'" in sql
    assert "CREATE USER IF NOT EXISTS 'replicator'@'%' IDENTIFIED BY 'repl-secret'" in sql
    assert "GRANT REPLICATION SLAVE, BACKUP_ADMIN ON *.* TO 'replicator'@'%'" in sql
    assert {c["host"] for c in calls} == {"127.0.0.1"}, "the primary only talks to itself"
    assert "CHANGE REPLICATION SOURCE" not in sql


def test_mysql_replica_clones_then_replicates_with_auto_position(tmp_path: Path) -> None:
    primary = "demo-mysql-0.demo-mysql-headless.default.svc.cluster.local"
    calls = _run(tmp_path, 1)
    asked_primary = [c for c in calls if c["host"] == primary]
    assert asked_primary and {c["user"] for c in asked_primary} == {"replicator"}
    assert {c["pwd"] for c in asked_primary} == {"repl-secret"}
    local = _sql(calls, "127.0.0.1")
    steps = [
        "INSTALL PLUGIN clone SONAME 'mysql_clone.so'",
        f"SET GLOBAL clone_valid_donor_list = '{primary}:3306'",
        f"CLONE INSTANCE FROM 'replicator'@'{primary}':3306 IDENTIFIED BY 'repl-secret'",
        f"CHANGE REPLICATION SOURCE TO SOURCE_HOST='{primary}', SOURCE_PORT=3306",
        "SOURCE_AUTO_POSITION=1",
        "START REPLICA",
        "SET GLOBAL super_read_only = ON",
    ]
    positions = [local.find(step) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions), "clone, then point at the primary, then start"
    marker = next((tmp_path / "pods").rglob("destate-clone.done"))
    assert f"gtid={GTID}" in marker.read_text()


def test_mysql_replica_with_replication_configured_is_left_alone(tmp_path: Path) -> None:
    """A restarted replica keeps its data and replication; only super_read_only, a runtime
    setting the restart dropped, is set again."""
    sql = _sql(_run(tmp_path, 2, configured=True))
    assert "CLONE INSTANCE" not in sql and "CHANGE REPLICATION SOURCE" not in sql
    assert "START REPLICA" not in sql
    assert "SET GLOBAL super_read_only = ON" in sql

"""The mysql chart's init container for both flavors, run from the rendered ConfigMaps: the
ordinal chooses the role and the server-id; the user's config is laid over last. (The MySQL
server itself is not packaged for Debian; MariaDB runs in test_topology_mariadb.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .pods import LocalPod
from .procs import run
from .rendered import find, render


def _init_config(tmp_path: Path, values: dict[str, object], ordinal: int) -> dict[str, str]:
    docs = render("mysql", tmp_path, values)
    pod = LocalPod(docs, find(docs, "StatefulSet"), ordinal, tmp_path / "pods")
    pod.lay_out()
    (init,) = pod.spec["initContainers"]
    run(pod.command(init), env=pod.env(init, {"PATH": "/usr/bin:/bin"}), what="init-config")
    dest = Path(pod.env(init)["CONFIG_DEST"])
    return {f.name: f.read_text() for f in sorted(dest.iterdir())}


@pytest.mark.parametrize("flavor", ["mysql", "mariadb"])
def test_ordinal_chooses_role_and_server_id(tmp_path: Path, flavor: str) -> None:
    values = {
        "flavor": flavor,
        "replication": {"serverIdBase": 40},
        "config": {"files": {"tuning.cnf": "[mysqld]\nmax_connections = 50\n"}},
    }
    primary = _init_config(tmp_path / "p", values, 0)
    replica = _init_config(tmp_path / "r", values, 2)
    assert list(primary) == ["00-destate-server.cnf", "10-destate-role.cnf", "50-tuning.cnf"]
    assert "server-id = 40\n" in primary["00-destate-server.cnf"]
    assert "server-id = 42\n" in replica["00-destate-server.cnf"]
    assert (
        "report_host = demo-mysql-2.demo-mysql-headless.default.svc.cluster.local"
        in (replica["00-destate-server.cnf"])
    )
    role = Path(__file__).resolve().parents[2] / "charts/mysql/files" / flavor
    assert (role / "primary.cnf").read_text() in primary["10-destate-role.cnf"]
    assert (role / "replica.cnf").read_text() in replica["10-destate-role.cnf"]
    assert replica["50-tuning.cnf"] == "[mysqld]\nmax_connections = 50\n"
    if flavor == "mysql":
        assert "gtid_mode = ON" in replica["00-destate-server.cnf"]


def test_the_server_keeps_its_data_where_the_claim_is_mounted(tmp_path: Path) -> None:
    # without a datadir line the server would write into the image's /var/lib/mysql
    for mount in ("/var/lib/mysql", "/data/db"):
        values = {"persistence": {"mountPath": mount}}
        server = _init_config(tmp_path / mount.strip("/"), values, 0)["00-destate-server.cnf"]
        [line] = [x for x in server.splitlines() if x.startswith("datadir = ")]
        assert line.endswith(mount)


def test_bad_ordinal_fails_with_one_clear_line(tmp_path: Path) -> None:
    docs = render("mysql", tmp_path, {"flavor": "mariadb"})
    pod = LocalPod(docs, find(docs, "StatefulSet"), 0, tmp_path / "pods")
    pod.lay_out()
    (init,) = pod.spec["initContainers"]
    env = pod.env(init, {"PATH": "/usr/bin:/bin", "POD_ORDINAL": "x1"})
    done = subprocess.run(pod.command(init), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("POD_ORDINAL must be a non-negative integer (got 'x1')")


def test_a_newline_in_the_pod_fqdn_cannot_add_cnf_lines(tmp_path: Path) -> None:
    """Defence in depth behind the schema's DNS pattern for topology.clusterDomain: the
    init script refuses a POD_FQDN that would write a second line into the server's .cnf."""
    docs = render("mysql", tmp_path, {"flavor": "mariadb"})
    pod = LocalPod(docs, find(docs, "StatefulSet"), 1, tmp_path / "pods")
    pod.lay_out()
    (init,) = pod.spec["initContainers"]
    hostile = "demo-mysql-1.demo-mysql-headless.default.svc.cluster.local\nskip-grant-tables"
    env = pod.env(init, {"PATH": "/usr/bin:/bin", "POD_FQDN": hostile})
    done = subprocess.run(pod.command(init), env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "POD_FQDN must be a DNS name" in done.stderr
    assert "check topology.clusterDomain" in done.stderr
    dest = Path(env["CONFIG_DEST"])
    written = [f.read_text() for f in dest.glob("*.cnf")] if dest.is_dir() else []
    assert not any("skip-grant-tables" in text for text in written)

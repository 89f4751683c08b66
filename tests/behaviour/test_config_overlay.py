"""Configuration state: a value set in the mysql chart's values reaches the running MariaDB
through the rendered config overlay (the user ConfigMap, laid over by init-config.sh), and a
change of that value (a new render, pods rolled by checksum/config) reaches it too."""

from __future__ import annotations

from pathlib import Path

from .mariadb import ChartPod
from .procs import Processes, free_port, loopback_block, require_binary
from .rendered import find, render


def values(max_connections: int) -> dict[str, object]:
    return {
        "flavor": "mariadb",
        "workload": {"replicas": 1},
        "auth": {"rootPassword": "root-secret", "replicationPassword": "repl-secret"},
        "config": {
            "files": {
                "tuning.cnf": (
                    f"[mariadbd]\nmax_connections = {max_connections}\nlong_query_time = 3\n"
                )
            }
        },
    }


def test_config_value_from_values_reaches_the_running_server(
    procs: Processes, tmp_path: Path
) -> None:
    for name in ("mariadbd", "mariadb-install-db", "mariadb"):
        require_binary(name, "apt-get install mariadb-server (tools/bootstrap-servers)")
    host = loopback_block(1)[0]
    address = (host, free_port(host))

    first = render("mysql", tmp_path, values(77))
    statefulset = find(first, "StatefulSet")
    pod = ChartPod(first, statefulset, 0, tmp_path, procs, address, address)
    pod.start()
    assert pod.server is not None
    assert pod.server.value("SELECT @@max_connections") == "77"
    assert pod.server.value("SELECT @@long_query_time") == "3.000000"
    # the chart's own role config is laid under the user's
    assert pod.server.value("SELECT @@log_bin") == "1"
    before = statefulset["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    pod.stop()

    second = render("mysql", tmp_path, values(123))
    rolled = find(second, "StatefulSet")
    after = rolled["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert after != before, "a config change must roll the pods (checksum/config)"
    new_pod = ChartPod(second, rolled, 0, tmp_path, procs, address, address)
    new_pod.start()  # same claim, new config
    assert new_pod.server is not None
    assert new_pod.server.initialised_at is None
    assert new_pod.server.value("SELECT @@max_connections") == "123"
    new_pod.stop()

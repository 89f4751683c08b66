"""What charts/mysql renders means (README kinds of state): persistence, config, topology."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
from chartmatrix.fixtures import ChartRenderer
from chartmatrix.manifests import Rendered

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "mysql"
RELEASE = "db"
FULL = "db-mysql"


@pytest.fixture(scope="module")
def default(render_chart: ChartRenderer) -> Rendered:
    return render_chart(CHART, release=RELEASE, namespace="data")


@pytest.fixture(scope="module")
def mariadb(render_chart: ChartRenderer) -> Rendered:
    return render_chart(
        CHART,
        {"flavor": "mariadb", "workload": {"replicas": 2}, "replication": {"serverIdBase": 7}},
        release=RELEASE,
        namespace="data",
    )


@pytest.fixture(scope="module")
def local(render_chart: ChartRenderer) -> Rendered:
    return render_chart(
        CHART,
        {
            "workload": {"replicas": 2},
            "persistence": {"local": {"enabled": True, "path": "/mnt/db", "nodes": ["n1", "n2"]}},
        },
        release=RELEASE,
        namespace="data",
    )


def _container(sts: dict[str, Any], name: str, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    found = [c for c in sts["spec"]["template"]["spec"].get(key, []) if c["name"] == name]
    assert found, f"no {key} named {name}"
    return found[0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_statefulset_is_governed_by_the_headless_service(default: Rendered) -> None:
    sts = default.get("StatefulSet", FULL)
    headless = default.get("Service", f"{FULL}-headless")
    assert sts["spec"]["serviceName"] == f"{FULL}-headless"
    assert sts["spec"]["replicas"] == 3
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    assert [p["port"] for p in headless["spec"]["ports"]] == [3306]


def test_primary_service_selects_pod_index_zero_and_read_service_all(default: Rendered) -> None:
    sts = default.get("StatefulSet", FULL)
    pod_selector = sts["spec"]["selector"]["matchLabels"]
    primary = default.get("Service", f"{FULL}-primary")["spec"]["selector"]
    read = default.get("Service", f"{FULL}-read")["spec"]["selector"]
    assert primary == {**pod_selector, "apps.kubernetes.io/pod-index": "0"}
    assert read == pod_selector


def test_primary_service_follows_primary_ordinal(render_chart: ChartRenderer) -> None:
    out = render_chart(CHART, {"topology": {"primaryOrdinal": 2}}, release=RELEASE)
    selector = out.get("Service", f"{FULL}-primary")["spec"]["selector"]
    assert selector["apps.kubernetes.io/pod-index"] == "2"
    init = _container(out.get("StatefulSet", FULL), "init-config", init=True)
    assert _env(init)["PRIMARY_ORDINAL"] == "2"
    assert _env(init)["PRIMARY_HOST"] == f"{FULL}-2.{FULL}-headless.default.svc.cluster.local"


def test_each_pod_gets_its_claim_back_and_claims_are_retained(default: Rendered) -> None:
    sts = default.get("StatefulSet", FULL)
    claims = sts["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["data"]
    assert claims[0]["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    mount = [m for m in _container(sts, "mysql")["volumeMounts"] if m["name"] == "data"]
    assert mount == [{"name": "data", "mountPath": "/var/lib/mysql", "subPath": "mysql"}]


def test_server_id_base_and_flavor_reach_every_script_container(mariadb: Rendered) -> None:
    sts = mariadb.get("StatefulSet", FULL)
    for name, init in (("init-config", True), ("mysql", False), ("replication", False)):
        env = _env(_container(sts, name, init=init))
        assert env["SERVER_ID_BASE"] == "7", name
        assert env["MYSQL_FLAVOR"] == "mariadb", name
        assert env["POD_ORDINAL"] == {
            "fieldRef": {"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}
        }, name
        if init:  # init-config.sh needs no password (test_init_container_gets_no_password)
            continue
        assert env["MYSQL_ROOT_PASSWORD"] == {
            "secretKeyRef": {"name": f"{FULL}-auth", "key": "root-password"}
        }, name
        assert env["MYSQL_REPLICATION_PASSWORD"]["secretKeyRef"]["key"] == "replication-password"
    assert _container(sts, "mysql")["image"] == "mariadb:11.4"


def test_flavor_mysql_is_the_default(default: Rendered) -> None:
    sts = default.get("StatefulSet", FULL)
    assert _container(sts, "mysql")["image"] == "mysql:8.4"
    assert _env(_container(sts, "mysql"))["MYSQL_FLAVOR"] == "mysql"
    assert _env(_container(sts, "mysql"))["SERVER_ID_BASE"] == "100"
    probe = _container(sts, "mysql")["livenessProbe"]["exec"]["command"][-1]
    assert "mysqladmin" in probe


@pytest.mark.parametrize(
    ("flavor", "gtid"), [("mysql", "gtid_mode = ON"), ("mariadb", "gtid_strict_mode = ON")]
)
def test_role_config_matches_flavor(render_chart: ChartRenderer, flavor: str, gtid: str) -> None:
    out = render_chart(CHART, {"flavor": flavor}, release=RELEASE)
    data = out.get("ConfigMap", f"{FULL}-role")["data"]
    assert sorted(data) == ["primary.cnf", "replica.cnf"]
    assert "log_bin" in data["primary.cnf"]
    assert gtid in data["primary.cnf"]
    assert "read_only = ON" in data["replica.cnf"]
    assert "read_only" not in data["primary.cnf"]


def test_scripts_configmap_holds_the_chart_scripts_verbatim(default: Rendered) -> None:
    data = default.get("ConfigMap", f"{FULL}-scripts")["data"]
    on_disk = {p.name: p.read_text() for p in sorted((CHART / "scripts").glob("*.sh"))}
    assert on_disk, "charts/mysql/scripts/*.sh missing"
    assert data == on_disk


@pytest.mark.parametrize(
    "script",
    [
        "#!/bin/sh\necho a\n\n\n\necho b\n",  # empty lines in a literal block
        "#!/bin/sh\n\techo tab\n",  # the rest take toYaml's way
        "#!/bin/sh\necho trailing space \n",
        "#!/bin/sh\necho no final newline",
        "#!/bin/sh\necho two final newlines\n\n",
        " #!/bin/sh leading space\n",
    ],
)
def test_scripts_configmap_keeps_any_script_verbatim(
    render_chart: ChartRenderer, tmp_path: Path, script: str
) -> None:
    """mysql.literalYaml writes plain scripts as YAML itself and hands any other to toYaml."""
    shutil.copytree(REPO / "library-chart", tmp_path / "library-chart")
    chart = tmp_path / "charts" / "mysql"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    (chart / "scripts" / "aa-extra.sh").write_text(script, encoding="utf-8")
    data = render_chart(chart, release=RELEASE).get("ConfigMap", f"{FULL}-scripts")["data"]
    assert data["aa-extra.sh"] == script
    assert data == {p.name: p.read_text() for p in (chart / "scripts").glob("*.sh")}


def test_chart_files_are_plain_text() -> None:
    """mysql.literalYaml checks the scripts and role files for tabs, carriage returns and
    trailing spaces only: no other control or non-printable character may be in them."""
    files = [*(CHART / "scripts").glob("*.sh"), *(CHART / "files").glob("*/*.cnf")]
    assert files
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            assert line.isprintable(), f"{path}:{number}: a non-printable character"
            assert all(ord(c) < 0x10000 for c in line), f"{path}:{number}: outside the BMP"


def test_init_container_lays_role_and_user_config_over(render_chart: ChartRenderer) -> None:
    out = render_chart(
        CHART,
        {"config": {"files": {"tuning.cnf": "[mysqld]\nmax_connections = 7\n"}}},
        release=RELEASE,
    )
    sts = out.get("StatefulSet", FULL)
    init = _container(sts, "init-config", init=True)
    assert init["command"] == ["bash", "/destate/scripts/init-config.sh"]
    env = _env(init)
    assert env["CONFIG_SRC"] == "/destate/config-src/role:/destate/config-src/user"
    assert env["CONFIG_DEST"] == "/etc/mysql/conf.d"
    mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    assert mounts["/destate/config-src/user"] == "user-config"
    assert mounts["/destate/config-src/role"] == "role-config"
    assert mounts["/etc/mysql/conf.d"] == "conf"
    server_mounts = {m["mountPath"]: m["name"] for m in _container(sts, "mysql")["volumeMounts"]}
    assert server_mounts["/etc/mysql/conf.d"] == "conf"
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["conf"] == {"name": "conf", "emptyDir": {}}
    assert volumes["user-config"]["configMap"]["name"] == FULL
    assert out.get("ConfigMap", FULL)["data"] == {"tuning.cnf": "[mysqld]\nmax_connections = 7\n"}
    assert "checksum/config" in sts["spec"]["template"]["metadata"]["annotations"]


def test_config_checksum_changes_with_config(render_chart: ChartRenderer) -> None:
    def checksum(content: str) -> str:
        out = render_chart(CHART, {"config": {"files": {"a.cnf": content}}}, release=RELEASE)
        annotations = out.get("StatefulSet", FULL)["spec"]["template"]["metadata"]["annotations"]
        return annotations["checksum/config"]

    assert checksum("[mysqld]\na=1\n") != checksum("[mysqld]\na=2\n")


def test_replication_sidecar_runs_the_loop(default: Rendered) -> None:
    side = _container(default.get("StatefulSet", FULL), "replication")
    assert side["command"] == ["bash", "/destate/scripts/configure-replication.sh", "--loop"]
    assert {"name": "data", "mountPath": "/var/lib/mysql", "subPath": "mysql"} in side[
        "volumeMounts"
    ]


def test_secret_is_stable_kept_and_has_no_randomness(render_chart: ChartRenderer) -> None:
    first = render_chart(CHART, release=RELEASE, namespace="data")
    second = render_chart(CHART, release=RELEASE, namespace="data")
    secret = first.get("Secret", f"{FULL}-auth")
    assert secret == second.get("Secret", f"{FULL}-auth")
    assert first.text == second.text
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    root = base64.b64decode(secret["data"]["root-password"]).decode()
    repl = base64.b64decode(secret["data"]["replication-password"]).decode()
    assert len(root) >= 8
    assert root != repl


def test_given_passwords_and_existing_secret(render_chart: ChartRenderer) -> None:
    given = render_chart(CHART, {"auth": {"rootPassword": "r00t-pw"}}, release=RELEASE)
    data = given.get("Secret", f"{FULL}-auth")["data"]
    assert base64.b64decode(data["root-password"]).decode() == "r00t-pw"
    existing = render_chart(CHART, {"auth": {"existingSecret": "mine"}}, release=RELEASE)
    assert not existing.has("Secret", f"{FULL}-auth")
    env = _env(_container(existing.get("StatefulSet", FULL), "mysql"))
    assert env["MYSQL_ROOT_PASSWORD"]["secretKeyRef"]["name"] == "mine"


def test_pdb_and_anti_affinity(default: Rendered, render_chart: ChartRenderer) -> None:
    pdb = default.get("PodDisruptionBudget", FULL)
    assert pdb["spec"]["maxUnavailable"] == 1
    affinity = default.get("StatefulSet", FULL)["spec"]["template"]["spec"]["affinity"]
    assert "preferredDuringSchedulingIgnoredDuringExecution" in affinity["podAntiAffinity"]
    hard = render_chart(
        CHART, {"topology": {"antiAffinity": "hard", "pdb": {"enabled": False}}}, release=RELEASE
    )
    spec = hard.get("StatefulSet", FULL)["spec"]["template"]["spec"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in spec["affinity"]["podAntiAffinity"]
    assert not hard.has("PodDisruptionBudget")


def test_local_volumes_pin_each_claim_to_its_node(local: Rendered) -> None:
    sc = local.of_kind("StorageClass")
    assert len(sc) == 1
    assert sc[0]["provisioner"] == "kubernetes.io/no-provisioner"
    assert sc[0]["volumeBindingMode"] == "WaitForFirstConsumer"
    pvs = sorted(local.of_kind("PersistentVolume"), key=lambda pv: pv["spec"]["claimRef"]["name"])
    assert [pv["spec"]["claimRef"]["name"] for pv in pvs] == [f"data-{FULL}-0", f"data-{FULL}-1"]
    nodes = [
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
        for pv in pvs
    ]
    assert [(n["key"], n["values"]) for n in nodes] == [
        ("kubernetes.io/hostname", ["n1"]),
        ("kubernetes.io/hostname", ["n2"]),
    ]
    assert all(pv["spec"]["local"]["path"] == "/mnt/db" for pv in pvs)
    claim = local.get("StatefulSet", FULL)["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == sc[0]["metadata"]["name"]


def test_persistence_disabled_uses_an_empty_dir(render_chart: ChartRenderer) -> None:
    out = render_chart(CHART, {"persistence": {"enabled": False}}, release=RELEASE)
    sts = out.get("StatefulSet", FULL)
    assert "volumeClaimTemplates" not in sts["spec"]
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


def test_pods_are_restricted(default: Rendered) -> None:
    pod = default.get("StatefulSet", FULL)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    for c in pod["containers"] + pod["initContainers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]


def test_helm_test_checks_every_replica_by_name(default: Rendered) -> None:
    pod = default.get("Pod", f"{FULL}-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    env = _env(pod["spec"]["containers"][0])  # the hosts reach the script as env
    assert env["PRIMARY_SERVICE"] == f"{FULL}-primary"
    replicas = env["REPLICA_HOSTS"].split()
    for ordinal in (1, 2):
        assert f"{FULL}-{ordinal}.{FULL}-headless.data.svc.cluster.local" in replicas
    assert not [host for host in replicas if host.startswith(f"{FULL}-0.")]
    # the test pod is not selected by the chart's Services
    selector = default.get("Service", f"{FULL}-read")["spec"]["selector"]
    labels = pod["metadata"]["labels"]
    assert not all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"replication": {"serverIdBase": 0}}, "/replication/serverIdBase"),
        ({"flavor": "postgres"}, "/flavor"),
        ({"auth": {"password": "x"}}, "/auth"),
    ],
)
def test_chart_specific_bad_values_name_their_path(
    render_chart: ChartRenderer, values: dict[str, Any], path: str
) -> None:
    assert path in render_chart.error(CHART, values)


def test_config_writable_must_stay_true(render_chart: ChartRenderer) -> None:
    message = render_chart.error(CHART, {"config": {"writable": False}})
    assert "destate: config.writable must be true" in message


def test_secret_files_reach_the_init_container(render_chart: ChartRenderer) -> None:
    out = render_chart(CHART, {"config": {"secrets": {"server-key.pem": "KEY"}}}, release=RELEASE)
    sts = out.get("StatefulSet", FULL)
    init = _container(sts, "init-config", init=True)
    assert _env(init)["CONFIG_SRC"].split(":") == [
        "/destate/config-src/role",
        "/destate/config-src/user",
        "/destate/config-src/secret",
    ]
    mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes[mounts["/destate/config-src/secret"]]["secret"]["secretName"] == FULL
    assert base64.b64decode(out.get("Secret", FULL)["data"]["server-key.pem"]) == b"KEY"
    assert "checksum/secret" in sts["spec"]["template"]["metadata"]["annotations"]


def test_init_container_gets_no_password(default: Rendered) -> None:
    """init-config.sh needs no server and no password: its container is given none."""
    sts = default.get("StatefulSet", FULL)
    init = _container(sts, "init-config", init=True)
    assert not [name for name in _env(init) if "PASSWORD" in name]
    assert "MYSQL_ROOT_PASSWORD" in _env(_container(sts, "mysql"))
    assert "MYSQL_REPLICATION_PASSWORD" in _env(_container(sts, "replication"))


def test_helm_test_script_gets_hosts_through_env(default: Rendered) -> None:
    """Names reach the test pod's script as env, used as "$VAR", never as script text."""
    pod = default.get("Pod", f"{FULL}-test")
    (container,) = pod["spec"]["containers"]
    env = _env(container)
    assert env["PRIMARY_SERVICE"] == f"{FULL}-primary"
    assert env["READ_SERVICE"] == f"{FULL}-read"
    assert env["REPLICA_HOSTS"].split() == [
        f"{FULL}-{n}.{FULL}-headless.data.svc.cluster.local" for n in (1, 2)
    ]
    script = container["command"][-1]
    assert "cluster.local" not in script and f"{FULL}-" not in script

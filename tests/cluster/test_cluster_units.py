"""Unit tests of the local control plane and install pieces (no cluster needed)."""

from __future__ import annotations

import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartmatrix.cluster import kwok
from chartmatrix.cluster.cli import main as cluster_main
from chartmatrix.cluster.control_plane import ControlPlane, ready_nodes
from chartmatrix.cluster.install import Case, CaseResult, Step, discover_cases, namespace_for
from chartmatrix.cluster.install_cli import write_junit
from chartmatrix.cluster.install_kube import classify_leftover, workload_ready
from chartmatrix.cluster.install_upgrade import default_ref, tree_at, with_old
from chartmatrix.cluster.kubeconfig import kubeconfig_text
from chartmatrix.cluster.layout import Layout, Ports
from chartmatrix.cluster.pki import ensure_pki
from chartmatrix.cluster.procs import Proc, group_alive
from chartmatrix.cluster.provisioner import (
    PROVISIONER,
    SELECTED_NODE,
    STORAGE_CLASS,
    released_to_delete,
    storage_class,
    volume_for,
)
from chartmatrix.errors import ChartmatrixError


# --- pki ----------------------------------------------------------------------
def _openssl_text(cert: Path) -> str:
    return subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pki")
    ensure_pki(path)
    return path


def test_pki_chain_and_identities(pki: Path) -> None:
    tmp_path = pki
    for stem in ("apiserver", "admin", "controller-manager", "scheduler", "kwok"):
        verify = subprocess.run(
            [
                "openssl",
                "verify",
                "-CAfile",
                str(tmp_path / "ca.crt"),
                str(tmp_path / f"{stem}.crt"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verify.returncode == 0, verify.stderr
    server = _openssl_text(tmp_path / "apiserver.crt")
    assert "IP Address:127.0.0.1" in server and "DNS:kubernetes.default.svc" in server
    assert "TLS Web Server Authentication" in server
    admin = _openssl_text(tmp_path / "admin.crt")
    assert "O = system:masters" in admin and "TLS Web Client Authentication" in admin
    assert "CN = system:kube-scheduler" in _openssl_text(tmp_path / "scheduler.crt")
    assert (tmp_path / "sa.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert oct((tmp_path / "ca.key").stat().st_mode & 0o777) == "0o600"


def test_pki_is_reused(pki: Path) -> None:
    tmp_path = pki
    before = (tmp_path / "ca.crt").read_bytes(), (tmp_path / "sa.key").read_bytes()
    (tmp_path / "kwok.crt").unlink()
    ensure_pki(tmp_path)  # remakes only what is missing
    assert (tmp_path / "kwok.crt").is_file()
    assert ((tmp_path / "ca.crt").read_bytes(), (tmp_path / "sa.key").read_bytes()) == before


def test_kubeconfig_uses_client_certificate(tmp_path: Path) -> None:
    doc = yaml.safe_load(kubeconfig_text("https://127.0.0.1:6443", tmp_path, "admin"))
    assert doc["current-context"] == "chartmatrix-local"
    assert doc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert doc["users"][0]["user"]["client-certificate"] == str(tmp_path / "admin.crt")


# --- processes ------------------------------------------------------------------
def test_proc_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    proc = Proc("sleeper", tmp_path / "run", tmp_path / "logs")
    pid = proc.start(["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"])
    assert proc.alive() and proc.pid() == pid
    time.sleep(0.2)
    assert proc.stop(grace=5)
    assert not group_alive(pid)
    assert not proc.pid_file.exists()
    assert not proc.stop()  # nothing left to stop


def test_proc_ignores_a_reused_pid(tmp_path: Path) -> None:
    proc = Proc("other", tmp_path, tmp_path)
    proc.pid_file.write_text(f"{os.getpid()} /no/such/program\n")
    assert proc.pid() is None  # not our program: never signalled
    assert not proc.exited_early()  # ...but that pid is alive


def test_proc_notices_an_early_exit(tmp_path: Path) -> None:
    proc = Proc("quitter", tmp_path / "run", tmp_path / "logs")
    proc.start(["/bin/sh", "-c", "echo bad flag >&2; exit 3"])
    deadline = time.monotonic() + 10
    while not proc.exited_early() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.exited_early() and not proc.alive()
    assert "bad flag" in proc.log_file.read_text()


def test_ports_are_distinct_and_round_trip(tmp_path: Path) -> None:
    ports = Ports.pick()
    values = [
        ports.etcd_client,
        ports.etcd_peer,
        ports.apiserver,
        ports.controller_manager,
        ports.scheduler,
        ports.kwok,
    ]
    assert len(set(values)) == len(values) and all(v > 0 for v in values)
    ports.save(tmp_path / "ports.json")
    assert Ports.load(tmp_path / "ports.json") == ports
    assert Ports.load(tmp_path / "missing.json") is None


# --- control plane without binaries ---------------------------------------------
def test_up_without_binaries_is_one_clear_error(tmp_path: Path) -> None:
    plane = ControlPlane(Layout(tmp_path / "state", tmp_path / "bin"), say=lambda _m: None)
    with pytest.raises(ChartmatrixError, match=r"tools/bootstrap --cluster") as err:
        plane.up()
    assert "kube-apiserver" in err.value.line()


def test_status_cli_reports_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHARTMATRIX_CLUSTER_DIR", str(tmp_path))
    assert cluster_main(["cluster", "status"]) == 3
    out = capsys.readouterr().out
    assert "etcd" in out and "stopped" in out and "not serving" in out


def test_down_cli_when_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHARTMATRIX_CLUSTER_DIR", str(tmp_path))
    assert cluster_main(["cluster", "down"]) == 0
    assert "nothing was running" in capsys.readouterr().err


def _node(name: str, ready: str, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def test_ready_nodes_needs_ready_and_untainted() -> None:
    nodes = {
        "items": [
            _node("b", "True"),
            _node("a", "True"),
            _node("c", "False"),
            _node("d", "True", [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]),
            _node("e", "True", [{"key": "soft", "effect": "PreferNoSchedule"}]),
        ]
    }
    assert ready_nodes(nodes) == ["a", "b", "e"]
    assert ready_nodes(None) == [] and ready_nodes("error text") == []


# --- kwok -----------------------------------------------------------------------
def test_kwok_nodes_are_labelled_and_untainted() -> None:
    nodes = kwok.nodes(3)
    assert [n["metadata"]["name"] for n in nodes] == kwok.node_names(3)
    for node in nodes:
        labels = node["metadata"]["labels"]
        assert labels["kubernetes.io/hostname"] == node["metadata"]["name"]
        assert labels[kwok.NODE_LABEL] == "true"
        assert "taints" not in node["spec"]
    assert len({n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes}) == 3


def test_kwok_stages_cover_the_lifecycle() -> None:
    docs = list(yaml.safe_load_all(kwok.stages_yaml()))
    names = [d["metadata"]["name"] for d in docs]
    assert len(names) == len(set(names))
    assert {
        "node-initialize",
        "node-heartbeat",
        "pod-ready",
        "pod-complete-job",
        "pod-complete-helm-test",
        "pod-delete",
    } <= set(names)
    by_name = {d["metadata"]["name"]: d["spec"] for d in docs}
    helm_test = by_name["pod-complete-helm-test"]
    hook = [e for e in helm_test["selector"]["matchExpressions"] if "helm.sh/hook" in e["key"]]
    assert hook and set(hook[0]["values"]) == {"test", "test-success"}
    assert "phase: Succeeded" in helm_test["next"]["statusTemplate"]
    assert "phase: Running" in by_name["pod-ready"]["next"]["statusTemplate"]
    assert by_name["pod-delete"]["next"] == {"delete": True}


# --- provisioner ----------------------------------------------------------------
def _claim(**over: Any) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "metadata": {
            "name": "data-db-0",
            "namespace": "ns",
            "uid": "u-1",
            "annotations": {SELECTED_NODE: "kwok-node-1"},
        },
        "spec": {
            "storageClassName": STORAGE_CLASS,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "2Gi"}},
        },
    }
    claim["spec"].update(over)
    return claim


def test_provisioner_pins_volume_to_selected_node() -> None:
    pv = volume_for(_claim(), "Delete")
    assert pv is not None
    assert pv["metadata"]["name"] == "pvc-u-1"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == PROVISIONER
    spec = pv["spec"]
    assert spec["capacity"] == {"storage": "2Gi"}
    assert spec["claimRef"]["uid"] == "u-1" and spec["claimRef"]["name"] == "data-db-0"
    term = spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term == {"key": "kubernetes.io/hostname", "operator": "In", "values": ["kwok-node-1"]}


def test_provisioner_ignores_other_claims() -> None:
    assert volume_for(_claim(storageClassName="other"), "Delete") is None
    assert volume_for(_claim(volumeName="pv-x"), "Delete") is None
    unscheduled = _claim()
    unscheduled["metadata"]["annotations"] = {}
    assert volume_for(unscheduled, "Delete") is None


def test_provisioner_deletes_only_its_released_volumes() -> None:
    ours = {
        "metadata": {"annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {"persistentVolumeReclaimPolicy": "Delete"},
        "status": {"phase": "Released"},
    }
    assert released_to_delete(ours)
    assert not released_to_delete({**ours, "status": {"phase": "Bound"}})
    assert not released_to_delete({**ours, "spec": {"persistentVolumeReclaimPolicy": "Retain"}})
    assert not released_to_delete({**ours, "metadata": {"annotations": {}}})
    sc = storage_class()
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


# --- install pieces -------------------------------------------------------------
def _sts(**status: Any) -> dict[str, Any]:
    base = {
        "observedGeneration": 2,
        "replicas": 3,
        "readyReplicas": 3,
        "updatedReplicas": 3,
        "currentRevision": "r2",
        "updateRevision": "r2",
    }
    base.update(status)
    return {
        "kind": "StatefulSet",
        "metadata": {"generation": 2},
        "spec": {"replicas": 3},
        "status": base,
    }


def test_statefulset_readiness() -> None:
    assert workload_ready(_sts())
    assert not workload_ready(_sts(readyReplicas=2))
    assert not workload_ready(_sts(observedGeneration=1))
    assert not workload_ready(_sts(currentRevision="r1"))  # rollout still going


def test_deployment_readiness() -> None:
    dep = {
        "kind": "Deployment",
        "metadata": {"generation": 1},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": 1,
            "replicas": 2,
            "readyReplicas": 2,
            "updatedReplicas": 2,
            "availableReplicas": 2,
        },
    }
    assert workload_ready(dep)
    dep["status"]["availableReplicas"] = 1
    assert not workload_ready(dep)


def _chart(root: Path, name: str, ci: list[str], kind: str = "application") -> Path:
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: 0.1.0\ntype: {kind}\n"
    )
    if ci:
        (chart / "ci").mkdir()
        for f in ci:
            (chart / "ci" / f).write_text("a: 1\n")
    return chart


def test_cases_follow_ci_values_files(tmp_path: Path) -> None:
    chart = _chart(tmp_path, "demo", ["b-values.yaml", "a-values.yaml", "notes.yaml"])
    cases = discover_cases(chart)
    assert [c.case_id for c in cases] == ["demo/a", "demo/b"]
    assert cases[0].values() == {"a": 1}
    plain = discover_cases(_chart(tmp_path, "plain", []))
    assert [c.name for c in plain] == ["default"] and plain[0].values() == {}
    with pytest.raises(ChartmatrixError, match="library chart"):
        discover_cases(_chart(tmp_path, "lib", [], kind="library"))


def test_namespace_names_are_dns_labels(tmp_path: Path) -> None:
    case = Case(tmp_path, "A_Very_Long_Chart_Name" * 3, tmp_path / "ci" / "x-values.yaml")
    first, second = namespace_for(case), namespace_for(case)
    assert first != second
    for ns in (first, second):
        assert len(ns) <= 63 and ns.startswith("cm-")
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", ns)


def test_junit_report(tmp_path: Path) -> None:
    good = CaseResult(
        Case(tmp_path, "demo", None), "ns1", [Step("install", True, 1.0), Step("test", True, 0.5)]
    )
    bad = CaseResult(
        Case(tmp_path, "demo", tmp_path / "ci" / "x-values.yaml"),
        "ns2",
        [Step("install", True, 1.0), Step("ready", False, 3.0, "not ready")],
        events=["Warning FailedScheduling Pod/x: no nodes"],
    )
    out = tmp_path / "junit.xml"
    write_junit(out, [good, bad])
    root = ET.parse(out).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = root.find(".//testcase[@name='x']/failure")
    assert failure is not None and failure.get("message") == "ready: not ready"
    assert "FailedScheduling" in (failure.text or "")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
        },
    )


def test_upgrade_uses_the_chart_at_the_ref(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    chart = _chart(repo / "charts", "demo", ["a-values.yaml"])
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "v1")
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.2.0\n")
    (chart / "ci" / "b-values.yaml").write_text("b: 2\n")
    new = _chart(repo / "charts", "fresh", [])
    cases = discover_cases(chart)
    with tree_at(repo, "HEAD") as old_tree:
        old_a = with_old(cases[0], repo, old_tree)
        assert old_a is not None and old_a.old_chart_dir is not None
        assert "version: 0.1.0" in (old_a.old_chart_dir / "Chart.yaml").read_text()
        assert old_a.old_values() == {"a": 1}
        assert with_old(cases[1], repo, old_tree) is None  # b-values.yaml is new
        assert with_old(discover_cases(new)[0], repo, old_tree) is None
    with pytest.raises(ChartmatrixError, match="rev-parse"), tree_at(repo, "no-such-ref"):
        pass


def test_default_ref_is_the_merge_base_with_main(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "f").write_text("1")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    base = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "f").write_text("2")
    _git(repo, "commit", "-q", "-am", "two")
    assert default_ref(repo) == base
    with pytest.raises(ChartmatrixError, match="--ref"):
        default_ref(repo, base="nope")


def _obj(name: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **meta}, "spec": {}}


def test_leftover_verdicts() -> None:
    helm_owned = {"annotations": {"meta.helm.sh/release-name": "r"}}
    assert classify_leftover("ConfigMap", _obj("kube-root-ca.crt"), "ns") is None
    assert classify_leftover("PersistentVolumeClaim", _obj("data-db-0"), "ns") == (
        True,
        "PersistentVolumeClaim/data-db-0 (claim from a volumeClaimTemplate)",
    )
    assert classify_leftover("PersistentVolumeClaim", _obj("c", **helm_owned), "ns") == (
        False,
        "PersistentVolumeClaim/c",
    )
    kept = _obj("pw", annotations={"helm.sh/resource-policy": "keep"})
    assert classify_leftover("Secret", kept, "ns") == (
        True,
        "Secret/pw (helm.sh/resource-policy: keep)",
    )
    assert classify_leftover("ConfigMap", _obj("hook-output"), "ns") == (
        False,
        "ConfigMap/hook-output",
    )
    held = _obj("pv-1", deletionTimestamp="now")
    held["spec"]["claimRef"] = {"namespace": "ns", "name": "data-db-0"}
    assert classify_leftover("PersistentVolume", held, "ns")[0] is True
    assert classify_leftover("PersistentVolume", held, "other") == (
        False,
        "PersistentVolume/pv-1 (still terminating)",
    )


def test_up_reports_a_component_that_exits_and_cleans_up(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in (
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "kubectl",
    ):
        script = bin_dir / name
        script.write_text(
            "#!/bin/sh\necho 'listen tcp: bind: address already in use' >&2\nexit 1\n"
        )
        script.chmod(0o755)
    messages: list[str] = []
    plane = ControlPlane(Layout(tmp_path / "state", bin_dir), say=messages.append)
    with pytest.raises(ChartmatrixError) as err:
        plane.up(gateway_api="none", timeout=30)
    assert "etcd exited while waiting for etcd" in err.value.line()
    assert "address already in use" in err.value.line()
    assert any("retrying on fresh ports" in m for m in messages)  # one retry, then the error
    assert not list((tmp_path / "state" / "run").glob("*.pid"))
    assert not plane.status().up

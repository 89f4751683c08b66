"""Release lifecycle drills on the local control plane (real API server, kube-controller-manager
with the PersistentVolume binder, kwok nodes): what a rename on upgrade, and an uninstall
followed by a reinstall, do to the data's claims and volumes.

- a rename (fullnameOverride / nameOverride) on upgrade is refused online, naming the value:
  the old StatefulSet and its claims stay as they were;
- local PersistentVolumes and their StorageClass are kept by `helm uninstall`, stay bound to
  the retained claims, and a reinstall gets the very same volumes back on the same nodes;
- a kept volume whose claim was deleted (whenDeleted=Delete) is Released: the reinstall stops
  with the command that clears the old claim's uid, and after it the re-created claim binds
  to the same volume.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chartmatrix.cluster import kwok
from chartmatrix.cluster.layout import CONTEXT
from chartmatrix.project import find_root

pytestmark = pytest.mark.cluster

ROOT = find_root(Path(__file__).parent)
AUTH = {"rootPassword": "drill-root", "replicationPassword": "drill-repl"}


def _values(replicas: int, local: bool, when_deleted: str = "Retain") -> dict[str, Any]:
    persistence: dict[str, Any] = {"size": "1Gi", "retention": {"whenDeleted": when_deleted}}
    if local:
        persistence["local"] = {
            "enabled": True,
            "nodes": kwok.node_names(replicas),
            "path": "/mnt/lifecycle",
        }
    return {"workload": {"replicas": replicas}, "persistence": persistence, "auth": AUTH}


def _helm(cluster, *args: str, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess:
    """helm against the drill cluster; the outcome is the test's to judge."""
    argv = [cluster.helm, *args, "--kubeconfig", str(cluster.plane.layout.kubeconfig)]
    argv += ["--kube-context", CONTEXT]
    if values is not None:
        argv += ["--values", "-"]
    return subprocess.run(
        argv,
        input=json.dumps(values) if values is not None else None,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _volumes(cluster, namespace: str) -> dict[str, dict[str, Any]]:
    """The local PersistentVolumes of the namespace's release (named NAMESPACE-CLAIM)."""
    return {
        v["metadata"]["name"]: v
        for v in cluster.kube.items("/api/v1/persistentvolumes")
        if v["metadata"]["name"].startswith(f"{namespace}-")
    }


def _storage_classes(cluster, namespace: str) -> list[str]:
    return [
        c["metadata"]["name"]
        for c in cluster.kube.items("/apis/storage.k8s.io/v1/storageclasses")
        if c["metadata"]["name"].startswith(f"{namespace}-")
    ]


def _placement(cluster, namespace: str) -> dict[str, tuple[str, str]]:
    """claim -> (bound volume, node of the pod using it) for every pod of the namespace."""
    out = {}
    for pod in cluster.pods(namespace):
        for vol in pod["spec"].get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                bound = cluster.claims(namespace)[claim]["spec"].get("volumeName", "")
                out[claim] = (bound, pod["spec"].get("nodeName", ""))
    return out


@pytest.fixture
def cleanup_volumes(cluster, namespace):
    """Kept volumes and classes are cluster-scoped: remove this test's after it."""
    yield
    for name in _volumes(cluster, namespace):
        cluster.kube.delete(f"/api/v1/persistentvolumes/{name}")
    for name in _storage_classes(cluster, namespace):
        cluster.kube.delete(f"/apis/storage.k8s.io/v1/storageclasses/{name}")


# --- a rename on upgrade ------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "new_name"),
    [("fullnameOverride", "main", "main"), ("nameOverride", "sql", "db-sql")],
)
def test_rename_on_upgrade_is_refused(
    cluster, charts, namespace, key: str, value: str, new_name: str
) -> None:
    values = _values(2, local=False)
    cluster.install(charts["mysql"], "db", namespace, values)
    before = cluster.statefulset(namespace, "db")
    name = before["metadata"]["name"]
    claims = {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()}
    assert sorted(claims) == [f"data-{name}-0", f"data-{name}-1"]

    done = _helm(
        cluster,
        "upgrade",
        "db",
        str(charts["mysql"]),
        "--namespace",
        namespace,
        values={**values, key: value},
    )
    assert done.returncode != 0, f"the rename to {new_name} was accepted:\n{done.stdout}"
    assert f'{key} (got "{value}")' in done.stderr, done.stderr
    assert f"already has StatefulSet {name} in namespace {namespace}" in done.stderr
    assert f"the new name {new_name} would start its pods on new, empty claims" in done.stderr

    after = cluster.statefulset(namespace, "db")  # exactly one, the old one
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()} == claims

    # the same values without the rename still upgrade
    cluster.install(charts["mysql"], "db", namespace, values)
    assert cluster.statefulset(namespace, "db")["metadata"]["uid"] == before["metadata"]["uid"]


# --- uninstall, then reinstall -------------------------------------------------------
def test_local_volumes_are_kept_and_found_again_after_reinstall(
    cluster, charts, namespace, wait_until, cleanup_volumes
) -> None:
    values = _values(2, local=True)
    cluster.install(charts["mysql"], "db", namespace, values)
    volumes = {n: v["metadata"]["uid"] for n, v in _volumes(cluster, namespace).items()}
    claims = {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()}
    placement = _placement(cluster, namespace)
    assert len(volumes) == 2 and len(claims) == 2
    assert {bound for bound, _ in placement.values()} == set(volumes)

    done = _helm(cluster, "uninstall", "db", "--namespace", namespace, "--wait", "--timeout", "60s")
    assert done.returncode == 0, f"uninstall did not finish: {done.stderr}"
    wait_until(lambda: not cluster.pods(namespace), 60, "the pods to go")
    kept = _volumes(cluster, namespace)
    assert {n: v["metadata"]["uid"] for n, v in kept.items()} == volumes, "a volume was deleted"
    for name, volume in kept.items():
        assert not volume["metadata"].get("deletionTimestamp"), f"{name} is being deleted"
        assert volume["status"]["phase"] == "Bound", f"{name}: {volume['status']}"
        claim = volume["spec"]["claimRef"]["name"]
        assert volume["spec"]["claimRef"]["uid"] == claims[claim], f"{name} lost its claim"
    assert len(_storage_classes(cluster, namespace)) == 1, "the local StorageClass was deleted"
    assert {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()} == claims

    cluster.install(charts["mysql"], "db", namespace, values)
    assert {n: v["metadata"]["uid"] for n, v in _volumes(cluster, namespace).items()} == volumes
    assert {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()} == claims
    assert _placement(cluster, namespace) == placement, "a pod got another volume or node"


def test_local_volume_of_a_deleted_claim_is_bound_again_after_clearing_its_claim_uid(
    cluster, charts, namespace, wait_until, cleanup_volumes
) -> None:
    values = _values(2, local=True, when_deleted="Delete")
    cluster.install(charts["mysql"], "db", namespace, values)
    volumes = {n: v["metadata"]["uid"] for n, v in _volumes(cluster, namespace).items()}
    placement = _placement(cluster, namespace)
    old_claims = {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()}

    _helm(cluster, "uninstall", "db", "--namespace", namespace, "--wait", "--timeout", "60s")
    wait_until(lambda: not cluster.claims(namespace), 90, "whenDeleted=Delete to remove claims")
    wait_until(
        lambda: all(
            v["status"].get("phase") == "Released" for v in _volumes(cluster, namespace).values()
        ),
        60,
        "the kept volumes to be Released",
    )

    refused = _helm(
        cluster, "install", "db", str(charts["mysql"]), "--namespace", namespace, values=values
    )
    assert refused.returncode != 0, "the reinstall went ahead: its pods would wait forever"
    message = refused.stderr
    for name in volumes:
        assert name in message, message
    assert "persistence.local" in message and "Released" in message
    commands = re.findall(r"kubectl patch pv \S+ --type json -p '[^']*'", message)
    assert len(commands) == len(volumes), message
    kubectl = str(ROOT / ".tools" / "bin" / "kubectl")
    for command in commands:  # exactly what the message says, nothing else
        argv = shlex.split(command)
        argv[0] = kubectl
        argv += ["--kubeconfig", str(cluster.plane.layout.kubeconfig), "--context", CONTEXT]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)

    cluster.install(charts["mysql"], "db", namespace, values)
    claims = cluster.claims(namespace)
    assert {n: c["metadata"]["uid"] for n, c in claims.items()}.keys() == old_claims.keys()
    assert all(claims[n]["metadata"]["uid"] != uid for n, uid in old_claims.items())
    assert {n: v["metadata"]["uid"] for n, v in _volumes(cluster, namespace).items()} == volumes
    assert _placement(cluster, namespace) == placement, "a new claim got another volume or node"

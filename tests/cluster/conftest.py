"""Fixtures for the state drills: one local control plane per test session.

The cluster lives in a temporary directory of the session (its own ports, so a
developer's ``chartmatrix cluster up`` and other sessions are left alone) and is
stopped when the session ends.
Every test that uses it is skipped, with the reason, when the binaries are not built.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chartmatrix.charts import stage
from chartmatrix.cluster.control_plane import COMPONENTS, ControlPlane
from chartmatrix.cluster.install_kube import PSA_LABELS, Kube, wait_for
from chartmatrix.cluster.layout import CONTEXT, Layout
from chartmatrix.cluster.procs import group_alive
from chartmatrix.project import find_root
from destate_tools.charts import consumer_charts

ROOT = find_root(Path(__file__).parent)


@dataclass
class Cluster:
    plane: ControlPlane
    kube: Kube
    helm: str
    up_seconds: float

    def helm_run(self, *args: str, values: dict[str, Any] | None = None) -> str:
        argv = [
            self.helm,
            *args,
            "--kubeconfig",
            str(self.plane.layout.kubeconfig),
            "--kube-context",
            CONTEXT,
        ]
        if values is not None:
            argv += ["--values", "-"]
        done = subprocess.run(
            argv,
            input=json.dumps(values) if values is not None else None,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"helm {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def install(self, chart: Path, release: str, namespace: str, values: dict[str, Any]) -> None:
        """``helm upgrade --install --wait``, then wait for StatefulSets and Deployments."""
        self.helm_run(
            "upgrade",
            "--install",
            release,
            str(chart),
            "--namespace",
            namespace,
            "--wait",
            "--timeout",
            "180s",
            values=values,
        )
        self.wait_ready(namespace)

    def wait_ready(self, namespace: str, timeout: float = 120) -> None:
        pending = self.kube.wait_ready(namespace, timeout)
        assert not pending, f"not ready: {[w['metadata']['name'] for w in pending]}"

    # --- reads ----------------------------------------------------------------------
    def pods(self, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        query = {"labelSelector": selector} if selector else None
        pods = self.kube.items(f"/api/v1/namespaces/{namespace}/pods", query)
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.kube.get(f"/api/v1/namespaces/{namespace}/pods/{name}")

    def claims(self, namespace: str) -> dict[str, dict[str, Any]]:
        items = self.kube.items(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims")
        return {
            c["metadata"]["name"]: c for c in items if not c["metadata"].get("deletionTimestamp")
        }

    def statefulset(self, namespace: str, release: str) -> dict[str, Any]:
        items = self.kube.items(
            f"/apis/apps/v1/namespaces/{namespace}/statefulsets",
            {"labelSelector": f"app.kubernetes.io/instance={release}"},
        )
        assert len(items) == 1, f"expected one StatefulSet of {release}, got {len(items)}"
        return items[0]

    def services(self, namespace: str, release: str) -> list[dict[str, Any]]:
        return self.kube.items(
            f"/api/v1/namespaces/{namespace}/services",
            {"labelSelector": f"app.kubernetes.io/instance={release}"},
        )

    def endpoint_slices(self, namespace: str, service: str) -> list[dict[str, Any]]:
        return self.kube.items(
            f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
            {"labelSelector": f"kubernetes.io/service-name={service}"},
        )

    def delete_pod(self, namespace: str, name: str) -> None:
        self.kube.delete(f"/api/v1/namespaces/{namespace}/pods/{name}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster: needs the local control plane (tools/bootstrap --cluster)"
    )


def _find_helm() -> str | None:
    local = ROOT / ".tools" / "bin" / "helm"
    return str(local) if local.exists() else shutil.which("helm")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # a state directory of this session's own: parallel sessions (two developers'
    # `make test` in one checkout) each get their own cluster on their own ports
    state = tmp_path_factory.mktemp("cluster")
    layout = Layout(root=state, bin_dir=ROOT / ".tools" / "bin")
    missing = layout.missing_binaries()
    if missing:
        pytest.skip(
            f"local cluster binaries not built ({', '.join(missing)}): "
            "run tools/bootstrap --cluster"
        )
    helm = _find_helm()
    if helm is None:
        pytest.skip("helm not found: run tools/bootstrap")
    plane = ControlPlane(layout, say=lambda _msg: None)
    took = plane.up(nodes=3)
    pids = {name: plane.proc(name).pid() for name in COMPONENTS}
    try:
        yield Cluster(plane, Kube(layout.kubeconfig, CONTEXT), helm, took)
    finally:
        stopped = plane.down(quiet=True)
    # `down` must leave nothing running: every component's whole process group is gone
    assert sorted(stopped) == sorted(COMPONENTS)
    alive = [name for name, pid in pids.items() if pid is None or group_alive(pid)]
    assert not alive, f"still running after down: {alive}"
    assert not list(layout.run.glob("*.pid"))


@pytest.fixture(scope="session")
def charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every consumer chart (discovered) with the library vendored, staged once per session."""
    base = tmp_path_factory.mktemp("charts")
    return {name: stage(ROOT / "charts" / name, base / name) for name in consumer_charts(ROOT)}


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace enforcing Pod Security ``restricted``; deleted afterwards."""
    name = f"drill-{time.time_ns() % 10**9}"
    cluster.kube.create_namespace(name, PSA_LABELS)
    yield name
    cluster.kube.delete_namespace(name)


@pytest.fixture
def wait_until() -> Any:
    """``wait_until(check, timeout, what)``: poll ``check`` until truthy, else fail."""

    def wait(check: Any, timeout: float = 60, what: str = "condition") -> None:
        assert wait_for(check, timeout), f"timed out after {timeout}s waiting for {what}"

    return wait

"""One real node per test session: ``ControlPlane.up(real_node=True)`` in a temporary dir.

The node needs root on Linux and what ``tools/bootstrap --cluster`` installs (kubelet,
kube-proxy, CoreDNS, the pause process; containerd, runc, the CNI plugins, iptables
and nftables, busybox-static from Debian). Without them the tests skip and say what is
missing; under ``CI=true`` a missing prerequisite fails instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chartmatrix.cluster.containerd import import_image
from chartmatrix.cluster.control_plane import ControlPlane
from chartmatrix.cluster.layout import Layout
from chartmatrix.cluster.node import RealNode
from chartmatrix.cluster.nodeconf import BRIDGE
from chartmatrix.cluster.ociimage import build_image
from chartnode import ImagesUnavailable, NodeTarget, existing_target, real_node_target
from realnode import APPLETS, BUSYBOX, ROOT, HostSnapshot, RealCluster

# stops the session's node (as a crash would): it must run after every other node test
LAST = "test_zz_down_after_a_crash_leaves_nothing"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.name == LAST)


def _prerequisites(layout: Layout) -> list[str]:
    missing = RealNode(layout).missing()
    missing += [] if BUSYBOX.is_file() else [str(BUSYBOX)]
    missing += [b for b in ("kubectl",) if not os.access(layout.binary(b), os.X_OK)]
    return missing


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    layout = Layout(root=tmp_path_factory.mktemp("node"), bin_dir=ROOT / ".tools" / "bin")
    missing = _prerequisites(layout)
    reason = ""
    if missing:
        reason = f"a real node needs {', '.join(missing)} (root; tools/bootstrap --cluster)"
    elif Path("/sys/class/net", BRIDGE).exists():
        reason = f"another real node is up on this machine (interface {BRIDGE}): one at a time"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    before = HostSnapshot.take()
    plane = ControlPlane(layout, say=lambda _msg: None)
    try:
        took = plane.up(real_node=True, timeout=180)
        image = build_image(
            "chartmatrix.local/busybox",
            {"/bin/busybox": BUSYBOX},
            ["/bin/sh"],
            layout.root / "images",
            symlinks={f"/bin/{name}": "busybox" for name in APPLETS},
        )
        import_image(image.archive, layout)
        ports = plane.ports()
        assert ports is not None
        api = plane.api(ports, timeout=30)
        api.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}},
        )
        yield RealCluster(plane, api, took, image.ref, before)
    finally:
        plane.down(quiet=True)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    def wait(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    return wait


@pytest.fixture(scope="session")
def node_target(request: pytest.FixtureRequest) -> NodeTarget:
    """Where the charts' tests install: the cluster named by ``DESTATE_NODE_KUBECONFIG``
    (the workflow's kind job), else the session's real node with the charts' images
    imported into its containerd once (chartnode.py)."""
    existing = existing_target()
    if existing is not None:
        return existing
    cluster: RealCluster = request.getfixturevalue("real_cluster")
    try:
        return real_node_target(cluster.plane.layout)
    except ImagesUnavailable as error:
        reason = f"the charts' images (tools/images) cannot be built here: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)

"""A small dynamic volume provisioner for the local cluster (no kubelet, no CSI there).

It plays the part a local-path provisioner plays on kind: the default StorageClass
``chartmatrix-local`` binds ``WaitForFirstConsumer``; once the scheduler has picked a
node for a pod's claim (annotation ``volume.kubernetes.io/selected-node``) this loop
creates a ``local`` PersistentVolume pinned to that node and pre-bound to the claim.
The pod is then scheduled there, and comes back to that node and volume when it is
rescheduled, as with real local storage. Released volumes of this class whose
reclaim policy is Delete are deleted. Run: ``python -m chartmatrix.cluster.provisioner
--kubeconfig FILE``.
With ``--real-node NAME --real-node-dir DIR`` (``cluster up --nodes real``) that
node's volumes are real directories, ``DIR/<namespace>/<claim>``, made when the volume
is created and removed with it.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

PROVISIONER = "chartmatrix.local/local-path"
STORAGE_CLASS = "chartmatrix-local"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
BASE_PATH = "/var/lib/chartmatrix-local"


def storage_class() -> dict[str, Any]:
    """The cluster's default StorageClass, served by this provisioner."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def volume_for(
    claim: dict[str, Any], reclaim: str, node_dirs: dict[str, Path] | None = None
) -> dict[str, Any] | None:
    """The PersistentVolume for a pending claim of our class, or None if not ours/ready.

    ``node_dirs``: real nodes (name -> directory) whose volumes are real directories
    under that directory; other nodes' volumes point at BASE_PATH (never created).
    """
    meta, spec = claim["metadata"], claim.get("spec", {})
    node = (meta.get("annotations") or {}).get(SELECTED_NODE)
    if spec.get("storageClassName") != STORAGE_CLASS or not node or spec.get("volumeName"):
        return None
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta['uid']}",
            "annotations": {PROVISIONED_BY: PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "persistentVolumeReclaimPolicy": reclaim,
            "storageClassName": STORAGE_CLASS,
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
            "local": {
                "path": str(
                    (node_dirs or {}).get(node, Path(BASE_PATH)) / meta["namespace"] / meta["name"]
                )
            },
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [node],
                                },
                            ]
                        }
                    ]
                }
            },
        },
    }


def released_to_delete(volume: dict[str, Any]) -> bool:
    """A volume we made, released by its claim, with reclaim policy Delete."""
    annotations = volume["metadata"].get("annotations") or {}
    spec, status = volume.get("spec", {}), volume.get("status") or {}
    return (
        annotations.get(PROVISIONED_BY) == PROVISIONER
        and spec.get("persistentVolumeReclaimPolicy") == "Delete"
        and status.get("phase") in ("Released", "Failed")
    )


def make_volume_dir(volume: dict[str, Any], node_dirs: dict[str, Path]) -> None:
    """Create a real node's volume directory (world-writable as with local-path: the
    pod's user is not known here; the directory sits in the root-only cluster dir)."""
    path = Path(volume["spec"]["local"]["path"])
    if any(path.is_relative_to(base) for base in node_dirs.values()):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)


def remove_volume_dir(volume: dict[str, Any], node_dirs: dict[str, Path]) -> None:
    """Delete a released real volume's directory (and its data), nothing outside node_dirs."""
    path = Path(((volume.get("spec") or {}).get("local") or {}).get("path") or "/")
    if any(path.is_relative_to(base) and path != base for base in node_dirs.values()):
        shutil.rmtree(path, ignore_errors=True)


def run(
    kubeconfig: str, interval: float, node_dirs: dict[str, Path]
) -> None:  # pragma: no cover - needs a cluster
    from chartmatrix.cluster.api import Api, ApiError

    api = Api.from_kubeconfig(Path(kubeconfig), None)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        try:
            cls = api.get(f"/apis/storage.k8s.io/v1/storageclasses/{STORAGE_CLASS}") or {}
            reclaim = cls.get("reclaimPolicy") or "Delete"
            for claim in api.items("/api/v1/persistentvolumeclaims"):
                volume = None
                if (claim.get("status") or {}).get("phase") == "Pending":
                    volume = volume_for(claim, reclaim, node_dirs)
                if volume is None:
                    continue
                make_volume_dir(volume, node_dirs)
                if api.create("/api/v1/persistentvolumes", volume) != 409:
                    where = f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"
                    print(f"provisioned {volume['metadata']['name']} for {where}", flush=True)
            for volume in api.items("/api/v1/persistentvolumes"):
                name = volume["metadata"]["name"]
                if released_to_delete(volume) and api.delete(f"/api/v1/persistentvolumes/{name}"):
                    remove_volume_dir(volume, node_dirs)
                    print(f"deleted {name}", flush=True)
        except (ApiError, OSError, KeyError) as exc:  # keep serving through API restarts
            print(f"provisioner: {exc}", flush=True)
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - needs a cluster
    parser = argparse.ArgumentParser(prog="chartmatrix.cluster.provisioner")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--real-node", help="a real node whose volumes are real directories")
    parser.add_argument("--real-node-dir", type=Path, help="where that node's volumes go")
    args = parser.parse_args(argv)
    node_dirs = (
        {args.real_node: args.real_node_dir} if args.real_node and args.real_node_dir else {}
    )
    run(args.kubeconfig, args.interval, node_dirs)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

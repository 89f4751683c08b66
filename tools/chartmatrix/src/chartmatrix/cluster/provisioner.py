"""A small dynamic volume provisioner for the local cluster (no kubelet, no CSI there).

It plays the part a local-path provisioner plays on kind: the default StorageClass
``destate-local`` binds ``WaitForFirstConsumer``; once the scheduler has picked a
node for a pod's claim (annotation ``volume.kubernetes.io/selected-node``) this loop
creates a ``local`` PersistentVolume pinned to that node and pre-bound to the claim.
The pod is then scheduled there, and comes back to that node and volume when it is
rescheduled, as with real local storage. Released volumes of this class whose
reclaim policy is Delete are deleted. Run: ``python -m chartmatrix.cluster.provisioner
--kubeconfig FILE``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

PROVISIONER = "destate.local/local-path"
STORAGE_CLASS = "destate-local"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
BASE_PATH = "/var/lib/destate-local"


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


def volume_for(claim: dict[str, Any], reclaim: str) -> dict[str, Any] | None:
    """The PersistentVolume for a pending claim of our class, or None if not ours/ready."""
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
            "local": {"path": f"{BASE_PATH}/{meta['namespace']}/{meta['name']}"},
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


def run(kubeconfig: str, interval: float) -> None:  # pragma: no cover - needs a cluster
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
                    volume = volume_for(claim, reclaim)
                if volume is None:
                    continue
                if api.create("/api/v1/persistentvolumes", volume) != 409:
                    where = f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"
                    print(f"provisioned {volume['metadata']['name']} for {where}", flush=True)
            for volume in api.items("/api/v1/persistentvolumes"):
                name = volume["metadata"]["name"]
                if released_to_delete(volume) and api.delete(f"/api/v1/persistentvolumes/{name}"):
                    print(f"deleted {name}", flush=True)
        except (ApiError, OSError, KeyError) as exc:  # keep serving through API restarts
            print(f"provisioner: {exc}", flush=True)
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - needs a cluster
    parser = argparse.ArgumentParser(prog="chartmatrix.cluster.provisioner")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    run(args.kubeconfig, args.interval)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

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
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api_client = config.new_client_from_config(config_file=kubeconfig)
    core = client.CoreV1Api(api_client)
    storage = client.StorageV1Api(api_client)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        try:
            reclaim = "Delete"
            try:
                cls = storage.read_storage_class(STORAGE_CLASS)
                reclaim = cls.reclaim_policy or "Delete"
            except ApiException:
                pass
            claims = api_client.sanitize_for_serialization(
                core.list_persistent_volume_claim_for_all_namespaces().items
            )
            for claim in claims:
                if (claim.get("status") or {}).get("phase") != "Pending":
                    continue
                volume = volume_for(claim, reclaim)
                if volume is None:
                    continue
                try:
                    core.create_persistent_volume(volume)
                    where = f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"
                    print(f"provisioned {volume['metadata']['name']} for {where}", flush=True)
                except ApiException as exc:
                    if exc.status != 409:
                        print(f"create volume failed: {exc.reason}", flush=True)
            volumes = api_client.sanitize_for_serialization(core.list_persistent_volume().items)
            for volume in volumes:
                if released_to_delete(volume):
                    try:
                        core.delete_persistent_volume(volume["metadata"]["name"])
                        print(f"deleted {volume['metadata']['name']}", flush=True)
                    except ApiException as exc:
                        if exc.status != 404:
                            print(f"delete volume failed: {exc.reason}", flush=True)
        except Exception as exc:  # keep serving through API server restarts
            print(f"provisioner: {type(exc).__name__}: {exc}", flush=True)
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

"""destate.persistence.*: storage classes, the local volume set bound to the
StatefulSet's claims, Deployment claims, disabled persistence."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NAMESPACE, Render, RenderFn
from destate_libtest import pod_spec, volume

FULL = "t-libtest"

# the API server's defaults, written out (a later switch to Recreate drops them)
ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}


def claim_spec(out: Render) -> dict[str, Any]:
    return out.get("StatefulSet", FULL)["spec"]["volumeClaimTemplates"][0]["spec"]


@pytest.mark.parametrize(
    ("storage_class", "expected"),
    [
        ("", None),  # omitted: the cluster's default class
        ("-", ""),  # explicit empty class: static volumes only
        ("fast-ssd", "fast-ssd"),
    ],
)
def test_storage_class(render: RenderFn, storage_class: str, expected: str | None) -> None:
    spec = claim_spec(render({"persistence": {"storageClass": storage_class}}))
    if expected is None:
        assert "storageClassName" not in spec
    else:
        assert spec["storageClassName"] == expected


def test_claim_template_options(render: RenderFn) -> None:
    out = render(
        {
            "persistence": {
                "accessModes": ["ReadWriteOncePod"],
                "size": "500Mi",
                "labels": {"backup": "daily"},
                "annotations": {"example.com/a": "b"},
                "dataSource": {
                    "kind": "VolumeSnapshot",
                    "name": "snap-1",
                    "apiGroup": "snapshot.storage.k8s.io",
                },
                "retention": {"whenDeleted": "Delete", "whenScaled": "Retain"},
            }
        }
    )
    sts = out.get("StatefulSet", FULL)
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["labels"]["backup"] == "daily"
    assert claim["metadata"]["annotations"] == {"example.com/a": "b"}
    assert claim["spec"]["accessModes"] == ["ReadWriteOncePod"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "500Mi"
    assert claim["spec"]["dataSource"]["name"] == "snap-1"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete",
        "whenScaled": "Retain",
    }
    # Deployment claim: no resource-policy keep when claims are to be deleted
    pvc = out.get("PersistentVolumeClaim", f"{FULL}-web-data")
    assert "helm.sh/resource-policy" not in pvc["metadata"].get("annotations", {})


@pytest.fixture(scope="module")
def local(render: RenderFn) -> Render:
    return render(
        {
            "persistence": {
                "local": {
                    "enabled": True,
                    "path": "/mnt/disks/db",
                    "nodes": ["node-a", "node-b", "node-c", "node-d"],
                    "reclaimPolicy": "Retain",
                }
            },
            "topology": {"ordinals": {"start": 1}, "primaryOrdinal": 1},
        }
    )


def test_local_storage_class(local: Render) -> None:
    (sc,) = local.all("StorageClass")
    assert sc["provisioner"] == "kubernetes.io/no-provisioner"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["metadata"]["name"] == f"{NAMESPACE}-{FULL}-local"
    assert claim_spec(local)["storageClassName"] == sc["metadata"]["name"]


def test_local_volumes_one_per_node_bound_to_each_pod(local: Render) -> None:
    sts = local.get("StatefulSet", FULL)
    assert sts["spec"]["ordinals"] == {"start": 1}
    pvs = local.all("PersistentVolume")
    assert len(pvs) == 4  # one per listed node, also for future scale-out
    sc_name = local.all("StorageClass")[0]["metadata"]["name"]
    nodes = ["node-a", "node-b", "node-c", "node-d"]
    for n, pv in enumerate(pvs):
        spec = pv["spec"]
        ordinal = 1 + n
        # StatefulSet claim naming: <template>-<statefulset>-<ordinal>
        assert spec["claimRef"] == {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "namespace": NAMESPACE,
            "name": f"data-{FULL}-{ordinal}",
        }
        assert spec["local"] == {"path": "/mnt/disks/db"}
        assert spec["storageClassName"] == sc_name
        assert spec["capacity"] == {"storage": "2Gi"}
        assert spec["persistentVolumeReclaimPolicy"] == "Retain"
        (term,) = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert term["matchExpressions"] == [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [nodes[n]]}
        ]
    assert len({pv["metadata"]["name"] for pv in pvs}) == 4


def test_local_volumes_and_their_class_outlive_the_release(local: Render) -> None:
    """`helm uninstall` keeps them: they stay bound to the retained claims and a reinstall
    adopts them (tests/cluster/test_release_lifecycle.py shows it on an API server)."""
    kept = [*local.all("StorageClass"), *local.all("PersistentVolume")]
    assert len(kept) == 5
    for obj in kept:
        annotations = obj["metadata"].get("annotations") or {}
        assert annotations.get("helm.sh/resource-policy") == "keep", obj["metadata"]["name"]


def test_disabled_persistence_uses_emptydir(render: RenderFn) -> None:
    out = render({"persistence": {"enabled": False}})
    sts = out.get("StatefulSet", FULL)
    assert "volumeClaimTemplates" not in sts["spec"]
    assert volume(pod_spec(sts), "data") == {"name": "data", "emptyDir": {}}
    assert out.all("PersistentVolumeClaim") == []
    deploy = out.get("Deployment", f"{FULL}-web")
    assert volume(pod_spec(deploy), "data") == {"name": "data", "emptyDir": {}}
    assert deploy["spec"]["strategy"] == ROLLING


def test_existing_claim_for_deployment(render: RenderFn) -> None:
    # the test chart's StatefulSet rightly refuses existingClaim: skip-schema is not
    # needed, but the StatefulSet template must not run, so render the Deployment only
    out = render(
        {
            "persistence": {"existingClaim": "shared-data", "accessModes": ["ReadWriteMany"]},
            "libtest": {"deploymentOnly": True},
        }
    )
    deploy = out.get("Deployment", f"{FULL}-web")
    assert volume(pod_spec(deploy), "data")["persistentVolumeClaim"] == {"claimName": "shared-data"}
    assert out.all("PersistentVolumeClaim") == []
    assert deploy["spec"]["strategy"] == ROLLING  # RWX: rolling is safe


def test_local_volume_names_stay_distinct_in_a_long_namespace(render: RenderFn) -> None:
    # PV and StorageClass names are cluster-scoped DNS subdomains (up to 253
    # characters): cutting them at 63 would drop the per-ordinal suffix and make
    # every volume of a long namespace collide.
    long_ns = "n" * 63
    out = render(
        {"persistence": {"local": {"enabled": True, "nodes": ["a", "b", "c"]}}},
        extra=["--namespace", long_ns],
    )
    names = [pv["metadata"]["name"] for pv in out.all("PersistentVolume")]
    assert names == [f"{long_ns}-data-{FULL}-{n}" for n in range(3)]
    (sc,) = out.all("StorageClass")
    assert sc["metadata"]["name"] == f"{long_ns}-{FULL}-local"

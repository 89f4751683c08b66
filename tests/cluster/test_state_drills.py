"""State drills on the local control plane (kwok nodes): what the five kinds of state
(library-chart/README.md) promise, checked against real controllers, scheduler and API
server behaviour.

- persistence: pod 0 deleted comes back to the same claim (and volume and node);
  scaling 3 -> 1 -> 3 keeps or deletes claims exactly as the retention policy says;
- config: a config change rolls the pods, an unchanged upgrade does not;
- topology: headless EndpointSlices list every pod with its hostname; the primary
  Service's endpoints are pod 0 only;
- session/connection: Services carry the affinity and ports the values ask for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chartmatrix.cluster import kwok
from chartmatrix.project import find_root

ROOT = find_root(Path(__file__).parent)

pytestmark = pytest.mark.cluster

MYSQL = {
    "workload": {"replicas": 3},
    "persistence": {"size": "1Gi"},
    "auth": {"rootPassword": "drill-root", "replicationPassword": "drill-repl"},
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _claim_of(pod: dict[str, Any]) -> str:
    names = [
        v["persistentVolumeClaim"]["claimName"]
        for v in pod["spec"].get("volumes", [])
        if "persistentVolumeClaim" in v
    ]
    assert len(names) == 1, f"pod {pod['metadata']['name']} mounts claims {names}"
    return names[0]


def _ready(pod: dict[str, Any] | None) -> bool:
    conditions = (pod or {}).get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


# --- persistence ------------------------------------------------------------------
@pytest.mark.parametrize("storage", ["provisioned", "local"])
def test_pod0_comes_back_to_its_claim_volume_and_node(
    cluster, charts, namespace, wait_until, storage: str
) -> None:
    values = MYSQL
    if storage == "local":
        values = _merge(
            MYSQL,
            {
                "persistence": {
                    "local": {"enabled": True, "nodes": kwok.node_names(3), "path": "/mnt/drill"}
                }
            },
        )
    cluster.install(charts["mysql"], "db", namespace, values)
    sts = cluster.statefulset(namespace, "db")
    pod0 = f"{sts['metadata']['name']}-0"
    before = cluster.pod(namespace, pod0)
    claim = _claim_of(before)
    claim_uid = cluster.claims(namespace)[claim]["metadata"]["uid"]
    volume = cluster.claims(namespace)[claim]["spec"]["volumeName"]
    node = before["spec"]["nodeName"]
    assert claim == f"data-{pod0}"
    assert volume, "claim of pod 0 is not bound"

    cluster.delete_pod(namespace, pod0)

    def replaced() -> bool:
        pod = cluster.pod(namespace, pod0)
        return bool(pod and pod["metadata"]["uid"] != before["metadata"]["uid"] and _ready(pod))

    wait_until(replaced, 90, f"{pod0} to be recreated and Ready")
    after = cluster.pod(namespace, pod0)
    assert _claim_of(after) == claim
    assert cluster.claims(namespace)[claim]["metadata"]["uid"] == claim_uid
    assert cluster.claims(namespace)[claim]["spec"]["volumeName"] == volume
    assert after["spec"]["nodeName"] == node, "pod 0 drifted away from its local volume"


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_scale_down_and_up_follows_retention_policy(
    cluster, charts, namespace, wait_until, policy: str
) -> None:
    values = _merge(
        MYSQL, {"persistence": {"retention": {"whenScaled": policy, "whenDeleted": "Retain"}}}
    )
    cluster.install(charts["mysql"], "db", namespace, values)
    name = cluster.statefulset(namespace, "db")["metadata"]["name"]
    claims = {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()}
    assert sorted(claims) == [f"data-{name}-{i}" for i in range(3)]

    cluster.install(charts["mysql"], "db", namespace, _merge(values, {"workload": {"replicas": 1}}))
    wait_until(
        lambda: len(cluster.pods(namespace, "app.kubernetes.io/instance=db")) == 1,
        60,
        "scale down to one pod",
    )
    if policy == "Retain":
        assert {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()} == claims
    else:
        wait_until(
            lambda: sorted(cluster.claims(namespace)) == [f"data-{name}-0"],
            60,
            "claims of ordinals 1 and 2 to be deleted",
        )
        assert (
            cluster.claims(namespace)[f"data-{name}-0"]["metadata"]["uid"]
            == claims[f"data-{name}-0"]
        )

    cluster.install(charts["mysql"], "db", namespace, values)
    now = {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()}
    assert sorted(now) == sorted(claims)
    for ordinal in (1, 2):
        claim = f"data-{name}-{ordinal}"
        same = now[claim] == claims[claim]
        assert same == (policy == "Retain"), f"{claim}: reused={same} with whenScaled={policy}"
    for ordinal in range(3):
        assert _claim_of(cluster.pod(namespace, f"{name}-{ordinal}")) == f"data-{name}-{ordinal}"


# --- config -------------------------------------------------------------------------
def test_config_change_rolls_pods_and_unchanged_upgrade_does_not(
    cluster, charts, namespace, wait_until
) -> None:
    values = _merge(
        MYSQL,
        {
            "workload": {"replicas": 2},
            "config": {"files": {"tuning.cnf": "[mysqld]\nmax_connections = 100\n"}},
        },
    )
    cluster.install(charts["mysql"], "db", namespace, values)
    sts = cluster.statefulset(namespace, "db")
    revision = sts["status"]["updateRevision"]
    uids = {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in cluster.pods(namespace)
        if p["metadata"]["name"].startswith(sts["metadata"]["name"])
    }
    assert len(uids) == 2

    cluster.install(charts["mysql"], "db", namespace, values)  # same values: a no-op upgrade
    same = cluster.statefulset(namespace, "db")
    assert same["status"]["updateRevision"] == revision
    assert {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in cluster.pods(namespace)
        if p["metadata"]["name"] in uids
    } == uids

    changed = _merge(
        values, {"config": {"files": {"tuning.cnf": "[mysqld]\nmax_connections = 300\n"}}}
    )
    cluster.install(charts["mysql"], "db", namespace, changed)
    rolled = cluster.statefulset(namespace, "db")
    assert rolled["status"]["updateRevision"] != revision
    annotations = rolled["spec"]["template"]["metadata"].get("annotations") or {}
    old_annotations = sts["spec"]["template"]["metadata"].get("annotations") or {}
    assert any(
        k.startswith("checksum/") and old_annotations.get(k) != v for k, v in annotations.items()
    ), "no checksum annotation changed"
    pods = {
        p["metadata"]["name"]: p for p in cluster.pods(namespace) if p["metadata"]["name"] in uids
    }
    for name, uid in uids.items():
        assert pods[name]["metadata"]["uid"] != uid, f"{name} was not replaced"
        assert (
            pods[name]["metadata"]["labels"]["controller-revision-hash"]
            == rolled["status"]["updateRevision"]
        )


# --- topology -----------------------------------------------------------------------
def _endpoints(cluster, namespace: str, service: str, count: int, wait_until) -> list[dict]:
    """The Service's endpoints once there are ``count`` of them with addresses
    (the EndpointSlice controller follows pod changes asynchronously)."""
    found: list[dict] = []

    def enough() -> bool:
        nonlocal found
        slices = cluster.endpoint_slices(namespace, service)
        found = [e for s in slices for e in s.get("endpoints") or [] if e.get("addresses")]
        return len(found) >= count

    wait_until(enough, 30, f"{count} endpoints of Service {service}")
    return found


def test_headless_slices_name_every_pod_and_primary_is_pod0(
    cluster, charts, namespace, wait_until
) -> None:
    cluster.install(charts["mysql"], "db", namespace, MYSQL)
    sts = cluster.statefulset(namespace, "db")
    name, headless = sts["metadata"]["name"], sts["spec"]["serviceName"]
    pods = {
        p["metadata"]["name"]: p
        for p in cluster.pods(namespace)
        if p["metadata"]["name"].startswith(f"{name}-")
    }
    assert sorted(pods) == [f"{name}-{i}" for i in range(3)]

    endpoints = _endpoints(cluster, namespace, headless, 3, wait_until)
    by_pod = {e["targetRef"]["name"]: e for e in endpoints}
    assert sorted(by_pod) == sorted(pods)
    for ordinal in range(3):  # the ordinal the start scripts read (downward API label)
        labels = pods[f"{name}-{ordinal}"]["metadata"]["labels"]
        assert labels["apps.kubernetes.io/pod-index"] == str(ordinal)
    for pod_name, endpoint in by_pod.items():
        assert endpoint.get("hostname") == pod_name
        assert endpoint["addresses"] == [pods[pod_name]["status"]["podIP"]]

    primary = [
        s
        for s in cluster.services(namespace, "db")
        if (s["spec"].get("selector") or {}).get("apps.kubernetes.io/pod-index") == "0"
    ]
    assert len(primary) == 1, "no Service selects pod index 0"
    primary_eps = _endpoints(cluster, namespace, primary[0]["metadata"]["name"], 1, wait_until)
    assert [e["targetRef"]["name"] for e in primary_eps] == [f"{name}-0"]


# --- session / connection ---------------------------------------------------------
def _service(cluster, namespace: str, release: str, suffix: str = "") -> dict[str, Any]:
    services = {s["metadata"]["name"]: s for s in cluster.services(namespace, release)}
    wanted = [n for n in services if n.endswith(suffix)] if suffix else list(services)
    assert wanted, f"no Service ending {suffix!r} in {sorted(services)}"
    return services[min(wanted, key=len)]


def test_sticky_session_service_affinity(cluster, charts, namespace) -> None:
    values = {
        "session": {"mode": "sticky", "sticky": {"timeoutSeconds": 1800}},
        "workload": {"replicas": 2},
    }
    cluster.install(charts["web-session"], "web", namespace, values)
    svc = _service(cluster, namespace, "web", "web-session")
    assert svc["spec"]["sessionAffinity"] == "ClientIP"
    assert svc["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 1800
    assert svc["spec"]["clusterIP"] not in ("", "None")


def test_grpc_services_carry_the_port_and_headless_backends(
    cluster, charts, namespace, wait_until
) -> None:
    values = {"connection": {"mode": "client", "port": 50061}, "workload": {"replicas": 3}}
    cluster.install(charts["grpc"], "rpc", namespace, values)
    services = cluster.services(namespace, "rpc")
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    assert headless, "client-side balancing needs a headless Service"
    for svc in services:
        assert any(p["port"] == 50061 for p in svc["spec"]["ports"]), svc["metadata"]["name"]
        assert svc["spec"].get("sessionAffinity", "None") == "None"
    endpoints = _endpoints(cluster, namespace, headless[0]["metadata"]["name"], 3, wait_until)
    addresses = {a for e in endpoints for a in e["addresses"]}
    pod_ips = {
        p["status"]["podIP"] for p in cluster.pods(namespace, "app.kubernetes.io/instance=rpc")
    }
    assert addresses == pod_ips and len(addresses) == 3, "the headless Service lists every pod"


def test_local_cluster_runs_the_pinned_version(cluster) -> None:
    pinned = dict(
        line.split("=", 1)
        for line in (ROOT / "tools" / "versions.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    status = cluster.plane.status()
    assert status.up and len(status.ready_nodes) >= 3
    assert status.version == pinned["KUBERNETES_VERSION"]  # the ldflags made /version real
    print(f"cluster up took {cluster.up_seconds:.1f}s")


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_uninstall_keeps_or_deletes_claims_per_when_deleted(
    cluster, charts, namespace, wait_until, policy: str
) -> None:
    values = _merge(
        MYSQL,
        {"workload": {"replicas": 2}, "persistence": {"retention": {"whenDeleted": policy}}},
    )
    cluster.install(charts["mysql"], "db", namespace, values)
    before = {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()}
    assert len(before) == 2
    cluster.helm_run("uninstall", "db", "--namespace", namespace, "--wait")
    wait_until(lambda: not cluster.pods(namespace), 60, "the pods to go")
    if policy == "Retain":
        after = {n: c["metadata"]["uid"] for n, c in cluster.claims(namespace).items()}
        assert after == before, "whenDeleted=Retain must keep every claim"
    else:
        wait_until(lambda: not cluster.claims(namespace), 60, "the claims to be deleted")

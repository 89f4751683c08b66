"""A real node: containers run, Services, DNS, logs and storage work, and down cleans up.

All traffic in these tests goes between pods on our bridge, the node IP and Service
VIPs (which kube-proxy turns into pod addresses on the bridge); nothing is sent to
any other address. The last test stops the node the way a crash would and checks
that ``down`` leaves nothing behind.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
from typing import Any

from chartmatrix.cluster.control_plane import SERVICE_CIDR
from chartmatrix.cluster.node import COMPONENTS
from chartmatrix.cluster.nodeconf import BRIDGE, NODE_IP, NODE_NAME, POD_SUBNET
from realnode import UP_BUDGET_SECONDS, RealCluster, busybox_pod, leftovers, pod_ready

NS = "t"
HTTP_GET = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 {host} {port}'


def _ready_pod(cluster: RealCluster, wait_until: Any, name: str) -> dict[str, Any]:
    return wait_until(
        lambda: (p := cluster.pod(NS, name)) and pod_ready(p) and p,
        timeout=90,
        what=f"pod {name} Ready",
    )


def _web(cluster: RealCluster, wait_until: Any, name: str, text: str) -> dict[str, Any]:
    script = (
        f"mkdir -p /www && echo {text} > /www/index.html && echo serving-{text} "
        "&& exec httpd -f -p 8080 -h /www"
    )
    cluster.create(NS, busybox_pod(name, cluster.busybox, script))
    return _ready_pod(cluster, wait_until, name)


def test_node_registers_ready_with_the_real_runtime(real_cluster: RealCluster) -> None:
    node = real_cluster.api.get(f"/api/v1/nodes/{NODE_NAME}")
    info = node["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("containerd://"), info
    assert info["kubeletVersion"] == real_cluster.api.get("/version")["gitVersion"]
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalIP"] == NODE_IP
    # warm `cluster up` with the real node (binaries built): the budget
    print(f"cluster up --nodes real took {real_cluster.up_seconds:.1f}s")
    assert real_cluster.up_seconds < UP_BUDGET_SECONDS, f"up took {real_cluster.up_seconds:.1f}s"


def test_pod_runs_with_an_address_on_the_bridge(real_cluster: RealCluster, wait_until: Any) -> None:
    pod = _web(real_cluster, wait_until, "web-a", "alpha")
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(POD_SUBNET)
    assert pod["spec"]["nodeName"] == NODE_NAME
    status = pod["status"]["containerStatuses"][0]
    assert status["containerID"].startswith("containerd://") and status["started"]


def test_kubectl_logs_reaches_the_kubelet_by_ip(real_cluster: RealCluster, wait_until: Any) -> None:
    _web(real_cluster, wait_until, "web-logs", "logged")
    done = wait_until(
        lambda: (d := real_cluster.kubectl("logs", "-n", NS, "web-logs")).returncode == 0 and d,
        timeout=30,
        what="kubectl logs",
    )
    assert "serving-logged" in done.stdout


def test_service_vip_reaches_pod_from_a_pod(real_cluster: RealCluster, wait_until: Any) -> None:
    _web(real_cluster, wait_until, "web-b", "bravo")
    real_cluster.create(
        NS,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "bravo"},
            "spec": {"selector": {"app": "web-b"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    vip = real_cluster.api.get(f"/api/v1/namespaces/{NS}/services/bravo")["spec"]["clusterIP"]
    assert ipaddress.ip_address(vip) in ipaddress.ip_network(SERVICE_CIDR)
    real_cluster.create(NS, busybox_pod("client", real_cluster.busybox, "sleep 100000"))
    _ready_pod(real_cluster, wait_until, "client")
    # kube-proxy programs the VIP shortly after the endpoints appear
    body = wait_until(
        lambda: (
            "bravo" in (out := _try_sh(real_cluster, "client", HTTP_GET.format(host=vip, port=80)))
            and out
        ),
        timeout=30,
        what="the Service VIP to answer",
    )
    assert "200 OK" in body
    # hairpin: the pod reaches itself through its own Service
    assert "bravo" in real_cluster.sh(NS, "web-b", HTTP_GET.format(host=vip, port=80))


def _try_sh(cluster: RealCluster, pod: str, script: str) -> str:
    done = cluster.kubectl("exec", "-n", NS, pod, "--", "sh", "-c", script)
    return done.stdout if done.returncode == 0 else ""


def test_pod_resolves_cluster_names_through_coredns(
    real_cluster: RealCluster, wait_until: Any
) -> None:
    real_cluster.create(NS, busybox_pod("dns", real_cluster.busybox, "sleep 100000"))
    _ready_pod(real_cluster, wait_until, "dns")
    resolv = real_cluster.sh(NS, "dns", "cat /etc/resolv.conf")
    # the pod sees CoreDNS on the node IP and nothing of the host's resolver
    assert resolv.split("nameserver")[1].split()[0] == NODE_IP
    assert resolv.count("nameserver") == 1
    out = real_cluster.sh(NS, "dns", "nslookup kubernetes.default.svc.cluster.local")
    kubernetes_vip = real_cluster.api.get("/api/v1/namespaces/default/services/kubernetes")
    assert f"Address: {kubernetes_vip['spec']['clusterIP']}" in out, out
    # the API server answers on its Service VIP from a pod (TCP connect)
    vip = kubernetes_vip["spec"]["clusterIP"]
    connect = f"nc -w 5 {vip} 443 </dev/null && echo open"
    assert real_cluster.sh(NS, "dns", connect).strip() == "open"
    # names outside the cluster domain are not answered: nothing is forwarded
    done = real_cluster.kubectl("exec", "-n", NS, "dns", "--", "nslookup", "example.org")
    assert done.returncode != 0 and "Address: " not in done.stdout.split("\n\n", 1)[-1]


def test_pod_routes_and_host_rules_keep_traffic_on_the_bridge(
    real_cluster: RealCluster, wait_until: Any
) -> None:
    real_cluster.create(NS, busybox_pod("routes", real_cluster.busybox, "sleep 100000"))
    _ready_pod(real_cluster, wait_until, "routes")
    routes = real_cluster.sh(NS, "routes", "ip route").splitlines()
    # only the bridge's subnet and the Service range: no default route out
    assert not [r for r in routes if r.startswith("default")], routes
    assert any(r.startswith(f"{SERVICE_CIDR} via {NODE_IP}") for r in routes), routes
    ruleset = json.loads(
        subprocess.run(
            ["nft", "-j", "list", "table", "inet", "chartmatrix"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    rules = [item["rule"] for item in ruleset["nftables"] if "rule" in item]
    forward = [r for r in rules if r["chain"] == "forward"]
    assert _drops(forward, "iifname", BRIDGE, "oifname"), forward
    assert _drops(forward, "oifname", BRIDGE, "iifname"), forward
    hooks = [item["chain"] for item in ruleset["nftables"] if "chain" in item]
    assert {c["name"]: c.get("hook") for c in hooks}["forward"] == "forward"
    # no masquerading of pod traffic: no NAT rule names the pod subnet as source
    nat = subprocess.run(
        ["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True
    ).stdout
    assert not [ln for ln in nat.splitlines() if f"-s {POD_SUBNET}" in ln and "MASQUERADE" in ln]


def _drops(rules: list[dict[str, Any]], match: str, value: str, other: str) -> bool:
    """A rule: ``match == value``, ``other != value``, verdict drop."""
    for rule in rules:
        exprs = rule["expr"]
        matches = {
            (e["match"]["left"]["meta"]["key"], e["match"]["op"], e["match"]["right"])
            for e in exprs
            if "match" in e and "meta" in e["match"]["left"]
        }
        sides = (match, "==", value) in matches and (other, "!=", value) in matches
        if sides and any("drop" in e for e in exprs):
            return True
    return False


def test_statefulset_pod_comes_back_with_its_claim_and_data(
    real_cluster: RealCluster, wait_until: Any
) -> None:
    script = (
        "test -f /data/born || (cat /proc/sys/kernel/random/uuid > /data/born && "
        "echo fresh > /data/how); "
        "echo back >> /data/how; exec sleep 100000"
    )
    pod_spec = busybox_pod("x", real_cluster.busybox, script)["spec"]
    pod_spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    # not root: the volume directory must be writable by the pod's own user
    pod_spec["securityContext"] = {"runAsUser": 1000, "runAsGroup": 1000}
    real_cluster.create(
        NS,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "keeper"},
            "spec": {
                "serviceName": "keeper",
                "replicas": 1,
                "selector": {"matchLabels": {"app": "keeper"}},
                "template": {
                    "metadata": {"labels": {"app": "keeper"}},
                    "spec": pod_spec,
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Mi"}},
                        },
                    }
                ],
            },
        },
    )
    first = _ready_pod(real_cluster, wait_until, "keeper-0")
    volume = {v["name"]: v for v in first["spec"]["volumes"]}["data"]
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert claim == "data-keeper-0"
    born = wait_until(
        lambda: _try_sh(real_cluster, "keeper-0", "cat /data/born").strip(),
        timeout=20,
        what="keeper-0 to write /data/born",
    )
    pv_name = real_cluster.api.get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/{claim}")[
        "spec"
    ]["volumeName"]
    pv = real_cluster.api.get(f"/api/v1/persistentvolumes/{pv_name}")
    # a real directory under the cluster dir, pinned to the node
    host_dir = real_cluster.root / "node" / "volumes" / NS / claim
    assert pv["spec"]["local"]["path"] == str(host_dir)
    assert (host_dir / "born").read_text().strip() == born
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [NODE_NAME]

    real_cluster.api.delete(f"/api/v1/namespaces/{NS}/pods/keeper-0")
    second = wait_until(
        lambda: (
            (p := real_cluster.pod(NS, "keeper-0"))
            and p["metadata"]["uid"] != first["metadata"]["uid"]
            and pod_ready(p)
            and p
        ),
        timeout=90,
        what="keeper-0 to come back",
    )
    volume = {v["name"]: v for v in second["spec"]["volumes"]}["data"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim
    assert real_cluster.sh(NS, "keeper-0", "cat /data/born").strip() == born
    wait_until(
        lambda: (
            _try_sh(real_cluster, "keeper-0", "cat /data/how").split() == ["fresh", "back", "back"]
        ),
        timeout=20,
        what="the returned pod to append to its old file",
    )


def test_zz_down_after_a_crash_leaves_nothing(real_cluster: RealCluster, wait_until: Any) -> None:
    """Kill the node's components as a crash would, then ``down``: nothing may remain.

    Named to run last in this module: it stops the session's cluster.
    """
    plane = real_cluster.plane
    # a running container (with its mounts, veth, cgroups and shim) at the moment of the crash
    real_cluster.create(NS, busybox_pod("victim", real_cluster.busybox, "sleep 100000"))
    _ready_pod(real_cluster, wait_until, "victim")
    assert real_cluster.sh(NS, "victim", "echo alive").strip() == "alive"
    for name in COMPONENTS:
        pid = plane.proc(name).pid()
        assert pid is not None, f"{name} not running"
        os.killpg(pid, signal.SIGKILL)
    stopped = plane.down(quiet=True)
    assert "kube-apiserver" in stopped
    left = leftovers(real_cluster.root, real_cluster.before)
    assert not left, f"left behind after down: {json.dumps(left, indent=1)}"
    # a second down finds nothing to do and still leaves nothing
    assert plane.down(quiet=True) == []
    assert not leftovers(real_cluster.root, real_cluster.before)

"""Helpers of the real-node tests: the session's cluster, pod specs, the leftover check.

``HostSnapshot`` records, before ``up``, what ``down`` must give back: the network
interfaces, the nftables tables, the iptables chains and the sysctls. ``leftovers``
reads the machine with its own tools (``ip``, ``iptables-save``, ``nft``,
/proc/self/mountinfo, /proc, /sys/fs/cgroup), independently of the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartmatrix.cluster.api import Api
from chartmatrix.cluster.control_plane import ControlPlane
from chartmatrix.cluster.nodeconf import CGROUP_ROOT
from chartmatrix.project import find_root

ROOT = find_root(Path(__file__).parent)
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static (tools/bootstrap-node)
APPLETS = ("sh", "sleep", "httpd", "nc", "nslookup", "cat", "echo", "ip", "mkdir", "test", "date")
SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
)
UP_BUDGET_SECONDS = 60.0


def _out(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def nft_tables() -> set[str]:
    return {line.strip() for line in _out("nft", "list", "tables").splitlines() if line.strip()}


def iptables_chains() -> set[str]:
    chains = set()
    for tool in ("iptables-save", "ip6tables-save"):
        for line in _out(tool).splitlines():
            if line.startswith(":"):
                chains.add(f"{tool}:{line[1:].split()[0]}")
    return chains


def links() -> set[str]:
    return {
        line.split(":")[1].strip().split("@")[0] for line in _out("ip", "-o", "link").splitlines()
    }


def runtime_files() -> set[str]:
    """Shim sockets and CNI result cache entries (containerd and libcni keep them outside
    the cluster dir)."""
    found: set[str] = set()
    for directory in (Path("/run/containerd/s"), Path("/var/lib/cni/results")):
        if directory.is_dir():
            found.update(str(p) for p in directory.iterdir())
    return found


def sysctls() -> dict[str, str]:
    return {name: Path("/proc/sys", name).read_text().strip() for name in SYSCTLS}


@dataclass(frozen=True)
class HostSnapshot:
    links: set[str]
    nft_tables: set[str]
    iptables_chains: set[str]
    sysctls: dict[str, str]
    runtime_files: set[str]

    @classmethod
    def take(cls) -> HostSnapshot:
        return cls(links(), nft_tables(), iptables_chains(), sysctls(), runtime_files())


def node_processes(cluster_root: Path) -> list[str]:
    """Processes whose command line names the cluster dir (components, containerd shims)
    or that live in the pods' cgroups (containers, pause)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        try:
            cgroup = (entry / "cgroup").read_text()
        except OSError:
            cgroup = ""
        in_pod_cgroup = f":{CGROUP_ROOT}/" in cgroup or f":{CGROUP_ROOT}\n" in cgroup
        if state != "Z" and (str(cluster_root) in cmdline or in_pod_cgroup):
            found.append(f"{entry.name} {cmdline[:120]}")
    return found


def leftovers(cluster_root: Path, before: HostSnapshot) -> dict[str, Any]:
    """Everything the node left on this machine; empty when ``down`` cleaned up."""
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(cluster_root))
    ]
    cgroups = [str(p) for p in Path("/sys/fs/cgroup").glob(f"*{CGROUP_ROOT}")]
    cgroups += [str(p) for p in Path("/sys/fs/cgroup").glob(CGROUP_ROOT.strip("/"))]
    found = {
        "processes": node_processes(cluster_root),
        "mounts": mounts,
        "interfaces": sorted(links() - before.links),
        "nft tables": sorted(nft_tables() - before.nft_tables),
        "iptables chains": sorted(iptables_chains() - before.iptables_chains),
        "cgroups": cgroups,
        "runtime files": sorted(runtime_files() - before.runtime_files),
        "sysctls changed": {k: v for k, v in sysctls().items() if before.sysctls.get(k) != v},
    }
    return {what: items for what, items in found.items() if items}


@dataclass
class RealCluster:
    plane: ControlPlane
    api: Api
    up_seconds: float
    busybox: str
    before: HostSnapshot

    @property
    def root(self) -> Path:
        return self.plane.layout.root

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kubectl = str(self.plane.layout.binary("kubectl"))
        argv = [kubectl, "--kubeconfig", str(self.plane.layout.kubeconfig), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def sh(self, namespace: str, pod: str, script: str) -> str:
        """Run ``sh -c script`` in a pod (kubectl exec through the kubelet); its stdout."""
        done = self.kubectl("exec", "-n", namespace, pod, "--", "sh", "-c", script)
        assert done.returncode == 0, f"exec in {pod} failed: {done.stderr.strip()}"
        return done.stdout

    def pod(self, namespace: str, name: str) -> dict[str, Any]:
        return self.api.get(f"/api/v1/namespaces/{namespace}/pods/{name}") or {}

    def create(self, namespace: str, obj: dict[str, Any]) -> None:
        group = obj["apiVersion"]
        base = "/api/v1" if group == "v1" else f"/apis/{group}"
        plural = {"Pod": "pods", "Service": "services", "StatefulSet": "statefulsets"}[obj["kind"]]
        self.api.create(f"{base}/namespaces/{namespace}/{plural}", obj, exist_ok=False)


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def busybox_pod(
    name: str, image: str, script: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["/bin/sh", "-c", script],
                }
            ],
        },
    }


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1)[:2000]

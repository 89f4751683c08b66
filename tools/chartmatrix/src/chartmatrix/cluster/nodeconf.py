"""The real node's fixed addresses and where it keeps its files (``.tools/cluster/node``).

One node, ``chartmatrix-node``, on a bridge of ours: the node IP is the bridge's address
and the pods' gateway, the pod subnet is the bridge's /24. The range is private and
checked against the machine's own addresses and routes before ``up`` uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "chartmatrix-node"
BRIDGE = "chartmatrix0"
NODE_IP = "10.213.0.1"
POD_SUBNET = "10.213.0.0/24"
PREFIX_LEN = 24
CLUSTER_DOMAIN = "cluster.local"
CNI_NETWORK = "chartmatrix-bridge"
KUBELET_PORT = 10250
# kubelet's cgroups (kubepods...) go under this root in every hierarchy: ``down``
# removes the whole subtree and touches nothing else
CGROUP_ROOT = "/chartmatrix"
CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")


@dataclass(frozen=True)
class NodePaths:
    """Directories and files of the real node under ``<cluster dir>/node``."""

    root: Path

    @classmethod
    def under(cls, cluster_root: Path) -> NodePaths:
        return cls(cluster_root / "node")

    @property
    def containerd(self) -> Path:
        return self.root / "containerd"

    @property
    def containerd_root(self) -> Path:
        return self.containerd / "root"

    @property
    def containerd_state(self) -> Path:
        return self.containerd / "state"

    @property
    def containerd_config(self) -> Path:
        return self.containerd / "config.toml"

    @property
    def socket(self) -> Path:
        return self.containerd / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def kubelet(self) -> Path:
        return self.root / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def volumes(self) -> Path:
        """Where the provisioner puts the real node's PersistentVolume directories."""
        return self.root / "volumes"

    @property
    def config(self) -> Path:
        """Generated config files (kubelet, kube-proxy, Corefile)."""
        return self.root / "etc"

    @property
    def images(self) -> Path:
        """OCI archives built here (pause, busybox), named by content digest."""
        return self.root.parent / "images"

    @property
    def saved_sysctls(self) -> Path:
        return self.root / "sysctls-before.json"

    @property
    def saved_tables(self) -> Path:
        return self.root / "nft-tables-before.json"

    @property
    def marker(self) -> Path:
        """Present while the real node is (or was, before a crash) set up."""
        return self.root / "node-up"


def cgroup_v1() -> bool:
    """True when /sys/fs/cgroup is a v1 or hybrid tree (kubelet needs failCgroupV1: false)."""
    root = Path("/sys/fs/cgroup")
    return root.is_dir() and not (root / "cgroup.controllers").exists()

"""Config files of the node's kubelet and kube-proxy.

kubelet: cgroupfs under ``/chartmatrix`` (so ``down`` knows its cgroups), our containerd,
CoreDNS on the node IP as cluster DNS and no host resolver for pods, client
certificates from the cluster CA only (no anonymous access), a serving certificate
for the node IP, evictions only when the machine is nearly full (it is shared).
kube-proxy: iptables mode; it leaves conntrack sysctls alone and serves NodePorts
on the node IP only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chartmatrix.cluster.nodeconf import (
    CGROUP_ROOT,
    CLUSTER_DOMAIN,
    KUBELET_PORT,
    NODE_IP,
    NODE_NAME,
    POD_SUBNET,
    NodePaths,
    cgroup_v1,
)


def kubelet_config(paths: NodePaths, pki: Path, healthz_port: int) -> dict[str, Any]:
    endpoint = f"unix://{paths.socket}"
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "tlsCertFile": str(pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": CGROUP_ROOT,
        "cgroupsPerQOS": True,
        "clusterDNS": [NODE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": "",
        "podLogsDir": str(paths.pod_logs),
        "failSwapOn": False,
        "serializeImagePulls": False,
        # images are imported, never pulled: garbage-collecting them would lose them
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "registerNode": True,
        "maxPods": 110,
    }
    if cgroup_v1():
        # this machine's hybrid/v1 cgroups: kubelet refuses them unless told
        config["failCgroupV1"] = False
    return config


def kubelet_argv(binary: Path, paths: NodePaths, config_file: Path, kubeconfig: Path) -> list[str]:
    return [
        str(binary),
        f"--config={config_file}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={paths.kubelet}",
        f"--cert-dir={paths.kubelet / 'pki'}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={NODE_IP}",
        "--v=1",
    ]


def kube_proxy_config(kubeconfig: Path, healthz_port: int, metrics_port: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "mode": "iptables",
        "clusterCIDR": POD_SUBNET,
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        "nodePortAddresses": [f"{NODE_IP}/32"],
        # 0: leave the host's conntrack table size and timeouts alone
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
    }

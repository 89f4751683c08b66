"""The node's CNI network: the bridge plugin on our bridge, host-local addresses.

Pods get an address from the bridge's /24 with the node IP as gateway and a route to
the Service range only (no default route): a pod can reach the other pods, the node,
the cluster DNS on the node IP and the Service VIPs, and has no route to anything
else. No masquerading (``ipMasq: false``); ``hairpinMode`` lets a pod reach itself
through its own Service.
"""

from __future__ import annotations

import json
from pathlib import Path

from chartmatrix.cluster.nodeconf import (
    BRIDGE,
    CNI_BIN_DIR,
    CNI_NETWORK,
    CNI_PLUGINS,
    NODE_IP,
    POD_SUBNET,
    NodePaths,
)
from chartmatrix.errors import ChartmatrixError

CNI_VERSION = "1.0.0"
FIRST_POD = NODE_IP.rsplit(".", 1)[0] + ".10"


def conflist(paths: NodePaths, service_cidr: str) -> dict[str, object]:
    return {
        "cniVersion": CNI_VERSION,
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(paths.cni_ipam_dir),
                    "ranges": [
                        [
                            {
                                "subnet": POD_SUBNET,
                                "gateway": NODE_IP,
                                "rangeStart": FIRST_POD,
                            }
                        ]
                    ],
                    "routes": [{"dst": service_cidr}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def missing_plugins(bin_dir: Path = CNI_BIN_DIR) -> list[str]:
    return [p for p in CNI_PLUGINS if not (bin_dir / p).is_file()]


def write_config(paths: NodePaths, service_cidr: str) -> Path:
    missing = missing_plugins()
    if missing:
        raise ChartmatrixError(
            CNI_BIN_DIR, f"CNI plugins missing: {', '.join(missing)} (run tools/bootstrap-node)"
        )
    paths.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    target = paths.cni_conf_dir / f"10-{CNI_NETWORK}.conflist"
    target.write_text(json.dumps(conflist(paths, service_cidr), indent=2) + "\n")
    return target

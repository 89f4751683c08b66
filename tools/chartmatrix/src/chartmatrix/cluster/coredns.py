"""The node's cluster DNS: CoreDNS as a host process on the node IP, port 53.

It answers ``cluster.local`` (and reverse lookups of pod and Service addresses) from
the API server and nothing else: there is no ``forward`` plugin, so no query leaves
the machine; a name outside the cluster domain gets REFUSED. Its user may only
read what the ``kubernetes`` plugin watches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chartmatrix.cluster.nodeconf import CLUSTER_DOMAIN, NODE_IP

USER = "chartmatrix-coredns"
ROLE = "chartmatrix:coredns"


def corefile(kubeconfig: Path, health_port: int, ready_port: int) -> str:
    return f"""\
{CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:{health_port}
    ready 127.0.0.1:{ready_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        ttl 5
    }}
    cache 5
    loop
    reload
}}
"""


def rbac() -> list[tuple[str, dict[str, Any]]]:
    """(API path, object) pairs: a read-only role for CoreDNS's user."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": ROLE},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["services", "namespaces", "pods"],
                "verbs": ["list", "watch"],
            },
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["list", "watch"],
            },
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ROLE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
    }
    base = "/apis/rbac.authorization.k8s.io/v1"
    return [(f"{base}/clusterroles", role), (f"{base}/clusterrolebindings", binding)]

"""Kubeconfig files: the user's (``.tools/cluster/kubeconfig``) and one per component."""

from __future__ import annotations

from pathlib import Path

import yaml

from chartmatrix.cluster.layout import CONTEXT


def kubeconfig_text(server: str, pki: Path, stem: str, context: str = CONTEXT) -> str:
    """A kubeconfig that authenticates with client certificate ``pki/<stem>.crt``."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": f"{context}-{stem}",
                "user": {
                    "client-certificate": str(pki / f"{stem}.crt"),
                    "client-key": str(pki / f"{stem}.key"),
                },
            }
        ],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": f"{context}-{stem}"},
            }
        ],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(path: Path, server: str, pki: Path, stem: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(kubeconfig_text(server, pki, stem))
    path.chmod(0o600)
    return path

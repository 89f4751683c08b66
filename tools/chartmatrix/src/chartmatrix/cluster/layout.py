"""Where the local control plane keeps its binaries, state, logs and kubeconfig."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chartmatrix.errors import ChartmatrixError
from chartmatrix.project import environment, find_root

BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kubectl",
)
CONTEXT = "chartmatrix-local"
STATE_ENV = "CHARTMATRIX_CLUSTER_DIR"
OLD_STATE_ENV = "DESTATE_CLUSTER_DIR"  # chartmatrix 0.1's name


@dataclass(frozen=True)
class Layout:
    """Paths of one local cluster: by default ``.tools/cluster`` (``$CHARTMATRIX_CLUSTER_DIR``
    overrides) and the binaries in ``.tools/bin``, both under the project root
    (:func:`chartmatrix.project.find_root`, ``--root``)."""

    root: Path
    bin_dir: Path

    def crd_dir(self, channel: str) -> Path:
        """Gateway API CRDs of one channel, linked by tools/bootstrap-cluster."""
        return self.bin_dir.parent / "etc" / "gateway-api" / channel

    @classmethod
    def default(cls) -> Layout:
        base = find_root()
        state = environment(STATE_ENV, OLD_STATE_ENV)
        return cls(
            root=Path(state[1]).resolve() if state else base / ".tools" / "cluster",
            bin_dir=base / ".tools" / "bin",
        )

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd-data"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def state_file(self) -> Path:
        return self.run / "ports.json"

    def binary(self, name: str) -> Path:
        return self.bin_dir / name

    def missing_binaries(self) -> list[str]:
        return [n for n in BINARIES if not os.access(self.binary(n), os.X_OK)]

    def require_binaries(self) -> None:
        missing = self.missing_binaries()
        if missing:
            raise ChartmatrixError(
                self.bin_dir,
                f"cluster binaries not built: {', '.join(missing)} (run tools/bootstrap --cluster)",
            )


@dataclass
class Ports:
    """TCP ports on 127.0.0.1, chosen free at ``cluster up`` and kept in run/ports.json."""

    etcd_client: int = 0
    etcd_peer: int = 0
    apiserver: int = 0
    controller_manager: int = 0
    scheduler: int = 0
    kwok: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    @classmethod
    def pick(cls) -> Ports:
        names = ["etcd_client", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kwok"]
        sockets = []
        chosen: dict[str, int] = {}
        try:
            for name in names:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.0.1", 0))
                sockets.append(sock)
                chosen[name] = sock.getsockname()[1]
        finally:
            for sock in sockets:
                sock.close()
        return cls(**chosen)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Ports | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

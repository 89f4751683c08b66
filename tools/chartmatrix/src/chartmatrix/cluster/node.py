"""One real Kubernetes node on this machine: ``chartmatrix cluster up --nodes real``.

Beside the control plane, ``RealNode`` runs containerd (our config, root, state and
socket under ``.tools/cluster/node``), CoreDNS, kube-proxy and the kubelet as host
processes, on the bridge and isolation rules of :mod:`chartmatrix.cluster.netfilter`.
``down`` stops them and removes every process, mount, interface, netfilter rule,
sysctl change and cgroup they left, whether the node stopped cleanly or crashed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chartmatrix.cluster import cni, containerd, coredns, kubelet, netfilter
from chartmatrix.cluster.api import Api
from chartmatrix.cluster.kubeconfig import write_kubeconfig
from chartmatrix.cluster.layout import Layout
from chartmatrix.cluster.nodeconf import (
    BRIDGE,
    CGROUP_ROOT,
    CNI_NETWORK,
    NODE_IP,
    NODE_NAME,
    NodePaths,
)
from chartmatrix.cluster.ociimage import build_image
from chartmatrix.cluster.pki import Client, ensure_client_cert, ensure_serving_cert
from chartmatrix.cluster.procs import Proc
from chartmatrix.errors import ChartmatrixError

# start order; ``down`` stops the kubelet first so it restarts nothing
COMPONENTS = ("containerd", "coredns", "kube-proxy", "kubelet")
BINARIES = ("kubelet", "kube-proxy", "coredns", "chartmatrix-pause")
SYSTEM_TOOLS = ("containerd", "containerd-shim-runc-v2", "ctr", "runc", "iptables", "nft", "ip")
PAUSE_REPOSITORY = "chartmatrix.local/pause"
CLIENTS = (
    Client("kubelet", f"system:node:{NODE_NAME}", "system:nodes"),
    Client("kube-proxy", "system:kube-proxy"),
    Client("coredns", coredns.USER),
    Client("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
)
# loopback ports of the node's health and metrics endpoints, picked free at ``up``
NODE_PORTS = (
    "coredns_health",
    "coredns_ready",
    "kube_proxy_healthz",
    "kube_proxy_metrics",
    "kubelet_healthz",
)
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Wait = Callable[[Callable[[], Any], str, list[str]], None]


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=f"{os.environ.get('PATH', '')}:{SBIN_PATH}")


class RealNode:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.paths = NodePaths.under(layout.root)

    def proc(self, name: str) -> Proc:
        return Proc(name, self.layout.run, self.layout.logs)

    def env(self) -> dict[str, str]:
        return {"PATH": f"{os.environ.get('PATH', '')}:{SBIN_PATH}"}

    # --- prerequisites ---------------------------------------------------------
    def missing(self) -> list[str]:
        """What this machine lacks for a real node (empty when it can run one)."""
        if sys.platform != "linux":
            return ["Linux"]
        lacks = [] if os.geteuid() == 0 else ["root"]
        lacks += [b for b in BINARIES if not os.access(self.layout.binary(b), os.X_OK)]
        lacks += [t for t in SYSTEM_TOOLS if _which(t) is None]
        lacks += [f"CNI plugin {p}" for p in cni.missing_plugins()]
        return lacks

    def require(self) -> None:
        lacks = self.missing()
        if lacks:
            raise ChartmatrixError(
                None,
                f"a real node needs {', '.join(lacks)} (run tools/bootstrap --cluster as root)",
            )

    # --- up --------------------------------------------------------------------
    def network_up(self, apiserver_port: int) -> None:
        if netfilter.link_exists(BRIDGE) and not self.paths.marker.exists():
            raise ChartmatrixError(
                None,
                f"interface {BRIDGE} exists: another cluster's real node is up on this machine "
                "(one per machine; run 'chartmatrix cluster down' for that cluster)",
            )
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.paths.marker.write_text(f"{os.getpid()}\n")
        netfilter.setup(self.paths, apiserver_port)

    def apiserver_flags(self) -> list[str]:
        pki = self.layout.pki
        return [
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        ]

    def ensure_certs(self) -> None:
        pki = self.layout.pki
        for client in CLIENTS:
            ensure_client_cert(pki, client)
        ensure_serving_cert(
            pki, "kubelet-serving", f"system:node:{NODE_NAME}", [f"IP:{NODE_IP}", NODE_NAME]
        )

    def start(
        self, api: Api, server: str, extra_ports: dict[str, int], service_cidr: str, wait: Wait
    ) -> None:
        """Start containerd, CoreDNS, kube-proxy and kubelet; return when the node is Ready."""
        # control_plane imports this module: its helpers are imported when needed
        from chartmatrix.cluster.control_plane import http_ok, ready_nodes

        paths, pki = self.paths, self.layout.pki
        paths.config.mkdir(parents=True, exist_ok=True)
        kubeconfigs = {
            stem: write_kubeconfig(paths.config / f"{stem}.kubeconfig", server, pki, stem)
            for stem in ("kubelet", "kube-proxy", "coredns")
        }
        for path, obj in coredns.rbac():
            api.create(path, obj)
        pause = build_image(
            PAUSE_REPOSITORY,
            {"/pause": self.layout.binary("chartmatrix-pause")},
            ["/pause"],
            paths.images,
        )
        self._start_containerd(pause.ref, wait)
        containerd.import_image(pause.archive, self.layout)
        cni.write_config(paths, service_cidr)

        corefile = paths.config / "Corefile"
        corefile.write_text(
            coredns.corefile(
                kubeconfigs["coredns"], extra_ports["coredns_health"], extra_ports["coredns_ready"]
            )
        )
        self.proc("coredns").start(
            [str(self.layout.binary("coredns")), "-conf", str(corefile)], env=self.env()
        )

        proxy_config = paths.config / "kube-proxy.yaml"
        proxy_config.write_text(
            json.dumps(
                kubelet.kube_proxy_config(
                    kubeconfigs["kube-proxy"],
                    extra_ports["kube_proxy_healthz"],
                    extra_ports["kube_proxy_metrics"],
                ),
                indent=2,
            )
        )
        self.proc("kube-proxy").start(
            [str(self.layout.binary("kube-proxy")), f"--config={proxy_config}"], env=self.env()
        )

        make_cgroup_root()
        kubelet_config = paths.config / "kubelet.yaml"
        kubelet_config.write_text(
            json.dumps(kubelet.kubelet_config(paths, pki, extra_ports["kubelet_healthz"]), indent=2)
        )
        for directory in (paths.kubelet, paths.pod_logs, paths.volumes):
            directory.mkdir(parents=True, exist_ok=True)
        self.proc("kubelet").start(
            kubelet.kubelet_argv(
                self.layout.binary("kubelet"), paths, kubelet_config, kubeconfigs["kubelet"]
            ),
            env=self.env(),
        )
        wait(
            lambda: http_ok(f"http://127.0.0.1:{extra_ports['coredns_ready']}/ready"),
            "CoreDNS to be ready",
            ["coredns"],
        )
        wait(
            lambda: NODE_NAME in ready_nodes(api.get("/api/v1/nodes")),
            f"node {NODE_NAME} to be Ready",
            list(COMPONENTS),
        )

    def _start_containerd(self, sandbox_image: str, wait: Wait) -> None:
        paths = self.paths
        for directory in (paths.containerd_root, paths.containerd_state):
            directory.mkdir(parents=True, exist_ok=True)
        paths.containerd_root.chmod(0o700)
        paths.containerd_config.write_text(containerd.config_toml(paths, sandbox_image))
        self.proc("containerd").start(
            [_which("containerd") or "containerd", f"--config={paths.containerd_config}"],
            env=self.env(),
        )

        def serving() -> bool:
            if not paths.socket.exists():
                return False
            try:
                containerd.ctr(paths, "version", timeout=5)
            except ChartmatrixError:
                return False
            return True

        wait(serving, "containerd", ["containerd"])

    # --- down ------------------------------------------------------------------
    def active(self) -> bool:
        return self.paths.marker.exists() or any(self.proc(n).alive() for n in COMPONENTS)

    def down(self) -> list[str]:
        """Stop the node and remove all it left; the names of what was running."""
        if not self.active():
            return []
        stopped = [n for n in ("kubelet", "kube-proxy", "coredns") if self.proc(n).stop()]
        kill_cgroup_processes()
        kill_shims(self.paths.socket)
        if self.proc("containerd").stop():
            stopped.append("containerd")
        unmount_under(self.paths.root)
        netfilter.teardown(self.paths)
        stuck = remove_cgroups()
        remove_cni_cache()
        remove_empty_dirs()
        mounted = mounts_under(self.paths.root)
        if mounted:  # never delete through a mount: it could reach the host's files
            raise ChartmatrixError(self.paths.root, f"still mounted, not removed: {mounted[0]}")
        shutil.rmtree(self.paths.root, ignore_errors=True)
        if stuck:
            raise ChartmatrixError(stuck[0], f"cgroup not removable ({len(stuck)} left)")
        return stopped


def free_ports(names: tuple[str, ...]) -> dict[str, int]:
    """A free TCP port on 127.0.0.1 for each name (all held open while picking)."""
    sockets = []
    try:
        for _ in names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return {name: sock.getsockname()[1] for name, sock in zip(names, sockets, strict=True)}
    finally:
        for sock in sockets:
            sock.close()


# --- cgroups -----------------------------------------------------------------------
def cgroup_dirs() -> list[Path]:
    """Our cgroup root in every mounted hierarchy (v1 controllers and v2)."""
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():
        return [base / CGROUP_ROOT.strip("/")]
    hierarchies = [p for p in base.iterdir() if p.is_dir() and not p.is_symlink()]
    return [h / CGROUP_ROOT.strip("/") for h in hierarchies]


def make_cgroup_root() -> None:
    for directory in cgroup_dirs():
        with contextlib.suppress(OSError):
            directory.mkdir(exist_ok=True)
            # a new v1 cpuset is empty until given its parent's cpus and memory nodes
            for name in ("cpuset.cpus", "cpuset.mems"):
                if (directory / name).exists() and not (directory / name).read_text().strip():
                    (directory / name).write_text((directory.parent / name).read_text())


def _cgroup_tree(root: Path) -> list[Path]:
    """``root`` and every cgroup below it, deepest first."""
    if not root.is_dir():
        return []
    found = [Path(d) for d, _, _ in os.walk(root)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def cgroup_pids() -> set[int]:
    pids: set[int] = set()
    for root in cgroup_dirs():
        for group in _cgroup_tree(root):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(x) for x in (group / "cgroup.procs").read_text().split())
    return pids


def kill_cgroup_processes(timeout: float = 15.0) -> None:
    """SIGKILL every process in the pods' cgroups and wait until they are gone."""
    deadline = time.monotonic() + timeout
    while (pids := cgroup_pids()) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def remove_cgroups(timeout: float = 10.0) -> list[Path]:
    """rmdir our cgroup trees (deepest first); the ones that would not go."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for root in cgroup_dirs():
            for group in _cgroup_tree(root):
                try:
                    group.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(group)
        if not left or time.monotonic() > deadline:
            return left
        kill_cgroup_processes(timeout=1.0)
        time.sleep(0.1)


# --- processes and mounts -----------------------------------------------------------
def shim_pids(socket: Path) -> list[int]:
    """containerd-shim processes serving our containerd (their command line names its socket)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"containerd-shim" in argv[0] and str(socket).encode() in argv:
            found.append(int(entry.name))
    return found


def shim_socket(address: Path, shim_id: str) -> Path:
    """Where containerd 1.6 puts a k8s.io shim's socket (a killed shim leaves it behind)."""
    digest = hashlib.sha256(str(address / containerd.NAMESPACE / shim_id).encode()).hexdigest()
    return SHIM_SOCKETS / digest


def _shim_id(pid: int) -> str | None:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    return argv[argv.index("-id") + 1] if "-id" in argv[:-1] else None


def kill_shims(socket: Path, timeout: float = 10.0) -> None:
    """SIGKILL our containerd's shims and remove the sockets they leave."""
    ids = {i for pid in shim_pids(socket) if (i := _shim_id(pid))}
    deadline = time.monotonic() + timeout
    while (pids := shim_pids(socket)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    for shim_id in ids:
        shim_socket(socket, shim_id).unlink(missing_ok=True)


SHIM_SOCKETS = Path("/run/containerd/s")
CNI_CACHE = Path("/var/lib/cni/results")
# directories containerd and libcni make outside our tree (shim sockets, the CNI result
# cache): removed at down when empty, i.e. when nothing else uses them
SHARED_DIRS = (
    SHIM_SOCKETS,
    Path("/run/containerd/runc/k8s.io"),
    Path("/run/containerd/runc"),
    Path("/run/containerd"),
    CNI_CACHE,
    CNI_CACHE.parent,
)


def remove_cni_cache() -> None:
    """libcni's cached results for our pods (a CNI DEL would have removed them): our
    network's ``NETWORK-<sandbox id>-eth0`` and the same sandbox's loopback entry."""
    for entry in CNI_CACHE.glob(f"{CNI_NETWORK}-*"):
        sandbox = entry.name[len(CNI_NETWORK) + 1 :].rsplit("-", 1)[0]
        (CNI_CACHE / f"cni-loopback-{sandbox}-lo").unlink(missing_ok=True)
        entry.unlink(missing_ok=True)


def remove_empty_dirs(dirs: tuple[Path, ...] = SHARED_DIRS) -> None:
    for directory in dirs:
        with contextlib.suppress(OSError):
            directory.rmdir()


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` (deepest first)."""
    prefix = str(root)
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = _unescape(line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(set(points), key=lambda p: p.count("/"), reverse=True)


def unmount_under(root: Path) -> None:
    """Lazily unmount everything at or below ``root`` (stacked mounts too)."""
    for _ in range(10):
        points = mounts_under(root)
        if not points:
            return
        for point in points:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)

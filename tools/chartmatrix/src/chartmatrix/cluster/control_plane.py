"""``chartmatrix cluster up|down|status``: a real control plane on 127.0.0.1, kwok nodes.

etcd, kube-apiserver (PodSecurity admission on, RBAC), kube-controller-manager,
kube-scheduler and kwok run as background processes (one process group each, pid
files in ``.tools/cluster/run``), plus the small volume provisioner. ``up`` registers
the kwok nodes and the default StorageClass and returns once the nodes are Ready.
"""

from __future__ import annotations

import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chartmatrix.cluster import kwok
from chartmatrix.cluster.api import Api
from chartmatrix.cluster.kubeconfig import write_kubeconfig
from chartmatrix.cluster.layout import Layout, Ports
from chartmatrix.cluster.node import COMPONENTS as NODE_COMPONENTS
from chartmatrix.cluster.node import NODE_PORTS, RealNode, free_ports
from chartmatrix.cluster.nodeconf import NODE_IP, NODE_NAME
from chartmatrix.cluster.pki import ensure_pki
from chartmatrix.cluster.procs import Proc
from chartmatrix.cluster.provisioner import storage_class
from chartmatrix.errors import ChartmatrixError

# start order; ``down`` stops in reverse
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "provisioner",
)
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"
GATEWAY_CHANNELS = ("experimental", "standard", "none")
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
ISSUER = "https://kubernetes.default.svc.cluster.local"


class ComponentExited(ChartmatrixError):
    """A component stopped while ``up`` waited for it (see its log)."""


@dataclass(frozen=True)
class Status:
    running: dict[str, bool]
    server: str | None
    version: str | None
    ready_nodes: list[str]

    @property
    def up(self) -> bool:
        return all(self.running.values()) and self.version is not None

    def lines(self) -> list[str]:
        out = [
            f"{name:24} {'running' if alive else 'stopped'}" for name, alive in self.running.items()
        ]
        out.append(f"{'api server':24} {self.server or '-'} ({self.version or 'not serving'})")
        out.append(f"{'ready nodes':24} {len(self.ready_nodes)} {' '.join(self.ready_nodes)}")
        return out


class ControlPlane:
    def __init__(
        self, layout: Layout | None = None, say: Callable[[str], None] | None = None
    ) -> None:
        self.layout = layout or Layout.default()
        self.say = say or (lambda msg: print(f"cluster: {msg}", file=sys.stderr))
        self.node = RealNode(self.layout)
        self.real_node = False  # set by up(real_node=True): the node's flags and processes

    # --- pieces -----------------------------------------------------------------
    def proc(self, name: str) -> Proc:
        return Proc(name, self.layout.run, self.layout.logs)

    def ports(self) -> Ports | None:
        return Ports.load(self.layout.state_file)

    def server(self, ports: Ports) -> str:
        return f"https://127.0.0.1:{ports.apiserver}"

    def api(self, ports: Ports, timeout: float = 5.0) -> Api:
        return Api.for_pki(self.server(ports), self.layout.pki, "admin", timeout)

    def component_kubeconfig(self, stem: str) -> Path:
        return self.layout.run / f"{stem}.kubeconfig"

    # --- status ----------------------------------------------------------------
    def status(self) -> Status:
        names = [*COMPONENTS, *(NODE_COMPONENTS if self.node.active() else ())]
        running = {name: self.proc(name).alive() for name in names}
        ports = self.ports()
        version = None
        ready: list[str] = []
        server = self.server(ports) if ports else None
        if ports and running["kube-apiserver"] and (self.layout.pki / "admin.crt").is_file():
            api = self.api(ports, timeout=2.0)
            info = api.get("/version")
            version = info.get("gitVersion") if isinstance(info, dict) else None
            ready = ready_nodes(api.get("/api/v1/nodes"))
        return Status(running, server, version, ready)

    # --- up --------------------------------------------------------------------
    def up(
        self,
        nodes: int = 3,
        timeout: float = 180.0,
        gateway_api: str = "experimental",
        real_node: bool = False,
    ) -> float:
        """Start everything (fresh etcd data); return the seconds it took.

        ``real_node``: instead of ``nodes`` kwok nodes, one real node (kubelet,
        containerd, kube-proxy, CoreDNS on this machine; see :mod:`chartmatrix.cluster.node`).

        ``gateway_api``: which Gateway API CRD channel to install: ``experimental``
        (a superset: charts using experimental fields such as sessionPersistence
        install), ``standard`` (what most clusters have) or ``none``.
        """
        if nodes < 1:
            raise ChartmatrixError(None, f"--nodes must be >= 1 (got {nodes})")
        if gateway_api not in GATEWAY_CHANNELS:
            raise ChartmatrixError(
                None,
                f"--gateway-api must be one of {', '.join(GATEWAY_CHANNELS)} (got {gateway_api})",
            )
        self.layout.require_binaries()
        if real_node:
            self.node.require()
            nodes = 1
        self.real_node = real_node
        crd_dir = self.layout.crd_dir(gateway_api)
        if gateway_api != "none" and not any(crd_dir.glob("*.yaml")):
            raise ChartmatrixError(
                crd_dir, "Gateway API CRDs missing (run tools/bootstrap --cluster)"
            )
        started = time.monotonic()
        current = self.status()
        wanted = [NODE_NAME] if real_node else kwok.node_names(nodes)
        if current.up and set(wanted) <= set(current.ready_nodes):
            self.say(f"already up at {current.server} ({current.version})")
            return 0.0
        self.down(quiet=True)
        deadline = started + timeout
        ensure_pki(self.layout.pki)
        for attempt in (1, 2):
            try:
                ports = self._start_all(nodes, crd_dir if gateway_api != "none" else None, deadline)
                break
            except ComponentExited as exc:
                self.down(quiet=True)
                # a port picked as free can be taken by another program before the
                # component binds it: try once more on fresh ports
                if attempt == 2 or time.monotonic() > deadline:
                    raise ChartmatrixError(exc.where, exc.problem) from None
                self.say(f"retrying on fresh ports ({exc.problem[:120]})")
            except BaseException:
                self.down(quiet=True)
                raise
        took = time.monotonic() - started
        self.say(f"up in {took:.1f}s: {self.server(ports)}; KUBECONFIG={self.layout.kubeconfig}")
        return took

    def _start_all(self, nodes: int, crd_dir: Path | None, deadline: float) -> Ports:
        ports = Ports.pick()
        if self.real_node:
            ports.extra = free_ports(NODE_PORTS)
            self.node.ensure_certs()
            self.node.network_up(ports.apiserver)
        ports.save(self.layout.state_file)
        shutil.rmtree(self.layout.etcd_data, ignore_errors=True)
        self._start_etcd(ports, deadline)
        self._start_apiserver(ports, deadline)
        api = self.api(ports, timeout=30.0)  # big CRDs take a while on a busy machine
        self._write_kubeconfigs(ports)
        self._start_controllers(ports)
        self._register(api, 0 if self.real_node else nodes)
        crds = self._install_crds(api, crd_dir) if crd_dir is not None else []
        if self.real_node:
            self.node.start(
                api,
                self.server(ports),
                ports.extra,
                SERVICE_CIDR,
                lambda ready, what, watch: self._wait(ready, deadline, what, watch),
            )
        else:
            self._wait(
                lambda: len(ready_nodes(api.get("/api/v1/nodes"))) >= nodes,
                deadline,
                f"{nodes} Ready kwok nodes",
                ["kwok", "kube-controller-manager"],
            )
        self._wait(
            lambda: all(established(api.get(f"{CRD_PATH}/{name}")) for name in crds),
            deadline,
            "the CRDs to be established",
            ["kube-apiserver"],
        )
        self._wait(
            lambda: api.get("/api/v1/namespaces/default/serviceaccounts/default"),
            deadline,
            "the default ServiceAccount",
            ["kube-controller-manager"],
        )
        return ports

    def _bin(self, name: str) -> str:
        return str(self.layout.binary(name))

    def _wait(self, ready: Callable[[], Any], deadline: float, what: str, watch: list[str]) -> None:
        while True:
            if ready():
                return
            for name in watch:
                if self.proc(name).exited_early():
                    raise ComponentExited(
                        self.proc(name).log_file,
                        f"{name} exited while waiting for {what}: {tail(self.proc(name).log_file)}",
                    )
            if time.monotonic() > deadline:
                raise ChartmatrixError(
                    self.layout.logs, f"timed out waiting for {what} (see the component logs)"
                )
            time.sleep(0.2)

    def _start_etcd(self, ports: Ports, deadline: float) -> None:
        client = f"http://127.0.0.1:{ports.etcd_client}"
        peer = f"http://127.0.0.1:{ports.etcd_peer}"
        self.proc("etcd").start(
            [
                self._bin("etcd"),
                "--name=chartmatrix",
                f"--data-dir={self.layout.etcd_data}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=chartmatrix={peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
                "--quota-backend-bytes=1073741824",
            ]
        )
        self._wait(lambda: http_ok(f"{client}/health"), deadline, "etcd", ["etcd"])

    def _start_apiserver(self, ports: Ports, deadline: float) -> Api:
        pki = self.layout.pki
        # with the real node, pods reach the API server on the node IP (the `kubernetes`
        # Service); netfilter's table keeps the port off every other interface
        bind, advertise = ("0.0.0.0", NODE_IP) if self.real_node else ("127.0.0.1", "127.0.0.1")
        self.proc("kube-apiserver").start(
            [
                self._bin("kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
                f"--bind-address={bind}",
                f"--advertise-address={advertise}",
                f"--secure-port={ports.apiserver}",
                f"--cert-dir={self.layout.run / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--service-account-issuer={ISSUER}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=PodSecurity,DefaultStorageClass,ServiceAccount"
                + (",NodeRestriction" if self.real_node else ""),
                "--allow-privileged=true",  # as on real clusters: Pod Security decides
                "--profiling=false",
                "--enable-priority-and-fairness=false",
                "--event-ttl=30m",
                "--v=0",
                *(self.node.apiserver_flags() if self.real_node else []),
            ]
        )
        api = self.api(ports, timeout=2.0)
        self._wait(
            lambda: api.request("GET", "/readyz")[0] == 200,
            deadline,
            "the API server to be ready",
            ["kube-apiserver", "etcd"],
        )
        return api

    def _write_kubeconfigs(self, ports: Ports) -> None:
        server, pki = self.server(ports), self.layout.pki
        write_kubeconfig(self.layout.kubeconfig, server, pki, "admin")
        for stem in ("controller-manager", "scheduler", "kwok", "provisioner"):
            write_kubeconfig(self.component_kubeconfig(stem), server, pki, stem)

    def _start_controllers(self, ports: Ports) -> None:
        pki = self.layout.pki
        kcm = str(self.component_kubeconfig("controller-manager"))
        self.proc("kube-controller-manager").start(
            [
                self._bin("kube-controller-manager"),
                f"--kubeconfig={kcm}",
                f"--authentication-kubeconfig={kcm}",
                f"--authorization-kubeconfig={kcm}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports.controller_manager}",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                "--profiling=false",
            ]
        )
        sched = str(self.component_kubeconfig("scheduler"))
        self.proc("kube-scheduler").start(
            [
                self._bin("kube-scheduler"),
                f"--kubeconfig={sched}",
                f"--authentication-kubeconfig={sched}",
                f"--authorization-kubeconfig={sched}",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports.scheduler}",
                "--leader-elect=false",
                "--profiling=false",
            ]
        )
        stages = self.layout.run / "kwok-stages.yaml"
        stages.write_text(kwok.stages_yaml())
        self.proc("kwok").start(
            [
                self._bin("kwok"),
                f"--kubeconfig={self.component_kubeconfig('kwok')}",
                f"--config={stages}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-label-selector={kwok.NODE_SELECTOR}",
                "--node-ip=127.0.0.1",
                f"--cidr={POD_CIDR}",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{ports.kwok}",
            ]
        )
        self.proc("provisioner").start(
            [
                sys.executable,
                "-m",
                "chartmatrix.cluster.provisioner",
                f"--kubeconfig={self.component_kubeconfig('provisioner')}",
                *(
                    [f"--real-node={NODE_NAME}", f"--real-node-dir={self.node.paths.volumes}"]
                    if self.real_node
                    else []
                ),
            ]
        )

    def _register(self, api: Api, count: int) -> None:
        for node in kwok.nodes(count):
            api.create("/api/v1/nodes", node)
        api.create("/apis/storage.k8s.io/v1/storageclasses", storage_class())

    def _install_crds(self, api: Api, crd_dir: Path) -> list[str]:
        """Create the CRDs found in ``crd_dir``; return their names."""
        names = []
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for file in sorted(crd_dir.glob("*.yaml")):
            for doc in yaml.load_all(file.read_text(), Loader=loader):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    api.create(CRD_PATH, doc)
                    names.append(doc["metadata"]["name"])
        return names

    # --- down ------------------------------------------------------------------
    def down(self, purge: bool = False, quiet: bool = False) -> list[str]:
        """Stop every component (reverse order); return the names that were running."""
        # the node first (it needs no API server); the control plane stops even if the
        # node's teardown could not remove something, which is reported afterwards
        node_error = None
        try:
            stopped = self.node.down()
        except ChartmatrixError as exc:
            stopped, node_error = [], exc
        stopped += [name for name in reversed(COMPONENTS) if self.proc(name).stop()]
        self.layout.state_file.unlink(missing_ok=True)
        shutil.rmtree(self.layout.etcd_data, ignore_errors=True)
        if purge and node_error is None:  # never delete through a mount the node left
            shutil.rmtree(self.layout.root, ignore_errors=True)
        if not quiet:
            self.say(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
        if node_error is not None:
            raise node_error
        return stopped


def ready_nodes(node_list: Any) -> list[str]:
    """Names of nodes whose Ready condition is True and which carry no NoSchedule taint."""
    names = []
    for node in (node_list or {}).get("items", []) if isinstance(node_list, dict) else []:
        conditions = node.get("status", {}).get("conditions", [])
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        blocked = any(
            t.get("effect") in ("NoSchedule", "NoExecute")
            for t in node.get("spec", {}).get("taints", []) or []
        )
        if ready and not blocked:
            names.append(node["metadata"]["name"])
    return sorted(names)


def established(crd: Any) -> bool:
    conditions = (crd or {}).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def tail(path: Path, lines: int = 5) -> str:
    """The last lines a component wrote in its latest run (after the last ``---`` line)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    latest = text.rsplit("\n--- ", 1)[-1].splitlines()[1:] if "--- " in text else text.splitlines()
    return " | ".join(line for line in latest[-lines:] if line.strip()) or "(no output)"

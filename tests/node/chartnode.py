"""The charts on a cluster with real pods: where they run, with which images, and how
the tests reach them.

``NodeTarget`` is one cluster (a kubeconfig and a context): the session's real node
(``real_cluster``), or an existing cluster named by the environment, so the workflow's
kind job runs the same tests:

- ``DESTATE_NODE_KUBECONFIG`` (and optionally ``DESTATE_NODE_CONTEXT``): use that cluster
  instead of starting the real node;
- ``DESTATE_NODE_IMAGES``: ``local`` puts every chart on the images of tools/images
  (``destate.local/...``, imported into the node's containerd; the default on the real
  node), ``chart`` keeps each chart's own images (kind, which pulls them or has them
  loaded with ``kind load``; the default for an existing cluster).

Traffic: ``kubectl exec`` in the charts' own pods, or in a client pod running the
chart's own image, works on any cluster. The host reaches pod addresses and Service
VIPs only on our real node (``host_routes``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartmatrix.cluster.containerd import import_image
from chartmatrix.cluster.install_kube import PSA_LABELS, Kube, workload_ready
from chartmatrix.cluster.layout import CONTEXT, Layout
from chartmatrix.cluster.nodeconf import BRIDGE, NODE_IP, NODE_NAME
from chartmatrix.project import find_root

ROOT = find_root(Path(__file__).parent)
IMAGES_DIR = ROOT / "tools" / "images"
KUBECONFIG_ENV = "DESTATE_NODE_KUBECONFIG"
CONTEXT_ENV = "DESTATE_NODE_CONTEXT"
IMAGES_ENV = "DESTATE_NODE_IMAGES"
IMAGE_MODES = ("local", "chart")
# the images the charts run (tools/images names); pause is the node's own
APP_IMAGES = ("mariadb", "redis", "envoy", "grpc-echo", "session-app")


def image_mode(default: str) -> str:
    mode = os.environ.get(IMAGES_ENV, default)
    if mode not in IMAGE_MODES:
        raise ValueError(f"{IMAGES_ENV}={mode!r}: expected one of {', '.join(IMAGE_MODES)}")
    return mode


def _destate_images() -> Any:
    """tools/images' package (not installed: it lives beside the repository's tools)."""
    if str(IMAGES_DIR) not in sys.path:
        sys.path.insert(0, str(IMAGES_DIR))
    import destate_images.overrides as overrides
    import destate_images.specs as specs

    return overrides, specs


def local_image_args() -> dict[str, list[str]]:
    """chart -> helm ``--set-string`` args selecting the images of tools/images."""
    overrides, specs = _destate_images()
    pin = specs.envoy_pin(ROOT)
    return {chart: overrides.helm_set_args(chart, pin) for chart in overrides.chart_overrides(pin)}


class ImagesUnavailable(Exception):
    """The images of tools/images cannot be built on this machine (root, apt)."""


def built_archives(names: tuple[str, ...] = APP_IMAGES) -> list[Path]:
    """Build (or find in the cache) the named images; their OCI archives."""
    _destate_images()
    from destate_images.builder import build
    from destate_images.errors import ImageError
    from destate_images.specs import all_images

    specs = [spec for spec in all_images(ROOT) if spec.name in names]
    try:
        return [image.archive for image in build(specs, say=lambda _msg: None)]
    except ImageError as error:
        raise ImagesUnavailable(str(error)) from None


@dataclass
class NodeTarget:
    """One cluster the charts are installed on, and how to reach it."""

    kubeconfig: Path
    context: str | None
    helm: str
    kubectl: str
    image_args: dict[str, list[str]]
    host_routes: bool  # the host reaches pod IPs and Service VIPs (our real node)
    dns_server: str | None  # the cluster DNS address the host can ask (our real node)
    kube: Kube = field(init=False)

    def __post_init__(self) -> None:
        self.kube = Kube(self.kubeconfig, self.context)

    def _context_args(self) -> list[str]:
        args = ["--kubeconfig", str(self.kubeconfig)]
        return args + (["--kube-context", self.context] if self.context else [])

    def helm_run(
        self, *args: str, values: dict[str, Any] | None = None, timeout: float = 420
    ) -> str:
        argv = [self.helm, *args, *self._context_args()]
        if values is not None:
            argv += ["--values", "-"]
        done = subprocess.run(
            argv,
            input=json.dumps(values) if values is not None else None,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(f"helm {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def kubectl_argv(self, *args: str) -> list[str]:
        argv = [self.kubectl, "--kubeconfig", str(self.kubeconfig)]
        return argv + (["--context", self.context] if self.context else []) + list(args)

    def kubectl_run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.kubectl_argv(*args), capture_output=True, text=True, timeout=timeout, check=False
        )

    def exec(
        self,
        namespace: str,
        pod: str,
        argv: list[str],
        container: str = "",
        timeout: float = 120,
        retry_if: str = "",
    ) -> str:
        """Run argv in a pod (kubectl exec); its stdout. Fails the test on a non-zero exit;
        ``retry_if``: the text of a transient error (on stderr) worth up to 10 more tries,
        1 s apart."""
        where = ["-c", container] if container else []
        for tries_left in range(10, -1, -1):
            done = self.kubectl_run(
                "exec", "-n", namespace, pod, *where, "--", *argv, timeout=timeout
            )
            transient = bool(retry_if) and retry_if in done.stderr
            if done.returncode == 0 or not transient or not tries_left:
                break
            time.sleep(1)
        assert done.returncode == 0, f"exec in {namespace}/{pod} failed: {done.stderr.strip()}"
        return done.stdout

    def create_namespace(self, prefix: str) -> str:
        name = f"{prefix}-{time.time_ns() % 10**8}"
        self.kube.create_namespace(name, PSA_LABELS)
        return name


@dataclass
class Release:
    """One chart installed by a test, in a namespace of its own (deleted with its claims)."""

    target: NodeTarget
    chart: Path
    name: str
    namespace: str

    @property
    def chart_name(self) -> str:
        return self.chart.name

    def _upgrade(self, values: dict[str, Any], *extra: str) -> None:
        self.target.helm_run(
            "upgrade",
            "--install",
            self.name,
            str(self.chart),
            "--namespace",
            self.namespace,
            *self.target.image_args.get(self.chart_name, []),
            *extra,
            "--wait",
            "--timeout",
            "400s",
            values=values,
        )
        self.wait_ready()
        self.wait_all_served()

    def install(self, values: dict[str, Any]) -> None:
        """``helm upgrade --install --wait`` with the target's image overrides, then wait
        for every StatefulSet and Deployment (helm does not wait for StatefulSets' rollout)."""
        self._upgrade(values)

    def upgrade(self, values: dict[str, Any]) -> None:
        self._upgrade(values)

    def helm_test(self) -> str:
        return self.target.helm_run(
            "test", self.name, "--namespace", self.namespace, "--timeout", "300s", "--logs"
        )

    def cleanup(self) -> None:
        """Uninstall (if installed) and delete the namespace the test made: with it go the
        claims of the release's volumeClaimTemplates, and nothing the test did not create."""
        with contextlib.suppress(AssertionError):
            self.target.helm_run("uninstall", self.name, "--namespace", self.namespace, "--wait")
        gone = self.target.kube.delete_namespace(self.namespace, wait=180)
        assert gone, f"namespace {self.namespace} still there 180s after its deletion"

    # --- reads -----------------------------------------------------------------------
    def wait_ready(self, timeout: float = 400) -> None:
        pending = self.target.kube.wait_ready(self.namespace, timeout)
        assert not pending, f"not ready: {[w['metadata']['name'] for w in pending]}"

    def pods(self, selector: str = "") -> list[dict[str, Any]]:
        query = {"labelSelector": selector} if selector else None
        pods = self.target.kube.items(f"/api/v1/namespaces/{self.namespace}/pods", query)
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def pods_of(self, kind: str, name: str) -> list[dict[str, Any]]:
        """The pods a StatefulSet or Deployment selects (not those being deleted)."""
        return self.pods(selector_of(self.workload(kind, name)))

    def pod(self, name: str) -> dict[str, Any] | None:
        return self.target.kube.get(f"/api/v1/namespaces/{self.namespace}/pods/{name}")

    def claims(self) -> dict[str, dict[str, Any]]:
        path = f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims"
        return {c["metadata"]["name"]: c for c in self.target.kube.items(path)}

    def workload(self, kind: str, name: str) -> dict[str, Any]:
        plural = {"StatefulSet": "statefulsets", "Deployment": "deployments"}[kind]
        obj = self.target.kube.get(f"/apis/apps/v1/namespaces/{self.namespace}/{plural}/{name}")
        assert obj is not None, f"{kind}/{name} not found in {self.namespace}"
        obj.setdefault("kind", kind)
        return obj

    def service(self, name: str) -> dict[str, Any]:
        obj = self.target.kube.get(f"/api/v1/namespaces/{self.namespace}/services/{name}")
        assert obj is not None, f"Service/{name} not found in {self.namespace}"
        return obj

    def delete_pod(self, name: str) -> str:
        """Delete a pod; the uid it had (to tell its replacement apart)."""
        pod = self.pod(name)
        assert pod is not None, f"pod {name} not found"
        self.target.kube.delete(f"/api/v1/namespaces/{self.namespace}/pods/{name}")
        return str(pod["metadata"]["uid"])

    def wait_replaced(self, name: str, old_uid: str, timeout: float = 240) -> dict[str, Any]:
        """The pod ``name`` again, a new one (another uid), Ready."""
        found: dict[str, Any] = {}

        def back() -> bool:
            pod = self.pod(name) or {}
            if pod.get("metadata", {}).get("uid") in (None, old_uid) or not pod_ready(pod):
                return False
            found.update(pod)
            return True

        wait_until(back, timeout, f"pod {name} to come back Ready")
        return found

    def wait_served(self, service: str, timeout: float = 120) -> None:
        """Wait until ``service``'s ready endpoints are exactly the Ready pods it selects
        that are not being deleted (a pod being deleted is listed as not ready), and there
        is at least one. Right after a deletion a workload's status can still count the
        deleted pod, and traffic sent then may reach it as it stops."""
        self._wait_served(self.service(service), timeout, some=True)

    def wait_all_served(self, timeout: float = 120) -> None:
        """``wait_served`` for every Service with a selector (helm's --wait does not wait
        for the endpoints): traffic to a VIP, or to the addresses a headless Service's
        name resolves to, right after an install or upgrade reaches all Ready pods."""
        path = f"/api/v1/namespaces/{self.namespace}/services"
        for service in self.target.kube.items(path):
            if service["spec"].get("selector"):
                self._wait_served(service, timeout, some=False)

    def _wait_served(self, service: dict[str, Any], timeout: float, some: bool) -> None:
        name = service["metadata"]["name"]
        selector = label_selector(service["spec"]["selector"])
        slices = f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices"
        query = {"labelSelector": f"kubernetes.io/service-name={name}"}

        def served() -> bool:
            ready = {p["status"].get("podIP") for p in self.pods(selector) if pod_ready(p)}
            listed = {
                address
                for piece in self.target.kube.items(slices, query)
                for endpoint in piece.get("endpoints") or []
                if (endpoint.get("conditions") or {}).get("ready")
                for address in endpoint.get("addresses", [])
            }
            return listed == ready and (bool(ready) or not some)

        wait_until(served, timeout, f"Service {name} to send only to its Ready pods")

    def scale(self, kind: str, name: str, replicas: int, timeout: float = 400) -> None:
        """Set a workload's replicas through the API (what ``kubectl scale`` does)."""
        plural = {"StatefulSet": "statefulsets", "Deployment": "deployments"}[kind]
        path = f"/apis/apps/v1/namespaces/{self.namespace}/{plural}/{name}/scale"
        self.target.kube.api.patch(path, {"spec": {"replicas": replicas}})
        wait_until(
            lambda: (
                workload_ready(self.workload(kind, name))
                and len(self.pods(selector_of(self.workload(kind, name)))) == replicas
            ),
            timeout,
            f"{kind}/{name} at {replicas} ready replicas",
        )

    def client_pod(self, name: str, image: str, pull_policy: str, uid: int) -> str:
        """A pod that only sleeps, running ``image`` as ``uid`` within Pod Security
        ``restricted``: the place a test's client runs (``kubectl exec``) on any cluster."""
        restricted = {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "automountServiceAccountToken": False,
                "securityContext": {"runAsUser": uid, "runAsGroup": uid},
                "containers": [
                    {
                        "name": "client",
                        "image": image,
                        "imagePullPolicy": pull_policy,
                        "command": ["python", "-c", "import time; time.sleep(86400)"],
                        "securityContext": restricted,
                    }
                ],
            },
        }
        self.target.kube.api.create(f"/api/v1/namespaces/{self.namespace}/pods", pod)
        wait_until(lambda: pod_ready(self.pod(name) or {}), 120, f"client pod {name} Ready")
        return name


def selector_of(workload: dict[str, Any]) -> str:
    return label_selector(workload["spec"]["selector"]["matchLabels"])


def label_selector(labels: dict[str, str]) -> str:
    """``labels`` as a label selector (k=v,...), for the API's labelSelector."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def claim_of(pod: dict[str, Any], volume: str = "data") -> str:
    for item in pod["spec"].get("volumes", []):
        if item["name"] == volume and "persistentVolumeClaim" in item:
            return str(item["persistentVolumeClaim"]["claimName"])
    raise AssertionError(f"pod {pod['metadata']['name']} mounts no claim as {volume}")


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)


def _tool(name: str) -> str:
    local = ROOT / ".tools" / "bin" / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found (.tools/bin or PATH): run tools/bootstrap")
    return found


def _is_our_real_node(kube: Kube) -> bool:
    """The cluster runs on this machine's real node: the host has its bridge and routes."""
    names = {n["metadata"]["name"] for n in kube.items("/api/v1/nodes")}
    return NODE_NAME in names and Path(f"/sys/class/net/{BRIDGE}").exists()


def existing_target() -> NodeTarget | None:
    """The cluster ``DESTATE_NODE_KUBECONFIG`` names (chart images unless told), or None."""
    kubeconfig = os.environ.get(KUBECONFIG_ENV)
    if not kubeconfig:
        return None
    if not Path(kubeconfig).is_file():
        raise FileNotFoundError(f"{KUBECONFIG_ENV}={kubeconfig}: no such file")
    mode = image_mode("chart")
    target = NodeTarget(
        Path(kubeconfig),
        os.environ.get(CONTEXT_ENV) or None,
        _tool("helm"),
        _tool("kubectl"),
        local_image_args() if mode == "local" else {},
        host_routes=False,
        dns_server=None,
    )
    if _is_our_real_node(target.kube):
        target.host_routes, target.dns_server = True, NODE_IP
    return target


def real_node_target(layout: Layout) -> NodeTarget:
    """The session's real node, with the charts' images imported into its containerd."""
    mode = image_mode("local")
    if mode == "local":
        for archive in built_archives():
            import_image(archive, layout)
    return NodeTarget(
        layout.kubeconfig,
        CONTEXT,
        _tool("helm"),
        _tool("kubectl"),
        local_image_args() if mode == "local" else {},
        host_routes=True,
        dns_server=NODE_IP,
    )


class Installs:
    """Releases installed side by side: started together at the session's first drill,
    so the pods of every chart start at once instead of one chart after another; each
    test class takes its own (waiting for its install) and removes it when done."""

    def __init__(self, target: NodeTarget) -> None:
        self.target = target
        self.pool = ThreadPoolExecutor(max_workers=4)
        self.started: dict[str, tuple[Release, Future[None]]] = {}
        self.removed: set[str] = set()

    def start(self, key: str, chart: Path, name: str, values: dict[str, Any]) -> None:
        namespace = self.target.create_namespace(f"node-{key.replace('_', '-')}")
        release = Release(self.target, chart, name, namespace)
        self.started[key] = (release, self.pool.submit(release.install, values))

    def take(self, key: str) -> Iterator[Release]:
        """The release ``key`` once installed and ready; removed after the caller is done."""
        release, installed = self.started[key]
        try:
            installed.result()
            yield release
        finally:
            self.removed.add(key)
            release.cleanup()

    def close(self) -> None:
        """Wait for the installs still running; remove what no class took."""
        self.pool.shutdown(wait=True)
        for key, (release, _) in self.started.items():
            if key not in self.removed:
                release.cleanup()

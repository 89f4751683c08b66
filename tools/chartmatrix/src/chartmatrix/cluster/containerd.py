"""The real node's containerd: our own config, root, state and socket; image import.

Public API (for image builders such as tools/images)::

    from chartmatrix.cluster.containerd import import_image, socket_path
    import_image(Path("mariadb.tar"))   # an OCI image archive -> the node's containerd
    socket_path()                       # .tools/cluster/node/containerd/containerd.sock

Images land in the ``k8s.io`` namespace, where the kubelet sees them; pods use them
with ``imagePullPolicy: Never`` (or IfNotPresent), nothing is ever pulled.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from chartmatrix.cluster.layout import Layout
from chartmatrix.cluster.nodeconf import CNI_BIN_DIR, NodePaths
from chartmatrix.cluster.ociimage import archive_refs
from chartmatrix.errors import ChartmatrixError

NAMESPACE = "k8s.io"
RUNC = "/usr/sbin/runc"
# snapshotters this machine does not have: skipping them keeps the log quiet
DISABLED_PLUGINS = (
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
)


def socket_path(layout: Layout | None = None) -> Path:
    """The node's containerd socket (it exists while ``cluster up --nodes real`` runs)."""
    return NodePaths.under((layout or Layout.default()).root).socket


def config_toml(paths: NodePaths, sandbox_image: str) -> str:
    """containerd 1.6 config (version 2) for the node."""
    disabled = ", ".join(f'"{p}"' for p in DISABLED_PLUGINS)
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
version = 2
root = "{paths.containerd_root}"
state = "{paths.containerd_state}"
disabled_plugins = [{disabled}]

[grpc]
  address = "{paths.socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{paths.containerd / "opt"}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  # this machine refuses negative oom_score_adj; without this runc fails with
  # "can't get final child's PID from pipe: EOF"
  restrict_oom_score_adj = true
  # pod network namespaces under our state dir, not /var/run/netns
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  BinaryName = "{RUNC}"
  Root = "{paths.containerd_state / "runc"}"
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{paths.cni_conf_dir}"
  max_conf_num = 1
"""


def ctr(paths: NodePaths, *args: str, timeout: float = 120.0) -> str:
    """Run ``ctr`` against the node's containerd in the k8s.io namespace; its stdout."""
    tool = shutil.which("ctr") or "/usr/bin/ctr"
    try:
        done = subprocess.run(
            [tool, "--address", str(paths.socket), "--namespace", NAMESPACE, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChartmatrixError(paths.socket, f"ctr {args[0]} failed: {exc}") from None
    if done.returncode != 0:
        raise ChartmatrixError(
            paths.socket, f"ctr {' '.join(args[:2])} failed: {done.stderr.strip()[-300:]}"
        )
    return done.stdout


def image_digests(paths: NodePaths) -> dict[str, str]:
    """``{ref: manifest digest}`` of the images in the node's k8s.io namespace."""
    rows = ctr(paths, "images", "list").splitlines()[1:]
    return {cols[0]: cols[2] for cols in (row.split() for row in rows) if len(cols) >= 3}


def import_image(archive: Path, layout: Layout | None = None) -> list[str]:
    """Import an OCI image archive into the node's containerd; return the refs it holds.

    Refs already present with the same manifest digest are not imported again. The
    archive's index.json must name each image with ``io.containerd.image.name``.
    """
    paths = NodePaths.under((layout or Layout.default()).root)
    refs = archive_refs(archive)
    if not refs:
        raise ChartmatrixError(
            archive, "index.json names no image (annotation io.containerd.image.name)"
        )
    if not paths.socket.exists():
        raise ChartmatrixError(
            paths.socket, "the real node is not up (run chartmatrix cluster up --nodes real)"
        )
    have = image_digests(paths)
    if any(have.get(ref) != digest for ref, digest in refs.items()):
        ctr(paths, "images", "import", str(archive))
    return sorted(refs)

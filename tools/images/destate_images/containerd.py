"""Import image archives into a containerd (the real node's), through its own socket."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .errors import ImageError

# the namespace the kubelet's CRI looks in
K8S_NAMESPACE = "k8s.io"


def import_archive(
    socket: Path, archive: Path, namespace: str = K8S_NAMESPACE, ctr: str = "ctr"
) -> None:
    """`ctr -a SOCKET -n NAMESPACE images import ARCHIVE` (unpacked for the snapshotter)."""
    binary = shutil.which(ctr)
    if not binary:
        raise ImageError(f"{ctr} is not on PATH (Debian's containerd package provides it)")
    if not socket.is_socket():
        raise ImageError(f"{socket}: no containerd socket there (is the node up?)")
    if not archive.is_file():
        raise ImageError(f"{archive}: no such image archive (build it with tools/images/build)")
    command = [binary, "-a", str(socket), "-n", namespace, "images", "import", str(archive)]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ImageError(f"ctr images import {archive.name} failed: {last}")

"""Run an unpacked image without a container engine: unshare + chroot, as a runtime would.

Each run gets its own mount, PID and network namespace. The network namespace has only
a loopback interface (no route anywhere), so nothing the image does leaves the machine.
The image's root is bound read-only (the charts set readOnlyRootFilesystem), with a
fresh /proc, a minimal /dev, a tmpfs /tmp and whatever writable mounts a test adds, as
the pod's volumes would be.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_PRELUDE = r"""
set -euo pipefail
mount --make-rprivate /
R=$IMAGE_ROOT
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=755 tmpfs "$R/dev"
for d in null zero full random urandom; do
  touch "$R/dev/$d"
  mount --bind "/dev/$d" "$R/dev/$d"
done
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
ip link set lo up
# volume SOURCE TARGET: a writable bind mount, like a pod's volume
volume() { mount --bind "$1" "$R$2"; }
# tmpfs_volume TARGET UID: an emptyDir owned by UID
tmpfs_volume() { mount -t tmpfs -o "mode=0770,uid=$2,gid=$2" tmpfs "$R$1"; }
readonly_root() { mount -o remount,bind,ro "$R"; }
result() { echo "result:$1=$2"; }
# as UID:GID COMMAND...: run COMMAND inside the image as that user, with a clean env
as() { local user=$1; shift; chroot --userspec="$user" "$R" env -i PATH=__PATH__ "$@"; }
# start_as UID:GID COMMAND... &: the same in the background, the job's pid being the
# command's own (exec: no shell between), so $R/proc/$! (the new PID namespace's /proc;
# the script's own /proc is the host's) shows its uid, name and umask
start_as() { local user=$1; shift; exec chroot --userspec="$user" "$R" env -i PATH=__PATH__ "$@"; }
"""


def run_in_image(root: Path, script: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the bash script (after the prelude above) in fresh namespaces over root."""
    prelude = _PRELUDE.replace("__PATH__", PATH)
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--pid",
            "--fork",
            "--net",
            "--kill-child",
            "bash",
            "-c",
            prelude + script,
        ],
        env={"PATH": PATH, "IMAGE_ROOT": str(root), "LC_ALL": "C"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def results(output: str) -> dict[str, str]:
    """What a script reported with `result KEY VALUE` (a line "result:KEY=VALUE")."""
    found = {}
    for line in output.splitlines():
        if line.startswith("result:") and "=" in line:
            key, _, value = line.removeprefix("result:").partition("=")
            found[key] = value
    return found

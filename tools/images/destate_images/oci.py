"""OCI image layout archives, written deterministically.

Every tar entry has a fixed mtime, numeric owners only and a sorted place, so a blob's
digest depends on file contents, modes and owners alone: the same inputs give the same
image digest on any machine and at any time. Layers are stored uncompressed (the
media type says so): gzip would cost more time than the disk it saves on a local node.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FIXED_MTIME = 0
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


@dataclass(frozen=True)
class Blob:
    """A content-addressed file: its sha256 digest ("sha256:...") and size in bytes."""

    digest: str
    size: int
    path: Path

    def descriptor(self, media_type: str) -> dict[str, Any]:
        return {"mediaType": media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image config (what `docker inspect` calls Config)."""

    entrypoint: list[str]
    cmd: list[str]
    user: str = ""
    working_dir: str = ""
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    exposed_ports: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        config: dict[str, Any] = {"Env": list(self.env), "Entrypoint": self.entrypoint}
        if self.cmd:
            config["Cmd"] = self.cmd
        if self.user:
            config["User"] = self.user
        if self.working_dir:
            config["WorkingDir"] = self.working_dir
        if self.exposed_ports:
            config["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        return config


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.target.write(view)
        self.sha256.update(view)
        self.size += len(view)
        return len(view)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = FIXED_MTIME
    info.uname = info.gname = ""
    info.pax_headers = {}
    return info


def _is_whiteout(st: os.stat_result) -> bool:
    # overlayfs records a deleted lower file as a 0/0 character device in the upper dir
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: Path) -> bool:
    # an opaque upper directory hides everything of the lower one below it
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _walk(root: Path, rel: str = "") -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every entry under root, depth first, sorted by name."""
    for name in sorted(os.listdir(root / rel) if rel else os.listdir(root)):
        arcname = f"{rel}/{name}" if rel else name
        path = root / arcname
        yield arcname, path
        if path.is_dir() and not path.is_symlink():
            yield from _walk(root, arcname)


def write_layer(
    root: Path,
    out: Path,
    *,
    overlay_upper: bool = False,
    exclude: Callable[[str, os.stat_result], bool] = lambda _name, _st: False,
) -> Blob:
    """Write the tree under root as an uncompressed layer tar at out.

    overlay_upper: root is an overlayfs upper directory; its whiteouts and opaque
    directories become the OCI whiteout files. exclude(name, stat) drops that one
    entry (a directory's children are asked one by one).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("wb") as raw:
        writer = _HashingWriter(raw)
        with tarfile.open(fileobj=writer, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for arcname, path in _walk(root):
                st = path.lstat()
                if exclude(arcname, st):
                    continue
                parent, _, base = arcname.rpartition("/")
                if overlay_upper and _is_whiteout(st):
                    marker = (
                        f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base
                    )
                    tar.addfile(_normalise(tarfile.TarInfo(marker)))
                    continue
                info = _normalise(tar.gettarinfo(str(path), arcname))
                if info.isreg():
                    with path.open("rb") as content:
                        tar.addfile(info, content)
                else:
                    tar.addfile(info)
                if overlay_upper and info.isdir() and _is_opaque(path):
                    tar.addfile(_normalise(tarfile.TarInfo(f"{arcname}/{OPAQUE_MARKER}")))
    partial.rename(out)
    return Blob(f"sha256:{writer.sha256.hexdigest()}", writer.size, out)


def file_blob(path: Path) -> Blob:
    """The Blob of an existing file (hashes it)."""
    sha = hashlib.sha256()
    with path.open("rb") as content:
        while chunk := content.read(1 << 20):
            sha.update(chunk)
    return Blob(f"sha256:{sha.hexdigest()}", path.stat().st_size, path)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = _normalise(tarfile.TarInfo(name))
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = _normalise(tarfile.TarInfo(name))
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def write_image_archive(out: Path, ref: str, layers: list[Blob], config: ImageConfig) -> str:
    """Write an OCI image layout tar (for `ctr images import`); returns the manifest digest.

    ref is the full image name ("destate.local/mariadb:10.11"): containerd reads it from
    the io.containerd.image.name annotation, the OCI ref.name annotation holds the tag.
    """
    config_json = canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": config.as_json(),
            "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        }
    )
    config_digest = "sha256:" + hashlib.sha256(config_json).hexdigest()
    manifest_json = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config_json)},
            "layers": [layer.descriptor(LAYER_TYPE) for layer in layers],
        }
    )
    manifest_digest = "sha256:" + hashlib.sha256(manifest_json).hexdigest()
    tag = ref.rpartition(":")[2] if ":" in ref.rpartition("/")[2] else "latest"
    index_json = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": manifest_digest,
                    "size": len(manifest_json),
                    "annotations": {
                        "io.containerd.image.name": ref,
                        "org.opencontainers.image.ref.name": tag,
                    },
                }
            ],
        }
    )
    blobs: dict[str, bytes | Path] = {config_digest: config_json, manifest_digest: manifest_json}
    for layer in layers:
        blobs[layer.digest] = layer.path
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, mode="w", format=tarfile.GNU_FORMAT) as tar:
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        for digest in sorted(blobs):
            name = "blobs/sha256/" + digest.removeprefix("sha256:")
            content = blobs[digest]
            if isinstance(content, bytes):
                _add_bytes(tar, name, content)
                continue
            info = _normalise(tarfile.TarInfo(name))
            info.size = content.stat().st_size
            info.mode = 0o644
            with content.open("rb") as data:
                tar.addfile(info, data)
        _add_bytes(tar, "index.json", index_json)
        _add_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
    partial.rename(out)
    return manifest_digest


def read_archive_manifest(archive: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(manifest, config) of the one image in an OCI layout archive."""
    with tarfile.open(archive) as tar:
        index = json.load(_member(tar, "index.json"))
        manifest = json.load(_member(tar, _blob_name(index["manifests"][0]["digest"])))
        config = json.load(_member(tar, _blob_name(manifest["config"]["digest"])))
    return manifest, config


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    content = tar.extractfile(name)
    if content is None:
        raise KeyError(name)
    return content


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            _remove(child)
        path.rmdir()
    elif path.exists() or path.is_symlink():
        path.unlink()


def unpack_archive(archive: Path, dest: Path) -> None:
    """Apply the image's layers in order to dest, as a container runtime would
    (whiteouts remove, opaque markers empty a directory). Needs root for owners."""
    manifest, _config = read_archive_manifest(archive)
    dest.mkdir(parents=True, exist_ok=True)
    trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    with tarfile.open(archive) as outer:
        for layer in manifest["layers"]:
            with tarfile.open(fileobj=_member(outer, _blob_name(layer["digest"]))) as tar:
                for member in tar:
                    parent, _, base = member.name.rpartition("/")
                    if base == OPAQUE_MARKER:
                        hidden = dest / parent
                        for child in hidden.iterdir() if hidden.is_dir() else ():
                            _remove(child)
                    elif base.startswith(WHITEOUT_PREFIX):
                        _remove(dest / parent / base.removeprefix(WHITEOUT_PREFIX))
                    else:
                        target = dest / member.name
                        if not member.isdir() and (target.exists() or target.is_symlink()):
                            _remove(target)
                        tar.extract(member, dest, **trusted)

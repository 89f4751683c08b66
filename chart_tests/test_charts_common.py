"""Checks every consumer chart must pass: bad values fail naming their path (Helm v4 and
v3), defaults and ci files render under both, lint, chart-testing, schema and metadata."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartmatrix.fixtures import ChartRenderer
from chartmatrix.manifests import Rendered
from chartmatrix.render import RenderResult
from chartmatrix.semver import satisfies
from destate_charts import OPT_IN, OfflineChartRenderer
from destate_tools import schemabuild
from destate_tools.charts import consumer_charts, entry_for, uncovered

REPO = Path(__file__).resolve().parents[1]
CHARTS = consumer_charts()
TOOLS_BIN = REPO / ".tools" / "bin"
HELMS = ("helm", "helm3")


def tool(name: str) -> str:
    """A pinned tool from .tools/bin (tools/bootstrap) or the venv, else from PATH."""
    for place in (TOOLS_BIN, Path(sys.executable).parent):
        if (place / name).is_file():
            return str(place / name)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: run tools/bootstrap")
    return found


@pytest.fixture(scope="module")
def renderers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, OfflineChartRenderer]:
    return {
        helm: OfflineChartRenderer(
            ChartRenderer(REPO, tmp_path_factory.mktemp(f"stage-{helm}"), helm=tool(helm))
        )
        for helm in HELMS
    }


NL = "\n"
# Hostile and mistaken values that would reach a shell script, SQL, a .cnf, envoy.yaml, an
# nginx annotation or an unquoted YAML scalar (issue 11): (chart, value path, values).
# Each must be refused before anything renders, with a message naming the value.
HOSTILE_VALUES: list[tuple[str, str, dict[str, Any]]] = [
    # mysql: names, paths and hosts that reach init-config.sh, the .cnf and the test pod
    (
        "mysql",
        "topology.clusterDomain",
        {"topology": {"clusterDomain": f"cluster.local{NL}skip-grant-tables"}},
    ),
    ("mysql", "topology.clusterDomain", {"topology": {"clusterDomain": "cluster.local; rm -rf /"}}),
    ("mysql", "topology.clusterDomain", {"topology": {"clusterDomain": "$(id).local"}}),
    ("mysql", "config.mountPath", {"config": {"mountPath": "/etc/mysql/$(id)"}}),
    ("mysql", "config.mountPath", {"config": {"mountPath": '/etc/mysql/conf.d"; reboot; "'}}),
    ("mysql", "config.mountPath", {"config": {"mountPath": "/etc/mysql/../../root"}}),
    ("mysql", "persistence.mountPath", {"persistence": {"mountPath": "/var/lib/mysql`id`"}}),
    ("mysql", "persistence.subPath", {"persistence": {"subPath": "../../etc"}}),
    (
        "mysql",
        "persistence.local.path",
        {
            "persistence": {
                "local": {"enabled": True, "path": f"/mnt/x{NL}y", "nodes": ["a", "b", "c"]}
            }
        },
    ),
    (
        "mysql",
        "persistence.local.nodes",
        {"persistence": {"local": {"enabled": True, "nodes": ["a", "b", f"c{NL}- d"]}}},
    ),
    ("mysql", "persistence.storageClass", {"persistence": {"storageClass": "fast ssd"}}),
    ("mysql", "fullnameOverride", {"fullnameOverride": "db;id"}),
    ("mysql", "fullnameOverride", {"fullnameOverride": "Upper_Case"}),
    ("mysql", "fullnameOverride", {"fullnameOverride": "a" * 64}),
    ("mysql", "nameOverride", {"nameOverride": f"x{NL}y"}),
    ("mysql", "auth.replicationUser", {"auth": {"replicationUser": "r'@'%'; DROP USER root; --"}}),
    ("mysql", "auth.replicationUser", {"auth": {"replicationUser": "r" * 33}}),
    ("mysql", "auth.existingSecret", {"auth": {"existingSecret": "../secret"}}),
    ("mysql", "config.files", {"config": {"files": {"../../evil.cnf": "[mysqld]"}}}),
    ("mysql", "config.files", {"config": {"files": {"a.cnf": {"content": "x", "tpl": "yes"}}}}),
    ("mysql", "config.existingConfigMap", {"config": {"existingConfigMap": "x y"}}),
    ("mysql", "image.tag", {"image": {"tag": f"8.4{NL}    command: [sh]"}}),
    ("mysql", "image.repository", {"image": {"repository": "mysql --privileged"}}),
    ("mysql", "image.digest", {"image": {"digest": "sha256:not-hex"}}),
    ("mysql", "workload.serviceAccountName", {"workload": {"serviceAccountName": f"x{NL}y: z"}}),
    (
        "mysql",
        "topology.antiAffinityTopologyKey",
        {"topology": {"antiAffinityTopologyKey": f"kubernetes.io/hostname{NL}  x: y"}},
    ),
    # web-session: the embedded Redis, env names, cookie and ingress values
    (
        "web-session",
        "session.store.redis.workload.replicas",
        {"session": {"store": {"redis": {"workload": {"replicas": 3}}}}},
    ),
    (
        "web-session",
        "session.store.redis.auth.password",
        {"session": {"store": {"redis": {"auth": {"password": "p@ss word!"}}}}},
    ),
    (
        "web-session",
        "session.store.redis.auth.password",
        {"session": {"store": {"redis": {"auth": {"password": "short"}}}}},
    ),
    (
        "web-session",
        "session.store.redis.auth.existingSecret",
        {"session": {"store": {"redis": {"auth": {"existingSecret": "Bad_Name"}}}}},
    ),
    (
        "web-session",
        "session.store.env.url",
        {"session": {"store": {"env": {"url": "SESSION URL"}}}},
    ),
    (
        "web-session",
        "session.store.env.backend",
        {"session": {"store": {"env": {"backend": f"X{NL}  value: y"}}}},
    ),
    ("web-session", "session.store.urlKey", {"session": {"store": {"urlKey": "url/../x"}}}),
    (
        "web-session",
        "session.sticky.cookie.name",
        {"session": {"sticky": {"cookie": {"name": "SID; Domain=evil"}}}},
    ),
    (
        "web-session",
        "session.sticky.cookie.path",
        {"session": {"sticky": {"cookie": {"path": "/;proxy_pass http://x"}}}},
    ),
    (
        "web-session",
        "expose.ingress.path",
        {"expose": {"ingress": {"path": f"/ {{{NL}return 200; }}"}}},
    ),
    (
        "web-session",
        "expose.ingress.host",
        {"expose": {"ingress": {"host": f"a.example.com{NL}  - host: b"}}},
    ),
    (
        "web-session",
        "expose.gateway.hostnames",
        {"expose": {"gateway": {"hostnames": ["*.EVIL COM"]}}},
    ),
    (
        "web-session",
        "config.mountPath",
        {"config": {"writable": True, "mountPath": "/etc/app$(touch /tmp/p)"}},
    ),
    ("web-session", "config.secretMountPath", {"config": {"secretMountPath": f"/etc/secret{NL}"}}),
    (
        "web-session",
        "topology.clusterDomain",
        {"topology": {"clusterDomain": "cluster.local@evil:1/"}},
    ),
    ("web-session", "nameOverride", {"nameOverride": 'web"session'}),
    # grpc: what reaches envoy.yaml and the server's env
    (
        "grpc",
        "connection.envoy.connectTimeout",
        {"connection": {"envoy": {"connectTimeout": f"1s{NL}    x: y"}}},
    ),
    (
        "grpc",
        "connection.envoy.dnsRefreshRate",
        {"connection": {"envoy": {"dnsRefreshRate": "5m"}}},
    ),
    (
        "grpc",
        "connection.envoy.healthCheck.interval",
        {"connection": {"envoy": {"healthCheck": {"interval": "1s}"}}}},
    ),
    (
        "grpc",
        "connection.envoy.upstream.host",
        {"connection": {"envoy": {"upstream": {"host": f"x.svc{NL}  - endpoint"}}}},
    ),
    (
        "grpc",
        "connection.envoy.listenAddress",
        {"connection": {"envoy": {"listenAddress": f"0.0.0.0{NL}  port_value: 1"}}},
    ),
    (
        "grpc",
        "connection.envoy.healthCheck.serviceName",
        {"connection": {"envoy": {"healthCheck": {"serviceName": 'svc"x'}}}},
    ),
    (
        "grpc",
        "connection.envoy.image.tag",
        {"connection": {"envoy": {"image": {"tag": f"v1{NL}x"}}}},
    ),
    (
        "grpc",
        "connection.client.env.maxConnectionAge",
        {"connection": {"client": {"env": {"maxConnectionAge": "GRPC AGE"}}}},
    ),
    (
        "grpc",
        "connection.ingress.host",
        {"connection": {"ingress": {"host": "echo.example.com/x"}}},
    ),
    ("grpc", "connection.ingress.path", {"connection": {"ingress": {"path": "/;"}}}),
    ("grpc", "fullnameOverride", {"fullnameOverride": f"echo{NL}"}),
    ("grpc", "config.mountPath", {"config": {"mountPath": "etc/grpc"}}),
    # redis: the same library patterns guard the fourth chart's names, paths and password
    (
        "redis",
        "topology.clusterDomain",
        {"topology": {"clusterDomain": f"cluster.local{NL}replicaof evil 6379"}},
    ),
    ("redis", "auth.password", {"auth": {"password": "pass word'; FLUSHALL"}}),
    ("redis", "fullnameOverride", {"fullnameOverride": "r$(id)"}),
    ("redis", "config.mountPath", {"config": {"mountPath": "/etc/$(reboot)"}}),
]

# (chart, values, the path the message must name). Schema errors name a JSON pointer
# (/workload/replicas); template errors the dotted path (workload.replicas). Both count.
BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    *[(chart, {"workload": {"replicas": -1}}, "workload.replicas") for chart in CHARTS],
    *[(chart, {"workload": {"replicaz": 2}}, "workload") for chart in CHARTS],
    *[(chart, {"imagee": {}}, "imagee") for chart in CHARTS],
    ("mysql", {"persistence": {"size": "lots"}}, "persistence.size"),
    ("mysql", {"persistence": {"size": "10GB"}}, "persistence.size"),
    (
        "mysql",
        {"persistence": {"retention": {"whenDeleted": "Keep"}}},
        "persistence.retention.whenDeleted",
    ),
    (
        "mysql",
        {"persistence": {"retention": {"whenScaled": "Forget"}}},
        "persistence.retention.whenScaled",
    ),
    (
        "mysql",
        {"persistence": {"local": {"enabled": True, "nodes": ["n1"]}}},
        "persistence.local.nodes",
    ),
    ("mysql", {"topology": {"antiAffinity": "always"}}, "topology.antiAffinity"),
    ("mysql", {"flavor": "postgres"}, "flavor"),
    ("web-session", {"session": {"mode": "cookie"}}, "session.mode"),
    (
        "web-session",
        {"session": {"mode": "sticky", "sticky": {"timeoutSeconds": 0}}},
        "session.sticky.timeoutSeconds",
    ),
    (
        "web-session",
        {"session": {"mode": "sticky", "sticky": {"timeoutSeconds": 86401}}},
        "session.sticky.timeoutSeconds",
    ),
    ("web-session", {"expose": {"mode": "grpc"}}, "expose.mode"),
    ("grpc", {"connection": {"mode": "udp"}}, "connection.mode"),
    ("grpc", {"connection": {"mode": "ingress"}}, "connection.ingress.tls.secretName"),
    (
        "grpc",
        {"connection": {"mode": "gateway", "gateway": {"force": True}}},
        "connection.gateway.parentRefs",
    ),
    *[(chart, values, path) for chart, path, values in HOSTILE_VALUES],
]


def _names_path(message: str, path: str) -> bool:
    return path in message or "/" + path.replace(".", "/") in message


@pytest.fixture(scope="module")
def bad_value_results(
    renderers: dict[str, OfflineChartRenderer],
) -> dict[tuple[str, int], RenderResult]:
    """Every bad-value case rendered once per helm, helm processes side by side."""
    results: dict[tuple[str, int], RenderResult] = {}
    for helm, renderer in renderers.items():
        requests = [renderer.request(chart, values) for chart, values, _ in BAD_VALUES]
        for index, result in enumerate(renderer.renderer.render_many(requests)):
            results[(helm, index)] = result
    return results


@pytest.mark.parametrize("helm", HELMS)
@pytest.mark.parametrize(
    "index", range(len(BAD_VALUES)), ids=[f"{c}:{p}:{i}" for i, (c, _, p) in enumerate(BAD_VALUES)]
)
def test_bad_value_fails_naming_its_path(
    bad_value_results: dict[tuple[str, int], RenderResult], helm: str, index: int
) -> None:
    chart, values, path = BAD_VALUES[index]
    result = bad_value_results[(helm, index)]
    assert not result.ok, f"{helm}: {chart} rendered with {values}"
    message = result.error
    assert _names_path(message, path), f"{helm}: message does not name {path}: {message}"
    assert "Traceback" not in message


def test_hostile_battery_is_big_enough() -> None:
    assert len(HOSTILE_VALUES) >= 35
    assert {chart for chart, _, _ in HOSTILE_VALUES} == set(CHARTS)


# Offline (helm template: no cluster) a chart that would generate a password refuses,
# naming the ways out; nothing else but the opt-in makes it render.
FAIL_CLOSED: list[tuple[str, dict[str, Any], str]] = [
    (
        "mysql",
        {},
        "destate: auth.rootPassword must be set, or auth.existingSecret name a Secret you manage",
    ),
    (
        "mysql",
        {"auth": {"rootPassword": "given-root"}},
        "destate: auth.replicationPassword must be set, or auth.existingSecret name a Secret",
    ),
    (
        "web-session",
        {},
        "destate: session.store.redis.auth.password must be set, or "
        "session.store.redis.auth.existingSecret name a Secret you manage",
    ),
]
NO_GENERATION: list[tuple[str, dict[str, Any]]] = [
    ("mysql", {"auth": {"rootPassword": "given-root", "replicationPassword": "given-repl"}}),
    ("mysql", {"auth": {"existingSecret": "db-credentials"}}),
    ("web-session", {"session": {"store": {"redis": {"auth": {"password": "given-redis"}}}}}),
    ("web-session", {"session": {"store": {"redis": {"auth": {"existingSecret": "redis-auth"}}}}}),
    ("web-session", {"session": {"mode": "sticky"}}),
    ("grpc", {}),
]


@pytest.mark.parametrize("helm", HELMS)
@pytest.mark.parametrize(
    ("chart", "values", "message"),
    FAIL_CLOSED,
    ids=[f"{c}:{i}" for i, (c, _, _) in enumerate(FAIL_CLOSED)],
)
def test_offline_render_that_would_generate_a_password_fails_closed(
    renderers: dict[str, OfflineChartRenderer],
    helm: str,
    chart: str,
    values: dict[str, Any],
    message: str,
) -> None:
    error = renderers[helm].raw.error(chart, values)
    assert message in error
    for way_out in ("External Secrets Operator", f"{OPT_IN}=true", "Argo CD"):
        assert way_out in error


@pytest.mark.parametrize(
    ("chart", "values"), NO_GENERATION, ids=[f"{c}:{i}" for i, (c, _) in enumerate(NO_GENERATION)]
)
def test_offline_render_without_generated_passwords_needs_no_opt_in(
    renderers: dict[str, OfflineChartRenderer], chart: str, values: dict[str, Any]
) -> None:
    assert renderers["helm"].raw(chart, values).all


def _ci_files(chart: str) -> list[Path]:
    return sorted((REPO / "charts" / chart / "ci").glob("*-values.yaml"))


CASES = [(chart, None) for chart in CHARTS] + [
    (chart, path) for chart in CHARTS for path in _ci_files(chart)
]


def test_each_chart_has_three_ci_files() -> None:
    for chart in CHARTS:
        assert len(_ci_files(chart)) >= 3, chart


@pytest.fixture(scope="module")
def ci_renders(renderers: dict[str, OfflineChartRenderer]) -> dict[tuple[str, int], RenderResult]:
    """Defaults and every ci file of every chart, rendered once per helm."""
    results: dict[tuple[str, int], RenderResult] = {}
    for helm, renderer in renderers.items():
        requests = [
            renderer.request(chart, yaml.safe_load(path.read_text()) if path else {})
            for chart, path in CASES
        ]
        for index, result in enumerate(renderer.renderer.render_many(requests)):
            results[(helm, index)] = result
    return results


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=[f"{c}:{p.name if p else 'defaults'}" for c, p in CASES]
)
def test_renders_alike_under_helm_v4_and_v3(
    ci_renders: dict[tuple[str, int], RenderResult], index: int
) -> None:
    by_ref: dict[str, dict[str, Any]] = {}
    for helm in HELMS:
        result = ci_renders[(helm, index)]
        assert result.ok, f"{helm}: {result.error}"
        by_ref[helm] = {m.ref: m.obj for m in Rendered.from_text(result.text)}
    assert by_ref["helm"], "nothing rendered"
    assert by_ref["helm"] == by_ref["helm3"]


@pytest.mark.parametrize("chart", CHARTS)
def test_helm_lint_strict_with_every_ci_file(
    renderers: dict[str, OfflineChartRenderer], chart: str
) -> None:
    staged = renderers["helm"].staged(chart)  # a copy with the library vendored
    cases = [None, *_ci_files(chart)]
    runs = []
    for values in cases:  # the lint runs are independent: run them side by side
        args = [tool("helm"), "lint", "--strict", str(staged)]
        # lint renders offline: the defaults need the placeholder opt-in, ci files carry it
        args += ["-f", str(values)] if values else ["--set", f"{OPT_IN}=true"]
        runs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for values, run in zip(cases, runs, strict=True):
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0, f"{values or 'defaults'}:\n{out.decode()}"


def test_chart_testing_lint_passes_on_every_chart() -> None:
    env = {
        **os.environ,
        "CT_CONFIG_DIR": str(REPO / ".tools" / "etc" / "ct"),
        "PATH": f"{TOOLS_BIN}{os.pathsep}{Path(tool('yamllint')).parent}{os.pathsep}"
        + os.environ.get("PATH", ""),
    }
    result = subprocess.run(
        [tool("ct"), "lint", "--all", "--config", "ct.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    for chart in CHARTS:
        assert f"charts/{chart}" in log


@pytest.mark.parametrize("chart", CHARTS)
def test_values_schema_is_built_from_the_library(chart: str) -> None:
    assert schemabuild.main(["--check", str(REPO / "charts" / chart)]) == 0, (
        f"run: python -m destate_tools.schemabuild charts/{chart}"
    )


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_metadata(chart: str) -> None:
    meta = yaml.safe_load((REPO / "charts" / chart / "Chart.yaml").read_text())
    assert meta["name"] == chart
    assert meta["type"] == "application"
    (dep,) = meta["dependencies"]
    assert dep["name"] == "destate"
    assert dep["repository"] == "file://../../library-chart"
    # a range, not a pin, that the library's current version satisfies: a library
    # release does not break the consumers
    library = yaml.safe_load((REPO / "library-chart" / "Chart.yaml").read_text())["version"]
    assert not re.fullmatch(r"\d+\.\d+\.\d+", dep["version"]), f"{chart}: pins {dep['version']}"
    assert satisfies(library, dep["version"]), f"{chart}: {dep['version']} excludes {library}"
    # Artifact Hub metadata (images, license, changes, icon...): test_charts_metadata.py
    for name in ("NOTES.txt",):
        assert (REPO / "charts" / chart / "templates" / name).is_file()


PUBLIC_API = {
    "workload": ["workload.replicas"],
    "persistence": [
        "persistence.enabled",
        "persistence.size",
        "persistence.storageClass",
        "persistence.retention.whenDeleted",
        "persistence.retention.whenScaled",
        "persistence.local.enabled",
        "persistence.local.path",
        "persistence.local.nodes",
    ],
    "config": ["config.files", "config.existingSecret", "config.writable"],
    "topology": ["topology.pdb.enabled", "topology.antiAffinity"],
    "session": ["session.mode", "session.sticky.timeoutSeconds"],
    "connection": [
        "connection.mode",
        "connection.ingress.tls.secretName",
        "connection.gateway.parentRefs",
    ],
    "network": [
        "network.policy.enabled",
        "network.policy.allowExternal",
        "network.policy.clients",
        "network.policy.restrictEgress",
    ],
}


def _areas(chart: str) -> list[str]:
    """The areas a chart lists once in its Chart.yaml (destate/areas), plus the workload."""
    meta = yaml.safe_load((REPO / "charts" / chart / "Chart.yaml").read_text())
    return ["workload", *meta["annotations"]["destate/areas"].split()]


@pytest.mark.parametrize("chart", CHARTS)
def test_public_values_api_is_in_values_yaml(chart: str) -> None:
    values = yaml.safe_load((REPO / "charts" / chart / "values.yaml").read_text())
    for area in _areas(chart):
        assert area in PUBLIC_API, f"{chart}: area {area} has no PUBLIC_API entry here"
        for path in PUBLIC_API[area]:
            node: Any = values
            for key in path.split("."):
                assert isinstance(node, dict) and key in node, f"{chart}: {path} missing"
                node = node[key]


NOTES_MUST_SAY = {
    "mysql": "notes-mysql-primary.default.svc.cluster.local:3306",
    "web-session": "Sessions (session.mode=",
    "grpc": "Connection mode: ",
    "redis": "the others replicate from it (read-only)",
}


def test_notes_mapping_names_every_chart() -> None:
    assert uncovered(NOTES_MUST_SAY) == {"missing": [], "unknown": []}


@pytest.mark.parametrize("chart", CHARTS)
def test_notes_render_for_defaults_and_every_ci_file(
    renderers: dict[str, OfflineChartRenderer], chart: str
) -> None:
    staged = renderers["helm"].staged(chart)
    cases = [None, *_ci_files(chart)]
    runs = []
    for values in cases:  # NOTES.txt only renders on install: a client-side dry run
        args = [tool("helm"), "install", "notes", str(staged), "--dry-run=client"]
        args += ["-f", str(values)] if values else ["--set", f"{OPT_IN}=true"]
        runs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    for values, run in zip(cases, runs, strict=True):
        out = run.communicate(timeout=120)[0].decode()
        assert run.returncode == 0, f"{values or 'defaults'}:\n{out}"
        notes = out[out.index("NOTES:") :]
        must_say = entry_for(chart, NOTES_MUST_SAY, "NOTES_MUST_SAY")
        assert must_say in notes, f"{values or 'defaults'}:\n{notes}"
        assert "helm test" in notes


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj.get("kind") == "Pod":
        return [obj["spec"]]
    template = obj.get("spec", {}).get("template", {})
    return [template["spec"]] if "spec" in template else []


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=[f"{c}:{p.name if p else 'defaults'}" for c, p in CASES]
)
def test_every_pod_meets_pod_security_restricted(
    ci_renders: dict[tuple[str, int], RenderResult], index: int
) -> None:
    pods = [
        (m.ref, spec)
        for m in Rendered.from_text(ci_renders[("helm", index)].text)
        for spec in _pod_specs(m.obj)
    ]
    assert pods
    for ref, spec in pods:
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, ref
        assert pod_sc.get("seccompProfile") == {"type": "RuntimeDefault"}, ref
        assert spec.get("automountServiceAccountToken") is False, ref
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c.get("securityContext", {})
            where = f"{ref} container {c['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert not sc.get("privileged"), where
        for volume in spec.get("volumes", []):
            assert "hostPath" not in volume, ref


def _short_image(image: str) -> str:
    return image.removeprefix("docker.io/").removeprefix("library/")


@pytest.mark.parametrize("chart", CHARTS)
def test_artifacthub_images_list_every_image_the_chart_runs(
    ci_renders: dict[tuple[str, int], RenderResult], chart: str
) -> None:
    meta = yaml.safe_load((REPO / "charts" / chart / "Chart.yaml").read_text())
    listed = {
        _short_image(i["image"])
        for i in yaml.safe_load(meta["annotations"]["artifacthub.io/images"])
    }
    used: set[str] = set()
    for index, (case_chart, _) in enumerate(CASES):
        if case_chart != chart:
            continue
        for m in Rendered.from_text(ci_renders[("helm", index)].text):
            for spec in _pod_specs(m.obj):
                used |= {
                    _short_image(c["image"])
                    for c in spec.get("initContainers", []) + spec["containers"]
                }
    assert used
    # in sync both ways: Artifact Hub lists what the defaults and ci files run, no more
    assert used <= listed, f"Chart.yaml artifacthub.io/images lacks {sorted(used - listed)}"
    assert listed <= used, f"Chart.yaml artifacthub.io/images lists unused {sorted(listed - used)}"


@pytest.mark.parametrize("chart", CHARTS)
def test_every_pod_pulls_with_the_release_pull_secrets(
    render_chart: OfflineChartRenderer, chart: str
) -> None:
    # a helm test pod runs the chart's image too: from a private registry it needs the
    # same secrets as the workloads
    values = {"global": {"imagePullSecrets": ["mirror"]}, "tests": {"enabled": True}}
    out = render_chart(REPO / "charts" / chart, values)
    specs = [m["spec"] for m in out.of_kind("Pod")]
    specs += [
        m["spec"]["template"]["spec"]
        for kind in ("StatefulSet", "Deployment")
        for m in out.of_kind(kind)
    ]
    assert out.of_kind("Pod"), "no helm test pod rendered"
    assert all(s.get("imagePullSecrets") == [{"name": "mirror"}] for s in specs)


@pytest.mark.parametrize("chart", CHARTS)
def test_a_name_of_digits_stays_a_string(render_chart: OfflineChartRenderer, chart: str) -> None:
    # unquoted, `name: 2024` is a number: the API server refuses the object
    out = render_chart(REPO / "charts" / chart, {"fullnameOverride": "2024"})

    def numbers(node: Any, path: str) -> list[str]:
        if isinstance(node, dict):
            return [p for k, v in node.items() for p in numbers(v, f"{path}.{k}")]
        if isinstance(node, list):
            return [p for i, v in enumerate(node) for p in numbers(v, f"{path}[{i}]")]
        return [path] if node == 2024 and not isinstance(node, str) else []

    found = [p for m in out.all for p in numbers(m, f"{m['kind']}/{m['metadata']['name']}")]
    assert any(m["metadata"]["name"] == "2024" for m in out.all) and not found

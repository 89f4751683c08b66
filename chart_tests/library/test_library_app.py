"""destate.app.render, the loader: a chart in a dozen lines, areas opt-in by construction
(Chart.yaml annotation destate/areas), the documented hooks, and the globals users of
shared chart libraries expect (global.imageRegistry, .imagePullSecrets, .storageClass)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import LIBRARY, HelmError, Render, RenderFn, parse, run_helm, template

APP = (
    '{{- include "destate.app.render" (dict "ctx" $ "container" (dict "name" "app"\n'
    '  "ports" (list (dict "name" "http" "containerPort" 8080)))) }}\n'
)
HOOKS = """{{- define "tiny.validate" -}}
{{- if eq .Values.image.tag "forbidden" }}
{{- fail "destate: image.tag must not be forbidden (got \\"forbidden\\")" }}
{{- end -}}
{{- end -}}
{{- define "tiny.extra" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: tiny-extra
{{- end -}}
{{- include "destate.app.render" (dict "ctx" $
  "hooks" (dict "validate" "tiny.validate" "resources" (list "tiny.extra"))
  "container" (dict "name" "app" "ports" (list (dict "name" "http" "containerPort" 8080)))) }}
"""
VALUES = {"image": {"repository": "docker.io/library/nginx", "tag": "1.27"}}

MakeChart = Callable[..., Path]


@pytest.fixture(scope="module")
def make_chart(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> MakeChart:
    """make_chart(areas, app=APP) -> a chart with the library packaged into charts/."""
    package = tmp_path_factory.mktemp("destate-pkg")
    run_helm(helm, ["package", LIBRARY, "--destination", package])
    tgz = next(package.glob("destate-*.tgz"))

    def _make(areas: str | None, app: str = APP) -> Path:
        chart = tmp_path_factory.mktemp("tiny") / "tiny"
        (chart / "templates").mkdir(parents=True)
        (chart / "charts").mkdir()
        meta: dict[str, Any] = {
            "apiVersion": "v2",
            "name": "tiny",
            "version": "1.0.0",
            "appVersion": "1.0.0",
            "dependencies": [
                {"name": "destate", "version": ">=0.1.0-0", "repository": "file://" + str(LIBRARY)}
            ],
        }
        if areas is not None:
            meta["annotations"] = {"destate/areas": areas}
        (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
        (chart / "values.yaml").write_text(yaml.safe_dump(VALUES))
        (chart / "templates" / "app.yaml").write_text(app)
        (chart / "charts" / tgz.name).write_bytes(tgz.read_bytes())
        return chart

    return _make


def render_chart(helm: Path, chart: Path, values: dict[str, Any] | None = None) -> Render:
    text = template(helm, chart, values)
    return Render(text, parse(text))


def kinds(out: Render) -> list[str]:
    return sorted(d["kind"] for d in out.docs)


def pod(out: Render, kind: str = "Deployment") -> dict[str, Any]:
    (workload,) = out.all(kind)
    return workload["spec"]["template"]["spec"]


def test_a_chart_in_one_include(helm: Path, make_chart: MakeChart) -> None:
    """Deployment (no persistence area), its Service on the container port, a PDB and a
    NetworkPolicy on 8080, from one include and the annotation."""
    out = render_chart(helm, make_chart("config topology network"))
    assert kinds(out) == ["Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service"]
    (svc,) = out.all("Service")
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    (policy,) = out.all("NetworkPolicy")
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    assert "volumeClaimTemplates" not in json.dumps(out.docs)


def test_root_context_alone_renders_from_values(helm: Path, make_chart: MakeChart) -> None:
    chart = make_chart("topology", app='{{ include "destate.app.render" . }}\n')
    out = render_chart(helm, chart, {"topology": {"ports": [{"name": "web", "port": 80}]}})
    assert kinds(out) == ["Deployment", "PodDisruptionBudget", "Service"]
    assert out.all("Service")[0]["spec"]["ports"][0]["port"] == 80


def test_unlisted_areas_are_off_by_construction(helm: Path, make_chart: MakeChart) -> None:
    """persistence not listed: no claim even though its library default is on, and values
    that would switch it on are overridden; session and connection render nothing."""
    values = {
        "persistence": {"enabled": True},
        "session": {"mode": "store"},
        "connection": {"mode": "envoy"},
        "network": {"policy": {"enabled": True}},
    }
    out = render_chart(helm, make_chart("topology"), values)
    assert kinds(out) == ["Deployment", "PodDisruptionBudget", "Service"]
    spec = pod(out)
    assert all("persistentVolumeClaim" not in v for v in spec.get("volumes", []))
    assert "SESSION_STORE_URL" not in json.dumps(spec)


def test_off_session_and_connection_values_are_not_checked(
    helm: Path, make_chart: MakeChart
) -> None:
    """An unlisted session or connection area is mode none, where none of its values can
    reach a manifest: they are not checked (a render's cost); listed, they are."""
    bad = {
        "session": {"sticky": {"cookie": {"name": "a b"}}},
        "connection": {"envoy": {"connectTimeout": "5m"}},
    }
    out = render_chart(helm, make_chart("topology"), bad)
    assert kinds(out) == ["Deployment", "PodDisruptionBudget", "Service"]
    with pytest.raises(HelmError, match=re.escape("session.sticky.cookie.name")):
        render_chart(helm, make_chart("topology session"), bad)
    with pytest.raises(HelmError, match=re.escape("connection.envoy.connectTimeout")):
        render_chart(helm, make_chart("topology connection"), bad)


def test_listing_persistence_makes_a_statefulset(helm: Path, make_chart: MakeChart) -> None:
    out = render_chart(helm, make_chart("persistence, topology"))
    assert kinds(out) == ["PodDisruptionBudget", "Service", "Service", "Service", "StatefulSet"]
    names = sorted(s["metadata"]["name"] for s in out.all("Service"))
    assert names == ["t-tiny-headless", "t-tiny-primary", "t-tiny-read"]
    (sts,) = out.all("StatefulSet")
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_unknown_area_fails_naming_it(helm: Path, make_chart: MakeChart) -> None:
    with pytest.raises(HelmError, match=re.escape('destate/areas names an unknown area "sesion"')):
        render_chart(helm, make_chart("config sesion"))


DERIVED = """{{- define "tiny.values" -}}
{{- toJson (set (omit .Values "image") "image" (dict "repository" "docker.io/library/nginx"
  "tag" (printf "%s-derived" .Values.image.tag))) -}}
{{- end -}}
{{- define "tiny.broken" -}}image: {{ .Values.image.tag }}{{- end -}}
# {{ include "destate.workload.image" (dict "ctx" $) }}
{{- include "destate.app.render" (dict "ctx" $ "container" (dict "name" "app"
  "ports" (list (dict "name" "http" "containerPort" 8080)))) }}
"""


def with_values_annotation(chart: Path, template: str) -> Path:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    meta.setdefault("annotations", {})["destate/values"] = template
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
    return chart


def test_derived_values_are_the_tree_every_template_reads(
    helm: Path, make_chart: MakeChart
) -> None:
    """destate/values names the chart template whose JSON the library reads instead of
    .Values: the chart's own calls and the loader's see the same derived image."""
    chart = with_values_annotation(make_chart("topology", app=DERIVED), "tiny.values")
    out = render_chart(helm, chart)
    assert "# docker.io/library/nginx:1.27-derived" in out.text
    assert pod(out)["containers"][0]["image"] == "docker.io/library/nginx:1.27-derived"


def test_derived_values_must_be_a_json_object(helm: Path, make_chart: MakeChart) -> None:
    chart = with_values_annotation(make_chart("topology", app=DERIVED), "tiny.broken")
    message = 'annotation destate/values names "tiny.broken", which must print the values tree'
    with pytest.raises(HelmError, match=re.escape(message)):
        render_chart(helm, chart)


def test_hooks_validate_and_resources(helm: Path, make_chart: MakeChart) -> None:
    chart = make_chart("topology", app=HOOKS)
    out = render_chart(helm, chart)
    assert out.get("ConfigMap", "tiny-extra")
    with pytest.raises(HelmError, match=re.escape("destate: image.tag must not be forbidden")):
        render_chart(helm, chart, {"image": {"tag": "forbidden"}})


def test_unknown_hook_fails(helm: Path, make_chart: MakeChart) -> None:
    app = '{{ include "destate.app.render" (dict "ctx" $ "hooks" (dict "containers" "x")) }}\n'
    with pytest.raises(
        HelmError, match=re.escape('destate.app.render got an unknown hook "containers"')
    ):
        render_chart(helm, make_chart("topology", app=app))


@pytest.mark.parametrize(
    ("repository", "registry", "image"),
    [
        (
            "docker.io/library/nginx",
            "mirror.example.com:5000",
            "mirror.example.com:5000/library/nginx:1.27",
        ),
        ("nginx", "mirror.example.com", "mirror.example.com/nginx:1.27"),
        ("localhost/team/app", "registry.internal/proxy", "registry.internal/proxy/team/app:1.27"),
        ("docker.io/library/nginx", "", "docker.io/library/nginx:1.27"),
    ],
)
def test_global_image_registry(
    helm: Path, make_chart: MakeChart, repository: str, registry: str, image: str
) -> None:
    values = {"image": {"repository": repository}, "global": {"imageRegistry": registry}}
    out = render_chart(helm, make_chart("topology"), values)
    assert pod(out)["containers"][0]["image"] == image


def test_global_image_registry_is_validated(helm: Path, make_chart: MakeChart) -> None:
    with pytest.raises(
        HelmError, match=re.escape("destate: global.imageRegistry must be a registry")
    ):
        render_chart(helm, make_chart("topology"), {"global": {"imageRegistry": "a b"}})


def test_global_image_pull_secrets(helm: Path, make_chart: MakeChart) -> None:
    values = {
        "global": {"imagePullSecrets": ["mirror", {"name": "shared"}]},
        "image": {"pullSecrets": ["shared", "own"]},
    }
    out = render_chart(helm, make_chart("topology"), values)
    assert pod(out)["imagePullSecrets"] == [{"name": "mirror"}, {"name": "shared"}, {"name": "own"}]


@pytest.mark.parametrize(
    ("chart_class", "expected"), [("", "standard-rwo"), ("fast-ssd", "fast-ssd"), ("-", "")]
)
def test_global_storage_class(
    helm: Path, make_chart: MakeChart, chart_class: str, expected: str
) -> None:
    values = {
        "global": {"storageClass": "standard-rwo"},
        "persistence": {"storageClass": chart_class},
    }
    out = render_chart(helm, make_chart("persistence topology"), values)
    (sts,) = out.all("StatefulSet")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == expected


def test_global_storage_class_unset_keeps_the_cluster_default(
    helm: Path, make_chart: MakeChart
) -> None:
    out = render_chart(helm, make_chart("persistence topology"))
    (sts,) = out.all("StatefulSet")
    assert "storageClassName" not in sts["spec"]["volumeClaimTemplates"][0]["spec"]


def test_loader_in_the_test_chart(render: RenderFn) -> None:
    """The test chart lists no areas: all are on; its loader file uses every helper."""
    out = render({"libtest": {"loader": True}}, extra=["--show-only", "templates/loader.yaml"])
    data = out.get("ConfigMap", "libtest-loader")["data"]
    assert json.loads(data["areas"])[:3] == ["names", "image", "workload"]
    assert data["area-session"] == "true"
    sources = yaml.safe_load(data["step-sources"])
    assert sources["mounts"][0]["mountPath"] == "/destate/config-src/user"
    server = yaml.safe_load(data["server"])
    assert server["services"] == ["service", "headless"]
    assert server["container"]["ports"][0]["name"] == "grpc"
    assert data["server-name"].endswith(".svc.cluster.local")
    replicas = json.loads(data["replica-addresses"])
    assert replicas and all(".svc." in r and "-0." not in r for r in replicas)
    assert "StatefulSet" in kinds(out)


def test_config_step_mounts_no_configmap(helm: Path, make_chart: MakeChart) -> None:
    app = (
        '{{- $src := fromYaml (include "destate.config.stepSources" (dict "ctx" $)) }}\n'
        '{{- include "destate.app.render" (dict "ctx" $ "configStep" true "volumes" $src.volumes'
        ' "initContainers" (list (dict "name" "step" "image" "busybox"'
        ' "volumeMounts" $src.mounts))) }}\n'
    )
    out = render_chart(
        helm,
        make_chart("config topology", app=app),
        {"config": {"files": {"a.conf": "x"}, "writable": True}},
    )
    spec = pod(out)
    assert [c["name"] for c in spec["initContainers"]] == ["step"]
    # "data" is the persistence area's emptyDir (the area is off: no claim)
    assert [v["name"] for v in spec["volumes"]] == ["data", "user-config"]
    assert [m["name"] for m in spec["containers"][0]["volumeMounts"]] == ["data"]
    assert (
        "checksum/config" in out.all("Deployment")[0]["spec"]["template"]["metadata"]["annotations"]
    )


OWN_LIFECYCLE = (
    '{{- include "destate.app.render" (dict "ctx" $ "container" (dict "name" "app"\n'
    '  "ports" (list (dict "name" "http" "containerPort" 8080))\n'
    '  "lifecycle" (dict "preStop" (dict "exec" (dict "command" (list "drain")))))) }}\n'
)


@pytest.mark.parametrize(
    ("areas", "grace", "app", "hook"),
    [
        ("topology", 30, APP, {"sleep": {"seconds": 5}}),
        ("topology", 6, APP, {"sleep": {"seconds": 3}}),
        ("topology", 1, APP, None),  # no time to spare: the app stops at once
        ("config", 30, APP, None),  # no Service: nothing to leave
        ("topology", 30, OWN_LIFECYCLE, {"exec": {"command": ["drain"]}}),  # the chart's own
    ],
)
def test_a_stopping_deployment_pod_keeps_serving_while_it_leaves_its_services(
    helm: Path, make_chart: MakeChart, areas: str, grace: int, app: str, hook: Any
) -> None:
    values = {"workload": {"terminationGracePeriodSeconds": grace}}
    spec = pod(render_chart(helm, make_chart(areas, app=app), values))
    assert spec["containers"][0].get("lifecycle", {}).get("preStop") == hook


def test_a_statefulset_pod_stops_at_once(helm: Path, make_chart: MakeChart) -> None:
    """A StatefulSet's pod is replaced under the same name only once it is gone: a drain
    would delay its return (a database primary's clients reconnect instead)."""
    out = render_chart(helm, make_chart("persistence topology"))
    assert "lifecycle" not in pod(out, "StatefulSet")["containers"][0]


def test_an_image_tag_read_as_a_fraction_is_refused(render_error: Callable[..., str]) -> None:
    # YAML reads `tag: 11.10` as 11.1: another image, with no warning
    tag = {"image": {"repository": "docker.io/library/nginx", "tag": 11.1}}
    assert "at '/image/tag': got number, want integer or string" in render_error(tag, schema=True)
    assert (
        "destate: image.tag must be quoted: YAML read it as a number, which drops trailing "
        "zeros (11.10 reads as 11.1) (got 11.1)"
    ) in render_error(tag)

"""The render_chart fixture against a real helm and a real chart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from chartmatrix.fixtures import ChartRenderer, RenderFailed


def test_render_and_query(render_chart: ChartRenderer, created_chart: Path) -> None:
    out = render_chart(created_chart, {"replicaCount": 3, "image": {"tag": "1.27"}})
    assert out.get("Deployment", "test-demo")["spec"]["replicas"] == 3
    image = out.query("Deployment", None, "spec.template.spec.containers[name=demo].image")
    assert image == "nginx:1.27"
    assert {"Deployment", "Service", "ServiceAccount", "Pod"} <= set(out.kinds())
    assert len(out.of_kind("Service")) == 1


def test_layers_release_namespace_and_capabilities(
    render_chart: ChartRenderer, created_chart: Path
) -> None:
    out = render_chart(
        created_chart,
        [{"replicaCount": 2, "autoscaling": {"enabled": False}}, {"replicaCount": 4}],
        release="rel",
        namespace="ns1",
        kube_version="1.31.0",
        api_versions=["example.com/v1"],
    )
    assert out.query("Deployment", "rel-demo", "spec.replicas") == 4
    assert out.get("Service", "rel-demo")["metadata"]["name"] == "rel-demo"


def test_render_failure_carries_helm_message(render_chart: ChartRenderer, demo_chart: Path) -> None:
    (demo_chart / "templates" / "fail.yaml").write_text(
        '{{ if .Values.boom }}{{ fail "demo: boom must be false" }}{{ end }}\n'
    )
    assert "demo: boom must be false" in render_chart.error(demo_chart, {"boom": True})
    with pytest.raises(RenderFailed, match="boom must be false"):
        render_chart(demo_chart, {"boom": True})
    with pytest.raises(AssertionError, match="it rendered"):
        render_chart.error(demo_chart, {"boom": False})


def test_go_tuning_applies_to_helm_only(
    render_chart: ChartRenderer, created_chart: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.delenv("GOGC", raising=False)
    render_chart(created_chart)
    assert "GOGC" not in os.environ, "the GC tuning must not leak into other processes"


CAPS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: caps}
data:
  minor: "{{ .Capabilities.KubeVersion.Minor }}"
  has-example: "{{ .Capabilities.APIVersions.Has "example.com/v1" }}"
"""


def test_capabilities_flags_reach_the_templates(
    render_chart: ChartRenderer, demo_chart: Path
) -> None:
    (demo_chart / "templates" / "caps.yaml").write_text(CAPS)
    plain = render_chart(demo_chart, kube_version="1.30.0")
    assert plain.get("ConfigMap", "caps")["data"] == {"minor": "30", "has-example": "false"}
    caps = render_chart(demo_chart, kube_version="1.33.2", api_versions=["example.com/v1"])
    assert caps.get("ConfigMap", "caps")["data"] == {"minor": "33", "has-example": "true"}


def test_schema_errors_fixture(
    render_chart: ChartRenderer, demo_chart: Path, schema_errors: Callable[..., list[str]]
) -> None:
    assert schema_errors(render_chart(demo_chart), "1.30") == []
    (demo_chart / "templates" / "bad.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: 1}\n"
    )
    [error] = schema_errors(render_chart(demo_chart), "1.30")
    assert 'ConfigMap/bad data.a: 1 is not of type ["string", "null"]' in error

"""The helm overrides point every container of every chart (tests and init containers
too) at a local image, so the real node never needs a registry."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from destate_images.errors import ImageError
from destate_images.overrides import chart_overrides, helm_set_args
from destate_images.specs import all_images, envoy_pin
from imagetest import REPO

# the ci files whose flavour has local images (Oracle MySQL has no stand-in)
CASES = [
    ("mysql", "mariadb-values.yaml"),
    ("redis", "primary-replica-values.yaml"),
    ("web-session", "store-values.yaml"),
    ("web-session", "sticky-ingress-values.yaml"),
    ("grpc", "envoy-values.yaml"),
    ("grpc", "client-values.yaml"),
]


def pod_specs(manifest: dict) -> list[dict]:
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "Pod":
        return [spec]
    template = spec.get("template") or {}
    return [template["spec"]] if "spec" in template else []


@pytest.mark.parametrize(("chart", "values"), CASES)
def test_every_container_runs_a_local_image_never_pulled(chart: str, values: str) -> None:
    helm = shutil.which("helm")
    if not helm:
        pytest.skip("helm is not on PATH (tools/bootstrap builds it)")
    args = helm_set_args(chart, envoy_pin(REPO))
    rendered = subprocess.run(
        [
            helm,
            "template",
            "r",
            str(REPO / "charts" / chart),
            "-f",
            str(REPO / "charts" / chart / "ci" / values),
            *args,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    refs = {spec.ref for spec in all_images(REPO)}
    containers = [
        container
        for manifest in yaml.safe_load_all(rendered)
        if manifest
        for pod in pod_specs(manifest)
        for container in pod.get("initContainers", []) + pod.get("containers", [])
    ]
    assert containers
    for container in containers:
        assert container["image"] in refs, (chart, container["name"], container["image"])
        assert container["imagePullPolicy"] == "Never", (chart, container["name"])


def test_overrides_are_strings_and_unknown_charts_are_named() -> None:
    args = helm_set_args("redis", "1.40.0")
    assert args[args.index("--set-string") + 1].startswith("image.")
    assert "image.tag=7.0" in args
    assert set(chart_overrides("1.40.0")) == {"mysql", "redis", "web-session", "grpc"}
    with pytest.raises(ImageError, match="no image overrides for chart 'nginx'"):
        helm_set_args("nginx", "1.40.0")

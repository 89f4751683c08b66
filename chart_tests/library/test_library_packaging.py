"""Packaging: `helm package` + `helm repo index` of the library, served over HTTP on
loopback; a throwaway chart outside the repository depends on destate by version,
runs `helm dependency update` and renders."""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import LIBRARY, parse, run_helm

VERSION = yaml.safe_load((LIBRARY / "Chart.yaml").read_text())["version"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def chart_repo(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A chart repository holding the packaged library, served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("repo")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    run_helm(helm, ["package", LIBRARY, "--destination", root])
    run_helm(helm, ["repo", "index", root, "--url", url])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_repository_index_lists_the_library(chart_repo: str, tmp_path: Path) -> None:
    with urllib.request.urlopen(f"{chart_repo}/index.yaml", timeout=10) as response:
        index = yaml.safe_load(response.read())
    (entry,) = index["entries"]["destate"]
    assert entry["version"] == VERSION
    assert entry["type"] == "library"
    assert entry["urls"] == [f"{chart_repo}/destate-{VERSION}.tgz"]


CONSUMER_TEMPLATE = """\
{{ include "destate.workload.statefulset" (dict "ctx" $
     "container" (dict "name" "kv" "ports" (list (dict "name" "kv" "containerPort" 7000)))) }}
---
{{- include "destate.topology.headlessService" (dict "ctx" $) }}
"""


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_outside_chart_depends_on_destate_by_version(
    chart_repo: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    binary: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helm_bin: Path = request.getfixturevalue(binary)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "helm-home" / var.lower()))
    chart = tmp_path / "kv"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "kv",
                "version": "1.0.0",
                "appVersion": "2.0",
                "dependencies": [{"name": "destate", "version": VERSION, "repository": chart_repo}],
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
    (chart / "templates" / "kv.yaml").write_text(CONSUMER_TEMPLATE)

    run_helm(helm_bin, ["dependency", "update", chart])
    assert (chart / "charts" / f"destate-{VERSION}.tgz").is_file()
    lock = yaml.safe_load((chart / "Chart.lock").read_text())
    assert lock["dependencies"] == [
        {"name": "destate", "version": VERSION, "repository": chart_repo}
    ]

    docs = parse(run_helm(helm_bin, ["template", "kv", chart, "--namespace", "apps"]))
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"StatefulSet", "Service"}
    sts = kinds["StatefulSet"]
    assert sts["metadata"]["name"] == "kv"
    assert sts["spec"]["serviceName"] == kinds["Service"]["metadata"]["name"] == "kv-headless"
    assert sts["spec"]["replicas"] == 2
    main = sts["spec"]["template"]["spec"]["containers"][0]
    assert main["image"] == "example/kv:2.0"

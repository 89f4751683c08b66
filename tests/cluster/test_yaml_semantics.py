"""kube-apiserver is the judge of how YAML reads: chartmatrix must store what it stores.

Each item of tests/chartmatrix/test_cm_k8syaml.py (one table: the unit tests hold the
expected values, this module proves them) is POSTed as a raw ``application/yaml`` body
under ``spec`` of a custom resource whose spec keeps any JSON
(``x-kubernetes-preserve-unknown-fields``), read back as JSON and compared with
chartmatrix's parse of the same document, types included; where the server refuses the
document chartmatrix must refuse it too. A few string items go into a ConfigMap, whose
``data`` values must be strings.
"""

from __future__ import annotations

import importlib.util
import json
import ssl
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from chartmatrix import k8syaml
from chartmatrix.cluster.install_kube import wait_for

pytestmark = pytest.mark.cluster

GROUP = "probes.chartmatrix.dev"
PROBES = f"/apis/{GROUP}/v1/yamlprobes"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def _unit_tables() -> Any:
    path = Path(__file__).resolve().parents[1] / "chartmatrix" / "test_cm_k8syaml.py"
    spec = importlib.util.spec_from_file_location("cm_k8syaml_items", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_UNIT = _unit_tables()
ITEMS: list[tuple[str, str]] = [(i, text) for i, text, _ in _UNIT.CASES + _UNIT.REFUSED]
# ConfigMap data values are strings: the server refuses anything chartmatrix reads otherwise
STRING_ITEMS: list[tuple[str, str]] = [
    ("equals", "="),
    ("equals-tilde", "=~"),
    ("timestamp", "2001-12-14t21:59:43.10-05:00"),
    ("date", "2002-12-14"),
    ("sexagesimal", "190:20:30"),
    ("quoted-octal", '"0777"'),
    ("binary", "!!binary aGVsbG8="),
    ("custom-tag", "!foo 12"),
    ("non-specific-tag", "! 12"),
    ("plus-sign", "+"),
    ("y", "y"),
    ("yes", "yes"),
    ("exponent", "1e3"),
    ("octal", "0777"),
]

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"yamlprobes.{GROUP}"},
    "spec": {
        "group": GROUP,
        "names": {"kind": "YamlProbe", "plural": "yamlprobes", "singular": "yamlprobe"},
        "scope": "Cluster",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                        },
                    }
                },
            }
        ],
    },
}


class RawYaml:
    """POSTs YAML text as it is (the cluster's JSON client would re-encode it)."""

    def __init__(self, server: str, pki: Path) -> None:
        self.server = server.rstrip("/")
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def post(self, path: str, text: str) -> tuple[int, Any]:
        req = urllib.request.Request(self.server + path, data=text.encode(), method="POST")
        req.add_header("Content-Type", "application/yaml")
        req.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            try:
                return exc.code, json.loads(body)
            except ValueError:
                return exc.code, body


@pytest.fixture(scope="module")
def raw(cluster: Any) -> RawYaml:
    return RawYaml(cluster.kube.api.server, cluster.plane.layout.pki)


@pytest.fixture(scope="module")
def probe_crd(cluster: Any) -> str:
    api = cluster.kube.api
    api.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)

    def established() -> bool:
        crd = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/yamlprobes.{GROUP}")
        conditions = ((crd or {}).get("status") or {}).get("conditions") or []
        served = api.get(PROBES) is not None
        return served and any(
            c.get("type") == "Established" and c.get("status") == "True" for c in conditions
        )

    assert wait_for(established, 60), "the YamlProbe CRD did not become established"
    return PROBES


def _ours(document: str, field: str) -> Any:
    try:
        return k8syaml.load(document)[field]
    except k8syaml.YamlError as exc:
        return exc


def _message(payload: Any) -> str:
    return str(payload.get("message") if isinstance(payload, dict) else payload)[:300]


def _judge(cluster: Any, raw: RawYaml, path: str, name: str, document: str, field: str) -> None:
    ours = _ours(document, field)
    status, payload = raw.post(path, document)
    try:
        if status == 201:
            stored = cluster.kube.get(f"{path}/{name}")[field]
            assert not isinstance(ours, Exception), (
                f"the API server stored {json.dumps(stored)[:200]}; chartmatrix refused: {ours}"
            )
            assert json.dumps(ours, sort_keys=True) == json.dumps(stored, sort_keys=True)
        else:
            assert 400 <= status < 500, f"unexpected answer {status}: {_message(payload)}"
            assert isinstance(ours, k8syaml.YamlError), (
                f"the API server refused ({status}: {_message(payload)}); "
                f"chartmatrix read {json.dumps(ours)[:200]}"
            )
    finally:
        cluster.kube.delete(f"{path}/{name}")


@pytest.mark.parametrize("text", [t for _, t in ITEMS], ids=[i for i, _ in ITEMS])
def test_chartmatrix_reads_as_the_api_server_stores(
    cluster: Any, raw: RawYaml, probe_crd: str, request: pytest.FixtureRequest, text: str
) -> None:
    name = f"probe-{request.node.callspec.id}"
    document = (
        f"apiVersion: {GROUP}/v1\nkind: YamlProbe\nmetadata:\n  name: {name}\nspec:\n"
        + textwrap.indent(text, "  ", lambda _line: True)
        + "\n"
    )
    _judge(cluster, raw, probe_crd, name, document, "spec")


@pytest.mark.parametrize(("count", "stored"), [(166, True), (167, False)])
def test_alias_limit_is_go_yamls_to_the_alias(
    cluster: Any, raw: RawYaml, probe_crd: str, count: int, stored: bool
) -> None:
    """Under ``spec`` ten more plain decodes move go-yaml's limit from 122 "*b" to 167:
    166 gives exactly 99.0% aliased decodes (allowed), 167 just over."""
    name = f"probe-aliases-{count}"
    document = (
        f"apiVersion: {GROUP}/v1\nkind: YamlProbe\nmetadata:\n  name: {name}\nspec:\n"
        + textwrap.indent(_UNIT.aliases_of_b(count), "  ")
        + "\n"
    )
    assert isinstance(_ours(document, "spec"), k8syaml.YamlError) is not stored
    _judge(cluster, raw, probe_crd, name, document, "spec")


@pytest.mark.parametrize("value", [v for _, v in STRING_ITEMS], ids=[i for i, _ in STRING_ITEMS])
def test_configmap_strings_as_the_api_server_reads_them(
    cluster: Any, raw: RawYaml, request: pytest.FixtureRequest, value: str
) -> None:
    name = f"probe-{request.node.callspec.id}"
    document = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: {value}\n"
    ours = _ours(document, "data")
    if not isinstance(ours, Exception) and not isinstance(ours["v"], str):
        # a ConfigMap cannot hold it: the server must refuse the document
        status, payload = raw.post(CONFIGMAPS, document)
        cluster.kube.delete(f"{CONFIGMAPS}/{name}")
        assert 400 <= status < 500, (
            f"chartmatrix read {ours['v']!r}, the server answered {status}: {_message(payload)}"
        )
        return
    _judge(cluster, raw, CONFIGMAPS, name, document, "data")

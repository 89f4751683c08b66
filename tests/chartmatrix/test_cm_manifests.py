"""Parsing helm output and querying manifests."""

from __future__ import annotations

import pytest
from chartmatrix.manifests import ManifestParseError, Rendered, parse, query

RENDER = """---
# Source: demo/templates/svc.yaml
apiVersion: v1
kind: Service
metadata:
  name: demo
spec:
  clusterIP: None
---
# Source: demo/templates/empty.yaml
---
# Source: demo/templates/sts.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: demo
  annotations:
    checksum/config: abc
    a.b: dotted
spec:
  template:
    spec:
      containers:
        - name: app
          image: app:1
        - name: side
          image: side:2
"""


def test_parse_keeps_source_and_skips_empty() -> None:
    manifests = parse(RENDER)
    assert [m.ref for m in manifests] == ["Service/demo", "StatefulSet/demo"]
    assert manifests[1].source == "demo/templates/sts.yaml"


def test_rendered_queries() -> None:
    out = Rendered.from_text(RENDER)
    assert out.kinds() == ["Service", "StatefulSet"]
    assert out.get("Service")["spec"]["clusterIP"] == "None"
    assert out.query("StatefulSet", "demo", "spec.template.spec.containers[1].image") == "side:2"
    assert (
        out.query("StatefulSet", None, "spec.template.spec.containers[name=app].image") == "app:1"
    )
    assert out.query("StatefulSet", "demo", 'metadata.annotations["a.b"]') == "dotted"
    assert out.query("StatefulSet", "demo", "metadata.annotations.checksum/config") == "abc"
    assert out.query("StatefulSet", "demo", "spec.replicas", default=None) is None
    with pytest.raises(KeyError, match=r"nothing at spec.template.spec.containers\[5\]"):
        out.query("StatefulSet", "demo", "spec.template.spec.containers[5].image")
    with pytest.raises(KeyError, match=r"no Service named 'x' \(rendered Service: \['demo'\]\)"):
        out.get("Service", "x")
    with pytest.raises(KeyError, match="expected exactly one Deployment"):
        out.get("Deployment")


def test_bad_render_is_a_clear_error() -> None:
    with pytest.raises(ManifestParseError, match=r"in demo/templates/x\.yaml"):
        parse("---\n# Source: demo/templates/x.yaml\na: [1\n")
    with pytest.raises(ManifestParseError, match="is a list"):
        parse("---\n- 1\n")
    with pytest.raises(ValueError, match="invalid path"):
        query({}, "a[")


def test_documents_without_source_continue_the_previous_template() -> None:
    helm3 = "---\n# Source: c/templates/two.yaml\nkind: A\n---\nkind: B\n"
    assert [m.source for m in parse(helm3)] == ["c/templates/two.yaml"] * 2


def test_a_list_is_installed_as_its_items_so_it_is_checked_as_them() -> None:
    ms = parse(
        "---\n# Source: c/templates/l.yaml\napiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "- {apiVersion: networking.k8s.io/v1, kind: IngressClass, metadata: {name: b}}\n"
        "---\n# Source: c/templates/x.yaml\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
    )
    assert [(m.kind, m.name, m.source, m.index) for m in ms] == [
        ("ConfigMap", "a", "c/templates/l.yaml", 0),
        ("IngressClass", "b", "c/templates/l.yaml", 1),
        ("Secret", "s", "c/templates/x.yaml", 2),
    ]
    # a kind named ...List that holds no objects is left as it is
    [odd] = parse("apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: x}\nitems: [a]\n")
    assert odd.kind == "AllowList"

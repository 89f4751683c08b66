"""Offline schema validation: bundled Kubernetes schemas and user CRDs."""

from __future__ import annotations

from pathlib import Path

import pytest
from chartmatrix.crdsource import resolve_crd
from chartmatrix.errors import ChartmatrixError
from chartmatrix.manifests import parse
from chartmatrix.validate import SchemaValidator, bundled_versions, schema_version

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {x-kubernetes-int-or-string: true}
                note: {type: string, nullable: true}
                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


def one(text: str):
    return parse(text)[0]


def test_versions() -> None:
    assert bundled_versions()[0] == "1.25" and "1.36" in bundled_versions()
    assert schema_version("1.36.3") == "1.36"
    with pytest.raises(ChartmatrixError, match="has no bundled schemas"):
        schema_version("1.99")


def test_strict_all_errors_with_paths() -> None:
    m = one(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, bogus: 1}\n"
        "spec:\n  selector: {matchLabels: {a: b}}\n  replicas: two\n  template:\n"
        "    metadata: {labels: {a: b}}\n    spec:\n      containers:\n"
        "        - {name: c, image: i, ports: [{containerPort: 80, protocl: TCP}]}\n"
    )
    findings = SchemaValidator().validate(m, "1.33")
    got = {(f.path, f.rule) for f in findings}
    assert ("metadata", "schema/invalid") in got
    assert ("spec.replicas", "schema/invalid") in got
    assert ("spec.template.spec.containers[0].ports[0]", "schema/invalid") in got
    assert all(f.kube_version == "1.33" and f.resource == "Deployment/d" for f in findings)


def test_valid_object_and_removed_api() -> None:
    v = SchemaValidator()
    ok = one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    assert v.validate(ok, "1.30") == []
    old = one("apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p}\n")
    [finding] = v.validate(old, "1.30")
    assert finding.rule == "schema/api-not-served" and "policy/v1" in finding.message


def test_unknown_kind_is_reported_then_crd_validates(tmp_path: Path) -> None:
    widget = one(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
        "spec: {size: 3, note: null, extra: {anything: [1]}}\n"
    )
    [finding] = SchemaValidator().validate(widget, "1.36")
    assert finding.rule == "schema/unknown-kind" and finding.severity.value == "warning"
    crd = tmp_path / "widget.yaml"
    crd.write_text(CRD)
    v = SchemaValidator([crd])
    assert v.validate(widget, "1.36") == []
    bad = one(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
        "spec: {size: [1], typo: 1}\n"
    )
    got = {(f.path, f.message.split(" (")[0]) for f in v.validate(bad, "1.36")}
    assert ("spec", "Additional properties are not allowed") in got
    assert any(path == "spec.size" for path, _ in got)


def test_crd_files_and_go_references(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("kind: ConfigMap\n")
    with pytest.raises(ChartmatrixError, match="no CustomResourceDefinition"):
        SchemaValidator([tmp_path / "x.yaml"])
    with pytest.raises(ChartmatrixError, match="must look like go://MODULE@VERSION/PATH"):
        resolve_crd("go://example.com/mod/file.yaml", tmp_path, "spec.yaml")
    with pytest.raises(ChartmatrixError, match=r"crds: file nope\.yaml not found"):
        resolve_crd("nope.yaml", tmp_path, "spec.yaml")


def test_crds_chosen_per_call_later_files_win(tmp_path: Path) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text(CRD)
    loose = tmp_path / "loose.yaml"
    loose.write_text(CRD.replace("required: [size]", "x-kubernetes-preserve-unknown-fields: true"))
    widget = one("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {typo: 1}\n")
    v = SchemaValidator()
    assert v.validate(widget, "1.36")[0].rule == "schema/unknown-kind"
    assert {f.path for f in v.validate(widget, "1.36", [strict])} == {"spec"}
    assert v.validate(widget, "1.36", [strict, loose]) == []


def test_identical_documents_are_validated_once_per_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import jsonschema

    v = SchemaValidator()
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b, x: 1}\n"
    first, again = one(text), one(text.replace("{a: b, x: 1}", "{x: 1, a: b}"))
    assert first.obj is not again.obj
    calls = 0
    original = jsonschema.Draft202012Validator.iter_errors

    def counting(self, instance, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return original(self, instance, *args, **kwargs)

    monkeypatch.setattr(jsonschema.Draft202012Validator, "iter_errors", counting)
    versions = ("1.33", "1.34", "1.35", "1.36")
    for version in versions:
        for m in (first, again):
            assert [f.path for f in v.validate(m, version)] == ["data.x"]
    closures = {v._schemas(x).validator("v1", "ConfigMap")[1] for x in versions}  # type: ignore[index]
    # once per distinct schema closure: key order ignored, versions with equal schemas shared
    assert calls == len(closures) < len(versions)
    key = next(iter(v._verdicts))
    assert len(key[1]) == 32  # the key holds a sha256, not the document


def test_verdict_cache_is_bounded_least_recently_used_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import chartmatrix.validate as validate

    monkeypatch.setattr(validate, "VERDICTS_KEPT", 3)
    v = SchemaValidator()
    maps = [one(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n") for i in range(3)]
    bad = one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {x: 1}\n")

    def kept() -> set[bytes]:
        return {key[1] for key in v._verdicts}

    assert [f.path for f in v.validate(bad, "1.36")] == ["data.x"]
    for m in maps[:2]:
        assert v.validate(m, "1.36") == []
    assert [f.path for f in v.validate(bad, "1.36")] == ["data.x"]  # the most recently used
    assert v.validate(maps[2], "1.36") == []
    # the least recently used (maps[0]) went out, not the oldest entry (bad)
    digest = validate.document_digest
    assert kept() == {digest(bad.obj), digest(maps[1].obj), digest(maps[2].obj)}
    # an evicted verdict is worked out again, the same
    assert v.validate(maps[0], "1.36") == []
    assert len(v._verdicts) == 3


def test_a_custom_resource_is_validated_as_the_api_server_prunes_its_nulls(
    tmp_path: Path,
) -> None:
    """A null in a field its CRD does not declare nullable is dropped before validation
    (then a required field is missing, not of the wrong type), and an absent field with a
    default gets it; a nullable null stays."""
    crd = tmp_path / "widget.yaml"
    crd.write_text(
        CRD.replace("required: [size]", "required: [size, mode]").replace(
            "note: {type: string, nullable: true}",
            "note: {type: string, nullable: true}\n"
            "                mode: {type: string}\n"
            "                level: {type: integer, default: 2}\n"
            "                tier: {type: string, default: gold, enum: [gold]}\n"
            "                credential: {type: object, properties: {name: {type: string}}}\n"
            "                pad: {x-kubernetes-int-or-string: true, nullable: true}",
        )
    )
    v = SchemaValidator([crd])
    widget = one(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
        "spec: {size: 3, mode: null, note: null, level: null, credential: null, pad: null}\n"
    )
    got = [(f.path, f.message) for f in v.validate(widget, "1.36")]
    assert got == [("spec", "'mode' is a required property")]
    fixed = one(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
        "spec: {size: 3, mode: a, credential: null, level: null}\n"
    )
    assert v.validate(fixed, "1.36") == []
    defaulted = CRD.replace("required: [size]", "required: [size, tier]").replace(
        "note: {type: string, nullable: true}",
        "note: {type: string, nullable: true}\n                tier: {type: string, default: gold}",
    )
    crd.write_text(defaulted)
    widget = one("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n")
    assert SchemaValidator([crd]).validate(widget, "1.36") == []  # tier is defaulted
    wrong = one(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
        "spec: {size: 3, mode: a, credential: 1}\n"
    )
    assert [f.path for f in v.validate(wrong, "1.36")] == ["spec.credential"]


def test_an_object_without_a_name_is_an_error() -> None:
    v = SchemaValidator()
    nameless = one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ''}\ndata: {a: b}\n")
    [finding] = v.validate(nameless, "1.36")
    assert finding.rule == "schema/no-name" and finding.severity.value == "error"
    assert "v1 ConfigMap has no metadata.name" in finding.message
    generated = one("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n")
    assert v.validate(generated, "1.36") == []


def test_a_custom_resource_in_a_group_named_like_a_built_in_one_is_not_built_in() -> None:
    """Only the built-in group/version of a kind gets its schema: a CRD of another group
    with the same kind name (apps.example.com/v1 Deployment, Knative's Service,
    monitoring.coreos.com Probe) is a kind without schema, never 'not served'."""
    v = SchemaValidator()
    for api, kind in [
        ("apps.example.com/v1", "Deployment"),
        ("serving.knative.dev/v1", "Service"),
        ("monitoring.coreos.com/v1", "Probe"),
    ]:
        doc = one(f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\nspec: {{}}\n")
        assert [f.rule for f in v.validate(doc, "1.33")] == ["schema/unknown-kind"], api
    beta = one("apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: x}\n")
    [finding] = v.validate(beta, "1.33")
    assert finding.rule == "schema/api-not-served" and "(it serves policy/v1)" in finding.message
    # a group without a dot is Kubernetes' own: a kind it stopped serving there is refused
    # by the API server, moved (extensions Ingress) or gone (PodSecurityPolicy)
    for api, kind, where in [
        ("extensions/v1beta1", "Ingress", "it serves Ingress as networking.k8s.io/v1"),
        ("extensions/v1beta1", "Deployment", "it serves Deployment as apps/v1"),
        ("policy/v1beta1", "PodSecurityPolicy", "it serves no PodSecurityPolicy any more"),
    ]:
        doc = one(f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\nspec: {{}}\n")
        [finding] = v.validate(doc, "1.33")
        assert finding.rule == "schema/api-not-served" and where in finding.message, api


def test_names_the_api_server_refuses_are_errors() -> None:
    # the classic: a full name over 63 characters, never truncated
    v = SchemaValidator()
    long = "a" * 64

    def problems(kind: str, api: str, name: str) -> list[str]:
        doc = one(f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: {name!r}}}\n")
        return [f.message for f in v.validate(doc, "1.33") if f.path == "metadata.name"]

    assert problems("Service", "v1", long) == [
        f"metadata.name '{long}' is 64 characters, over the 63 of a Service name: the API "
        "server refuses it"
    ]
    assert "is not an RFC 1035 label" in problems("Service", "v1", "my.svc")[0]
    assert "starting with a letter" in problems("Service", "v1", "1st-db")[0]
    assert problems("Namespace", "v1", "1st") == []
    # its Jobs are NAME-<11 characters>
    assert "over the 52 of a CronJob name" in problems("CronJob", "batch/v1", "c" * 53)[0]
    assert "is not a DNS-1123 subdomain" in problems("ConfigMap", "v1", "MyConfig")[0]
    assert problems("ConfigMap", "v1", long) == []  # a subdomain may be 253
    assert problems("ConfigMap", "v1", "a.b-1") == []
    assert problems("ClusterRole", "rbac.authorization.k8s.io/v1", "system:x") == []
    assert problems("ClusterRole", "rbac.authorization.k8s.io/v1", "a/b") != []

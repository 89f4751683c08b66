"""Custom resources are validated against the CRDs the chart itself renders."""

from __future__ import annotations

from pathlib import Path

import pytest
from chartmatrix.cli import main
from cm_charts import write_tree

CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
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
              properties:
                size: {type: integer}
                mode: {type: string, enum: ["=", "!="]}
"""


def _chart(tmp_path: Path, size: str) -> Path:
    return write_tree(
        tmp_path / "widgets",
        {
            "Chart.yaml": "apiVersion: v2\nname: widgets\nversion: 0.1.0\n",
            "values.yaml": f"size: {size}\n",
            "crds/widgets.yaml": CRD,
            "templates/widget.yaml": (
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
                "spec:\n  size: {{ .Values.size }}\n  mode: =\n"
            ),
        },
    )


@pytest.mark.parametrize(("size", "ok"), [("3", True), ("big", False)])
def test_custom_resources_meet_their_rendered_crd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], size: str, ok: bool
) -> None:
    code = main(["run", "--no-progress", str(_chart(tmp_path, size))])
    out = capsys.readouterr().out
    assert "schema/unknown-kind" not in out, out
    if ok:
        assert code == 0, out
    else:
        assert code == 1 and "schema/invalid" in out and "spec.size" in out, out


def test_schema_messages_spell_values_as_yaml(tmp_path: Path) -> None:
    """`null`, not Python's `None`, in what users read."""
    from chartmatrix.manifests import parse
    from chartmatrix.validate import SchemaValidator, bundled_versions

    [hpa] = parse(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
        "spec:\n  maxReplicas: null\n  scaleTargetRef: {kind: Deployment, name: d}\n"
    )
    messages = [f.message for f in SchemaValidator().validate(hpa, bundled_versions()[-1])]
    assert 'null is not of type "integer"' in messages, messages
    assert not any("None" in m for m in messages)

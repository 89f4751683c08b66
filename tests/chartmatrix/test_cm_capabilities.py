"""A chart that tests .Capabilities.APIVersions for a built-in kind renders as on a real
cluster of each Kubernetes version, which advertises the kinds it serves (helm template
alone knows group/versions only, so such a chart picks its fallback everywhere)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chartmatrix.report.model import to_dict
from chartmatrix.runner import Options, Runner
from chartmatrix.spec import adhoc_spec
from chartmatrix.validate import served
from cm_charts import write_tree

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: caps\nversion: 0.1.0\n",
    "values.yaml": "{}\n",
    "templates/pdb.yaml": (
        '{{- if .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" }}\n'
        "apiVersion: policy/v1\n{{- else }}\napiVersion: policy/v1beta1\n{{- end }}\n"
        "kind: PodDisruptionBudget\nmetadata: {name: caps}\n"
        "spec: {maxUnavailable: 1, selector: {matchLabels: {app: caps}}}\n"
    ),
    "templates/flow.yaml": (  # flowcontrol v1beta3 is served up to Kubernetes 1.31
        "{{- if .Capabilities.APIVersions.Has "
        '"flowcontrol.apiserver.k8s.io/v1beta3/FlowSchema" }}\n'
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: beta3-served}\n"
        "{{- end }}\n"
        '{{- if .Capabilities.APIVersions.Has "example.com/v1/Widget" }}\n'
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: widget-served}\n"
        "{{- end }}\n"
    ),
}


def test_served_kinds_come_from_the_bundled_schemas() -> None:
    assert served("policy/v1/PodDisruptionBudget", "1.33")
    assert served("v1/Service", "1.30")
    assert served("flowcontrol.apiserver.k8s.io/v1beta3/FlowSchema", "1.30")
    assert not served("flowcontrol.apiserver.k8s.io/v1beta3/FlowSchema", "1.33")
    assert not served("policy/v1beta1/PodDisruptionBudget", "1.30")
    assert not served("networking.example.com/v1/Ingress", "1.33")  # not a built-in group
    assert not served("gateway.networking.k8s.io/v1/GRPCRoute", "1.33")  # a CRD


def test_a_chart_testing_built_in_kinds_renders_as_each_version_serves_them(
    tmp_path: Path,
) -> None:
    chart = write_tree(tmp_path / "caps", CHART)
    spec = adhoc_spec(chart, values_files=[], axes={}, kube_versions=("1.30", "1.33"))
    runner = Runner(Options())
    (case,) = to_dict(runner.run([spec]))["charts"][0]["cases"]
    findings = [f for check in case["checks"].values() for f in check["findings"]]
    assert not [f for f in findings if f["rule"] == "schema/api-not-served"], findings
    # one render per version, as they serve different kinds
    assert case["checks"]["render"]["note"] == (
        "1 objects; 2 helm render(s) for Kubernetes 1.30, 1.33"
    )
    old = adhoc_spec(chart, values_files=[], axes={}, kube_versions=("1.30",))
    (case,) = to_dict(runner.run([old]))["charts"][0]["cases"]
    assert case["manifests"] == 2  # the ConfigMap of flowcontrol v1beta3 too


def test_init_renders_as_run_does(tmp_path: Path) -> None:
    """init's probe sees the built-in kinds a cluster serves, as run does: a switch
    gated by one of them changes the chart."""
    from chartmatrix.cli import main

    chart = write_tree(
        tmp_path / "gated",
        {
            "Chart.yaml": "apiVersion: v2\nname: gated\nversion: 0.1.0\n",
            "values.yaml": "pdb: {enabled: false}\n",
            "templates/pdb.yaml": (
                "{{- if and .Values.pdb.enabled "
                '(.Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget") }}\n'
                "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: g}\n"
                "spec: {maxUnavailable: 1, selector: {matchLabels: {app: g}}}\n{{- end }}\n"
            ),
        },
    )
    out_file = tmp_path / "matrix.yaml"
    assert main(["init", str(chart), "-o", str(out_file)]) == 0
    assert '\n  "pdb.enabled": [false, true]  # switch\n' in out_file.read_text()


def test_init_names_the_apis_a_chart_requires_of_the_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A chart whose defaults render only on a cluster serving an API (no value can fix
    that) gets a spec saying the cluster serves it."""
    from chartmatrix.cli import main

    chart = write_tree(
        tmp_path / "charts" / "needs",
        {
            "Chart.yaml": "apiVersion: v2\nname: needs\nversion: 0.1.0\n",
            "values.yaml": "extra: {enabled: false}\n",
            "templates/check.yaml": (
                '{{- if not (.Capabilities.APIVersions.Has "cert-manager.io/v1") }}\n'
                '{{- fail "this chart requires cert-manager" }}\n{{- end }}\n'
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: needs}\n"
                "data: {extra: {{ .Values.extra.enabled | quote }}}\n"
            ),
        },
    )
    out_file = tmp_path / "chart_tests" / "needs" / "matrix.yaml"
    assert main(["init", str(chart), "-o", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "the defaults render only on a cluster that serves cert-manager.io/v1" in out
    text = out_file.read_text()
    assert "\nkubernetes:  # the defaults render only on a cluster that serves these\n" in text
    assert "\n  apiVersions: [cert-manager.io/v1]\n" in text
    assert '\n  "extra.enabled": [false, true]  # switch\n' in text
    assert main(["run", "--no-progress", str(out_file)]) in (0, 1)
    assert "render/failed" not in capsys.readouterr().out

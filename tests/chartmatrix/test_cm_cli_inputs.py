"""What users type: axes, versions, helm flags, specs and ci files, `init`.

Every bad input is one line naming the flag or file (exit 2), never a traceback.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from chartmatrix.cli import axes_from_args, main
from chartmatrix.errors import ChartmatrixError
from chartmatrix.spec import ci_cases, load_spec
from chartmatrix.values import helm_set_values, parse_helm_set
from cm_charts import write_spec, write_tree


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["run", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_axis_values_are_whole_yaml_values() -> None:
    axes = axes_from_args(["tolerations=[],[{key: a, operator: Exists}]", "replicas=1,3"])
    assert axes["tolerations"] == [[], [{"key": "a", "operator": "Exists"}]]
    assert axes["replicas"] == [1, 3]


def test_axis_repeated_adds_values() -> None:
    axes = axes_from_args(["tolerations=[]", "tolerations=[{key: a, operator: Exists}]"])
    assert axes == {"tolerations": [[], [{"key": "a", "operator": "Exists"}]]}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--kube-version", "abc"], "--kube-version: 'abc' is not a Kubernetes version"),
        (["--kube-version", "1.2"], "--kube-version: Kubernetes 1.2 has no bundled schemas"),
        (["--axis", "a=[1"], "--axis: unbalanced"),
        (["--set", "novalue"], "--set: 'novalue' is not KEY=VAL"),
        (["--bogus"], "(see chartmatrix run --help)"),
    ],
)
def test_bad_flags_are_one_line(
    created_chart: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run(capsys, str(created_chart), *argv)
    assert code == 2, out + err
    assert err.count("\n") == 1 and expected in err, err
    assert "internal error" not in err and "chartmatrix chartmatrix" not in err


def test_kube_versions_comma_separated(
    created_chart: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    code, out, err = run(
        capsys, str(created_chart), "--kube-version", "1.31,1.33", "--json", str(report)
    )
    assert code == 0, out + err
    assert "1.31, 1.33" in json.dumps(json.loads(report.read_text()))


def test_set_and_skip_schema_validation_reach_helm(
    created_chart: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chart = tmp_path / "demo"
    import shutil

    shutil.copytree(created_chart, chart)
    (chart / "values.schema.json").write_text(
        '{"type": "object", "properties": {"replicaCount": {"type": "integer", "maximum": 3}}}'
    )
    code, out, _ = run(capsys, str(chart), "--set", "replicaCount=7")
    assert code == 1 and "maximum" in out
    code, out, _ = run(
        capsys, str(chart), "--set", "replicaCount=7", "--skip-schema-validation", "--list"
    )
    assert code == 0
    code, out, err = run(capsys, str(chart), "--set", "replicaCount=7", "--skip-schema-validation")
    assert code == 0, out + err


def test_case_ids_are_printed_verbatim(
    created_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rich must not read `:key:` as an emoji nor `[b]` as markup."""
    code, out, err = run(capsys, str(created_chart), "--axis", "podAnnotations={a: ':key:'}")
    assert code == 0, out + err
    assert "🔑" not in out
    assert "podAnnotations:a_:key:" in out  # the case id, as it is


def _chart_with_ci(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path / "chart",
        {
            "Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "values.yaml": "name: x\nsize: 1\nlabels: {}\n",
            "ci/big-values.yaml": "size: 9\n",
            "templates/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n"
                "data: {size: {{ .Values.size | quote }}}\n"
            ),
        },
    )


def test_spec_base_values_reach_ci_cases(tmp_path: Path) -> None:
    chart = _chart_with_ci(tmp_path)
    spec_file = tmp_path / "spec" / "matrix.yaml"
    write_tree(spec_file.parent, {"matrix.yaml": f"chart: {chart}\nvalues: {{name: base}}\n"})
    spec = load_spec(spec_file)
    ci = next(c for c in spec.cases if c.id == "ci/big")
    assert ci.values == {"name": "base", "size": 9}


def test_zero_config_runs_defaults_and_ci_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = _chart_with_ci(tmp_path)
    assert main(["run", "--list", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "chart\tdefault" in out and "chart\tci/big" in out


def test_axis_on_a_path_the_chart_does_not_have_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = _chart_with_ci(tmp_path)
    (chart / "templates" / "extra.yaml").write_text(
        "{{- if .Values.extra.enabled }}\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: extra}\n{{- end }}\n"
    )
    code, out, _ = run(
        capsys,
        str(chart),
        "--axis",
        "sise=1,2",
        "--axis",
        "labels.a=x",
        "--axis",
        "extra.enabled=true",
        "--axis",
        "extra.enabled.more=1",
    )
    assert code == 0
    assert "spec/unknown-value" in out and "sise:" in out
    assert "labels.a:" not in out  # an empty map takes any key
    # left out of values.yaml, read by a template: known (and anything below it)
    assert "extra.enabled:" not in out and "extra.enabled.more:" not in out


def test_bad_mask_path_is_a_spec_error(tmp_path: Path) -> None:
    chart = _chart_with_ci(tmp_path)
    spec_file = (
        write_tree(tmp_path / "spec", {"matrix.yaml": f'chart: {chart}\nmask: [{{path: "[[["}}]\n'})
        / "matrix.yaml"
    )
    with pytest.raises(ChartmatrixError, match=r"mask\[0\]\.path: invalid path"):
        load_spec(spec_file)


def test_init_proposes_axes_and_counts_cases(
    tmp_path: Path, created_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "t" / "matrix.yaml"
    assert main(["init", str(created_chart), "-o", str(out_file)]) == 0
    printed = capsys.readouterr().out
    text = out_file.read_text()
    # helm create's chart: ingress/autoscaling/serviceAccount switches and a replica count
    assert '"ingress.enabled": [false, true]' in text
    assert '"replicaCount": [1, 3]' in text
    spec = load_spec(out_file)
    assert f"{len(spec.cases)} cases" in printed
    assert main(["init", str(created_chart), "-o", str(out_file)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    code, out, err = run(capsys, str(out_file))
    assert code in (0, 1) and "internal error" not in err, out + err


def test_a_ci_values_file_of_several_documents_is_read_as_helm_v4_does(
    kv_chart: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Helm accepts a values file of several documents and reads one (v4 the last that
    is not empty, v3 the first): the case renders what helm v4 renders, with a warning
    naming the file; the chart's other cases are not held up."""
    monkeypatch.chdir(tmp_path)
    ci = kv_chart / "ci"
    ci.mkdir()
    scenarios = ci / "scenarios-values.yaml"
    scenarios.write_text("replicas: 2\n---\nreplicas: 5\n---\n# none\n")
    (ci / "plain-values.yaml").write_text("replicas: 1\n")
    assert main(["run", "--no-progress", str(kv_chart), "--json", "r.json"]) in (0, 1)
    report = json.loads((tmp_path / "r.json").read_text())
    cases = {c["id"]: c for c in report["charts"][0]["cases"]}
    assert set(cases) == {"default", "ci/scenarios", "ci/plain"}
    found = cases["ci/scenarios"]["checks"]["render"]["findings"]
    assert [f["rule"] for f in found] == ["values/multi-document"]
    assert f"{scenarios} holds 2 YAML documents" in found[0]["message"]
    assert cases["ci/plain"]["checks"]["render"]["findings"] == []
    (case,) = (
        c for c in ci_cases(kv_chart, {}, "t", "default", ("1.33",), ()) if c.id == "ci/scenarios"
    )
    assert case.values == {"replicas": 5}
    helm = subprocess.run(
        ["helm", "template", "t", str(kv_chart), "-f", str(scenarios)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "replicas: 5" in helm.stdout  # helm v4 too


def _init_text(chart: Path, out_file: Path) -> str:
    """The spec ``chartmatrix init`` writes for ``chart``."""
    assert main(["init", str(chart), "-o", str(out_file)]) == 0
    return out_file.read_text()


PROBED_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: probed\nversion: 0.1.0\n",
    "values.yaml": ("a: {enabled: false}\nb: {enabled: false}\nc: {enabled: false, name: ''}\n"),
    "templates/secret.yaml": (  # differs in every render: no axis change is seen in it
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pw}\n"
        "stringData: {password: {{ randAlphaNum 16 | quote }}}\n"
    ),
    "templates/a.yaml": (
        "{{- if .Values.a.enabled }}\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: a}\ndata: {b: {{ .Values.b.enabled | quote }}}\n{{- end }}\n"
    ),
    "templates/c.yaml": (
        "{{- if .Values.c.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        '  name: {{ required "c.name is required with c.enabled" .Values.c.name }}\n'
        "{{- end }}\n"
    ),
}


def test_init_leaves_out_axes_that_change_nothing_or_cannot_render_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = write_tree(tmp_path / "charts" / "probed", PROBED_CHART)
    out_file = tmp_path / "chart_tests" / "probed" / "matrix.yaml"
    assert main(["init", str(chart), "-o", str(out_file)]) == 0
    text = out_file.read_text()
    axes = [line for line in text.splitlines() if line.startswith("  ")]
    assert axes == ['  "a.enabled": [false, true]  # switch']  # b's template needs a
    assert '#   "b.enabled": [false, true]  # switch; changes nothing with the defaults' in text
    assert (
        '#   "c.enabled": [false, true]  # switch; fails to render alone: '
        "execution error at (probed/templates/c.yaml:5:11): c.name is required with c.enabled"
    ) in text
    assert "2 cases" in capsys.readouterr().out
    (chart / "values.yaml").write_text(
        "a: {enabled: false}\nb: {enabled: false}\nc: {enabled: true}\n"
    )
    assert main(["init", str(chart), "-o", str(out_file), "--force"]) == 0
    out = capsys.readouterr().out
    assert "the chart's defaults do not render (execution error at" in out
    assert "c.name is required with c.enabled" in out


def test_init_sees_what_a_switch_does_to_objects_named_at_random(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # elasticsearch's tests.enabled: its test Pod's name changes in every render
    files = {
        "Chart.yaml": "apiVersion: v2\nname: rnd\nversion: 0.1.0\n",
        "values.yaml": "tests: {enabled: true}\n",
        "templates/test.yaml": (
            "{{- if .Values.tests.enabled }}\napiVersion: v1\nkind: Pod\nmetadata:\n"
            "  name: t-{{ randAlpha 5 | lower }}\nspec: {containers: [{name: t, image: 'b:1'}]}\n"
            "{{- end }}\n"
        ),
        "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    }
    chart = write_tree(tmp_path / "charts" / "rnd", files)
    out_file = tmp_path / "chart_tests" / "rnd" / "matrix.yaml"
    assert main(["init", str(chart), "-o", str(out_file)]) == 0
    assert '\n  "tests.enabled": [true, false]  # switch\n' in out_file.read_text()


def test_init_takes_a_dependency_condition_the_schema_calls_a_boolean_as_a_switch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = {
        "Chart.yaml": "apiVersion: v2\nname: dash\nversion: 0.1.0\n",
        "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n",
    }
    files = {
        "Chart.yaml": (
            "apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n"
            "  - {name: dash, version: 0.1.0, condition: dashboards.create}\n"
        ),
        "values.yaml": "dashboards: {create: false}\na: false\nb: false\nc: false\n",
        "values.schema.json": json.dumps(
            {
                "properties": {k: {"type": "boolean"} for k in "abc"}
                | {"dashboards": {"properties": {"create": {"type": "boolean"}}}}
            }
        ),
        "templates/cm.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
            "data: {a: '{{ .Values.a }}', b: '{{ .Values.b }}', c: '{{ .Values.c }}'}\n"
        ),
    }
    chart = write_tree(tmp_path / "charts" / "top", files)
    write_tree(chart / "charts" / "dash", sub)
    out_file = tmp_path / "chart_tests" / "top" / "matrix.yaml"
    assert main(["init", str(chart), "-o", str(out_file), "--max-cases", "8"]) == 0
    axes = [line for line in out_file.read_text().splitlines() if line.startswith("  ")]
    assert axes[0] == '  "dashboards.create": [false, true]  # switch'


def test_init_keeps_the_cause_of_a_long_helm_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = "x" * 400
    files = {
        "Chart.yaml": "apiVersion: v2\nname: long\nversion: 0.1.0\n",
        "templates/cm.yaml": f'{{{{ fail "{long} THE CAUSE" }}}}\n',
    }
    chart = write_tree(tmp_path / "charts" / "long", files)
    out_file = tmp_path / "chart_tests" / "long" / "matrix.yaml"
    assert main(["init", str(chart), "-o", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert " ... " in out and "THE CAUSE)" in out


def test_run_finds_the_spec_init_wrote_for_a_chart_in_another_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """init names the spec after Chart.yaml's name; run finds it under the project root
    for the chart in a directory of another name, or packaged, and only for that chart."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    chart = write_tree(tmp_path / "src" / "probed-chart", PROBED_CHART)
    assert main(["init", str(chart)]) == 0
    assert (tmp_path / "chart_tests" / "probed" / "matrix.yaml").is_file()
    capsys.readouterr()
    assert main(["run", "--list", str(chart)]) == 0
    assert capsys.readouterr().out.split() == [
        "probed",
        "enabled:false",
        "probed",
        "enabled:true",
    ]
    other = write_tree(tmp_path / "elsewhere" / "probed", PROBED_CHART)  # same name, not it
    assert main(["run", "--list", str(other)]) == 0
    out, err = capsys.readouterr()
    assert out.split() == ["probed", "default"]
    assert "chart_tests/probed/matrix.yaml is the spec of another chart" in err
    # a spec of any name whose chart: is a package is that package's
    package = subprocess.run(
        ["helm", "package", str(chart), "-d", str(tmp_path / "pkg")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    write_spec(tmp_path, "probed-package", {"chart": package, "axes": {"a.enabled": [True]}})
    assert main(["run", "--list", package]) == 0
    assert capsys.readouterr().out.split() == ["probed-package", "enabled:true"]


def test_init_keeps_replica_counts_within_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = write_tree(
        tmp_path / "charts" / "probed",
        {
            **PROBED_CHART,
            "values.yaml": "replicaCount: 1\nworkers: {replicas: 5}\n",
            "templates/workers.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: workers}\n"
                "data: {replicas: {{ .Values.workers.replicas | quote }}}\n"
            ),
            "values.schema.json": (
                '{"type": "object", "properties": {"replicaCount": '
                '{"type": "integer", "maximum": 1}}}'
            ),
        },
    )
    text = _init_text(chart, tmp_path / "matrix.yaml")
    assert "replicaCount" not in text  # the schema allows 1 only: nothing to vary
    # at most 2: two replicas, where the topology rules start to apply
    (chart / "values.schema.json").write_text(
        '{"type": "object", "properties": {"replicaCount": '
        '{"type": "integer", "minimum": 1, "maximum": 2}}}'
    )
    text = _init_text(chart, tmp_path / "two.yaml")
    assert '\n  "replicaCount": [1, 2]  # replicas\n' in text
    # at least 3 (a quorum): the default and 5
    (chart / "values.yaml").write_text("replicaCount: 3\nworkers: {replicas: 5}\n")
    (chart / "values.schema.json").write_text(
        '{"type": "object", "properties": {"replicaCount": {"type": "integer", "minimum": 3}}}'
    )
    text = _init_text(chart, tmp_path / "quorum.yaml")
    assert '\n  "replicaCount": [3, 5]  # replicas\n' in text
    # the default first, then what init renders to see that it changes something
    assert '\n  "workers.replicas": [5, 1]  # replicas\n' in text


def test_axis_and_values_are_never_dropped_silently(
    kv_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(kv_chart.parent.parent, "kv", {})
    code, _, err = run(capsys, str(spec), "--axis", "replicas=1,3")
    assert code == 2 and "--axis/--values apply to a chart directory, not to a spec" in err
    code, _, err = run(capsys, str(spec.parent), "-f", str(spec))
    assert code == 2 and str(spec) in err
    code, _, err = run(capsys, str(kv_chart), "--axis", "replicas=1,3", "--update-golden")
    assert code == 2 and "--update-golden: does not go with --axis/--values" in err
    # the chart's own spec is not used by an ad-hoc run, and the run says so
    code, out, err = run(capsys, str(kv_chart), "--axis", "replicas=1,3")
    assert code == 0, out
    assert f"its spec {spec} is not used (nor its set:, files:, masks and suppressions" in err


def test_init_proposes_a_subcharts_own_switches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A vendored subchart's switches are axes under its key (its alias when it has
    one); a value the parent sets is the parent's."""
    chart = write_tree(
        tmp_path / "charts" / "parent",
        {
            "Chart.yaml": (
                "apiVersion: v2\nname: parent\nversion: 0.1.0\ndependencies:\n"
                "  - {name: sub, version: 0.1.0, alias: side}\n"
            ),
            "values.yaml": "side: {metrics: {enabled: true}}\n",
            "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\n",
            "charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
            "charts/sub/values.yaml": (
                "metrics: {enabled: false}\nextra: {enabled: false}\nglobal: {x: {enabled: true}}\n"
            ),
            "charts/sub/templates/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata:\n"
                "  metrics: {{ .Values.metrics.enabled | quote }}\n"
                "  extra: {{ .Values.extra.enabled | quote }}\n"
            ),
        },
    )
    text = _init_text(chart, tmp_path / "matrix.yaml")
    assert '\n  "side.extra.enabled": [false, true]  # switch\n' in text
    assert '\n  "side.metrics.enabled": [true, false]  # switch\n' in text  # the parent's
    assert "global" not in text


def test_init_skips_a_values_schema_that_cannot_be_loaded_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No value can fix a schema whose $ref cannot be loaded (a URL, offline; here a
    file that is not there, so that nothing leaves the machine): the spec init writes
    skips schema validation and says why, and run renders with it."""
    monkeypatch.delenv("CI", raising=False)
    chart = write_tree(
        tmp_path / "charts" / "probed",
        {
            **PROBED_CHART,
            "values.schema.json": (
                '{"type": "object", "properties": {"a": '
                '{"$ref": "file:///nonexistent/definitions.json"}}}'
            ),
        },
    )
    out_file = tmp_path / "chart_tests" / "probed" / "matrix.yaml"
    assert main(["init", str(chart), "-o", str(out_file)]) == 0
    assert "refers to a schema that cannot be loaded offline" in capsys.readouterr().out
    text = out_file.read_text()
    assert "\nskipSchemaValidation: true  # its values.schema.json refers to" in text
    assert '\n  "a.enabled": [false, true]  # switch\n' in text  # probed without the schema
    main(["run", "--no-progress", str(out_file)])  # the random Secret wants a mask
    out = capsys.readouterr().out
    assert "render/failed" not in out and "golden/nondeterministic" in out, out


def test_init_sees_a_change_next_to_a_generated_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config file that holds a generated key changes with every render; a switch that
    changes another line of it still changes the chart."""
    chart = write_tree(
        tmp_path / "charts" / "keyed",
        {
            "Chart.yaml": "apiVersion: v2\nname: keyed\nversion: 0.1.0\n",
            "values.yaml": "chat: {enabled: false}\nunused: {enabled: false}\n",
            "templates/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keyed}\ndata:\n"
                "  config.yaml: |\n    signing_key: {{ randAlphaNum 16 }}\n"
                "    chat: {{ .Values.chat.enabled }}\n"
            ),
        },
    )
    text = _init_text(chart, tmp_path / "matrix.yaml")
    assert '\n  "chat.enabled": [false, true]  # switch\n' in text
    assert '#   "unused.enabled": [false, true]  # switch; changes nothing' in text


@pytest.mark.parametrize(("helm", "fails"), [("helm", True), ("helm3", False)])
def test_a_ci_values_file_of_several_documents_renders_as_the_helm_in_use_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helm: str, fails: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    chart = write_tree(
        tmp_path / "multi",
        {
            "Chart.yaml": "apiVersion: v2\nname: multi\nversion: 0.1.0\n",
            "values.yaml": "replicas: 1\n",
            "ci/two-values.yaml": "replicas: 2\n---\nreplicas: 5\n",  # v3: 2, v4: 5
            "templates/cm.yaml": (
                '{{- if eq (int .Values.replicas) 5 }}{{ fail "read the last" }}{{ end }}\n'
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: multi}\n"
            ),
        },
    )
    main(["run", "--no-progress", "--helm", helm, str(chart), "--json", "r.json"])
    cases = json.loads((tmp_path / "r.json").read_text())["charts"][0]["cases"]
    (case,) = (c for c in cases if c["id"] == "ci/two")
    rules = [f["rule"] for f in case["checks"]["render"]["findings"]]
    assert ("render/failed" in rules) is fails and "values/multi-document" in rules


def test_init_takes_the_values_every_case_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--set and --values: init renders with them, and the spec keeps them (set:, files:),
    so an axis that needs them is proposed and every case renders."""
    monkeypatch.delenv("CI", raising=False)
    chart = write_tree(tmp_path / "charts" / "probed", PROBED_CHART)
    extra = tmp_path / "extra-values.yaml"
    extra.write_text("b: {enabled: false}\n")
    out_file = tmp_path / "chart_tests" / "probed" / "matrix.yaml"
    argv = ["init", str(chart), "-o", str(out_file), "--set", "c.name=named", "-f", str(extra)]
    assert main(argv) == 0
    text = out_file.read_text()
    assert '\nfiles: ["../../extra-values.yaml"]\nset:\n  "c.name": named\n' in text
    assert '\n  "c.enabled": [false, true]  # switch\n' in text
    spec = load_spec(out_file)
    assert all(c.values["c"]["name"] == "named" for c in spec.cases)
    capsys.readouterr()
    assert main(["init", str(chart), "-o", str(out_file), "--force", "--set", "c.name"]) == 2
    assert "--set: 'c.name' must look like KEY=VALUE" in capsys.readouterr().err
    # read as helm reads --set: 1.10 is a string (YAML would make it 1.1), 3 a number
    argv = ["init", str(chart), "-o", str(out_file), "--force", "--set", "c.name=1.10,c.n=3"]
    assert main(argv) == 0
    assert '\nset:\n  "c.name": \'1.10\'\n  "c.n": 3\n' in out_file.read_text()
    assert all(c.values["c"]["name"] == "1.10" for c in load_spec(out_file).cases)
    # a list index is no dotted path: it goes in as values, and reaches the chart
    argv = ["init", str(chart), "-o", str(out_file), "--force", "--set", "c.args[1]=x,c.name=n"]
    assert main(argv) == 0
    text = out_file.read_text()
    assert '\nvalues: {"c": {"args": [null, "x"]}}  # from --set\nset:\n  "c.name": n\n' in text
    assert all(c.values["c"]["args"] == [None, "x"] for c in load_spec(out_file).cases)


def test_helm_set_values_with_list_indices() -> None:
    pairs = [("a[0]", 1), ("a[2].b", "x"), ("a[2].c", 2), ("d.e[1][0]", True), ("f", 3)]
    assert helm_set_values(pairs) == {
        "a": [1, None, {"b": "x", "c": 2}],
        "d": {"e": [None, [True]]},
        "f": 3,
    }
    with pytest.raises(ValueError, match="both a list index and a key"):
        helm_set_values([("a[0]", 1), ("a.b", 2)])


def test_helm_set_syntax() -> None:
    assert parse_helm_set("a.b=1.10,c=true,d=null,e=-2,f=010,g={x,2},h=a\\,b") == [
        ("a.b", "1.10"),
        ("c", True),
        ("d", None),
        ("e", -2),
        ("f", "010"),
        ("g", ["x", 2]),
        ("h", "a,b"),
    ]


def test_set_on_a_spec_neither_compares_nor_writes_golden_files(
    kv_chart: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Golden files record the spec's cases: a run with ``--set`` changes every render, so
    it leaves them alone (it once wrote the override into them)."""
    monkeypatch.delenv("CI", raising=False)
    spec_file = write_spec(kv_chart.parent.parent, "kv", {"axes": {"replicas": [1, 3]}})
    golden = spec_file.parent / "golden"
    code, out, err = run(capsys, str(spec_file), "--set", "replicas=2")
    assert not golden.exists(), "no golden file written"
    assert "golden files of kv are neither compared nor written" in err
    code, out, err = run(capsys, str(spec_file))
    assert code == 0, out + err
    written = {p.name: p.read_text() for p in golden.glob("*.yaml")}
    assert sorted(written) == ["replicas=1.yaml", "replicas=3.yaml"]
    code, out, err = run(capsys, str(spec_file), "--ci", "--set", "replicas=2")
    assert "golden/changed" not in out
    assert {p.name: p.read_text() for p in golden.glob("*.yaml")} == written
    code, _, err = run(capsys, str(spec_file), "--update-golden", "--set", "replicas=2")
    assert code == 2 and "--update-golden: does not go with --set" in err


def test_init_keeps_the_main_replica_count_among_many_switches(tmp_path: Path) -> None:
    """A stateful chart with many feature switches still gets its replica count as an
    axis (it was ranked after every switch, and left out once they filled the budget)."""
    switches = "".join(f"{name}: {{enabled: false}}\n" for name in "abcdefgh")
    chart = write_tree(
        tmp_path / "many",
        {
            "Chart.yaml": "apiVersion: v2\nname: many\nversion: 0.1.0\n",
            "values.yaml": "replicaCount: 1\n" + switches,
            "templates/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many}\n"
                "data: {v: {{ toJson .Values | quote }}}\n"
            ),
        },
    )
    text = _init_text(chart, tmp_path / "spec" / "matrix.yaml")
    axes = yaml.safe_load(text)["axes"]
    assert next(iter(axes)) == "replicaCount" and axes["replicaCount"] == [1, 3]
    assert "a.enabled" in axes
    # the one shallowest replica count is the main one, at any depth (cockroachdb's)
    (chart / "values.yaml").write_text("statefulset: {replicas: 3}\n" + switches)
    axes = yaml.safe_load(_init_text(chart, tmp_path / "nested.yaml"))["axes"]
    assert next(iter(axes)) == "statefulset.replicas" and axes["statefulset.replicas"] == [3, 1]
    # a count per role under `replicas:` (yugabyte): each role's count is an axis
    (chart / "values.yaml").write_text("replicas: {master: 3, tserver: 3}\n")
    axes = yaml.safe_load(_init_text(chart, tmp_path / "roles.yaml"))["axes"]
    assert axes == {"replicas.master": [3, 1], "replicas.tserver": [3, 1]}
    # several components at one depth: none is the main one, switches come first
    (chart / "values.yaml").write_text("x: {replicas: 1}\ny: {replicas: 1}\n" + switches)
    axes = yaml.safe_load(_init_text(chart, tmp_path / "parts.yaml"))["axes"]
    assert next(iter(axes)) == "a.enabled" and "x.replicas" not in axes


def test_init_takes_enable_for_a_switch_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`webhook: {enable: false}` (spark-operator) is a switch like `enabled`, ranked as one;
    init says what it renders before it starts (a chart making keys takes minutes)."""
    chart = write_tree(
        tmp_path / "enable",
        {
            "Chart.yaml": "apiVersion: v2\nname: enable\nversion: 0.1.0\n",
            "values.yaml": "webhook: {enable: false}\nmetrics: {port: 8080}\n",
            "templates/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: enable}\n"
                "data: {v: {{ toJson .Values | quote }}}\n"
            ),
        },
    )
    axes = yaml.safe_load(_init_text(chart, tmp_path / "spec" / "matrix.yaml"))["axes"]
    assert axes == {"webhook.enable": [False, True]}
    assert "chartmatrix init: rendering enable 4 times" in capsys.readouterr().err


def test_init_takes_a_dependency_condition_for_a_switch(tmp_path: Path) -> None:
    """`condition: db.enabled` switches a subchart even when values.yaml does not say it
    (cockroachdb-parent); of several paths the first that is set decides."""
    sub_cm = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Chart.Name }}}\n"
        "data: {v: {{ toJson .Values | quote }}}\n"
    )
    for name in ("db", "cache"):
        write_tree(
            tmp_path / name,
            {
                "Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n",
                "templates/cm.yaml": sub_cm,
            },
        )
    deps = (
        "dependencies:\n"
        "  - {name: db, version: 0.1.0, repository: 'file://../db', condition: db.enabled}\n"
        "  - {name: cache, version: 0.1.0, repository: 'file://../cache',"
        " condition: 'cache.on,tags.cache'}\n"
    )
    chart = write_tree(
        tmp_path / "app",
        {
            "Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n" + deps,
            "values.yaml": "tags: {cache: false}\n",
            "templates/cm.yaml": sub_cm,
        },
    )
    axes = yaml.safe_load(_init_text(chart, tmp_path / "spec" / "matrix.yaml"))["axes"]
    assert axes == {"db.enabled": [True, False], "tags.cache": [False, True]}


def test_init_reasons_leave_out_helms_log_lines() -> None:
    """A reason comment quotes helm's error, not the warnings helm logged beside it."""
    from chartmatrix.initprobe import _one_line

    logged = (
        'level=INFO msg="warning: destination for db.tls is a table. Ignoring (false)"\n'
        "coalesce.go:286: warning: cannot overwrite table with non table for x\n"
        "Error: execution error at (app/templates/x.yaml:3:4): x.name is required\n"
    )
    assert _one_line(logged) == (
        "Error: execution error at (app/templates/x.yaml:3:4): x.name is required"
    )
    assert _one_line("level=WARN a log line alone") == "level=WARN a log line alone"

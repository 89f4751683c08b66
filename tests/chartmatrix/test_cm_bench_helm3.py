"""``chartmatrix bench`` output and Helm v3 selection."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from chartmatrix.cli import main
from chartmatrix.errors import ChartmatrixError
from chartmatrix.render import find_helm

REPO = Path(__file__).resolve().parents[2]


def _installed(binary: str) -> bool:
    """Where chartmatrix bench looks for a baseline tool: PATH, then the checkout's .tools/bin."""
    return shutil.which(binary) is not None or (REPO / ".tools" / "bin" / binary).is_file()


def test_bench_reports_each_tool_and_ratios(
    created_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # numbers only: the bench runs on a tiny chart and prints its lines; no timing asserted
    code = main(
        [
            "bench",
            str(created_chart),
            "--axis",
            "replicaCount=1,2,3",
            "--kube-version",
            "1.30",
            "--kube-version",
            "1.36",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3 cases" in out
    assert re.search(r"^chartmatrix \(warm, whole pipeline\)\s+\d+\.\d", out, re.MULTILINE), out
    # the plain helm template per case is always measured (helm is what renders)
    plain = re.search(r"^helm template alone\s+(.*)$", out, re.MULTILINE)
    assert plain, out
    pattern = r"\d+\.\d\s+ratio \d+\.\d\d over 3 cases \(\d+ at a time, no checks\)$"
    assert re.match(pattern, plain.group(1)), out  # every case rendered: no "failed" note
    baselines = {"helm template \\+ kubeconform": "kubeconform"}
    baselines["helm-unittest \\(snapshot\\)"] = "helm-unittest"
    for label, binary in baselines.items():
        line = re.search(rf"^{label}\s+(.*)$", out, re.MULTILINE)
        assert line, out
        if _installed(binary):  # tools/bootstrap builds both, so `make test` measures them
            assert re.match(r"\d+\.\d\s+ratio \d+\.\d\d over 3 cases", line.group(1)), out
        else:
            assert f"not measured: {binary} not installed" in line.group(1), out
    assert re.search(r"^start-up \(fixed, once per process\)\s+\d+ ms imports", out, re.M), out
    assert "speed-up" not in out  # the naive baseline is gone


def test_kubeconform_schemas_are_self_contained() -> None:
    from chartmatrix.bench import _bundle

    defs = {
        "A": {"properties": {"b": {"$ref": "/api/_definitions.json#/$defs/B"}}},
        "B": {"properties": {"a": {"$ref": "/api/_definitions.json#/$defs/A"}}},
        "C": {"type": "string"},
    }
    schema = {"properties": {"x": {"$ref": "/api/_definitions.json#/$defs/A"}}}
    out = _bundle(schema, defs)
    assert set(out["$defs"]) == {"A", "B"}  # only what it uses, recursion included
    refs = re.findall(r'"\$ref": "([^"]*)"', json.dumps(out))
    assert refs and all(r.startswith("#/$defs/") for r in refs)


def test_scale_spec_generates_distinct_cases(created_chart: Path) -> None:
    from chartmatrix.bench import scale_spec
    from chartmatrix.spec import adhoc_spec

    spec = adhoc_spec(created_chart, values_files=[], axes={})
    scaled = scale_spec(spec, 10)
    assert len(scaled.cases) == 10 and scaled.spec_file is None and scaled.golden_dir is None
    assert len({c.id for c in scaled.cases}) == 10
    assert {c.values["workload"]["replicas"] for c in scaled.cases} == {1, 3}


def helm3_or_skip() -> str:
    try:
        return find_helm("helm3")
    except ChartmatrixError:
        pytest.skip("helm3 not installed (tools/bootstrap builds it)")


def test_helm3_is_selectable(created_chart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    helm3 = helm3_or_skip()
    assert shutil.which(helm3) or Path(helm3).is_file()
    code = main(["run", "--no-progress", "--helm", "helm3", str(created_chart)])
    out = capsys.readouterr().out
    assert code == 0 and "OK 1 cases" in out
    code = main(["run", "--no-progress", "--helm", helm3, str(created_chart)])
    assert code == 0


def test_helm3_and_helm4_agree_on_a_project_chart(capsys: pytest.CaptureFixture[str]) -> None:
    helm3_or_skip()
    spec = Path(__file__).resolve().parents[2] / "chart_tests" / "grpc" / "matrix.yaml"
    assert spec.is_file(), "chart_tests/grpc/matrix.yaml is part of this repository"
    # the golden files were written with Helm 4: Helm 3 must reproduce them exactly
    code = main(["run", "--no-progress", "--ci", "--helm", "helm3", str(spec)])
    out = capsys.readouterr().out
    assert code == 0, out


def test_bench_gives_its_helm_flags_to_every_tool(
    demo_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a schema that rejects two of the three cases: only --skip-schema-validation renders
    # them, so each line shows whether its tool got the flag
    schema = {"properties": {"replicaCount": {"maximum": 1}}}
    (demo_chart / "values.schema.json").write_text(json.dumps(schema))
    argv = ["bench", str(demo_chart), "--axis", "replicaCount=1,2,3", "--kube-version", "1.33"]
    assert main([*argv, "--skip-schema-validation"]) == 0
    out = capsys.readouterr().out
    plain = re.search(r"^helm template alone\s+(.*)$", out, re.MULTILINE)
    assert plain and "failed to render" not in plain.group(1), out
    if _installed("helm-unittest"):
        assert re.search(r"^helm-unittest \(snapshot\).*\(3 passed, 3 total\)", out, re.M), out
    assert main(argv) == 0  # without the flag, the schema stops two cases in helm too
    out = capsys.readouterr().out
    assert re.search(r"^helm template alone.*; 2 failed to render\)$", out, re.MULTILINE), out


def test_helm_unittest_runs_only_the_generated_suite(tmp_path: Path) -> None:
    """A chart that ships tests/ (its own suites, a tests/values directory) is measured on
    the bench's suite alone (the bench once crashed on tests/values, and counted the
    chart's own tests as cases)."""
    if not _installed("helm-unittest"):
        pytest.skip("helm-unittest not installed (tools/bootstrap builds it)")
    from chartmatrix.bench import _cases, time_helm_unittest
    from chartmatrix.spec import adhoc_spec
    from cm_charts import STATEFUL_CHART, write_tree

    chart = write_tree(tmp_path / "kv", STATEFUL_CHART)
    (chart / "tests" / "values").mkdir(parents=True)
    (chart / "tests" / "values" / "x.yaml").write_text("replicas: 2\n")
    (chart / "tests" / "own_test.yaml").write_text(
        "suite: the chart's own\ntests:\n"
        + "".join(f"  - it: own {n}\n    asserts: [{{failedTemplate: {{}}}}]\n" for n in range(5))
    )
    spec = adhoc_spec(chart, values_files=[], axes={"replicas": [1, 3]})
    cases = _cases([spec], 100)
    got = time_helm_unittest([spec], cases, tmp_path / "bench", ())
    assert got.cases == 2 and got.detail.startswith("2 passed, 2 total"), got
    assert (chart / "tests" / "own_test.yaml").is_file()  # the chart itself is untouched

"""Matrix cases as pytest items, run in a nested pytest (pytester)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cm_charts import STATEFUL_CHART, write_tree

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CI", raising=False)
    root = pytester.path
    write_tree(root / "charts" / "kv", STATEFUL_CHART)
    spec = {
        "axes": {"replicas": [1, 3], "pdb": [True, False]},
        "exclude": [{"replicas": 1, "pdb": False}],
        "expectFailure": [
            {"name": "negative", "set": {"replicas": -1}, "message": "replicas must be >= 0"}
        ],
    }
    (root / "chart_tests" / "kv").mkdir(parents=True)
    (root / "chart_tests" / "kv" / "matrix.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (root / "chart_tests" / "test_semantic.py").write_text(
        "def test_sts(render_chart):\n"
        "    out = render_chart('kv', {'replicas': 2})\n"
        "    assert out.query('StatefulSet', 'test-kv', 'spec.replicas') == 2\n"
    )
    return root


def test_each_case_is_an_item_and_k_selects(pytester: pytest.Pytester, project: Path) -> None:
    result = pytester.runpytest("chart_tests", "--collect-only", "-q", "-p", "no:cacheprovider")
    lines = result.stdout.str()
    for case in (
        "replicas:1+pdb:true",
        "replicas:3+pdb:true",
        "replicas:3+pdb:false",
        "negative",
        "golden-files",
        "test_sts",
    ):
        assert case in lines
    result = pytester.runpytest("chart_tests", "-k", "replicas:3", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)  # pdb:false fails topology/pdb
    result.stdout.fnmatch_lines(["*topology/pdb*no PodDisruptionBudget selects the pods*"])
    assert "Traceback" not in result.stdout.str()


def test_golden_files_written_then_checked(pytester: pytest.Pytester, project: Path) -> None:
    result = pytester.runpytest("chart_tests", "-k", "not pdb:false", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    golden = project / "chart_tests" / "kv" / "golden"
    assert sorted(p.name for p in golden.iterdir()) == [
        "replicas=1,pdb=true.yaml",
        "replicas=3,pdb=true.yaml",
    ]
    (golden / "replicas=1,pdb=true.yaml").write_text("---\nchanged: 1\n")
    result = pytester.runpytest("chart_tests", "-k", "replicas:1", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*golden/changed*", "*+kind: StatefulSet*"])


def test_bad_spec_is_one_collection_error(pytester: pytest.Pytester, project: Path) -> None:
    (project / "chart_tests" / "kv" / "matrix.yaml").write_text("axes: {replicas: 3}\n")
    result = pytester.runpytest("chart_tests", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*matrix.yaml: axes.replicas: 3 is not of type 'array'*"])
    assert "Traceback" not in result.stdout.str()

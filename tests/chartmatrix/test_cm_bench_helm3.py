"""``chartmatrix bench`` output and Helm v3 selection."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from chartmatrix.cli import main
from chartmatrix.errors import ChartmatrixError
from chartmatrix.render import find_helm


def test_bench_reports_stages_baseline_and_ratio(
    created_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
    assert code == 0
    assert "3 cases" in out and "baseline over 3 cases" in out
    for stage in ("render", "validate", "rules", "golden", "total"):
        assert re.search(rf"^{stage}\s+\d+\.\d", out, re.MULTILINE), out
    ratio = re.search(r"speed-up: (\d+\.\d)x", out)
    assert ratio and float(ratio.group(1)) > 1.0, out


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
    if not spec.is_file():
        pytest.skip("chart_tests/grpc/matrix.yaml not in this checkout")
    # the golden files were written with Helm 4: Helm 3 must reproduce them exactly
    code = main(["run", "--no-progress", "--ci", "--helm", "helm3", str(spec)])
    out = capsys.readouterr().out
    assert code == 0, out

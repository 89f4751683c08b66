"""Per-repository rule severities: chartmatrix.yaml or pyproject.toml [tool.chartmatrix]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chartmatrix.cli import main
from chartmatrix.errors import ChartmatrixError
from chartmatrix.findings import Severity
from chartmatrix.projectconfig import find_config, load_project_config


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "charts" / "x").mkdir(parents=True)
    return tmp_path


def test_no_config_means_defaults(repo: Path) -> None:
    (repo.parent / "chartmatrix.yaml").write_text("severity: {topology/pdb: off}\n")
    try:
        config = load_project_config(repo / "charts" / "x")  # the walk stops at .git
    finally:
        (repo.parent / "chartmatrix.yaml").unlink()
    assert config.file is None and config.severities() == {}


def test_yaml_config_found_from_a_subdirectory(repo: Path) -> None:
    (repo / "chartmatrix.yaml").write_text(
        "severity:\n  topology/pdb: warning\n  hardening/*: off\n  hardening/image-tag: error\n"
    )
    config = load_project_config(repo / "charts" / "x")
    assert config.file == repo / "chartmatrix.yaml"
    got = config.severities()
    assert got["topology/pdb"] is Severity.WARNING
    assert got["hardening/pod-security"] is None  # plain YAML off (a boolean) is off
    assert got["hardening/image-tag"] is Severity.ERROR  # an exact id beats the glob
    assert "refs/exists" not in got
    assert config.effective("topology/spread", Severity.WARNING) == "warning"


def test_pyproject_table(repo: Path) -> None:
    (repo / "charts" / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # passed over
    (repo / "pyproject.toml").write_text(
        '[tool.chartmatrix.severity]\n"topology/*" = "warning"\n"topology/spread" = "off"\n'
    )
    config = load_project_config(repo / "charts" / "x")
    assert config.file == repo / "pyproject.toml"
    got = config.severities()
    assert got["topology/pdb"] is Severity.WARNING and got["topology/spread"] is None


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        (
            "chartmatrix.yaml",
            "severity: {topology/pbd: warning}\n",
            "severity.topology/pbd: unknown rule id",
        ),
        (
            "chartmatrix.yaml",
            "severity: {topology/pdb: warn}\n",
            "severity.topology/pdb: level must be error, warning or off (got 'warn')",
        ),
        ("chartmatrix.yaml", "severities: {}\n", "unknown key 'severities'"),
        ("chartmatrix.yaml", "severity: [a]\n", "severity must be a mapping"),
        (
            "pyproject.toml",
            '[tool.chartmatrix.severity]\n"nope/*" = "off"\n',
            "[tool.chartmatrix.severity] 'nope/*': unknown rule id",
        ),
        (
            "pyproject.toml",
            '[tool.chartmatrix]\nseverity = {"topology/pdb" = 1}\n',
            "[tool.chartmatrix.severity] 'topology/pdb': level must be error, warning or off",
        ),
        ("pyproject.toml", "[tool.chartmatrix\n", "invalid TOML"),
    ],
)
def test_bad_config_names_file_and_key(repo: Path, name: str, text: str, problem: str) -> None:
    (repo / name).write_text(text)
    with pytest.raises(ChartmatrixError) as err:
        load_project_config(repo)
    assert err.value.where == str(repo / name)
    assert problem in err.value.problem


def test_two_config_files_in_one_directory(repo: Path) -> None:
    (repo / "chartmatrix.yaml").write_text("severity: {}\n")
    (repo / "pyproject.toml").write_text("[tool.chartmatrix]\n")
    with pytest.raises(ChartmatrixError, match="keep one"):
        find_config(repo)


def test_rules_listing_shows_effective_severity(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "chartmatrix.yaml").write_text(
        "severity: {topology/pdb: warning, hardening/*: 'off'}\n"
    )
    monkeypatch.chdir(repo / "charts")
    assert main(["rules"]) == 0
    lines = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert lines["topology/pdb"] == "warning" and lines["hardening/image-tag"] == "off"
    assert lines["refs/exists"] == "error"
    (repo / "chartmatrix.yaml").write_text("severity: {topology/pdb: loud}\n")
    assert main(["rules"]) == 2
    assert "chartmatrix.yaml: severity.topology/pdb" in capsys.readouterr().err


def test_run_applies_project_severities(
    demo_chart: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / ".git").mkdir()
    report = tmp_path / "run.json"
    monkeypatch.chdir(tmp_path)

    def rules_found() -> set[str]:
        assert main(["run", "--no-progress", "--json", str(report), str(demo_chart)]) == 0
        capsys.readouterr()
        data = json.loads(report.read_text())
        text = json.dumps(data)
        return {rule for rule in ("hardening/pod-security", "hardening/image-tag") if rule in text}

    assert "hardening/pod-security" in rules_found()  # helm create: a warning by default
    (tmp_path / "chartmatrix.yaml").write_text("severity: {hardening/*: 'off'}\n")
    assert rules_found() == set()

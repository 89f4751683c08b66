"""One rule finds the project root (chartmatrix.project.find_root); ``--root DIR`` and
``$CHARTMATRIX_ROOT`` set it for every command, the local cluster's state directory too."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from chartmatrix import project
from chartmatrix.cli import main
from chartmatrix.cluster.layout import Layout
from chartmatrix.project import find_root, use_root

MARKERS = {
    "chartmatrix.yaml": lambda d: (d / "chartmatrix.yaml").write_text("severity: {}\n"),
    "pyproject [tool.chartmatrix]": lambda d: (d / "pyproject.toml").write_text(
        "[tool.chartmatrix]\n"
    ),
    "chart_tests/": lambda d: (d / "chart_tests").mkdir(),
    "ct.yaml": lambda d: (d / "ct.yaml").write_text("chart-dirs: [charts]\n"),
    ".git": lambda d: (d / ".git").mkdir(),
}


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (project.ROOT_ENV, project.OLD_ROOT_ENV, "CHARTMATRIX_CLUSTER_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DESTATE_CLUSTER_DIR", raising=False)


@pytest.mark.parametrize("marker", MARKERS)
def test_nearest_directory_with_a_marker_is_the_root(tmp_path: Path, marker: str) -> None:
    (tmp_path / ".git").mkdir()  # an outer repository: the nearer marker wins
    inner = tmp_path / "sub"
    deep = inner / "charts" / "x"
    deep.mkdir(parents=True)
    MARKERS[marker](inner)
    got = find_root(deep)
    assert got == inner


def test_a_pyproject_without_a_chartmatrix_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_root(tmp_path / "sub") == tmp_path


def test_root_option_and_environment_win_over_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(project.ROOT_ENV, str(other))
    assert find_root() == other
    with use_root(tmp_path):
        assert find_root() == tmp_path
    assert find_root(tmp_path / "other") == other  # an explicit start searches from there
    monkeypatch.delenv(project.ROOT_ENV)
    monkeypatch.setenv(project.OLD_ROOT_ENV, str(other))
    project._say_deprecated.cache_clear()
    assert find_root() == other
    assert "$DESTATE_ROOT is deprecated; set $CHARTMATRIX_ROOT" in capsys.readouterr().err


def test_run_without_chart_discovers_the_specs_of_root(
    kv_chart: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec_dir = tmp_path / "chart_tests" / "kv"
    spec_dir.mkdir(parents=True)
    (spec_dir / "matrix.yaml").write_text("golden: false\naxes: {replicas: [1, 3]}\n")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for argv in (
        ["--root", str(tmp_path), "run", "--list"],
        ["run", "--root", str(tmp_path), "--list"],
    ):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert out.splitlines() == ["kv\treplicas:1", "kv\treplicas:3"]
    assert main(["run", "--list"]) == 2  # no chart_tests/ where it runs
    assert "no chart_tests/*/matrix.yaml found" in capsys.readouterr().err


@pytest.mark.parametrize("what", ["missing", "file"])
def test_bad_root_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    path = tmp_path / "nope"
    if what == "file":
        path.write_text("")
    assert main(["--root", str(path), "rules"]) == 2
    problem = "does not exist" if what == "missing" else "is not a directory"
    assert capsys.readouterr().err == f"chartmatrix: --root: {path}: {problem}\n"


def test_init_writes_under_the_root(
    demo_chart: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(demo_chart)
    assert main(["--root", str(root), "init", str(demo_chart)]) == 0
    assert (root / "chart_tests" / "demo" / "matrix.yaml").is_file()


def test_cluster_layout_follows_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with use_root(tmp_path):
        layout = Layout.default()
    assert layout.root == tmp_path / ".tools" / "cluster"
    assert layout.bin_dir == tmp_path / ".tools" / "bin"
    monkeypatch.setenv("DESTATE_CLUSTER_DIR", str(tmp_path / "old"))
    assert Layout.default().root == tmp_path / "old"
    monkeypatch.setenv("CHARTMATRIX_CLUSTER_DIR", str(tmp_path / "new"))
    assert Layout.default().root == tmp_path / "new"


def test_a_broken_lazy_import_is_an_error_not_a_missing_feature(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "chartmatrix.cluster.cli", None)  # import fails
    monkeypatch.delenv("CHARTMATRIX_DEBUG", raising=False)
    assert main(["cluster", "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chartmatrix: internal error: ModuleNotFoundError:"), err
    assert "not available" not in err
    monkeypatch.setenv("CHARTMATRIX_DEBUG", "1")
    with pytest.raises(ImportError):
        main(["install", "--help"])


@pytest.mark.parametrize("broken", ["axes: [1\n", "chart: [a]\n"])
def test_naming_the_chart_of_a_broken_spec_reports_the_spec(
    kv_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], broken: str
) -> None:
    # skipping it would run the chart's defaults and pass, even in CI
    spec = tmp_path / "chart_tests" / "kv" / "matrix.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(broken)
    assert main(["--root", str(tmp_path), "run", "--list", str(kv_chart)]) == 2
    assert capsys.readouterr().err.startswith(f"chartmatrix: {spec}: ")

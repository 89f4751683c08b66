"""Dependencies the way Helm resolves them: vendored in charts/ (dir or tgz), or file://.

Each test builds a small chart shaped like what ``helm pull --untar`` or ``helm package``
ships, and runs the real CLI on it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from chartmatrix.charts import dependency_problems, stage
from chartmatrix.cli import main
from chartmatrix.errors import ChartmatrixError
from cm_charts import write_tree

LIBRARY = {
    "Chart.yaml": "apiVersion: v2\nname: common\nversion: 2.31.4\ntype: library\n",
    "templates/_names.tpl": '{{- define "common.name" -}}{{ .Chart.Name }}-common{{- end -}}\n',
}


def _app(dependency: str) -> dict[str, str]:
    return {
        "Chart.yaml": f"apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n{dependency}",
        "values.yaml": "{}\n",
        "templates/cm.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            '  name: {{ include "common.name" . }}\ndata: {a: b}\n'
        ),
    }


# the path a pulled chart still carries, pointing at its source repository's layout
PULLED = '  - name: common\n    version: 2.x.x\n    repository: "file://../common"\n'
FROM_REPO = "  - name: common\n    version: 2.x.x\n    repository: oci://registry.example/charts\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["run", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def packaged_library(tmp_path: Path, helm: str) -> Path:
    source = write_tree(tmp_path / "src" / "common", LIBRARY)
    out = tmp_path / "pkg"
    subprocess.run([helm, "package", str(source), "-d", str(out)], check=True, capture_output=True)
    return out / "common-2.31.4.tgz"


@pytest.mark.parametrize("dependency", [PULLED, FROM_REPO])
def test_vendored_directory_is_used_as_helm_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dependency: str
) -> None:
    chart = write_tree(tmp_path / "pulled" / "app", _app(dependency))
    write_tree(chart / "charts" / "common", LIBRARY)
    code, out, err = run(capsys, str(chart))
    assert "file not found" not in err and code == 0, out + err
    assert "default" in out


def test_vendored_tgz_is_used_as_helm_does(
    tmp_path: Path, packaged_library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = write_tree(tmp_path / "pulled" / "app", _app(PULLED))
    (chart / "charts").mkdir()
    (chart / "charts" / packaged_library.name).write_bytes(packaged_library.read_bytes())
    code, out, err = run(capsys, str(chart))
    assert code == 0, out + err


def test_packaged_chart_is_accepted(
    tmp_path: Path, helm: str, packaged_library: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = write_tree(tmp_path / "src" / "app", _app(FROM_REPO))
    (chart / "charts").mkdir()
    (chart / "charts" / packaged_library.name).write_bytes(packaged_library.read_bytes())
    subprocess.run([helm, "package", str(chart), "-d", str(tmp_path)], check=True)
    code, out, err = run(capsys, str(tmp_path / "app-1.0.0.tgz"))
    assert code == 0, out + err


def test_existing_file_source_wins_over_a_stale_vendored_copy(tmp_path: Path) -> None:
    """What `helm dependency build` does: a chart under development uses its source."""
    write_tree(tmp_path / "common", {**LIBRARY, "Chart.yaml": LIBRARY["Chart.yaml"]})
    chart = write_tree(tmp_path / "app", _app(PULLED))
    write_tree(chart / "charts" / "old-common", {**LIBRARY, "templates/_names.tpl": "stale"})
    staged = stage(chart, tmp_path / "staged")
    assert not (staged / "charts" / "old-common").exists()
    assert "-common" in (staged / "charts" / "common" / "templates" / "_names.tpl").read_text()


def test_version_constraint_is_checked_like_dependency_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pinned = "  - name: common\n    version: 2.30.0\n    repository: oci://r.example/c\n"
    chart = write_tree(tmp_path / "app", _app(pinned))
    write_tree(chart / "charts" / "common", LIBRARY)
    problems = dependency_problems(chart)
    assert len(problems) == 1 and "'2.30.0'" in problems[0] and "2.31.4" in problems[0]
    assert "but charts/common is 2.31.4" in problems[0]
    code, out, _ = run(capsys, str(chart))
    assert code == 1
    assert "chart/dependency-version" in out
    # a file:// dependency (never vendored) is named by its path, not by the staged copy
    pinned = pinned.replace("oci://r.example/c", "file://../common")
    chart = write_tree(tmp_path / "source" / "app", _app(pinned))
    write_tree(tmp_path / "source" / "common", LIBRARY)
    code, out, _ = run(capsys, str(chart))
    assert code == 1
    assert "asks version '2.30.0', but file://../common is 2.31.4" in out, out


def test_missing_dependency_names_the_way_out(tmp_path: Path) -> None:
    chart = write_tree(tmp_path / "app", _app(FROM_REPO))
    with pytest.raises(ChartmatrixError, match=r"missing from charts/.*helm dependency build"):
        stage(chart, tmp_path / "staged")
    two = FROM_REPO + "  - name: extra\n    version: 1.x.x\n    repository: oci://r.example/e\n"
    chart = write_tree(tmp_path / "app2", _app(two))
    with pytest.raises(
        ChartmatrixError,
        match=r"dependencies common \(oci://registry.example/charts\), extra \(oci://r.examp"
        r"le/e\) are missing",
    ):
        stage(chart, tmp_path / "staged2")


def test_self_dependency_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = write_tree(
        tmp_path / "app",
        _app('  - name: app\n    version: 1.0.0\n    repository: "file://."\n'),
    )
    code, out, err = run(capsys, str(chart))
    assert code == 2, out + err
    assert err.count("\n") == 1 and "cycle" in err and "internal error" not in err


def test_dangling_symlink_in_a_file_dependency_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_tree(tmp_path / "common", LIBRARY)
    (source / "templates" / "gone.tpl").symlink_to(tmp_path / "nowhere.tpl")
    chart = write_tree(tmp_path / "app", _app(PULLED))
    code, out, err = run(capsys, str(chart))
    assert code == 2, out + err
    assert "gone.tpl" in err and "dangling symlink" in err and "internal error" not in err


def test_dangling_file_dependency_link_without_a_vendored_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = write_tree(tmp_path / "app", _app(PULLED))
    (tmp_path / "common").symlink_to(tmp_path / "moved-away")
    code, out, err = run(capsys, str(chart))
    assert code == 2, out + err
    assert "dangling symlink" in err and "charts/ has no common" in err


def test_an_apiversion_v1_chart_lists_its_dependencies_in_requirements_yaml(
    tmp_path: Path,
) -> None:
    """Helm reads requirements.yaml for apiVersion v1 charts (and only for them)."""
    pinned = (
        "dependencies:\n  - name: common\n    version: 2.30.0\n    repository: oci://r.example/c\n"
    )
    files = _app("")
    files["Chart.yaml"] = "apiVersion: v1\nname: app\nversion: 1.0.0\n"
    chart = write_tree(tmp_path / "app", {**files, "requirements.yaml": pinned})
    write_tree(chart / "charts" / "common", LIBRARY)
    [problem] = dependency_problems(chart)
    assert "'2.30.0'" in problem and "2.31.4" in problem
    v2 = chart / "Chart.yaml"
    v2.write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    assert dependency_problems(chart) == []  # v2: requirements.yaml is not read


@pytest.mark.parametrize("command", [["run"], ["init", "--output", "spec.yaml"]])
def test_dangling_symlink_in_charts_is_one_clear_error(
    command: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A vendored dependency that is a broken link (its target moved): run and init both
    name it (init once crashed on it)."""
    chart = write_tree(tmp_path / "app", _app(PULLED))
    (chart / "charts").mkdir()
    (chart / "charts" / "common").symlink_to(tmp_path / "moved-away")
    monkeypatch.chdir(tmp_path)
    code = main([*command, str(chart)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "internal error" not in err
    assert "charts/common: dangling symlink" in err
    assert not (tmp_path / "spec.yaml").exists()

"""The publishing workflow: only a version tag publishes, its tag check and release
notes work on this repository's files, and actionlint accepts it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
PUBLISH = WORKFLOWS / "publish.yaml"
LIBRARY_VERSION = str(
    yaml.safe_load((REPO / "library-chart" / "Chart.yaml").read_text())["version"]
)


def workflow() -> dict:
    return yaml.safe_load(PUBLISH.read_text())


def step(name: str) -> str:
    (job,) = workflow()["jobs"].values()
    return next(s["run"] for s in job["steps"] if s.get("name", "").startswith(name))


def test_only_a_version_tag_publishes() -> None:
    triggers = workflow()[True]  # YAML 1.1 reads the key `on` as true
    assert triggers == {"push": {"tags": ["v*"]}}


def test_nothing_else_publishes() -> None:
    for path in WORKFLOWS.glob("*.y*ml"):
        if path == PUBLISH:
            continue
        text = path.read_text()
        for word in ("helm push", "registry login", "gh release", "packages: write"):
            assert word not in text, f"{path.name} publishes ({word!r}): only publish.yaml may"


def run_step(
    script: str, tag: str, cwd: Path, path: str | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "GITHUB_REF_NAME": tag}
    if path:
        env["PATH"] = f"{path}:{env['PATH']}"
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_tag_must_name_the_library_version_and_its_changelog_entry() -> None:
    check = step("The tag names the library's version")
    assert run_step(check, f"v{LIBRARY_VERSION}", REPO).returncode == 0
    wrong = run_step(check, "v99.0.0", REPO)
    assert wrong.returncode == 1
    assert "library-chart/Chart.yaml has version" in wrong.stdout


def test_release_notes_are_the_changelog_entry(tmp_path: Path) -> None:
    (tmp_path / "library-chart").mkdir()
    changelog = (REPO / "library-chart" / "CHANGELOG.md").read_text()
    (tmp_path / "library-chart" / "CHANGELOG.md").write_text(changelog)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / f"destate-{LIBRARY_VERSION}.tgz").write_bytes(b"")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "gh").write_text('#!/bin/sh\nprintf "%s\\n" "$@" >gh-args\n')
    (fake / "gh").chmod(0o755)
    done = run_step(step("GitHub release"), f"v{LIBRARY_VERSION}", tmp_path, str(fake))
    assert done.returncode == 0, done.stderr
    args = (tmp_path / "gh-args").read_text().splitlines()
    assert args[:3] == ["release", "create", f"v{LIBRARY_VERSION}"]
    assert f"dist/destate-{LIBRARY_VERSION}.tgz" in args
    notes = (tmp_path / "release-notes.md").read_text()
    entry = changelog.split(f"## [{LIBRARY_VERSION}]", 1)[1].split("\n## [", 1)[0]
    assert notes.strip() and notes.strip() == entry.split("\n", 1)[1].strip()


def test_actionlint_accepts_the_workflows() -> None:
    actionlint = REPO / ".tools" / "bin" / "actionlint"
    if not actionlint.exists():
        pytest.fail(f"{actionlint} not found: run tools/bootstrap first")
    done = subprocess.run(
        [str(actionlint), str(PUBLISH)], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr

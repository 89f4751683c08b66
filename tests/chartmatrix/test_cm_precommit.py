"""The pre-commit hooks (``.pre-commit-hooks.yaml``), run by pre-commit itself.

pre-commit installs a hook repository from a git commit, so the working tree is copied
into a git repository and committed there: the tests check the files as they are, not
HEAD. ``pre-commit try-repo`` (what a hook author runs) gets the whole working tree and
builds the hook's environment in a fresh temporary store every time (pip, from PyPI).
The other runs use a configured repository holding only what the hook installs (the
manifest, the root package and chartmatrix), with the store in the tool cache
(``$DESTATE_CACHE/pre-commit``): while those files are unchanged the commit is the same
and pre-commit reuses its environment.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cm_charts import BROKEN_SERVICE, write_tree

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DESTATE_CACHE") or Path.home() / ".cache" / "destate")
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
# fixed so that the same tree gives the same commit, and pre-commit its cached environment
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "chartmatrix test",
    "GIT_AUTHOR_EMAIL": "test@localhost",
    "GIT_COMMITTER_NAME": "chartmatrix test",
    "GIT_COMMITTER_EMAIL": "test@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_IDENTITY}
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _commit_all(repo: Path) -> str:
    if not (repo / ".git").exists():
        _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    if _git(repo, "status", "--porcelain"):
        _git(repo, "commit", "-q", "--no-verify", "-m", "snapshot")
    return _git(repo, "rev-parse", "HEAD")


# what `pip install . ./tools/chartmatrix` in the hook repository reads
HOOK_INSTALLS = [
    ".pre-commit-hooks.yaml",
    "pyproject.toml",
    "tools/chartmatrix",
    "tools/destate_tools",
]


def _copy_working_tree(into: Path, only: list[str] | None = None) -> None:
    """Every file git would commit from this checkout (tracked or new, not ignored),
    or those below the paths ``only`` names."""
    listed = subprocess.run(
        [
            "git",
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            *(only or []),
        ],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        source = REPO / os.fsdecode(raw)
        if not source.is_file():  # deleted or moved in the working tree
            continue
        target = into / os.fsdecode(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


@pytest.fixture(scope="module")
def whole_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The whole working tree as a committed hook repository."""
    source = tmp_path_factory.mktemp("hook-repo") / "destate"
    _copy_working_tree(source)
    return source, _commit_all(source)


@pytest.fixture(scope="module")
def hook_repo() -> Iterator[tuple[Path, str, Path]]:
    """What the hook installs, committed at a stable path (the store keys environments by
    path and commit), and the store for that commit (an environment is ~300 MB: stores
    of other commits are removed). Locked against a parallel test run."""
    home = CACHE / "pre-commit"
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "source.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        source = home / "source"
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir()
        _copy_working_tree(source, HOOK_INSTALLS)
        rev = _commit_all(source)
        stores = home / "stores"
        for old in stores.glob("*"):
            if old.name != rev:
                shutil.rmtree(old, ignore_errors=True)
        yield source, rev, stores / rev


def _pre_commit(args: list[str], cwd: Path, store: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(store),
        # helm for the hook, as a user has it on PATH
        "PATH": f"{REPO / '.tools' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PRE_COMMIT_COLOR": "never",
    }
    env.pop("CI", None)  # the chartmatrix hook runs as on a laptop; chartmatrix-ci sets --ci
    return subprocess.run(
        [*PRE_COMMIT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def user_repo(demo_chart: Path, tmp_path: Path) -> Path:
    """A user's repository: a ``helm create`` chart and its spec."""
    repo = tmp_path / "user"
    (repo / "charts").mkdir(parents=True)
    demo_chart.rename(repo / "charts" / "demo")
    spec = "chart: ../../charts/demo\ngolden: false\naxes:\n  replicaCount: [1, 2]\n"
    write_tree(repo, {"chart_tests/demo/matrix.yaml": spec, "README.md": "# charts\n"})
    _commit_all(repo)
    return repo


def _configure(repo: Path, source: Path, rev: str, hook: str) -> None:
    config = {"repos": [{"repo": str(source), "rev": rev, "hooks": [{"id": hook}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    _commit_all(repo)


def test_try_repo_runs_the_hook_on_a_good_chart(
    whole_tree: tuple[Path, str], user_repo: Path, tmp_path: Path
) -> None:
    source, rev = whole_tree
    done = _pre_commit(
        ["try-repo", str(source), "chartmatrix", "--ref", rev, "--all-files", "--verbose"],
        user_repo,
        tmp_path / "store",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout
    assert "demo: OK, 2 cases, 0 failed" in done.stdout  # chartmatrix itself ran


def test_the_hook_fails_a_broken_chart(hook_repo: tuple[Path, str, Path], user_repo: Path) -> None:
    source, rev, store = hook_repo
    write_tree(user_repo, {"charts/demo/templates/broken.yaml": BROKEN_SERVICE})
    _configure(user_repo, source, rev, "chartmatrix")
    done = _pre_commit(["run", "--all-files"], user_repo, store)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "chartmatrix" in done.stdout and "Failed" in done.stdout
    assert 'Service/test-broken spec.ports[0].port: "eighty" is not of type' in done.stdout


def test_the_hook_runs_only_when_a_chart_changes(
    hook_repo: tuple[Path, str, Path], user_repo: Path
) -> None:
    source, rev, store = hook_repo
    _configure(user_repo, source, rev, "chartmatrix")
    readme = _pre_commit(["run", "--files", "README.md"], user_repo, store)
    assert readme.returncode == 0 and "(no files to check)Skipped" in readme.stdout
    values = _pre_commit(["run", "--files", "charts/demo/values.yaml"], user_repo, store)
    assert values.returncode == 0, values.stdout + values.stderr
    assert "Passed" in values.stdout


def test_the_ci_hook_fails_a_missing_golden_file_and_writes_nothing(
    hook_repo: tuple[Path, str, Path], user_repo: Path
) -> None:
    source, rev, store = hook_repo
    spec = user_repo / "chart_tests" / "demo" / "matrix.yaml"
    spec.write_text(spec.read_text().replace("golden: false\n", ""))
    _configure(user_repo, source, rev, "chartmatrix-ci")
    done = _pre_commit(["run", "--all-files"], user_repo, store)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "golden/missing" in done.stdout
    assert not (user_repo / "chart_tests" / "demo" / "golden").exists()


def test_pre_commit_accepts_the_manifest() -> None:
    done = subprocess.run(
        [*PRE_COMMIT, "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    hooks = {
        hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    }
    assert set(hooks) == {"chartmatrix", "chartmatrix-ci"}
    for hook in hooks.values():  # installed from the clone, not from PyPI's "chartmatrix"
        assert hook["additional_dependencies"] == ["./tools/chartmatrix"]

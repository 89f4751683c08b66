"""chartmatrix as a package: the wheel built from tools/chartmatrix, installed into a clean
venv (no pytest, nothing from this repository), tests a chart outside the repository;
with the ``pytest`` extra the plugin's items run.

Everything is offline: uv (installed by tools/bootstrap) builds the wheel and installs
it and its dependencies from uv's own cache, which tools/bootstrap filled when it made
.venv. The built wheel and its venvs are cached per source digest under the tool cache,
so a rerun with unchanged sources only runs the checks.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tools" / "chartmatrix"
SKIP_PARTS = {"__pycache__", "build", "dist"}
VERSION = tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]["version"]


def _tool_cache() -> Path:
    # the same cache tools/lib-build.sh uses
    base = os.environ.get("DESTATE_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) if base else Path(xdg) / "destate"


def _uv() -> str:
    pinned = re.search(r"^UV_VERSION=(\S+)$", (ROOT / "tools" / "versions.env").read_text(), re.M)
    assert pinned, "tools/versions.env pins no UV_VERSION"
    uv = _tool_cache() / "tools" / f"uv-{pinned.group(1)}" / "bin" / "uv"
    if not os.access(uv, os.X_OK):
        pytest.fail(f"uv not found at {uv}: run tools/bootstrap")
    return str(uv)


def _source_files() -> list[Path]:
    return sorted(
        p
        for p in SOURCE.rglob("*")
        if p.is_file()
        and not SKIP_PARTS & set(p.relative_to(SOURCE).parts)
        and not any(part.endswith(".egg-info") for part in p.parts)
        and p.suffix != ".pyc"
    )


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(str(path.relative_to(SOURCE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload,no-any-return]


def _publish(build: Path, target: Path) -> None:
    """Move a finished ``build`` to ``target`` unless a concurrent run got there first."""
    try:
        build.rename(target)
    except OSError:
        if not target.exists():
            raise
        shutil.rmtree(build, ignore_errors=True)


def _prune(parent: Path, keep: Path, newest: int = 3) -> None:
    """Drop the builds of older sources: all but the ``newest`` few (and ``keep``)."""
    builds = sorted(
        (d for d in parent.iterdir() if d != keep and re.fullmatch("[0-9a-f]{16}", d.name)),
        key=lambda d: d.stat().st_mtime,
    )
    for old in builds[: max(0, len(builds) - newest + 1)]:
        shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(scope="module")
def built() -> Path:
    """The cache directory of this source: ``*.whl`` and the venvs ``plain``, ``pytest``."""
    uv = _uv()
    cache = _tool_cache() / "chartmatrix-wheel" / _source_digest()
    cache.parent.mkdir(parents=True, exist_ok=True)
    _prune(cache.parent, keep=cache)
    if not any(cache.glob("*.whl")):
        with tempfile.TemporaryDirectory(dir=cache.parent) as tmp:
            src = Path(tmp) / "src"
            for path in _source_files():
                (src / path.relative_to(SOURCE)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, src / path.relative_to(SOURCE))
            out = Path(tmp) / "out"
            proc = _run([uv, "build", "--offline", "--wheel", "--out-dir", str(out), str(src)])
            assert proc.returncode == 0, proc.stderr[-3000:]
            _publish(out, cache)
    wheel = next(cache.glob("*.whl"))
    extras = {"plain": str(wheel), "pytest": f"chartmatrix[pytest] @ {wheel.as_uri()}"}
    for name, requirement in extras.items():
        if (cache / name / "bin" / "chartmatrix").exists():
            continue
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            venv = Path(tmp) / "venv"
            # relocatable: its scripts find their python from where they are, after the move
            made = _run(
                [
                    uv,
                    "venv",
                    "--offline",
                    "-q",
                    "--relocatable",
                    "--python",
                    sys.executable,
                    str(venv),
                ]
            )
            assert made.returncode == 0, made.stderr
            python = str(venv / "bin" / "python")
            proc = _run([uv, "pip", "install", "--offline", "-q", "--python", python, requirement])
            assert proc.returncode == 0, f"offline install from uv's cache failed: {proc.stderr}"
            _publish(venv, cache / name)
    return cache


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside the repository holding ``helm create demo``."""
    base = tmp_path_factory.mktemp("outside")
    helm = ROOT / ".tools" / "bin" / "helm"
    proc = _run([str(helm), "create", "demo"], cwd=base)
    assert proc.returncode == 0, proc.stderr
    return base


def _env(venv: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "CI", "CHARTMATRIX_ROOT", "PYTEST_ADDOPTS")
    }
    # helm from this checkout's tools; nothing else of the repository
    env["PATH"] = os.pathsep.join(
        [str(venv / "bin"), str(ROOT / ".tools" / "bin"), "/usr/bin", "/bin"]
    )
    return env


@pytest.fixture(scope="module")
def initialized(built: Path, project: Path) -> list[str]:
    """``chartmatrix init demo`` and golden files written by the installed CLI; the case ids."""
    env = _env(built / "plain")
    init = _run(["chartmatrix", "init", "demo"], env=env, cwd=project)
    assert init.returncode == 0, init.stderr
    assert (project / "chart_tests" / "demo" / "matrix.yaml").is_file()
    first = _run(
        ["chartmatrix", "run", "--no-progress", "--update-golden", "demo"], env=env, cwd=project
    )
    assert first.returncode == 0, first.stdout + first.stderr
    listed = _run(["chartmatrix", "run", "--list", "demo"], env=env, cwd=project)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.splitlines()


def test_wheel_holds_the_package_and_its_data_only(built: Path) -> None:
    wheel = next(built.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(
            next(n for n in names if n.endswith("entry_points.txt"))
        ).decode()
    for needed in (
        "chartmatrix/spec.schema.json",
        "chartmatrix/cluster/README.md",
        "chartmatrix/cluster/install.py",
        "chartmatrix/rules/config.py",
        "chartmatrix/report/html.py",
        "chartmatrix/pytest_plugin.py",
    ):
        assert needed in names, needed
    assert {n.split("/", 1)[0] for n in names} == {
        "chartmatrix",
        f"chartmatrix-{VERSION}.dist-info",
    }
    assert not [
        n for n in names if "__pycache__" in n or Path(n).name.startswith(("test", "conftest"))
    ]
    requires = re.findall(r"^Requires-Dist: (.*)$", meta, re.M)
    assert [r for r in requires if r.startswith("pytest")] == ['pytest>=8; extra == "pytest"']
    assert "chartmatrix = chartmatrix.cli:main" in entry_points
    assert (
        "[pytest11]" in entry_points
        and "chartmatrix.pytest_plugin = chartmatrix.pytest_plugin" in entry_points
    )


def test_installed_cli_tests_a_chart_outside_the_repository(
    built: Path, project: Path, initialized: list[str]
) -> None:
    venv = built / "plain"
    env = _env(venv)
    python = str(venv / "bin" / "python")
    located = _run(
        [python, "-c", "import chartmatrix; print(chartmatrix.__file__)"], env=env, cwd=project
    )
    assert located.stdout.startswith(str(venv)), located.stdout  # the wheel's copy
    assert _run([python, "-c", "import pytest"], env=env).returncode == 1  # a clean venv

    helped = _run(["chartmatrix", "--help"], env=env, cwd=project)
    assert helped.returncode == 0, helped.stderr
    assert {"run", "init", "install", "cluster"} <= set(
        re.findall(r"^    (\w+) ", helped.stdout, re.M)
    )

    report = project / "run.json"
    again = _run(
        ["chartmatrix", "run", "--no-progress", "--ci", "--json", str(report), "demo"],
        env=env,
        cwd=project,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    cases = json.loads(report.read_text())["charts"][0]["cases"]
    assert len(cases) == len(initialized) >= 2
    assert len(list((project / "chart_tests" / "demo" / "golden").glob("*.yaml"))) == len(
        initialized
    )


def test_importing_and_running_the_cli_does_not_import_pytest(
    built: Path, project: Path, initialized: list[str]
) -> None:
    venv = built / "pytest"  # pytest is installed here: importing it would succeed
    code = (
        "import sys\n"
        "from chartmatrix.cli import main\n"
        "code = main(['run', '--no-progress', 'demo'])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')))\n"
    )
    proc = _run([str(venv / "bin" / "python"), "-c", code], env=_env(venv), cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stdout[-2000:]


def test_pytest_extra_runs_the_plugin_items(
    built: Path, project: Path, initialized: list[str]
) -> None:
    venv = built / "pytest"
    env = {**_env(venv), "CI": "true"}  # a missing golden file would fail
    proc = _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "chart_tests",
        ],
        env=env,
        cwd=project,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # one item per case, plus golden-files
    assert re.search(rf"\b{len(initialized) + 1} passed\b", proc.stdout), proc.stdout[-2000:]
    # named as pytest's docs name it, the plugin is the one already registered
    named = [*proc.args[:3], "-p", "chartmatrix.pytest_plugin", *proc.args[3:], "--co"]
    again = _run(named, env=env, cwd=project)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]


# what chartmatrix.cluster (the local control plane and `chartmatrix install`) may use
# of the rest of chartmatrix: the shared core, never the runner, rules, specs or reports
SHARED_CORE = {"errors", "project", "yamlfile", "k8syaml", "charts", "render"}


def test_cluster_subpackage_imports_only_the_shared_core() -> None:
    package = SOURCE / "src" / "chartmatrix"
    outside: dict[str, set[str]] = {}
    for path in sorted((package / "cluster").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                parts = name.split(".")
                if parts[0] == "chartmatrix" and parts[1:2] not in (
                    ["cluster"],
                    *([m] for m in SHARED_CORE),
                ):
                    outside.setdefault(path.name, set()).add(name)
    assert outside == {}
    assert not list(package.glob("install*.py"))  # moved into chartmatrix.cluster

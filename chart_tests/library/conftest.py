"""Fixtures for the destate library tests: a packaged copy of the test chart and a
small `helm template` runner (plain subprocess calls, real helm binaries)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO / "library-chart"
TEST_CHART = Path(__file__).resolve().parent / "chart"
TOOLS_BIN = REPO / ".tools" / "bin"
RELEASE = "t"
NAMESPACE = "ns"
# Offline renders fail closed where the library would generate a password (README,
# "Generated passwords"); the tests opt in to predictable placeholders, and turn it off
# with {"global": {"destate": {"insecurePredictablePasswords": False}}}.
OFFLINE_TEST_VALUES: dict[str, Any] = {
    "global": {"destate": {"insecurePredictablePasswords": True}}
}


def tool(name: str, env_var: str) -> Path:
    """A pinned tool from .tools/bin (or the env override); a clear failure if absent."""
    path = Path(os.environ.get(env_var, TOOLS_BIN / name))
    if not path.exists():
        pytest.fail(f"{path} not found: run tools/bootstrap first (or set {env_var})")
    return path


@dataclass(frozen=True)
class Render:
    text: str
    docs: list[dict[str, Any]]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d.get("kind") == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for doc in self.all(kind):
            if doc["metadata"]["name"] == name:
                return doc
        names = [d["metadata"]["name"] for d in self.all(kind)]
        raise AssertionError(f"no {kind} named {name!r} (have {names})")

    def names(self, kind: str) -> list[str]:
        return sorted(d["metadata"]["name"] for d in self.all(kind))


class HelmError(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def run_helm(helm: Path, args: Sequence[str | Path], cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [str(helm), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise HelmError(proc.stderr.strip())
    return proc.stdout


def template(
    helm: Path,
    chart: Path,
    values: dict[str, Any] | None = None,
    api_versions: Iterable[str] = (),
    extra: Sequence[str] = (),
) -> str:
    args: list[str | Path] = ["template", RELEASE, chart, "--namespace", NAMESPACE]
    for api in api_versions:
        args += ["--api-versions", api]
    args += list(extra)
    files = []
    # OFFLINE_TEST_VALUES first (a --set would win over any file): the test's own values
    # may turn the opt-in off
    for doc in (OFFLINE_TEST_VALUES, values or {}):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            yaml.safe_dump(doc, handle)
            files.append(handle.name)
    try:
        return run_helm(helm, [*args, *(a for f in files for a in ("--values", f))])
    finally:
        for name in files:
            os.unlink(name)


def parse(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="session")
def helm() -> Path:
    return tool("helm", "DESTATE_HELM")


@pytest.fixture(scope="session")
def helm3() -> Path:
    return tool("helm3", "DESTATE_HELM3")


@pytest.fixture(scope="session")
def lib_chart(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the test chart with the current library packaged into charts/."""
    chart = tmp_path_factory.mktemp("libtest") / "libtest"
    shutil.copytree(TEST_CHART, chart, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    run_helm(helm, ["package", LIBRARY, "--destination", chart / "charts"])
    return chart


RenderFn = Callable[..., Render]


@pytest.fixture(scope="session")
def render(helm: Path, lib_chart: Path) -> RenderFn:
    """render(values=None, api_versions=(), extra=()) -> Render (helm v4)."""

    def _render(
        values: dict[str, Any] | None = None,
        api_versions: Iterable[str] = (),
        extra: Sequence[str] = (),
    ) -> Render:
        text = template(helm, lib_chart, values, api_versions, extra)
        return Render(text, parse(text))

    return _render


@pytest.fixture(scope="session")
def default_out(render: RenderFn) -> Render:
    """The test chart rendered with its own values (shared by the modules)."""
    return render()


@pytest.fixture(scope="session")
def render_error(helm: Path, lib_chart: Path) -> Callable[..., str]:
    """render_error(values, schema=False) -> helm's error text; fails if helm succeeds.
    schema=False skips the JSON schema so the template validations are reached."""

    def _render_error(
        values: dict[str, Any], schema: bool = False, api_versions: Iterable[str] = ()
    ) -> str:
        extra = [] if schema else ["--skip-schema-validation"]
        try:
            template(helm, lib_chart, values, api_versions, extra)
        except HelmError as exc:
            return exc.stderr
        raise AssertionError(f"helm rendered values that must fail: {values}")

    return _render_error

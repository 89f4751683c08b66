"""Find a chart on disk, read its metadata, and stage it for rendering.

Staging copies the chart into a private directory and vendors every ``file://``
dependency from its source directory (recursively), so renders never use a stale
``charts/*.tgz`` and concurrent runs never race on a shared ``helm dependency build``.
Dependencies from chart repositories must already be present in ``charts/``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartmatrix.errors import ChartmatrixError
from chartmatrix.yamlfile import load_yaml_file

_KUBE_VERSION = re.compile(r"KubeVersion")


@dataclass(frozen=True)
class ChartInfo:
    """What chartmatrix needs to know about a chart before rendering it."""

    path: Path
    name: str
    version: str
    chart_type: str
    defaults: dict[str, Any] = field(hash=False, compare=False)
    reads_kube_version: bool = False
    dependencies: tuple[str, ...] = ()


def load_chart(path: Path) -> ChartInfo:
    """Read ``Chart.yaml`` and ``values.yaml``; raise one clear error when it is not a chart."""
    path = Path(path)
    if not path.exists():
        raise ChartmatrixError(path, "chart directory not found")
    if not path.is_dir():
        raise ChartmatrixError(path, "not a chart directory (packaged charts are not supported)")
    meta_file = path / "Chart.yaml"
    if not meta_file.is_file():
        raise ChartmatrixError(path, "not a Helm chart (no Chart.yaml)")
    meta = load_yaml_file(meta_file)
    for key in ("name", "version"):
        if not isinstance(meta.get(key), str | int | float) or meta.get(key) == "":
            raise ChartmatrixError(meta_file, f"{key} is required")
    values_file = path / "values.yaml"
    defaults = load_yaml_file(values_file) if values_file.is_file() else {}
    return ChartInfo(
        path=path.resolve(),
        name=str(meta["name"]),
        version=str(meta["version"]),
        chart_type=str(meta.get("type") or "application"),
        defaults=defaults,
        reads_kube_version=_reads_kube_version(path),
        dependencies=tuple(str(d.get("name")) for d in _dependencies(path)),
    )


def _template_files(chart_dir: Path) -> list[Path]:
    files = [p for p in (chart_dir / "templates").rglob("*") if p.is_file()]
    for dep in _file_dependencies(chart_dir):
        files.extend(_template_files(dep))
    charts_dir = chart_dir / "charts"
    if charts_dir.is_dir():
        for sub in charts_dir.iterdir():
            if sub.is_dir():
                files.extend(_template_files(sub))
    return files


def _reads_kube_version(chart_dir: Path) -> bool:
    """True when any template (own or dependency) reads ``.Capabilities.KubeVersion``.

    Packaged dependencies (``charts/*.tgz``) cannot be scanned cheaply, so their presence
    counts as "reads it": the render then happens once per Kubernetes version.
    """
    charts_dir = chart_dir / "charts"
    if charts_dir.is_dir() and any(charts_dir.glob("*.tgz")):
        declared = {d.name for d in _file_dependencies(chart_dir)}
        for tgz in charts_dir.glob("*.tgz"):
            if not any(tgz.name.startswith(f"{name}-") for name in declared):
                return True
    for file in _template_files(chart_dir):
        try:
            if _KUBE_VERSION.search(file.read_text(encoding="utf-8", errors="replace")):
                return True
        except OSError:
            continue
    return False


def _dependencies(chart_dir: Path) -> list[dict[str, Any]]:
    meta = load_yaml_file(chart_dir / "Chart.yaml")
    deps = meta.get("dependencies") or []
    if not isinstance(deps, list):
        raise ChartmatrixError(chart_dir / "Chart.yaml", "dependencies must be a list")
    return [d for d in deps if isinstance(d, dict)]


def _file_dependencies(chart_dir: Path) -> list[Path]:
    out: list[Path] = []
    for dep in _dependencies(chart_dir):
        repo = str(dep.get("repository") or "")
        if repo.startswith("file://"):
            out.append((chart_dir / repo.removeprefix("file://")).resolve())
    return out


def stage(chart_dir: Path, into: Path) -> Path:
    """Copy ``chart_dir`` to ``into`` with its ``file://`` dependencies vendored; return it."""
    chart_dir = Path(chart_dir).resolve()
    shutil.copytree(chart_dir, into, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    charts_dir = into / "charts"
    for dep in _dependencies(chart_dir):
        repo = str(dep.get("repository") or "")
        name = str(dep.get("name") or "")
        if not name:
            raise ChartmatrixError(chart_dir / "Chart.yaml", "a dependency has no name")
        if repo.startswith("file://"):
            source = (chart_dir / repo.removeprefix("file://")).resolve()
            if not (source / "Chart.yaml").is_file():
                raise ChartmatrixError(
                    chart_dir / "Chart.yaml",
                    f"dependency {name}: {repo} is not a chart directory",
                )
            charts_dir.mkdir(exist_ok=True)
            for old in charts_dir.glob(f"{name}-*.tgz"):
                old.unlink()
            target = charts_dir / source.name
            if target.exists():
                shutil.rmtree(target)
            stage(source, target)
        elif not _present(charts_dir, name):
            raise ChartmatrixError(
                chart_dir / "Chart.yaml",
                f"dependency {name} ({repo or 'no repository'}) is missing from charts/; "
                "run `helm dependency build` first",
            )
    lock = into / "Chart.lock"
    if lock.exists() and _file_dependencies(chart_dir):
        lock.unlink()
    return into


def _present(charts_dir: Path, name: str) -> bool:
    if not charts_dir.is_dir():
        return False
    return any(charts_dir.glob(f"{name}-*.tgz")) or (charts_dir / name / "Chart.yaml").is_file()

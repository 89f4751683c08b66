"""Find a chart on disk, read its metadata, and stage it for rendering.

Staging copies the chart into a private directory and vendors every ``file://``
dependency from its source directory (recursively), so renders never use a stale
``charts/*.tgz`` and concurrent runs never race on a shared ``helm dependency build``.
Dependencies from chart repositories must already be present in ``charts/``.
"""

from __future__ import annotations

import hashlib
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
    kube_version_constraint: str = ""


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
        kube_version_constraint=str(meta.get("kubeVersion") or ""),
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
        declared = {
            str(d.get("name"))
            for d in _dependencies(chart_dir)
            if str(d.get("repository") or "").startswith("file://")
        }
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


_CONSTRAINT = re.compile(
    r"^\s*(>=|<=|!=|>|<|=|\^|~)?\s*v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?(?:-[0-9A-Za-z.-]+)?\s*$"
)


def _version_tuple(version: str) -> tuple[int, int, int]:
    parts = [*(int(p) for p in re.findall(r"\d+", version)[:3]), 0, 0, 0]
    return parts[0], parts[1], parts[2]


def _term_allows(term: str, version: tuple[int, int, int]) -> bool | None:
    match = _CONSTRAINT.match(term)
    if not match:
        return None
    op, major, minor, patch = match.groups()
    wildcard = minor in (None, "x", "*") or patch in ("x", "*")
    if wildcard and op in (None, "="):  # 1.30 / 1.30.x: that minor
        return version[0] == int(major) and (minor in (None, "x", "*") or version[1] == int(minor))
    bound = (
        int(major),
        int(minor) if minor and minor.isdigit() else 0,
        int(patch) if patch and patch.isdigit() else 0,
    )
    if op in (None, "="):
        return version == bound
    if op == "^":
        return version >= bound and version[0] == bound[0]
    if op == "~":
        return version >= bound and version[:2] == bound[:2]
    return {
        ">=": version >= bound,
        "<=": version <= bound,
        ">": version > bound,
        "<": version < bound,
        "!=": version != bound,
    }[op]


def kube_version_allowed(constraint: str, version: str) -> bool | None:
    """Does Kubernetes ``version`` satisfy a Chart.yaml ``kubeVersion`` constraint?

    Understands the usual forms (comparisons, ``^``, ``~``, ``x`` wildcards, terms joined
    by spaces or commas, alternatives joined by ``||``); None when it cannot tell.
    """
    if not constraint.strip():
        return True
    wanted = _version_tuple(version)
    any_alternative = False
    for alternative in constraint.split("||"):
        alternative = re.sub(r"([<>=!^~]+)\s+", r"\1", alternative)
        terms = [t for t in re.split(r"[,\s]+(?=[<>=!^~]|v?\d)", alternative.strip()) if t]
        results = [_term_allows(t, wanted) for t in terms]
        if any(r is None for r in results):
            return None
        if all(results):
            any_alternative = True
    return any_alternative


def fingerprint(chart_dir: Path) -> str:
    """Changes whenever a file of the chart or of its ``file://`` dependencies changes."""
    digest = hashlib.sha256()
    pending, seen = [Path(chart_dir).resolve()], set()
    while pending:
        root = pending.pop()
        if root in seen or not root.is_dir():
            continue
        seen.add(root)
        for path in sorted(root.rglob("*")):
            if path.is_file():
                st = path.stat()
                digest.update(f"{path}:{st.st_mtime_ns}:{st.st_size}\n".encode())
        if (root / "Chart.yaml").is_file():
            pending.extend(_file_dependencies(root))
    return digest.hexdigest()

"""Find a chart on disk, read its metadata, and stage it for rendering.

Dependencies follow Helm's own rules. What is vendored in ``charts/`` (a directory or a
packaged ``.tgz``, recognised by the name in its Chart.yaml, as Helm does) is used as is;
a ``file://`` dependency whose source directory exists is packaged afresh from it, as
``helm dependency build`` does before every render of a chart under development; a
``file://`` path is only needed where nothing is vendored (pulled and packaged charts
carry paths that point nowhere). Staging copies the chart into a private directory, so
concurrent runs never race on a shared ``helm dependency build``.
:func:`dependency_problems` checks vendored versions against Chart.yaml's constraints the
way ``helm dependency update`` does.
"""

from __future__ import annotations

import atexit
import hashlib
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml

from chartmatrix.errors import ChartmatrixError
from chartmatrix.semver import SemverError, satisfies
from chartmatrix.yamlfile import load_yaml_file

_KUBE_VERSION = re.compile(r"KubeVersion")
_API_VERSIONS = re.compile(r"Capabilities\.APIVersions")
_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')
_NOW = re.compile(r"(?<![\w.$])now\b")  # sprig's now, not .Values.now or $now


def _calls_now(text: str) -> bool:
    """Whether a template calls ``now`` in an action (not in a comment or a string)."""
    return any(
        _NOW.search(_STRING.sub("", action))
        for action in _ACTION.findall(text)
        if not action.startswith("/*")
    )


# "group/version/Kind" string literals ("policy/v1/PodDisruptionBudget", "v1/Service"):
# what a template may test with .Capabilities.APIVersions.Has
_KIND_LITERAL = re.compile(
    r'"((?:[a-z0-9-]+(?:\.[a-z0-9-]+)*/)?v[0-9]+(?:alpha[0-9]+|beta[0-9]+)?/[A-Z][A-Za-z0-9]*)"'
)
# "group/version" literals of a dotted group ("cert-manager.io/v1"): custom APIs
_GROUP_LITERAL = re.compile(r'"([a-z0-9-]+(?:\.[a-z0-9-]+)+/v[0-9]+(?:alpha[0-9]+|beta[0-9]+)?)"')


@dataclass(frozen=True)
class ChartInfo:
    """What chartmatrix needs to know about a chart before rendering it."""

    path: Path
    name: str
    version: str
    chart_type: str
    defaults: dict[str, Any] = field(hash=False, compare=False)
    dependencies: tuple[str, ...] = ()
    kube_version_constraint: str = ""

    @cached_property
    def _templates(self) -> list[str]:
        """Read on first use: only the render plan needs them, and they are every template
        of every subchart (packaged ones unpacked in memory)."""
        return _template_texts(self.path)

    @cached_property
    def reads_kube_version(self) -> bool:
        """Whether any template (own or of a subchart) reads ``.Capabilities.KubeVersion``."""
        return any(_KUBE_VERSION.search(text) for text in self._templates)

    @cached_property
    def reads_clock(self) -> bool:
        """Whether any template calls ``now`` (dates, schedules derived from the time)."""
        return any(_calls_now(text) for text in self._templates)

    @cached_property
    def _reads_api_versions(self) -> bool:
        return any(_API_VERSIONS.search(text) for text in self._templates)

    @cached_property
    def tested_kinds(self) -> tuple[str, ...]:
        """The ``group/version/Kind`` literals of the templates when any of them reads
        ``.Capabilities.APIVersions``: the kinds whose being served may change the render."""
        if not self._reads_api_versions:
            return ()
        return tuple(sorted({k for text in self._templates for k in _KIND_LITERAL.findall(text)}))

    @cached_property
    def tested_apis(self) -> tuple[str, ...]:
        """:attr:`tested_kinds` and the custom ``group/version`` literals of the templates
        (``cert-manager.io/v1``): what a chart may require the cluster to serve."""
        if not self._reads_api_versions:
            return ()
        groups = {g for text in self._templates for g in _GROUP_LITERAL.findall(text)}
        return tuple(sorted({*self.tested_kinds, *groups}))


@dataclass(frozen=True)
class Vendored:
    """A subchart present in ``charts/``: a directory or a packaged ``.tgz``."""

    path: Path
    name: str
    version: str


def load_chart(path: Path) -> ChartInfo:
    """Read ``Chart.yaml`` and ``values.yaml``; raise one clear error when it is not a chart."""
    path = Path(path)
    if not path.exists():
        raise ChartmatrixError(path, "chart directory not found")
    if not path.is_dir():
        raise ChartmatrixError(path, "not a chart directory (unpack a packaged chart first)")
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
        dependencies=tuple(str(d.get("name")) for d in dependencies(path)),
        kube_version_constraint=str(meta.get("kubeVersion") or ""),
    )


def _template_texts(chart_dir: Path, seen: set[Path] | None = None) -> list[str]:
    """Every template of the chart and of every subchart in ``charts/`` (dirs and tgz)."""
    seen = set() if seen is None else seen
    chart_dir = chart_dir.resolve()
    if chart_dir in seen:
        return []
    seen.add(chart_dir)
    texts: list[str] = []
    templates = chart_dir / "templates"
    for file in templates.rglob("*") if templates.is_dir() else ():
        if file.is_file():
            try:
                texts.append(file.read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                raise ChartmatrixError(file, f"cannot read template ({exc.strerror})") from None
    for dep in _file_dependencies(chart_dir):
        if (dep / "Chart.yaml").is_file():
            texts.extend(_template_texts(dep, seen))
    for sub in vendored(chart_dir):
        if sub.path.is_dir():
            texts.extend(_template_texts(sub.path, seen))
        else:
            texts.extend(_tgz_templates(sub.path))
    return texts


def _tgz_templates(tgz: Path) -> list[str]:
    out = []
    try:
        with tarfile.open(tgz) as archive:
            for member in archive.getmembers():
                if member.isfile() and "/templates/" in member.name:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        out.append(handle.read().decode("utf-8", errors="replace"))
    except (OSError, tarfile.TarError) as exc:
        raise ChartmatrixError(tgz, f"not a readable chart archive ({exc})") from None
    return out


def dependencies(chart_dir: Path) -> list[dict[str, Any]]:
    """The chart's dependencies: Chart.yaml's, or requirements.yaml's for an apiVersion v1
    chart (Helm reads that file for v1 charts only)."""
    file = chart_dir / "Chart.yaml"
    meta = load_yaml_file(file)
    requirements = chart_dir / "requirements.yaml"
    if str(meta.get("apiVersion") or "v1") == "v1" and requirements.is_file():
        file, meta = requirements, load_yaml_file(requirements)
    deps = meta.get("dependencies") or []
    if not isinstance(deps, list):
        raise ChartmatrixError(file, "dependencies must be a list")
    return [d for d in deps if isinstance(d, dict)]


def _file_dependencies(chart_dir: Path) -> list[Path]:
    out: list[Path] = []
    for dep in dependencies(chart_dir):
        repo = str(dep.get("repository") or "")
        if repo.startswith("file://"):
            out.append((chart_dir / repo.removeprefix("file://")).resolve())
    return out


def subcharts(chart_dir: Path) -> dict[str, Path]:
    """The chart's subcharts by the key of their values in the parent's (alias or name):
    those vendored in ``charts/`` (a package unpacked), else a ``file://`` dependency's
    source directory."""
    aliases: dict[str, list[str]] = {}
    found: dict[str, Path] = {}
    for dep in dependencies(chart_dir):
        name = str(dep.get("name") or "")
        key = str(dep.get("alias") or name)
        aliases.setdefault(name, []).append(key)
        repo = str(dep.get("repository") or "")
        source = (chart_dir / repo.removeprefix("file://")).resolve()
        if repo.startswith("file://") and (source / "Chart.yaml").is_file():
            found[key or source.name] = source
    for sub in vendored(chart_dir):
        path = chart_dir_of(sub.path)
        for key in aliases.get(sub.name, [sub.name]):
            found[key] = path
    return found


def tgz_member(tgz: Path, name: str) -> str | None:
    """The text of ``<chart>/<name>`` at the top of a packaged chart (None if absent)."""
    try:
        with tarfile.open(tgz) as archive:
            for member in archive.getmembers():
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == name and member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        return handle.read().decode("utf-8")
    except (OSError, tarfile.TarError, UnicodeDecodeError) as exc:
        raise ChartmatrixError(tgz, f"not a readable chart archive ({exc})") from None
    return None


def _meta_of_tgz(tgz: Path) -> dict[str, Any]:
    """Chart.yaml of a packaged chart (``<name>/Chart.yaml`` at the archive's top)."""
    text = tgz_member(tgz, "Chart.yaml")
    if text is None:
        raise ChartmatrixError(tgz, "not a chart archive (no <name>/Chart.yaml inside)")
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ChartmatrixError(tgz, f"not a readable chart archive ({exc})") from None
    return meta if isinstance(meta, dict) else {}


@cache
def _vendored_cached(charts_dir: Path, stamp: tuple[tuple[str, int], ...]) -> tuple[Vendored, ...]:
    out = []
    for entry in sorted(charts_dir.iterdir()):
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            meta = load_yaml_file(entry / "Chart.yaml")
        elif entry.is_file() and entry.name.endswith(".tgz"):
            meta = _meta_of_tgz(entry)
        else:
            continue
        out.append(Vendored(entry, str(meta.get("name") or ""), str(meta.get("version") or "")))
    return tuple(out)


def vendored(chart_dir: Path) -> tuple[Vendored, ...]:
    """The subcharts Helm loads from ``charts/``, by the name in their Chart.yaml."""
    charts_dir = Path(chart_dir) / "charts"
    if not charts_dir.is_dir():
        return ()
    stamp = tuple((p.name, _mtime(p)) for p in sorted(charts_dir.iterdir()))
    return _vendored_cached(charts_dir.resolve(), stamp)


def _mtime(path: Path) -> int:
    """When ``path`` (followed, as Helm follows it) last changed; a broken link is one
    clear error, as Helm refuses the chart."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        if path.is_symlink():
            raise ChartmatrixError(
                path, f"dangling symlink (points to {path.readlink()})"
            ) from None
        raise


def _copy_tree(source: Path, into: Path) -> None:
    """Copy a chart as Helm reads it (symlinks followed); a broken link is one clear error."""
    for path in source.rglob("*"):
        if path.is_symlink() and not path.exists():
            raise ChartmatrixError(path, f"dangling symlink (points to {path.readlink()})")
    try:
        shutil.copytree(source, into, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    except shutil.Error as exc:
        first = exc.args[0][0] if exc.args and exc.args[0] else ("", "", str(exc))
        raise ChartmatrixError(first[0] or source, f"cannot copy the chart ({first[2]})") from None
    except OSError as exc:
        where = exc.filename or source
        raise ChartmatrixError(where, f"cannot copy the chart ({exc.strerror})") from None


def stage(chart_dir: Path, into: Path, _chain: tuple[Path, ...] = ()) -> Path:
    """Copy ``chart_dir`` to ``into`` with its dependencies in ``charts/``; return it."""
    chart_dir = Path(chart_dir).resolve()
    chain = (*_chain, chart_dir)
    _copy_tree(chart_dir, into)
    charts_dir = into / "charts"
    missing: list[str] = []  # all named in one error, as helm does
    for dep in dependencies(chart_dir):
        repo = str(dep.get("repository") or "")
        name = str(dep.get("name") or "")
        if not name:
            raise ChartmatrixError(chart_dir / "Chart.yaml", "a dependency has no name")
        present = [v for v in vendored(into) if v.name == name]
        if repo.startswith("file://"):
            link = chart_dir / repo.removeprefix("file://")
            source = link.resolve()
            if (source / "Chart.yaml").is_file():
                if source in chain:
                    cycle = " -> ".join(p.name for p in (*chain, source))
                    raise ChartmatrixError(
                        chart_dir / "Chart.yaml",
                        f"dependency {name}: {repo} makes a dependency cycle ({cycle})",
                    )
                for old in present:  # `helm dependency build` replaces it too
                    if old.path.is_dir():
                        shutil.rmtree(old.path)
                    else:
                        old.path.unlink()
                charts_dir.mkdir(exist_ok=True)
                stage(source, charts_dir / source.name, chain)
                continue
            if present:
                continue
            what = (
                f"a dangling symlink ({link} -> {link.readlink()})"
                if link.is_symlink() and not link.exists()
                else f"not a chart directory ({source})"
            )
            raise ChartmatrixError(
                chart_dir / "Chart.yaml",
                f"dependency {name}: {repo} is {what}, and charts/ has no {name} either",
            )
        if not present:
            missing.append(f"{name} ({repo or 'no repository'})")
    if missing:
        raise ChartmatrixError(
            chart_dir / "Chart.yaml",
            f"{'dependency' if len(missing) == 1 else 'dependencies'} {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing from charts/; run `helm "
            "dependency build` first",
        )
    lock = into / "Chart.lock"
    if lock.exists() and _file_dependencies(chart_dir):
        lock.unlink()
    return into


def dependency_problems(chart_dir: Path) -> list[str]:
    """Dependencies (of a staged chart, recursively) whose version breaks the constraint.

    ``helm dependency update`` refuses such a chart; ``helm template`` renders the wrong
    version without a word, which is what this reports.
    """
    chart_dir = Path(chart_dir)
    problems: list[str] = []
    subs = vendored(chart_dir)
    for dep in dependencies(chart_dir):
        name = str(dep.get("name") or "")
        wanted = str(dep.get("version") or "").strip()
        if not wanted:
            continue
        for sub in (s for s in subs if s.name == name):
            try:
                ok = satisfies(sub.version, wanted)
            except SemverError as exc:
                problems.append(f"{chart_dir.name}: dependency {name}: {exc}")
                continue
            if not ok:
                # a file:// dependency is the chart that path names (staging copied it)
                repo = str(dep.get("repository") or "")
                has = repo if repo.startswith("file://") else f"charts/{sub.path.name}"
                problems.append(
                    f"{chart_dir.name}: dependency {name} asks version {wanted!r}, but "
                    f"{has} is {sub.version} (`helm dependency update` would refuse it; "
                    "Helm renders it anyway)"
                )
    for sub in subs:
        if sub.path.is_dir():
            problems.extend(dependency_problems(sub.path))
    return problems


def unpack_chart(archive: Path, into: Path) -> Path:
    """Extract a packaged chart (``helm package`` output) into ``into``; return its root."""
    try:
        with tarfile.open(archive) as tar:
            tops = {m.name.split("/")[0] for m in tar.getmembers() if m.name.strip("/")}
            tar.extractall(into, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise ChartmatrixError(archive, f"not a readable chart archive ({exc})") from None
    charts = [into / t for t in sorted(tops) if (into / t / "Chart.yaml").is_file()]
    if len(charts) != 1:
        raise ChartmatrixError(archive, "not a chart archive (want one <name>/Chart.yaml)")
    return charts[0]


_UNPACKED: dict[Path, Path] = {}


def chart_dir_of(path: Path) -> Path:
    """A chart directory for ``path``: itself, or a packaged chart (``.tgz``) unpacked
    once per process into a temporary directory removed at exit."""
    path = Path(path)
    if not (path.is_file() and path.name.endswith((".tgz", ".tar.gz"))):
        return path
    key = path.resolve()
    if key not in _UNPACKED:
        into = Path(tempfile.mkdtemp(prefix="chartmatrix-chart-"))
        atexit.register(shutil.rmtree, into, True)
        _UNPACKED[key] = unpack_chart(path, into)
    return _UNPACKED[key]


def is_unpacked(chart_dir: Path) -> bool:
    """Whether ``chart_dir`` is a packaged chart's temporary copy (no file of the user's)."""
    return Path(chart_dir).resolve() in {p.resolve() for p in _UNPACKED.values()}


def kube_version_allowed(constraint: str, version: str) -> bool | None:
    """Does Kubernetes ``version`` satisfy a Chart.yaml ``kubeVersion`` constraint?

    Helm's own rules (see :mod:`chartmatrix.semver`); None when the constraint is not
    one Helm understands either.
    """
    if not constraint.strip():
        return True
    try:
        return satisfies(version, constraint)
    except SemverError:
        return None


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

"""Render a chart with values from Python, staging it once per process.

The engine behind the pytest fixture ``render_chart`` (see :mod:`chartmatrix.pytest_plugin`).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chartmatrix.charts import fingerprint, load_chart, stage
from chartmatrix.errors import ChartmatrixError
from chartmatrix.manifests import Rendered
from chartmatrix.render import Renderer, RenderRequest
from chartmatrix.values import merge_all


class RenderFailed(AssertionError):
    """helm refused to render; ``.message`` holds helm's error."""

    def __init__(self, chart: Path, message: str) -> None:
        self.chart = chart
        self.message = message
        super().__init__(f"helm template {chart} failed: {message}")


class ChartRenderer:
    """Callable that renders charts; one instance per test session."""

    def __init__(self, root: Path, workdir: Path | None = None, helm: str | None = None) -> None:
        self.root = Path(root)
        self._workdir = Path(workdir or tempfile.mkdtemp(prefix="chartmatrix-"))
        self._helm = helm
        self._renderer: Renderer | None = None
        self._staged: dict[tuple[Path, str], Path] = {}
        self._lock = threading.Lock()

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer(self._helm)
        return self._renderer

    def resolve(self, chart: str | Path) -> Path:
        """A path, or a bare name looked up under ``charts/`` then ``chart_tests/*/``."""
        path = Path(chart)
        candidates = [path] if path.is_absolute() else [self.root / path, Path.cwd() / path]
        if not path.is_absolute() and len(path.parts) == 1:
            candidates += [self.root / "charts" / path, self.root / "chart_tests" / path / "chart"]
        for candidate in candidates:
            if (candidate / "Chart.yaml").is_file():
                return candidate.resolve()
        raise ChartmatrixError(
            chart, "chart not found (looked in " + ", ".join(str(c) for c in candidates) + ")"
        )

    def staged(self, chart: str | Path) -> Path:
        """The staged copy of ``chart``, staged again whenever one of its files changes."""
        source = self.resolve(chart)
        key = (source, fingerprint(source))
        with self._lock:
            if key not in self._staged:
                load_chart(source)
                target = self._workdir / f"{len(self._staged)}" / source.name
                target.parent.mkdir(parents=True)
                self._staged[key] = stage(source, target)
            return self._staged[key]

    def request(
        self,
        chart: str | Path,
        values: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
        *,
        release: str = "test",
        namespace: str = "default",
        kube_version: str | None = None,
        api_versions: Iterable[str] = (),
    ) -> RenderRequest:
        if values is None:
            merged: dict[str, Any] = {}
        elif isinstance(values, Mapping):
            merged = dict(values)
        else:
            merged = merge_all(values)
        return RenderRequest(
            chart_dir=self.staged(chart),
            values=merged,
            release=release,
            namespace=namespace,
            kube_version=kube_version,
            api_versions=tuple(api_versions),
        )

    def __call__(
        self,
        chart: str | Path,
        values: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
        *,
        release: str = "test",
        namespace: str = "default",
        kube_version: str | None = None,
        api_versions: Iterable[str] = (),
    ) -> Rendered:
        """Render and parse; raise :class:`RenderFailed` when helm refuses."""
        request = self.request(
            chart,
            values,
            release=release,
            namespace=namespace,
            kube_version=kube_version,
            api_versions=api_versions,
        )
        result = self.renderer.render(request)
        if not result.ok:
            raise RenderFailed(request.chart_dir, result.error)
        return Rendered.from_text(result.text)

    def error(
        self,
        chart: str | Path,
        values: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> str:
        """Render expecting failure; return helm's error message (fails if it rendered)."""
        try:
            self(chart, values, **kwargs)
        except RenderFailed as exc:
            return exc.message
        raise AssertionError(f"expected {chart} to fail to render with {values!r}, it rendered")

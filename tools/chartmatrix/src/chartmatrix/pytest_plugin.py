"""pytest plugin for chartmatrix (registered through the ``pytest11`` entry point).

Fixtures for hand-written chart tests
-------------------------------------
``render_chart`` (session scope) renders a chart with values and returns a
:class:`chartmatrix.manifests.Rendered`::

    def test_replicas(render_chart):
        out = render_chart("mysql", {"workload": {"replicas": 3}})
        #   chart: a path (absolute, or relative to the rootdir) or a bare name found
        #          under charts/<name> or chart_tests/<name>/chart
        #   values: one dict, or a list of dicts layered with Helm's rules
        #   keywords: release="test", namespace="default", kube_version=None,
        #             api_versions=() (Capabilities flags)
        sts = out.get("StatefulSet", "test-mysql")        # one object (KeyError names the
                                                          # rendered names when missing)
        assert out.get("StatefulSet")["spec"]["replicas"] == 3   # the only one of its kind
        assert len(out.of_kind("Service")) == 2           # list of dicts
        assert out.query("StatefulSet", "test-mysql",
                         "spec.template.spec.containers[name=mysql].image") == "mysql:8.4"
        assert out.query("StatefulSet", None,
                         'spec.template.metadata.annotations["checksum/config"]')
        out.all                                           # every object, helm's order
        out.has("PodDisruptionBudget")

    def test_bad_replicas(render_chart):
        msg = render_chart.error("mysql", {"workload": {"replicas": -1}})
        assert "workload.replicas must be >= 0" in msg

A failed render raises ``chartmatrix.fixtures.RenderFailed`` (an AssertionError) with
helm's message. ``manifest_query(obj, path)`` is the path query as a fixture;
``schema_errors(out, kube_version="1.30")`` lists strict schema errors (``[]`` = valid).
Charts are staged once per session, and again when one of their files changes
(``file://`` dependencies vendored fresh).

Matrix cases
------------
Every ``chart_tests/<chart>/matrix.yaml`` is collected: each case is its own test item
(``matrix.yaml::<case id>``), so ``-k 'replicas:3'`` selects cases; ``golden-files``
checks for orphaned golden files and ``mode-coverage`` the spec's ``coverage:`` list.
The selected cases of a spec render together (concurrently) on the first item.
Under pytest-xdist (``-n N``) a worker checks each case it is given on its own (one
renderer per worker); with ``--dist loadfile`` a spec's cases stay together and render
concurrently as without xdist.
Options: ``--update-golden``, ``--chartmatrix-strict`` (warnings fail),
``--chartmatrix-helm NAME|PATH``; ``CI`` set = CI golden mode.
Warning findings are reported as ``ChartmatrixWarning``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from chartmatrix.charts import load_chart
from chartmatrix.coverage import check_coverage
from chartmatrix.errors import ChartmatrixError
from chartmatrix.findings import Severity
from chartmatrix.fixtures import ChartRenderer
from chartmatrix.golden import orphans
from chartmatrix.manifests import Rendered, query
from chartmatrix.runner import CaseResult, Options, Runner, RunResult
from chartmatrix.spec import SPEC_FILE, Case, MatrixSpec, load_spec
from chartmatrix.validate import SchemaValidator


@pytest.fixture(scope="session")
def render_chart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ChartRenderer:
    """Render a chart with values; see the module docstring."""
    root = Path(str(request.config.rootpath))
    return ChartRenderer(root, tmp_path_factory.mktemp("chartmatrix-stage"))


@pytest.fixture(scope="session")
def schema_errors() -> Callable[..., list[str]]:
    """``schema_errors(rendered, kube_version="1.36", crds=())`` -> one line per strict
    schema error of every object (empty when all are valid); validators are shared by
    the whole session."""
    validator = SchemaValidator()

    def check(
        rendered: Rendered, kube_version: str = "1.36", crds: Sequence[Path] = ()
    ) -> list[str]:
        return [
            f.line()
            for m in rendered
            for f in validator.validate(m, kube_version, [Path(c) for c in crds])
        ]

    return check


@pytest.fixture(scope="session")
def manifest_query() -> Callable[..., Any]:
    """``manifest_query(obj, "spec.template.spec.containers[0].image")``."""
    return query


# ---------------------------------------------------------------------------------------
# Matrix cases as test items
# ---------------------------------------------------------------------------------------


class MatrixCaseFailed(Exception):
    """A case's checks failed; the message is the whole report (no traceback shown)."""


class ChartmatrixWarning(UserWarning):
    """A warning-severity finding of a matrix case."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chartmatrix")
    group.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="chartmatrix: rewrite golden files of the collected matrix cases",
    )
    group.addoption(
        "--chartmatrix-strict",
        action="store_true",
        default=False,
        help="chartmatrix: warning findings fail matrix cases",
    )
    group.addoption(
        "--chartmatrix-helm",
        default=None,
        metavar="NAME|PATH",
        help="chartmatrix: helm executable (helm, helm3 or a path)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == SPEC_FILE and file_path.parent.parent.name == "chart_tests":
        return MatrixFile.from_parent(parent, path=file_path)
    return None


class MatrixFile(pytest.File):
    """``chart_tests/<chart>/matrix.yaml``: one item per case, plus the golden-file check."""

    spec: MatrixSpec

    def collect(self) -> Iterator[pytest.Item]:
        try:
            self.spec = load_spec(self.path)
        except ChartmatrixError as exc:
            raise self.CollectError(exc.line()) from None
        for case in self.spec.cases:
            yield MatrixCase.from_parent(self, name=case.id, case=case)
        if self.spec.golden_dir is not None:
            yield GoldenFiles.from_parent(self, name="golden-files")
        if self.spec.coverage:
            yield ModeCoverage.from_parent(self, name="mode-coverage")


# pytest-xdist modes that send every item of a file to one worker (the rest spread them)
_WHOLE_FILE_MODES = ("loadfile", "loadscope", "each")


def _whole_file(config: pytest.Config) -> bool:
    """Whether this process runs every selected item of a spec: always, except on an
    xdist worker whose items of one file may be shared with other workers."""
    if not hasattr(config, "workerinput"):
        return True
    return config.getoption("dist", "no") in _WHOLE_FILE_MODES


_RUNNER_KEY = pytest.StashKey[Runner]()


def _runner(config: pytest.Config) -> Runner:
    """One runner per pytest process: renderers and validators start once."""
    if _RUNNER_KEY not in config.stash:
        options = Options(
            helm=config.getoption("--chartmatrix-helm"),
            update_golden=config.getoption("--update-golden"),
            ci=bool(os.environ.get("CI")),
            strict=config.getoption("--chartmatrix-strict"),
        )
        config.stash[_RUNNER_KEY] = Runner(options)
    return config.stash[_RUNNER_KEY]


class _Batch:
    """Runs the selected cases of one spec together (concurrent renders), once. Under
    pytest-xdist, where the items of one spec may go to several workers, each worker
    runs only the cases it is given, one per item: no case is checked (or its golden
    file written) twice."""

    def __init__(self) -> None:
        self.result: RunResult | None = None
        self.error: str | None = None
        self.found: dict[str, CaseResult] | None = None  # the whole file's, by case id

    def outcome(self, item: MatrixCase, spec: MatrixSpec) -> tuple[CaseResult | None, bool]:
        """The item's case result (None when it was not run) and whether the run is strict."""
        if not _whole_file(item.config):
            result = self._run(item, spec, {item.case.id})
            return next(iter(result.cases), None), result.strict
        result = self.get(item, spec)
        if self.found is None:  # each result read back from disk once, not once per item
            self.found = {c.case.id: c for c in result.cases}
        return self.found.get(item.case.id), result.strict

    def get(self, item: MatrixCase, spec: MatrixSpec) -> RunResult:
        if self.result is None and self.error is None:
            selected = {
                i.case.id
                for i in item.session.items
                if isinstance(i, MatrixCase) and i.parent is item.parent
            }
            try:
                self.result = self._run(item, spec, selected)
            except MatrixCaseFailed as exc:
                self.error = str(exc)
        if self.error is not None:
            raise MatrixCaseFailed(self.error)
        assert self.result is not None
        return self.result

    @staticmethod
    def _run(item: pytest.Item, spec: MatrixSpec, selected: set[str]) -> RunResult:
        try:
            return _runner(item.config).run([spec], only=lambda s, c: c.id in selected)
        except ChartmatrixError as exc:
            raise MatrixCaseFailed(exc.line()) from None


_BATCHES_KEY = pytest.StashKey[dict[str, _Batch]]()


def _spec_of(item: pytest.Item) -> MatrixSpec:
    parent = item.parent
    assert isinstance(parent, MatrixFile)
    return parent.spec


def _batch(item: pytest.Item) -> _Batch:
    batches = item.config.stash.setdefault(_BATCHES_KEY, {})
    return batches.setdefault(str(item.path), _Batch())


class MatrixCase(pytest.Item):
    """One matrix case: render, schema, rules and golden checks."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        spec = _spec_of(self)
        outcome, strict = _batch(self).outcome(self, spec)
        if outcome is None:
            raise MatrixCaseFailed(f"case {self.case.id} was not run")
        bad = [f for f in outcome.findings if f.severity is Severity.ERROR or strict]
        for f in outcome.findings:
            if f not in bad:
                warnings.warn(ChartmatrixWarning(f"{self.case.id}: {f.line()}"), stacklevel=1)
        if bad:
            text = "\n".join(f.line() for f in bad)
            if outcome.golden is not None and outcome.golden.diff:
                text += "\n\n" + outcome.golden.diff
            raise MatrixCaseFailed(text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, MatrixCaseFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.parent.name}::{self.case.id}"  # type: ignore[union-attr]


class GoldenFiles(pytest.Item):
    """Golden files that belong to no case (missing ones fail their case)."""

    def runtest(self) -> None:
        spec = _spec_of(self)
        if spec.golden_dir is None:
            return
        expected = [c.golden_name for c in spec.cases if c.expect_failure is None]
        extra = orphans(spec.golden_dir, expected)
        if extra and bool(os.environ.get("CI")):
            raise MatrixCaseFailed(
                "golden files that belong to no case: " + ", ".join(str(p) for p in extra)
            )
        for path in extra:
            warnings.warn(ChartmatrixWarning(f"orphaned golden file {path}"), stacklevel=1)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, MatrixCaseFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.parent.name}::golden-files"  # type: ignore[union-attr]


class ModeCoverage(pytest.Item):
    """Every value of the spec's ``coverage`` paths is rendered by some case."""

    def runtest(self) -> None:
        spec = _spec_of(self)
        try:
            findings = check_coverage(spec, load_chart(spec.chart_dir).defaults)
        except ChartmatrixError as exc:
            raise MatrixCaseFailed(exc.line()) from None
        if findings:
            raise MatrixCaseFailed("\n".join(f.line() for f in findings))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, MatrixCaseFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.path.parent.name}::mode-coverage"

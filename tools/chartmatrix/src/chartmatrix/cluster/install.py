"""``chartmatrix install``: what ``ct install`` does on a real cluster, and more.

Per chart and per ``ci/*-values.yaml`` (or the chart defaults when there is none):

1. a fresh namespace labelled to enforce Pod Security ``restricted``;
2. ``helm install --wait`` (through pyhelm3), then wait until every StatefulSet
   *and* Deployment is ready (ct only waits for Deployments);
3. with ``--upgrade``: the first install is the chart at a git ref (waited for
   and tested), then ``helm upgrade`` to the working tree and wait again;
4. ``helm test``;
5. ``helm uninstall --wait``, then check nothing is left in the namespace or
   cluster-wide but retained PVCs (and objects kept by ``helm.sh/resource-policy``);
6. delete the namespace.

A failing step stops the case; its message, the namespace's events and the
failing objects (not-ready workloads, pods, unbound claims) are kept for the report.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyhelm3 import Command
from pyhelm3 import errors as helm_errors

from chartmatrix.charts import load_chart, stage
from chartmatrix.cluster.install_kube import PSA_LABELS, Kube
from chartmatrix.errors import ChartmatrixError
from chartmatrix.render import clean_error
from chartmatrix.yamlfile import load_yaml_file


@dataclass(frozen=True)
class Case:
    """One install: a chart directory and one values file (None = chart defaults)."""

    chart_dir: Path
    chart: str
    values_file: Path | None
    old_chart_dir: Path | None = None  # --upgrade: the chart at the git ref
    old_values_file: Path | None = None

    @property
    def name(self) -> str:
        if self.values_file is None:
            return "default"
        return self.values_file.name.removesuffix(".yaml").removesuffix("-values")

    @property
    def case_id(self) -> str:
        return f"{self.chart}/{self.name}"

    def values(self) -> dict[str, Any]:
        return load_yaml_file(self.values_file) if self.values_file else {}

    def old_values(self) -> dict[str, Any]:
        return load_yaml_file(self.old_values_file) if self.old_values_file else {}


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class CaseResult:
    case: Case
    namespace: str
    steps: list[Step] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    @property
    def failure(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)

    def report(self) -> str:
        """The failure text: the failing step, events and objects."""
        lines = []
        failed = self.failure
        if failed:
            lines.append(f"{self.case.case_id}: step '{failed.name}' failed: {failed.detail}")
        if self.failing:
            lines.append("--- failing objects")
            lines.extend(self.failing)
        if self.events:
            lines.append(f"--- events in namespace {self.namespace}")
            lines.extend(self.events)
        return "\n".join(lines)


class StepFailed(Exception):
    def __init__(self, detail: str, diagnose: bool = True) -> None:
        super().__init__(detail)
        self.detail = detail
        self.diagnose = diagnose


def discover_cases(chart_dir: Path) -> list[Case]:
    """One case per ``ci/*-values.yaml`` (like ct), or one default case."""
    info = load_chart(chart_dir)
    if info.chart_type == "library":
        raise ChartmatrixError(chart_dir, "a library chart cannot be installed")
    files = sorted((info.path / "ci").glob("*-values.yaml"))
    if not files:
        return [Case(info.path, info.name, None)]
    return [Case(info.path, info.name, f) for f in files]


def namespace_for(case: Case) -> str:
    """``cm-<chart>-<case>-<hash>``: readable, unique per run, a valid DNS label."""
    digest = hashlib.sha256(f"{case.case_id}{time.time_ns()}".encode()).hexdigest()[:5]
    base = re.sub(r"[^a-z0-9-]+", "-", f"cm-{case.chart}-{case.name}".lower()).strip("-")
    return f"{base[:56].rstrip('-')}-{digest}"


class Installer:
    """Runs cases one after another against one cluster."""

    def __init__(
        self,
        kube: Kube,
        helm: str,
        timeout: float = 300.0,
        keep_namespace: bool = False,
        log: Callable[[str], None] | None = None,
        value_args: tuple[str, ...] = (),
    ) -> None:
        self.kube = kube
        # helm --values/--set/--set-string given for every case, laid over its own values
        self.value_args = value_args
        self.timeout = timeout
        self.keep_namespace = keep_namespace
        self.log = log or (lambda _msg: None)
        self.helm = Command(
            executable=helm,
            kubeconfig=kube.kubeconfig,
            kubecontext=kube.context,
            default_timeout=f"{int(timeout)}s",
        )

    def run(self, case: Case) -> CaseResult:
        result = CaseResult(case, namespace_for(case))
        release = re.sub(r"[^a-z0-9-]", "-", case.chart.lower())[:40]
        ns = result.namespace
        with tempfile.TemporaryDirectory(prefix="chartmatrix-install-") as tmp:
            try:
                self._step(result, "namespace", lambda: self.kube.create_namespace(ns, PSA_LABELS))
                if case.old_chart_dir is not None:
                    old = stage(case.old_chart_dir, Path(tmp) / "old")
                    self._step(
                        result,
                        "install (old)",
                        lambda: self._install(release, old, case.old_values(), ns),
                    )
                    self._step(result, "ready (old)", lambda: self._ready(ns))
                    self._step(result, "test (old)", lambda: self._test(release, ns))
                    new = stage(case.chart_dir, Path(tmp) / "new")
                    self._step(
                        result, "upgrade", lambda: self._install(release, new, case.values(), ns)
                    )
                else:
                    new = stage(case.chart_dir, Path(tmp) / "new")
                    self._step(
                        result, "install", lambda: self._install(release, new, case.values(), ns)
                    )
                self._step(result, "ready", lambda: self._ready(ns))
                self._step(result, "test", lambda: self._test(release, ns))
                self._step(result, "uninstall", lambda: self._uninstall(release, ns))
                self._step(result, "leftovers", lambda: self._leftovers(result, release, ns))
            except StepFailed as exc:
                if exc.diagnose:
                    self._diagnose(result)
                self._cleanup(release, ns)
            except ChartmatrixError as exc:
                result.steps.append(Step("prepare", False, 0.0, exc.line()))
                self._cleanup(release, ns)
            else:
                if not self.keep_namespace:
                    self.kube.delete_namespace(ns)
        return result

    # --- steps -------------------------------------------------------------------
    def _step(self, result: CaseResult, name: str, action: Callable[[], Any]) -> None:
        self.log(f"{result.case.case_id}: {name}")
        started = time.monotonic()
        try:
            action()
        except StepFailed as exc:
            result.steps.append(Step(name, False, time.monotonic() - started, exc.detail))
            raise
        except Exception as exc:  # API errors: one line, then diagnostics
            first = (str(exc).strip().splitlines() or [""])[0]
            detail = f"{type(exc).__name__}: {first}"
            result.steps.append(Step(name, False, time.monotonic() - started, detail))
            raise StepFailed(detail) from exc
        result.steps.append(Step(name, True, time.monotonic() - started))

    def _install(self, release: str, chart: Path, values: dict[str, Any], ns: str) -> None:
        timeout = f"{int(self.timeout)}s"
        command = ["upgrade", release, str(chart), "--install", "--namespace", ns]
        command += ["--wait", "--wait-for-jobs", "--timeout", timeout]
        # the case's values on stdin first: what the command line adds wins, as in helm
        command += ["--values", "-", *self.value_args]
        try:
            asyncio.run(self.helm.run(command, json.dumps(values).encode()))
        except helm_errors.Error as exc:
            raise StepFailed(clean_error(exc.stderr.decode(errors="replace"))) from None

    def _ready(self, ns: str) -> None:
        pending = self.kube.wait_ready(ns, self.timeout)
        if pending:
            names = ", ".join(f"{w['kind']}/{w['metadata']['name']}" for w in pending)
            raise StepFailed(f"not ready after {int(self.timeout)}s: {names}")

    def _test(self, release: str, ns: str) -> None:
        try:
            asyncio.run(
                self.helm.run(
                    ["test", release, "--namespace", ns, "--timeout", f"{int(self.timeout)}s"]
                )
            )
        except helm_errors.Error as exc:
            raise StepFailed(clean_error(exc.stderr.decode(errors="replace"))) from None

    def _uninstall(self, release: str, ns: str) -> None:
        try:
            asyncio.run(
                self.helm.uninstall(
                    release, namespace=ns, wait=True, timeout=f"{int(self.timeout)}s"
                )
            )
        except helm_errors.Error as exc:
            raise StepFailed(clean_error(exc.stderr.decode(errors="replace"))) from None

    def _leftovers(self, result: CaseResult, release: str, ns: str) -> None:
        # garbage collection of pods runs after uninstall returns: give it a moment
        unexpected: list[str] = []
        deadline = time.monotonic() + 60
        while True:
            unexpected, retained, settling = self.kube.leftovers(ns, release)
            if not unexpected or not settling or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        result.retained = retained
        if unexpected:
            raise StepFailed(f"left after uninstall: {', '.join(unexpected)}")

    def _diagnose(self, result: CaseResult) -> None:
        try:
            result.failing = self.kube.failing_objects(result.namespace)
            result.events = self.kube.events(result.namespace)
        except Exception as exc:  # diagnostics must not hide the failure itself
            result.events = [f"(could not read events: {exc})"]

    def _cleanup(self, release: str, ns: str) -> None:
        if self.keep_namespace:
            return
        with suppress(helm_errors.Error):
            asyncio.run(self.helm.uninstall(release, namespace=ns, wait=False, timeout="60s"))
        with suppress(Exception):
            self.kube.delete_namespace(ns)


@contextmanager
def staged(chart_dir: Path) -> Iterator[Path]:
    """The chart with its file:// dependencies vendored, in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="chartmatrix-chart-") as tmp:
        yield stage(chart_dir, Path(tmp) / chart_dir.name)

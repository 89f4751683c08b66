"""The per-case pipeline: render → parse → schema-validate → state rules → golden compare.

Renders run concurrently (one helm process per core); parsing, validation, rules and
golden comparison run in this process with compiled validators shared by every case.
Cases stream through in batches (:data:`BATCH_CASES`): each case of a batch is checked as
soon as its renders arrive, while the workers render the rest; a batch's renders are
dropped before the next, and a case keeps only its findings and notes, written to disk
once final (:class:`~chartmatrix.caselog.CaseLog`), so memory does not grow with the number
of cases.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from chartmatrix import golden as goldens
from chartmatrix.caselog import CaseLog
from chartmatrix.charts import (
    ChartInfo,
    dependency_problems,
    kube_version_allowed,
    load_chart,
    stage,
)
from chartmatrix.checksumconvention import DEFAULT as DEFAULT_CONVENTION
from chartmatrix.coverage import check_coverage
from chartmatrix.findings import Finding, Severity
from chartmatrix.goldenstage import GoldenStage, check_update
from chartmatrix.locate import locate
from chartmatrix.manifests import Manifest, ManifestParseError, parse
from chartmatrix.projectconfig import ProjectConfig, load_project_config
from chartmatrix.render import RenderRequest, RenderResult, brief_error, find_helm, helm_major
from chartmatrix.renderworker import make_renderer
from chartmatrix.rules import RULES, RuleContext, run_rules
from chartmatrix.spec import Case, MatrixSpec, Values
from chartmatrix.validate import SchemaValidator, rendered_crds, served, version_key
from chartmatrix.valuepaths import unknown_value_paths

CHECKS = ("render", "schema", "rules", "golden")
STAGES = ("render", "validate", "rules", "golden")
# cases rendered and checked together; their renders are dropped before the next batch
BATCH_CASES = 64


@dataclass
class Options:
    helm: str | None = None
    jobs: int | None = None
    update_golden: bool = False
    ci: bool = False
    strict: bool = False
    crds: tuple[Path, ...] = ()
    helm_args: tuple[str, ...] = ()  # passed to every helm template
    renderer: str | None = None  # "worker", "helm"; None: the worker when there is one


@dataclass
class CaseResult:
    chart: str
    case: Case
    findings: list[Finding] = field(default_factory=list)
    golden: goldens.GoldenResult | None = None
    manifests: int = 0
    ran: set[str] = field(default_factory=set)
    notes: dict[str, str] = field(default_factory=dict)  # what each check looked at
    seconds: float = 0.0  # its renders and checks: the cost --shard balances by

    def status(self, check: str, strict: bool = False) -> str:
        """pass | warn | fail | skip for one grid cell."""
        if check not in self.ran:
            return "skip"
        mine = [f for f in self.findings if f.check == check]
        if any(f.severity is Severity.ERROR for f in mine):
            return "fail"
        if mine:
            return "fail" if strict else "warn"
        return "pass"

    def failed(self, strict: bool = False) -> bool:
        return any(self.status(c, strict) == "fail" for c in CHECKS)


@dataclass
class ChartResult:
    spec: MatrixSpec
    cases: CaseLog = field(default_factory=CaseLog)  # on disk once final
    findings: list[Finding] = field(default_factory=list)  # chart level (orphans)
    selected: list[str] = field(default_factory=list)  # a shard's: every shard's case ids
    unused_masks: list[Finding] = field(default_factory=list)  # a shard's: for the merge

    def failed(self, strict: bool = False) -> bool:
        bad = {Severity.ERROR} | ({Severity.WARNING} if strict else set())
        return any(c.failed(strict) for c in self.cases) or any(
            f.severity in bad for f in self.findings
        )


@dataclass
class RunResult:
    charts: list[ChartResult]
    timings: dict[str, float]
    wall: float
    strict: bool = False
    shard: tuple[int, int] | None = None  # (I, N) of run --shard I/N
    helm: int = 0  # a shard's Helm major: shards of two majors render differently

    @property
    def cases(self) -> Iterator[CaseResult]:
        """Every chart's cases, one at a time (they are read back from disk)."""
        return (c for chart in self.charts for c in chart.cases)

    @property
    def case_count(self) -> int:
        return sum(len(chart.cases) for chart in self.charts)

    def failed(self) -> bool:
        return any(c.failed(self.strict) for c in self.charts)


Progress = Callable[[str, int, int], None]
Selector = Callable[[MatrixSpec, Case], bool]


def _request_key(req: RenderRequest) -> str:
    return json.dumps(
        [
            str(req.chart_dir),
            req.release,
            req.namespace,
            req.kube_version,
            req.api_versions,
            req.helm_args,
            req.values,
        ],
        sort_keys=True,
        default=str,
    )


def _both(only: Selector | None, shard: Selector) -> Selector:
    """The cases of ``shard`` that ``only`` (when given) selects."""
    return lambda spec, case: (only is None or only(spec, case)) and shard(spec, case)


def _highest(versions: tuple[str, ...]) -> str:
    return max(versions, key=version_key)


def _duplicates(manifests: list[Manifest], case: Case) -> list[Finding]:
    """Objects rendered twice (two subcharts making one Secret): helm template prints
    both, helm install creates the first and fails on the second."""
    seen: dict[tuple[str, str, str, str], Manifest] = {}
    found = []
    for m in manifests:
        if not m.name:
            continue
        key = (m.api_version.rpartition("/")[0], m.kind, m.namespace or case.namespace, m.name)
        first = seen.setdefault(key, m)
        if first is not m:
            where = f"{first.source} and {m.source}" if first.source != m.source else m.source
            found.append(
                Finding(
                    "render",
                    "render/duplicate",
                    Severity.ERROR,
                    f"rendered twice ({where}): helm install creates it and fails on the "
                    "second with 'already exists'",
                    resource=m.ref,
                )
            )
    return found


def _helm_args(given: tuple[str, ...], spec: tuple[str, ...]) -> tuple[str, ...]:
    """The command line's helm flags, then the spec's that it does not repeat."""
    return given + tuple(a for a in spec if a not in given)


def _served_kinds(info: ChartInfo, version: str, given: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in info.tested_kinds if k not in given and served(k, version))


def _allowed_versions(info: ChartInfo, versions: tuple[str, ...]) -> dict[str, bool | None]:
    return {v: kube_version_allowed(info.kube_version_constraint, v) for v in versions}


def _chart_findings(spec: MatrixSpec, staged_dir: Path, project: ProjectConfig) -> list[Finding]:
    """What is wrong with the chart or the spec as a whole, before any case."""
    out = [
        Finding("render", "chart/dependency-version", Severity.ERROR, problem)
        for problem in dependency_problems(staged_dir)
    ]
    out.extend(
        Finding("render", "spec/deprecated", Severity.WARNING, note)
        for note in (*project.deprecations, *spec.deprecations)
    )
    out.extend(
        Finding("render", "spec/unknown-value", Severity.WARNING, message)
        for message in unknown_value_paths(spec, staged_dir)
    )
    return [f for f in out if not any(s.matches(f.rule, "*", "") for s in spec.suppress)]


class Runner:
    def __init__(self, options: Options, progress: Progress | None = None) -> None:
        self.options = options
        self.progress = progress or (lambda stage, done, total: None)
        self.renderer = make_renderer(options.helm, options.jobs, options.renderer)
        self.validator = SchemaValidator(options.crds)
        self.timings = dict.fromkeys(STAGES, 0.0)
        self.project = load_project_config()  # chartmatrix.yaml / pyproject.toml
        self.severities = self.project.severities()
        # cases of this run rendered and checked, and how many, for the progress bar
        self._rendered = self._checked = self._planned = 0

    def run(
        self, specs: list[MatrixSpec], only: Selector | None = None, shard: Selector | None = None
    ) -> RunResult:
        """Run every case of ``specs`` (or those ``only`` selects). ``shard``: this run is
        one part of a sharded run (``chartmatrix merge`` joins the parts): it checks the
        cases ``shard`` selects, and keeps the masks no case of its own used apart
        (``ChartResult.unused_masks``): the merge reports those that no shard used."""
        started = time.perf_counter()
        self.timings = dict.fromkeys(STAGES, 0.0)
        check_update(specs, self.options.update_golden)
        self._golden = GoldenStage(
            specs,
            update=self.options.update_golden,
            ci=self.options.ci,
            renderer=self.renderer,
            timings=self.timings,
            progress=self.progress,
        )
        with tempfile.TemporaryDirectory(prefix="chartmatrix-") as tmp:
            infos = [load_chart(s.chart_dir) for s in specs]
            staged = [
                stage(s.chart_dir, Path(tmp) / f"{i}" / s.chart_dir.name)
                for i, s in enumerate(specs)
            ]
            selected = only if shard is None else _both(only, shard)
            charts = [ChartResult(s) for s in specs]
            for chart, staged_dir in zip(charts, staged, strict=True):
                chart.findings.extend(_chart_findings(chart.spec, staged_dir, self.project))
                if shard is not None:
                    spec = chart.spec
                    chart.selected = [c.id for c in spec.cases if only is None or only(spec, c)]
            # streamed in batches: a batch's cases are checked as their renders arrive
            # (the workers go on rendering meanwhile), then its renders are dropped, so
            # memory stays flat however many cases there are
            self._checked = self._rendered = 0
            self._planned = sum(
                1 for s in specs for c in s.cases if selected is None or selected(s, c)
            )
            for batch, requests in self._batches(specs, infos, staged, selected):
                outcomes = self._run_batch(specs, infos, batch, requests)
                for (i, _, _), outcome in zip(batch, outcomes, strict=True):
                    charts[i].cases.append(outcome)
                self._golden.settle()
                held = self._golden.held()  # final now, but for these
                for chart in charts:
                    chart.cases.spill(keep=lambda result, held=held: id(result) in held)
            self._golden.finish()
            for chart in charts:
                chart.cases.spill()
            for chart, info in zip(charts, infos, strict=True):
                self._golden.chart(
                    chart, prune=selected is None, whole=only is None and shard is not None
                )
                if only is None:
                    chart.findings.extend(check_coverage(chart.spec, info.defaults))
        return RunResult(
            charts,
            dict(self.timings),
            time.perf_counter() - started,
            self.options.strict,
            helm=helm_major(find_helm(self.options.helm)) if shard is not None else 0,
        )

    def _run_batch(
        self,
        specs: list[MatrixSpec],
        infos: list[ChartInfo],
        batch: list[tuple[int, Case, dict[str, int]]],
        requests: list[RenderRequest],
    ) -> list[CaseResult]:
        """Render what a batch of cases needs and check each case as soon as its renders
        are in; the results in the batch's order."""
        used = [{r for r in per_version.values() if r >= 0} for _, _, per_version in batch]
        needed = sorted(set().union(*used))
        results: dict[int, RenderResult] = {}
        missing = [set(renders) for renders in used]  # emptied as the renders arrive
        waiting: dict[int, list[int]] = {}  # render -> the batch's cases that wait for it
        for at, renders in enumerate(used):
            for r in renders:
                waiting.setdefault(r, []).append(at)
        outcomes: list[CaseResult | None] = [None] * len(batch)
        checking = 0.0
        failure: list[BaseException] = []  # raised after the renders, never inside them

        def check(at: int) -> None:
            nonlocal checking
            t0 = time.perf_counter()
            i, case, per_version = batch[at]
            outcome = self._case(specs[i], infos[i], case, per_version, results, requests)
            outcome.seconds += time.perf_counter() - t0
            outcome.seconds += sum(results[r].seconds for r in used[at])
            outcomes[at] = outcome
            checking += time.perf_counter() - t0
            self._checked += 1
            self.progress("check", self._checked, self._planned)

        def rendered(k: int, result: RenderResult) -> None:
            results[needed[k]] = result
            for at in waiting.get(needed[k], ()):
                missing[at].discard(needed[k])
                if not missing[at]:
                    self._rendered += 1
                    self.progress("render", self._rendered, self._planned)
                if not missing[at] and not failure:
                    try:
                        check(at)
                    except BaseException as exc:  # re-raised once the renders are done
                        failure.append(exc)

        t0 = time.perf_counter()
        found = self.renderer.render_many([requests[r] for r in needed], rendered)
        self.timings["render"] += time.perf_counter() - t0 - checking
        if failure:
            raise failure[0]
        for r, result in zip(needed, found, strict=True):
            results.setdefault(r, result)
        ordered: list[CaseResult] = []
        for at in range(len(batch)):
            if outcomes[at] is None:  # no render to wait for (every version excluded)
                self._rendered += 1
                check(at)
            outcome = outcomes[at]
            assert outcome is not None
            ordered.append(outcome)
        return ordered

    def _values_read(self, case: Case) -> Values:
        """The case's values as the helm in use reads them (a multi-document ci file)."""
        if case.helm3_values is None:
            return case.values
        return case.helm3_values if helm_major(find_helm(self.options.helm)) == 3 else case.values

    def _batches(
        self,
        specs: list[MatrixSpec],
        infos: list[ChartInfo],
        staged: list[Path],
        only: Selector | None,
    ) -> Iterator[tuple[list[tuple[int, Case, dict[str, int]]], list[RenderRequest]]]:
        """The selected cases, :data:`BATCH_CASES` at a time, planned as each batch is
        reached (nothing is kept per case of the run): the batch's renders (deduplicated)
        and, per case, which render serves each Kubernetes version (-1: Chart.yaml's
        kubeVersion excludes that version)."""
        batch: list[tuple[int, Case, dict[str, int]]] = []
        requests: list[RenderRequest] = []
        index: dict[str, int] = {}
        for i, (s, info) in enumerate(zip(specs, infos, strict=True)):
            for case in s.cases:
                if only is not None and not only(s, case):
                    continue
                per_version: dict[str, int] = {}
                allowed = _allowed_versions(info, case.kube_versions)
                # one render serves every version unless the templates read
                # .Capabilities.KubeVersion (or Chart.yaml's kubeVersion is unclear)
                usable = [v for v in case.kube_versions if allowed[v] is not False]
                top = _highest(tuple(usable)) if usable else _highest(case.kube_versions)
                # the built-in kinds the templates test that each version serves (a real
                # cluster advertises them; helm template alone knows none)
                kinds = {v: _served_kinds(info, v, case.api_versions) for v in usable}
                per_kube = (
                    info.reads_kube_version
                    or None in allowed.values()
                    or len(set(kinds.values())) > 1
                )
                for version in case.kube_versions:
                    if allowed[version] is False:
                        per_version[version] = -1
                        continue
                    req = RenderRequest(
                        chart_dir=staged[i],
                        values=self._values_read(case),
                        release=case.release,
                        namespace=case.namespace,
                        kube_version=version if per_kube else top,
                        api_versions=case.api_versions + kinds[version if per_kube else top],
                        helm_args=_helm_args(self.options.helm_args, s.helm_args),
                    )
                    key = _request_key(req)
                    if key not in index:
                        index[key] = len(requests)
                        requests.append(req)
                    per_version[version] = index[key]
                batch.append((i, case, per_version))
                if len(batch) == BATCH_CASES:
                    yield batch, requests
                    batch, requests, index = [], [], {}
        if batch:
            yield batch, requests

    def _case(
        self,
        spec: MatrixSpec,
        info: ChartInfo,
        case: Case,
        per_version: dict[str, int],
        results: dict[int, RenderResult],
        requests: list[RenderRequest],
    ) -> CaseResult:
        out = CaseResult(spec.name, case)
        out.ran.add("render")
        out.findings.extend(
            Finding("render", rule, Severity.WARNING, message)
            for rule, message in case.warnings
            if not case.suppressed(rule, "")
        )
        excluded = [v for v, r in per_version.items() if r < 0]
        per_version = {v: r for v, r in per_version.items() if r >= 0}
        for version in excluded:
            message = (
                f"Chart.yaml kubeVersion {info.kube_version_constraint!r} excludes "
                f"Kubernetes {version}: helm refuses to render or install it there"
            )
            if case.expect_failure is None or not re.search(case.expect_failure, message):
                out.findings.append(
                    Finding(
                        "render",
                        "render/kube-version",
                        Severity.ERROR,
                        message,
                        kube_version=version,
                    )
                )
        if not per_version:
            return out
        top = _highest(tuple(per_version))
        primary = results[per_version[top]]
        if case.expect_failure is not None:
            self._expect_failure(out, case, primary)
            return out
        failed = [(v, results[r]) for v, r in per_version.items() if not results[r].ok]
        if failed:
            for version, failure in failed:
                out.findings.append(
                    Finding(
                        "render",
                        "render/failed",
                        Severity.ERROR,
                        brief_error(failure.error),
                        kube_version=version if info.reads_kube_version else "",
                    )
                )
            return out
        parsed: dict[int, list[Manifest]] = {}
        try:
            for r in set(per_version.values()):
                parsed[r] = parse(results[r].text)
        except ManifestParseError as exc:
            out.findings.append(Finding("render", "render/parse", Severity.ERROR, str(exc)))
            return out
        manifests = parsed[per_version[top]]
        out.manifests = len(manifests)
        out.findings.extend(
            f for f in _duplicates(manifests, case) if not case.suppressed(f.rule, f.resource)
        )
        renders = len(set(per_version.values()))
        out.notes["render"] = (
            f"{len(manifests)} objects; {renders} helm render(s) for Kubernetes "
            f"{', '.join(per_version)}"
        )
        out.notes["schema"] = (
            f"{len(manifests)} objects against the strict schemas of Kubernetes "
            f"{', '.join(per_version)}"
        )
        t0 = time.perf_counter()
        out.ran.add("schema")
        for version, r in per_version.items():
            crds = rendered_crds(parsed[r])
            for m in parsed[r]:
                out.findings.extend(
                    f
                    for f in self.validator.validate(m, version, case.crds, crds)
                    if not case.suppressed(f.rule, f.resource)
                )
        t1 = time.perf_counter()
        self.timings["validate"] += t1 - t0
        # also when updating: accepting a render that changes an immutable field is exactly
        # when the upgrade hazard must be seen (suppress upgrade/immutable-field to accept it)
        draft = self._golden.prepare(spec, case, manifests, clock=info.reads_clock)
        out.findings.extend(draft.findings)
        t2 = time.perf_counter()
        self.timings["golden"] += t2 - t1
        ctx = RuleContext(
            manifests=manifests,  # as rendered: masks are for golden files only
            normalized=draft.normalized,
            namespace=case.namespace,
            external=spec.external,
            checksum_convention=spec.checksum_convention
            or self.project.checksum_convention
            or DEFAULT_CONVENTION,
            golden=draft.previous,
        )
        out.ran.add("rules")
        raw = run_rules(ctx, severities=self.severities)
        kept = [f for f in raw if not case.suppressed(f.rule, f.resource)]
        out.findings.extend(kept)
        # the templates behind rendered objects are known only here, while manifests live
        out.findings[:] = locate(out.findings, spec, case, manifests)
        texts = {r: results[r].text for r in parsed}
        versions_own, dropped = self._lower_version_rules(
            spec, case, ctx, raw, per_version, parsed, texts
        )
        out.findings.extend(versions_own)
        suppressed = len(raw) - len(kept) + dropped
        out.notes["rules"] = f"{len(RULES)} rules; {suppressed} finding(s) suppressed"
        t3 = time.perf_counter()
        self.timings["rules"] += t3 - t2
        self._golden.add(out, spec, draft, requests[per_version[top]])  # compared later
        lower = [
            (version, parsed[r], requests[r])
            for version, r in sorted(per_version.items(), key=lambda vr: version_key(vr[0]))
            if texts[r] != texts[per_version[top]]
        ]
        if lower:
            self._golden.add_lower(out, spec, draft, lower)
            self.timings["golden"] += time.perf_counter() - t3
        return out

    def _lower_version_rules(
        self,
        spec: MatrixSpec,
        case: Case,
        top: RuleContext,
        found: list[Finding],
        per_version: dict[str, int],
        parsed: dict[int, list[Manifest]],
        texts: dict[int, str],
    ) -> tuple[list[Finding], int]:
        """The rules' findings on each other Kubernetes version's render, where it differs
        from the highest version's (a chart reading ``.Capabilities.KubeVersion``): those
        the highest version's render does not have, tagged with their version; and how
        many were suppressed. The upgrade rules compare with the golden file, which holds
        the highest version's render, so they run there alone."""
        top_text = texts[per_version[_highest(tuple(per_version))]]
        versions: dict[str, list[str]] = {}  # render text -> the versions it serves
        render: dict[str, int] = {}
        for version in sorted(per_version, key=version_key):
            text = texts[per_version[version]]
            if text != top_text:
                versions.setdefault(text, []).append(version)
                render.setdefault(text, per_version[version])
        seen = {(f.rule, f.resource, f.path, f.message) for f in found}
        out: list[Finding] = []
        dropped = 0
        for text, served_by in versions.items():
            r = render[text]
            ctx = replace(top, manifests=parsed[r], normalized=None, golden=None)
            fresh = []
            for f in run_rules(ctx, severities=self.severities):
                key = (f.rule, f.resource, f.path, f.message)
                if key in seen:
                    continue
                seen.add(key)
                if case.suppressed(f.rule, f.resource):
                    dropped += 1
                    continue
                fresh.append(replace(f, kube_version=", ".join(served_by)))
            out.extend(locate(fresh, spec, case, parsed[r]))
        return out, dropped

    def _expect_failure(self, out: CaseResult, case: Case, result: RenderResult) -> None:
        pattern = case.expect_failure or ""
        if not result.ok:
            out.notes["render"] = f"failed as expected (/{pattern}/): {result.error}"
        if result.ok:
            out.findings.append(
                Finding(
                    "render",
                    "expect/rendered",
                    Severity.ERROR,
                    f"expected the render to fail with /{pattern}/, but it rendered",
                )
            )
        elif not re.search(pattern, result.error):
            out.findings.append(
                Finding(
                    "render",
                    "expect/message",
                    Severity.ERROR,
                    f"render failed as expected, but the message does not match "
                    f"/{pattern}/: {result.error}",
                )
            )

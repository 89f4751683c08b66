"""A plain-data view of a run shared by every report format (its cases are read as
they are written: :class:`CaseRecords`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from chartmatrix.findings import Finding
from chartmatrix.locate import in_golden_file, locate
from chartmatrix.runner import CHECKS, CaseResult, ChartResult, RunResult
from chartmatrix.spec import MatrixSpec


def located(case: CaseResult, spec: MatrixSpec) -> list[Finding]:
    """The case's findings with the file and line each points at (where known)."""
    findings = locate(case.findings, spec, case.case)
    if case.golden is not None:
        findings = in_golden_file(findings, case.golden.file, case.golden.diff)
    return findings


def case_details(case: CaseResult, check: str, findings: list[Finding]) -> dict[str, Any]:
    findings_here = [f.as_dict() for f in findings if f.check == check]
    diff = ""
    if check == "golden" and case.golden is not None:
        diff = case.golden.diff
    return {"findings": findings_here, "diff": diff, "note": case.notes.get(check, "")}


def case_record(case: CaseResult, spec: MatrixSpec, strict: bool) -> dict[str, Any]:
    """One case of the report."""
    findings = located(case, spec)
    return {
        "id": case.case.id,
        "origin": case.case.origin,
        "expect_failure": case.case.expect_failure,
        "kube_versions": list(case.case.kube_versions),  # rendered, validated and checked
        "manifests": case.manifests,
        "failed": case.failed(strict),
        "status": {c: case.status(c, strict) for c in CHECKS},
        "checks": {c: case_details(case, c, findings) for c in CHECKS},
        "golden": (
            {"status": case.golden.status, "file": str(case.golden.file)} if case.golden else None
        ),
        "seconds": round(case.seconds, 4),  # what --shard-timings reads
    }


class CaseRecords(Sequence[dict[str, Any]]):
    """A chart's cases in the report, each made when it is read from the run's results
    (which are on disk): a report file is written case by case, and never holds every
    case of a large run at once."""

    def __init__(self, chart: ChartResult, strict: bool) -> None:
        self._chart = chart
        self._strict = strict

    def __len__(self) -> int:
        return len(self._chart.cases)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return case_record(self._chart.cases[index], self._chart.spec, self._strict)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for case in self._chart.cases:
            yield case_record(case, self._chart.spec, self._strict)


def to_dict(run: RunResult, *, lazy: bool = False) -> dict[str, Any]:
    """The run as plain data. ``lazy``: each chart's ``cases`` is a
    :class:`CaseRecords`, read as it is written (the report writers take either)."""
    charts = []
    for chart in run.charts:
        records = CaseRecords(chart, run.strict)
        charts.append(
            {
                "name": chart.spec.name,
                "chart": str(chart.spec.chart_dir),
                "spec": str(chart.spec.spec_file) if chart.spec.spec_file else None,
                "failed": chart.failed(run.strict),
                "findings": [f.as_dict() for f in locate(chart.findings, chart.spec, None)],
                "cases": records if lazy else list(records),
            }
        )
    out: dict[str, Any] = {
        "ok": not run.failed(),
        "strict": run.strict,
        "cases": run.case_count,
        "failed": sum(1 for c in run.cases if c.failed(run.strict)),
        "seconds": round(run.wall, 3),
        "timings_ms": {k: round(v * 1000, 1) for k, v in run.timings.items()},
        "charts": charts,
    }
    if run.shard is not None:
        out["shard"] = shard_block(run)
    return out


def shard_block(run: RunResult) -> dict[str, Any]:
    """What ``chartmatrix merge`` checks shards against: which shard, of which specs
    (their digests and every case id each shard run had to cover)."""
    from chartmatrix import __version__
    from chartmatrix.shard import spec_digest

    assert run.shard is not None
    index, count = run.shard
    return {
        "index": index,
        "count": count,
        "chartmatrix": __version__,
        "helm": run.helm,
        "specs": {
            chart.spec.name: {"digest": spec_digest(chart.spec), "cases": chart.selected}
            for chart in run.charts
        },
        # masks no case of this shard used (golden/unused-mask findings when no shard did)
        "unused_masks": {
            chart.spec.name: [f.as_dict() for f in chart.unused_masks] for chart in run.charts
        },
    }

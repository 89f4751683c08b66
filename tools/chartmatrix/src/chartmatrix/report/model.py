"""A plain-data view of a run shared by every report format."""

from __future__ import annotations

from typing import Any

from chartmatrix.findings import Finding
from chartmatrix.locate import in_golden_file, locate
from chartmatrix.runner import CHECKS, CaseResult, RunResult
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


def to_dict(run: RunResult) -> dict[str, Any]:
    charts = []
    for chart in run.charts:
        cases = []
        for case in chart.cases:
            findings = located(case, chart.spec)
            cases.append(
                {
                    "id": case.case.id,
                    "origin": case.case.origin,
                    "expect_failure": case.case.expect_failure,
                    "manifests": case.manifests,
                    "failed": case.failed(run.strict),
                    "status": {c: case.status(c, run.strict) for c in CHECKS},
                    "checks": {c: case_details(case, c, findings) for c in CHECKS},
                    "golden": (
                        {"status": case.golden.status, "file": str(case.golden.file)}
                        if case.golden
                        else None
                    ),
                    "seconds": round(case.seconds, 4),  # what --shard-timings reads
                }
            )
        charts.append(
            {
                "name": chart.spec.name,
                "chart": str(chart.spec.chart_dir),
                "spec": str(chart.spec.spec_file) if chart.spec.spec_file else None,
                "failed": chart.failed(run.strict),
                "findings": [f.as_dict() for f in locate(chart.findings, chart.spec, None)],
                "cases": cases,
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
        "specs": {
            chart.spec.name: {"digest": spec_digest(chart.spec), "cases": chart.selected}
            for chart in run.charts
        },
        # masks no case of this shard used (golden/unused-mask findings when no shard did)
        "unused_masks": {
            chart.spec.name: [f.as_dict() for f in chart.unused_masks] for chart in run.charts
        },
    }

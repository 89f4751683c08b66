"""A plain-data view of a run shared by every report format."""

from __future__ import annotations

from typing import Any

from chartmatrix.runner import CHECKS, CaseResult, RunResult


def case_details(case: CaseResult, check: str) -> dict[str, Any]:
    findings = [f.as_dict() for f in case.findings if f.check == check]
    diff = ""
    if check == "golden" and case.golden is not None:
        diff = case.golden.diff
    return {"findings": findings, "diff": diff, "note": case.notes.get(check, "")}


def to_dict(run: RunResult) -> dict[str, Any]:
    charts = []
    for chart in run.charts:
        cases = []
        for case in chart.cases:
            cases.append(
                {
                    "id": case.case.id,
                    "origin": case.case.origin,
                    "expect_failure": case.case.expect_failure,
                    "manifests": case.manifests,
                    "failed": case.failed(run.strict),
                    "status": {c: case.status(c, run.strict) for c in CHECKS},
                    "checks": {c: case_details(case, c) for c in CHECKS},
                    "golden": (
                        {"status": case.golden.status, "file": str(case.golden.file)}
                        if case.golden
                        else None
                    ),
                }
            )
        charts.append(
            {
                "name": chart.spec.name,
                "chart": str(chart.spec.chart_dir),
                "spec": str(chart.spec.spec_file) if chart.spec.spec_file else None,
                "failed": chart.failed(run.strict),
                "findings": [f.as_dict() for f in chart.findings],
                "cases": cases,
            }
        )
    return {
        "ok": not run.failed(),
        "strict": run.strict,
        "cases": len(run.cases),
        "failed": sum(1 for c in run.cases if c.failed(run.strict)),
        "seconds": round(run.wall, 3),
        "timings_ms": {k: round(v * 1000, 1) for k, v in run.timings.items()},
        "charts": charts,
    }

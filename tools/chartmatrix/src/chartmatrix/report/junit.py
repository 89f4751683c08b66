"""``--junit FILE``: one testsuite per chart, one testcase per case."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from chartmatrix.findings import Severity
from chartmatrix.runner import RunResult


def write_junit(run: RunResult, file: Path) -> None:
    suites = ET.Element("testsuites", name="chartmatrix", time=f"{run.wall:.3f}")
    for chart in run.charts:
        failures = sum(1 for c in chart.cases if c.failed(run.strict))
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=chart.spec.name,
            tests=str(len(chart.cases)),
            failures=str(failures),
            errors="0",
        )
        for case in chart.cases:
            tc = ET.SubElement(suite, "testcase", classname=chart.spec.name, name=case.case.id)
            errors = [
                f
                for f in case.findings
                if f.severity is Severity.ERROR or (run.strict and f.severity is Severity.WARNING)
            ]
            if errors:
                failure = ET.SubElement(
                    tc, "failure", message=f"{len(errors)} problem(s): {errors[0].rule}"
                )
                text = "\n".join(f.line() for f in errors)
                if case.golden is not None and case.golden.diff:
                    text += "\n\n" + case.golden.diff
                failure.text = text
            warnings = [f for f in case.findings if f not in errors]
            if warnings:
                ET.SubElement(tc, "system-out").text = "\n".join(f.line() for f in warnings)
        if chart.findings:
            tc = ET.SubElement(suite, "testcase", classname=chart.spec.name, name="chart-checks")
            bad = [f for f in chart.findings if f.severity is Severity.ERROR or run.strict]
            if bad:
                ET.SubElement(tc, "failure", message="golden files / coverage").text = "\n".join(
                    f.line() for f in bad
                )
    ET.ElementTree(suites).write(file, encoding="utf-8", xml_declaration=True)

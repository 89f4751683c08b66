"""``--junit FILE``: one testsuite per chart, one testcase per case.

Written from the report's plain data (:func:`chartmatrix.report.model.to_dict`), so a
run and a ``chartmatrix merge`` of its shards give the same file; written testcase by
testcase, so a large run's report is never held whole.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chartmatrix.findings import Finding, Severity
from chartmatrix.report.output import write_pieces
from chartmatrix.runner import CHECKS


def _findings(case: dict[str, Any]) -> list[Finding]:
    return [Finding.from_dict(f) for c in CHECKS for f in case["checks"][c]["findings"]]


def _start(tag: str, **attributes: str) -> str:
    """An opening tag, its attributes escaped as ElementTree escapes them."""
    empty = ET.tostring(ET.Element(tag, attributes), encoding="unicode")
    return empty.removesuffix(" />") + ">"


def _testcase(name: str, case: dict[str, Any], strict: bool) -> ET.Element:
    tc = ET.Element("testcase", classname=name, name=case["id"])
    found = _findings(case)
    bad = {Severity.ERROR, Severity.WARNING} if strict else {Severity.ERROR}
    errors = [f for f in found if f.severity in bad]
    if errors:
        failure = ET.SubElement(
            tc, "failure", message=f"{len(errors)} problem(s): {errors[0].rule}"
        )
        text = "\n".join(f.line() for f in errors)
        diff = case["checks"]["golden"]["diff"]
        if diff:
            text += "\n\n" + diff
        failure.text = text
    warnings = [f for f in found if f not in errors]
    if warnings:
        ET.SubElement(tc, "system-out").text = "\n".join(f.line() for f in warnings)
    return tc


def _chart_checks(name: str, chart: dict[str, Any], strict: bool) -> ET.Element:
    tc = ET.Element("testcase", classname=name, name="chart-checks")
    chart_findings = [Finding.from_dict(f) for f in chart["findings"]]
    bad = [f for f in chart_findings if f.severity is Severity.ERROR or strict]
    if bad:
        ET.SubElement(tc, "failure", message="golden files / coverage").text = "\n".join(
            f.line() for f in bad
        )
    return tc


def junit_pieces(data: dict[str, Any]) -> Iterator[str]:
    """The JUnit XML of a report, in pieces."""
    strict = bool(data["strict"])
    yield "<?xml version='1.0' encoding='utf-8'?>\n"
    yield _start("testsuites", name="chartmatrix", time=f"{data['seconds']:.3f}")
    for chart in data["charts"]:
        name = chart["name"]
        failures = sum(1 for c in chart["cases"] if c["failed"])  # a first pass
        yield _start(
            "testsuite",
            name=name,
            tests=str(len(chart["cases"])),
            failures=str(failures),
            errors="0",
        )
        for case in chart["cases"]:
            yield ET.tostring(_testcase(name, case, strict), encoding="unicode")
        if chart["findings"]:
            yield ET.tostring(_chart_checks(name, chart, strict), encoding="unicode")
        yield "</testsuite>"
    yield "</testsuites>"


def write_junit_data(data: dict[str, Any], file: Path) -> None:
    write_pieces(file, junit_pieces(data))

"""``--junit FILE``: one testsuite per chart, one testcase per case.

Written from the report's plain data (:func:`chartmatrix.report.model.to_dict`), so a
run and a ``chartmatrix merge`` of its shards give the same file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chartmatrix.findings import Finding, Severity
from chartmatrix.runner import CHECKS


def _findings(case: dict[str, Any]) -> list[Finding]:
    return [Finding.from_dict(f) for c in CHECKS for f in case["checks"][c]["findings"]]


def junit_tree(data: dict[str, Any]) -> ET.ElementTree:
    strict = bool(data["strict"])
    suites = ET.Element("testsuites", name="chartmatrix", time=f"{data['seconds']:.3f}")
    for chart in data["charts"]:
        name = chart["name"]
        failures = sum(1 for c in chart["cases"] if c["failed"])
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=name,
            tests=str(len(chart["cases"])),
            failures=str(failures),
            errors="0",
        )
        for case in chart["cases"]:
            tc = ET.SubElement(suite, "testcase", classname=name, name=case["id"])
            found = _findings(case)
            errors = [
                f
                for f in found
                if f.severity is Severity.ERROR or (strict and f.severity is Severity.WARNING)
            ]
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
        if chart["findings"]:
            tc = ET.SubElement(suite, "testcase", classname=name, name="chart-checks")
            chart_findings = [Finding.from_dict(f) for f in chart["findings"]]
            bad = [f for f in chart_findings if f.severity is Severity.ERROR or strict]
            if bad:
                ET.SubElement(tc, "failure", message="golden files / coverage").text = "\n".join(
                    f.line() for f in bad
                )
    return ET.ElementTree(suites)


def write_junit_data(data: dict[str, Any], file: Path) -> None:
    junit_tree(data).write(file, encoding="utf-8", xml_declaration=True)

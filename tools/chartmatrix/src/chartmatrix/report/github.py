"""``--github-annotations``: findings as GitHub Actions workflow commands.

Each finding becomes ``::error file=F,line=N,title=T::message`` (``::warning`` for a
warning), which GitHub shows on the pull request's line. It reads the plain-data report
(``report.model.to_dict``, the same as ``--json``), so a merged report annotates too.
The same finding in many cases is one annotation naming the cases: GitHub shows only
the first few annotations of a step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SHOWN_CASES = 5


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workspace_path(file: str, workspace: Path) -> str:
    """``file`` relative to the repository checkout; "" when it lies outside it (a
    packaged chart unpacked to a temporary directory): GitHub cannot show it on a line."""
    if not file:
        return ""
    try:
        return Path(file).resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        return ""


def _findings(report: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(chart, case id or "", finding) for every finding of the report."""
    for chart in report.get("charts", []):
        for finding in chart.get("findings", []):
            yield chart["name"], "", finding
        for case in chart.get("cases", []):
            for check in case.get("checks", {}).values():
                for finding in check.get("findings", []):
                    yield chart["name"], case["id"], finding


def _message(finding: dict[str, Any]) -> str:
    version = f"[k8s {finding['kube_version']}]" if finding.get("kube_version") else ""
    where = " ".join(p for p in (finding.get("resource"), finding.get("path"), version) if p)
    return f"{where}: {finding['message']}" if where else finding["message"]


def annotations(report: dict[str, Any], workspace: Path) -> list[str]:
    """One workflow command per distinct finding; errors first, then warnings."""
    grouped: dict[tuple[str, str, int, str, str, str], list[str]] = {}
    for chart, case, finding in _findings(report):
        level = "error" if finding["severity"] == "error" else "warning"
        file = workspace_path(finding.get("file", ""), workspace)
        line = int(finding.get("line") or 0) if file else 0
        key = (level, file, line, chart, finding["rule"], _message(finding))
        grouped.setdefault(key, [])
        if case and case not in grouped[key]:
            grouped[key].append(case)
    out = []
    for (level, file, line, chart, rule, message), cases in sorted(
        grouped.items(), key=lambda item: (item[0][0] != "error", item[0][1:])
    ):
        properties = []
        if file:
            properties.append(f"file={escape_property(file)}")
            properties.append(f"line={max(line, 1)}")
        properties.append(f"title={escape_property(f'chartmatrix {rule} ({chart})')}")
        if cases:
            shown = ", ".join(cases[:_SHOWN_CASES])
            more = f" and {len(cases) - _SHOWN_CASES} more" if len(cases) > _SHOWN_CASES else ""
            label = "case" if len(cases) == 1 else f"{len(cases)} cases"
            message += f"\n({label}: {shown}{more})"
        out.append(f"::{level} {','.join(properties)}::{escape_data(message)}")
    return out


def print_annotations(report: dict[str, Any]) -> None:
    """Print to stdout, where the runner reads workflow commands."""
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    for command in annotations(report, workspace):
        print(command)

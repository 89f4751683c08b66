"""The console report: a summary table per chart, grouped findings, unified diffs."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from chartmatrix.findings import Severity
from chartmatrix.runner import CHECKS, ChartResult, RunResult

_STYLE = {
    "pass": ("✓", "green"),
    "warn": ("!", "yellow"),
    "fail": ("✗", "bold red"),
    "skip": ("-", "dim"),
}


MAX_DIFF_LINES = 80


def _diff_text(diff: str) -> Text:
    out = Text()
    lines = diff.splitlines()
    if len(lines) > MAX_DIFF_LINES:
        hidden = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"... {hidden} more diff lines (see --html or --json)"]
    for line in lines:
        style = ""
        if line.startswith("+") and not line.startswith("+++"):
            style = "green"
        elif line.startswith("-") and not line.startswith("---"):
            style = "red"
        elif line.startswith("@@"):
            style = "magenta"
        out.append(line + "\n", style=style)
    return out


def _chart_line(chart: ChartResult, strict: bool) -> Text:
    """One result line per chart, for logs that only keep the end of the output."""
    failed = sum(1 for c in chart.cases if c.failed(strict))
    warnings = sum(
        1 for c in chart.cases for f in c.findings if f.severity is Severity.WARNING
    ) + sum(1 for f in chart.findings if f.severity is Severity.WARNING)
    bad = chart.failed(strict)
    line = Text(f"{chart.spec.name}: ", style="bold")
    line.append("FAILED" if bad else "OK", style="bold red" if bad else "green")
    line.append(f", {len(chart.cases)} cases, {failed} failed, {warnings} warnings")
    return line


def _print_table(console: Console, table: Table) -> None:
    """On a terminal, as wide as the terminal; in a log (which has no width), as wide as
    the table needs: case ids are not folded over rows of 80 columns."""
    if console.is_terminal:
        console.print(table)
        return
    width = console.width
    wide = console.options.update_width(1000)
    console.width = max(width, Measurement.get(console, wide, table).maximum)
    try:
        console.print(table)
    finally:
        console.width = width


def print_report(run: RunResult, console: Console) -> None:
    for chart in run.charts:
        # user text goes in as Text: never read as markup ("[x]") or emoji (":key:")
        title = Text(f"{chart.spec.name}  ({chart.spec.chart_dir})", style="bold")
        table = Table(title=title, title_justify="left")
        table.add_column("case", overflow="fold")  # long ids wrap, never cut to look alike
        for check in CHECKS:
            table.add_column(check, justify="center")
        table.add_column("objects", justify="right")
        for case in chart.cases:
            cells = []
            for check in CHECKS:
                symbol, style = _STYLE[case.status(check, run.strict)]
                cells.append(Text(symbol, style=style))
            label = case.case.id + (" (must fail)" if case.case.expect_failure else "")
            table.add_row(Text(label), *cells, str(case.manifests))
        _print_table(console, table)
        grouped: dict[str, list[str]] = defaultdict(list)
        severities: dict[str, Severity] = {}
        for case in chart.cases:
            for f in case.findings:
                grouped[f.line()].append(case.case.id)
                severities[f.line()] = f.severity
        for line, cases in grouped.items():
            style = "red" if severities[line] is Severity.ERROR else "yellow"
            where = cases[0] if len(cases) == 1 else f"{cases[0]} and {len(cases) - 1} more"
            console.print(
                Text(f"  {line}", style=style), Text(f"  ({where})", style="dim"), soft_wrap=True
            )
        for f in chart.findings:
            style = "red" if f.severity is Severity.ERROR else "yellow"
            console.print(Text(f"  {f.line()}", style=style), soft_wrap=True)
        for case in chart.cases:
            if case.golden is not None and case.golden.diff and case.golden.status == "changed":
                console.print(Text(f"  golden diff for {case.case.id}:", style="bold"))
                console.print(_diff_text(case.golden.diff), soft_wrap=True)
    for chart in run.charts:
        console.print(_chart_line(chart, run.strict), soft_wrap=True)
    failed = sum(1 for c in run.cases if c.failed(run.strict))
    ms = {k: v * 1000 / max(1, run.case_count) for k, v in run.timings.items()}
    stages = ", ".join(f"{k} {v:.0f}" for k, v in ms.items())
    verdict = Text(
        "FAILED" if run.failed() else "OK", style="bold red" if run.failed() else "green"
    )
    console.print(
        verdict,
        f"{run.case_count} cases in {len(run.charts)} chart(s), {failed} failed, "
        f"{run.wall:.1f} s (ms/case: {stages})",
        soft_wrap=True,
    )

"""The repository's consumer charts, found rather than listed.

Every ``charts/*/Chart.yaml`` of type application is a consumer chart. Tests (chart_tests/
and tests/) take their chart lists from `consumer_charts`, so a new chart gets every check
without editing them. Where a test needs per-chart knowledge (which chart shows which
behaviour), it keeps a mapping keyed by chart name and reads it through `entry_for`, which
fails naming the chart a mapping forgot, and checks the keys with `uncovered`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import yaml

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class MissingChartEntry(AssertionError):
    """A per-chart mapping of a test lacks a discovered chart (a test failure, not a skip)."""


def consumer_charts(root: Path = REPO) -> tuple[str, ...]:
    """Names of the application charts under ``root/charts``, sorted."""
    found = []
    for meta in sorted((root / "charts").glob("*/Chart.yaml")):
        chart = yaml.safe_load(meta.read_text()) or {}
        # Helm's default type is application: only an explicit library is left out
        if chart.get("type", "application") == "application":
            found.append(meta.parent.name)
    return tuple(found)


def entry_for(chart: str, mapping: Mapping[str, T], what: str) -> T:
    """``mapping[chart]``, or a failure that says which mapping needs the chart."""
    if chart not in mapping:
        raise MissingChartEntry(
            f"{what} has no entry for chart {chart!r}: every chart in charts/ needs one"
        )
    return mapping[chart]


def uncovered(mapping: Mapping[str, object], root: Path = REPO) -> dict[str, list[str]]:
    """Charts a per-chart mapping misses and keys that name no chart (both empty when in sync)."""
    charts = set(consumer_charts(root))
    return {
        "missing": sorted(charts - set(mapping)),
        "unknown": sorted(set(mapping) - charts),
    }

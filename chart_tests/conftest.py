"""The chart tests render offline: every render carries the predictable-password opt-in
(see destate_charts.py); `render_chart.raw` is the plain renderer."""

from __future__ import annotations

import pytest
from chartmatrix.fixtures import ChartRenderer
from destate_charts import OfflineChartRenderer


@pytest.fixture(scope="session")
def render_chart(render_chart: ChartRenderer) -> OfflineChartRenderer:
    return OfflineChartRenderer(render_chart)

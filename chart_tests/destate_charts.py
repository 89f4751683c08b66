"""Rendering the consumer charts offline in tests: `helm template` cannot reach a cluster,
so a chart that would generate a password fails closed (library README, "Generated
passwords") unless the values opt in to predictable placeholders. The chart tests opt in
through OFFLINE_TEST_VALUES, layered under every test's own values; `.raw` renders without
it (to test the fail-closed path itself)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chartmatrix.fixtures import ChartRenderer
from chartmatrix.manifests import Rendered
from chartmatrix.render import RenderRequest

OPT_IN = "global.destate.insecurePredictablePasswords"
OFFLINE_TEST_VALUES: dict[str, Any] = {
    "global": {"destate": {"insecurePredictablePasswords": True}}
}

Values = Mapping[str, Any] | Iterable[Mapping[str, Any]] | None


def layered(values: Values) -> list[Mapping[str, Any]]:
    """OFFLINE_TEST_VALUES first, then the test's values (Helm's merge rules)."""
    if values is None:
        return [OFFLINE_TEST_VALUES]
    if isinstance(values, Mapping):
        return [OFFLINE_TEST_VALUES, values]
    return [OFFLINE_TEST_VALUES, *values]


class OfflineChartRenderer:
    """A ChartRenderer whose every render carries OFFLINE_TEST_VALUES."""

    def __init__(self, raw: ChartRenderer) -> None:
        self.raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def request(self, chart: Any, values: Values = None, **kwargs: Any) -> RenderRequest:
        return self.raw.request(chart, layered(values), **kwargs)

    def __call__(self, chart: Any, values: Values = None, **kwargs: Any) -> Rendered:
        return self.raw(chart, layered(values), **kwargs)

    def error(self, chart: Any, values: Values = None, **kwargs: Any) -> str:
        return self.raw.error(chart, layered(values), **kwargs)

"""The project's own matrix specs: they load, and they cover every mode of every area."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chartmatrix.spec import MatrixSpec, discover_specs, load_spec
from chartmatrix.values import split_path
from destate_tools.charts import consumer_charts, entry_for, uncovered

ROOT = Path(__file__).resolve().parents[2]
SPECS = discover_specs(ROOT)


@pytest.fixture(scope="module")
def specs() -> dict[str, MatrixSpec]:
    # this repository has them: finding none is a regression, not a reason to skip
    assert SPECS, "discover_specs found no chart_tests/*/matrix.yaml"
    return {s.name: s for s in (load_spec(p) for p in SPECS)}


def modes(spec: MatrixSpec, path: str) -> set[object]:
    seen = set()
    for case in spec.cases:
        if case.expect_failure is not None:
            continue
        node: object = case.values
        for key in split_path(path):
            node = node.get(key) if isinstance(node, dict) else None
        seen.add(node)
    return seen


def test_at_least_forty_cases_with_ci_values_and_failures(specs: dict[str, MatrixSpec]) -> None:
    assert sum(len(s.cases) for s in specs.values()) >= 40
    for name in (*consumer_charts(ROOT), "library"):
        assert name in specs, f"chart_tests/{name}/matrix.yaml is missing"
        spec = specs[name]
        assert any(c.expect_failure for c in spec.cases), f"{name}: no expectFailure case"
        assert spec.golden_dir is not None
        assert len({c.id for c in spec.cases}) == len(spec.cases)
    for name in consumer_charts(ROOT):
        assert any(c.id.startswith("ci/") for c in specs[name].cases), f"{name}: ci values"


# The modes each consumer chart's matrix must render (value path -> values that some
# passing case sets; None = the chart's default). Every chart in charts/ needs an entry:
# a new chart without one fails test_every_chart_names_its_modes.
CHART_MODES: dict[str, dict[str, set[object]]] = {
    "mysql": {"flavor": {"mysql", "mariadb"}, "persistence.local.enabled": {True}},
    "web-session": {"session.mode": {"none", "store", "sticky"}},
    "grpc": {"connection.mode": {"none", "client", "envoy", "ingress", "gateway"}},
    "redis": {
        "persistence.enabled": {None, False},
        "persistence.local.enabled": {True},
        "config.immutable": {True},
        "topology.antiAffinity": {"hard", "none"},
        "workload.replicas": {1, 3},
    },
}


def test_every_chart_names_its_modes() -> None:
    assert uncovered(CHART_MODES, ROOT) == {"missing": [], "unknown": []}


@pytest.mark.parametrize("chart", consumer_charts(ROOT))
def test_every_mode_of_every_chart_is_a_case(specs: dict[str, MatrixSpec], chart: str) -> None:
    for path, wanted in entry_for(chart, CHART_MODES, "CHART_MODES").items():
        got = modes(specs[chart], path)
        assert wanted <= got, f"{chart}: {path} never {sorted(map(repr, wanted - got))}"


def test_every_mode_of_every_area_is_a_library_case(specs: dict[str, MatrixSpec]) -> None:
    lib = specs["library"]
    # the library test chart's defaults are session/connection mode none; None = default
    assert {None, "store", "sticky"} <= modes(lib, "session.mode") | {None}
    assert {"ingress", "gateway", "envoy", "client"} <= modes(lib, "connection.mode")
    assert {"soft", "hard", "none"} <= modes(lib, "topology.antiAffinity")
    assert {True, False} <= modes(lib, "persistence.enabled")
    assert {True} <= modes(lib, "persistence.local.enabled")
    assert {True} <= modes(lib, "config.subPath") and {True} <= modes(lib, "config.writable")
    assert {"Parallel"} <= modes(lib, "topology.podManagementPolicy")


def test_gateway_api_crds_match_the_pinned_version() -> None:
    env = ROOT / "tools" / "versions.env"
    pinned = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line).get(
        "GATEWAY_API_VERSION"
    )
    assert pinned, "tools/versions.env pins no GATEWAY_API_VERSION"
    refs = [
        ref for spec in SPECS for ref in re.findall(r"gateway-api@(v[0-9.]+)", spec.read_text())
    ]
    assert refs and set(refs) == {pinned.strip()}

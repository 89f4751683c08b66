"""The project's own matrix specs: they load, and they cover every mode of every area."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chartmatrix.spec import MatrixSpec, discover_specs, load_spec
from chartmatrix.values import split_path

ROOT = Path(__file__).resolve().parents[2]
SPECS = discover_specs(ROOT)


@pytest.fixture(scope="module")
def specs() -> dict[str, MatrixSpec]:
    if not SPECS:
        pytest.skip("no chart_tests/*/matrix.yaml in this checkout")
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
    for name in ("mysql", "web-session", "grpc", "library"):
        assert name in specs, f"chart_tests/{name}/matrix.yaml is missing"
        spec = specs[name]
        assert any(c.expect_failure for c in spec.cases), f"{name}: no expectFailure case"
        assert spec.golden_dir is not None
        assert len({c.id for c in spec.cases}) == len(spec.cases)
    for name in ("mysql", "web-session", "grpc"):
        assert any(c.id.startswith("ci/") for c in specs[name].cases), f"{name}: ci values"


def test_every_mode_of_every_area_is_a_case(specs: dict[str, MatrixSpec]) -> None:
    lib = specs["library"]
    # the library test chart's defaults are session/connection mode none; None = default
    assert {None, "store", "sticky"} <= modes(lib, "session.mode") | {None}
    assert {"ingress", "gateway", "envoy", "client"} <= modes(lib, "connection.mode")
    assert {"soft", "hard", "none"} <= modes(lib, "topology.antiAffinity")
    assert {True, False} <= modes(lib, "persistence.enabled")
    assert {True} <= modes(lib, "persistence.local.enabled")
    assert {True} <= modes(lib, "config.subPath") and {True} <= modes(lib, "config.writable")
    assert {"Parallel"} <= modes(lib, "topology.podManagementPolicy")
    web = specs["web-session"]
    assert {"none", "store", "sticky"} <= modes(web, "session.mode")
    grpc = specs["grpc"]
    got = modes(grpc, "connection.mode")
    assert {"none", "client", "envoy", "ingress", "gateway"} <= got
    mysql = specs["mysql"]
    assert {"mysql", "mariadb"} <= modes(mysql, "flavor")
    assert {True} <= modes(mysql, "persistence.local.enabled")


def test_gateway_api_crds_match_the_pinned_version() -> None:
    env = ROOT / "tools" / "versions.env"
    if not env.is_file() or not SPECS:
        pytest.skip("no tools/versions.env or specs in this checkout")
    pinned = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line).get(
        "GATEWAY_API_VERSION"
    )
    if not pinned:
        pytest.skip("GATEWAY_API_VERSION is not pinned")
    refs = [
        ref for spec in SPECS for ref in re.findall(r"gateway-api@(v[0-9.]+)", spec.read_text())
    ]
    assert refs and set(refs) == {pinned.strip()}

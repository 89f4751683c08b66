"""`helm lint --strict` passes for the library and its test chart, with Helm v4 and v3."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LIBRARY, run_helm


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_lint_strict(request: pytest.FixtureRequest, lib_chart: Path, binary: str) -> None:
    helm_bin: Path = request.getfixturevalue(binary)
    for chart in (LIBRARY, lib_chart):
        output = run_helm(helm_bin, ["lint", "--strict", chart])
        assert "1 chart(s) linted, 0 chart(s) failed" in output
        assert "[ERROR]" not in output and "[WARNING]" not in output

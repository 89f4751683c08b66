"""`helm lint --strict` passes for the library and its test chart, with Helm v4 and v3."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LIBRARY, run_helm


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_lint_strict(request: pytest.FixtureRequest, lib_chart: Path, binary: str) -> None:
    helm_bin: Path = request.getfixturevalue(binary)
    # lint renders offline: the test chart's generated passwords need the placeholder opt-in
    opt_in = ["--set", "global.destate.insecurePredictablePasswords=true"]
    for chart, extra in ((LIBRARY, []), (lib_chart, opt_in)):
        output = run_helm(helm_bin, ["lint", "--strict", chart, *extra])
        assert "1 chart(s) linted, 0 chart(s) failed" in output
        assert "[ERROR]" not in output and "[WARNING]" not in output

"""Fixtures of the behaviour tests: processes that are always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import Processes


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """Processes started by one test; every one still running is stopped afterwards."""
    group = Processes(tmp_path / "logs")
    yield group
    group.close()


@pytest.fixture(scope="module")
def module_procs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    """Processes shared by the tests of one module (e.g. a running cluster)."""
    group = Processes(tmp_path_factory.mktemp("logs"))
    yield group
    group.close()

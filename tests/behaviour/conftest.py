"""Fixtures of the behaviour tests: processes that are always stopped, loopback addresses."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from behaviour.procs import Processes

_hosts = itertools.count(10)


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


def loopback_block(size: int) -> list[str]:
    """`size` distinct loopback addresses 127.0.N.x, fresh for each call in this session."""
    block = next(_hosts)
    return [f"127.0.{block}.{i}" for i in range(2, 2 + size)]

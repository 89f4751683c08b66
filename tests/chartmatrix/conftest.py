"""Fixture charts for chartmatrix's own tests (created with the real helm binary)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from chartmatrix.render import find_helm
from cm_charts import STATEFUL_CHART, write_tree


@pytest.fixture(scope="session")
def helm() -> str:
    return find_helm()


@pytest.fixture(scope="session")
def created_chart(helm: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``helm create demo``: a foreign chart chartmatrix has never seen (read-only)."""
    base = tmp_path_factory.mktemp("created")
    subprocess.run([helm, "create", "demo"], cwd=base, check=True, capture_output=True)
    return base / "demo"


@pytest.fixture
def demo_chart(created_chart: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the ``helm create`` chart."""
    target = tmp_path / "demo"
    shutil.copytree(created_chart, target)
    return target


@pytest.fixture
def kv_chart(tmp_path: Path) -> Path:
    """A small StatefulSet chart that follows every state rule (checksum over toJson)."""
    return write_tree(tmp_path / "charts" / "kv", STATEFUL_CHART)

"""Helpers of the image tests: the builder package on sys.path, skipping (or failing
under CI=true) when a prerequisite is missing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tools" / "images") not in sys.path:
    sys.path.insert(0, str(REPO / "tools" / "images"))


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs this: {reason}")
    pytest.skip(reason)


def require_root_tools(*tools: str) -> None:
    if sys.platform != "linux" or os.geteuid() != 0:
        skip_or_fail("needs root on Linux (overlay mounts, chroot, namespaces)")
    for tool in tools:
        if not shutil.which(tool):
            skip_or_fail(f"needs {tool} on PATH")

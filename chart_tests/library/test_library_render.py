"""Whole-chart properties: deterministic output (golden files rely on it) and the same
output from Helm v4 and Helm v3, for the defaults and for every mode.

Helm v4 and v3 differ only in blank lines around `---` separators (v4 keeps a template's
trailing newline, v3 trims it and prints empty documents), so the cross-version check
compares the documents with surrounding whitespace removed and empty ones dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import parse, template

MODES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "store+client": {"session": {"mode": "store"}, "connection": {"mode": "client"}},
    "sticky+gateway": {
        "session": {"mode": "sticky", "sticky": {"gatewaySessionPersistence": True}},
        "connection": {
            "mode": "gateway",
            "gateway": {"force": True, "parentRefs": [{"name": "gw"}]},
        },
    },
    "local+ingress": {
        "persistence": {"local": {"enabled": True, "nodes": ["a", "b", "c"]}},
        "config": {"writable": True},
        "connection": {"mode": "ingress", "ingress": {"tls": {"secretName": "tls"}}},
    },
}


def documents(text: str) -> list[str]:
    """The rendered documents without `# Source:` lines, whitespace-trimmed, empty ones
    dropped (v3 prints a bare `# Source:` document for a template's empty part)."""
    docs = [
        "\n".join(line for line in doc.splitlines() if not line.startswith("# Source: "))
        for doc in text.split("\n---")
    ]
    return [doc.strip() for doc in docs if doc.strip() and doc.strip() != "---"]


@pytest.fixture(scope="module")
def v4_first(helm: Path, lib_chart: Path) -> dict[str, str]:
    """One Helm v4 render per mode, shared by both checks."""
    return {mode: template(helm, lib_chart, values) for mode, values in MODES.items()}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_two_renders_are_byte_identical(
    helm: Path, lib_chart: Path, mode: str, v4_first: dict[str, str]
) -> None:
    second = template(helm, lib_chart, MODES[mode])
    assert v4_first[mode] == second
    assert "kind: StatefulSet" in second


@pytest.mark.parametrize("mode", sorted(MODES))
def test_helm_v4_and_v3_render_the_same(
    helm3: Path, lib_chart: Path, mode: str, v4_first: dict[str, str]
) -> None:
    v4 = v4_first[mode]
    v3 = template(helm3, lib_chart, MODES[mode])
    assert documents(v4) == documents(v3)
    assert parse(v4) == parse(v3)
    assert len(documents(v4)) == len(parse(v4)) > 5

"""Small helpers shared by the destate library tests (pod and env lookups)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def container(pod_spec: dict[str, Any], name: str) -> dict[str, Any]:
    for c in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name!r}")


def env_map(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    for v in pod.get("volumes", []):
        if v["name"] == name:
            return v
    raise AssertionError(f"no volume {name!r}")


def go_json_sha256(data: dict[str, str]) -> str:
    """The library's checksum convention: sha256 of Go's toJson of the data map."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return hashlib.sha256(text.encode()).hexdigest()

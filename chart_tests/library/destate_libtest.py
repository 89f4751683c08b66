"""Small helpers shared by the destate library tests (pod and env lookups)."""

from __future__ import annotations

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

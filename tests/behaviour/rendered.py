"""What the charts render, as the behaviour tests use it: `helm template` in a private copy of
the chart and the library, then lookups of resources, ConfigMap files, Secret values and a
container's env resolved the way the kubelet would (downward API, Secret/ConfigMap refs)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .procs import in_ci

REPO = Path(__file__).resolve().parents[2]
Manifest = dict[str, Any]


def helm_binary() -> str:
    for candidate in (REPO / ".tools/bin/helm", Path(shutil.which("helm") or "")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    reason = "helm is not installed (run tools/bootstrap)"
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)
    raise AssertionError("unreachable")


def render(
    chart: str,
    workdir: Path,
    values: dict[str, Any] | None = None,
    release: str = "demo",
    namespace: str = "default",
) -> list[Manifest]:
    """`helm template` charts/<chart> with `values` (over OFFLINE_TEST_VALUES); copies the
    chart and the library first so that the dependency build never races with anyone else's
    in the work tree."""
    helm = helm_binary()
    dest = workdir / "render"
    if not dest.exists():
        shutil.copytree(REPO / "library-chart", dest / "library-chart")
        shutil.copytree(
            REPO / "charts" / chart,
            dest / "charts" / chart,
            ignore=shutil.ignore_patterns("charts", "Chart.lock"),
        )
        _helm(helm, ["dependency", "build", str(dest / "charts" / chart)], "dependency build")
    values_file = workdir / f"values-{len(list(workdir.glob('values-*.yaml')))}.yaml"
    values_file.write_text(yaml.safe_dump(_merge(OFFLINE_TEST_VALUES, values or {})))
    out = _helm(
        helm,
        [
            "template",
            release,
            str(dest / "charts" / chart),
            "--namespace",
            namespace,
            "-f",
            str(values_file),
        ],
        f"helm template charts/{chart}",
    )
    return [doc for doc in yaml.safe_load_all(out) if doc]


# `helm template` cannot reach a cluster: the charts refuse to generate passwords offline
# unless told that predictable placeholders are fine (they are, for local processes).
OFFLINE_TEST_VALUES: dict[str, Any] = {
    "global": {"destate": {"insecurePredictablePasswords": True}}
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's rule for values: maps merge, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _helm(helm: str, args: list[str], what: str) -> str:
    try:
        done = subprocess.run(
            [helm, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"{what}: timed out") from err
    if done.returncode != 0:
        raise AssertionError(f"{what} failed:\n{done.stderr.strip()}")
    return done.stdout


def find(docs: list[Manifest], kind: str, where: Callable[[Manifest], bool] = bool) -> Manifest:
    """The one resource of `kind` for which `where` holds (assertion error otherwise)."""
    hits = [d for d in docs if d.get("kind") == kind and where(d)]
    names = [h["metadata"]["name"] for h in hits]
    assert len(hits) == 1, f"expected one {kind} matching, found {names or 'none'}"
    return hits[0]


def all_of(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d.get("kind") == kind]


def named(docs: list[Manifest], kind: str, name: str) -> Manifest:
    return find(docs, kind, lambda d: d["metadata"]["name"] == name)


def files_of(resource: Manifest) -> dict[str, bytes]:
    """Files of a ConfigMap or Secret (data, binaryData, stringData), as bytes."""
    out: dict[str, bytes] = {}
    if resource["kind"] == "Secret":
        for key, value in (resource.get("data") or {}).items():
            out[key] = base64.b64decode(value)
        for key, value in (resource.get("stringData") or {}).items():
            out[key] = str(value).encode()
    else:
        for key, value in (resource.get("data") or {}).items():
            out[key] = str(value).encode()
        for key, value in (resource.get("binaryData") or {}).items():
            out[key] = base64.b64decode(value)
    return out


def pod_containers(workload: Manifest) -> Iterator[tuple[str, Manifest]]:
    """("init" | "main", container) for each container of a workload's pod template."""
    spec = workload["spec"]["template"]["spec"]
    for c in spec.get("initContainers") or []:
        yield "init", c
    for c in spec.get("containers") or []:
        yield "main", c


def container_env(
    container: Manifest,
    docs: list[Manifest],
    pod_name: str,
    namespace: str,
    labels: dict[str, str],
) -> dict[str, str]:
    """A container's env as the kubelet sets it: values, `$(VAR)` expansion, downward API
    fields, Secret and ConfigMap key references (from the same render), envFrom."""
    env: dict[str, str] = {}

    def source(kind: str, name: str) -> dict[str, bytes]:
        return files_of(named(docs, kind, name))

    for ref in container.get("envFrom") or []:
        if "configMapRef" in ref:
            data = source("ConfigMap", ref["configMapRef"]["name"])
        else:
            data = source("Secret", ref["secretRef"]["name"])
        prefix = ref.get("prefix", "")
        env.update({prefix + k: v.decode() for k, v in data.items()})
    fields = {
        "metadata.name": pod_name,
        "metadata.namespace": namespace,
        "spec.nodeName": "node-1",
        "status.podIP": "127.0.0.1",
        "spec.serviceAccountName": "default",
    }
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            continue
        ref = item.get("valueFrom") or {}
        if "fieldRef" in ref:
            path = ref["fieldRef"]["fieldPath"]
            label = re.fullmatch(r"metadata\.labels\['(.+)'\]", path)
            if label:
                env[name] = labels[label.group(1)]
            else:
                assert path in fields, f"env {name}: unsupported fieldPath {path}"
                env[name] = fields[path]
        elif "secretKeyRef" in ref:
            key = ref["secretKeyRef"]
            env[name] = source("Secret", key["name"])[key["key"]].decode()
        elif "configMapKeyRef" in ref:
            key = ref["configMapKeyRef"]
            env[name] = source("ConfigMap", key["name"])[key["key"]].decode()
        elif "resourceFieldRef" in ref:
            env[name] = "0"
        else:
            raise AssertionError(f"env {name}: unsupported valueFrom {ref}")
    return env


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion (`$$` escapes; unknown references stay as they are)."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, value)

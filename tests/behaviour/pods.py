"""A rendered pod, laid out on this machine: its volumes become directories (ConfigMap and
Secret files written out, emptyDirs fresh per pod start, claims kept per ordinal), and any
path under a mount in a container's env or command is translated to the local directory."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rendered import (
    Manifest,
    container_env,
    expand,
    files_of,
    named,
    pod_containers,
)


@dataclass
class LocalPod:
    """One pod (ordinal) of a rendered StatefulSet or Deployment, rooted at `root`."""

    docs: list[Manifest]
    workload: Manifest
    ordinal: int
    root: Path
    namespace: str = "default"
    volumes: dict[str, Path] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.workload['metadata']['name']}-{self.ordinal}"

    @property
    def spec(self) -> dict[str, Any]:
        return self.workload["spec"]["template"]["spec"]

    @property
    def labels(self) -> dict[str, str]:
        labels = dict(self.workload["spec"]["template"]["metadata"].get("labels") or {})
        labels["apps.kubernetes.io/pod-index"] = str(self.ordinal)
        labels["statefulset.kubernetes.io/pod-name"] = self.name
        return labels

    def lay_out(self) -> None:
        """Create every volume of the pod: config files now, emptyDirs empty, claims kept."""
        claims = {
            t["metadata"]["name"] for t in self.workload["spec"].get("volumeClaimTemplates") or []
        }
        self.volumes = {}
        for name in claims:
            path = self.root / "claims" / f"{name}-{self.name}"
            path.mkdir(parents=True, exist_ok=True)
            self.volumes[name] = path
        pod_dir = self.root / "pod" / self.name
        if pod_dir.exists():
            shutil.rmtree(pod_dir)  # a new pod: its emptyDirs and projected files are new
        for vol in self.spec.get("volumes") or []:
            path = pod_dir / vol["name"]
            path.mkdir(parents=True)
            self.volumes[vol["name"]] = path
            for name, data, mode in self._volume_files(vol):
                target = path / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                target.chmod(mode)

    def _volume_files(self, vol: Manifest) -> list[tuple[str, bytes, int]]:
        sources: list[tuple[str, str, list[Manifest] | None, int]] = []
        if "configMap" in vol:
            v = vol["configMap"]
            sources.append(("ConfigMap", v["name"], v.get("items"), v.get("defaultMode", 0o644)))
        elif "secret" in vol:
            v = vol["secret"]
            mode = v.get("defaultMode", 0o644)
            sources.append(("Secret", v["secretName"], v.get("items"), mode))
        elif "projected" in vol:
            mode = vol["projected"].get("defaultMode", 0o644)
            for src in vol["projected"].get("sources") or []:
                if "configMap" in src:
                    v = src["configMap"]
                    sources.append(("ConfigMap", v["name"], v.get("items"), mode))
                elif "secret" in src:
                    v = src["secret"]
                    sources.append(("Secret", v["name"], v.get("items"), mode))
        out: list[tuple[str, bytes, int]] = []
        for kind, name, items, mode in sources:
            data = files_of(named(self.docs, kind, name))
            if items:
                for item in items:
                    out.append((item["path"], data[item["key"]], item.get("mode", mode)))
            else:
                out.extend((key, value, mode) for key, value in data.items())
        return out

    def container(self, name: str) -> Manifest:
        for _, c in pod_containers(self.workload):
            if c["name"] == name:
                return c
        raise AssertionError(f"{self.workload['metadata']['name']} has no container {name}")

    def containers_running(self, script: str) -> list[Manifest]:
        """Containers whose command, args or lifecycle hooks mention `script`."""
        return [c for _, c in pod_containers(self.workload) if script in str(c)]

    def mounts(self, container: Manifest) -> dict[str, Path]:
        """mountPath -> local directory of each volume mount of `container`."""
        out: dict[str, Path] = {}
        for m in container.get("volumeMounts") or []:
            local = self.volumes[m["name"]]
            if m.get("subPath"):
                local = local / m["subPath"]
                local.mkdir(parents=True, exist_ok=True)
            out[m["mountPath"].rstrip("/") or "/"] = local
        return out

    def translate(self, container: Manifest, text: str) -> str:
        """`text` with every in-container path under a mount replaced by the local one."""
        mounts = self.mounts(container)
        if not mounts:
            return text
        alternatives = "|".join(re.escape(m) for m in sorted(mounts, key=len, reverse=True))
        pattern = re.compile(rf"(?<![\w./-])({alternatives})(?=$|[/:\s\"';])")
        # one pass: a local path is never translated again
        text = pattern.sub(lambda m: str(mounts[m.group(1)]), text)
        return text

    def env(self, container: Manifest, overrides: dict[str, str] | None = None) -> dict[str, str]:
        env = container_env(container, self.docs, self.name, self.namespace, self.labels)
        env = {k: self.translate(container, v) for k, v in env.items()}
        env.update(overrides or {})
        return env

    def command(self, container: Manifest, env: dict[str, str] | None = None) -> list[str]:
        """command + args with `$(VAR)` expanded from `env` and paths translated."""
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        return [self.translate(container, expand(a, env or {})) for a in argv]

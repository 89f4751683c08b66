"""Where CRD files come from: a path, or a file inside a pinned Go module.

``go://<module>@<version>/<path in module>`` (e.g.
``go://sigs.k8s.io/gateway-api@v1.6.3/config/crd/standard/gateway.networking.k8s.io_grpcroutes.yaml``)
names a file of a Go module: the module cache is used when it holds that version,
otherwise ``go mod download`` fetches it through the Go module proxy. The CRD text
stays upstream's; nothing is copied into the project. The module path and version are
checked first (:mod:`chartmatrix.gomodule`) and reach ``go`` after ``--`` only, and the
file must lie inside the module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from chartmatrix.errors import ChartmatrixError
from chartmatrix.gomodule import major_mismatch, module_path_error, version_error

GO_PREFIX = "go://"
_REF = re.compile(r"^go://(?P<module>[^@]+)@(?P<version>v[^/]+)/(?P<path>.+)$")


def _escape(module: str) -> str:
    """Go's module cache escaping: an upper-case letter becomes ``!`` + lower case."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)


def _modcache() -> Path:
    if os.environ.get("GOMODCACHE"):
        return Path(os.environ["GOMODCACHE"])
    gopath = os.environ.get("GOPATH") or str(Path.home() / "go")
    return Path(gopath.split(os.pathsep)[0]) / "pkg" / "mod"


@cache
def _module_dir(module: str, version: str, where: str) -> Path:
    cached = _modcache() / f"{_escape(module)}@{version}"
    if cached.is_dir():
        return cached
    go = shutil.which("go")
    if go is None:
        raise ChartmatrixError(
            where,
            f"{module}@{version} is not in the Go module cache and "
            "`go` is not on PATH to download it",
        )
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            # `--` ends go's options: the argument can never be read as a flag
            [go, "mod", "download", "-json", "--", f"{module}@{version}"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "on"},
        )
    try:
        info = json.loads(proc.stdout or "{}")
    except ValueError:
        info = {}
    if proc.returncode != 0 or not info.get("Dir"):
        detail = info.get("Error") or proc.stderr.strip().splitlines()[-1:] or ["unknown error"]
        raise ChartmatrixError(where, f"go mod download {module}@{version} failed: {detail}")
    return Path(info["Dir"])


def resolve_crd(ref: str, base: Path, where: str | Path) -> Path:
    """A CRD reference from a spec (relative to ``base``) or the command line → a file."""
    if ref.startswith(GO_PREFIX):
        match = _REF.match(ref)
        if not match:
            raise ChartmatrixError(where, f"crds: {ref} must look like go://MODULE@VERSION/PATH")
        module, version, inner = match["module"], match["version"], match["path"]
        problem = module_path_error(module)
        if problem:
            raise ChartmatrixError(where, f"crds: {ref}: module path {module!r}: {problem}")
        problem = version_error(version) or major_mismatch(module, version)
        if problem:
            raise ChartmatrixError(where, f"crds: {ref}: version {version!r}: {problem}")
        if inner.startswith("/") or ".." in inner.split("/"):
            raise ChartmatrixError(
                where, f"crds: {ref}: the file path must stay inside the module (no '..')"
            )
        root = _module_dir(module, version, str(where))
        path = (root / inner).resolve()
        if not path.is_relative_to(root.resolve()):
            raise ChartmatrixError(where, f"crds: {ref}: the file path leaves the module")
    else:
        path = (base / ref).resolve()
    if not path.is_file():
        raise ChartmatrixError(where, f"crds: file {ref} not found")
    return path

"""Render charts with helm through pyhelm3, one helm process per core at a time.

pyhelm3's ``Client.template_resources`` passes no Capabilities flags and concatenates
lists when given several values dicts, so chartmatrix merges values itself (see
:mod:`chartmatrix.values`) and calls ``Command.run`` with the exact ``helm template``
arguments, values on stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from chartmatrix.errors import ChartmatrixError

DEFAULT_HELM = "helm"
# helm is a short-lived Go process: collecting garbage only near a memory limit saves
# about a third of its CPU time. Applied to helm processes only, while they start;
# explicit settings in the environment win.
GO_TUNING = {"GOGC": "off", "GOMEMLIMIT": "1GiB"}


@contextlib.contextmanager
def go_tuning() -> Iterator[None]:
    """Set GO_TUNING in the environment for the processes started inside the block."""
    added = [key for key in GO_TUNING if key not in os.environ]
    for key in added:
        os.environ[key] = GO_TUNING[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


# pyhelm3 logs every failed command as a warning; a failed render is a finding here.
logging.getLogger("pyhelm3").setLevel(logging.CRITICAL)


def helm_errors() -> Any:
    """pyhelm3's error classes, imported on first use."""
    from pyhelm3 import errors

    return errors


@dataclass(frozen=True)
class RenderRequest:
    """One ``helm template`` call."""

    chart_dir: Path
    values: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    release: str = "test"
    namespace: str = "default"
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    include_crds: bool = True
    helm_args: tuple[str, ...] = ()  # passed through: --set, --set-string, ...

    def args(self) -> list[str]:
        argv = [
            "template",
            self.release,
            str(self.chart_dir),
            "--namespace",
            self.namespace,
            "--values",
            "-",
        ]
        if self.include_crds:
            argv.append("--include-crds")
        if self.kube_version:
            argv += ["--kube-version", self.kube_version]
        for api in self.api_versions:
            argv += ["--api-versions", api]
        return argv + list(self.helm_args)

    def stdin(self) -> bytes:
        return json.dumps(self.values, default=str).encode()


@dataclass(frozen=True)
class RenderResult:
    """helm's output: manifests text on success, its error message on failure."""

    ok: bool
    text: str
    error: str
    seconds: float


def own_checkout() -> Path | None:
    """The checkout chartmatrix itself runs from: the repository whose
    ``tools/chartmatrix/src`` holds this package (an editable install), where tools are
    built into ``.tools/bin``. None for an installed copy. Not the project under test
    (:func:`chartmatrix.project.find_root`)."""
    src = Path(__file__).resolve().parent.parent
    if src.parts[-3:] == ("tools", "chartmatrix", "src"):
        return src.parents[2]
    return None  # an installed copy, wherever it is (a shallow path too)


@cache
def helm_major(helm: str) -> int:
    """The major version of the ``helm`` executable (asked once per process)."""
    try:
        out = subprocess.run(
            [helm, "version", "--template", "{{.Version}}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ChartmatrixError(helm, f"cannot tell its version ({exc})") from None
    major = major_of(out.strip())
    if major is None:
        raise ChartmatrixError(helm, f"cannot tell its version from {out.strip()!r}")
    return major


def major_of(version: str) -> int | None:
    """``v4.3.1`` -> 4 (None when it is not a version)."""
    digits = version.lstrip("v").split(".", 1)[0]
    return int(digits) if digits.isdigit() else None


def find_helm(name_or_path: str | None = None) -> str:
    """Resolve ``helm`` (v4, default), ``helm3`` or an explicit path to an executable.

    Looks on ``PATH`` first, then in ``.tools/bin`` of chartmatrix's own checkout
    (:func:`own_checkout`) only: never in the working directory or its parents, where
    anyone who can write a directory above it could plant a ``helm``.
    """
    name = name_or_path or os.environ.get("CHARTMATRIX_HELM") or DEFAULT_HELM
    if os.sep in name:
        path = Path(name)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise ChartmatrixError(name, "helm executable not found or not executable")
    found = shutil.which(name)
    if found:
        return found
    root = own_checkout()
    if root is not None:
        candidate = root / ".tools" / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ChartmatrixError(name, "helm executable not found on PATH (use --helm NAME|PATH)")


_ERROR_PREFIX = re.compile(r"^(Error|error): ", re.MULTILINE)


# a Go-quoted string in helm's message: tpl quotes the whole text it failed on
_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_QUOTED_KEEP = 100  # characters kept at each end of a long quoted string
_MESSAGE_KEEP = 1500  # characters kept at each end of a long message


def brief_error(message: str) -> str:
    """helm's message as a finding says it: a quoted text longer than a few lines (a
    `tpl` quotes its whole template) and a message longer than a screen keep their two
    ends, where the template's start and the cause are, and say how much is left out."""

    def cut(text: str, keep: int, quote: str) -> str:
        head, tail = text[:keep], text[-keep:]
        if text[-keep - 1] == "\\":  # an escape such as \n is not cut in two
            tail = text[-keep - 1 :]
        left = len(text) - len(head) - len(tail)
        return f"{head}{quote}[... {left} characters ...]{quote}{tail}"

    def short(m: re.Match[str]) -> str:
        text = m.group(0)
        return text if len(text) <= 3 * _QUOTED_KEEP else cut(text, _QUOTED_KEEP, "")

    out = _QUOTED.sub(short, message)
    return out if len(out) <= 3 * _MESSAGE_KEEP else cut(out, _MESSAGE_KEEP, "\n")


# helm's log lines beside its error: v4's (slog: a deprecated chart, a values warning)
# and v3's warnings
HELM_LOG_LINE = re.compile(r"(?:time=\S+ )?level=[A-Z]+ |\w+\.go:\d+: warning: ")


def clean_error(stderr: str) -> str:
    """Keep helm's message, drop the ``Error:`` prefixes, its usage footer and the log
    lines it printed before it (unless they are all there is)."""
    lines = [
        line
        for line in stderr.strip().splitlines()
        if line.strip() and not line.startswith(('Use "helm', "WARNING: ", "Use --debug flag"))
    ]
    lines = [line for line in lines if not HELM_LOG_LINE.match(line)] or lines
    return _ERROR_PREFIX.sub("", "\n".join(lines)).strip()


class Renderer:
    """Runs ``helm template`` for many requests, ``jobs`` helm processes at a time."""

    def __init__(self, helm: str | None = None, jobs: int | None = None) -> None:
        self.helm = find_helm(helm)
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        # pyhelm3 (and pydantic under it) is imported only when helm itself renders:
        # the render worker's runs never pay for it
        from pyhelm3 import Command

        self._command = Command(executable=self.helm)

    async def _render(self, request: RenderRequest, gate: asyncio.Semaphore) -> RenderResult:
        async with gate:
            started = time.perf_counter()
            try:
                out = await self._command.run(request.args(), request.stdin())
            except helm_errors().Error as exc:
                message = clean_error(exc.stderr.decode(errors="replace")) or (
                    f"{self.helm} exited with status {exc.returncode} and no message"
                )
                return RenderResult(False, "", message, time.perf_counter() - started)
            except OSError as exc:
                raise ChartmatrixError(self.helm, f"cannot run helm ({exc})") from None
            return RenderResult(True, out.decode(), "", time.perf_counter() - started)

    async def render_all(
        self,
        requests: Sequence[RenderRequest],
        on_done: Callable[[int, RenderResult], None] | None = None,
    ) -> list[RenderResult]:
        gate = asyncio.Semaphore(self.jobs)

        async def one(index: int, request: RenderRequest) -> RenderResult:
            result = await self._render(request, gate)
            if on_done is not None:
                on_done(index, result)
            return result

        return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(requests))))

    def render_many(
        self,
        requests: Sequence[RenderRequest],
        on_done: Callable[[int, RenderResult], None] | None = None,
    ) -> list[RenderResult]:
        """Synchronous wrapper around :meth:`render_all`."""
        with go_tuning():
            return asyncio.run(self.render_all(requests, on_done))

    def render(self, request: RenderRequest) -> RenderResult:
        return self.render_many([request])[0]

    def version(self) -> str:
        async def run() -> str:
            out = await self._command.run(["version", "--template", "{{ .Version }}"])
            return out.decode().strip()

        try:
            return asyncio.run(run())
        except helm_errors().Error as exc:
            message = clean_error(str(exc))
            raise ChartmatrixError(self.helm, f"helm version failed: {message}") from None

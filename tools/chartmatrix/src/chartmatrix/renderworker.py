"""Render through chartmatrix's render worker: Helm's own template code, in-process.

``chartmatrix-render-v4`` (``-v3`` for helm3) is built by ``tools/bootstrap`` from Helm's
Go module at the pinned version (``tools/renderworker/``). It answers ``helm template``
calls read as JSON lines on its stdin with exactly what ``helm template`` would print,
loads each chart once and stays up for the whole run: a render costs Helm's template
engine only, not a process start and a chart load. :class:`WorkerRenderer` runs one
worker per job and has :class:`~chartmatrix.render.Renderer`'s interface; requests the
worker does not handle (``--show-only``, remote charts, ...) go to ``helm template``.

A worker is used only when it renders like the chosen helm: both render a probe chart
printing ``.Capabilities`` (Helm version and commit, Go version, default Kubernetes
version and API versions) and the outputs must be equal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from chartmatrix.errors import ChartmatrixError
from chartmatrix.render import (
    Renderer,
    RenderRequest,
    RenderResult,
    clean_error,
    find_helm,
    major_of,
    own_checkout,
)

RENDERERS = ("worker", "helm")
# Helm sorts a render's manifests by parsing each one whole (SortManifests): on charts
# whose templates hold large CRDs that is most of a render, and Go's collector a fifth
# of its CPU. A larger GC target costs memory the worker has (its live heap is the
# charts it keeps), bounded by the soft limit.
WORKER_GO_TUNING = {"GOGC": "400", "GOMEMLIMIT": "1GiB"}
WORKER_NAME = "chartmatrix-render-v{major}"
# requests of one chart go to one worker in chunks of at most this many, so that each
# worker loads a chart about once while the work still spreads over all workers
CHUNK = 16

_PROBE_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    "templates/probe.yaml": (
        "# {{ .Capabilities.HelmVersion.Version }}\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n"
        "data:\n  capabilities: {{ toJson .Capabilities | quote }}\n"
    ),
}


def _executable(path: Path) -> str | None:
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def find_worker(helm: str, major: int) -> str | None:
    """The worker for Helm ``major``: next to ``helm`` (as ``tools/bootstrap`` links
    both into ``.tools/bin``), on ``PATH``, or in this checkout's ``.tools/bin``."""
    name = WORKER_NAME.format(major=major)
    explicit = os.environ.get("CHARTMATRIX_RENDER_WORKER")
    if explicit:
        return _executable(Path(explicit))
    candidates = [Path(helm).parent / name, Path(os.path.realpath(helm)).parent / name]
    root = own_checkout()
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    if root is not None:
        candidates.append(root / ".tools" / "bin" / name)
    for candidate in candidates:
        path = _executable(candidate)
        if path:
            return path
    return None


class WorkerError(Exception):
    """The worker process failed (died, answered garbage)."""


class _Worker:
    """One worker process: a request line in, a response line out."""

    def __init__(self, path: str) -> None:
        self.proc = subprocess.Popen(
            [path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**WORKER_GO_TUNING, **os.environ},  # explicit settings win
        )
        self._stdin: IO[bytes] = self.proc.stdin  # type: ignore[assignment]
        self._stdout: IO[bytes] = self.proc.stdout  # type: ignore[assignment]

    def send(self, payload: dict[str, Any]) -> None:
        try:
            self._stdin.write(json.dumps(payload).encode() + b"\n")
            self._stdin.flush()
        except OSError as exc:
            raise WorkerError(f"worker stopped ({exc})") from None

    def receive(self) -> dict[str, Any]:
        line = self._stdout.readline()
        if not line:
            raise WorkerError(f"worker exited with status {self.proc.poll()}")
        try:
            answer = json.loads(line)
        except ValueError as exc:
            raise WorkerError(f"worker answered garbage ({exc})") from None
        if not isinstance(answer, dict):
            raise WorkerError("worker answered garbage")
        return answer

    def call(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.send(payload)
        return self.receive()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self._stdout.close()


def _close_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.close()
    workers.clear()


def _payload(request: RenderRequest, ident: int) -> dict[str, Any]:
    return {
        "id": ident,
        "args": request.args(),
        "stdin": request.stdin().decode(),
        "cwd": os.getcwd(),
    }


class _Probe:
    """helm's render of the probe chart: from the cache, or from helm running in the
    background while the worker starts."""

    def __init__(self, helm: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="chartmatrix-probe-")
        self.chart = Path(self._tmp.name) / "probe"
        for name, text in _PROBE_CHART.items():
            (self.chart / name).parent.mkdir(parents=True, exist_ok=True)
            (self.chart / name).write_text(text, encoding="utf-8")
        self.request = RenderRequest(self.chart, {}, include_crds=False)
        self.helm = helm
        self._proc: subprocess.Popen[bytes] | None = None
        self._key = _probe_key(helm)
        if self._key not in _helm_probes:
            cached = _probe_file(self._key)
            with contextlib.suppress(OSError, ValueError):
                _helm_probes[self._key] = tuple(json.loads(cached.read_text(encoding="utf-8")))
        if self._key not in _helm_probes:
            self._proc = subprocess.Popen(
                [helm, *self.request.args()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )

    def result(self) -> tuple[str, str]:
        """helm's render of the probe chart and the Helm version it names."""
        if self._proc is not None:
            out, err = self._proc.communicate(self.request.stdin())
            if self._proc.returncode != 0:
                raise ChartmatrixError(
                    self.helm, f"helm template failed: {clean_error(err.decode())}"
                )
            text = out.decode()
            version = text.split("# Source: probe/templates/probe.yaml\n# ", 1)[-1]
            found = (text, version.split("\n", 1)[0].strip())
            _helm_probes[self._key] = found
            self._proc = None
            with contextlib.suppress(OSError):
                cached = _probe_file(self._key)
                cached.parent.mkdir(parents=True, exist_ok=True)
                partial = cached.with_suffix(f".{os.getpid()}")
                partial.write_text(json.dumps(found), encoding="utf-8")
                partial.replace(cached)
        return _helm_probes[self._key]  # type: ignore[return-value]

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        self._tmp.cleanup()


# helm executable → its render of the probe chart and its version; kept on disk too
# (keyed by the executable's path, size and modification time, and the probe chart)
_helm_probes: dict[str, tuple[str, ...]] = {}


def _probe_key(helm: str) -> str:
    real = os.path.realpath(helm)
    st = os.stat(real)
    text = json.dumps([real, st.st_size, st.st_mtime_ns, _PROBE_CHART])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _probe_file(key: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "chartmatrix" / "helm-probe" / f"{key}.json"


class WorkerRenderer:
    """Renders with ``jobs`` render workers; the interface of :class:`Renderer`."""

    def __init__(
        self,
        helm: str | None = None,
        jobs: int | None = None,
        *,
        worker: str | None = None,
        required: bool = True,
        lazy: bool = False,
    ) -> None:
        """``worker``: the worker executable (default: found for helm's major version).
        Raises ChartmatrixError when no worker renders like helm; with ``required=False``
        it renders with ``helm template`` instead (:attr:`usable` is False). ``lazy``:
        check at the first render, the worker starting meanwhile."""
        self.helm = find_helm(helm)
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.required = required
        self.fallbacks = 0  # requests rendered by helm instead
        self._workers: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _close_all, self._workers)
        self._version = ""
        self.why_not = ""
        self.worker = ""
        self._given = worker
        self._guess = 3 if os.path.basename(self.helm) == "helm3" else 4
        self._probe: _Probe | None = _Probe(self.helm)  # helm renders it meanwhile
        path = worker or find_worker(self.helm, self._guess)
        if path:
            self._start(path, self._probe)
        if not lazy:
            self._settle()

    @cached_property
    def reference(self) -> Renderer:
        """helm itself, for what the worker hands back: made on first use, so a run the
        worker renders alone never imports pyhelm3 (and pydantic, about 0.4 s)."""
        return Renderer(self.helm, self.jobs)

    def _start(self, path: str, probe: _Probe) -> None:
        """Start the first worker and ask it for its version and the probe chart."""
        self.worker = path
        try:
            first = _Worker(path)
            self._workers.append(first)
            first.send({"id": 0, "op": "version"})
            first.send(_payload(probe.request, 1))
        except (WorkerError, OSError) as exc:
            self.why_not = f"{path} does not work: {exc}"

    def _settle(self) -> None:
        """Finish the check begun in __init__ (once)."""
        probe, self._probe = self._probe, None
        if probe is None:
            return
        try:
            if not self.why_not:
                self._check(probe)
        finally:
            probe.close()
        if self.why_not:
            self.close()
            if self.required:
                raise ChartmatrixError("--renderer worker", self.why_not)

    def _check(self, probe: _Probe) -> None:
        """The worker for helm's major version (guessed from helm's name while helm
        renders the probe chart) must render the probe chart as helm does."""
        try:
            theirs, version = probe.result()
            major = major_of(version)
            if self._given is None and major != self._guess:
                self.close()
                self.worker = ""
                path = find_worker(self.helm, major) if major else None
                if path:
                    self._start(path, probe)
                    if self.why_not:
                        return
            if not self.worker:
                name = WORKER_NAME.format(major=major or "?")
                self.why_not = (
                    f"no {name} render worker for {self.helm} (tools/bootstrap builds it)"
                )
                return
            first = self._workers[0]
            self._version = str(first.receive().get("stdout", ""))
            answer = first.receive()
        except (WorkerError, OSError) as exc:
            self.why_not = f"{self.worker} does not work: {exc}"
            return
        except ChartmatrixError as exc:  # helm itself failed: helm template reports it
            self.why_not = exc.problem
            return
        mine = answer.get("stdout") if answer.get("ok") else answer.get("stderr")
        if mine != theirs:
            self.why_not = (
                f"{self.worker} (Helm {self._version}) does not render like {self.helm} "
                f"(Helm {version}): rebuild it with tools/bootstrap"
            )

    @property
    def usable(self) -> bool:
        """Whether the worker renders (False: ``helm template`` does)."""
        self._settle()
        return not self.why_not

    def close(self) -> None:
        """Stop the workers (they also stop when this process exits)."""
        _close_all(self._workers)

    # -- rendering -----------------------------------------------------------------

    def _worker(self, slot: int) -> _Worker:
        while len(self._workers) <= slot:
            self._workers.append(_Worker(self.worker))
        return self._workers[slot]

    def _restart(self, slot: int) -> _Worker | None:
        self._workers[slot].close()
        try:
            self._workers[slot] = _Worker(self.worker)
        except OSError:
            return None
        return self._workers[slot]

    def _chunks(self, requests: Sequence[RenderRequest]) -> list[list[int]]:
        by_chart: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            by_chart.setdefault(str(request.chart_dir), []).append(i)
        chunks: list[list[int]] = []
        for indices in by_chart.values():
            size = max(1, min(CHUNK, -(-len(indices) // self.jobs)))
            chunks.extend(indices[i : i + size] for i in range(0, len(indices), size))
        return chunks

    def _serve(
        self,
        slot: int,
        requests: Sequence[RenderRequest],
        chunks: queue.Queue[list[int]],
        done: queue.Queue[tuple[int, RenderResult | None]],
    ) -> None:
        """One worker's loop: take a chunk, render it, report each result (None: helm).
        A worker that dies is started again, twice at most; then helm takes over."""
        worker: _Worker | None = self._workers[slot]
        deaths = 0
        while True:
            try:
                chunk = chunks.get_nowait()
            except queue.Empty:
                return
            for index in chunk:
                result: RenderResult | None = None
                try:
                    if worker is not None:
                        result = self._one(worker, requests[index], index)
                except WorkerError:
                    deaths += 1
                    worker = self._restart(slot) if deaths <= 2 else None
                except Exception:  # never leave render_many waiting: helm renders it
                    result = None
                done.put((index, result))

    def _one(self, worker: _Worker, request: RenderRequest, index: int) -> RenderResult | None:
        started = time.perf_counter()
        answer = worker.call(_payload(request, index))
        seconds = time.perf_counter() - started
        if answer.get("id") != index:
            raise WorkerError("worker answered out of turn")
        if answer.get("fallback"):
            return None
        if answer.get("ok"):
            return RenderResult(True, str(answer.get("stdout", "")), "", seconds)
        message = clean_error(str(answer.get("stderr", ""))) or (
            f"{self.helm} exited with status 1 and no message"
        )
        return RenderResult(False, "", message, seconds)

    def render_many(
        self,
        requests: Sequence[RenderRequest],
        on_done: Callable[[int, RenderResult], None] | None = None,
    ) -> list[RenderResult]:
        """Render every request; ``on_done`` is called in this thread as each finishes
        (the workers go on rendering the rest while it runs)."""
        self._settle()
        if self.why_not:
            return self.reference.render_many(requests, on_done)
        results: list[RenderResult | None] = [None] * len(requests)
        chunks: queue.Queue[list[int]] = queue.Queue()
        for chunk in self._chunks(requests):
            chunks.put(chunk)
        done: queue.Queue[tuple[int, RenderResult | None]] = queue.Queue()
        slots = min(self.jobs, chunks.qsize())
        try:
            for slot in range(slots):
                self._worker(slot)  # started here: the threads only use them
        except OSError as exc:
            raise ChartmatrixError(self.worker, f"cannot start the render worker ({exc})") from None
        threads = [
            threading.Thread(target=self._serve, args=(slot, requests, chunks, done), daemon=True)
            for slot in range(slots)
        ]
        for thread in threads:
            thread.start()
        handed_back: list[int] = []
        for _ in range(len(requests)):
            index, result = done.get()
            if result is None:
                handed_back.append(index)
                continue
            results[index] = result
            if on_done is not None:
                on_done(index, result)
        for thread in threads:
            thread.join()
        if handed_back:
            self.fallbacks += len(handed_back)

            def reference_done(i: int, result: RenderResult) -> None:
                if on_done is not None:
                    on_done(handed_back[i], result)

            again = self.reference.render_many([requests[i] for i in handed_back], reference_done)
            for i, result in zip(handed_back, again, strict=True):
                results[i] = result
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def render(self, request: RenderRequest) -> RenderResult:
        return self.render_many([request])[0]

    def version(self) -> str:
        """Helm's version, as the worker reports it (equal to helm's: probed)."""
        self._settle()
        return self._version if not self.why_not else self.reference.version()


def make_renderer(
    helm: str | None = None, jobs: int | None = None, renderer: str | None = None
) -> Renderer | WorkerRenderer:
    """``renderer``: "worker", "helm", or None for the worker when one renders exactly
    like the chosen helm (checked while the run gets ready) and ``helm template``
    otherwise."""
    if renderer not in (None, *RENDERERS):
        raise ChartmatrixError("--renderer", f"unknown renderer {renderer!r} (worker or helm)")
    if renderer == "helm":
        return Renderer(helm, jobs)
    if renderer == "worker":
        return WorkerRenderer(helm, jobs)
    path = find_helm(helm)
    if not any(find_worker(path, major) for major in (3, 4)):
        return Renderer(path, jobs)
    return WorkerRenderer(path, jobs, required=False, lazy=True)

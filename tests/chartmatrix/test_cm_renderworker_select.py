"""Choosing the renderer: the worker when it renders exactly like the chosen helm,
``helm template`` otherwise; ``--renderer``; a worker that dies mid-run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from chartmatrix.cli import main
from chartmatrix.errors import ChartmatrixError
from chartmatrix.render import Renderer, RenderRequest
from chartmatrix.renderworker import WorkerRenderer, make_renderer
from renderworker_support import mismatches, renderers


def _script(path: Path, body: str) -> str:
    path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


IMPOSTOR = """\
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    out = "v4.3.1" if req.get("op") == "version" else "---\\n# Source: probe/x.yaml\\nnope\\n"
    print(json.dumps({"id": req["id"], "ok": True, "stdout": out, "stderr": ""}), flush=True)
"""

# the real worker behind a proxy that exits after a few renders
DYING = """\
import subprocess, sys
worker = subprocess.Popen([{worker!r}], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
for n, line in enumerate(sys.stdin.buffer):
    if n == {after}:
        sys.exit(3)
    worker.stdin.write(line)
    worker.stdin.flush()
    sys.stdout.buffer.write(worker.stdout.readline())
    sys.stdout.buffer.flush()
"""


def test_helm_renderer_on_request() -> None:
    assert type(make_renderer(renderer="helm")) is Renderer


def test_unknown_renderer_is_one_clear_error() -> None:
    with pytest.raises(ChartmatrixError, match="unknown renderer"):
        make_renderer(renderer="fast")


def test_worker_is_the_default_when_built() -> None:
    _, worker = renderers("helm")
    worker.close()
    assert isinstance(make_renderer(), WorkerRenderer)
    assert worker.version().startswith("v4.")


def test_a_worker_that_renders_otherwise_is_not_used(
    created_chart: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARTMATRIX_RENDER_WORKER", _script(tmp_path / "impostor", IMPOSTOR))
    chosen = make_renderer()
    assert isinstance(chosen, WorkerRenderer) and not chosen.usable
    assert "does not render like" in chosen.why_not
    request = RenderRequest(created_chart, {"replicaCount": 2})
    assert chosen.render(request).text == Renderer().render(request).text  # helm rendered it
    assert chosen.version() == Renderer().version()
    with pytest.raises(ChartmatrixError, match="does not render like"):
        make_renderer(renderer="worker")


def test_a_missing_worker_means_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTMATRIX_RENDER_WORKER", str(tmp_path / "absent"))
    assert type(make_renderer()) is Renderer
    with pytest.raises(ChartmatrixError, match="no chartmatrix-render-v4 render worker"):
        make_renderer(renderer="worker")


def test_requests_of_a_dead_worker_go_to_helm(
    created_chart: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, real = renderers("helm")
    real.close()
    # the probe and version take the first two lines: it dies at its third render
    proxy = _script(tmp_path / "dying", DYING.format(worker=real.worker, after=4))
    monkeypatch.setenv("CHARTMATRIX_RENDER_WORKER", proxy)
    worker = WorkerRenderer(jobs=1)
    requests = [RenderRequest(created_chart, {"replicaCount": n}) for n in range(6)]
    try:
        actual = worker.render_many(requests)
    finally:
        worker.close()
    assert not mismatches(requests, reference.render_many(requests), actual)
    assert 1 <= worker.fallbacks < len(requests)


@pytest.mark.parametrize("renderer", ["worker", "helm"])
def test_run_with_either_renderer(
    renderer: str, created_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if renderer == "worker":
        renderers("helm")[1].close()  # skips (or fails in CI) when the worker is missing
    code = main(["run", "--no-progress", "--renderer", renderer, str(created_chart)])
    out = capsys.readouterr().out
    assert code == 0 and "OK 1 cases" in out, out

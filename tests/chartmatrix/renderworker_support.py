"""Shared by the render worker tests: the two renderers of one Helm major, and diffs."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence

import pytest
from chartmatrix.errors import ChartmatrixError
from chartmatrix.render import Renderer, RenderRequest, RenderResult, find_helm
from chartmatrix.renderworker import WorkerRenderer

HELMS = ("helm", "helm3")  # Helm v4 and v3, as tools/bootstrap installs them


def renderers(name: str, jobs: int | None = None) -> tuple[Renderer, WorkerRenderer]:
    """``helm template`` and the worker for the helm called ``name``; skipped when either
    is missing (but not in CI, where tools/bootstrap builds both)."""
    try:
        helm = find_helm(name)
    except ChartmatrixError as exc:
        pytest.skip(str(exc))
    try:
        worker = WorkerRenderer(helm, jobs)
    except ChartmatrixError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    return Renderer(helm, jobs), worker


def render_both(
    reference: Renderer, worker: WorkerRenderer, requests: Sequence[RenderRequest]
) -> tuple[list[RenderResult], list[RenderResult]]:
    """helm's results and the worker's for the same requests; the worker is closed."""
    try:
        return reference.render_many(requests), worker.render_many(requests)
    finally:
        worker.close()


def _same(a: RenderResult, b: RenderResult) -> bool:
    return (a.ok, a.text, a.error) == (b.ok, b.text, b.error)


def _volatile_lines_only(got: RenderResult, helm_runs: list[RenderResult]) -> bool:
    """``got`` differs from helm's renders only where helm's renders differ among
    themselves (random data: generated passwords, certificates)."""
    texts = [(r.text if r.ok else r.error).splitlines() for r in helm_runs]
    mine = (got.text if got.ok else got.error).splitlines()
    if any(r.ok != got.ok for r in helm_runs) or any(len(t) != len(mine) for t in texts):
        return False
    for i, line in enumerate(mine):
        seen = {t[i] for t in texts}
        if len(seen) == 1 and line not in seen:
            return False
    return True


def _documents(text: str) -> list[str]:
    return sorted(d.strip() for d in re.split(r"^---$", text, flags=re.MULTILINE))


def _reordered(got: RenderResult, helm_runs: list[RenderResult]) -> bool:
    """Documents helm prints in varying order (templates ranging over ``keys`` of a
    dict), or an error whose lines it prints in varying order (values schema errors)."""
    if got.ok:
        docs = _documents(got.text)
        return all(r.ok and _documents(r.text) == docs for r in helm_runs)
    lines = sorted(got.error.splitlines())
    return all(not r.ok and sorted(r.error.splitlines()) == lines for r in helm_runs)


def mismatches(
    requests: Sequence[RenderRequest],
    expected: Sequence[RenderResult],
    actual: Sequence[RenderResult],
    labels: Sequence[str] | None = None,
    reference: Renderer | None = None,
    nondeterministic: list[str] | None = None,
) -> list[str]:
    """One report per request whose worker result differs from helm's (text or error).

    helm is not always deterministic (the order of values schema errors, documents from
    a range over ``keys``, random Secret data): with ``reference``, a differing request
    is rendered by helm again (6 times, 30 when only the order of documents differs)
    and passes when the worker's result equals one of those renders, or differs only in
    lines that differ between them, in the order of its documents or in the order of
    the lines of an error (then it is listed in ``nondeterministic``).
    """
    out: list[str] = []
    for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if _same(want, got):
            continue
        label = labels[i] if labels else " ".join(requests[i].args())
        if reference is not None:
            runs = [want, *reference.render_many([requests[i]] * 6)]
            if any(_same(run, got) for run in runs):
                continue
            if len({(r.ok, r.text, r.error) for r in runs}) == 1 and _reordered(got, runs[:1]):
                # the same documents in another order: is helm's order random here?
                runs += reference.render_many([requests[i]] * 24)
                if any(_same(run, got) for run in runs):
                    continue
            distinct = {(r.ok, r.text, r.error) for r in runs}
            if len(distinct) > 1 and (_volatile_lines_only(got, runs) or _reordered(got, runs)):
                if nondeterministic is not None:
                    nondeterministic.append(label)
                continue
        if want.ok != got.ok:
            out.append(
                f"{label}: helm ok={want.ok} ({want.error[:200]!r}), "
                f"worker ok={got.ok} ({got.error[:200]!r})"
            )
            continue
        a, b = (want.text, got.text) if want.ok else (want.error, got.error)
        diff = difflib.unified_diff(
            a.splitlines(), b.splitlines(), "helm template", "worker", n=1, lineterm=""
        )
        out.append(f"{label}:\n" + "\n".join(list(diff)[:40]))
    return out

"""Which axes proposed by ``chartmatrix init`` change what the chart renders.

A switch whose templates are gated by another value, or a key that no template reads,
multiplies the cases without testing anything; a value that cannot render alone (its
chart then asks for another value) makes every case of that axis fail. The defaults and
each candidate's other values are rendered twice each, and compared by what stays the
same between their two renders: generated passwords and certificates do not count as a
change, and a real change next to them (another line of a config file that holds a
generated key) does.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chartmatrix.charts import ChartInfo, stage
from chartmatrix.golden import normalize
from chartmatrix.manifests import Manifest, ManifestParseError, parse
from chartmatrix.render import HELM_LOG_LINE, RenderRequest, RenderResult
from chartmatrix.renderworker import make_renderer
from chartmatrix.validate import bundled_versions, served
from chartmatrix.values import from_path, merge

if TYPE_CHECKING:
    from chartmatrix.init import Candidate

_VARIES = "<varies>"


@dataclass(frozen=True)
class Effect:
    changes: bool  # some other value renders differently from the defaults
    failure: str = ""  # every other value failed to render alone: the first message

    @property
    def note(self) -> str:
        """Why an axis is left out of the proposal ("" when it is kept)."""
        if self.failure:
            return f"fails to render alone: {self.failure}"
        return "" if self.changes else "changes nothing with the defaults"


class DefaultsFail(Exception):
    """The chart's defaults do not render: nothing can be told apart."""


def _objects(result: RenderResult) -> list[Manifest] | None:
    if not result.ok:
        return None
    try:
        return normalize(parse(result.text))
    except ManifestParseError:
        return None


def _steady(a: Any, b: Any) -> Any:
    """What two renders of the same values share: a text's lines that are in both, an
    object's keys in both; anything else that differs is only "varies"."""
    if a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _steady(a[k], b[k]) for k in a.keys() & b.keys()}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [_steady(x, y) for x, y in zip(a, b, strict=True)]
    if isinstance(a, str) and isinstance(b, str):
        return (_VARIES, sorted(set(a.splitlines()) & set(b.splitlines())))
    return _VARIES


def _steady_render(a: list[Manifest], b: list[Manifest]) -> dict[tuple[str, ...], Any]:
    """Two renders' objects (those in both, by kind, namespace and name) as they stay."""

    def index(ms: list[Manifest]) -> dict[tuple[str, ...], Any]:
        return {(m.api_version, m.kind, m.namespace, m.name): m.obj for m in ms}

    first, second = index(a), index(b)
    return {k: _steady(first[k], second[k]) for k in first.keys() & second.keys()}


def _counts(ms: list[Manifest]) -> Counter[tuple[str, str, str]]:
    """How many objects of each apiVersion, kind and namespace a render has."""
    return Counter((m.api_version, m.kind, m.namespace) for m in ms)


def effects(
    info: ChartInfo,
    candidates: list[Candidate],
    helm_args: tuple[str, ...] = (),
    api_versions: tuple[str, ...] = (),
    base: dict[str, Any] | None = None,
) -> dict[str, Effect]:
    """Each candidate's effect by value path (``api_versions``: more the cluster serves,
    as a spec's ``kubernetes.apiVersions``; ``base``: values every case sets). Raises
    :class:`DefaultsFail` (with helm's message) when the chart's defaults do not render."""
    # as `run` renders a spec's cases by default: the newest Kubernetes version, which
    # serves the built-in kinds the templates test
    version = bundled_versions()[-1]
    served_here = (k for k in info.tested_kinds if served(k, version))
    kinds = api_versions + tuple(k for k in served_here if k not in api_versions)

    def request(values: dict[str, Any]) -> RenderRequest:
        return RenderRequest(
            staged,
            merge(base or {}, values),
            kube_version=version,
            api_versions=kinds,
            helm_args=helm_args,
        )

    with tempfile.TemporaryDirectory(prefix="chartmatrix-init-") as tmp:
        staged = stage(info.path, Path(tmp) / info.path.name)
        requests = [request({}) for _ in range(2)]
        owners: list[str] = []
        for c in candidates:
            for value in c.values[1:]:
                requests += [request(from_path(c.path, value)) for _ in range(2)]
                owners.append(c.path)
        renderer = make_renderer()
        try:
            results = renderer.render_many(requests, _Progress(info.name, len(requests)))
        finally:
            renderer.close()
    first, second = _objects(results[0]), _objects(results[1])
    if first is None or second is None:
        raise DefaultsFail(_one_line(results[0].error) or "its output is not YAML")
    defaults = _steady_render(first, second)
    counted = _counts(first)
    changed: set[str] = set()
    rendered: set[str] = set()
    failures: dict[str, str] = {}  # the first message per candidate
    for n, path in enumerate(owners):
        one, two = results[2 + 2 * n], results[3 + 2 * n]
        a, b = _objects(one), _objects(two)
        if a is None or b is None:
            error = one.error if a is None else two.error
            failures.setdefault(path, _one_line(error) or "its output is not YAML")
            continue
        rendered.add(path)
        # objects named at random drop out of the steady render: their count tells
        if _steady_render(a, b) != defaults or _counts(a) != counted:
            changed.add(path)
    return {
        c.path: Effect(c.path in changed, "" if c.path in rendered else failures.get(c.path, ""))
        for c in candidates
    }


class _Progress:
    """Says what init renders, on stderr: a chart that generates keys takes seconds a
    render, so minutes in all; on a terminal the count goes up as renders finish."""

    def __init__(self, chart: str, total: int) -> None:
        self.total, self.done = total, 0
        self.live = sys.stderr.isatty()
        self.text = (
            f"chartmatrix init: rendering {chart} {total} times "
            "(the defaults and each candidate value, twice each)"
        )
        print(self.text, end="" if self.live else "\n", file=sys.stderr, flush=True)

    def __call__(self, _index: int, _result: RenderResult) -> None:
        self.done += 1
        if self.live:
            end = "\n" if self.done == self.total else ""
            line = f"\r\033[K{self.text}: {self.done}/{self.total}"
            print(line, end=end, file=sys.stderr, flush=True)


def _one_line(text: str, limit: int = 300) -> str:
    """Helm's message on one line (a comment line of the spec), without the log lines
    helm printed beside it: its cause is often on its last line."""
    kept = [line for line in text.splitlines() if not HELM_LOG_LINE.match(line)]
    line = " ".join(" ".join(kept or text.splitlines()).split())
    if len(line) <= limit:
        return line
    # both ends: where it failed, and why (helm's last words)
    half = (limit - 5) // 2
    return f"{line[:half]} ... {line[-half:]}"

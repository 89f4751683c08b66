"""Which axes proposed by ``chartmatrix init`` change what the chart renders.

A switch whose templates are gated by another value, or a key that no template reads,
multiplies the cases without testing anything; a value that cannot render alone (its
chart then asks for another value) makes every case of that axis fail. Each candidate's
other values are rendered once over the chart's defaults and compared with the defaults'
render; what differs between two renders of the defaults (generated passwords,
certificates) does not count as a change.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chartmatrix.charts import stage
from chartmatrix.golden import normalize, variations
from chartmatrix.manifests import Manifest, ManifestParseError, parse
from chartmatrix.render import RenderRequest, RenderResult
from chartmatrix.renderworker import make_renderer
from chartmatrix.values import from_path

if TYPE_CHECKING:
    from chartmatrix.init import Candidate


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


def _objects(result: RenderResult) -> list[Manifest] | None:
    if not result.ok:
        return None
    try:
        return normalize(parse(result.text))
    except ManifestParseError:
        return None


def _differences(a: list[Manifest], b: list[Manifest]) -> set[tuple[str, str, str]]:
    return {(v.kind, v.name, v.path) for v in variations(a, b)}


class DefaultsFail(Exception):
    """The chart's defaults do not render: nothing can be told apart."""


def effects(
    chart_dir: Path, candidates: list[Candidate], helm_args: tuple[str, ...] = ()
) -> dict[str, Effect]:
    """Each candidate's effect by value path. Raises :class:`DefaultsFail` (with helm's
    message) when the chart's defaults do not render."""
    with tempfile.TemporaryDirectory(prefix="chartmatrix-init-") as tmp:
        staged = stage(chart_dir, Path(tmp) / chart_dir.name)
        # the defaults twice: what differs between them is volatile
        requests = [RenderRequest(staged, helm_args=helm_args) for _ in range(2)]
        owners: list[str] = []
        for c in candidates:
            for value in c.values[1:]:
                values = from_path(c.path, value)
                requests.append(RenderRequest(staged, values, helm_args=helm_args))
                owners.append(c.path)
        renderer = make_renderer()
        try:
            results = renderer.render_many(requests)
        finally:
            renderer.close()
    first, second = _objects(results[0]), _objects(results[1])
    if first is None or second is None:
        raise DefaultsFail(_one_line(results[0].error) or "its output is not YAML")
    volatile = _differences(first, second)
    changed: set[str] = set()
    rendered: set[str] = set()
    failures: dict[str, str] = {}  # the first message per candidate
    for path, result in zip(owners, results[2:], strict=True):
        objects = _objects(result)
        if objects is None:
            failures.setdefault(path, _one_line(result.error) or "its output is not YAML")
            continue
        rendered.add(path)
        if _differences(first, objects) - volatile:
            changed.add(path)
    return {
        c.path: Effect(c.path in changed, "" if c.path in rendered else failures.get(c.path, ""))
        for c in candidates
    }


def _one_line(text: str, limit: int = 300) -> str:
    """Helm's message on one line (a comment line of the spec): its cause is often on
    its last line."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."

"""``run --shard I/N``: which cases one of N machines checks.

Assignment is deterministic and stable by case id:

- **Without timings**, a case goes to shard ``sha256(chart + case id) mod N``: adding,
  removing or renaming other cases never moves it, and shards get about the same
  number of cases.
- **With timings** (``--shard-timings REPORT.json``, the JSON report of an earlier run,
  sharded or merged), the cases it timed are spread by cost, longest first, each to the
  least loaded shard (ties: by id, then to the lowest shard). That depends only on the
  timings file, so cases added since it was written do not move the timed ones; the new
  cases go by hash. Refreshing the timings file may move cases, which is harmless:
  every shard run is independent and ``chartmatrix merge`` checks that each case ran
  exactly once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chartmatrix.errors import ChartmatrixError
from chartmatrix.spec import Case, MatrixSpec

if TYPE_CHECKING:
    from chartmatrix.runner import Selector

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

Timings = dict[tuple[str, str], float]  # (chart name, case id) -> seconds


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N`` with 1 <= I <= N."""
    match = _SHARD.match(text)
    if not match:
        raise ChartmatrixError("--shard", f"{text!r} is not I/N (e.g. 2/3)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ChartmatrixError("--shard", f"{text!r}: want 1 <= I <= N (got I={index}, N={count})")
    return Shard(index, count)


def load_timings(file: Path) -> Timings:
    """Per-case seconds from a chartmatrix JSON report (``run --json``, or ``merge``)."""
    where = f"--shard-timings {file}"
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChartmatrixError(where, f"cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise ChartmatrixError(where, f"not JSON ({exc})") from None
    out: Timings = {}
    try:
        for chart in data["charts"]:
            for case in chart["cases"]:
                out[(str(chart["name"]), str(case["id"]))] = float(case["seconds"])
    except (KeyError, TypeError, ValueError):
        raise ChartmatrixError(
            where, "not a chartmatrix JSON report with per-case seconds (run --json)"
        ) from None
    return out


def _hash_shard(chart: str, case_id: str, count: int) -> int:
    digest = hashlib.sha256(f"{chart}\0{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def assign(
    specs: list[MatrixSpec], count: int, timings: Timings | None = None
) -> dict[tuple[str, str], int]:
    """(chart name, case id) -> shard number (1..count) for every case of ``specs``."""
    keys = [(s.name, c.id) for s in specs for c in s.cases]
    out = {key: _hash_shard(*key, count) for key in keys}
    timed = sorted(
        ((timings[key], key) for key in (timings or {}) if key in out),
        key=lambda item: (-item[0], item[1]),
    )
    loads = [0.0] * count
    for cost, key in timed:
        lightest = min(range(count), key=lambda n: (loads[n], n))
        loads[lightest] += cost
        out[key] = lightest + 1
    return out


def selector(specs: list[MatrixSpec], shard: Shard, timings: Timings | None = None) -> Selector:
    """A runner selector for the cases of ``shard``."""
    chosen = assign(specs, shard.count, timings)

    def mine(spec: MatrixSpec, case: Case) -> bool:
        return chosen.get((spec.name, case.id)) == shard.index

    return mine


def spec_digest(spec: MatrixSpec) -> str:
    """Equal for shards of the same spec (wherever it is checked out): its name, cases,
    values and masks."""
    cases = [
        [c.id, c.values, list(c.kube_versions), c.expect_failure, c.release, c.namespace]
        for c in spec.cases
    ]
    text = json.dumps(
        [spec.name, cases, [repr(m) for m in spec.masks]], sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]

"""``chartmatrix merge``: the JSON reports of ``run --shard I/N`` joined into one report.

The result is the report the unsharded run would have written (cases in spec order,
chart findings once), apart from timings: ``seconds`` is the slowest shard's wall time and
``timings_ms`` the sum over shards. Every shard 1..N must be given once, all from the
same chartmatrix version, settings and specs, and together they must cover every case
exactly once; anything else is a one-line error naming the file.

A changed CRD file (``crds/<name>.yaml``, shared by the cases that render it) is diffed on
the first case, in spec order, that names it. A shard knows only its own cases, so each
shard that renders the CRD diffs it on its first such case; the merge keeps the copy of
the first case in spec order, which is the case the unsharded run diffs it on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chartmatrix.errors import ChartmatrixError
from chartmatrix.locate import first_changed_line

COVERAGE = "coverage/modes"
# a golden file's diff: a case's diff is its own file's, then those of the CRD files it names
_FILE_DIFF = re.compile(
    r"^--- (?P<file>.+) \(golden\)\n\+\+\+ (?P=file) \(rendered\)\n", re.MULTILINE
)


def _load(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChartmatrixError(file, f"cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise ChartmatrixError(file, f"not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("charts"), list):
        raise ChartmatrixError(file, "not a chartmatrix JSON report (run --json)")
    shard = data.get("shard")
    keys = {"index", "count", "chartmatrix", "specs", "unused_masks"}
    if not isinstance(shard, dict) or not keys <= set(shard):
        raise ChartmatrixError(file, "not a shard's report (run --shard I/N --json FILE)")
    return data


def _check_shards(shards: list[tuple[Path, dict[str, Any]]]) -> None:
    first_file, first = shards[0]
    head = first["shard"]
    count = head["count"]
    seen: dict[int, Path] = {}
    for file, data in shards:
        shard = data["shard"]
        for key, what in (("count", "shard count"), ("chartmatrix", "chartmatrix version")):
            if shard[key] != head[key]:
                raise ChartmatrixError(
                    file, f"{what} {shard[key]} differs from {first_file}'s {head[key]}"
                )
        if data["strict"] != first["strict"]:
            raise ChartmatrixError(file, f"--strict differs from {first_file}")
        if shard.get("helm") != head.get("helm"):  # v3 and v4 read some values apart
            raise ChartmatrixError(
                file, f"run with Helm v{shard.get('helm')}, {first_file} with v{head.get('helm')}"
            )
        if shard["specs"] != head["specs"]:
            raise ChartmatrixError(
                file, f"shard of other specs (or other versions of them) than {first_file}"
            )
        index = shard["index"]
        if index in seen:
            raise ChartmatrixError(file, f"shard {index}/{count} given twice (also {seen[index]})")
        seen[index] = file
    missing = [str(i) for i in range(1, count + 1) if i not in seen]
    if missing:
        raise ChartmatrixError(
            None, f"merge: shard(s) {', '.join(missing)} of {count} missing (give every shard)"
        )


def _chart_findings(
    charts: list[dict[str, Any]], unused: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Each chart finding once, in the unsharded run's order: a mask is unused when no
    shard used it, reported before the coverage findings (as the runner does)."""
    out: list[dict[str, Any]] = []
    for chart in charts:
        out.extend(f for f in chart["findings"] if f not in out)
    masks = [f for f in unused[0] if all(f in other for other in unused[1:])]
    at = next((i for i, f in enumerate(out) if f["rule"] == COVERAGE), len(out))
    return out[:at] + masks + out[at:]


def _shared_diffs_once(cases: list[dict[str, Any]]) -> None:
    """Each CRD file's diff on the first case (in spec order) that carries it: every shard
    that renders the CRD diffs it on one of its own cases."""
    seen: set[str] = set()
    for case in cases:
        golden = case["checks"]["golden"]
        own = case["golden"]["file"] if case["golden"] else None
        diff = golden["diff"]
        files = list(_FILE_DIFF.finditer(diff))
        if not files:
            continue
        kept = diff[: files[0].start()]
        ends = [m.start() for m in files[1:]] + [len(diff)]
        for match, end in zip(files, ends, strict=True):
            file = match.group("file")
            if file != own:  # a CRD file the case names
                if file in seen:
                    continue
                seen.add(file)
            kept += diff[match.start() : end]
        if kept == diff:
            continue
        golden["diff"] = kept
        before, after = first_changed_line(diff), first_changed_line(golden["diff"])
        for finding in golden["findings"]:
            if finding["file"] == own and finding["line"] == before:
                finding["line"] = after


def _merge_chart(
    name: str, shards: list[tuple[Path, dict[str, Any]]], strict: bool
) -> dict[str, Any]:
    parts = [next(c for c in data["charts"] if c["name"] == name) for _, data in shards]
    wanted: list[str] = shards[0][1]["shard"]["specs"][name]["cases"]
    by_id: dict[str, dict[str, Any]] = {}
    where: dict[str, Path] = {}
    for (file, _), part in zip(shards, parts, strict=True):
        for case in part["cases"]:
            if case["id"] in by_id:
                raise ChartmatrixError(
                    file, f"{name}: case {case['id']!r} is also in {where[case['id']]}"
                )
            by_id[case["id"]] = case
            where[case["id"]] = file
    missing = [c for c in wanted if c not in by_id]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ChartmatrixError(
            None, f"merge: {name}: no shard ran case(s) {', '.join(missing[:3])}{more}"
        )
    extra = sorted(set(by_id) - set(wanted))
    if extra:
        raise ChartmatrixError(where[extra[0]], f"{name}: case {extra[0]!r} is not in the spec")
    cases = [by_id[c] for c in wanted]
    _shared_diffs_once(cases)
    findings = _chart_findings(parts, [data["shard"]["unused_masks"][name] for _, data in shards])
    bad = {"error", "warning"} if strict else {"error"}
    return {
        **parts[0],
        "failed": any(c["failed"] for c in cases) or any(f["severity"] in bad for f in findings),
        "findings": findings,
        "cases": cases,
    }


def merge_reports(files: list[Path]) -> dict[str, Any]:
    """One report from the JSON reports of every shard of a run."""
    if not files:
        raise ChartmatrixError(None, "merge: give the shards' JSON reports")
    shards = [(Path(f), _load(Path(f))) for f in files]
    _check_shards(shards)
    shards.sort(key=lambda item: item[1]["shard"]["index"])
    first = shards[0][1]
    strict = bool(first["strict"])
    charts = [_merge_chart(c["name"], shards, strict) for c in first["charts"]]
    timings: dict[str, float] = {}
    for _, data in shards:
        for stage, ms in data["timings_ms"].items():
            timings[stage] = round(timings.get(stage, 0.0) + ms, 1)
    cases = [case for chart in charts for case in chart["cases"]]
    return {
        "ok": not any(c["failed"] for c in charts),
        "strict": strict,
        "cases": len(cases),
        "failed": sum(1 for c in cases if c["failed"]),
        "seconds": max(data["seconds"] for _, data in shards),
        "timings_ms": timings,
        "charts": charts,
    }

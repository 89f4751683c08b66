"""``chartmatrix bench``: chartmatrix beside what users pick instead, on the same cases.

Measured in one run over the same cases (numbers only; nothing here is a timed test):

- **chartmatrix**: the whole pipeline (render, parse, strict schemas for every
  Kubernetes version, rules, golden compare), warm: a second run in the same process
  with the verdict cache emptied. The fixed start-up (interpreter and imports; loading
  schemas and starting renderers on the first run) is shown on its own line.
- **helm template alone**: one ``helm template`` process per case (``jobs`` at a time),
  checking nothing: the cost a case is compared with on public charts.
- **helm template + kubeconform**: those same ``helm template`` outputs,
  then one kubeconform (``-strict``, offline) over all output per Kubernetes version, fed
  the same strict schemas as chartmatrix: kubernetes-validate's files bundled with the
  definitions they use, in kubeconform's ``-schema-location`` layout (cached).
- **helm-unittest**: an equivalent generated suite in a staged copy of the chart: one
  test per case with the same values, release and Kubernetes version
  (``release.revision: 1``), a snapshot assertion (``failedTemplate`` for must-fail
  cases); the snapshots are written by an untimed first run.

``--scale`` reports ms per case and peak memory at 10, 100, 1,000 and 3,000 generated cases,
each size in a fresh process (``python -m chartmatrix.bench --scale-one N CHART``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chartmatrix.charts import stage
from chartmatrix.errors import ChartmatrixError
from chartmatrix.render import RenderRequest
from chartmatrix.runner import Options, Runner
from chartmatrix.spec import Case, MatrixSpec
from chartmatrix.validate import SCHEMA_ROOT, schema_version, version_key
from chartmatrix.values import layered

# 10, 100 and 1,000 as issue-sized steps; 3,000 shows where memory levels off once the
# runner's bounded caches (parsed and normalized documents) are full
SCALE_SIZES = (10, 100, 1000, 3000)
# the generated scale matrix: replicas x a harmless numeric value
SCALE_AXES = ("workload.replicas", "workload.terminationGracePeriodSeconds")


def _top(case: Case) -> str:
    return max(case.kube_versions, key=version_key)


def _cases(specs: list[MatrixSpec], limit: int) -> list[tuple[int, Case]]:
    out = [(i, c) for i, s in enumerate(specs) for c in s.cases]
    return out[:limit] if limit else out


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    from chartmatrix.render import own_checkout

    root = own_checkout()
    tool = root / ".tools" / "bin" / name if root else None
    return str(tool) if tool and tool.is_file() else None


def _best(times: list[float]) -> float:
    return min(times) if times else 0.0


# --- chartmatrix ----------------------------------------------------------------


@dataclasses.dataclass
class Ours:
    cases: int
    import_s: float
    first_run: float
    warm: float
    timings: dict[str, float]
    helm: str  # the helm binary and job count it rendered with: the baselines' too
    jobs: int


def startup_seconds() -> float:
    """Wall time of a fresh interpreter importing the pipeline (best of three)."""
    code = "import chartmatrix.runner, chartmatrix.validate, chartmatrix.report.console"
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t0)
    return _best(times)


def time_chartmatrix(specs: list[MatrixSpec], options: Options) -> Ours:
    runner = Runner(dataclasses.replace(options, ci=True, update_golden=False))
    t0 = time.perf_counter()
    runner.run(specs)
    cold = time.perf_counter() - t0
    # warm: schemas loaded, validators compiled, renderers started; no verdicts kept
    runner.validator.forget_verdicts()
    t0 = time.perf_counter()
    result = runner.run(specs)
    warm = time.perf_counter() - t0
    renderer = runner.renderer
    return Ours(
        result.case_count,
        startup_seconds(),
        max(0.0, cold - warm),
        warm,
        result.timings,
        renderer.helm,
        renderer.jobs,
    )


# --- helm template + kubeconform ------------------------------------------------


def _cache_root() -> Path:
    """chartmatrix's own cache: ``$CHARTMATRIX_CACHE``, else ``$XDG_CACHE_HOME/chartmatrix``."""
    base = os.environ.get("CHARTMATRIX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "chartmatrix"
    )
    return Path(base)


def _bundle(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every definition it reaches under its own ``$defs``."""
    used: dict[str, Any] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            ref = out.get("$ref")
            if isinstance(ref, str) and "#/$defs/" in ref:
                name = ref.split("#/$defs/", 1)[1]
                out["$ref"] = f"#/$defs/{name}"
                if name not in used and name in defs:
                    used[name] = None  # reserve before walking (recursive definitions)
                    used[name] = walk(defs[name])
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = walk(schema)
    out["$defs"] = used
    return out


def kubeconform_schemas(version: str) -> tuple[Path, str]:
    """(the -schema-location directory, kubeconform's -kubernetes-version) for ``version``:
    kubernetes-validate's strict schemas made self-contained, written once per
    kubernetes-validate version into chartmatrix's cache."""
    resolved = schema_version(version)
    source = SCHEMA_ROOT / f"v{resolved}.0-local-strict"
    digest = hashlib.sha256(str(SCHEMA_ROOT).encode()).hexdigest()[:12]
    root = _cache_root() / "kubeconform-schemas" / digest
    target = root / f"v{resolved}.0-standalone-strict"
    if not target.is_dir():
        defs = json.loads((source / "_definitions.json").read_text())["$defs"]
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        for file in source.glob("*-*.json"):
            bundled = _bundle(json.loads(file.read_text()), defs)
            (tmp / file.name).write_text(json.dumps(bundled, separators=(",", ":")))
        try:
            tmp.rename(target)
        except OSError:  # written meanwhile by another run
            shutil.rmtree(tmp, ignore_errors=True)
    return root, f"{resolved}.0"


@dataclasses.dataclass
class Baseline:
    name: str
    cases: int
    seconds: float
    detail: str = ""
    missing: str = ""  # why it was not measured


def time_helm_template(
    cases: list[tuple[int, Case]],
    staged: list[Path],
    helm: str,
    jobs: int,
    helm_args: tuple[str, ...],
) -> tuple[Baseline, list[bytes]]:
    """One ``helm template`` process per case, ``jobs`` at a time, as chartmatrix renders:
    what a case costs with helm alone, checking nothing. Returns the outputs for
    kubeconform."""

    def one(item: tuple[int, Case]) -> bytes:
        i, case = item
        req = RenderRequest(
            staged[i],
            case.values,
            case.release,
            case.namespace,
            _top(case),
            case.api_versions,
            helm_args=helm_args,
        )
        proc = subprocess.run(
            [helm, *req.args()], input=req.stdin(), capture_output=True, check=False
        )
        return proc.stdout if proc.returncode == 0 else b""

    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        outputs = list(pool.map(one, cases))
    seconds = time.perf_counter() - t0
    failed = [case for out, (_, case) in zip(outputs, cases, strict=True) if not out]
    must_fail = sum(1 for case in failed if case.expect_failure)
    detail = f"{jobs} at a time, no checks"
    detail += f"; {must_fail} must-fail cases failed" if must_fail else ""
    detail += f"; {len(failed) - must_fail} failed to render" if len(failed) > must_fail else ""
    return Baseline("helm template alone", len(cases), seconds, detail), outputs


def time_kubeconform(
    cases: list[tuple[int, Case]], outputs: list[bytes], helm_seconds: float
) -> Baseline:
    """kubeconform over the outputs of :func:`time_helm_template`, one run per Kubernetes
    version; the baseline's time is helm's plus kubeconform's."""
    name = "helm template + kubeconform"
    kubeconform = _tool("kubeconform")
    if kubeconform is None:
        return Baseline(name, 0, 0.0, missing="kubeconform not installed (tools/bootstrap)")
    versions = sorted({v for _, c in cases for v in c.kube_versions}, key=version_key)
    locations = {v: kubeconform_schemas(v) for v in versions}  # untimed: cached once
    resources = 0
    t0 = time.perf_counter()
    for version in versions:
        stream = b"\n---\n".join(
            out for out, (_, c) in zip(outputs, cases, strict=True) if version in c.kube_versions
        )
        location, kube = locations[version]
        proc = subprocess.run(
            [
                *(kubeconform, "-strict", "-summary", "-ignore-missing-schemas"),
                *("-schema-location", str(location), "-kubernetes-version", kube),
            ],
            input=stream,
            capture_output=True,
            check=False,
        )
        found = re.search(rb"Summary: (\d+) resources", proc.stdout)
        resources += int(found.group(1)) if found else 0
    kubeconform_seconds = time.perf_counter() - t0
    n = max(1, len(cases))
    return Baseline(
        name,
        len(cases),
        helm_seconds + kubeconform_seconds,
        f"helm {1000 * helm_seconds / n:.1f}, kubeconform {1000 * kubeconform_seconds / n:.1f} "
        f"ms/case over {len(versions)} version(s), {resources} resources checked",
    )


# --- helm-unittest --------------------------------------------------------------


def _suite(cases: list[Case], values_dir: Path) -> dict[str, Any]:
    tests = []
    for n, case in enumerate(cases):
        file = values_dir / f"{n}.yaml"
        file.write_text(json.dumps(case.values, default=str))
        major, minor = _top(case).split(".")[:2]
        capabilities: dict[str, Any] = {"majorVersion": major, "minorVersion": minor}
        if case.api_versions:
            capabilities["apiVersions"] = list(case.api_versions)
        assertion = {"failedTemplate": {}} if case.expect_failure else {"matchSnapshot": {}}
        tests.append(
            {
                "it": case.id,
                "release": {"name": case.release, "namespace": case.namespace, "revision": 1},
                "capabilities": capabilities,
                "values": [f"values/{n}.yaml"],
                "asserts": [assertion],
            }
        )
    return {"suite": "chartmatrix bench", "tests": tests}


BENCH_SUITE_DIR = "chartmatrix-bench"


def time_helm_unittest(
    specs: list[MatrixSpec], cases: list[tuple[int, Case]], tmp: Path, helm_args: tuple[str, ...]
) -> Baseline:
    name = "helm-unittest (snapshot)"
    unittest = _tool("helm-unittest")
    if unittest is None:
        return Baseline(name, 0, 0.0, missing="helm-unittest not installed (tools/bootstrap)")
    if any(a != "--skip-schema-validation" for a in helm_args):
        # helm's --set syntax has no exact equivalent in a generated suite
        return Baseline(name, 0, 0.0, missing="--set/--set-string are not passed to helm-unittest")
    charts: list[Path] = []
    for i, spec in enumerate(specs):
        mine = [c for j, c in cases if j == i]
        if not mine:
            continue
        chart = stage(spec.chart_dir, tmp / "unittest" / str(i) / spec.chart_dir.name)
        ignore = chart / ".helmignore"  # the staged copy's, never the repository's
        existing = ignore.read_text() if ignore.is_file() else ""
        ignore.write_text(existing.rstrip("\n") + "\n/tests/\n")
        # a directory of its own: the chart may ship tests/ (and its own suites, which
        # are not the cases measured here)
        values_dir = chart / "tests" / BENCH_SUITE_DIR / "values"
        values_dir.mkdir(parents=True)
        suite = values_dir.parent / "chartmatrix_bench_test.yaml"
        suite.write_text(json.dumps(_suite(mine, values_dir), indent=1))
        charts.append(chart)
    argv = [unittest, "-f", f"tests/{BENCH_SUITE_DIR}/*_test.yaml", *helm_args]
    # untimed: writes the snapshots, as a user's repository would already have them
    subprocess.run([*argv, "-u", *map(str, charts)], capture_output=True, check=False)
    t0 = time.perf_counter()
    proc = subprocess.run([*argv, *map(str, charts)], capture_output=True, check=False)
    seconds = time.perf_counter() - t0
    text = proc.stdout.decode(errors="replace")
    found = re.search(r"Tests:\s+(.*)", text)
    detail = found.group(1).strip() if found else f"exit {proc.returncode}"
    return Baseline(name, len(cases), seconds, detail)


# --- report ---------------------------------------------------------------------


def report(ours: Ours, baselines: list[Baseline]) -> list[str]:
    n = max(1, ours.cases)
    ours_ms = ours.warm * 1000 / n
    stages = ", ".join(f"{k} {v * 1000 / n:.1f}" for k, v in ours.timings.items())
    lines = [
        f"chartmatrix bench: {ours.cases} cases, {os.cpu_count()} cores, {ours.jobs} jobs "
        "(ms per case; ratio = chartmatrix / baseline, below 1.0 is faster)",
        f"{'chartmatrix (warm, whole pipeline)':38}{ours_ms:9.1f}   ({stages})",
    ]
    for base in baselines:
        if base.missing:
            lines.append(f"{base.name:38}{'-':>9}   (not measured: {base.missing})")
            continue
        ms = base.seconds * 1000 / max(1, base.cases)
        ratio = ours_ms / ms if ms else float("inf")
        lines.append(
            f"{base.name:38}{ms:9.1f}   ratio {ratio:.2f} over {base.cases} cases ({base.detail})"
        )
    lines.append(
        f"{'start-up (fixed, once per process)':38}{ours.import_s * 1000:9.0f} ms imports "
        f"+ {ours.first_run * 1000:.0f} ms first-run extra (schemas, validators, renderers)"
    )
    return lines


def run_bench(
    specs: list[MatrixSpec],
    options: Options,
    *,
    baseline_cases: int = 0,
    scale: bool = False,
) -> int:
    """``options``: the run's (helm, jobs, renderer, helm flags, CRDs); the baselines get
    the same helm binary and helm flags."""
    if scale:
        return run_scale(specs, helm=options.helm, jobs=options.jobs)
    ours = time_chartmatrix(specs, options)
    cases = _cases(specs, baseline_cases)
    with tempfile.TemporaryDirectory(prefix="chartmatrix-bench-") as tmp:
        staged = [
            stage(s.chart_dir, Path(tmp) / str(i) / s.chart_dir.name) for i, s in enumerate(specs)
        ]
        helm_alone, outputs = time_helm_template(
            cases, staged, ours.helm, ours.jobs, options.helm_args
        )
        baselines = [
            helm_alone,
            time_kubeconform(cases, outputs, helm_alone.seconds),
            time_helm_unittest(specs, cases, Path(tmp), options.helm_args),
        ]
    for line in report(ours, baselines):
        print(line)
    return 0


# --- scale ----------------------------------------------------------------------


def scale_spec(spec: MatrixSpec, size: int) -> MatrixSpec:
    """``size`` cases over ``spec``'s chart: its first rendering case's values with
    replicas in {1, 3} x terminationGracePeriodSeconds in 30, 31, ... (no golden files)."""
    base = next((c for c in spec.cases if not c.expect_failure), None)
    if base is None:
        raise ChartmatrixError(spec.spec_file or spec.chart_dir, "no case renders to scale from")
    cases = []
    for n in range(size):
        replicas, grace = (1, 3)[n % 2], 30 + n // 2
        # as a spec's axes do: the base values shared, only the changed keys new
        values = layered(
            base.values,
            {"workload": {"replicas": replicas, "terminationGracePeriodSeconds": grace}},
        )
        case_id = f"{SCALE_AXES[0]}={replicas},{SCALE_AXES[1]}={grace}"
        cases.append(dataclasses.replace(base, id=case_id, values=values, suppress=()))
    # no golden directory: the generated cases must never write into the spec's
    return dataclasses.replace(spec, cases=cases, spec_file=None, golden_dir=None)


def scale_one(spec: MatrixSpec, size: int, helm: str | None, jobs: int | None) -> str:
    """One size in this process: ms per case and peak RSS."""
    runner = Runner(Options(helm=helm, jobs=jobs))
    t0 = time.perf_counter()
    result = runner.run([scale_spec(spec, size)])
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return json.dumps({"cases": result.case_count, "seconds": seconds, "rss_mb": rss_mb})


def run_scale(specs: list[MatrixSpec], *, helm: str | None, jobs: int | None) -> int:
    if len(specs) != 1:
        raise ChartmatrixError("--scale", "give one chart directory")
    spec = specs[0]
    print(
        f"chartmatrix bench --scale: {spec.name}, {' x '.join(SCALE_AXES)}, "
        f"{os.cpu_count()} cores; each size in a fresh process (start-up included)"
    )
    print(f"{'cases':>6}{'ms/case':>10}{'wall s':>9}{'peak RSS MB':>13}")
    rss: dict[int, float] = {}
    for size in SCALE_SIZES:
        argv = [sys.executable, "-m", "chartmatrix.bench", "--scale-one", str(size)]
        argv += [str(spec.spec_file or spec.chart_dir)]
        argv += ["--helm", helm] if helm else []
        argv += ["--jobs", str(jobs)] if jobs else []
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ChartmatrixError("--scale", f"{size} cases failed: {proc.stderr.strip()[-300:]}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        ms = data["seconds"] * 1000 / max(1, data["cases"])
        print(f"{data['cases']:6d}{ms:10.1f}{data['seconds']:9.1f}{data['rss_mb']:13.0f}")
        rss[data["cases"]] = data["rss_mb"]
    sizes = sorted(rss)[1:]  # from 100 up: start-up costs the same in each
    for small, large in itertools.pairwise(sizes):
        growth = (rss[large] - rss[small]) / (large - small)
        print(f"peak RSS grows {growth * 1024:.1f} KB per case from {small} to {large} cases")
    return 0


def _scale_main(argv: list[str]) -> int:
    import argparse

    from chartmatrix.cli import resolve_specs

    parser = argparse.ArgumentParser(prog="python -m chartmatrix.bench")
    parser.add_argument("--scale-one", type=int, required=True)
    parser.add_argument("charts", nargs=1)
    parser.add_argument("--helm")
    parser.add_argument("--jobs", type=int)
    args = parser.parse_args(argv)
    ns = argparse.Namespace(charts=args.charts, kube_version=None, axis=None, values=None)
    spec = resolve_specs(ns)[0]
    print(scale_one(spec, args.scale_one, args.helm, args.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(_scale_main(sys.argv[1:]))

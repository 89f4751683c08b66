"""``chartmatrix bench``: ms per case for each stage, beside a naive baseline.

Both are measured in the same run over the same cases. The baseline is what a chart
author would script by hand: for every case and Kubernetes version, one serial
``helm template`` subprocess, then ``kubernetes_validate.validate`` (strict) per document,
which loads and compiles the schemas again for every document.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import kubernetes_validate
import yaml

from chartmatrix.charts import stage
from chartmatrix.render import RenderRequest
from chartmatrix.runner import Options, Runner, RunResult
from chartmatrix.spec import MatrixSpec


@dataclass
class Baseline:
    cases: int
    render: float
    validate: float

    @property
    def total(self) -> float:
        return self.render + self.validate


def naive_baseline(
    specs: list[MatrixSpec], helm: str, limit: int = 0, env: dict[str, str] | None = None
) -> Baseline:
    render = validate = 0.0
    cases = 0
    with tempfile.TemporaryDirectory(prefix="chartmatrix-bench-") as tmp:
        for i, spec in enumerate(specs):
            chart = stage(spec.chart_dir, Path(tmp) / str(i) / spec.chart_dir.name)
            for case in spec.cases:
                if limit and cases >= limit:
                    break
                cases += 1
                for version in case.kube_versions:
                    req = RenderRequest(
                        chart,
                        case.values,
                        case.release,
                        case.namespace,
                        version,
                        case.api_versions,
                    )
                    t0 = time.perf_counter()
                    proc = subprocess.run(
                        [helm, *req.args()],
                        input=req.stdin(),
                        capture_output=True,
                        check=False,
                        env=env,
                    )
                    t1 = time.perf_counter()
                    render += t1 - t0
                    if proc.returncode != 0:
                        continue
                    for doc in yaml.safe_load_all(proc.stdout):
                        if not isinstance(doc, dict):
                            continue
                        # the baseline only times the work; its verdicts are not used
                        with contextlib.suppress(Exception):
                            kubernetes_validate.validate(doc, version, strict=True)
                    validate += time.perf_counter() - t1
    return Baseline(cases, render, validate)


@dataclass
class Measured:
    """chartmatrix's own numbers summed over several runs."""

    cases: int = 0
    wall: float = 0.0
    timings: dict[str, float] | None = None

    def add(self, run: RunResult) -> None:
        self.cases += len(run.cases)
        self.wall += run.wall
        totals = self.timings or {}
        for name, seconds in run.timings.items():
            totals[name] = totals.get(name, 0.0) + seconds
        self.timings = totals


def report(ours: Measured, base: Baseline, jobs: int) -> list[str]:
    n = max(1, ours.cases)
    per_stage = {k: v * 1000 / n for k, v in (ours.timings or {}).items()}
    ours_total = ours.wall * 1000 / n
    b = max(1, base.cases)
    base_render, base_validate = base.render * 1000 / b, base.validate * 1000 / b
    base_total = base_render + base_validate
    ratio = base_total / ours_total if ours_total else float("inf")
    return [
        f"chartmatrix bench: {ours.cases} cases ({jobs} helm processes at a time); "
        f"baseline over {base.cases} cases, measured chart by chart in turn",
        f"{'stage':12}{'chartmatrix':>14}{'baseline':>12}   (ms per case)",
        f"{'render':12}{per_stage.get('render', 0):14.1f}{base_render:12.1f}",
        f"{'validate':12}{per_stage.get('validate', 0):14.1f}{base_validate:12.1f}",
        f"{'rules':12}{per_stage.get('rules', 0):14.1f}{'-':>12}",
        f"{'golden':12}{per_stage.get('golden', 0):14.1f}{'-':>12}",
        f"{'total':12}{ours_total:14.1f}{base_total:12.1f}",
        f"speed-up: {ratio:.1f}x faster than the naive baseline",
    ]


def run_bench(
    specs: list[MatrixSpec], *, helm: str | None, jobs: int | None, baseline_cases: int = 0
) -> int:
    """Time chartmatrix and the baseline chart by chart, alternating, so that load from
    other processes on a shared machine affects both alike."""
    runner = Runner(Options(helm=helm, jobs=jobs, ci=True))
    # the baseline runs helm as a user would: without chartmatrix's GC tuning
    plain_env = dict(os.environ)
    ours = Measured()
    base = Baseline(0, 0.0, 0.0)
    for spec in specs:
        ours.add(runner.run([spec]))
        left = baseline_cases - base.cases if baseline_cases else 0
        if baseline_cases and left <= 0:
            continue
        part = naive_baseline([spec], runner.renderer.helm, left, plain_env)
        base = Baseline(
            base.cases + part.cases, base.render + part.render, base.validate + part.validate
        )
    for line in report(ours, base, runner.renderer.jobs):
        print(line)
    return 0

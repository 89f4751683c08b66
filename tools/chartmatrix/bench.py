"""``chartmatrix bench``: ms per case for each stage, beside a naive baseline.

Both are measured in the same run over the same cases. The baseline is what a chart
author would script by hand: for every case and Kubernetes version, one serial
``helm template`` subprocess, then ``kubernetes_validate.validate`` (strict) per document,
which loads and compiles the schemas again for every document.
"""

from __future__ import annotations

import contextlib
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


def naive_baseline(specs: list[MatrixSpec], helm: str, limit: int = 0) -> Baseline:
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
                        [helm, *req.args()], input=req.stdin(), capture_output=True, check=False
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


def report(run: RunResult, base: Baseline, jobs: int) -> list[str]:
    n = max(1, len(run.cases))
    ours = {k: v * 1000 / n for k, v in run.timings.items()}
    ours_total = run.wall * 1000 / n
    b = max(1, base.cases)
    base_render, base_validate = base.render * 1000 / b, base.validate * 1000 / b
    base_total = base_render + base_validate
    ratio = base_total / ours_total if ours_total else float("inf")
    lines = [
        f"chartmatrix bench: {len(run.cases)} cases ({jobs} helm processes at a time); "
        f"baseline over {base.cases} cases",
        f"{'stage':12}{'chartmatrix':>14}{'baseline':>12}   (ms per case)",
        f"{'render':12}{ours['render']:14.1f}{base_render:12.1f}",
        f"{'validate':12}{ours['validate']:14.1f}{base_validate:12.1f}",
        f"{'rules':12}{ours['rules']:14.1f}{'-':>12}",
        f"{'golden':12}{ours['golden']:14.1f}{'-':>12}",
        f"{'total':12}{ours_total:14.1f}{base_total:12.1f}",
        f"speed-up: {ratio:.1f}x faster than the naive baseline",
    ]
    return lines


def run_bench(
    specs: list[MatrixSpec], *, helm: str | None, jobs: int | None, baseline_cases: int = 0
) -> int:
    runner = Runner(Options(helm=helm, jobs=jobs, ci=True))
    result = runner.run(specs)
    base = naive_baseline(specs, runner.renderer.helm, baseline_cases)
    for line in report(result, base, runner.renderer.jobs):
        print(line)
    return 0

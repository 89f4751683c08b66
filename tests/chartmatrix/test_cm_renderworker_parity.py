"""The render worker prints exactly what ``helm template`` prints: every case of every
spec in the repository, with Helm v4 and v3; and, when a colleague's corpus of public
charts is on this machine (/work/corpus, not in the repository, never in CI), its
charts and specs too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from chartmatrix.charts import load_chart, stage
from chartmatrix.render import RenderRequest
from chartmatrix.spec import MatrixSpec, load_spec
from renderworker_support import HELMS, mismatches, render_both, renderers

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted(REPO.glob("chart_tests/*/matrix.yaml"))
CORPUS = Path(os.environ.get("CHARTMATRIX_CORPUS", "/work/corpus"))


def _highest(versions: tuple[str, ...]) -> str:
    return max(versions, key=lambda v: tuple(int(x) for x in v.split(".")[:2]))


def spec_requests(
    spec: MatrixSpec, chart: Path, helm_args: tuple[str, ...] = ()
) -> tuple[list[RenderRequest], list[str]]:
    """Every case of ``spec``, for each of its Kubernetes versions when the chart reads
    the version (else once, as chartmatrix renders it)."""
    per_kube = load_chart(chart).reads_kube_version
    requests: list[RenderRequest] = []
    labels: list[str] = []
    for case in spec.cases:
        versions = case.kube_versions if per_kube else (_highest(case.kube_versions),)
        for version in versions:
            requests.append(
                RenderRequest(
                    chart_dir=chart,
                    values=case.values,
                    release=case.release,
                    namespace=case.namespace,
                    kube_version=version,
                    api_versions=case.api_versions,
                    helm_args=helm_args,
                )
            )
            labels.append(f"{spec.name} {case.id} kube {version}")
    return requests, labels


@pytest.mark.parametrize("spec_file", SPECS, ids=[f.parent.name for f in SPECS])
@pytest.mark.parametrize("helm", HELMS)
def test_worker_renders_every_case_like_helm_template(
    helm: str, spec_file: Path, tmp_path: Path
) -> None:
    reference, worker = renderers(helm)
    spec = load_spec(spec_file)
    chart = stage(spec.chart_dir, tmp_path / spec.chart_dir.name)
    requests, labels = spec_requests(spec, chart)
    expected, actual = render_both(reference, worker, requests)
    problems = mismatches(requests, expected, actual, labels, reference)
    assert not problems, f"{len(problems)} of {len(requests)} differ:\n" + "\n".join(problems)
    assert worker.fallbacks == 0


# --- the corpus of public charts (only where it exists) --------------------------------

corpus = pytest.mark.skipif(
    not (CORPUS / "dirs").is_dir() or bool(os.environ.get("CI")),
    reason=f"the public chart corpus ({CORPUS}, not part of the repository) is checked "
    "locally only: absent here, or CI is set",
)
SKIP_SCHEMA = {"app-template", "common-test"}  # their values need --skip-schema-validation


def _corpus_charts() -> list[Path]:
    return sorted(p for p in (CORPUS / "dirs").iterdir() if (p / "Chart.yaml").is_file())


def _report(name: str, total: int, nondeterministic: list[str]) -> None:
    print(
        f"\ncorpus parity {name}: {total} renders identical"
        + (
            f" ({len(nondeterministic)} modulo helm's own randomness: "
            f"{', '.join(sorted(set(nondeterministic))[:6])}...)"
            if nondeterministic
            else ""
        )
    )


@corpus
@pytest.mark.parametrize("helm", HELMS)
def test_corpus_defaults_and_archives(helm: str, tmp_path: Path) -> None:
    """Each public chart with its defaults (errors included), with its minimal values,
    and as the packaged archive."""
    reference, worker = renderers(helm)
    requests: list[RenderRequest] = []
    labels: list[str] = []
    for chart in _corpus_charts():
        name = chart.name
        requests.append(RenderRequest(chart, {}))
        labels.append(f"{name} defaults")
        values = CORPUS / "values" / f"{name}.yaml"
        if values.is_file():
            args = ("--values", str(values))
            if name in SKIP_SCHEMA:
                args += ("--skip-schema-validation",)
            requests.append(RenderRequest(chart, {}, helm_args=args))
            labels.append(f"{name} with values/{name}.yaml")
        for archive in sorted((CORPUS / "tgz").glob(f"{name}-*.tgz")):
            requests.append(RenderRequest(archive, {}, kube_version="1.33"))
            labels.append(f"{archive.name} kube 1.33")
    expected, actual = render_both(reference, worker, requests)
    odd: list[str] = []
    problems = mismatches(requests, expected, actual, labels, reference, odd)
    assert not problems, f"{len(problems)} of {len(requests)} differ:\n" + "\n".join(problems)
    _report(f"{helm} defaults/archives", len(requests), odd)


CORPUS_SPECS = (
    sorted((CORPUS / "cm" / "specs").glob("*/matrix.yaml"))
    if (CORPUS / "cm" / "specs").is_dir()
    else []
)


@corpus
@pytest.mark.parametrize(
    "spec_file", CORPUS_SPECS, ids=[f.parent.name for f in CORPUS_SPECS] or None
)
@pytest.mark.parametrize("helm", HELMS)
def test_corpus_specs(helm: str, spec_file: Path, tmp_path: Path) -> None:
    """Every case of the specs ``chartmatrix init`` proposed for the public charts."""
    reference, worker = renderers(helm)
    spec = load_spec(spec_file)
    chart = stage(spec.chart_dir, tmp_path / spec.chart_dir.name)
    name = spec_file.parent.name.split("-v")[0]
    args = ("--skip-schema-validation",) if name in SKIP_SCHEMA else ()
    requests, labels = spec_requests(spec, chart, args)
    expected, actual = render_both(reference, worker, requests)
    odd: list[str] = []
    problems = mismatches(requests, expected, actual, labels, reference, odd)
    assert not problems, f"{len(problems)} of {len(requests)} differ:\n" + "\n".join(problems)
    assert worker.fallbacks == 0
    _report(f"{helm} {spec.name}", len(requests), odd)

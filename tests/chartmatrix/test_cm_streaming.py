"""The runner streams: cases render and are checked in batches, renders are dropped batch
by batch, and the results (golden files included) are those of one big batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from chartmatrix import golden, manifests
from chartmatrix import runner as runner_module
from chartmatrix.caselog import CaseLog
from chartmatrix.manifests import Manifest, parse
from chartmatrix.report.model import to_dict
from chartmatrix.runner import Options, Runner
from chartmatrix.spec import load_spec
from cm_charts import NEGATIVE_REPLICAS, write_spec

# a CRD with an odd number of replicas, in two contents (by pdb): the second content is
# kept as crds/<name>.<digest>.yaml. Cases that render a CRD are compared at the end,
# the others batch by batch.
CRD = """\
{{- if eq (mod (int .Values.replicas) 2) 1 }}
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, description: "pdb {{ .Values.pdb }}"}
{{- end }}
"""


@pytest.fixture
def spec_file(kv_chart: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CI", raising=False)
    (kv_chart / "templates" / "crd.yaml").write_text(CRD)
    spec = {"axes": {"replicas": [1, 2, 3, 4, 5], "pdb": [True, False]}}
    return write_spec(kv_chart.parent.parent, "kv", {**spec, "expectFailure": [NEGATIVE_REPLICAS]})


def _run(spec_file: Path, batch: int, monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple:
    """(report without durations, golden files by name, renders per render_many call)."""
    monkeypatch.setattr(runner_module, "BATCH_CASES", batch)
    runner = Runner(Options(**options))
    calls: list[int] = []
    render_many = runner.renderer.render_many

    def counting(requests, on_done=None):  # type: ignore[no-untyped-def]
        calls.append(len(requests))
        return render_many(requests, on_done)

    runner.renderer.render_many = counting  # type: ignore[method-assign]
    report = to_dict(runner.run([load_spec(spec_file)]))
    report = json.loads(json.dumps(report))
    for key in ("seconds", "timings_ms"):
        report.pop(key)
    for case in report["charts"][0]["cases"]:
        assert case.pop("seconds") > 0
    golden = spec_file.parent / "golden"
    files = {p.relative_to(golden).as_posix(): p.read_text() for p in golden.rglob("*.yaml")}
    return report, files, calls


def test_batches_give_the_results_of_one_batch(
    spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole, whole_files, whole_calls = _run(spec_file, 1000, monkeypatch)
    # 10 cases and the must-fail case, one render each; new golden files render again
    # (random output): the 4 cases without a CRD at once, the 6 with one at the end
    assert whole_calls == [11, 4, 6]
    assert len(whole_files) == 12  # 10 cases, the CRD's two contents
    assert sum(1 for name in whole_files if name.startswith("crds/")) == 2
    shutil.rmtree(spec_file.parent / "golden")
    batched, batched_files, calls = _run(spec_file, 3, monkeypatch)
    # never more renders alive than a batch needs (new files of even replicas: again)
    assert calls == [3, 1, 3, 1, 3, 2, 2, 6]
    assert batched_files == whole_files
    assert batched == whole
    statuses = [c["golden"]["status"] if c["golden"] else None for c in whole["charts"][0]["cases"]]
    assert statuses.count("written") == 10 and statuses[-1] is None
    # CI mode over the files the batched run wrote: every case passes, in batches too
    checked, _, _ = _run(spec_file, 3, monkeypatch, ci=True)
    assert [c["golden"]["status"] for c in checked["charts"][0]["cases"][:-1]] == ["same"] * 10
    failed = [c["id"] for c in checked["charts"][0]["cases"] if c["failed"]]
    assert failed == [f"replicas:{n}+pdb:false" for n in (2, 3, 4, 5)]  # no PDB


def test_document_caches_are_bounded_and_keep_the_shared_documents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parsed and normalized documents are cached least recently used first out: one-off
    documents (different in every case) leave, documents every case renders stay."""
    monkeypatch.setattr(manifests, "_CHUNK_CACHE_BYTES", 64 * 1024)
    monkeypatch.setattr(golden, "_CACHE_BYTES", 64 * 1024)
    shared = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {a: b}\n"
    normalizer = golden.Normalizer()

    def case(n: int) -> list[Manifest]:  # a one-off document of 2 KB and the shared one
        one_off = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{n}}}\n"
        return parse(f"{one_off}data: {{x: {'y' * 2000}}}\n---\n{shared}")

    first = case(0)[1].obj
    first_normalized = normalizer.normalize(case(0))[1].obj
    for n in range(200):  # 400 KB of one-off documents in all
        normalizer.render(normalizer.normalize(case(n)), "kv", f"c{n}")
        assert manifests._cached_bytes <= 64 * 1024 and normalizer._bytes <= 66 * 1024
    assert case(1000)[1].obj is first
    assert normalizer.normalize(case(1000))[1].obj is first_normalized
    assert len(normalizer._objects) < 40  # of 201 distinct documents


def test_cases_are_checked_while_the_rest_render(
    spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Runner(Options())
    rendering = [False]
    render_many = runner.renderer.render_many

    def watched(requests, on_done=None):  # type: ignore[no-untyped-def]
        rendering[0] = True
        try:
            return render_many(requests, on_done)
        finally:
            rendering[0] = False

    during: list[bool] = []
    check = Runner._case

    def case(self: Runner, *args: Any) -> Any:
        during.append(rendering[0])
        return check(self, *args)

    runner.renderer.render_many = watched  # type: ignore[method-assign]
    monkeypatch.setattr(Runner, "_case", case)
    runner.run([load_spec(spec_file)])
    assert len(during) == 11
    assert during.count(True) >= 10  # all but, at most, the case of the last render


def test_a_check_that_crashes_stops_the_run_after_its_renders(
    spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Runner(Options(ci=True))  # writes no golden file: both runs below see the same
    check = Runner._case
    calls = [0]

    def crashing(self: Runner, *args: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("a rule crashed")
        return check(self, *args)

    monkeypatch.setattr(Runner, "_case", crashing)
    with pytest.raises(RuntimeError, match="a rule crashed"):
        runner.run([load_spec(spec_file)])
    assert calls[0] == 2  # no case is checked after the failure
    # the workers were left with nothing half-read: the same runner runs the spec again
    monkeypatch.setattr(Runner, "_case", check)

    def verdicts(r: Runner) -> list[tuple[str, bool, dict[str, str]]]:
        cases = to_dict(r.run([load_spec(spec_file)]))["charts"][0]["cases"]
        return [(c["id"], c["failed"], c["status"]) for c in cases]

    again = verdicts(runner)
    assert len(again) == 11 and again == verdicts(Runner(Options(ci=True)))


def test_results_are_written_to_disk_batch_by_batch(
    spec_file: Path, kv_chart: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case's result leaves memory once its batch is settled; a case that renders a CRD
    waits for the end of the run, where its golden file is compared."""
    held: list[int] = []
    spill = CaseLog.spill

    def watched(self: CaseLog, keep: Any = lambda _: False) -> None:
        spill(self, keep)
        held.append(self.in_memory)

    monkeypatch.setattr(CaseLog, "spill", watched)
    with_crds, _, _ = _run(spec_file, 3, monkeypatch)
    # batches of 3 over 11 cases, then the end; odd replicas (6 cases) render the CRD
    assert held == [2, 4, 5, 6, 0]
    assert [c["golden"]["status"] for c in with_crds["charts"][0]["cases"][:-1]] == ["written"] * 10
    held.clear()
    (kv_chart / "templates" / "crd.yaml").unlink()
    _run(spec_file, 3, monkeypatch)
    assert held == [0, 0, 0, 0, 0]

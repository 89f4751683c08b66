"""``run --shard I/N`` and ``merge``: three shards merged equal the unsharded run."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartmatrix import runner as runner_module
from chartmatrix.cli import main
from chartmatrix.shard import assign, parse_shard
from chartmatrix.spec import load_spec
from cm_charts import NEGATIVE_REPLICAS, STATEFUL_CHART, write_spec, write_tree

REPO = Path(__file__).resolve().parents[2]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def kv_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A spec with everything a merge must get right: passing, failing (no PDB) and
    must-fail cases, golden files, and a mask that no case uses (a chart finding)."""
    write_tree(tmp_path / "charts" / "kv", STATEFUL_CHART)
    spec = {
        "chart": "../../charts/kv",
        "axes": {"replicas": [1, 2, 3], "pdb": [True, False]},
        "expectFailure": [NEGATIVE_REPLICAS],
        "mask": [
            {"kind": "Secret", "path": "data.password"},  # used by no case
            {"kind": "PodDisruptionBudget", "path": "spec.maxUnavailable"},  # pdb:true
        ],
    }
    file = write_spec(tmp_path, "kv", spec)
    cli(capsys, "run", "--no-progress", "--update-golden", str(file))  # also under CI=true
    return file


def _without_durations(report: dict[str, Any]) -> dict[str, Any]:
    report = json.loads(json.dumps(report))
    for key in ("seconds", "timings_ms"):
        report.pop(key)
    for chart in report["charts"]:
        for case in chart["cases"]:
            case.pop("seconds")
    return report


def _junit_cases(file: Path) -> list[tuple[str, str, str, str]]:
    """(suite, case, outcome, failure text) of every JUnit test case, in file order."""
    out = []
    for suite in ET.parse(file).getroot():
        for case in suite:
            failure = case.find("failure")
            outcome = "failed" if failure is not None else "passed"
            text = (failure.text or "") if failure is not None else ""
            out.append((suite.get("name", ""), case.get("name", ""), outcome, text))
    return out


def _sharded_equals_unsharded(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    common = ["run", "--no-progress", "--ci", spec]
    code, out, _ = cli(
        capsys, *common, "--json", str(tmp_path / "all.json"), "--junit", str(tmp_path / "all.xml")
    )
    shards = [tmp_path / f"shard-{i}.json" for i in (1, 2, 3)]
    codes = []
    for i, file in enumerate(shards, 1):
        codes.append(cli(capsys, *common, "--shard", f"{i}/3", "--json", str(file))[0])
    merged = tmp_path / "merged.json"
    merge_code, merge_out, err = cli(
        capsys,
        "merge",
        "--json",
        str(merged),
        "--junit",
        str(tmp_path / "merged.xml"),
        "--html",
        str(tmp_path / "merged.html"),
        *map(str, reversed(shards)),
    )
    assert err == "", err
    assert merge_code == code and max(codes) == code, (merge_out, codes, out)
    whole = json.loads((tmp_path / "all.json").read_text())
    joined = json.loads(merged.read_text())
    assert _without_durations(joined) == _without_durations(whole)
    per_shard = [len(json.loads(f.read_text())["charts"][0]["cases"]) for f in shards]
    assert sum(per_shard) == whole["cases"] and min(per_shard) > 0, per_shard
    assert _junit_cases(tmp_path / "merged.xml") == _junit_cases(tmp_path / "all.xml")
    assert "<!DOCTYPE html>" in (tmp_path / "merged.html").read_text()
    return whole


def test_kv_shards_merge_to_the_unsharded_report(
    kv_spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _sharded_equals_unsharded(str(kv_spec), tmp_path, capsys)
    (chart,) = whole["charts"]
    failed = [c["id"] for c in chart["cases"] if c["failed"]]
    # no PDB fails topology/pdb where there is more than one replica
    assert failed == ["replicas:2+pdb:false", "replicas:3+pdb:false"]
    assert [f["rule"] for f in chart["findings"]] == ["golden/unused-mask"]
    assert "kind Secret" in chart["findings"][0]["message"]
    # a shard without a pdb:true case found the PDB mask unused too; the merge drops it
    reports = [json.loads((tmp_path / f"shard-{i}.json").read_text()) for i in (1, 2, 3)]
    unused = [len(r["shard"]["unused_masks"]["kv"]) for r in reports]
    assert max(unused) == 2 and min(unused) == 1, unused
    # a shard fails for its own cases only: a mask it did not use is for the merge to judge
    assert all(r["charts"][0]["findings"] == [] for r in reports)
    assert [r["ok"] for r in reports] == [
        not any(c["failed"] for c in r["charts"][0]["cases"]) for r in reports
    ]
    assert any(r["ok"] for r in reports) and not whole["ok"]
    statuses = {c["id"]: c["status"]["golden"] for c in chart["cases"]}
    assert statuses["negative"] == "skip" and statuses["replicas:1+pdb:true"] == "pass"


def test_repository_spec_shards_merge_to_the_unsharded_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _sharded_equals_unsharded(str(REPO / "chart_tests" / "grpc"), tmp_path, capsys)
    assert whole["ok"] and whole["cases"] > 20


def test_shards_are_stable_when_cases_are_added_and_balanced_by_timings() -> None:
    spec = load_spec(REPO / "chart_tests" / "mysql" / "matrix.yaml")
    before = assign([spec], 3)
    extra = [dataclasses.replace(spec.cases[0], id=f"added-{n}") for n in range(40)]
    grown = dataclasses.replace(spec, cases=[*extra[:20], *spec.cases, *extra[20:]])
    after = assign([grown], 3)
    assert {k: after[k] for k in before} == before
    assert set(before.values()) == {1, 2, 3}
    # timings: the one slow case gets a shard of its own, the rest share the others
    timings = {(spec.name, c.id): 1.0 for c in spec.cases}
    slow = (spec.name, spec.cases[5].id)
    timings[slow] = 100.0
    timed = assign([spec], 2, timings)
    assert [k for k, v in timed.items() if v == timed[slow]] == [slow]
    loads = [sum(timings[k] for k, v in timed.items() if v == n) for n in (1, 2, 3)[:2]]
    assert sorted(loads) == [len(spec.cases) - 1.0, 100.0]
    # timed cases stay put when untimed cases are added
    assert {k: assign([grown], 2, timings)[k] for k in timed} == timed


def test_count_balance_without_timings() -> None:
    spec = load_spec(REPO / "chart_tests" / "mysql" / "matrix.yaml")
    many = [dataclasses.replace(spec.cases[0], id=f"case-{n}") for n in range(600)]
    counts = [0, 0, 0, 0]
    for shard in assign([dataclasses.replace(spec, cases=many)], 4).values():
        counts[shard - 1] += 1
    assert all(120 <= n <= 180 for n in counts), counts  # 150 each, by hash


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "3/0", "2"])
def test_bad_shard_is_one_line(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        capsys, "run", "--no-progress", "--shard", text, str(REPO / "chart_tests" / "grpc")
    )
    assert code == 2 and out == ""
    assert err.startswith("chartmatrix: --shard: ") and err.count("\n") == 1, err
    assert parse_shard(" 2 / 3 ").index == 2


def test_merge_refuses_incomplete_or_foreign_shards(
    kv_spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = []
    for i in (1, 2):
        file = tmp_path / f"s{i}.json"
        cli(
            capsys,
            "run",
            "--no-progress",
            "--ci",
            str(kv_spec),
            "--shard",
            f"{i}/2",
            "--json",
            str(file),
        )
        files.append(file)
    out = str(tmp_path / "out.json")

    def merge_error(*reports: Path) -> str:
        code, _, err = cli(capsys, "merge", "--json", out, *map(str, reports))
        assert code == 2 and err.count("\n") == 1, err
        return err

    assert "shard(s) 2 of 2 missing" in merge_error(files[0])
    assert "shard 1/2 given twice" in merge_error(files[0], files[0], files[1])
    data = json.loads(files[1].read_text())
    data["shard"]["specs"]["kv"]["digest"] = "0" * 16
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    assert f"{other}: shard of other specs" in merge_error(files[0], other)
    data = json.loads(files[1].read_text())
    assert data["shard"]["helm"] == 4
    data["shard"]["helm"] = 3  # v3 reads a multi-document values file otherwise
    helm3 = tmp_path / "helm3.json"
    helm3.write_text(json.dumps(data))
    assert f"{helm3}: run with Helm v3, {files[0]} with v4" in merge_error(files[0], helm3)
    data = json.loads(files[1].read_text())
    lost = data["charts"][0]["cases"].pop()
    lost_file = tmp_path / "lost.json"
    lost_file.write_text(json.dumps(data))
    assert f"no shard ran case(s) {lost['id']}" in merge_error(files[0], lost_file)
    data = json.loads(files[1].read_text())
    data["charts"][0]["cases"].append(json.loads(files[0].read_text())["charts"][0]["cases"][0])
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps(data))
    assert "is also in" in merge_error(files[0], twice)
    whole = tmp_path / "whole.json"
    cli(capsys, "run", "--no-progress", "--ci", str(kv_spec), "--json", str(whole))
    assert f"{whole}: not a shard's report" in merge_error(whole)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{")
    assert f"{garbage}: not JSON" in merge_error(garbage)
    code, _, err = cli(
        capsys,
        "run",
        "--no-progress",
        str(kv_spec),
        "--shard",
        "1/2",
        "--shard-timings",
        str(garbage),
    )
    assert code == 2 and err.startswith(f"chartmatrix: --shard-timings {garbage}: not JSON")


def test_shard_timings_from_a_report_move_the_slow_case(
    kv_spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "all.json"
    cli(capsys, "run", "--no-progress", "--ci", str(kv_spec), "--json", str(report))
    data = json.loads(report.read_text())
    cases = data["charts"][0]["cases"]
    assert all(c["seconds"] > 0 for c in cases)
    for case in cases:
        case["seconds"] = 50.0 if case["id"] == "negative" else 1.0
    report.write_text(json.dumps(data))
    listed = []
    for i in (1, 2):
        code, out, _ = cli(
            capsys,
            "run",
            "--list",
            str(kv_spec),
            "--shard",
            f"{i}/2",
            "--shard-timings",
            str(report),
        )
        assert code == 0
        listed.append([line.split("\t")[1].split()[0] for line in out.splitlines()])
    alone = next(ids for ids in listed if "negative" in ids)
    assert alone == ["negative"] and sorted(chain(*listed)) == sorted(c["id"] for c in cases)


def test_workflow_runs_a_matrix_of_shards_and_merges_them() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yaml").read_text())
    jobs = workflow["jobs"]
    shard_job = jobs["chartmatrix-shard"]
    shards = shard_job["strategy"]["matrix"]["shard"]
    (step,) = [s for s in shard_job["steps"] if "--shard" in s.get("run", "")]
    # matrix values reach the shell through env, never spliced into the script
    assert "${{" not in step["run"] and step["env"]["SHARD"] == "${{ matrix.shard }}"
    assert shards == list(range(1, int(step["env"]["SHARDS"]) + 1))
    assert '--shard "$SHARD/$SHARDS"' in step["run"] and "--json" in step["run"]
    merge = jobs["chartmatrix-merge"]
    assert merge["needs"] == "chartmatrix-shard"
    runs = " ".join(s.get("run", "") for s in merge["steps"])
    assert "chartmatrix merge" in runs and "chartmatrix-shard-*.json" in runs
    uploads = [s for s in shard_job["steps"] if s.get("uses", "").startswith("actions/upload")]
    downloads = [s for s in merge["steps"] if s.get("uses", "").startswith("actions/download")]
    assert uploads and downloads[0]["with"]["pattern"] == "chartmatrix-shard-*"


# one CRD that every case renders: its golden file, crds/<name>.yaml, is shared by them all
SHARED_CRD = """\
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
        openAPIV3Schema: {type: object, description: widget}
"""


@pytest.mark.parametrize("shards", [2, 3])
def test_changed_shared_crd_file_is_diffed_once_in_the_merge(
    shards: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each shard diffs a changed CRD file on one of its cases; the merge keeps the copy
    of the case the unsharded run diffs it on (the first, in spec order, to name it)."""
    make_renderer = runner_module.make_renderer

    def last_first(*args: Any, **kwargs: Any) -> Any:
        """A renderer whose renders arrive in any order: here the last first."""
        renderer = make_renderer(*args, **kwargs)
        render_many = renderer.render_many

        def reversed_order(requests: Any, on_done: Any = None) -> Any:
            results = render_many(requests)
            for i in reversed(range(len(results))):
                if on_done is not None:
                    on_done(i, results[i])
            return results

        renderer.render_many = reversed_order
        return renderer

    monkeypatch.setattr(runner_module, "make_renderer", last_first)
    chart = write_tree(tmp_path / "charts" / "kv", STATEFUL_CHART)
    (chart / "templates" / "crd.yaml").write_text(SHARED_CRD)
    spec = {"axes": {"replicas": [1, 2, 3], "pdb": [True, False]}}
    file = write_spec(tmp_path, "kv", {**spec, "expectFailure": [NEGATIVE_REPLICAS]})
    cli(capsys, "run", "--no-progress", "--update-golden", str(file))
    (crd_file,) = (file.parent / "golden" / "crds").glob("*.yaml")
    crd_file.write_text(crd_file.read_text().replace("description: widget", "description: w"))
    common = ["run", "--no-progress", "--ci", str(file)]
    code, _, _ = cli(capsys, *common, "--json", str(tmp_path / "all.json"))
    assert code == 1
    reports = [tmp_path / f"shard-{i}.json" for i in range(1, shards + 1)]
    for i, report in enumerate(reports, 1):
        cli(capsys, *common, "--shard", f"{i}/{shards}", "--json", str(report))
    merged = tmp_path / "merged.json"
    merge_code, _, err = cli(capsys, "merge", "--json", str(merged), *map(str, reports))
    assert (merge_code, err) == (code, "")
    whole = json.loads((tmp_path / "all.json").read_text())
    joined = json.loads(merged.read_text())
    assert _without_durations(joined) == _without_durations(whole)

    def crd_diffs(report: dict[str, Any]) -> list[str]:
        cases = report["charts"][0]["cases"]
        return [c["id"] for c in cases if str(crd_file) in c["checks"]["golden"]["diff"]]

    # every shard with a case that renders the CRD diffed it once: the merge had copies
    copies = [crd_diffs(json.loads(r.read_text())) for r in reports]
    assert all(len(c) == 1 for c in copies) and len(copies) == shards, copies
    assert crd_diffs(joined) == crd_diffs(whole) == ["replicas:1+pdb:true"]
    # every case that renders it fails golden/changed, the case that carries the diff too
    (case,) = [c for c in joined["charts"][0]["cases"] if c["id"] == "replicas:2+pdb:true"]
    assert [f["rule"] for f in case["checks"]["golden"]["findings"]] == ["golden/changed"]
    assert case["checks"]["golden"]["diff"] == ""

"""Golden files on charts like the public ones: random output, shared CRDs, and a golden
directory that is only ever pruned of files chartmatrix wrote (CLI, real helm)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from chartmatrix import render, renderworker
from chartmatrix.cli import main
from cm_charts import write_spec, write_tree

RANDOM_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: rnd\nversion: 0.1.0\n",
    "values.yaml": 'auth: {password: ""}\n',
    # bitnami's pattern: a generated password unless one is given (lookup finds nothing
    # in `helm template`), and a checksum of the Secret on another object
    "templates/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-rnd
data:
  mysql-root-password: {{ .Values.auth.password | default (randAlphaNum 16) | b64enc | quote }}
  user: {{ "admin" | b64enc | quote }}
""",
    "templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-rnd
  annotations:
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
data: {a: b}
""",
}


def spec_for(chart: Path, spec: dict) -> Path:
    spec_dir = chart.parent.parent / "chart_tests" / chart.name
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "matrix.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_dir


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["run", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many ``helm template`` calls each render batch made (either renderer)."""
    calls: list[int] = []
    for cls in (render.Renderer, renderworker.WorkerRenderer):

        def counting(self, requests, on_done=None, _original=cls.render_many):  # type: ignore[no-untyped-def]
            calls.append(len(requests))
            return _original(self, requests, on_done)

        monkeypatch.setattr(cls, "render_many", counting)
    return calls


def test_random_output_is_reported_with_the_masks_that_settle_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    renders: list[int],
) -> None:
    monkeypatch.delenv("CI", raising=False)
    chart = write_tree(tmp_path / "charts" / "rnd", RANDOM_CHART)
    spec_dir = spec_for(chart, {"axes": {"auth.password": ["", "s3cret"]}})
    golden = spec_dir / "golden"
    report = tmp_path / "r.json"
    code, out = cli(capsys, "--json", str(report), str(spec_dir))
    assert code == 1, out
    assert "golden/changed" not in out
    # no golden file is written: the finding points at the spec, where the mask goes
    places = {
        (f["file"], f["line"])
        for case in json.loads(report.read_text())["charts"][0]["cases"]
        for f in case["checks"]["golden"]["findings"]
        if f["rule"] == "golden/nondeterministic"
    }
    assert places == {(str(spec_dir / "matrix.yaml"), 1)}, places
    assert (
        'error golden/nondeterministic: Secret/test-rnd data["mysql-root-password"]: differs '
        "between two renders of the same values" in out
    )
    assert "mask: [{kind: Secret, name: test-rnd, path: 'data[\"mysql-root-password\"]'}]" in out
    assert 'ConfigMap/test-rnd metadata.annotations["checksum/secret"]' in out
    assert renders == [2, 2], "both cases are new: each is rendered a second time"
    # the random case is not written (it would never settle); the fixed one is
    assert sorted(p.name for p in golden.iterdir()) == ["password=s3cret.yaml"]

    # the masks the findings propose, pasted into the spec, settle it
    entries = re.findall(r"add to matrix\.yaml: mask: \[(\{.*?\})\]", out)
    masks = [yaml.safe_load(e) for e in dict.fromkeys(entries)]
    assert len(masks) == 2
    spec_for(chart, {"axes": {"auth.password": ["", "s3cret"]}, "mask": masks})
    renders.clear()
    code, out = cli(capsys, "--update-golden", str(spec_dir))
    assert code == 0, out
    assert "nondeterministic" not in out
    assert "mysql-root-password: <masked>" in (golden / "password=empty.yaml").read_text()
    assert "mysql-root-password: <masked>" in (golden / "password=s3cret.yaml").read_text()
    renders.clear()
    code, out = cli(capsys, "--ci", "--strict", str(spec_dir))
    assert code == 0, out
    assert renders == [2], "golden files that match are not rendered again"
    (golden / "password=empty.yaml").unlink()
    renders.clear()
    code, out = cli(capsys, str(spec_dir))
    assert code == 0 and "golden/new" in out, out
    assert renders == [2, 1], "only the new golden file is rendered twice"


def test_unused_mask_is_an_error_naming_the_entry(
    kv_chart: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)  # new golden files are written, not missing
    masks = [
        {"kind": "ConfigMap", "path": "data.*"},
        {"kind": "Secret", "name": "*-auth", "path": "data.password"},
        {"kind": "StatefulSet", "path": "spec.template.metadata.annotations.nope"},
    ]
    spec_dir = spec_for(kv_chart, {"mask": masks, "axes": {"replicas": [1, 3]}})
    code, out = cli(capsys, str(spec_dir))
    assert code == 1, out
    assert (
        f"error golden/unused-mask: {spec_dir / 'matrix.yaml'}: mask[1] (path data.password, "
        "kind Secret, name *-auth) matches nothing in any case; fix or remove it" in out
    )
    assert "mask[2] (path spec.template.metadata.annotations.nope" in out
    assert "mask[0]" not in out
    # a run of some cases cannot tell
    code, out = cli(capsys, str(spec_dir), "--case", "replicas:1")
    assert code == 0 and "unused-mask" not in out


def test_suppress_typo_is_a_spec_error(kv_chart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_dir = spec_for(kv_chart, {"suppress": ["hardening/*", "hardening/pod-securty"]})
    code, out = cli(capsys, str(spec_dir))
    assert code == 2
    assert out == (
        f"chartmatrix: {spec_dir / 'matrix.yaml'}: suppress[1]: 'hardening/pod-securty' "
        "matches no rule or finding id (did you mean hardening/pod-security?); "
        "see `chartmatrix rules`\n"
    )
    for ok in ("golden/*", "schema/unknown-kind", "upgrade/immutable-field", "topology/pdb"):
        spec_for(kv_chart, {"suppress": [ok], "golden": False})
        assert cli(capsys, str(spec_dir))[0] == 0


@pytest.mark.parametrize("golden", [".", "../x", "../../charts/kv"])
def test_golden_outside_the_spec_directory_is_refused(
    kv_chart: Path, golden: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_dir = spec_for(kv_chart, {"golden": golden, "files": ["base-values.yaml"]})
    (spec_dir / "base-values.yaml").write_text("replicas: 3\n")
    before = {p: p.read_bytes() for p in kv_chart.parent.parent.rglob("*") if p.is_file()}
    code, out = cli(capsys, "--update-golden", str(spec_dir))
    assert code == 2
    assert out.startswith(f"chartmatrix: {spec_dir / 'matrix.yaml'}: golden: {golden!r} is not")
    after = {p: p.read_bytes() for p in kv_chart.parent.parent.rglob("*") if p.is_file()}
    assert after == before, "nothing written, nothing deleted"


def test_update_golden_without_a_spec_is_an_error(
    demo_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = cli(capsys, "--update-golden", str(demo_chart))
    assert code == 2
    assert out == (
        f"chartmatrix: {demo_chart}: --update-golden: this chart has no matrix spec, so it has "
        f"no golden files; create one with `chartmatrix init {demo_chart}` and run that\n"
    )


def _big_crd(fields: int, description: str = "a field") -> str:
    props = "\n".join(
        f"                f{i}: {{type: string, description: {description} {i}}}"
        for i in range(fields)
    )
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {{kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
{props}
"""


def test_a_crd_is_kept_once_per_chart(
    kv_chart: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    (kv_chart / "crds").mkdir()
    (kv_chart / "crds" / "widgets.yaml").write_text(_big_crd(3000))
    spec_dir = spec_for(kv_chart, {"axes": {"replicas": [1, 2, 3]}})
    golden = spec_dir / "golden"
    code, out = cli(capsys, str(spec_dir))
    assert code == 0, out
    assert sorted(p.relative_to(golden).as_posix() for p in golden.rglob("*.yaml")) == [
        "crds/widgets.example.com.yaml",
        "replicas=1.yaml",
        "replicas=2.yaml",
        "replicas=3.yaml",
    ]
    crd_file = golden / "crds" / "widgets.example.com.yaml"
    assert crd_file.read_text().startswith(
        "# chartmatrix golden render: chart kv, CRD widgets.example.com.\n"
    )
    assert crd_file.stat().st_size > 100_000
    case_file = (golden / "replicas=2.yaml").read_text()
    assert (
        "---\n# Source: kv/crds/widgets.yaml\n"
        "# CRD widgets.example.com: see crds/widgets.example.com.yaml\n" in case_file
    )
    assert len(case_file) < 5000
    assert out.count("wrote new golden file") == 4  # three cases, one CRD
    code, out = cli(capsys, "--ci", "--strict", str(spec_dir))
    assert code == 0, out
    # in CI a missing case file is missing; the CRD file it would name is not an orphan
    case_text = (golden / "replicas=2.yaml").read_text()
    (golden / "replicas=2.yaml").unlink()
    (golden / "replicas=3.yaml").unlink()
    (golden / "replicas=1.yaml").unlink()
    code, out = cli(capsys, "--ci", str(spec_dir))
    assert code == 1 and out.count("golden/missing") == 3 and "golden/orphaned" not in out, out
    code, out = cli(capsys, str(spec_dir))
    assert (golden / "replicas=2.yaml").read_text() == case_text

    # a changed CRD is one diff, and fails every case that renders it
    old_lines = crd_file.read_text().splitlines()
    (kv_chart / "crds" / "widgets.yaml").write_text(_big_crd(3000, "the field"))
    report = spec_dir.parent / "report.json"
    code, out = cli(capsys, "--ci", "--json", str(report), str(spec_dir))
    assert code == 1
    # its finding points into the CRD file, at its first changed line
    first = next(i for i, line in enumerate(old_lines, 1) if line.endswith("a field 0"))
    places = {
        (f["file"], f["line"])
        for case in json.loads(report.read_text())["charts"][0]["cases"]
        for f in case["checks"]["golden"]["findings"]
    }
    assert places == {(str(crd_file), first)}, places
    assert f"golden/changed: render differs from {crd_file} (CRD widgets.example.com" in out
    assert "(replicas:1 and 2 more)" in out
    assert len(re.findall(r"^-\s+description: a field 0$", out, re.MULTILINE)) == 1, out
    code, out = cli(capsys, "--update-golden", str(spec_dir))
    assert code == 0, out
    assert "the field 7" in crd_file.read_text()

    # a CRD the chart no longer has is an orphan, deleted by --update-golden
    (kv_chart / "crds" / "widgets.yaml").unlink()
    code, out = cli(capsys, "--ci", str(spec_dir))
    assert code == 1 and "golden/changed" in out
    code, out = cli(capsys, "--update-golden", str(spec_dir))
    assert code == 0, out
    assert not crd_file.exists()
    assert "CRD" not in (golden / "replicas=2.yaml").read_text()


def test_a_change_in_a_chart_that_reads_the_clock_proposes_masks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two renders of one run fall in the same minute, so a field derived from the time
    settles within a run and changes between runs: the golden/changed finding of such a
    chart proposes the mask of what changed."""
    monkeypatch.delenv("CI", raising=False)
    write_tree(
        tmp_path / "charts" / "clock",
        {
            "Chart.yaml": "apiVersion: v2\nname: clock\nversion: 0.1.0\n",
            "values.yaml": "{}\n",
            "templates/cronjob.yaml": (
                "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: beat}\nspec:\n"
                '  schedule: "0 3 1 1 {{ now | date "2006" | mod 7 }}"\n'
                "  jobTemplate:\n    spec:\n      template:\n        spec:\n"
                "          restartPolicy: Never\n"
                "          containers: [{name: b, image: 'busybox:1.36'}]\n"
            ),
        },
    )
    spec = write_spec(tmp_path, "clock", {})
    assert main(["run", "--no-progress", str(spec)]) in (0, 1)
    golden = spec.parent / "golden" / "default.yaml"
    text = golden.read_text()
    golden.write_text(re.sub(r"schedule: 0 3 1 1 \d", "schedule: 0 3 1 1 9", text))
    capsys.readouterr()
    assert main(["run", "--no-progress", "--ci", str(spec)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "the chart's templates read the clock (now)" in out, out
    assert "mask: [{kind: CronJob, name: beat, path: spec.schedule}]" in out, out


@pytest.mark.parametrize(
    ("template", "calls"),
    [
        ("{{/* mariadb.enable -> now external */}}", False),
        ('{{ printf "now" }}', False),
        ("{{ .Values.now }} {{ $now := 1 }}", False),
        ('{{ now | date "2006" }}', True),
        ('{{- dateInZone "04 15 * * *" (now | mustDateModify "+10m") "UTC" }}', True),
    ],
)
def test_what_counts_as_reading_the_clock(template: str, calls: bool) -> None:
    from chartmatrix.charts import _calls_now

    assert _calls_now(template) is calls


VERSIONED_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: ver\nversion: 0.1.0\n",
    "values.yaml": "count: 1\n",
    "templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-ver
data:
  count: {{ .Values.count | quote }}
  {{- if semverCompare "<1.33-0" .Capabilities.KubeVersion.Version }}
  legacy: "yes"
  {{- end }}
""",
}


def test_a_lower_kubernetes_version_that_renders_differently_has_its_own_golden_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    chart = write_tree(tmp_path / "charts" / "ver", VERSIONED_CHART)
    spec_dir = spec_for(
        chart, {"kubernetes": {"versions": ["1.30", "1.31", "1.36"]}, "axes": {"count": [1, 2]}}
    )
    golden = spec_dir / "golden"
    code, out = cli(capsys, str(spec_dir))
    assert code == 0, out
    # 1.30 and 1.31 render alike, and unlike 1.36: one more file per case, for both
    assert sorted(p.name for p in golden.iterdir()) == [
        "count=1.yaml",
        "count=1@k8s-1.30.yaml",
        "count=2.yaml",
        "count=2@k8s-1.30.yaml",
    ]
    lower = (golden / "count=1@k8s-1.30.yaml").read_text()
    assert "case count:1, Kubernetes 1.30, 1.31." in lower and "legacy: 'yes'" in lower
    assert "legacy" not in (golden / "count=1.yaml").read_text()
    assert cli(capsys, "--ci", str(spec_dir))[0] == 0

    # a change that only the lower versions render is caught, in their file
    template = chart / "templates" / "cm.yaml"
    template.write_text(template.read_text().replace('legacy: "yes"', 'legacy: "no"'))
    report = tmp_path / "r.json"
    code, out = cli(capsys, "--ci", "--json", str(report), str(spec_dir))
    assert code == 1
    case = json.loads(report.read_text())["charts"][0]["cases"][0]
    golden_check = case["checks"]["golden"]
    assert case["kube_versions"] == ["1.30", "1.31", "1.36"]
    assert case["status"]["golden"] == "fail" and case["golden"]["status"] == "changed"
    assert "+  legacy: 'no'" in golden_check["diff"]
    [finding] = golden_check["findings"]
    assert finding["rule"] == "golden/changed"
    assert finding["file"].endswith("count=1@k8s-1.30.yaml") and finding["line"] > 0
    assert (
        "count=1.yaml: same; Kubernetes 1.30, 1.31: count=1@k8s-1.30.yaml: changed"
        in (golden_check["note"])
    )
    assert cli(capsys, "--update-golden", str(spec_dir))[0] == 0
    assert "legacy: 'no'" in (golden / "count=1@k8s-1.30.yaml").read_text()

    # once every version renders alike the files are orphans, kept for the cases not run
    template.write_text(VERSIONED_CHART["templates/cm.yaml"].split("  {{- if")[0])
    code, out = cli(capsys, "--ci", "--case", "count:1", str(spec_dir))
    assert code == 1
    assert re.search(r"golden/orphaned.*count=1@k8s-1\.30\.yaml belongs to no case", out)
    assert "count=2@k8s-1.30.yaml" not in out
    assert cli(capsys, "--update-golden", str(spec_dir))[0] == 0
    assert sorted(p.name for p in golden.iterdir()) == ["count=1.yaml", "count=2.yaml"]


def test_a_golden_file_broken_by_hand_is_named_with_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    chart = write_tree(tmp_path / "charts" / "ver", VERSIONED_CHART)
    spec_dir = spec_for(chart, {"axes": {"count": [1]}})
    assert cli(capsys, str(spec_dir))[0] == 0
    golden = spec_dir / "golden" / "count=1.yaml"
    lines = golden.read_text().splitlines(keepends=True)
    lines.insert(5, "  broken: [1\n")  # a merge conflict, an edit gone wrong
    golden.write_text("".join(lines))
    report = tmp_path / "r.json"
    code, _ = cli(capsys, "--json", str(report), str(spec_dir))
    assert code == 1
    [finding] = json.loads(report.read_text())["charts"][0]["cases"][0]["checks"]["golden"][
        "findings"
    ][:1]
    assert finding["rule"] == "golden/unreadable"
    assert finding["message"].startswith(f"{golden} is not valid YAML at line ")
    assert finding["file"] == str(golden) and finding["line"] in (6, 7)


CRD_BY_CASE = {
    "Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "values.yaml": "conv: false\n",
    "templates/crd.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  annotations: {conv: {{ .Values.conv | quote }}}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
""",
}


def test_a_run_of_some_cases_keeps_the_crd_file_of_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CRD differs by case: the content in crds/<name>.yaml belongs to the cases that
    # name it, also when a shard or --case renders only the other content
    monkeypatch.delenv("CI", raising=False)
    chart = write_tree(tmp_path / "charts" / "demo", CRD_BY_CASE)
    spec_dir = spec_for(chart, {"axes": {"conv": [False, True]}})
    crds = spec_dir / "golden" / "crds"
    assert cli(capsys, "--update-golden", str(spec_dir))[0] == 0
    before = {p.name: p.read_text() for p in crds.iterdir()}
    assert len(before) == 2 and "conv: 'false'" in before["widgets.example.com.yaml"]
    for only in (["--shard", "2/2"], ["--case", "conv:true"]):
        code, out = cli(capsys, "--ci", *only, str(spec_dir))
        assert code == 0, out
    assert cli(capsys, "--update-golden", "--case", "conv:true", str(spec_dir))[0] == 0
    assert {p.name: p.read_text() for p in crds.iterdir()} == before
    assert cli(capsys, "--ci", str(spec_dir))[0] == 0

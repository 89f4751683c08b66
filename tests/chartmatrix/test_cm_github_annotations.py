"""GitHub annotations (``--github-annotations``): each finding on its file and line.

Unit tests of the writer and of ``chartmatrix.locate``, then a real ``chartmatrix run``
(real helm) on a failing ``helm create`` chart whose annotations must point at the
template line that failed, the field's line in its template, and the spec's entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from chartmatrix.findings import Finding, Severity
from chartmatrix.locate import in_golden_file, template_file
from chartmatrix.report.github import annotations, escape_data, escape_property
from cm_charts import write_tree

CLI = [sys.executable, "-m", "chartmatrix.cli"]


def _finding(**over: object) -> dict[str, object]:
    base = Finding("rules", "topology/pdb", Severity.ERROR, "no PDB", "StatefulSet/db")
    data: dict[str, object] = dict(base.as_dict())
    data.update(over)
    return data


def _report(cases: dict[str, list[dict[str, object]]], chart_findings=()) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "charts": [
            {
                "name": "db",
                "findings": list(chart_findings),
                "cases": [
                    {"id": case, "checks": {"rules": {"findings": found}}}
                    for case, found in cases.items()
                ],
            }
        ]
    }


def test_escaping_keeps_every_command_on_one_line() -> None:
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_one_annotation_per_distinct_finding_naming_its_cases(tmp_path: Path) -> None:
    template = tmp_path / "charts" / "db" / "templates" / "sts.yaml"
    same = _finding(file=str(template), line=7)
    report = _report({"replicas:3": [same], "replicas:5": [same], "ci/x": [same]})
    (command,) = annotations(report, tmp_path)
    assert command.startswith("::error file=charts/db/templates/sts.yaml,line=7,title=")
    assert "topology/pdb (db)" in command
    assert command.endswith("%0A(3 cases: replicas:3, replicas:5, ci/x)")


def test_errors_come_first_and_warnings_are_warnings(tmp_path: Path) -> None:
    warning = _finding(severity="warning", rule="topology/spread", message="no spread")
    report = _report({"a": [warning, _finding()]})
    first, second = annotations(report, tmp_path)
    assert first.startswith("::error ") and "no PDB" in first
    assert second.startswith("::warning ") and "no spread" in second


def test_a_file_outside_the_workspace_gets_no_file_or_line(tmp_path: Path) -> None:
    outside = _finding(file="/elsewhere/chart/templates/x.yaml", line=3)
    (command,) = annotations(_report({"a": [outside]}), tmp_path / "workspace")
    assert "file=" not in command and "line=" not in command
    assert command.startswith("::error title=")


def test_a_message_cannot_start_a_workflow_command_of_its_own(tmp_path: Path) -> None:
    hostile = _finding(message="bad\n::stop-commands::x\n::add-mask::y")
    (command,) = annotations(_report({"a": [hostile]}), tmp_path)
    assert "\n" not in command and command.startswith("::error ")
    assert "%0A::stop-commands::x%0A::add-mask::y" in command


def test_chart_level_findings_are_annotated_without_a_case(tmp_path: Path) -> None:
    spec = tmp_path / "chart_tests" / "db" / "matrix.yaml"
    coverage = _finding(
        check="coverage",
        rule="coverage/modes",
        message="mode: no case",
        resource="",
        file=str(spec),
        line=4,
    )
    (command,) = annotations(_report({}, [coverage]), tmp_path)
    assert command == (
        "::error file=chart_tests/db/matrix.yaml,line=4,title=chartmatrix coverage/modes (db)"
        "::mode: no case"
    )


def test_template_file_follows_a_file_dependency(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "lib/Chart.yaml": "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
            "lib/templates/_x.tpl": '{{- define "lib.x" }}{{ end }}\n',
            "app/Chart.yaml": (
                "apiVersion: v2\nname: app\nversion: 0.1.0\n"
                "dependencies: [{name: lib, version: 0.1.0, repository: file://../lib}]\n"
            ),
            "app/templates/a.yaml": "kind: ConfigMap\n",
        },
    )
    app = tmp_path / "app"
    assert template_file(app, "app/templates/a.yaml") == app / "templates" / "a.yaml"
    found = template_file(app, "app/charts/lib/templates/_x.tpl")
    assert found is not None and found.resolve() == tmp_path / "lib" / "templates" / "_x.tpl"
    assert template_file(app, "app/templates/missing.yaml") is None


def test_golden_findings_point_at_the_first_changed_line(tmp_path: Path) -> None:
    golden = tmp_path / "golden" / "a.yaml"
    changed = Finding("golden", "golden/changed", Severity.ERROR, "differs")
    other = Finding("rules", "topology/pdb", Severity.ERROR, "no PDB")
    diff = "--- a\n+++ b\n@@ -12,3 +12,3 @@\n-x\n+y\n"
    located, untouched = in_golden_file([changed, other], golden, diff)
    assert (located.file, located.file_line) == (str(golden), 12)
    assert untouched == other
    # after the hunk's lines of context: the line that changed, not the hunk's first
    diff = "--- a\n+++ b\n@@ -7,7 +7,7 @@\n a: 1\n b: 2\n c: 3\n-v: one\n+v: two\n d: 4\n"
    assert in_golden_file([changed], golden, diff)[0].file_line == 10


GUARD = """\
{{- if .Values.boom }}
{{- fail "boom must not be set" }}
{{- end }}
"""

BROKEN_SERVICE = """\
{{- if .Values.brokenService }}
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-broken
spec:
  selector: {app: x}
  ports:
    - name: web
      port: "eighty"
{{- end }}
"""

SPEC = """\
chart: ../../charts/demo
golden: false
axes:
  replicaCount: [1]
  nosuch.value: [true]
include:
  - name: boom
    set: {boom: true}
  - name: broken-service
    set: {brokenService: true}
"""


def _line_of(file: Path, text: str, after: str = "") -> int:
    lines = file.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if text in lines[i]) + 1


@pytest.fixture
def failing_project(demo_chart: Path, tmp_path: Path) -> Path:
    """A repository with a failing ``helm create`` chart and a spec."""
    project = tmp_path / "project"
    chart = project / "charts" / "demo"
    chart.parent.mkdir(parents=True)
    demo_chart.rename(chart)
    write_tree(
        project,
        {
            "charts/demo/templates/guard.yaml": GUARD,
            "charts/demo/templates/broken.yaml": BROKEN_SERVICE,
            "chart_tests/demo/matrix.yaml": SPEC,
        },
    )
    return project


def test_a_real_run_annotates_the_lines_that_fail(failing_project: Path) -> None:
    env = {**os.environ, "GITHUB_WORKSPACE": str(failing_project)}
    run = subprocess.run(
        [*CLI, "run", "--no-progress", "--github-annotations", "--json", "run.json"],
        cwd=failing_project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    commands = [line for line in run.stdout.splitlines() if line.startswith("::")]
    chart = failing_project / "charts" / "demo"

    def at(level: str, file: Path, line: int, rule: str) -> list[str]:
        where = f"::{level} file={file.relative_to(failing_project)},line={line},"
        return [c for c in commands if c.startswith(where) and f" {rule} (demo)::" in c]

    # helm's own message names the template line of the `fail`
    (failed,) = at("error", chart / "templates" / "guard.yaml", 2, "render/failed")
    assert "boom must not be set" in failed and "(case: boom)" in failed
    # a schema error: the line of the field in the template that renders the object
    broken = chart / "templates" / "broken.yaml"
    (invalid,) = at("error", broken, _line_of(broken, 'port: "eighty"'), "schema/invalid")
    assert "Service/test-broken spec.ports[0].port" in invalid
    # a rule about the container's securityContext: the container's, not the pod's
    deployment = chart / "templates" / "deployment.yaml"
    line = _line_of(deployment, "securityContext:", after="containers:")
    assert line != _line_of(deployment, "securityContext:")
    assert at("warning", deployment, line, "hardening/pod-security")
    # a spec problem: the spec's line naming the value path
    spec = failing_project / "chart_tests" / "demo" / "matrix.yaml"
    assert at("warning", spec, _line_of(spec, "nosuch.value"), "spec/unknown-value")
    # the JSON report carries the same locations (a merged report can be annotated too)
    report = json.loads((failing_project / "run.json").read_text())
    cases = {c["id"]: c for c in report["charts"][0]["cases"]}
    (render_failure,) = cases["boom"]["checks"]["render"]["findings"]
    assert (render_failure["file"], render_failure["line"]) == (
        str(chart / "templates" / "guard.yaml"),
        2,
    )


def test_merged_shards_annotate_as_the_whole_run_does(failing_project: Path) -> None:
    """``merge --github-annotations`` reads the shards' JSON: the same commands."""
    env = {**os.environ, "GITHUB_WORKSPACE": str(failing_project)}

    def chartmatrix(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            cwd=failing_project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    def commands(done: subprocess.CompletedProcess[str]) -> list[str]:
        return [line for line in done.stdout.splitlines() if line.startswith("::")]

    whole = chartmatrix("run", "--no-progress", "--github-annotations")
    for shard in ("1", "2"):
        part = chartmatrix(
            "run", "--no-progress", "--shard", f"{shard}/2", "--json", f"{shard}.json"
        )
        assert part.returncode in (0, 1), part.stderr
    merged = chartmatrix("merge", "--github-annotations", "1.json", "2.json")
    assert merged.returncode == 1, merged.stderr
    assert commands(whole) and commands(merged) == commands(whole)


def test_a_message_without_a_resource_starts_with_its_version() -> None:
    report = {
        "charts": [
            {
                "name": "c",
                "findings": [],
                "cases": [
                    {
                        "id": "default",
                        "checks": {
                            "render": {
                                "findings": [
                                    {
                                        "rule": "render/failed",
                                        "severity": "error",
                                        "message": "execution error",
                                        "kube_version": "1.37",
                                    }
                                ]
                            }
                        },
                    }
                ],
            }
        ]
    }
    [command] = annotations(report, Path("/w"))
    assert command.endswith("::[k8s 1.37]: execution error%0A(case: default)")


TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  template:
    spec:
      initContainers:
      {{- include "partials.proxy-init" . | nindent 8 }}
      containers:
      - name: app
        securityContext:
          runAsNonRoot: true
      securityContext:
        fsGroup: 1
"""


def test_a_kind_the_template_computes_is_still_the_objects_line(tmp_path: Path) -> None:
    from chartmatrix.locate import _path_line

    file = tmp_path / "workload.yaml"
    file.write_text(
        "{{- /* a comment */ -}}\n{{- $kind := .Values.kind -}}\napiVersion: apps/v1\n"
        "kind: {{ $kind }}\nmetadata:\n  name: k\nspec:\n  replicas: 3\n"
    )
    assert _path_line(file, "StatefulSet", []) == 4  # a finding on the object itself
    assert _path_line(file, "StatefulSet", ["spec", "replicas"]) == 8


@pytest.mark.parametrize(
    ("path", "line"),
    [
        # written by an include: the key that holds it, not the pod's securityContext
        ("spec.template.spec.initContainers[0].securityContext.capabilities", 8),
        ("spec.template.spec.containers[0].securityContext.runAsNonRoot", 13),
        ("spec.template.spec.securityContext.fsGroup", 15),
    ],
)
def test_a_path_points_at_its_own_block(tmp_path: Path, path: str, line: int) -> None:
    from chartmatrix.locate import _path_line, path_keys

    file = tmp_path / "deployment.yaml"
    file.write_text(TEMPLATE)
    assert _path_line(file, "Deployment", path_keys(path)) == line


TWO_CONTAINERS = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: a
          image: a:1
          securityContext:
            runAsNonRoot: true
        - name: b
          image: b:1
          securityContext:
            runAsNonRoot: false
        {{- range .Values.extra }}
        - name: {{ . }}
        {{- end }}
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("spec.template.spec.containers[0].securityContext.runAsNonRoot", 10),
        ("spec.template.spec.containers[1].securityContext.runAsNonRoot", 14),
        ("spec.template.spec.containers[1]", 11),
        ("spec.template.spec.containers[2].securityContext", 16),  # the loop's item
        # more items than the template spells (a loop's second): the list's own line
        ("spec.template.spec.containers[3].securityContext", 6),
    ],
)
def test_a_list_index_points_at_its_own_item(tmp_path: Path, path: str, line: int) -> None:
    from chartmatrix.locate import _path_line, path_keys

    file = tmp_path / "deployment.yaml"
    file.write_text(TWO_CONTAINERS)
    assert _path_line(file, "Deployment", path_keys(path)) == line


def _pod(*names: str) -> dict:
    containers = [{"name": n, "image": f"{n}:1"} for n in names]
    return {"spec": {"template": {"spec": {"containers": containers}}}}


def test_a_list_item_is_found_by_its_rendered_name(tmp_path: Path) -> None:
    from chartmatrix.locate import _path_line, path_keys

    file = tmp_path / "deployment.yaml"
    file.write_text(TWO_CONTAINERS)
    path = path_keys("spec.template.spec.containers[0].securityContext.runAsNonRoot")
    # an `if` left "a" out: the rendered first container is "b"
    assert _path_line(file, "Deployment", path, obj=_pod("b")) == 14
    # a sidecar from toYaml came first: items spelled and rendered differ, no name: the list
    assert _path_line(file, "Deployment", path, obj=_pod("sidecar", "a", "b", "x")) == 6


SEVERAL_DOCUMENTS = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
spec:
  scaleTargetRef:
    kind: Deployment
---
apiVersion: v1
kind: Service
spec:
  selector: {app: one}
---
apiVersion: v1
kind: Service
spec:
  selector: {app: two}
---
apiVersion: apps/v1
kind: Deployment
spec:
  replicas: 1
"""


def test_a_finding_points_into_its_own_document_of_the_file(tmp_path: Path) -> None:
    from chartmatrix.locate import _path_line, path_keys

    file = tmp_path / "all.yaml"
    file.write_text(SEVERAL_DOCUMENTS)
    assert _path_line(file, "Service", path_keys("spec.selector"), 0) == 10
    assert _path_line(file, "Service", path_keys("spec.selector"), 1) == 15
    # not the HPA's scaleTargetRef
    assert _path_line(file, "Deployment", path_keys("spec.replicas")) == 20


@pytest.mark.parametrize(
    ("message", "line"),
    [
        # Helm v4
        ('c/templates/sa.yaml:41:10\n  executing "c/templates/sa.yaml" at <x>: nil', 41),
        # Helm v3
        ("template: c/templates/sa.yaml:7:3: executing ...", 7),
        ("execution error at (c/templates/sa.yaml:9:4): boom", 9),
        # the line of a parse error is the output's: the file, line 1
        ("YAML parse error on c/templates/sa.yaml: error converting YAML to JSON: line 17", 1),
    ],
)
def test_a_failed_render_points_at_its_template(tmp_path: Path, message: str, line: int) -> None:
    from chartmatrix.locate import _in_message

    chart = write_tree(tmp_path / "c", {"Chart.yaml": "name: c\n", "templates/sa.yaml": "x\n"})
    found = _in_message(Finding("render", "render/failed", Severity.ERROR, message), chart)
    assert (found.file, found.file_line) == (str(chart / "templates" / "sa.yaml"), line)

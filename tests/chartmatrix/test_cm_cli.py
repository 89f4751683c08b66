"""The command line end to end, with the real helm binary."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from chartmatrix.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["run", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_helm_create_chart_passes_with_warnings_only(
    created_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, str(created_chart), "--axis", "replicaCount=1,3")
    assert code == 0, out
    assert "replicaCount:1" in out and "replicaCount:3" in out
    assert "hardening/pod-security" in out and "hardening/image-tag" in out
    assert "OK 2 cases" in out
    # one result line per chart: warnings are counted but do not fail it
    line = re.search(r"^\S+: OK, 2 cases, 0 failed, (\d+) warnings$", out, re.MULTILINE)
    assert line and int(line.group(1)) > 0, out
    code, out, _ = run(capsys, str(created_chart), "--strict")
    assert code == 1
    assert re.search(r"^\S+: FAILED, 1 cases, 1 failed, \d+ warnings$", out, re.MULTILINE), out


def test_template_failure_and_bad_yaml_fail_the_case(
    demo_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (demo_chart / "templates" / "guard.yaml").write_text(
        '{{ if .Values.boom }}{{ fail "demo: boom must be false (got true)" }}{{ end }}\n'
    )
    code, out, _ = run(capsys, str(demo_chart), "--axis", "boom=true,false")
    assert code == 1
    assert "render/failed" in out and "demo: boom must be false (got true)" in out
    (demo_chart / "templates" / "guard.yaml").write_text("a: [1\n")
    code, out, _ = run(capsys, str(demo_chart))
    assert code == 1
    # helm itself refuses the broken YAML, naming the template
    assert "render/failed" in out and "YAML parse error on demo/templates/guard.yaml" in out


def test_a_failed_tpl_is_reported_by_its_ends(
    demo_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """helm quotes the whole text a `tpl` failed on (a config file: thousands of
    characters); the finding keeps its start and the cause after it, and the JSON report
    says the same."""
    text = "".join(f"line{i}: {'x' * 60}\n" for i in range(100)) + "bad: {{ .Values.no.such }}\n"
    (demo_chart / "templates" / "tpl.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tpl}\n"
        f"data: {{c: {{{{ tpl {json.dumps(text)} . | quote }}}}}}\n"
    )
    report = tmp_path / "r.json"
    code, out, _ = run(capsys, str(demo_chart), "--json", str(report))
    assert code == 1
    message = next(
        f["message"]
        for case in json.loads(report.read_text())["charts"][0]["cases"]
        for f in case["checks"]["render"]["findings"]
        if f["rule"] == "render/failed"
    )
    assert len(message) < 1000, message  # the text is quoted twice, 6,800 characters each
    assert '"line0: xxx' in message and "characters ...]\\nline99: xxx" in message
    assert message.endswith("nil pointer evaluating interface {}.such"), message
    assert message in out


def test_a_log_keeps_each_case_id_on_one_row(
    created_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Output to a file or CI log (no terminal, 80 columns by default): the table is as
    wide as its longest case id, not folded over rows."""
    axis = "podAnnotations.example\\.com/a-rather-long-annotation-name=one,two"
    code, out, _ = run(capsys, str(created_chart), "--axis", axis)
    assert code == 0, out
    rows = [line for line in out.splitlines() if line.startswith("│ example.com/a-rather")]
    assert [r.split()[1] for r in rows] == [
        "example.com/a-rather-long-annotation-name:one",
        "example.com/a-rather-long-annotation-name:two",
    ], out


def test_schema_errors_are_reported_with_paths(
    demo_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (demo_chart / "templates" / "bad.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\nbogus: 1\n"
        "---\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: y}\n"
    )
    code, out, _ = run(capsys, str(demo_chart), "--kube-version", "1.30")
    assert code == 1
    assert "schema/invalid [k8s 1.30]: ConfigMap/x" in out
    assert "'bogus' was unexpected" in out
    assert "schema/api-not-served" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/no/such/chart"], "/no/such/chart: chart not found"),
        (["--axis", "noequals", "."], "--axis: axis 'noequals' must look like key=v1,v2"),
        (["--helm", "/no/helm", "."], "/no/helm: helm executable not found"),
        (["--kube-version", "1.99", "."], "Kubernetes 1.99 has no bundled schemas"),
        (["--bogus"], "usage: unrecognized arguments: --bogus"),
        (["-f", "broken.yaml", "."], "broken.yaml: invalid YAML at line 2"),
        (["-f", "list.yaml", "."], "list.yaml: top level must be a mapping (got list)"),
        (["-f", "missing.yaml", "."], "missing.yaml: file not found"),
    ],
)
def test_tool_errors_are_one_line_exit_2(
    demo_chart: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    monkeypatch.chdir(demo_chart)
    (demo_chart / "broken.yaml").write_text("a: [1\n")
    (demo_chart / "list.yaml").write_text("- 1\n")
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("chartmatrix: "), err
    assert expected in err
    assert "Traceback" not in out + err


def test_reports(created_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit, js, html = tmp_path / "j.xml", tmp_path / "r.json", tmp_path / "r.html"
    code, _, _ = run(
        capsys,
        str(created_chart),
        "--axis",
        "service.type=ClusterIP,NodePort",
        "--junit",
        str(junit),
        "--json",
        str(js),
        "--html",
        str(html),
    )
    assert code == 0
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"
    names = [tc.get("name") for tc in suite.iter("testcase")]
    assert names == ["type:ClusterIP", "type:NodePort"]
    data = json.loads(js.read_text())
    assert data["ok"] is True and data["cases"] == 2
    case = data["charts"][0]["cases"][0]
    assert case["status"] == {"render": "pass", "schema": "pass", "rules": "warn", "golden": "skip"}
    assert any(f["rule"] == "hardening/pod-security" for f in case["checks"]["rules"]["findings"])
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "http" not in page.split("<body>")[0]
    assert 'data-cell="c0-1-rules"' in page and "hardening/pod-security" in page


def test_rules_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule_id in (
        "topology/headless-service",
        "topology/pdb",
        "service/selector-matches",
        "refs/exists",
        "config/checksum-annotation",
        "config/checksum-value",
        "session/client-ip-timeout",
        "connection/grpc-ingress",
        "connection/envoy-headless",
        "hardening/image-tag",
        "hardening/pod-security",
        "upgrade/immutable-field",
    ):
        assert rule_id in out


def test_case_filter(created_chart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(created_chart), "--axis", "replicaCount=1,2,3", "--case", "*:2")
    assert code == 0 and "OK 1 cases" in out and "replicaCount:2" in out
    code, _, err = run(capsys, str(created_chart), "--case", "nothing*")
    assert code == 2 and "--case: no case id matches nothing*" in err
    # --list lists what would run
    code, out, _ = run(
        capsys, str(created_chart), "--axis", "replicaCount=1,2,3", "--case", "*:2", "--list"
    )
    assert code == 0 and out.splitlines() == ["demo\treplicaCount:2"]
    code, _, err = run(capsys, str(created_chart), "--case", "nothing*", "--list")
    assert code == 2 and "--case: no case id matches nothing*" in err


def test_a_failing_helm_binary_is_reported(
    created_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    code, out, _ = run(capsys, str(created_chart), "--helm", str(fake))
    assert code == 1
    assert f"{fake} exited with status 3 and no message" in out


def test_list_prints_case_ids(created_chart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(created_chart), "--axis", "replicaCount=1,2", "--list")
    assert code == 0
    assert out.splitlines() == ["demo\treplicaCount:1", "demo\treplicaCount:2"]


def test_charts_reading_kube_version_render_once_per_version(
    demo_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (demo_chart / "templates" / "minor.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n"
        'data: {minor: "{{ .Capabilities.KubeVersion.Minor }}"}\n'
    )
    report = tmp_path / "r.json"
    argv = ["--kube-version", "1.30", "--kube-version", "1.36", "--json", str(report)]
    code, _, _ = run(capsys, str(demo_chart), *argv)
    assert code == 0
    note = json.loads(report.read_text())["charts"][0]["cases"][0]["checks"]["render"]["note"]
    assert "2 helm render(s) for Kubernetes 1.30, 1.36" in note
    (demo_chart / "templates" / "minor.yaml").unlink()
    code, _, _ = run(capsys, str(demo_chart), *argv)
    note = json.loads(report.read_text())["charts"][0]["cases"][0]["checks"]["render"]["note"]
    assert "1 helm render(s) for Kubernetes 1.30, 1.36" in note


def test_rules_check_the_render_of_every_kubernetes_version(
    demo_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # before 1.33 this chart renders a Service that selects no pod
    (demo_chart / "templates" / "old.yaml").write_text(
        '{{- if semverCompare "<1.33-0" .Capabilities.KubeVersion.Version }}\n'
        "apiVersion: v1\nkind: Service\nmetadata: {name: old}\n"
        "spec: {selector: {app: nobody}, ports: [{port: 80}]}\n"
        "{{- end }}\n"
    )
    report = tmp_path / "r.json"
    argv = ["--kube-version", "1.30,1.31,1.36", "--json", str(report)]
    code, out, _ = run(capsys, str(demo_chart), *argv)
    assert code == 1
    checks = json.loads(report.read_text())["charts"][0]["cases"][0]["checks"]
    lower = [f for f in checks["rules"]["findings"] if f["rule"] == "service/selector-matches"]
    assert [(f["resource"], f["kube_version"]) for f in lower] == [("Service/old", "1.30, 1.31")]
    assert lower[0]["file"].endswith("templates/old.yaml")
    assert "service/selector-matches [k8s 1.30, 1.31]" in out
    # at the highest version alone, nothing is wrong
    code, _, _ = run(capsys, str(demo_chart), "--kube-version", "1.36")
    assert code == 0


def test_helm_s_log_lines_are_not_its_error(
    demo_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Helm 4 logs `level=WARN msg="this chart is deprecated"` before the error itself
    meta = demo_chart / "Chart.yaml"
    meta.write_text(meta.read_text() + "deprecated: true\n")
    (demo_chart / "templates" / "bad.yaml").write_text("a: b: c\n")
    report = tmp_path / "r.json"
    code, _, _ = run(capsys, str(demo_chart), "--json", str(report))
    assert code == 1
    [finding] = json.loads(report.read_text())["charts"][0]["cases"][0]["checks"]["render"][
        "findings"
    ]
    assert finding["message"].startswith("YAML parse error on demo/templates/bad.yaml")
    assert "level=" not in finding["message"]


def test_a_kubernetes_version_chart_yaml_excludes_points_at_its_kube_version(
    demo_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = demo_chart / "Chart.yaml"
    meta.write_text(meta.read_text() + 'kubeVersion: ">=1.33.0-0"\n')
    line = meta.read_text().splitlines().index('kubeVersion: ">=1.33.0-0"') + 1
    report = tmp_path / "r.json"
    code, _, _ = run(capsys, str(demo_chart), "--kube-version", "1.30,1.36", "--json", str(report))
    assert code == 1
    [finding] = json.loads(report.read_text())["charts"][0]["cases"][0]["checks"]["render"][
        "findings"
    ]
    assert finding["rule"] == "render/kube-version" and finding["kube_version"] == "1.30"
    assert (finding["file"], finding["line"]) == (str(meta), line)


def test_an_object_rendered_twice_is_an_error(
    demo_chart: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # two subcharts making one Secret: helm install fails on the second create
    for name in ("a", "b"):
        (demo_chart / "templates" / f"{name}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared}}\ndata: {{x: {name}}}\n"
        )
    report = tmp_path / "r.json"
    code, _, _ = run(capsys, str(demo_chart), "--json", str(report))
    assert code == 1
    [finding] = json.loads(report.read_text())["charts"][0]["cases"][0]["checks"]["render"][
        "findings"
    ]
    assert finding["rule"] == "render/duplicate" and finding["resource"] == "ConfigMap/shared"
    assert "rendered twice (demo/templates/a.yaml and demo/templates/b.yaml)" in finding["message"]


def test_a_file_of_the_chart_is_no_spec(
    demo_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Chart.yaml", "values.yaml"):
        code, _, err = run(capsys, str(demo_chart / name))
        assert code == 2
        assert err == (
            f"chartmatrix: {demo_chart / name}: is a file of the chart in {demo_chart}, not a "
            "matrix spec: name the chart's directory (or its chart_tests/<chart>/matrix.yaml)\n"
        )


def test_library_chart_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "lib"
    (lib / "templates").mkdir(parents=True)
    (lib / "Chart.yaml").write_text("apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n")
    code, _, err = run(capsys, str(lib))
    assert code == 2 and "a library chart renders nothing by itself" in err


def test_help_imports_only_what_it_needs() -> None:
    import subprocess
    import sys

    code = (
        "import contextlib, io, sys\n"
        "from chartmatrix.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'cluster' in out.getvalue() and 'install' in out.getvalue()\n"
        "heavy = ('jsonschema', 'kubernetes', 'kubernetes_validate', 'pyhelm3', 'rich',\n"
        "         'referencing', 'yaml', 'chartmatrix.cluster')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout

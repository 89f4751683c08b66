"""The library's render cost tooling and the work it does once per render: the render
worker's profiler (`chartmatrix-render-v4 profile`, library-chart/README.md "Render
cost") counts named templates exactly and renders its instrumented copy byte for byte
like the chart; on charts/mysql the values are merged once per tree, the defaults parsed
once, and the standard labels built once per label set. Counts, never timings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import OFFLINE_TEST_VALUES, REPO, TEST_CHART, tool

Profile = dict[str, float]  # template -> calls per render


def profile(chart: Path, tmp_path: Path, *args: str) -> tuple[str, Profile]:
    """Runs the profiler (3 renders) and returns its output and the calls per render."""
    worker = tool("chartmatrix-render-v4", "DESTATE_RENDER_WORKER_V4")
    values = tmp_path / "offline-values.yaml"
    values.write_text(yaml.safe_dump(OFFLINE_TEST_VALUES), encoding="utf-8")
    proc = subprocess.run(
        [str(worker), "profile", "--runs", "3", "--top", "0", "-f", str(values), *args, str(chart)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    calls: Profile = {}
    table = proc.stdout.split("  template\n", 1)[1]
    for line in table.splitlines():
        fields = line.split(None, 4)
        if len(fields) == 5 and fields[0].replace(".", "", 1).isdigit():
            calls[fields[4]] = float(fields[0])
    return proc.stdout, calls


def test_profiler_counts_each_named_template(tmp_path: Path) -> None:
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "_helpers.tpl").write_text(
        '{{/* probe.inner — one word. */}}\n{{- define "probe.inner" -}}x{{- end -}}\n'
        '{{- define "probe.outer" -}}\n'
        '{{- range until 3 }}{{ include "probe.inner" . }}{{ end -}}\n'
        "{{- end -}}\n"
    )
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n"
        '  a: {{ include "probe.outer" . }}\n  b: {{ include "probe.outer" . }}\n'
    )
    out, calls = profile(chart, tmp_path)
    assert "WARNING" not in out
    assert calls == {"probe.outer": 2.0, "probe.inner": 6.0, "file probe/templates/cm.yaml": 1.0}
    assert "engine.Render: wall median" in out and "allocations" in out


def test_instrumented_library_renders_like_the_library(tmp_path: Path) -> None:
    """The test chart includes every public template: the instrumented copy of the
    whole library renders exactly what the library renders."""
    out, calls = profile(TEST_CHART, tmp_path)
    assert "dependency destate loaded from its source" in out  # not a stale charts/*.tgz
    assert "WARNING" not in out
    assert len([name for name in calls if name.startswith("destate.")]) > 100


def test_mysql_merges_validates_and_labels_once(tmp_path: Path) -> None:
    _, calls = profile(REPO / "charts" / "mysql", tmp_path, "--kube-version", "1.33")
    # one tree: the chart names its derived values (destate/values: mysql.values) instead
    # of passing a second tree to destate.app.render
    assert calls["destate.values.build"] == 1.0
    assert calls["mysql.values"] == 1.0
    assert calls["destate.values.defaults"] == 1.0
    assert calls["destate.values.key"] > 40  # read everywhere, built once
    assert calls["destate.values.areasOnce"] == 1.0  # the gate and the checks share it
    # every area's checks run once per tree, whatever calls them; session and connection
    # are off (mode none): nothing of theirs renders, so they are not checked
    assert calls["destate.validate.once"] > calls["destate.validate.persistence"] > 0
    assert "destate.validate.connection" not in calls
    assert "destate.validate.session" not in calls
    assert calls.get("destate.validate.intRange", 0.0) <= 2 * 10
    # many resources, few label sets and names; the library's own calls skip the guard
    assert calls["destate.labels.standardOf"] >= 3 * calls["destate.labels.standardOnce"]
    assert calls["destate.names.fullnameOf"] > 10
    assert calls["destate.args.check"] < 100  # 141 when the library's own calls were guarded


@pytest.mark.parametrize("chart", ["mysql", "web-session", "grpc", "redis"])
def test_every_chart_renders_identically_instrumented(chart: str, tmp_path: Path) -> None:
    out, calls = profile(REPO / "charts" / chart, tmp_path)
    assert "WARNING" not in out
    assert calls["destate.app.render"] == 1.0

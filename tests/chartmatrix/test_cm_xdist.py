"""The plugin's matrix items under pytest-xdist (``pytest -n 2``) give the serial results."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cm_charts import NEGATIVE_REPLICAS, STATEFUL_CHART, write_spec, write_tree

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CI", raising=False)
    root = pytester.path
    write_tree(root / "charts" / "kv", STATEFUL_CHART)
    spec = {"axes": {"replicas": [1, 2, 3, 4], "pdb": [True, False]}}
    write_spec(root, "kv", {**spec, "expectFailure": [NEGATIVE_REPLICAS]})
    return root


def _outcomes(file: Path) -> dict[str, tuple[str, str]]:
    """test id -> (outcome, failure message) from a JUnit file."""
    out = {}
    for case in ET.parse(file).getroot().iter("testcase"):
        failure = case.find("failure")
        skipped = case.find("skipped")
        outcome = "failed" if failure is not None else "skipped" if skipped is not None else "ok"
        text = (failure.text or "") if failure is not None else ""
        out[f"{case.get('classname')}::{case.get('name')}"] = (outcome, text)
    return out


def _run(pytester: pytest.Pytester, project: Path, name: str, *extra: str) -> tuple:
    """Run with fresh golden files; (JUnit outcomes, golden files written, stdout)."""
    shutil.rmtree(project / "chart_tests" / "kv" / "golden", ignore_errors=True)
    junit = project / f"{name}.xml"
    result = pytester.runpytest_subprocess(
        "chart_tests", "-p", "no:cacheprovider", "-W", "always", f"--junitxml={junit}", *extra
    )
    written = sorted(p.name for p in (project / "chart_tests" / "kv" / "golden").iterdir())
    return _outcomes(junit), written, result


def test_xdist_runs_every_item_once_with_the_serial_results(
    pytester: pytest.Pytester, project: Path
) -> None:
    serial, serial_files, serial_run = _run(pytester, project, "serial", "-p", "no:xdist")
    parallel, parallel_files, parallel_run = _run(pytester, project, "xdist", "-n", "2")
    out = parallel_run.stdout.str()
    assert "2 workers" in out and "Traceback" not in out, out
    assert len(serial) == 10  # 8 cases, the must-fail case, golden-files
    assert parallel == serial
    assert sum(1 for outcome, _ in serial.values() if outcome == "failed") == 3  # no PDB
    assert parallel_files == serial_files and len(serial_files) == 8
    # each case wrote its golden file exactly once: a case checked by two workers would
    # find the file the other wrote and report no new file
    new = "wrote new golden file"
    assert serial_run.stdout.str().count(new) == out.count(new) == 8, out
    # --dist loadfile keeps a spec's cases on one worker, which renders them together
    together, together_files, together_run = _run(
        pytester, project, "loadfile", "-n", "2", "--dist", "loadfile"
    )
    assert together == serial and together_files == serial_files
    assert together_run.stdout.str().count(new) == 8

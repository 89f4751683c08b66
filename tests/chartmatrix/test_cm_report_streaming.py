"""Report files are written case by case (a run's results are on disk, and a report
never holds them all), and put in place only once whole."""

from __future__ import annotations

import json
import os
import stat
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chartmatrix.errors import ChartmatrixError
from chartmatrix.report import html, jsonout, junit, model
from chartmatrix.report.output import write_pieces
from chartmatrix.runner import Options, Runner
from chartmatrix.spec import load_spec
from cm_charts import NEGATIVE_REPLICAS, write_spec


class _Record(dict):  # type: ignore[type-arg]
    """A case record that can be watched with a weak reference."""


@pytest.fixture
def report(kv_chart: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A run's report: 12 cases; 5 fail (a message that does not match, and 4 cases
    of several replicas without a PodDisruptionBudget)."""
    monkeypatch.delenv("CI", raising=False)
    spec = {
        "axes": {"replicas": [1, 2, 3, 4, 5], "pdb": [True, False]},
        "expectFailure": [
            NEGATIVE_REPLICAS,
            {**NEGATIVE_REPLICAS, "name": "wrong", "message": "^no such message$"},
        ],
    }
    spec_file = write_spec(kv_chart.parent.parent, "kv", spec)
    return model.to_dict(Runner(Options()).run([load_spec(spec_file)]), lazy=True)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, default=list))


def test_json_file_is_the_whole_report(report: dict[str, Any], tmp_path: Path) -> None:
    file = tmp_path / "report.json"
    jsonout.write_json_data(report, file)
    plain = _plain(report)
    failed = [c["id"] for c in plain["charts"][0]["cases"] if c["failed"]]
    assert plain["cases"] == 12 and len(failed) == 5 and "wrong" in failed, failed
    assert file.read_text() == json.dumps(plain, indent=2) + "\n"  # the format is unchanged
    assert json.loads(file.read_text()) == plain


def test_junit_and_html_from_lazy_cases_equal_those_from_plain_data(
    report: dict[str, Any], tmp_path: Path
) -> None:
    """A merge writes from plain lists, a run from lazy records: the same files."""
    lazy, plain = tmp_path / "lazy.xml", tmp_path / "plain.xml"
    junit.write_junit_data(report, lazy)
    junit.write_junit_data(_plain(report), plain)
    assert lazy.read_text() == plain.read_text()
    suite = ET.parse(lazy).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("12", "5")
    failing = [tc.get("name") for tc in suite if tc.find("failure") is not None]
    assert len(failing) == 5 and "wrong" in failing
    assert html.render_html_data(report) == html.render_html_data(_plain(report))
    html.write_html_data(report, tmp_path / "page.html")
    assert (tmp_path / "page.html").read_text() == html.render_html_data(report)


@pytest.mark.parametrize(
    "write", [jsonout.write_json_data, junit.write_junit_data, html.write_html_data]
)
def test_reports_hold_one_case_at_a_time(
    write: Any, report: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alive: list[weakref.ref[_Record]] = []
    most = 0
    make = model.case_record

    def watched(*args: Any) -> _Record:
        nonlocal most
        record = _Record(make(*args))
        alive.append(weakref.ref(record))
        most = max(most, sum(1 for r in alive if r() is not None))
        return record

    monkeypatch.setattr(model, "case_record", watched)
    write(report, tmp_path / "out")
    assert len(alive) >= 12, "every case was read"
    assert most <= 2, f"{most} case records were held at once"


def test_a_report_that_fails_half_way_leaves_the_old_file(tmp_path: Path) -> None:
    file = tmp_path / "report.json"
    file.write_text("previous\n")

    def pieces() -> Iterator[str]:
        yield "{"
        raise RuntimeError("a case could not be read")

    with pytest.raises(RuntimeError):
        write_pieces(file, pieces())
    assert file.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"], "no temporary left"
    write_pieces(file, iter(["new", "\n"]))
    assert file.read_text() == "new\n"
    assert stat.S_IMODE(file.stat().st_mode) == 0o666 & ~_umask()


def test_a_report_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "report.json"
    with pytest.raises(ChartmatrixError, match=r"report.json: cannot write the report: No such"):
        write_pieces(missing, iter(["{}"]))
    full = Path("/dev/full")
    if full.exists():  # a device that refuses every write (ENOSPC)
        with pytest.raises(ChartmatrixError, match="cannot write the report: No space"):
            write_pieces(full, iter(["x" * 70000]))


def test_a_report_to_a_pipe_is_written_to_it_not_replaced(tmp_path: Path) -> None:
    """``--json /dev/stdout`` (or a pipe) writes into it; it is never replaced by a file
    (shown on a pipe of its own: a device of the machine's would be lost if it were)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_pieces(fifo, iter(["[1]", "\n"]))
        assert os.read(reader, 100) == b"[1]\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

"""CaseLog: a chart's case results, written to disk once final, read back in run order."""

from __future__ import annotations

import pytest
from chartmatrix.caselog import CaseLog
from chartmatrix.findings import Finding, Severity
from chartmatrix.runner import CaseResult
from chartmatrix.spec import Case


def _result(n: int) -> CaseResult:
    case = Case(f"replicas:{n}", {"replicas": n}, "r", "ns", ("1.33",), (), "axes")
    out = CaseResult("kv", case, manifests=n)
    out.findings.append(Finding("rules", "pdb/missing", Severity.WARNING, f"case {n}"))
    out.notes["render"] = f"{n} objects"
    out.ran.update({"render", "rules"})
    return out


def test_results_come_back_in_order_from_disk_and_memory() -> None:
    log = CaseLog()
    for n in range(5):
        log.append(_result(n))
    log.spill(keep=lambda r: r.manifests == 3)  # still changing: stays in memory
    assert log.in_memory == 1 and len(log) == 5
    log.append(_result(5))
    got = list(log)
    assert [r.case.id for r in got] == [f"replicas:{n}" for n in range(6)]
    assert got[1].findings == [Finding("rules", "pdb/missing", Severity.WARNING, "case 1")]
    assert got[1].notes == {"render": "1 objects"} and got[1].ran == {"render", "rules"}
    assert got[1].status("rules") == "warn" and got[1].status("schema") == "skip"
    assert log[-1].manifests == 5 and [r.manifests for r in log[1:4]] == [1, 2, 3]
    with pytest.raises(IndexError):
        log[6]


def test_a_held_result_is_the_same_object_and_spilled_ones_are_copies() -> None:
    first, second = _result(1), _result(2)
    log = CaseLog([first, second])
    log.spill(keep=lambda r: r is second)
    second.notes["golden"] = "written later"  # what the golden stage does at the end
    log.spill()
    assert log.in_memory == 0
    assert log[1].notes["golden"] == "written later"
    assert log[0] is not first and log[0].findings == first.findings
    first.notes["render"] = "changed after it was final"
    assert log[0].notes["render"] == "1 objects"


def test_an_empty_log() -> None:
    log = CaseLog()
    log.spill()
    assert len(log) == 0 and list(log) == [] and log[0:3] == []

"""upgrade/renamed-statefulset: a StatefulSet that leaves the golden render while one with
the same role appears (a rename on upgrade starts on empty volumes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chartmatrix.cli import main
from chartmatrix.manifests import parse
from chartmatrix.rules import RuleContext, run_rules

RULE = "upgrade/renamed-statefulset"
SELECTOR = {"app.kubernetes.io/name": "mysql", "app.kubernetes.io/instance": "db"}


def _sts(
    name: str,
    selector: dict[str, str] | None = None,
    claims: tuple[str, ...] = ("data",),
    component: str = "",
    namespace: str = "data",
) -> dict[str, Any]:
    labels = dict(selector or SELECTOR)
    if component:
        labels["app.kubernetes.io/component"] = component
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "serviceName": f"{name}-headless",
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}},
            "volumeClaimTemplates": [{"metadata": {"name": c}} for c in claims],
        },
    }


def _findings(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Any]:
    ctx = RuleContext(
        manifests=parse(yaml.safe_dump_all(new)), golden=parse(yaml.safe_dump_all(old))
    )
    return [f for f in run_rules(ctx) if f.rule == RULE]


def test_full_name_override_is_a_rename() -> None:
    [finding] = _findings([_sts("db-mysql")], [_sts("main")])
    assert finding.severity.value == "error"
    assert finding.resource == "StatefulSet/main"
    assert finding.check == "golden"
    for part in ("db-mysql", "main", "data-db-mysql-N -> data-main-N", "fullnameOverride"):
        assert part in finding.message, finding.message


def test_name_override_changes_the_name_label_and_is_a_rename() -> None:
    renamed = {**SELECTOR, "app.kubernetes.io/name": "sql"}
    [finding] = _findings([_sts("db-mysql")], [_sts("db-sql", renamed)])
    assert "StatefulSet db-mysql is gone and db-sql takes its role" in finding.message


def test_custom_label_that_carries_the_name_is_left_out() -> None:
    old = _sts("shop-kv", {"release": "shop", "kv": "shop-kv"})
    new = _sts("shop-store", {"release": "shop", "kv": "shop-store"})
    assert len(_findings([old], [new])) == 1


def test_component_statefulset_rename() -> None:
    redis = {**SELECTOR, "app.kubernetes.io/name": "redis"}
    old = _sts("web-web-session-redis", redis, component="redis")
    new = _sts("site-redis", redis, component="redis")
    assert [f.resource for f in _findings([old], [new])] == ["StatefulSet/site-redis"]


@pytest.mark.parametrize(
    ("why", "old", "new"),
    [
        ("same name", [_sts("db-mysql")], [_sts("db-mysql")]),
        ("other claims", [_sts("db-mysql")], [_sts("main", claims=("logs",))]),
        ("other component", [_sts("a", component="x")], [_sts("b", component="y")]),
        ("other namespace", [_sts("a")], [_sts("b", namespace="other")]),
        (
            "selector differs beyond the name",
            [_sts("a", {**SELECTOR, "tier": "cache"})],
            [_sts("b", {**SELECTOR, "tier": "store"})],
        ),
        ("no claims: nothing is orphaned", [_sts("a", claims=())], [_sts("b", claims=())]),
        ("the old one stays", [_sts("a")], [_sts("a"), _sts("b")]),
        ("removed, nothing appears", [_sts("a")], []),
    ],
)
def test_not_a_rename(why: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    assert _findings(old, new) == [], why


def test_without_golden_render_nothing_is_reported() -> None:
    ctx = RuleContext(manifests=parse(yaml.safe_dump(_sts("main"))), golden=None)
    assert [f for f in run_rules(ctx) if f.rule == RULE] == []


def test_rename_in_a_chart_fails_the_run_against_its_golden_files(
    kv_chart: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chart whose name helper changes: the golden render still has the old name."""
    monkeypatch.delenv("CI", raising=False)
    spec_dir = kv_chart.parent.parent / "chart_tests" / "kv"
    spec_dir.mkdir(parents=True)
    spec = {"release": "db", "namespace": "data", "kubernetes": {"versions": ["1.36"]}}
    (spec_dir / "matrix.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", "--no-progress", str(kv_chart)]) == 0, capsys.readouterr().out
    capsys.readouterr()

    sts = kv_chart / "templates" / "sts.yaml"
    sts.write_text(sts.read_text().replace("name: {{ .Release.Name }}-kv\n", "name: store\n", 1))
    code = main(["run", "--no-progress", str(kv_chart)])
    out = "".join(capsys.readouterr())
    assert code == 1
    assert RULE in out and "StatefulSet db-kv is gone and store takes its role" in out

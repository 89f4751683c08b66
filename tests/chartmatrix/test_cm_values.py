"""Helm values arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from chartmatrix.spec import load_spec
from chartmatrix.values import (
    coalesce,
    from_path,
    layered,
    merge,
    merge_all,
    parse_axis,
    split_path,
)


def test_maps_merge_lists_replace() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    over = {"a": {"y": [3]}, "c": 2}
    assert merge(base, over) == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}, "inputs must not be modified"


def test_null_is_kept_between_user_layers_then_deletes_defaults() -> None:
    user = merge_all([{"a": {"x": 1}}, {"a": {"x": None}}])
    assert user == {"a": {"x": None}}
    assert coalesce({"a": {"x": 5, "z": 1}}, user) == {"a": {"z": 1}}


def test_map_over_null_and_scalar_over_map() -> None:
    assert merge({"a": None}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert merge({"a": {"b": 1}}, {"a": 3}) == {"a": 3}
    assert coalesce({"a": {"b": 1}}, {"a": {"c": None, "d": {"e": None}}}) == {
        "a": {"b": 1, "d": {}}
    }


def test_paths_and_axes() -> None:
    assert split_path(r"metadata.annotations.a\.b") == ["metadata", "annotations", "a.b"]
    assert from_path("workload.replicas", 3) == {"workload": {"replicas": 3}}
    assert parse_axis("workload.replicas=0, 3") == ("workload.replicas", [0, 3])
    assert parse_axis("p.enabled=true,false,null,x") == ("p.enabled", [True, False, None, "x"])
    with pytest.raises(ValueError, match="key=v1,v2"):
        parse_axis("nokey")
    with pytest.raises(ValueError, match="empty key"):
        split_path("a..b")


def test_layered_is_merge_sharing_what_the_overlay_leaves() -> None:
    base = {"a": {"x": 1, "y": [1, 2], "deep": {"k": "v"}}, "b": {"big": list(range(50))}}
    over = {"a": {"y": [3], "deep": {"k2": None}}, "c": {"n": 1}}
    out = layered(base, over)
    assert out == merge(base, over)
    assert base == {"a": {"x": 1, "y": [1, 2], "deep": {"k": "v"}}, "b": {"big": list(range(50))}}
    assert out["b"] is base["b"], "an untouched subtree is shared, not copied"
    assert out["a"] is not base["a"] and out["a"]["deep"] is not base["a"]["deep"]
    assert out["c"] is not over["c"], "the overlay's own values are copied"
    assert layered(base, {"a": 3}) == {"a": 3, "b": base["b"]}  # a scalar over a map
    assert layered({"a": None}, {"a": {"z": 1}}) == {"a": {"z": 1}}


def test_axis_cases_share_the_spec_values(tmp_path: Path) -> None:
    """A case holds what its axes change, not a copy of the spec's base values."""
    (tmp_path / "c" / "templates").mkdir(parents=True)
    (tmp_path / "c" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    spec = {
        "chart": "c",
        "values": {"big": {"list": list(range(100))}, "app": {"replicas": 1, "name": "x"}},
        "axes": {"app.replicas": [1, 2, 3], "app.tls": [True, False]},
    }
    file = tmp_path / "matrix.yaml"
    file.write_text(yaml.safe_dump(spec))
    cases = load_spec(file).cases
    assert len(cases) == 6
    assert len({id(c.values["big"]) for c in cases}) == 1
    assert cases[3].values["app"] == {"replicas": 2, "name": "x", "tls": False}
    assert cases[0].values["app"] == {"replicas": 1, "name": "x", "tls": True}

"""Helm values arithmetic."""

from __future__ import annotations

import pytest
from chartmatrix.values import coalesce, from_path, merge, merge_all, parse_axis, split_path


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

"""destate_tools.schemabuild: consumer values.schema.json assembled from the library's
schema files; --check names out-of-date charts; input problems are one line."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import LIBRARY, REPO, TEST_CHART

SCHEMA_DIR = LIBRARY / "schema"


def load_schemabuild() -> ModuleType:
    """Import tools/destate_tools/schemabuild.py by path (it needs nothing else of the
    package), so these tests also run before chartmatrix is installed."""
    path = REPO / "tools" / "destate_tools" / "schemabuild.py"
    spec = importlib.util.spec_from_file_location("destate_schemabuild", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


schemabuild = load_schemabuild()


def make_chart(root: Path, name: str, source: dict[str, Any]) -> Path:
    chart = root / name
    chart.mkdir(parents=True)
    (chart / "values.schema.in.json").write_text(json.dumps(source))
    return chart


def test_every_area_schema_is_strict() -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, where
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{where}[{i}]")

    files = sorted(SCHEMA_DIR.glob("*.json"))
    assert {f.stem for f in files} == {
        "names",
        "image",
        "workload",
        "persistence",
        "config",
        "topology",
        "session",
        "connection",
        "network",
    }
    for path in files:
        doc = json.loads(path.read_text())
        assert doc["$schema"] == schemabuild.DRAFT
        walk(doc["properties"], path.name)


def test_assemble_merges_areas_and_chart_properties(tmp_path: Path) -> None:
    chart = make_chart(
        tmp_path,
        "kv",
        {
            "areas": ["names", "image", "workload", "persistence"],
            "properties": {"mode": {"enum": ["a", "b"]}},
            "required": ["mode"],
        },
    )
    assert schemabuild.main([str(chart), "--library", str(SCHEMA_DIR)]) == 0
    schema = json.loads((chart / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert schema["title"] == "kv values"
    assert schema["required"] == ["mode"]
    props = schema["properties"]
    assert set(props) == {
        "nameOverride",
        "fullnameOverride",
        "image",
        "workload",
        "persistence",
        "mode",
        "global",
        "destate",
    }
    persistence = json.loads((SCHEMA_DIR / "persistence.json").read_text())["properties"]
    assert props["persistence"] == persistence["persistence"]


def test_check_mode_names_the_stale_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = make_chart(tmp_path, "stale-chart", {"areas": ["names"]})
    assert schemabuild.main([str(chart), "--check"]) == 1
    assert not (chart / "values.schema.json").exists()  # --check writes nothing
    err = capsys.readouterr().err
    assert "stale-chart" in err and "out of date" in err
    assert schemabuild.main([str(chart)]) == 0
    assert schemabuild.main([str(chart), "--check"]) == 0
    (chart / "values.schema.json").write_text("{}\n")  # hand-edited: out of date again
    assert schemabuild.main([str(chart), "--check"]) == 1


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"areas": ["names", "storage"]}, "unknown area 'storage'"),
        (
            {"areas": ["image"], "properties": {"image": {}}},
            "property 'image' is already defined by a library area",
        ),
        ({"areas": "image"}, "'areas' must be a list of area names"),
        ({"areas": [], "extras": {}}, "unknown key(s) extras"),
    ],
)
def test_bad_sources_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: dict[str, Any], message: str
) -> None:
    chart = make_chart(tmp_path, "bad", source)
    assert schemabuild.main([str(chart)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("schemabuild: ")
    assert message in err
    assert str(chart / "values.schema.in.json") in err
    assert "\n" not in err


def test_invalid_json_and_missing_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "broken"
    chart.mkdir()
    (chart / "values.schema.in.json").write_text('{"areas": [\n')
    assert schemabuild.main([str(chart)]) == 2
    assert "invalid JSON" in capsys.readouterr().err
    assert schemabuild.main([str(tmp_path / "nowhere")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_repository_charts_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    """The library test chart and every charts/* with a values.schema.in.json."""
    charts = [TEST_CHART, *schemabuild.discover(REPO)]
    code = schemabuild.main(["--check", *map(str, charts)])
    assert code == 0, capsys.readouterr().err


def test_embedded_redis_schema_mirrors_the_area_schemas() -> None:
    """session.store.redis.{image,workload,persistence,topology} are copies of the area
    schemas (patterns included), except that the embedded Redis has at most one pod."""
    session = json.loads((SCHEMA_DIR / "session.json").read_text())
    store = session["properties"]["session"]["properties"]["store"]["properties"]
    redis = store["redis"]["properties"]
    for area in ("image", "workload", "persistence", "topology"):
        expected = json.loads((SCHEMA_DIR / f"{area}.json").read_text())["properties"][area]
        actual = json.loads(json.dumps(redis[area]))
        if area == "workload":
            assert actual["properties"]["replicas"]["maximum"] == 1
            actual["properties"]["replicas"] = expected["properties"]["replicas"]
        assert actual == expected, f"session.store.redis.{area} differs from {area}.json"
    assert set(redis["auth"]["properties"]) == {"existingSecret", "password"}

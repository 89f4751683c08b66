"""The library's own conventions: every template has a usage header, is documented in
README.md and (unless internal) is included by the test chart; names follow
destate.<area>.<thing>; the values plumbing merges like the README says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import LIBRARY, TEST_CHART, Render

DEFINE = re.compile(r'\{\{-?\s*define\s+"([^"]+)"\s*-?\}\}')
HEADER = re.compile(r"\{\{/\*(.*?)\*/\}\}\s*", re.S)
AREAS = {
    "names",
    "labels",
    "persistence",
    "config",
    "topology",
    "session",
    "connection",
    "network",
    "workload",
    "validate",
    "values",
    "args",
    "app",
}


def header_before(text: str, position: int) -> str | None:
    """The `{{/* ... */}}` comment that ends right before `position`, or None."""
    start = text.rfind("{{/*", 0, position)
    if start < 0:
        return None
    match = HEADER.fullmatch(text, start, position)
    return match.group(1) if match else None


def templates() -> dict[str, str]:
    """template name -> its usage header text."""
    found: dict[str, str] = {}
    for path in sorted((LIBRARY / "templates").glob("_*.tpl")):
        text = path.read_text()
        for match in DEFINE.finditer(text):
            header = header_before(text, match.start())
            assert header is not None, f"{path.name}: {match.group(1)} has no usage header"
            found[match.group(1)] = header
    return found


TEMPLATES = templates()


def test_template_names_follow_the_convention() -> None:
    assert len(TEMPLATES) > 60
    for name in TEMPLATES:
        parts = name.split(".")
        assert parts[0] == "destate" and len(parts) == 3, name
        assert parts[1] in AREAS, name


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_usage_header_and_readme(name: str) -> None:
    header = TEMPLATES[name]
    # the header directly above a define names it (a file's general comment does not)
    assert name in header, f"{name}: the comment above it is not its usage header"
    assert f"`{name}`" in (LIBRARY / "README.md").read_text(), f"{name} not in README.md"


def test_readme_index_has_keys_and_example_for_every_public_template() -> None:
    readme = (LIBRARY / "README.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in readme.splitlines()
        if line.startswith("| `destate.")
    }
    for name, header in TEMPLATES.items():
        if "— internal" in header:
            continue
        assert name in rows, f"{name}: no row in the README's template index"
        cells = [c.strip() for c in rows[name].strip("|").split(" | ")]
        assert len(cells) >= 3 and cells[1] and name in cells[-1], rows[name]


def test_test_chart_includes_every_public_template() -> None:
    used = "\n".join(p.read_text() for p in (TEST_CHART / "templates").glob("*.yaml"))
    missing = [
        name
        for name, header in TEMPLATES.items()
        if "— internal" not in header and f'"{name}"' not in used
    ]
    assert missing == []


def test_values_merge_semantics(default_out: Render) -> None:
    data = default_out.get("ConfigMap", "libtest-helpers")["data"]
    merged = json.loads(data["values-merge"])
    assert merged == {
        "keep": "base",
        "list": [3],
        "new": "y",
        "map": {"flag": False, "n": 0, "s": ""},
    }  # false/0/"" override
    effective = json.loads(data["values-get"])
    assert effective["persistence"]["size"] == "2Gi"  # from the chart
    assert effective["config"]["passwordLength"] == 24  # library default
    assert effective["securityContext"]["readOnlyRootFilesystem"] is True
    defaults = yaml.safe_load(data["values-defaults"])
    assert set(defaults) == {
        "nameOverride",
        "fullnameOverride",
        "image",
        "workload",
        "persistence",
        "config",
        "topology",
        "session",
        "connection",
        "network",
    }
    assert data["args-check"] == ""


# schema keys without a library default: chosen per chart, or falling back to the
# general defaults (the embedded Redis' trees are merged over them)
NO_DEFAULT = {"topology.pdb": {"minAvailable"}, "connection.envoy.image": {"digest", "pullSecrets"}}
MERGED_OVER_DEFAULTS = "session.store.redis."


def test_defaults_match_the_schemas(default_out: Render) -> None:
    """The defaults validate against the schemas, and every schema key has a default."""
    defaults = yaml.safe_load(
        default_out.get("ConfigMap", "libtest-helpers")["data"]["values-defaults"]
    )
    properties: dict[str, Any] = {}
    for path in (LIBRARY / "schema").glob("*.json"):
        properties.update(json.loads(path.read_text())["properties"])
    schema = {"type": "object", "additionalProperties": False, "properties": properties}
    jsonschema.validate(defaults, schema)

    def walk(node: dict[str, Any], value: Any, where: str) -> None:
        props = node.get("properties")
        if not props or not isinstance(value, dict) or where.startswith(MERGED_OVER_DEFAULTS):
            return
        missing = set(props) - set(value) - NO_DEFAULT.get(where, set())
        assert not missing, f"{where}: schema keys without a default: {sorted(missing)}"
        for key, child in value.items():
            walk(props[key], child, f"{where}.{key}")

    for key, value in defaults.items():
        walk(properties[key], value, key)


def test_library_chart_metadata() -> None:
    chart = yaml.safe_load((LIBRARY / "Chart.yaml").read_text())
    assert chart["type"] == "library"
    assert chart["name"] == "destate"
    # the released version is the CHANGELOG's newest entry (Keep a Changelog, semver)
    released = re.findall(
        r"^## \[(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\]", (LIBRARY / "CHANGELOG.md").read_text(), re.M
    )
    assert released, "library-chart/CHANGELOG.md has no '## [X.Y.Z]' entry"
    assert chart["version"] == released[0], "bump Chart.yaml and CHANGELOG.md together"
    assert chart["kubeVersion"] == ">=1.30.0-0"
    assert not list(Path(LIBRARY / "templates").glob("*.yaml"))  # a library renders nothing

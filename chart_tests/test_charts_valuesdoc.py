"""Unit tests of tools/destate_tools/valuesdoc.py and the README tables of our charts."""

from __future__ import annotations

from pathlib import Path

import pytest
from destate_tools import valuesdoc
from destate_tools.charts import consumer_charts

REPO = Path(__file__).resolve().parents[1]
CHARTS = consumer_charts()

VALUES = """\
# file header, not attached to a key

# The name.
name: demo
image:
  # Image repository.
  repository: example/app
  # Tag; a "|" in text is escaped.
  tag: "1.0"
ports:
  - name: http
    # not a key of the values API
    port: 80
# Multi-line
# description.
script: |
  key: not a key
  other: no
empty: {}
nested:
  # Deep value.
  deeper:
    flag: true
"""


def test_rows_cover_every_leaf_with_its_comment() -> None:
    rows = {row.path: row for row in valuesdoc.rows(VALUES)}
    assert list(rows) == [
        "name",
        "image.repository",
        "image.tag",
        "ports",
        "script",
        "empty",
        "nested.deeper",
    ]
    assert rows["name"] == valuesdoc.Row("name", "string", '"demo"', "The name.")
    assert rows["image.tag"].description == 'Tag; a "|" in text is escaped.'
    assert rows["ports"].type == "list"
    assert rows["script"].description == "Multi-line description."
    assert rows["script"].default == "(multi-line string)"
    assert rows["empty"].type == "object"
    assert rows["empty"].default == "{}"
    # a map whose keys carry no comment is one row, shown as JSON
    assert rows["nested.deeper"] == valuesdoc.Row(
        "nested.deeper", "object", '{"flag": true}', "Deep value."
    )


def test_comment_index_skips_list_items_and_block_scalars() -> None:
    index = valuesdoc.comment_index(VALUES)
    assert "ports.port" not in index
    assert "script.key" not in index
    assert "key" not in index
    assert index["nested.deeper"] == "Deep value."


def test_table_escapes_pipes() -> None:
    table = valuesdoc.render_table(valuesdoc.rows(VALUES))
    assert '| `image.tag` | string | `"1.0"` | Tag; a "\\|" in text is escaped. |' in table
    assert table.splitlines()[0] == "| Key | Type | Default | Description |"


def test_splice_needs_markers() -> None:
    with pytest.raises(valuesdoc.ValuesDocError, match=r"README\.md: needs the lines"):
        valuesdoc.splice("no markers", "| t |", "README.md")
    text = f"a\n{valuesdoc.START_MARKER}\nold\n{valuesdoc.END_MARKER}\nb\n"
    assert valuesdoc.splice(text, "new", "README.md") == (
        f"a\n{valuesdoc.START_MARKER}\nnew\n{valuesdoc.END_MARKER}\nb\n"
    )


def test_invalid_yaml_names_the_file() -> None:
    with pytest.raises(valuesdoc.ValuesDocError, match=r"^v.yaml:\d+: not valid YAML"):
        valuesdoc.rows("a: 1\nb: [\n", "v.yaml")


def _chart(tmp_path: Path, readme: str) -> Path:
    chart = tmp_path / "demo"
    chart.mkdir()
    (chart / "values.yaml").write_text(VALUES)
    (chart / "README.md").write_text(readme)
    return chart


def test_main_writes_then_check_passes_and_detects_staleness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = _chart(tmp_path, f"# demo\n{valuesdoc.START_MARKER}\n{valuesdoc.END_MARKER}\n")
    assert valuesdoc.main(["--check", str(chart)]) == 1
    assert "demo:" in capsys.readouterr().err
    assert valuesdoc.main([str(chart)]) == 0
    assert "`image.repository`" in (chart / "README.md").read_text()
    assert valuesdoc.main(["--check", str(chart)]) == 0
    (chart / "values.yaml").write_text(VALUES.replace("The name.", "A new name."))
    assert valuesdoc.main(["--check", str(chart)]) == 1
    err = capsys.readouterr().err
    assert "valuesdoc: demo:" in err
    assert "out of date" in err


def test_main_reports_missing_markers_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = _chart(tmp_path, "# demo without markers\n")
    assert valuesdoc.main(["--check", str(chart)]) == 1
    assert "README.md: needs the lines" in capsys.readouterr().err


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_readme_is_in_sync(chart: str) -> None:
    assert valuesdoc.main(["--check", str(REPO / "charts" / chart)]) == 0, (
        f"run: python -m destate_tools.valuesdoc charts/{chart}"
    )


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_value_is_described(chart: str) -> None:
    text = (REPO / "charts" / chart / "values.yaml").read_text()
    undocumented = [row.path for row in valuesdoc.rows(text) if not row.description]
    assert undocumented == [], f"charts/{chart}/values.yaml: keys without a comment"

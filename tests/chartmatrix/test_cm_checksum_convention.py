"""checksumConvention: a spec or project setting with one meaning per name, never guessed
from a chart's name; the old names still work and say what replaced them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from chartmatrix.cli import main
from chartmatrix.errors import ChartmatrixError
from chartmatrix.projectconfig import load_project_config
from chartmatrix.spec import load_spec

CHECKSUM_LINE = "        checksum/config: {{ .Values.config | toJson | sha256sum }}\n"


def _spec(kv_chart: Path, **settings: object) -> Path:
    spec_dir = kv_chart.parent.parent / "chart_tests" / "kv"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "matrix.yaml").write_text(yaml.safe_dump({"golden": False, **settings}))
    return spec_dir


def _run(capsys: pytest.CaptureFixture[str], root: Path, spec_dir: Path) -> tuple[int, str]:
    code = main(["--root", str(root), "run", "--no-progress", str(spec_dir)])
    out, err = capsys.readouterr()
    return code, out + err


def _without_checksum(kv_chart: Path) -> None:
    sts = kv_chart / "templates" / "sts.yaml"
    assert CHECKSUM_LINE in sts.read_text()
    sts.write_text(sts.read_text().replace(CHECKSUM_LINE, "        other: x\n"))


def _stale_checksum(kv_chart: Path) -> None:
    sts = kv_chart / "templates" / "sts.yaml"
    sts.write_text(sts.read_text().replace(".Values.config | toJson", ".Values.image | toJson"))


@pytest.mark.parametrize(
    ("convention", "code"), [(None, 0), ("presence", 0), ("strict", 1), ("data-hash", 1)]
)
def test_uncovered_config_map_is_a_warning_or_an_error(
    kv_chart: Path, capsys: pytest.CaptureFixture[str], convention: str | None, code: int
) -> None:
    _without_checksum(kv_chart)
    settings = {"checksumConvention": convention} if convention else {}
    got, out = _run(capsys, kv_chart.parent.parent, _spec(kv_chart, **settings))
    assert got == code, out
    assert "config/checksum-annotation" in out and "it has no checksum/* pod annotation" in out


@pytest.mark.parametrize(("convention", "flagged"), [("strict", False), ("data-hash", True)])
def test_only_data_hash_checks_the_hash_value(
    kv_chart: Path, capsys: pytest.CaptureFixture[str], convention: str, flagged: bool
) -> None:
    _stale_checksum(kv_chart)
    got, out = _run(capsys, kv_chart.parent.parent, _spec(kv_chart, checksumConvention=convention))
    assert ("config/checksum-value" in out) is flagged, out
    assert got == (1 if flagged else 0)


def test_old_name_destate_is_data_hash_with_a_deprecation_warning(
    kv_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stale_checksum(kv_chart)
    got, out = _run(capsys, kv_chart.parent.parent, _spec(kv_chart, checksumConvention="destate"))
    assert got == 1 and "config/checksum-value" in out
    assert "spec/deprecated" in out
    assert "'destate' is deprecated; it is now called 'data-hash'" in out


def test_auto_no_longer_guesses_and_says_so(kv_chart: Path) -> None:
    # a chart named like a library it might use gets no special treatment
    spec = load_spec(_spec(kv_chart, checksumConvention="auto") / "matrix.yaml")
    assert spec.checksum_convention is None
    assert len(spec.deprecations) == 1 and "'auto' is deprecated" in spec.deprecations[0]


def test_project_setting_applies_unless_the_spec_sets_its_own(
    kv_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = kv_chart.parent.parent
    (root / "chartmatrix.yaml").write_text("checksumConvention: strict\n")
    _without_checksum(kv_chart)
    got, out = _run(capsys, root, _spec(kv_chart))
    assert got == 1 and "config/checksum-annotation" in out
    got, out = _run(capsys, root, _spec(kv_chart, checksumConvention="presence"))
    assert got == 0, out


def test_project_setting_in_pyproject_and_its_old_name(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.chartmatrix]\nchecksumConvention = "destate"\n')
    config = load_project_config(tmp_path)
    assert config.checksum_convention == "data-hash"
    assert (
        "[tool.chartmatrix] checksumConvention: 'destate' is deprecated" in config.deprecations[0]
    )


def test_unknown_project_setting_is_one_line_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "chartmatrix.yaml").write_text("checksumConvention: mine\n")
    with pytest.raises(ChartmatrixError) as info:
        load_project_config(tmp_path)
    assert str(info.value) == (
        f"chartmatrix: {tmp_path / 'chartmatrix.yaml'}: checksumConvention: unknown checksum "
        "convention 'mine' (known: presence, strict, data-hash)"
    )


def test_unknown_spec_setting_is_rejected(kv_chart: Path) -> None:
    with pytest.raises(ChartmatrixError, match="checksumConvention: 'mine' is not one of"):
        load_spec(_spec(kv_chart, checksumConvention="mine") / "matrix.yaml")


@pytest.mark.parametrize(
    ("head", "tail"),
    [("", ""), ("{{- if true }}\n", "{{- end }}\n"), ("", "{{- /* no final newline */ -}}\n")],
)
def test_a_checksum_of_the_rendered_template_covers_its_object(
    kv_chart: Path, capsys: pytest.CaptureFixture[str], head: str, tail: str
) -> None:
    """Helm's own idiom: ``include (print $.Template.BasePath "/cm.yaml") . | sha256sum``
    hashes the template's rendered text (which may start with the newline after an
    ``{{- if }}``, and end without a newline after a ``-}}``): it covers the ConfigMap,
    under the strict convention too."""
    cm = kv_chart / "templates" / "cm.yaml"
    cm.write_text(head + cm.read_text() + tail)
    sts = kv_chart / "templates" / "sts.yaml"
    sts.write_text(
        sts.read_text().replace(
            CHECKSUM_LINE,
            '        checksum/app: {{ include (print $.Template.BasePath "/cm.yaml") . '
            "| sha256sum }}\n",
        )
    )
    got, out = _run(capsys, kv_chart.parent.parent, _spec(kv_chart, checksumConvention="strict"))
    assert got == 0 and "config/checksum-annotation" not in out, out

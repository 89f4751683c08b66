"""``chartmatrix install``'s values for every case (--values, --set, --set-string) and its
case selection (--case): what reaches helm, and one-line errors for bad input.

Nothing here needs a cluster: the options are checked before any cluster is contacted.
The real installs with these options run in tests/node/test_charts_on_node.py.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from chartmatrix.cluster.install import Case
from chartmatrix.cluster.install_cli import add_install_parser, select_cases, value_args
from chartmatrix.errors import ChartmatrixError


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_install_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["install", *argv])


def _case(chart: str, name: str) -> Case:
    return Case(Path(f"/charts/{chart}"), chart, Path(f"/charts/{chart}/ci/{name}-values.yaml"))


def test_values_and_sets_reach_helm_in_order(tmp_path: Path) -> None:
    extra = tmp_path / "images.yaml"
    extra.write_text("image:\n  tag: '1.0'\n")
    args = _parse(
        "-f", str(extra), "--set", "a.b=1", "--set-string", "image.tag=7.0", "--set", "c=x,d=y"
    )
    assert value_args(args) == (
        "--values",
        str(extra.resolve()),
        "--set",
        "a.b=1",
        "--set",
        "c=x,d=y",
        "--set-string",
        "image.tag=7.0",
    )
    assert value_args(_parse()) == ()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--values", "nowhere.yaml"], "nowhere.yaml: no such values file (--values)"),
        (["--set", "novalue"], "--set 'novalue': expected KEY=VALUE"),
        (["--set-string", "=7.0"], "--set-string '=7.0': expected KEY=VALUE"),
    ],
)
def test_bad_values_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(ChartmatrixError) as error:
        value_args(_parse(*argv))
    assert message in error.value.line()


def test_case_globs_select_by_id_or_name() -> None:
    cases = [_case("mysql", "mariadb"), _case("mysql", "mysql"), _case("grpc", "envoy")]
    assert select_cases(cases, []) == cases
    assert [c.case_id for c in select_cases(cases, ["mariadb"])] == ["mysql/mariadb"]
    assert [c.case_id for c in select_cases(cases, ["mysql/m*"])] == [
        "mysql/mariadb",
        "mysql/mysql",
    ]
    assert [c.case_id for c in select_cases(cases, ["envoy", "mysql/mysql"])] == [
        "mysql/mysql",
        "grpc/envoy",
    ]


def test_a_case_glob_matching_nothing_is_an_error() -> None:
    cases = [_case("grpc", "envoy")]
    with pytest.raises(ChartmatrixError) as error:
        select_cases(cases, ["envoy", "enovy"])
    assert "--case 'enovy' matches no case (cases: grpc/envoy)" in error.value.line()


def test_cli_reports_a_missing_values_file_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "chartmatrix.cli", "install", "--values", "absent.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["chartmatrix: absent.yaml: no such values file (--values)"]

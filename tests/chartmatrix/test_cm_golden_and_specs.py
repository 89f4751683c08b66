"""Matrix specs, golden files and upgrade safety against real renders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from chartmatrix.cli import main
from chartmatrix.errors import ChartmatrixError
from chartmatrix.spec import load_spec, short_names


def write_spec(kv_chart: Path, spec: dict) -> Path:
    spec_dir = kv_chart.parent.parent / "chart_tests" / "kv"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "matrix.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_dir


BASIC = {
    "release": "db",
    "namespace": "data",
    "kubernetes": {"versions": ["1.30", "1.36"]},
    "checksumConvention": "data-hash",
    "axes": {"replicas": [1, 3], "pdb": [True, False]},
    "exclude": [{"replicas": 3, "pdb": False}],
    "include": [{"name": "tiny-config", "set": {"config": {"a.conf": "x=<1>&"}}}],
    "expectFailure": [
        {
            "name": "negative",
            "set": {"replicas": -1},
            "message": r"replicas must be >= 0 \(got -1\)",
        }
    ],
}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["run", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_case_ids_and_expansion(kv_chart: Path) -> None:
    spec = load_spec(write_spec(kv_chart, BASIC) / "matrix.yaml")
    assert [c.id for c in spec.cases] == [
        "replicas:1+pdb:true",
        "replicas:1+pdb:false",
        "replicas:3+pdb:true",
        "tiny-config",
        "negative",
    ]
    assert spec.cases[0].golden_name == "replicas=1,pdb=true.yaml"
    assert spec.cases[3].values == {"config": {"a.conf": "x=<1>&"}}
    assert spec.cases[0].kube_versions == ("1.30", "1.36")
    assert short_names(["a.enabled", "b.enabled", "c.size"]) == {
        "a.enabled": "a.enabled",
        "b.enabled": "b.enabled",
        "c.size": "size",
    }


def test_a_spec_is_named_after_its_folder_from_any_working_directory(
    kv_chart: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the name heads every golden file: `run matrix.yaml` inside the folder named it ""
    spec_dir = write_spec(kv_chart, {})
    monkeypatch.chdir(spec_dir)
    assert load_spec(Path("matrix.yaml")).name == "kv"
    assert load_spec(spec_dir / "matrix.yaml").name == "kv"
    # a path through `..` is named as it is, in messages too
    (kv_chart / "ci").mkdir()
    (kv_chart / "ci" / "bad-values.yaml").write_text("a: [1\n")
    write_spec(kv_chart, {"chart": "../../charts/kv"})
    with pytest.raises(ChartmatrixError) as info:
        load_spec(Path("matrix.yaml"))
    assert info.value.line().startswith(f"chartmatrix: {kv_chart.resolve()}/ci/bad-values.yaml:")


def test_ci_values_files_are_cases(kv_chart: Path) -> None:
    (kv_chart / "ci").mkdir()
    (kv_chart / "ci" / "big-values.yaml").write_text("replicas: 5\n")
    spec = load_spec(write_spec(kv_chart, {"golden": False}) / "matrix.yaml")
    assert [c.id for c in spec.cases] == ["default", "ci/big"]
    assert spec.cases[1].values == {"replicas": 5}


def test_a_key_given_twice_in_a_spec_is_an_error(kv_chart: Path) -> None:
    # YAML lets the second `mask:` win: the first list of masks would vanish unannounced
    spec = write_spec(kv_chart, {}) / "matrix.yaml"
    spec.write_text("mask:\n  - {kind: Secret, path: data}\naxes: {replicas: [1, 3]}\nmask: []\n")
    with pytest.raises(ChartmatrixError) as info:
        load_spec(spec)
    assert info.value.line() == (
        f'chartmatrix: {spec}: invalid YAML at line 4: mapping key "mask" given twice '
        "(first at line 2): the second would silently replace the first"
    )


def test_a_case_may_not_write_the_file_of_another_case_s_lower_kubernetes_version(
    kv_chart: Path,
) -> None:
    (kv_chart / "ci").mkdir()
    (kv_chart / "ci" / "a@k8s-1.30-values.yaml").write_text("replicas: 5\n")
    spec = {"kubernetes": {"versions": ["1.30", "1.36"]}, "include": [{"name": "ci/a"}]}
    with pytest.raises(ChartmatrixError) as info:
        load_spec(write_spec(kv_chart, spec) / "matrix.yaml")
    assert "would share the golden file ci-a@k8s-1.30.yaml" in info.value.line()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"axes": {"replicas": 3}}, "axes.replicas: 3 is not of type 'array'"),
        ({"bogus": 1}, "(top level): Additional properties are not allowed ('bogus'"),
        ({"axes": {"replicas": [1]}, "exclude": [{"pdb": True}]}, "exclude[0].pdb: not an axis"),
        ({"release": "Bad_Name"}, "release: 'Bad_Name' does not match"),
        ({"include": [{"name": "x"}, {"name": "x"}]}, "case id 'x' is used twice"),
        (
            {"axes": {"mode": ["a/b", "a-b"]}},
            "cases 'mode:a/b' (matrix.yaml axes) and 'mode:a-b' (matrix.yaml axes) would share "
            "the golden file mode=a-b.yaml",
        ),
        (
            {"include": [{"name": "Big"}, {"name": "big"}]},
            "cases 'Big' (matrix.yaml include) and 'big' (matrix.yaml include) would write "
            "Big.yaml and big.yaml, one file on macOS and Windows",
        ),
        ({"kubernetes": {"versions": ["1.99"]}}, "kubernetes.versions: Kubernetes 1.99"),
        ({"kubernetes": {"versions": [1.30]}}, "kubernetes.versions: 1.3 is a number; quote"),
        ({"files": ["nope.yaml"]}, "files: values file nope.yaml not found"),
        ({"values": ["a.yaml"]}, "values: ['a.yaml'] is not of type 'object'"),
        ({"expectFailure": [{"name": "x", "message": "("}]}, "expectFailure[0].message: bad regex"),
        ({"expectFailure": [], "expect_failure": []}, "are the same key; use one"),
        ({"golden": "."}, "golden: '.' is not a directory below"),
        ({"golden": ""}, "golden: '' is not a directory below"),
        ({"golden": "../x"}, "golden: '../x' is not a directory below"),
        ({"golden": "golden/../../kv"}, "golden: 'golden/../../kv' is not a directory below"),
        (
            {"chart": "chart", "golden": "chart/templates/golden"},
            "golden: 'chart/templates/golden' is part of what helm renders of the chart",
        ),
        ({"chart": "chart", "golden": "chart"}, "golden: 'chart' is part of what helm renders"),
        (
            {"suppress": ["hardening/pod-securty"]},
            "suppress[0]: 'hardening/pod-securty' matches no rule or finding id "
            "(did you mean hardening/pod-security?)",
        ),
        (
            {"include": [{"name": "a", "suppress": ["topology/*", {"rule": "nope/*"}]}]},
            "include[0].suppress[1].rule: 'nope/*' matches no rule or finding id",
        ),
        ({"golden": False, "mask": [{"path": "data.x"}]}, "mask: masks apply to golden files"),
    ],
)
def test_bad_specs_name_file_and_key(
    kv_chart: Path, spec: dict, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_file = write_spec(kv_chart, spec) / "matrix.yaml"
    if spec.get("chart") == "chart":
        shutil.copytree(kv_chart, spec_file.parent / "chart")
    with pytest.raises(ChartmatrixError) as info:
        load_spec(spec_file)
    assert str(spec_file) in info.value.line()
    assert message in info.value.line()
    code, out = cli(capsys, str(spec_file))
    assert code == 2 and out.count("\n") == 1


def test_bad_yaml_spec(kv_chart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_dir = write_spec(kv_chart, {})
    (spec_dir / "matrix.yaml").write_text("axes: [1\n")
    code, out = cli(capsys, str(spec_dir))
    assert code == 2
    assert out.startswith(f"chartmatrix: {spec_dir / 'matrix.yaml'}: invalid YAML at line 2")


def test_golden_lifecycle_and_upgrade_safety(
    kv_chart: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    spec_dir = write_spec(kv_chart, BASIC)
    golden = spec_dir / "golden"
    code, out = cli(capsys, "--ci", str(kv_chart))
    assert code == 1 and "golden/missing" in out
    assert not golden.exists()

    code, out = cli(capsys, str(kv_chart))  # finds chart_tests/kv/matrix.yaml
    assert code == 0, out
    assert "golden/new" in out
    files = sorted(p.name for p in golden.iterdir())
    assert files == [
        "replicas=1,pdb=false.yaml",
        "replicas=1,pdb=true.yaml",
        "replicas=3,pdb=true.yaml",
        "tiny-config.yaml",
    ]
    text = (golden / "replicas=3,pdb=true.yaml").read_text()
    assert "helm.sh/chart: <masked>" in text and "kv-0.1.0" not in text
    assert text.index("kind: ConfigMap") < text.index("kind: PodDisruptionBudget")
    assert "# Source: kv/templates/sts.yaml" in text

    code, out = cli(capsys, "--ci", "--strict", str(spec_dir / "matrix.yaml"))
    assert code == 0, out

    # an immutable-field change is a golden diff AND an upgrade-safety error
    (kv_chart / "values.yaml").write_text(
        (kv_chart / "values.yaml").read_text().replace('serviceName: ""', "serviceName: other")
    )
    code, out = cli(capsys, str(kv_chart))
    assert code == 1
    assert "upgrade/immutable-field" in out and "spec.serviceName changed" in out
    assert "golden/changed" in out and "-  serviceName: db-kv-headless" in out
    assert "topology/headless-service" in out  # "other" is not rendered
    code, out = cli(capsys, "--update-golden", str(kv_chart))
    assert "golden/changed" not in out
    assert code == 1 and "upgrade/immutable-field" in out  # shown when the change is accepted
    code, out = cli(capsys, str(kv_chart))
    assert "upgrade/immutable-field" not in out  # the golden render now has the new name
    (kv_chart / "values.yaml").write_text(
        (kv_chart / "values.yaml").read_text().replace("serviceName: other", 'serviceName: ""')
    )

    stale = (golden / "tiny-config.yaml").read_text()  # a golden file of no case
    (golden / "stale.yaml").write_text(stale)
    (golden / "notes.yaml").write_text("written: by hand\n")  # not a golden file
    code, out = cli(capsys, "--update-golden", str(kv_chart))
    assert code == 1 and '"other" -> "db-kv-headless"' in out  # changing it back
    assert "golden/unknown-file" in out and "notes.yaml is not a golden file" in out
    code, out = cli(capsys, str(kv_chart))
    assert code == 0 and not (golden / "stale.yaml").exists()
    assert (golden / "notes.yaml").read_text() == "written: by hand\n"
    (golden / "stale.yaml").write_text(stale)
    code, out = cli(capsys, "--ci", str(kv_chart))
    assert code == 1 and "golden/orphaned" in out and "stale.yaml belongs to no case" in out


def test_expect_failure_mismatch_and_suppression(
    kv_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {
        "golden": False,
        "expectFailure": [
            {"name": "wrong-message", "set": {"replicas": -1}, "message": "something else"},
            {"name": "renders", "set": {"replicas": 2}, "message": "x"},
        ],
        "include": [
            {"name": "no-pdb", "set": {"pdb": False}, "suppress": ["topology/pdb"]},
            {"name": "no-pdb-reported", "set": {"pdb": False}},
        ],
    }
    code, out = cli(capsys, str(write_spec(kv_chart, spec)))
    assert code == 1
    assert "expect/message" in out and "kv: replicas must be >= 0 (got -1)" in out
    assert "expect/rendered" in out
    assert "topology/pdb: StatefulSet/test-kv" in out and "(no-pdb-reported)" in out


def test_checksum_convention_detects_stale_hash(
    kv_chart: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sts = kv_chart / "templates" / "sts.yaml"
    sts.write_text(sts.read_text().replace(".Values.config | toJson", ".Values.image | toJson"))
    spec = {"golden": False, "checksumConvention": "destate"}
    code, out = cli(capsys, str(write_spec(kv_chart, spec)))
    assert code == 1
    assert "config/checksum-value" in out and "is not the hash of the data of a ConfigMap" in out


def test_mode_coverage(kv_chart: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (kv_chart / "values.schema.json").write_text(
        '{"type": "object", "properties": {"tier": {"enum": ["a", "b", "c"]}}}'
    )
    (kv_chart / "values.yaml").write_text((kv_chart / "values.yaml").read_text() + "tier: a\n")
    spec = {
        "golden": False,
        "axes": {"tier": ["a", "b"]},
        "coverage": [
            "tier",
            {"path": "pdb", "values": [True, False]},
            {"path": "absent", "values": [1, 2], "default": 1},
        ],
        "expectFailure": [{"name": "x", "set": {"tier": "c", "replicas": -1}, "message": "."}],
    }
    code, out = cli(capsys, str(write_spec(kv_chart, spec)))
    assert code == 1
    assert "coverage/modes: tier: no case renders 'c' (of 'a', 'b', 'c')" in out
    assert "pdb: no case renders False" in out
    assert "absent: no case renders 2 (of 1, 2)" in out


def test_every_finding_id_can_be_suppressed() -> None:
    """``suppress:`` accepts the ids of rules and of every other finding the tool makes."""
    import re

    import chartmatrix
    from chartmatrix.spec import finding_ids

    made = set()
    for source in Path(chartmatrix.__file__).parent.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        pattern = r'Finding\(\s*(?:check=)?"\w+",\s*(?:rule=)?"([\w-]+/[\w-]+)"'
        made.update(re.findall(pattern, text))
    assert "golden/nondeterministic" in made and "schema/no-kind" in made
    assert made <= finding_ids(), made - finding_ids()

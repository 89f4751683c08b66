"""tools/renderworker/engine/patched_helm.py: the copy of Helm's module the render
workers build against (its engine keeps parse trees between renders, its manifest sorter
the heads it parsed)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "renderworker" / "engine" / "patched_helm.py"


@pytest.fixture(scope="module")
def patched_helm() -> ModuleType:
    spec = importlib.util.spec_from_file_location("patched_helm", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SORTER = (
    'package util\n\nimport "sigs.k8s.io/yaml"\n\nfunc sort() {\n\tfor m := range x {\n'
    "\t\tvar entry SimpleHead\n"
    "\t\tif err := yaml.Unmarshal([]byte(m), &entry); err != nil {\n\t\t\treturn err\n\t\t}\n"
    "\t}\n}\n"
)


def _helm(root: Path, engine_source: str, sorter: str = SORTER) -> Path:
    (root / "pkg" / "release" / "v1" / "util").mkdir(parents=True)
    (root / "pkg" / "release" / "v1" / "util" / "manifest_sorter.go").write_text(sorter)
    (root / "pkg" / "engine").mkdir(parents=True)
    (root / "pkg" / "engine" / "testdata").mkdir()
    (root / "go.mod").write_text("module helm.sh/helm/v9\n\ngo 1.24\n")
    (root / "pkg" / "engine" / "engine.go").write_text(engine_source)
    (root / "pkg" / "engine" / "engine_test.go").write_text("package engine\n")
    (root / "pkg" / "engine" / "testdata" / "big.tpl").write_text("x")
    return root


def _worker(root: Path) -> Path:
    root.mkdir()
    (root / "go.mod").write_text("module example.com/worker\n\nrequire helm.sh/helm/v9 v9.0.0\n")
    (root / "go.sum").write_text("sums\n")
    return root


def test_writes_a_module_copy_with_the_loop_replaced(
    patched_helm: ModuleType, tmp_path: Path
) -> None:
    source = "package engine\n\nfunc render() {\n" + patched_helm.PARSE_LOOP + "}\n"
    helm = _helm(tmp_path / "helm-src", source)
    out = tmp_path / "out"
    assert patched_helm.main(["x", str(helm), str(_worker(tmp_path / "w")), str(out)]) == 0
    engine = out / "helm" / "pkg" / "engine"
    assert engine.joinpath("engine.go").read_text() == source.replace(
        patched_helm.PARSE_LOOP, patched_helm.CALL
    )
    assert engine.joinpath("zz_destate_parsecache.go").read_text() == (
        patched_helm.PARSECACHE.read_text()
    )
    util = out / "helm" / "pkg" / "release" / "v1" / "util"
    assert util.joinpath("manifest_sorter.go").read_text() == (
        SORTER.replace(patched_helm.HEAD_PARSE, patched_helm.HEAD_CALL)
        + patched_helm.HEAD_IMPORT_KEPT
    )
    head_cache = util.joinpath("zz_destate_headcache.go").read_text()
    assert head_cache == patched_helm.HEADCACHE.read_text().replace(
        "package releaseutil\n", "package util\n"
    )
    assert "func unmarshalHead(" in head_cache
    assert not engine.joinpath("engine_test.go").exists()
    assert not engine.joinpath("testdata").exists()
    go_mod = (out / "go.mod").read_text()
    assert go_mod.startswith("module example.com/worker\n")
    assert go_mod.endswith(f"\nreplace helm.sh/helm/v9 => {out / 'helm'}\n")
    assert (out / "go.sum").read_text() == "sums\n"
    assert (helm / "pkg" / "engine" / "engine.go").read_text() == source  # untouched


@pytest.mark.parametrize("parses", [0, 2])
def test_refuses_a_helm_whose_manifest_parse_changed(
    patched_helm: ModuleType, tmp_path: Path, parses: int, capsys: pytest.CaptureFixture[str]
) -> None:
    source = "package engine\n" + patched_helm.PARSE_LOOP
    sorter = "package util\n" + patched_helm.HEAD_PARSE * parses
    helm = _helm(tmp_path / "helm-src", source, sorter)
    out = tmp_path / "out"
    assert patched_helm.main(["x", str(helm), str(_worker(tmp_path / "w")), str(out)]) == 1
    assert not out.exists()
    assert f"manifest parse occurs {parses} times" in capsys.readouterr().err


@pytest.mark.parametrize("loops", [0, 2])
def test_refuses_a_helm_whose_loop_changed(
    patched_helm: ModuleType, tmp_path: Path, loops: int, capsys: pytest.CaptureFixture[str]
) -> None:
    source = "package engine\n" + patched_helm.PARSE_LOOP * loops
    helm = _helm(tmp_path / "helm-src", source)
    out = tmp_path / "out"
    assert patched_helm.main(["x", str(helm), str(_worker(tmp_path / "w")), str(out)]) == 1
    assert not out.exists()
    assert f"occurs {loops} times" in capsys.readouterr().err


def test_names_a_missing_file(
    patched_helm: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert patched_helm.main(["x", str(tmp_path / "nowhere"), str(tmp_path), str(out)]) == 1
    assert f"cannot read {tmp_path / 'nowhere' / 'pkg' / 'engine' / 'engine.go'}" in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_the_pinned_helms_still_have_the_loop(patched_helm: ModuleType) -> None:
    """The workers in .tools/bin were built on it and on the sorter's parse; a Helm bump
    that changes either fails here, not only as a bootstrap warning."""
    for major in ("v4", "v3"):
        worker = ROOT / "tools" / "renderworker" / major
        found = subprocess.run(
            ["go", "list", "-m", "-f", "{{.Dir}}", f"helm.sh/helm/{major}"],
            cwd=worker,
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode or not found.stdout.strip():
            pytest.skip(f"helm.sh/helm/{major} is not in the Go module cache: {found.stderr}")
        engine = Path(found.stdout.strip()) / "pkg" / "engine" / "engine.go"
        assert engine.read_text().count(patched_helm.PARSE_LOOP) == 1, engine
        (sorter,) = [
            Path(found.stdout.strip()) / s
            for s in patched_helm.SORTERS
            if (Path(found.stdout.strip()) / s).is_file()
        ]
        assert sorter.read_text().count(patched_helm.HEAD_PARSE) == 1, sorter

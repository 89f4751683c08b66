"""What chartmatrix runs: `go mod download` only with a checked module path and version
(after `--`), and a `helm` from PATH or its own checkout's .tools/bin, never from a
directory above the working directory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from chartmatrix import crdsource, render
from chartmatrix.crdsource import resolve_crd
from chartmatrix.errors import ChartmatrixError
from chartmatrix.gomodule import major_mismatch, module_path_error, version_error


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `go` on PATH that records its arguments and reports a module directory holding
    crd.yaml; an empty module cache so every reference reaches it."""
    bin_dir, module = tmp_path / "bin", tmp_path / "module"
    (module / "config").mkdir(parents=True)
    (module / "config" / "crd.yaml").write_text("kind: CustomResourceDefinition\n")
    calls = tmp_path / "go-calls.txt"
    _executable(
        bin_dir / "go",
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> "{calls}"\n'
        f"echo '{json.dumps({'Dir': str(module)})}'\n",
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-modcache"))
    crdsource._module_dir.cache_clear()
    yield calls
    crdsource._module_dir.cache_clear()


def test_go_reference_reaches_go_after_end_of_options(fake_go: Path, tmp_path: Path) -> None:
    got = resolve_crd("go://example.com/crds@v1.2.3/config/crd.yaml", tmp_path, "spec.yaml")
    assert got == (tmp_path / "module" / "config" / "crd.yaml").resolve()
    assert fake_go.read_text().split() == [
        "mod",
        "download",
        "-json",
        "--",
        "example.com/crds@v1.2.3",
    ]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("go://-modfile=/tmp/evil@v1.0.0/crd.yaml", "leading dash"),
        ("go://-x@v1.0.0/crd.yaml", "leading dash"),
        ("go://example.com/m -json@v1.0.0/crd.yaml", "invalid character ' '"),
        ("go://example.com/../etc@v1.0.0/crd.yaml", "invalid path element '..'"),
        ("go://localhost/crds@v1.0.0/crd.yaml", "missing dot in first path element"),
        ("go://Example.com/crds@v1.0.0/crd.yaml", "first path element 'Example.com'"),
        ("go://example.com//crds@v1.0.0/crd.yaml", "double slash"),
        ("go://example.com/.hidden@v1.0.0/crd.yaml", "leading dot"),
        ("go://example.com/crds/v1@v1.0.0/crd.yaml", "invalid major version suffix /v1"),
        ("go://example.com/COM1@v1.0.0/crd.yaml", "reserved on Windows"),
        ("go://example.com/crds@v1.2/crd.yaml", "not a canonical semantic version"),
        ("go://example.com/crds@v1.2.3+meta/crd.yaml", "not a canonical semantic version"),
        ("go://example.com/crds@v1.2.3-01/crd.yaml", "not a canonical semantic version"),
        ("go://example.com/crds@v1.0.0;rm/crd.yaml", "not a canonical semantic version"),
        ("go://example.com/crds@v2.0.0/crd.yaml", "needs the module path to end in /v2"),
        ("go://example.com/crds/v3@v2.0.0/crd.yaml", "ends in /v3 but the version is v2"),
        ("go://example.com/crds@v1.0.0/../../outside.yaml", "must stay inside the module"),
        ("go://example.com/crds@v1.0.0//etc/passwd", "must stay inside the module"),
    ],
)
def test_bad_go_reference_is_refused_before_go_runs(
    fake_go: Path, tmp_path: Path, ref: str, message: str
) -> None:
    with pytest.raises(ChartmatrixError, match="crds: ") as err:
        resolve_crd(ref, tmp_path, "chart_tests/x/matrix.yaml")
    assert message in str(err.value), str(err.value)
    assert "chart_tests/x/matrix.yaml" in str(err.value)
    assert not fake_go.exists(), f"go ran for {ref}: {fake_go.read_text()}"


def test_file_link_leaving_the_module_is_refused(fake_go: Path, tmp_path: Path) -> None:
    (tmp_path / "module" / "config" / "link.yaml").symlink_to(tmp_path / "go-calls.txt")
    with pytest.raises(ChartmatrixError, match="leaves the module"):
        resolve_crd("go://example.com/crds@v1.0.0/config/link.yaml", tmp_path, "spec.yaml")


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("sigs.k8s.io/gateway-api", "v1.6.3"),
        ("github.com/Example/Repo_x~y/v2", "v2.1.0-rc.1"),
        ("golang.org/x/mod", "v0.0.0-20240101000000-abcdef123456"),
        ("github.com/old/lib", "v4.0.0+incompatible"),
        ("gopkg.in/yaml.v3", "v3.0.1"),
    ],
)
def test_valid_module_paths_and_versions_pass(path: str, version: str) -> None:
    assert module_path_error(path) is None
    assert version_error(version) is None
    assert major_mismatch(path, version) is None


# --- helm -------------------------------------------------------------------------
def test_helm_planted_above_the_working_directory_is_never_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = _executable(tmp_path / ".tools" / "bin" / "helm", "#!/bin/sh\nexit 0\n")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("CHARTMATRIX_HELM", raising=False)
    root = render.own_checkout()
    own = root / ".tools" / "bin" / "helm" if root else None
    if own is None or not own.is_file():
        with pytest.raises(ChartmatrixError, match="not found on PATH"):
            render.find_helm()
    else:  # this checkout's own helm, not the planted one
        assert render.find_helm() == str(own) != str(planted)


def test_helm_comes_from_the_checkout_chartmatrix_runs_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = render.own_checkout()
    assert root is not None, "this checkout's tools/chartmatrix is not recognised"
    assert (root / "pyproject.toml").is_file() and (root / "tools" / "chartmatrix").is_dir()
    assert Path(render.__file__).resolve().is_relative_to(root / "tools" / "chartmatrix")
    local = root / ".tools" / "bin" / "helm"
    if not local.is_file():
        pytest.skip("no .tools/bin/helm in this checkout (tools/bootstrap builds it)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("CHARTMATRIX_HELM", raising=False)
    assert render.find_helm() == str(local)


def test_installed_copy_looks_on_path_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chartmatrix installed into site-packages has no checkout: PATH or nothing, even
    with a .tools/bin/helm beside the environment."""
    site = tmp_path / "lib" / "site-packages" / "chartmatrix"
    site.mkdir(parents=True)
    (tmp_path / "lib" / "pyproject.toml").write_text("")
    _executable(tmp_path / "lib" / ".tools" / "bin" / "helm", "#!/bin/sh\n")
    monkeypatch.setattr(render, "__file__", str(site / "render.py"))
    assert render.own_checkout() is None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("CHARTMATRIX_HELM", raising=False)
    with pytest.raises(ChartmatrixError, match="not found on PATH"):
        render.find_helm()
    on_path = _executable(tmp_path / "bin" / "helm", "#!/bin/sh\n")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert render.find_helm() == str(on_path)


def test_a_copy_near_the_file_system_root_has_no_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    # /opt/chartmatrix/render.py has fewer parents than a checkout's path: not an error
    monkeypatch.setattr(render, "__file__", "/opt/chartmatrix/render.py")
    assert render.own_checkout() is None
    monkeypatch.setattr(render, "__file__", "/chartmatrix/render.py")
    assert render.own_checkout() is None

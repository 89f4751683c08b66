"""``chartmatrix install --upgrade``: the chart as it was at a git ref.

The whole tree at the ref is exported with ``git archive`` (never a checkout, so the
working tree is untouched), which keeps ``file://`` dependencies such as
``../../my-library`` resolvable at their old versions too.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from chartmatrix.cluster.install import Case
from chartmatrix.errors import ChartmatrixError


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ChartmatrixError(repo, f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def repo_of(path: Path) -> Path:
    return Path(_git(path if path.is_dir() else path.parent, "rev-parse", "--show-toplevel"))


def default_ref(repo: Path, base: str = "main") -> str:
    """The merge-base of HEAD with ``base`` (or ``origin/<base>`` in a CI clone)."""
    for candidate in (base, f"origin/{base}"):
        done = subprocess.run(
            ["git", "-C", str(repo), "merge-base", "HEAD", candidate],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    raise ChartmatrixError(
        repo,
        f"no merge-base of HEAD with {base} or origin/{base}: pass --ref REF "
        "(a CI clone may need fetch-depth: 0)",
    )


@contextmanager
def tree_at(repo: Path, ref: str) -> Iterator[Path]:
    """The repository's files at ``ref``, unpacked into a temporary directory."""
    commit = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="chartmatrix-ref-") as tmp:
        archive = Path(tmp) / "tree.tar"
        _git(repo, "archive", "--format=tar", f"--output={archive}", commit)
        out = Path(tmp) / "tree"
        with tarfile.open(archive) as tar:
            tar.extractall(out, filter="data")
        archive.unlink()
        yield out


def with_old(case: Case, repo: Path, old_tree: Path) -> Case | None:
    """The case with its chart (and values file) at the ref; None if it is new there."""
    rel = case.chart_dir.resolve().relative_to(repo)
    old_chart = old_tree / rel
    if not (old_chart / "Chart.yaml").is_file():
        return None
    old_values = None
    if case.values_file is not None:
        candidate = old_tree / case.values_file.resolve().relative_to(repo)
        if not candidate.is_file():
            return None
        old_values = candidate
    return replace(case, old_chart_dir=old_chart, old_values_file=old_values)

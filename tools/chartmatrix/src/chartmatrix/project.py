"""The project root: where ``chart_tests/``, ``charts/`` and the project config live.

:func:`find_root` is the one rule every command uses (``run`` and ``bench`` without a
CHART, ``init``'s default output, the project config, ``install``'s default charts, the
local cluster's state directory):

1. ``--root DIR`` (:func:`use_root`), else ``$CHARTMATRIX_ROOT`` (``$DESTATE_ROOT``, its
   old name, is still read);
2. else, from the starting directory (default: the current one) upwards, the nearest
   directory holding any of: ``chartmatrix.yaml``, a ``pyproject.toml`` with
   ``[tool.chartmatrix]``, ``chart_tests/``, ``ct.yaml`` (chart-testing's config) or
   ``.git``;
3. else the starting directory itself.

Not to be confused with :func:`chartmatrix.render.own_checkout`: the checkout chartmatrix
itself runs from, whose ``.tools/bin`` may hold helm.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from chartmatrix.errors import ChartmatrixError

ROOT_ENV = "CHARTMATRIX_ROOT"
OLD_ROOT_ENV = "DESTATE_ROOT"  # chartmatrix 0.1's name
CONFIG_FILE = "chartmatrix.yaml"
PYPROJECT = "pyproject.toml"
_chosen: Path | None = None  # --root of the running command


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ChartmatrixError(path, f"invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ChartmatrixError(path, f"cannot read file ({exc})") from None


def has_tool_table(pyproject: Path) -> bool:
    """Whether ``pyproject`` has a ``[tool.chartmatrix]`` table."""
    return "chartmatrix" in (read_toml(pyproject).get("tool") or {})


def is_root(directory: Path) -> bool:
    if (directory / CONFIG_FILE).is_file() or (directory / "chart_tests").is_dir():
        return True
    if (directory / "ct.yaml").is_file() or (directory / ".git").exists():
        return True
    pyproject = directory / PYPROJECT
    return pyproject.is_file() and has_tool_table(pyproject)


def checked_root(raw: str | Path, where: str) -> Path:
    """``raw`` as a root directory; an error naming ``where`` when it is not one."""
    path = Path(raw).expanduser()
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        raise ChartmatrixError(where, f"{raw}: {problem}")
    return path.resolve()


@cache
def _say_deprecated(old: str, new: str) -> None:
    print(f"chartmatrix: ${old} is deprecated; set ${new}", file=sys.stderr)


def environment(name: str, old_name: str) -> tuple[str, str] | None:
    """(variable, value) of ``$name``, else of its deprecated ``$old_name`` (said once on
    stderr), else None."""
    if os.environ.get(name):
        return name, os.environ[name]
    if os.environ.get(old_name):
        _say_deprecated(old_name, name)
        return old_name, os.environ[old_name]
    return None


def _from_environment() -> Path | None:
    found = environment(ROOT_ENV, OLD_ROOT_ENV)
    return checked_root(found[1], f"${found[0]}") if found else None


def find_root(start: Path | None = None) -> Path:
    """The project root (see the module's rule). An explicit ``start`` is searched from
    even when ``--root`` or ``$CHARTMATRIX_ROOT`` is set."""
    if start is None:
        chosen = _chosen or _from_environment()
        if chosen is not None:
            return chosen
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if is_root(directory):
            return directory
    return here


@contextmanager
def use_root(root: Path | None) -> Iterator[None]:
    """Make ``root`` (already checked) what :func:`find_root` returns while the block runs."""
    global _chosen
    before, _chosen = _chosen, root if root is not None else _chosen
    try:
        yield
    finally:
        _chosen = before

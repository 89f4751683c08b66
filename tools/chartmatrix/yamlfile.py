"""Load YAML files from disk, turning every failure into a one-line ChartmatrixError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from chartmatrix.errors import ChartmatrixError


def _describe(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"invalid YAML: {problem}"


def load_yaml_file(path: Path, *, expect_mapping: bool = True) -> Any:
    """Read one YAML document. An empty file is an empty mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChartmatrixError(path, "file not found") from None
    except OSError as exc:
        raise ChartmatrixError(path, f"cannot read file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ChartmatrixError(path, "file is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ChartmatrixError(path, _describe(exc)) from None
    if data is None:
        data = {}
    if expect_mapping and not isinstance(data, dict):
        raise ChartmatrixError(path, f"top level must be a mapping (got {type(data).__name__})")
    return data
